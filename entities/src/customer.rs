//! Customer profiles.

use sea_orm::entity::prelude::*;

/// One customer's profile.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "customers")]
pub struct Model {
    /// The customer id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Profile attributes, as a JSON object.
    #[sea_orm(column_type = "Text")]
    pub attributes: String,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
