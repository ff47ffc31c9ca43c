//! Offerflow's storage: the engine's domain kept on SQLite or PostgreSQL through sea-orm:
//! campaigns and their lifecycle, customers, the exactly-once batch processor (DESIGN §7),
//! reads, caches and the batching pipeline. The only crate besides `entities` that touches
//! sea-orm: no sea-orm model or connection leaves it.
//!
//! Guarantees, and how:
//! - **A batch is all or nothing.** Each batch runs in one transaction; a crash at any point
//!   leaves either every row it wrote (inbox, progress, ledger, budget, outbox) or none.
//! - **Each event once.** The inbox's primary key is the event id; a second writer of the same
//!   id fails on it and retries, and then finds the event processed.
//! - **Each reward once.** The ledger's unique key is (campaign, customer, cycle, reward
//!   index); progress is written with an optimistic version check, so two writers that read the
//!   same state cannot both advance it.
//! - **Budgets are never exceeded.** A completion takes one unit with a single conditional
//!   `UPDATE budgets SET taken = taken + 1 WHERE campaign = ? AND (max IS NULL OR taken < max)`.
//!   The unit that spends a budget stops the campaign for the rest of the batch too; a take
//!   refused although the batch saw budget left means a concurrent writer spent it meanwhile,
//!   and the batch runs again, so that it matches a serial order.
//! - **Caches never decide.** Compiled campaigns are cached by (key, version), which never
//!   change. Hot progress is cached with its versions; each batch reads the versions the
//!   database holds for its cached customers (one small query) and reloads any customer whose
//!   rows moved, since an event that changes nothing writes nothing and would meet no version
//!   check. A write still carries the version check, for writers that race.
//!
//! On SQLite every batch takes the write lock when it begins (`BEGIN IMMEDIATE`), so no
//! transaction fails upgrading a read lock; the database runs in WAL mode with
//! `synchronous=FULL`, so a committed batch survives power loss.

mod access;
mod authoring;
mod batch;
mod error;
mod fault;
mod pipeline;
mod ports;
mod read;
mod sources;
mod view;
mod webhook;

pub use error::{Error, Result};
pub use pipeline::{BatchObserver, BatchReport, Pipeline, PipelineConfig, PipelineStats};
pub use read::{CampaignTotals, OFFER_CAMPAIGNS_TTL, ProcessedEvent};
pub use sources::{COMMITS_CHANNEL, CommitNotice};
pub use view::VIEW_TTL;
pub use webhook::{DeliveryStats, REWARD_STREAM_OFF, TIDY_EVERY};

use campaigns::{CampaignSpec, CompiledCampaign, Customer};
use chrono::Utc;
use engine::{CampaignSet, CampaignState, CustomerView, LedgerEntry, OfferCampaign};
use entities::{campaign, campaign_version, customer, reward};
use moka::sync::Cache;
use sea_orm::sea_query::OnConflict;
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectOptions, ConnectionTrait, Database, DatabaseConnection,
    EntityTrait, QueryFilter, QueryOrder, TransactionTrait,
};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A customer's progress rows as last read or written: campaign key → (version, state).
type CustomerProgress = HashMap<String, (i64, CampaignState)>;

/// How many customers' progress the hot cache holds.
const PROGRESS_CACHE_CUSTOMERS: u64 = 100_000;

/// Cache lookups so far, for metrics: hits and misses of the compiled-campaign, the hot
/// progress and the customer view caches (a cached progress entry found stale counts as a
/// miss).
#[derive(Debug, Default)]
pub struct CacheStats {
    /// Compiled campaigns found in the cache.
    pub compiled_hits: AtomicU64,
    /// Compiled campaigns compiled anew.
    pub compiled_misses: AtomicU64,
    /// Customers whose progress the cache held, current.
    pub progress_hits: AtomicU64,
    /// Customers whose progress was read from the database.
    pub progress_misses: AtomicU64,
    /// Customer views served from the cache.
    pub view_hits: AtomicU64,
    /// Customer views read from the database.
    pub view_misses: AtomicU64,
}

/// Offerflow's database.
#[derive(Clone)]
pub struct Store {
    db: DatabaseConnection,
    compiled: Cache<(String, i32), Arc<CompiledCampaign>>,
    progress: Cache<String, Arc<CustomerProgress>>,
    /// The offerable campaigns, briefly (see [`Store::offer_campaigns`]).
    offers: Cache<(), Arc<Vec<OfferCampaign>>>,
    /// Customers' views, briefly (see [`Store::customer_view`]).
    views: Cache<String, Arc<CustomerView>>,
    /// Moved by every drop of views, under its lock (see the `view` module).
    view_epoch: Arc<Mutex<u64>>,
    stats: Arc<CacheStats>,
    /// The database's URL: a PostgreSQL listener opens a connection of its own.
    url: Arc<str>,
    /// Where this database's nodes announce commits (PostgreSQL only; see the `sources` module).
    channel: Option<Arc<str>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("backend", &self.db.get_database_backend())
            .finish_non_exhaustive()
    }
}

/// Closes a connection that comes back to the pool still inside a transaction, instead of
/// handing it to the next caller.
///
/// A `COMMIT` that fails (SQLite's disk full, an I/O error) may leave SQLite's transaction
/// open, or roll it back behind the driver's back so that the driver's own `ROLLBACK` fails;
/// either way the driver still counts the connection as inside a transaction, and every later
/// "transaction" on it would be a savepoint inside the abandoned one, never committed. The
/// ping lets the driver's queued rollback run first; a connection still inside a transaction
/// after it is closed (closing rolls back), so each batch starts on a clean connection.
/// In-memory SQLite is left alone: its one connection is the database.
fn discard_if_in_transaction<C: sea_orm::sqlx::Connection>(
    conn: &mut C,
    _: sea_orm::sqlx::pool::PoolConnectionMetadata,
) -> std::pin::Pin<
    Box<dyn Future<Output = std::result::Result<bool, sea_orm::sqlx::Error>> + Send + '_>,
> {
    Box::pin(async move {
        if !conn.is_in_transaction() {
            return Ok(true);
        }
        conn.ping().await?;
        if conn.is_in_transaction() {
            tracing::warn!("closing a database connection left inside a failed transaction");
            return Ok(false);
        }
        Ok(true)
    })
}

/// How long the first connection to PostgreSQL may take before the address is reported
/// unreachable.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Opens one connection to PostgreSQL, so that an unreachable or refusing server is reported at
/// once with its own reason (connection refused, no such database, authentication...), where
/// the pool would retry until its timeout and then say only that it timed out.
async fn probe_postgres(url: &str) -> Result<()> {
    use sea_orm::sqlx::Connection;
    let failed = |reason: String| Error::Connect {
        url: redact(url),
        reason,
    };
    let connect = sea_orm::sqlx::PgConnection::connect(url);
    match tokio::time::timeout(CONNECT_TIMEOUT, connect).await {
        Ok(Ok(conn)) => {
            let _ = conn.close().await;
            Ok(())
        }
        Ok(Err(e)) => Err(failed(e.to_string())),
        Err(_) => Err(failed(format!(
            "no answer within {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Connects to `url` and applies its pending migrations, one process at a time; returns their
/// names (none when the database was up to date). A SQLite file that does not exist is
/// created.
pub async fn migrate(url: &str) -> Result<Vec<String>> {
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
    if !url.starts_with("sqlite:") {
        probe_postgres(url).await?;
    }
    let db = Database::connect(options)
        .await
        .map_err(|e| Error::Connect {
            url: redact(url),
            reason: e.to_string(),
        })?;
    Ok(entities::migrate(&db).await?)
}

/// Refuses a SQLite URL whose file does not exist.
fn sqlite_must_exist(url: &str) -> Result<()> {
    use std::str::FromStr;
    let options =
        sea_orm::sqlx::sqlite::SqliteConnectOptions::from_str(url).map_err(|e| Error::Connect {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    let path = options.get_filename();
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    if !in_memory && !path.exists() {
        return Err(Error::Connect {
            url: url.to_owned(),
            reason: format!(
                "no database file at {} (`offerflow serve` and `offerflow migrate` create one)",
                path.display()
            ),
        });
    }
    Ok(())
}

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            match credentials.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme + 3],
                    &credentials[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

impl Store {
    /// Connects to `url` (`sqlite:offerflow.db?mode=rwc`, `sqlite::memory:`,
    /// `postgres://...`) and applies any pending migrations. A SQLite file that does not exist
    /// is created.
    pub async fn connect(url: &str) -> Result<Store> {
        Self::connect_with(ConnectOptions::new(url)).await
    }

    /// [`Store::connect`] for a database that must exist already: a SQLite file that does not
    /// is refused (a mistyped path names the file instead of creating an empty database).
    pub async fn open_existing(url: &str) -> Result<Store> {
        Self::open(ConnectOptions::new(url), false).await
    }

    /// Connects with options prepared by the caller (a PostgreSQL schema search path, pool
    /// sizes...), then migrates.
    pub async fn connect_with(options: ConnectOptions) -> Result<Store> {
        Self::open(options, true).await
    }

    async fn open(mut options: ConnectOptions, create: bool) -> Result<Store> {
        let url = options.get_url().to_owned();
        options.sqlx_logging(false);
        if url.starts_with("sqlite:") {
            if !create {
                sqlite_must_exist(&url)?;
            }
            options.map_sqlx_sqlite_opts(move |o| {
                o.journal_mode(SqliteJournalMode::Wal)
                    .synchronous(SqliteSynchronous::Full)
                    .busy_timeout(Duration::from_secs(30))
                    .create_if_missing(create)
            });
            if url.contains(":memory:") || url.contains("mode=memory") {
                // Every connection to an in-memory database is a database of its own.
                options
                    .max_connections(1)
                    .min_connections(1)
                    .idle_timeout(None::<Duration>)
                    .max_lifetime(None::<Duration>);
            } else {
                options.map_sqlx_sqlite_pool_opts(|o| o.after_release(discard_if_in_transaction));
            }
        } else {
            options.map_sqlx_postgres_pool_opts(|o| o.after_release(discard_if_in_transaction));
            probe_postgres(&url).await?;
        }
        let db = Database::connect(options)
            .await
            .map_err(|e| Error::Connect {
                url: redact(&url),
                reason: e.to_string(),
            })?;
        entities::migrate(&db).await?;
        let channel = sources::commits_channel(&db).await?;
        Ok(Store {
            url: url.as_str().into(),
            channel,
            db,
            compiled: Cache::new(10_000),
            progress: Cache::new(PROGRESS_CACHE_CUSTOMERS),
            offers: Cache::builder()
                .max_capacity(1)
                .time_to_live(read::OFFER_CAMPAIGNS_TTL)
                .build(),
            views: Cache::builder()
                .max_capacity(view::VIEW_CUSTOMERS)
                .time_to_live(VIEW_TTL)
                .build(),
            view_epoch: Arc::new(Mutex::new(0)),
            stats: Arc::new(CacheStats::default()),
        })
    }

    /// Whether the database answers and has every migration applied: `Ok(())`, or why not.
    pub async fn readiness(&self) -> std::result::Result<(), String> {
        use entities::MigratorTrait;
        self.db
            .ping()
            .await
            .map_err(|e| format!("database unreachable: {e}"))?;
        match entities::Migrator::get_pending_migrations(&self.db).await {
            Ok(pending) if pending.is_empty() => Ok(()),
            Ok(pending) => Err(format!("{} migrations pending", pending.len())),
            Err(e) => Err(format!("cannot read migrations: {e}")),
        }
    }

    /// Cache lookups so far.
    pub fn cache_stats(&self) -> &CacheStats {
        &self.stats
    }

    /// The connection, for this crate's own integration tests alone (they check the raw
    /// inbox and outbox rows), behind the `test-support` feature that only they enable:
    /// nothing outside storage reaches the database through it.
    #[cfg(feature = "test-support")]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.db
    }

    /// Installs `spec` as the published version of its campaign: a new version when it differs
    /// from the latest, the latest otherwise. Returns the version.
    pub async fn install_campaign(&self, spec: &CampaignSpec) -> Result<i32> {
        spec.validate()?;
        let json = serde_json::to_string(spec)?;
        let now = Utc::now();
        let txn = self.db.begin().await?;
        let existing = campaign::Entity::find_by_id(spec.key.clone())
            .one(&txn)
            .await?;
        let version = match &existing {
            Some(c) if c.version > 0 => {
                let latest = campaign_version::Entity::find_by_id((spec.key.clone(), c.version))
                    .one(&txn)
                    .await?;
                match latest {
                    Some(v) if v.spec == json && c.status == "published" => {
                        txn.commit().await?;
                        return Ok(c.version);
                    }
                    Some(v) if v.spec == json => c.version,
                    _ => c.version + 1,
                }
            }
            _ => 1,
        };
        if existing.as_ref().is_none_or(|c| c.version != version) {
            authoring::insert_version(&txn, spec, version, now).await?;
            let details = serde_json::json!({ "version": version, "installed": true });
            authoring::audit(&txn, "install", "campaign.publish", &spec.key, details).await?;
        }
        let row = campaign::ActiveModel {
            key: Set(spec.key.clone()),
            name: Set(spec.name.clone()),
            status: Set("published".into()),
            draft: Set(json),
            version: Set(version),
            created_at: Set(existing.as_ref().map_or(now, |c| c.created_at)),
            updated_at: Set(now),
        };
        campaign::Entity::insert(row)
            .on_conflict(
                OnConflict::column(campaign::Column::Key)
                    .update_columns([
                        campaign::Column::Name,
                        campaign::Column::Status,
                        campaign::Column::Draft,
                        campaign::Column::Version,
                        campaign::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec(&txn)
            .await?;
        authoring::put_budget(&txn, spec).await?;
        txn.commit().await?;
        self.offers.invalidate_all();
        Ok(version)
    }

    /// Stores or replaces a customer's profile; offers read on this node after it returns
    /// see the new profile.
    pub async fn upsert_customer(&self, customer: &Customer) -> Result<()> {
        campaigns::check_attributes(&customer.attributes).map_err(|e| {
            Error::spec(campaigns::Diagnostics(vec![campaigns::Diagnostic::new(
                e.field,
                campaigns::Code::InvalidValue,
                e.reason,
            )]))
        })?;
        let row = customer::ActiveModel {
            id: Set(customer.id.clone()),
            attributes: Set(serde_json::to_string(&customer.attributes)?),
            updated_at: Set(Utc::now()),
        };
        customer::Entity::insert(row)
            .on_conflict(
                OnConflict::column(customer::Column::Id)
                    .update_columns([customer::Column::Attributes, customer::Column::UpdatedAt])
                    .to_owned(),
            )
            .exec(&self.db)
            .await?;
        self.forget_views([&customer.id]);
        Ok(())
    }

    /// The published campaigns, in key order, compiled (from the cache when possible).
    pub async fn campaign_set(&self, db: &impl ConnectionTrait) -> Result<CampaignSet> {
        Ok(self.campaign_set_versions(db).await?.0)
    }

    /// [`Store::campaign_set`] with each campaign's published version, by key.
    pub(crate) async fn campaign_set_versions(
        &self,
        db: &impl ConnectionTrait,
    ) -> Result<(CampaignSet, HashMap<String, i32>)> {
        let rows = campaign::Entity::find()
            .filter(campaign::Column::Status.eq("published"))
            .filter(campaign::Column::Version.gt(0))
            .order_by_asc(campaign::Column::Key)
            .all(db)
            .await?;
        let mut compiled = Vec::with_capacity(rows.len());
        let mut versions = HashMap::with_capacity(rows.len());
        for row in rows {
            compiled.push(self.compiled(db, &row.key, row.version).await?);
            versions.insert(row.key, row.version);
        }
        Ok((CampaignSet::new(compiled), versions))
    }

    /// The whole ledger, in issue order.
    pub async fn rewards(&self) -> Result<Vec<LedgerEntry>> {
        reward::Entity::find()
            .order_by_asc(reward::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(read::ledger_entry)
            .collect()
    }

    /// A customer's state in a campaign, read from the database.
    pub async fn state(&self, customer_id: &str, campaign: &str) -> Result<Option<CampaignState>> {
        let row =
            entities::progress::Entity::find_by_id((customer_id.to_owned(), campaign.to_owned()))
                .one(&self.db)
                .await?;
        Ok(row
            .map(|r| CampaignState::from_json(&r.state))
            .transpose()?)
    }

    /// Every (customer, campaign, state), for comparisons.
    pub async fn states(&self) -> Result<Vec<(String, String, CampaignState)>> {
        let rows = entities::progress::Entity::find().all(&self.db).await?;
        rows.into_iter()
            .map(|r| {
                Ok((
                    r.customer_id,
                    r.campaign,
                    CampaignState::from_json(&r.state)?,
                ))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords_only() {
        assert_eq!(
            super::redact("postgres://app:secret@db:5432/offers"),
            "postgres://app:***@db:5432/offers"
        );
        assert_eq!(
            super::redact("postgres://postgres@127.0.0.1/test"),
            "postgres://postgres@127.0.0.1/test"
        );
        assert_eq!(
            super::redact("sqlite:offerflow.db?mode=rwc"),
            "sqlite:offerflow.db?mode=rwc"
        );
    }
}
