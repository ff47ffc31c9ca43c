//! Random streams: the database equals the in-memory processor.

use super::*;

fn item() -> impl Strategy<Value = Item> {
    // Mostly short gaps, so that sequences and windows complete.
    let gap = prop_oneof![3 => 0..5usize, 1 => 0..GAPS.len()];
    let fresh = (
        0..4usize,
        0..TYPES.len(),
        gap,
        1..60i64,
        0..CATEGORIES.len(),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |(customer, kind, gap, amount, category, extra)| Item::Fresh {
                customer,
                kind,
                gap,
                amount,
                category,
                extra,
            },
        );
    prop_oneof![
        30 => fresh,
        2 => (0..40usize).prop_map(Item::Again),
        1 => (0..40usize).prop_map(Item::Changed),
        1 => (0..INVALID_KINDS).prop_map(Item::Invalid),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]

    #[test]
    fn db_matches_memory_on_random_streams(
        items in prop::collection::vec(item(), 1..=160),
        base in 0..BASES.len(),
        sizes in prop::collection::vec(1..50usize, 1..12),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(random_stream_case(&items, base, &sizes));
    }
}

async fn random_stream_case(items: &[Item], base: usize, sizes: &[usize]) {
    let events = materialize(items, base);
    let mut reference = memory(&MIXED, 4);
    let expected: Vec<EventResult> = events
        .iter()
        .map(|e| EventResult::clone(&reference.process_json(e)))
        .collect();
    let mut split = Vec::new();
    let mut rest = &events[..];
    for n in sizes.iter().cycle() {
        if rest.is_empty() {
            break;
        }
        let n = (*n).min(rest.len());
        split.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    for db in databases().await {
        install(&db.store, &MIXED, 4).await;
        let results = ingest(&db.store, &split).await;
        let ledger = db_ledger(&db.store).await;
        let states = db_states(&db.store).await;
        let budgets = db_budgets(&db.store).await;
        check_all_or_nothing(&db.store, db.name).await;
        let name = db.name;
        db.drop_schema().await;
        assert_same(
            &ledger,
            &memory_ledger(reference.ledger()),
            &format!("{name}: ledger"),
        );
        assert_same(&states, &mem_states(&reference), &format!("{name}: states"));
        assert_eq!(budgets, mem_budgets(&reference), "{name}: budgets");
        assert_same(&results, &expected, &format!("{name}: results"));
    }
}

/// Found by `db_matches_memory_on_random_streams`: the completion that spends a budget stops
/// the campaign for the rest of its batch, as it does for later batches.
#[tokio::test]
async fn a_budget_spent_mid_batch_stops_the_campaign() {
    let pairs = [MIXED[7]];
    // Three customers complete `capped-order-pairs` (two orders each, three completions in
    // all); c2's order comes after, in the same batch, and must count for nothing.
    let events: Vec<Value> = [3, 1, 0, 3, 1, 0, 2]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let at = time(1_796_000_000 + 60 * i as i64);
            event(&format!("e{i}"), &customer_name(*c), "order", &at)
        })
        .collect();
    let mut reference = memory(&pairs, 4);
    for e in &events {
        reference.process_json(e);
    }
    for db in databases().await {
        install(&db.store, &pairs, 4).await;
        let results = db.store.process_batch(&events).await.expect("batch");
        let states = db_states(&db.store).await;
        let name = db.name;
        db.drop_schema().await;
        assert_eq!(
            results[6].outcomes[0].outcome,
            Outcome::NotApplicable {
                reason: Reason::BudgetExhausted
            },
            "{name}"
        );
        assert_same(&states, &mem_states(&reference), &format!("{name}: states"));
        assert!(states.iter().all(|(c, _, _)| c != "c2"), "{name}");
    }
}
