//! Events an event source refused (a message that is not a valid event), by id: what
//! `event(id)` answers for them. Unlike the inbox, a row here reserves nothing: the same id
//! sent again, valid, is processed.

use sea_orm::entity::prelude::*;

/// One refused event.
#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "rejected_events")]
pub struct Model {
    /// The event id the message carried.
    #[sea_orm(primary_key, auto_increment = false)]
    pub event_id: String,
    /// The rejection, as an event result in JSON.
    #[sea_orm(column_type = "Text")]
    pub result: String,
    /// When it was last refused.
    pub rejected_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
