//! API keys: only a hash of each secret is stored.

use sea_orm::entity::prelude::*;

/// One API key.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// The key's public id (the part of the key before its secret).
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// A name for people (`checkout-service`).
    pub name: String,
    /// Scopes, comma-separated: `admin`, `author`, `ingest`, `read`.
    pub scopes: String,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
