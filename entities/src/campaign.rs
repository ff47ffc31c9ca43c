//! Campaigns: the editable draft, the lifecycle status and the latest published version.

use sea_orm::entity::prelude::*;

/// One campaign.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaigns")]
pub struct Model {
    /// The campaign's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Display name (of the draft).
    pub name: String,
    /// `draft`, `published`, `paused`, `ended` or `archived`.
    pub status: String,
    /// The draft spec, as JSON.
    #[sea_orm(column_type = "Text")]
    pub draft: String,
    /// The latest published version, 0 before the first publication.
    pub version: i32,
    /// When it was created.
    pub created_at: DateTimeUtc,
    /// When it last changed.
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
