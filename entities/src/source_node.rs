//! The nodes consuming the NATS event stream, each seen within its heartbeat: how many share
//! the partitions.

use sea_orm::entity::prelude::*;

/// One node.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "source_nodes")]
pub struct Model {
    /// The node's id (random, per process).
    #[sea_orm(primary_key, auto_increment = false)]
    pub node: String,
    /// When it last said it was alive.
    pub seen_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
