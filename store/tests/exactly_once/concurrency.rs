//! Concurrent tasks, and stores taking turns, equal a serial run.

use super::*;

/// A stream for concurrent runs: fresh events, each delivered twice (each customer's first
/// deliveries in order), and the serial run's ledger and states.
pub(super) fn concurrent_stream(
    seed: u64,
    events: usize,
    customers: usize,
) -> (Vec<Value>, Vec<Row>, States) {
    let mut rng = StdRng::seed_from_u64(seed);
    let fresh = materialize(&random_items(&mut rng, events, customers, false), 0);
    let mut reference = memory(&UNCAPPED, customers);
    for e in &fresh {
        reference.process_json(e);
    }
    let stream = deliveries(&fresh, 2, &mut rng);
    (
        stream,
        sorted(memory_ledger(reference.ledger())),
        mem_states(&reference),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
pub(super) async fn concurrent_tasks_equal_a_serial_run() {
    const CUSTOMERS: usize = 120;
    let (stream, expected, expected_states) = concurrent_stream(0xC0C0, 4_000, CUSTOMERS);
    for db in shared_databases().await {
        let started = Instant::now();
        install(&db.store, &UNCAPPED, CUSTOMERS).await;
        let mut tasks = Vec::new();
        for (i, part) in partition(&stream, 4).into_iter().enumerate() {
            let store = db.reconnect().await;
            let mut rng = StdRng::seed_from_u64(i as u64);
            let split = batches(&part, 10, 80, &mut rng);
            tasks.push(tokio::spawn(async move { ingest(&store, &split).await }));
        }
        let mut processed = 0;
        for t in tasks {
            let results = t.await.expect("task");
            processed += results
                .iter()
                .filter(|r| r.status == Status::Processed)
                .count();
        }
        let ledger = sorted(db_ledger(&db.store).await);
        let states = db_states(&db.store).await;
        check_all_or_nothing(&db.store, db.name).await;
        eprintln!(
            "concurrent_tasks_equal_a_serial_run on {}: {} deliveries in {:.1?}",
            db.name,
            stream.len(),
            started.elapsed()
        );
        let name = db.name;
        db.drop_schema().await;
        assert_eq!(processed, stream.len() / 2, "{name}");
        assert_same(&ledger, &expected, &format!("{name}: ledger"));
        assert_same(&states, &expected_states, &format!("{name}: states"));
    }
}

/// Two stores take turns on the same customers, one batch each at random, as nodes do when
/// partitions move between them: each store's cache of progress goes stale behind the other's
/// writes, and the result must still be the serial run's, in order.
#[tokio::test]
pub(super) async fn stores_taking_turns_equal_a_serial_run() {
    const CUSTOMERS: usize = 6;
    let mut rng = StdRng::seed_from_u64(0x7A7E);
    let events = materialize(&random_items(&mut rng, 3_000, CUSTOMERS, true), 0);
    let mut reference = memory(&MIXED, CUSTOMERS);
    let expected: Vec<EventResult> = events
        .iter()
        .map(|e| EventResult::clone(&reference.process_json(e)))
        .collect();
    let split = batches(&events, 1, 20, &mut rng);
    for db in shared_databases().await {
        let started = Instant::now();
        install(&db.store, &MIXED, CUSTOMERS).await;
        let stores = [db.reconnect().await, db.reconnect().await];
        let mut results = Vec::new();
        for b in &split {
            let store = &stores[rng.random_range(0..stores.len())];
            results.extend(store.process_batch(b).await.expect("batch"));
        }
        let ledger = db_ledger(&db.store).await;
        let states = db_states(&db.store).await;
        check_all_or_nothing(&db.store, db.name).await;
        eprintln!(
            "stores_taking_turns_equal_a_serial_run on {}: {} events in {:.1?}",
            db.name,
            events.len(),
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
        assert_same(&results, &expected, &format!("{name}: results"));
    }
}
