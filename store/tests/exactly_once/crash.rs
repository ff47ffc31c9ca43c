//! A crash mid-stream, then the whole stream again: the ledger of one uninterrupted run.

use super::*;

const CRASH_URL: &str = "OFFERFLOW_EO_CRASH_URL";
const CRASH_SCHEMA: &str = "OFFERFLOW_EO_CRASH_SCHEMA";
const CRASH_SEED: u64 = 0xC4A5;
const CRASH_EVENTS: usize = 8_000;
const CRASH_CUSTOMERS: usize = 60;
const CRASH_BATCH: usize = 50;

/// The crash test's stream, in its batches of [`CRASH_BATCH`].
fn crash_batches() -> Vec<Vec<Value>> {
    let mut rng = StdRng::seed_from_u64(CRASH_SEED);
    let events = materialize(
        &random_items(&mut rng, CRASH_EVENTS, CRASH_CUSTOMERS, true),
        0,
    );
    events.chunks(CRASH_BATCH).map(<[Value]>::to_vec).collect()
}

/// A child process of `crash_mid_stream`: feeds the whole stream from the start, until killed.
#[test]
#[ignore = "a child process of crash_mid_stream, run by it"]
fn child_crash_ingest() {
    let url = std::env::var(CRASH_URL).expect("run by crash_mid_stream");
    let schema = std::env::var(CRASH_SCHEMA).ok();
    let split = crash_batches();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = open(&url, schema.as_deref()).await;
        ingest(&store, &split).await;
    });
}

/// PostgreSQL backends serving connections named `application`.
async fn backends_of(store: &Store, application: &str) -> i64 {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};
    let row = store
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT count(*) AS n FROM pg_stat_activity WHERE application_name = $1",
            [application.into()],
        ))
        .await
        .expect("pg_stat_activity")
        .expect("a row");
    row.try_get("", "n").expect("count")
}

async fn inbox_len(store: &Store) -> usize {
    let n = entities::inbox::Entity::find()
        .count(store.connection())
        .await
        .expect("count");
    usize::try_from(n).expect("small")
}

/// The database after a crash holds whole batches only: exactly the first `k` batches' worth,
/// for some `k`, ledger, states and budgets included. Returns `k`.
async fn check_prefix(store: &Store, split: &[Vec<Value>], label: &str) -> usize {
    let ids = check_all_or_nothing(store, label).await;
    let mut reference = memory(&MIXED, CRASH_CUSTOMERS);
    let mut processed = BTreeSet::new();
    let mut k = 0;
    while processed.len() < ids.len() {
        assert!(
            k < split.len(),
            "{label}: more processed events than the stream has"
        );
        for e in &split[k] {
            let r = reference.process_json(e);
            if r.status == Status::Processed {
                processed.insert(r.event_id.clone());
            }
        }
        k += 1;
    }
    assert_eq!(ids, processed, "{label}: the first {k} batches, whole");
    assert_same(
        &db_ledger(store).await,
        &memory_ledger(reference.ledger()),
        &format!("{label}: ledger after {k} batches"),
    );
    assert_same(
        &db_states(store).await,
        &mem_states(&reference),
        &format!("{label}: states after {k} batches"),
    );
    assert_eq!(db_budgets(store).await, mem_budgets(&reference), "{label}");
    k
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crash_mid_stream() {
    const CRASHES: usize = 5;
    let split = crash_batches();
    let mut rng = StdRng::seed_from_u64(epoch_ms());
    for db in shared_databases().await {
        let started = Instant::now();
        install(&db.store, &MIXED, CRASH_CUSTOMERS).await;
        // On PostgreSQL the children name their connections, so that the test can wait for a
        // killed child's backends to finish: a backend may still commit what its dead client
        // sent, and the prefix must be read after that.
        let application = format!("crash_{}", std::process::id());
        let child_url = match &db.schema {
            Some(_) => {
                let sep = if db.url.contains('?') { '&' } else { '?' };
                format!("{}{sep}application_name={application}", db.url)
            }
            None => db.url.clone(),
        };
        let mut env = vec![(CRASH_URL, child_url)];
        if let Some(schema) = &db.schema {
            env.push((CRASH_SCHEMA, schema.clone()));
        }
        let mut done = 0;
        let mut prefixes = Vec::new();
        for crash in 0..CRASHES {
            let label = format!("{}, crash {crash}", db.name);
            let mut process = child("crash::child_crash_ingest", &env)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn");
            // Wait until the child is past where the last one died, then a little more.
            let goal = done + rng.random_range(100..800);
            loop {
                if inbox_len(&db.store).await >= goal {
                    break;
                }
                assert!(
                    process.try_wait().expect("try_wait").is_none(),
                    "{label}: the child stopped early"
                );
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..30))).await;
            process.kill().expect("kill");
            let status = process.wait().expect("wait");
            assert!(!status.success(), "{label}: killed before the end");
            if db.schema.is_some() {
                while backends_of(&db.store, &application).await > 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
            }
            let k = check_prefix(&db.store, &split, &label).await;
            assert!(k < split.len(), "{label}: mid-stream");
            done = inbox_len(&db.store).await;
            prefixes.push(k);
        }
        // Restart, and feed the whole stream again.
        let store = db.reconnect().await;
        ingest(&store, &split).await;
        let mut reference = memory(&MIXED, CRASH_CUSTOMERS);
        for e in split.iter().flatten() {
            reference.process_json(e);
        }
        let ledger = db_ledger(&store).await;
        let states = db_states(&store).await;
        let budgets = db_budgets(&store).await;
        check_all_or_nothing(&store, db.name).await;
        eprintln!(
            "crash_mid_stream on {}: killed after {prefixes:?} of {} batches, {} rewards, {:.1?}",
            db.name,
            split.len(),
            ledger.len(),
            started.elapsed()
        );
        let name = db.name;
        db.drop_schema().await;
        assert_same(
            &ledger,
            &memory_ledger(reference.ledger()),
            &format!("{name}: ledger"),
        );
        assert_same(&states, &mem_states(&reference), &format!("{name}: states"));
        assert_eq!(budgets, mem_budgets(&reference), "{name}: budgets");
    }
}
