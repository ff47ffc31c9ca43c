//! Processed event ids: the idempotency record.

use sea_orm::entity::prelude::*;

/// One processed event.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "inbox")]
pub struct Model {
    /// The event id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    /// SHA-256 of the event's canonical content, hex.
    pub fingerprint: String,
    /// Whose event it was.
    pub customer_id: String,
    /// The processing result, as JSON (repeated for duplicates).
    #[sea_orm(column_type = "Text")]
    pub result: String,
    /// When it was processed.
    pub processed_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
