//! A storm of duplicates.

use super::*;

#[tokio::test]
async fn duplicate_storm() {
    const EVENTS: usize = 10_000;
    const COPIES: usize = 5;
    const CUSTOMERS: usize = 200;
    let mut rng = StdRng::seed_from_u64(0x5707);
    let events = materialize(&random_items(&mut rng, EVENTS, CUSTOMERS, false), 0);
    let mut reference = memory(&UNCAPPED, CUSTOMERS);
    for e in &events {
        assert_eq!(reference.process_json(e).status, Status::Processed);
    }
    let expected = sorted(memory_ledger(reference.ledger()));
    assert!(expected.len() > 2_000, "campaigns complete often");
    let storm = deliveries(&events, COPIES, &mut rng);
    assert_eq!(storm.len(), EVENTS * COPIES);
    let split = batches(&storm, 400, 600, &mut rng);
    for db in databases().await {
        let started = Instant::now();
        install(&db.store, &UNCAPPED, CUSTOMERS).await;
        let results = ingest(&db.store, &split).await;
        let processed = results
            .iter()
            .filter(|r| r.status == Status::Processed)
            .count();
        let duplicates = results
            .iter()
            .filter(|r| r.status == Status::Duplicate)
            .count();
        let ledger = db_ledger(&db.store).await;
        let states = db_states(&db.store).await;
        check_all_or_nothing(&db.store, db.name).await;
        let identities: BTreeSet<_> = ledger
            .iter()
            .map(|r| (r.0.clone(), r.1.clone(), r.2, r.3))
            .collect();
        eprintln!(
            "duplicate_storm on {}: {} deliveries, {} rewards in {:.1?}",
            db.name,
            storm.len(),
            ledger.len(),
            started.elapsed()
        );
        let name = db.name;
        db.drop_schema().await;
        assert_eq!(
            (processed, duplicates),
            (EVENTS, EVENTS * (COPIES - 1)),
            "{name}"
        );
        assert_eq!(identities.len(), ledger.len(), "{name}: a reward twice");
        assert_same(&sorted(ledger), &expected, &format!("{name}: ledger"));
        assert_same(&states, &mem_states(&reference), &format!("{name}: states"));
    }
}
