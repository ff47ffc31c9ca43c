//! Migrations, the same for SQLite and PostgreSQL.
//!
//! Each migration runs in one transaction with the row that records it, on both databases, so
//! that a process killed at any point of a migration leaves it either applied and recorded or
//! not there at all. A new migration must say so too (`use_transaction`), and must hold only
//! statements that SQLite and PostgreSQL both run inside a transaction.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Every migration, in order.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(Init),
            Box::new(Access),
            Box::new(Webhooks),
            Box::new(EventSources),
            Box::new(RewardStream),
            Box::new(DueByEndpoint),
        ]
    }
}

/// The initial schema.
#[derive(Debug, DeriveMigrationName)]
struct Init;

#[async_trait::async_trait]
impl MigrationTrait for Init {
    /// Whole or not at all, on SQLite too (its DDL is transactional): a process killed during
    /// its first start leaves a database that opens again.
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            Table::create()
                .table("campaigns")
                .col(string("key").primary_key())
                .col(string("name"))
                .col(string("status"))
                .col(text("draft"))
                .col(integer("version"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
            Table::create()
                .table("campaign_versions")
                .col(string("key"))
                .col(integer("version"))
                .col(text("spec"))
                .col(timestamp_with_time_zone("published_at"))
                .primary_key(Index::create().col("key").col("version"))
                .to_owned(),
            Table::create()
                .table("customers")
                .col(string("id").primary_key())
                .col(text("attributes"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
            Table::create()
                .table("inbox")
                .col(string("event_id").primary_key())
                .col(string("fingerprint"))
                .col(string("customer_id"))
                .col(text("result"))
                .col(timestamp_with_time_zone("processed_at"))
                .to_owned(),
            Table::create()
                .table("progress")
                .col(string("customer_id"))
                .col(string("campaign"))
                .col(text("state"))
                .col(big_integer("version"))
                .col(timestamp_with_time_zone("updated_at"))
                .primary_key(Index::create().col("customer_id").col("campaign"))
                .to_owned(),
            Table::create()
                .table("rewards")
                .col(big_pk_auto("id"))
                .col(string("campaign"))
                .col(string("customer_id"))
                .col(integer("cycle"))
                .col(integer("reward_index"))
                .col(string("event_id"))
                .col(string("kind"))
                .col(double("amount"))
                .col(string_null("code"))
                .col(timestamp_with_time_zone("issued_at"))
                .to_owned(),
            Table::create()
                .table("budgets")
                .col(string("campaign").primary_key())
                .col(big_integer("taken"))
                .col(big_integer_null("max"))
                .to_owned(),
            Table::create()
                .table("outbox")
                .col(big_pk_auto("id"))
                .col(string("campaign"))
                .col(string("customer_id"))
                .col(integer("cycle"))
                .col(integer("reward_index"))
                .col(text("payload"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .to_owned(),
            Table::create()
                .table("audit_log")
                .col(big_pk_auto("id"))
                .col(timestamp_with_time_zone("at"))
                .col(string("actor"))
                .col(string("action"))
                .col(string_null("campaign"))
                .col(text("details"))
                .to_owned(),
        ];
        for table in tables {
            m.create_table(table).await?;
        }
        // The ledger's identity: what makes a reward exactly-once.
        m.create_index(
            Index::create()
                .name("rewards_identity")
                .table("rewards")
                .col("campaign")
                .col("customer_id")
                .col("cycle")
                .col("reward_index")
                .unique()
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("rewards_by_customer")
                .table("rewards")
                .col("customer_id")
                .col("id")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("outbox_pending")
                .table("outbox")
                .col("delivered_at")
                .col("id")
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            "audit_log",
            "outbox",
            "budgets",
            "rewards",
            "progress",
            "inbox",
            "customers",
            "campaign_versions",
            "campaigns",
        ] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// API keys (stored hashed) and server settings such as the customer-token signing secret.
#[derive(Debug)]
struct Access;

impl MigrationName for Access {
    fn name(&self) -> &str {
        "m0002_access"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Access {
    /// Whole or not at all, as [`Init`].
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("api_keys")
                .col(string("id").primary_key())
                .col(string("name"))
                .col(string("scopes"))
                .col(string("hash"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("revoked_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("settings")
                .col(string("key").primary_key())
                .col(text("value"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["settings", "api_keys"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// Reward delivery (DESIGN §9): webhook endpoints, one message per reward and matching
/// endpoint, and every attempt at it. Scheduling columns (`next_attempt_ms`, `lease_until_ms`,
/// `previous_secret_until_ms`) are Unix milliseconds, compared the same way on both databases.
#[derive(Debug)]
struct Webhooks;

impl MigrationName for Webhooks {
    fn name(&self) -> &str {
        "m0016_webhooks"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for Webhooks {
    /// Whole or not at all, as [`Init`].
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.create_table(
            Table::create()
                .table("webhook_endpoints")
                .col(big_pk_auto("id"))
                .col(text("url"))
                .col(text("description"))
                .col(text("campaigns"))
                .col(text("kinds"))
                .col(string("secret"))
                .col(string_null("previous_secret"))
                .col(big_integer_null("previous_secret_until_ms"))
                .col(boolean("enabled"))
                .col(text_null("disabled_reason"))
                .col(big_integer("from_outbox_id"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone("updated_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("webhook_messages")
                .col(big_pk_auto("id"))
                .col(big_integer("endpoint_id"))
                .col(big_integer("outbox_id"))
                .col(string("webhook_id"))
                .col(text("body"))
                .col(string("status"))
                .col(integer("attempts"))
                .col(big_integer("next_attempt_ms"))
                .col(string_null("lease_owner"))
                .col(big_integer("lease_until_ms"))
                .col(timestamp_with_time_zone("issued_at"))
                .col(timestamp_with_time_zone("created_at"))
                .col(timestamp_with_time_zone_null("delivered_at"))
                .to_owned(),
        )
        .await?;
        m.create_table(
            Table::create()
                .table("webhook_attempts")
                .col(big_pk_auto("id"))
                .col(big_integer("message_id"))
                .col(timestamp_with_time_zone("at"))
                .col(integer_null("http_status"))
                .col(text_null("error"))
                .col(big_integer("duration_ms"))
                .to_owned(),
        )
        .await?;
        let indexes = [
            // One message per reward and endpoint, whoever expands the outbox row.
            Index::create()
                .name("webhook_messages_identity")
                .table("webhook_messages")
                .col("endpoint_id")
                .col("outbox_id")
                .unique()
                .to_owned(),
            Index::create()
                .name("webhook_messages_due")
                .table("webhook_messages")
                .col("status")
                .col("next_attempt_ms")
                .to_owned(),
            Index::create()
                .name("webhook_attempts_by_message")
                .table("webhook_attempts")
                .col("message_id")
                .col("id")
                .to_owned(),
            Index::create()
                .name("outbox_by_time")
                .table("outbox")
                .col("created_at")
                .to_owned(),
        ];
        for index in indexes {
            m.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("outbox_by_time")
                .table("outbox")
                .to_owned(),
        )
        .await?;
        for table in ["webhook_attempts", "webhook_messages", "webhook_endpoints"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// The NATS event source's partition leases and nodes, and the events it refused.
#[derive(Debug)]
struct EventSources;

impl MigrationName for EventSources {
    fn name(&self) -> &str {
        "m0017_event_sources"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for EventSources {
    /// Whole or not at all, as [`Init`].
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            Table::create()
                .table("source_leases")
                .col(integer("partition").primary_key())
                .col(string_null("holder"))
                .col(timestamp_with_time_zone("expires_at"))
                .to_owned(),
            Table::create()
                .table("source_nodes")
                .col(string("node").primary_key())
                .col(timestamp_with_time_zone("seen_at"))
                .to_owned(),
            Table::create()
                .table("rejected_events")
                .col(string("event_id").primary_key())
                .col(text("result"))
                .col(timestamp_with_time_zone("rejected_at"))
                .to_owned(),
        ];
        for table in tables {
            m.create_table(table).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for table in ["rejected_events", "source_nodes", "source_leases"] {
            m.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

/// The NATS reward stream as an endpoint of its own transport; customers' events by time
/// (the console's and `Customer.events`' lookup); and partial indexes for the relay.
#[derive(Debug)]
struct RewardStream;

impl MigrationName for RewardStream {
    fn name(&self) -> &str {
        "m0018_reward_stream"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for RewardStream {
    /// Whole or not at all, as [`Init`].
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.alter_table(
            Table::alter()
                .table("webhook_endpoints")
                .add_column(string("transport").default("http"))
                .to_owned(),
        )
        .await?;
        let indexes = [
            Index::create()
                .name("inbox_by_customer")
                .table("inbox")
                .col("customer_id")
                .col("processed_at")
                .to_owned(),
            // The relay's two hot reads, over the few rows still to do rather than every row
            // ever delivered: due messages in order, and undispatched outbox rows.
            Index::create()
                .name("webhook_messages_pending")
                .table("webhook_messages")
                .col("next_attempt_ms")
                .col("id")
                .and_where(Expr::col("status").eq("pending"))
                .to_owned(),
            Index::create()
                .name("outbox_undispatched")
                .table("outbox")
                .col("id")
                .and_where(Expr::col("delivered_at").is_null())
                .to_owned(),
        ];
        for index in indexes {
            m.create_index(index).await?;
        }
        Ok(())
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        for (name, table) in [
            ("outbox_undispatched", "outbox"),
            ("webhook_messages_pending", "webhook_messages"),
            ("inbox_by_customer", "inbox"),
        ] {
            m.drop_index(Index::drop().name(name).table(table).to_owned())
                .await?;
        }
        m.alter_table(
            Table::alter()
                .table("webhook_endpoints")
                .drop_column("transport")
                .to_owned(),
        )
        .await
    }
}

/// Due messages read per endpoint: the relay leases each endpoint's due messages in their
/// own statement, and this index answers it in order, stopping at the limit, however stale
/// the table's statistics are. It replaces the index of due messages across endpoints.
#[derive(Debug)]
struct DueByEndpoint;

impl MigrationName for DueByEndpoint {
    fn name(&self) -> &str {
        "m0019_due_by_endpoint"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for DueByEndpoint {
    /// Whole or not at all, as [`Init`].
    fn use_transaction(&self) -> Option<bool> {
        Some(true)
    }

    async fn up(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("webhook_messages_pending")
                .table("webhook_messages")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("webhook_messages_due_by_endpoint")
                .table("webhook_messages")
                .col("endpoint_id")
                .col("next_attempt_ms")
                .col("id")
                .and_where(Expr::col("status").eq("pending"))
                .to_owned(),
        )
        .await
    }

    async fn down(&self, m: &SchemaManager) -> Result<(), DbErr> {
        m.drop_index(
            Index::drop()
                .name("webhook_messages_due_by_endpoint")
                .table("webhook_messages")
                .to_owned(),
        )
        .await?;
        m.create_index(
            Index::create()
                .name("webhook_messages_pending")
                .table("webhook_messages")
                .col("next_attempt_ms")
                .col("id")
                .and_where(Expr::col("status").eq("pending"))
                .to_owned(),
        )
        .await
    }
}

/// Applies every pending migration, one process at a time: the whole run is one transaction
/// that first takes the database's write lock (`BEGIN IMMEDIATE` on SQLite; on PostgreSQL an
/// advisory lock on the schema's name, held to the end of the transaction). Two processes
/// starting on a fresh database, or one starting while the backend of a killed one still runs
/// its migration, then wait for each other instead of racing to create the same tables, and a
/// run killed at any point leaves nothing of itself. Returns the names of the migrations it
/// applied. A database already up to date is only read.
pub async fn migrate(db: &sea_orm::DatabaseConnection) -> Result<Vec<String>, DbErr> {
    use sea_orm::{ConnectionTrait, DbBackend, TransactionTrait};
    // Up to date (every start but the first): nothing to lock, so a process opening a
    // database another one is writing does not wait for its write lock.
    if Migrator::get_pending_migrations(db).await?.is_empty() {
        return Ok(Vec::new());
    }
    let options = sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    };
    let txn = db.begin_with_options(options).await?;
    if txn.get_database_backend() == DbBackend::Postgres {
        txn.execute_unprepared("SELECT pg_advisory_xact_lock(hashtext(current_schema()))")
            .await?;
    }
    let pending: Vec<String> = Migrator::get_pending_migrations(&txn)
        .await?
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    Migrator::up(&txn, None).await?;
    txn.commit().await?;
    Ok(pending)
}
