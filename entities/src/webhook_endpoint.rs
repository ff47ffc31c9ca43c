//! Webhook endpoints: where rewards are delivered, with their signing secrets and filters.

use sea_orm::entity::prelude::*;

/// One endpoint.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoints")]
pub struct Model {
    /// Endpoint id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// Where messages are sent (`http(s)://...`; the NATS reward stream: `nats:` + subject).
    #[sea_orm(column_type = "Text")]
    pub url: String,
    /// How messages travel: `http`, or `nats` for the one NATS reward stream.
    pub transport: String,
    /// Free text.
    #[sea_orm(column_type = "Text")]
    pub description: String,
    /// Campaign keys it receives, as a JSON list (empty: all).
    #[sea_orm(column_type = "Text")]
    pub campaigns: String,
    /// Reward kinds it receives, as a JSON list (empty: all).
    #[sea_orm(column_type = "Text")]
    pub kinds: String,
    /// The signing secret (`whsec_...`).
    pub secret: String,
    /// The secret before the last rotation, still signing until `previous_secret_until_ms`.
    pub previous_secret: Option<String>,
    /// Unix milliseconds until which the previous secret signs too.
    pub previous_secret_until_ms: Option<i64>,
    /// Whether messages are sent to it.
    pub enabled: bool,
    /// Why it was disabled.
    #[sea_orm(column_type = "Text", nullable)]
    pub disabled_reason: Option<String>,
    /// The first outbox id it receives (the outbox's next id when it was created).
    pub from_outbox_id: i64,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
