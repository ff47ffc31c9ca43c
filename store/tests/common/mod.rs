//! Test databases: SQLite always, PostgreSQL when `OFFERFLOW_TEST_POSTGRES_URL` is set. Each
//! test gets a database (or PostgreSQL schema) of its own, so tests run in parallel.
#![allow(dead_code)]

use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use std::sync::atomic::{AtomicU64, Ordering};
use store::Store;

/// A database for one test, dropped (PostgreSQL schema) by [`TestDb::drop_schema`].
pub struct TestDb {
    /// `sqlite` or `postgres`, for messages.
    pub name: &'static str,
    /// The store.
    pub store: Store,
    /// How to open another connection to the same database (other tasks or processes).
    pub url: String,
    /// The PostgreSQL schema, if any.
    pub schema: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Another store on the same database.
    pub async fn reconnect(&self) -> Store {
        Store::connect_with(options(&self.url, self.schema.as_deref()))
            .await
            .expect("reconnect")
    }

    /// Removes the PostgreSQL schema at the end of a test.
    pub async fn drop_schema(self) {
        if let Some(schema) = &self.schema {
            let db = Database::connect(&self.url).await.expect("connect");
            db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"))
                .await
                .expect("drop schema");
        }
    }
}

/// A store on a database another test process set up: `url`, and the PostgreSQL schema if any
/// (what [`TestDb::url`] and [`TestDb::schema`] hold).
pub async fn open(url: &str, schema: Option<&str>) -> Store {
    Store::connect_with(options(url, schema))
        .await
        .expect("connect")
}

fn options(url: &str, schema: Option<&str>) -> ConnectOptions {
    let mut o = ConnectOptions::new(url);
    if let Some(s) = schema {
        o.set_schema_search_path(s);
        o.max_connections(8);
    }
    o
}

static NEXT: AtomicU64 = AtomicU64::new(0);

fn unique() -> String {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or_default();
    format!("{}_{}_{}", std::process::id(), n, nanos)
}

/// An in-memory SQLite database.
pub async fn sqlite_memory() -> TestDb {
    let url = "sqlite::memory:".to_owned();
    TestDb {
        name: "sqlite",
        store: Store::connect(&url).await.expect("sqlite"),
        url,
        schema: None,
        _dir: None,
    }
}

/// A SQLite database in a temporary file (for several connections or processes).
pub async fn sqlite_file() -> TestDb {
    let dir = tempfile::tempdir().expect("tempdir");
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
    TestDb {
        name: "sqlite",
        store: Store::connect(&url).await.expect("sqlite"),
        url,
        schema: None,
        _dir: Some(dir),
    }
}

/// A fresh schema in the PostgreSQL named by `OFFERFLOW_TEST_POSTGRES_URL`, if set.
pub async fn postgres() -> Option<TestDb> {
    let url = std::env::var("OFFERFLOW_TEST_POSTGRES_URL").ok()?;
    let schema = format!("t_{}", unique());
    let admin = Database::connect(&url)
        .await
        .expect("OFFERFLOW_TEST_POSTGRES_URL is set but PostgreSQL is unreachable");
    admin
        .execute_unprepared(&format!("CREATE SCHEMA {schema}"))
        .await
        .expect("create schema");
    let store = Store::connect_with(options(&url, Some(&schema)))
        .await
        .expect("postgres");
    Some(TestDb {
        name: "postgres",
        store,
        url,
        schema: Some(schema),
        _dir: None,
    })
}

/// Every database this machine offers for a test that needs several connections: a SQLite
/// file, and PostgreSQL when configured.
pub async fn shared_databases() -> Vec<TestDb> {
    let mut dbs = vec![sqlite_file().await];
    dbs.extend(postgres().await);
    dbs
}

/// SQLite in memory, and PostgreSQL when configured.
pub async fn databases() -> Vec<TestDb> {
    let mut dbs = vec![sqlite_memory().await];
    dbs.extend(postgres().await);
    dbs
}

/// Compiles a YAML spec.
pub fn spec(yaml: &str) -> campaigns::CampaignSpec {
    campaigns::parse(yaml).expect("valid spec")
}

/// An event's JSON.
pub fn event(id: &str, customer: &str, kind: &str, at: &str) -> serde_json::Value {
    serde_json::json!({"id": id, "customer_id": customer, "type": kind, "occurred_at": at})
}

/// A ledger as comparable tuples: (campaign, customer, cycle, reward index, event, amount).
pub fn ledger_of(rows: &[engine::LedgerEntry]) -> Vec<(String, String, i32, i32, String, String)> {
    let rewards: Vec<engine::Reward> = rows.iter().map(|r| r.reward.clone()).collect();
    memory_ledger(&rewards)
}

/// The in-memory processor's ledger in the same form.
pub fn memory_ledger(
    rewards: &[engine::Reward],
) -> Vec<(String, String, i32, i32, String, String)> {
    rewards
        .iter()
        .map(|r| {
            (
                r.campaign.clone(),
                r.customer_id.clone(),
                i32::try_from(r.cycle).unwrap(),
                i32::try_from(r.reward_index).unwrap(),
                r.event_id.clone(),
                r.amount.get().to_string(),
            )
        })
        .collect()
}
