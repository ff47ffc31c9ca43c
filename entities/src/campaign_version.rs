//! Published campaign versions: immutable once written.

use sea_orm::entity::prelude::*;

/// One published version of a campaign.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "campaign_versions")]
pub struct Model {
    /// The campaign's key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// The version, from 1.
    #[sea_orm(primary_key, auto_increment = false)]
    pub version: i32,
    /// The spec, as JSON.
    #[sea_orm(column_type = "Text")]
    pub spec: String,
    /// When it was published.
    pub published_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
