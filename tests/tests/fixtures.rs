//! Every QA fixture in `tests/fixtures/` issues exactly the rewards it expects, whichever way
//! its events go in: replayed (`offerflow replay`'s path), through the memory store (the
//! storage traits over the in-memory processor), and through the ingestion pipeline in
//! requests of a few events. A failure prints the diff. Runs on a fresh in-memory SQLite
//! database per fixture and path, and on PostgreSQL too when `OFFERFLOW_TEST_POSTGRES_URL` is
//! set.

use engine::ports::{CampaignStore, CustomerStore, EventStore, LedgerStore, MemoryStore};
use engine::{Prepared, Reward};
use replay::{Events, ExpectedReward, Fixture};
use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use serde_json::Value;
use std::path::{Path, PathBuf};
use store::{Pipeline, PipelineConfig, Store};

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/fixtures")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        .collect();
    files.sort();
    files
}

/// The fixture's events in file order; a line that is not JSON is left out (replays refuse
/// it, naming its line, and it issues nothing).
fn events_of(fixture: &Fixture) -> Vec<Value> {
    match &fixture.events {
        Events::Inline(list) => list.iter().map(|(v, _)| v.clone()).collect(),
        Events::File(path) => std::fs::read_to_string(path)
            .expect("events file")
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect(),
    }
}

/// A ledger as the fixture states its expectations.
fn as_expected(rewards: &[Reward]) -> Vec<ExpectedReward> {
    rewards
        .iter()
        .map(|r| ExpectedReward {
            customer_id: r.customer_id.clone(),
            campaign: r.campaign.clone(),
            event_id: r.event_id.clone(),
            cycle: r.cycle,
            kind: serde_json::to_value(r.kind)
                .ok()
                .and_then(|k| k.as_str().map(str::to_owned))
                .unwrap_or_default(),
            amount: r.amount.to_json().as_f64().unwrap_or(f64::NAN),
        })
        .collect()
}

/// The fixture's ledger through the memory store.
async fn through_memory(fixture: &Fixture) -> Vec<Reward> {
    let memory = MemoryStore::new();
    for spec in &fixture.campaigns {
        memory.install_campaign(spec).await.expect("install");
    }
    for customer in &fixture.customers {
        memory.upsert_customer(customer).await.expect("profile");
    }
    for chunk in events_of(fixture).chunks(100) {
        memory
            .process(&Prepared::new(chunk))
            .await
            .expect("process");
    }
    memory.ledger().await.expect("ledger")
}

/// The fixture's ledger through the ingestion pipeline on `store`, in requests of three events
/// sent one after the other (so that batches hold several requests).
async fn through_pipeline(fixture: &Fixture, store: Store) -> Vec<Reward> {
    for spec in &fixture.campaigns {
        store.install_campaign(spec).await.expect("install");
    }
    for customer in &fixture.customers {
        store.upsert_customer(customer).await.expect("profile");
    }
    let config = PipelineConfig {
        max_batch: 7,
        ..PipelineConfig::default()
    };
    let pipeline = Pipeline::start(store.clone(), config);
    for chunk in events_of(fixture).chunks(3) {
        pipeline.submit(chunk.to_vec()).await.expect("submit");
    }
    pipeline.shutdown().await;
    let ledger = store.rewards().await.expect("ledger");
    ledger.into_iter().map(|e| e.reward).collect()
}

async fn check_all(open: impl AsyncFn(usize) -> Store) {
    let files = fixtures();
    assert!(!files.is_empty(), "no fixtures found");
    let mut failures = Vec::new();
    for (i, path) in files.iter().enumerate() {
        let fixture = match replay::load(path) {
            Ok(f) => f,
            Err(e) => {
                failures.push(format!("{e}"));
                continue;
            }
        };
        assert!(
            fixture.expect.is_some(),
            "{}: every fixture states its expected rewards",
            path.display()
        );
        let expected = fixture.expect.clone().unwrap_or_default();
        let memory = as_expected(&through_memory(&fixture).await);
        if memory != expected {
            failures.push(format!(
                "{} through the memory store: {memory:?}",
                path.display()
            ));
        }
        let piped = as_expected(&through_pipeline(&fixture, open(2 * i + 1).await).await);
        if piped != expected {
            failures.push(format!(
                "{} through the pipeline: {piped:?}",
                path.display()
            ));
        }
        let store = open(2 * i).await;
        match replay::replay(&fixture, &store, &|_| {}).await {
            Ok(report) if report.passed => {}
            Ok(report) => failures.push(format!(
                "{} ({}):\n  {}",
                report.name,
                path.display(),
                report.mismatches.join("\n  ")
            )),
            Err(e) => failures.push(format!("{}: {e}", path.display())),
        }
    }
    assert!(
        failures.is_empty(),
        "fixtures failed:\n{}",
        failures.join("\n")
    );
}

#[tokio::test]
async fn every_fixture_passes_on_sqlite() {
    check_all(async |_| Store::connect("sqlite::memory:").await.expect("sqlite")).await;
}

#[tokio::test]
async fn every_fixture_passes_on_postgres() {
    let Ok(url) = std::env::var("OFFERFLOW_TEST_POSTGRES_URL") else {
        return;
    };
    let admin = Database::connect(&url).await.expect("PostgreSQL");
    let run = format!("fx_{}", std::process::id());
    check_all(async |i| {
        let schema = format!("{run}_{i}");
        admin
            .execute_unprepared(&format!(
                "DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"
            ))
            .await
            .expect("schema");
        let mut options = ConnectOptions::new(&url);
        options.set_schema_search_path(&schema);
        Store::connect_with(options).await.expect("postgres")
    })
    .await;
    for i in 0..2 * fixtures().len() {
        let _ = admin
            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {run}_{i} CASCADE"))
            .await;
    }
}
