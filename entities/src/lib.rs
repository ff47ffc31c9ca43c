//! Offerflow's sea-orm entities and migrations: the same tables on SQLite and PostgreSQL.
//!
//! Entities are storage rows only; JSON documents (specs, states, results) are stored as text
//! and given meaning by the `campaigns` and `engine` crates, which convert at their edge.

pub mod api_key;
pub mod audit_log;
pub mod budget;
pub mod campaign;
pub mod campaign_version;
pub mod customer;
pub mod inbox;
pub mod migration;
pub mod outbox;
pub mod progress;
pub mod rejected_event;
pub mod reward;
pub mod setting;
pub mod source_lease;
pub mod source_node;
pub mod webhook_attempt;
pub mod webhook_endpoint;
pub mod webhook_message;

pub use migration::{Migrator, migrate};
pub use sea_orm;
pub use sea_orm_migration::MigratorTrait;
