//! Every QA fixture in `tests/fixtures/` replays through the real engine and storage and issues
//! exactly the rewards it expects; a failure prints the diff. Runs on a fresh in-memory SQLite
//! database per fixture, and on PostgreSQL too when `OFFERFLOW_TEST_POSTGRES_URL` is set.

use sea_orm::{ConnectOptions, ConnectionTrait, Database};
use std::path::{Path, PathBuf};
use store::Store;

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
        let store = open(i).await;
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
    for i in 0..fixtures().len() {
        let _ = admin
            .execute_unprepared(&format!("DROP SCHEMA IF EXISTS {run}_{i} CASCADE"))
            .await;
    }
}
