//! The reward ledger: each (campaign, customer, cycle, reward index) at most once.

use sea_orm::entity::prelude::*;

/// One issued reward.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rewards")]
pub struct Model {
    /// Ledger id, in issue order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The campaign key.
    pub campaign: String,
    /// Who earned it.
    pub customer_id: String,
    /// The cycle completed.
    pub cycle: i32,
    /// Index in the campaign's rewards.
    pub reward_index: i32,
    /// The completing event.
    pub event_id: String,
    /// `points`, `coupon`, `badge`, `discount` or `custom`.
    pub kind: String,
    /// How much.
    pub amount: f64,
    /// The reward's code, if any.
    pub code: Option<String>,
    /// When it was issued.
    pub issued_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
