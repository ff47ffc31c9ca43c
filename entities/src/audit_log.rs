//! Who changed what, when.

use sea_orm::entity::prelude::*;

/// One audited change.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_log")]
pub struct Model {
    /// Audit id, in order.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// When.
    pub at: DateTimeUtc,
    /// Who (an API key's name, `cli`, `replay`...).
    pub actor: String,
    /// What (`campaign.create`, `campaign.publish`...).
    pub action: String,
    /// The campaign concerned, if any.
    pub campaign: Option<String>,
    /// Details of the change, as JSON.
    #[sea_orm(column_type = "Text")]
    pub details: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
