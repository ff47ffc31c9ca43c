//! Server settings shared by every node (the customer-token signing secret).

use sea_orm::entity::prelude::*;

/// One setting.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "settings")]
pub struct Model {
    /// The setting's name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub key: String,
    /// Its value.
    #[sea_orm(column_type = "Text")]
    pub value: String,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
