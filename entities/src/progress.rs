//! Customers' states in campaigns, with an optimistic version.

use sea_orm::entity::prelude::*;

/// One customer's state in one campaign.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "progress")]
pub struct Model {
    /// The customer.
    #[sea_orm(primary_key, auto_increment = false)]
    pub customer_id: String,
    /// The campaign key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub campaign: String,
    /// The engine's state, as JSON.
    #[sea_orm(column_type = "Text")]
    pub state: String,
    /// Bumped on every write; a write expecting another version is retried.
    pub version: i64,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
