//! One reward's message to one endpoint: its body (the same on every attempt), its status and
//! schedule, and the lease of the node attempting it.

use sea_orm::entity::prelude::*;

/// One message.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_messages")]
pub struct Model {
    /// Message id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The endpoint.
    pub endpoint_id: i64,
    /// The outbox row announcing the reward.
    pub outbox_id: i64,
    /// The `webhook-id` header: one per reward, the same for every endpoint and attempt.
    pub webhook_id: String,
    /// The body sent.
    #[sea_orm(column_type = "Text")]
    pub body: String,
    /// `pending`, `delivered` or `failed`.
    pub status: String,
    /// Attempts since it was last queued (the retry schedule's position).
    pub attempts: i32,
    /// Unix milliseconds of the next attempt.
    pub next_attempt_ms: i64,
    /// The node holding the lease, if any.
    pub lease_owner: Option<String>,
    /// Unix milliseconds until which the lease holds (0: none).
    pub lease_until_ms: i64,
    /// When the reward was issued.
    pub issued_at: DateTimeUtc,
    /// When the message was queued.
    pub created_at: DateTimeUtc,
    /// When a 2xx answered it.
    pub delivered_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
