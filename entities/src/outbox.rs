//! Reward notifications waiting to be delivered: one row per reward, written in the same
//! transaction as the reward.

use sea_orm::entity::prelude::*;

/// One notification.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "outbox")]
pub struct Model {
    /// Outbox id, in write order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The announced reward's campaign.
    pub campaign: String,
    /// The announced reward's customer.
    pub customer_id: String,
    /// The announced reward's cycle.
    pub cycle: i32,
    /// The announced reward's index in its campaign's rewards.
    pub reward_index: i32,
    /// The notification, as JSON.
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// When it was written.
    pub created_at: DateTimeUtc,
    /// When it was delivered, if it was.
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
