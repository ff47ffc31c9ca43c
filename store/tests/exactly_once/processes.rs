//! Two processes on one PostgreSQL database equal a serial run.

use super::*;

pub(super) const CHILD_URL: &str = "OFFERFLOW_EO_CHILD_URL";
pub(super) const CHILD_SCHEMA: &str = "OFFERFLOW_EO_CHILD_SCHEMA";
pub(super) const CHILD_PART: &str = "OFFERFLOW_EO_CHILD_PART";
pub(super) const CHILD_START_MS: &str = "OFFERFLOW_EO_CHILD_START_MS";
pub(super) const PROCESS_SEED: u64 = 0x2_0C35;
pub(super) const PROCESS_EVENTS: usize = 4_000;
pub(super) const PROCESS_CUSTOMERS: usize = 100;

pub(super) fn epoch_ms() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since.as_millis()).expect("small")
}

/// This test binary again, running only the test `name`, with `env` set.
pub(super) fn child(name: &str, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("current exe"));
    command.args([
        "--exact",
        name,
        "--ignored",
        "--nocapture",
        "--test-threads=1",
    ]);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// A child process of `two_processes_on_postgres`: ingests its half of the stream, starting
/// at the agreed instant, and prints when it worked.
#[test]
#[ignore = "a child process of two_processes_on_postgres, run by it"]
pub(super) fn child_ingest() {
    let url = std::env::var(CHILD_URL).expect("run by two_processes_on_postgres");
    let schema = std::env::var(CHILD_SCHEMA).ok();
    let part: usize = std::env::var(CHILD_PART)
        .expect("part")
        .parse()
        .expect("a number");
    let start: u64 = std::env::var(CHILD_START_MS)
        .expect("start")
        .parse()
        .expect("a number");
    let (stream, _, _) = concurrent_stream(PROCESS_SEED, PROCESS_EVENTS, PROCESS_CUSTOMERS);
    let mine = partition(&stream, 2).swap_remove(part);
    let split = batches(&mine, 10, 80, &mut StdRng::seed_from_u64(part as u64));
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = open(&url, schema.as_deref()).await;
        std::thread::sleep(Duration::from_millis(start.saturating_sub(epoch_ms())));
        let from = epoch_ms();
        ingest(&store, &split).await;
        println!("window {from} {}", epoch_ms());
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(super) async fn two_processes_on_postgres() {
    let Some(db) = postgres().await else {
        eprintln!("two_processes_on_postgres: skipped, OFFERFLOW_TEST_POSTGRES_URL is not set");
        return;
    };
    let started = Instant::now();
    install(&db.store, &UNCAPPED, PROCESS_CUSTOMERS).await;
    let (stream, expected, expected_states) =
        concurrent_stream(PROCESS_SEED, PROCESS_EVENTS, PROCESS_CUSTOMERS);
    let start = epoch_ms() + 1_500;
    let children: Vec<_> = (0..2)
        .map(|part| {
            child(
                "processes::child_ingest",
                &[
                    (CHILD_URL, db.url.clone()),
                    (CHILD_SCHEMA, db.schema.clone().expect("a schema")),
                    (CHILD_PART, part.to_string()),
                    (CHILD_START_MS, start.to_string()),
                ],
            )
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn")
        })
        .collect();
    let outputs = tokio::task::spawn_blocking(move || {
        children
            .into_iter()
            .map(|c| c.wait_with_output().expect("wait"))
            .collect::<Vec<_>>()
    })
    .await
    .expect("join");
    let mut windows = Vec::new();
    for out in &outputs {
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = stdout
            .lines()
            .find_map(|l| l.split_once("window ").map(|(_, times)| times))
            .unwrap_or_else(|| panic!("the child ingested: {stdout}"));
        let (from, to) = line.split_once(' ').expect("two times");
        windows.push((
            from.parse::<u64>().expect("ms"),
            to.parse::<u64>().expect("ms"),
        ));
    }
    let ledger = sorted(db_ledger(&db.store).await);
    let states = db_states(&db.store).await;
    check_all_or_nothing(&db.store, db.name).await;
    eprintln!(
        "two_processes_on_postgres: {} deliveries in {:.1?}, children working {:?}",
        stream.len(),
        started.elapsed(),
        windows
    );
    db.drop_schema().await;
    assert!(
        windows[0].0 < windows[1].1 && windows[1].0 < windows[0].1,
        "the processes overlapped: {windows:?}"
    );
    assert_same(&ledger, &expected, "ledger");
    assert_same(&states, &expected_states, "states");
}
