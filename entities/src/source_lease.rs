//! Who consumes each partition of the NATS event stream: one node at a time, for as long as it
//! renews its lease.

use sea_orm::entity::prelude::*;

/// One partition's lease.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "source_leases")]
pub struct Model {
    /// The partition, from 0.
    #[sea_orm(primary_key, auto_increment = false)]
    pub partition: i32,
    /// The node holding it, if any.
    pub holder: Option<String>,
    /// When the holder's lease ends unless renewed.
    pub expires_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
