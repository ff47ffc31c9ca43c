//! The budget race: a budget is reached exactly, never passed, under concurrency.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn budget_race() {
    const CUSTOMERS: usize = 1_000;
    const TASKS: usize = 8;
    const REPETITIONS: usize = 20;
    let events: Vec<Value> = (0..CUSTOMERS)
        .map(|c| {
            event(
                &format!("o{c}"),
                &customer_name(c),
                "order",
                &time(1_796_000_000),
            )
        })
        .collect();
    let mut took: HashMap<&str, Duration> = HashMap::new();
    for repetition in 0..REPETITIONS {
        for db in shared_databases().await {
            let started = Instant::now();
            db.store.install_campaign(&spec(FIRST_100)).await.unwrap();
            let mut tasks = Vec::new();
            for t in 0..TASKS {
                let store = db.reconnect().await;
                let mine: Vec<Value> = events.iter().skip(t).step_by(TASKS).cloned().collect();
                let split = batches(&mine, 1, 8, &mut StdRng::seed_from_u64(t as u64));
                tasks.push(tokio::spawn(async move { ingest(&store, &split).await }));
            }
            let mut completed = 0;
            let mut refused = 0;
            for t in tasks {
                for r in t.await.expect("task") {
                    match r.outcomes[0].outcome {
                        Outcome::Completed { cycle: 1 } => completed += 1,
                        Outcome::NotApplicable {
                            reason: Reason::BudgetExhausted,
                        } => refused += 1,
                        other => panic!("{}: unexpected {other:?}", db.name),
                    }
                }
            }
            let ledger = db.store.rewards().await.unwrap();
            let budgets = db_budgets(&db.store).await;
            check_all_or_nothing(&db.store, db.name).await;
            let customers: BTreeSet<_> = ledger
                .iter()
                .map(|r| r.reward.customer_id.clone())
                .collect();
            *took.entry(db.name).or_default() += started.elapsed();
            let name = db.name;
            db.drop_schema().await;
            assert_eq!(ledger.len(), 100, "{name}, repetition {repetition}");
            assert_eq!(customers.len(), 100, "{name}: one reward per customer");
            assert_eq!(budgets["first-100"], 100, "{name}: budget taken");
            assert_eq!((completed, refused), (100, 900), "{name}: results");
        }
    }
    eprintln!("budget_race: {REPETITIONS} repetitions, {took:.1?}");
}
