//! Every attempt at a webhook message: when, the answer's status or the error, how long.

use sea_orm::entity::prelude::*;

/// One attempt.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_attempts")]
pub struct Model {
    /// Attempt id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The message.
    pub message_id: i64,
    /// When it started.
    pub at: DateTimeUtc,
    /// The HTTP status answered, if any.
    pub http_status: Option<i32>,
    /// The error, if there was no answer (timeout, connection refused, refused address).
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
