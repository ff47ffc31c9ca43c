//! Completions taken per campaign, against its `max_rewards`.

use sea_orm::entity::prelude::*;

/// One campaign's budget.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "budgets")]
pub struct Model {
    /// The campaign key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub campaign: String,
    /// Completions taken so far.
    pub taken: i64,
    /// The cap, if any.
    pub max: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
