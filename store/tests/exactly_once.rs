//! Exactly-once, proven (DESIGN §7): the database processor gives the in-memory processor's
//! ledger and states whatever the batching, the duplicates, the concurrency (tasks, processes)
//! and the crashes, and never exceeds a budget.
//!
//! Every test runs on SQLite, and on PostgreSQL too when `OFFERFLOW_TEST_POSTGRES_URL` is set,
//! each in a database (or schema) of its own. Two tests run this binary again as child
//! processes (`child_ingest`, `child_crash_ingest`), which do nothing unless the parent set
//! their environment variables.

mod common;

use campaigns::{CompiledCampaign, Customer};
use common::*;
use engine::{CampaignState, EventResult, MemoryProcessor, Outcome, Reason, Status};
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use sea_orm::{EntityTrait, PaginatorTrait};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use store::Store;

// ---------------------------------------------------------------------------------------------
// Campaigns
// ---------------------------------------------------------------------------------------------

/// Every mechanic: windows, cycles, an `amount_expr`, an audience, a schedule and two budgets.
/// `capped-order-pairs` needs two orders per completion, so that a spent budget shows in
/// progress (the campaign stops applying), not only in rewards.
const MIXED: [&str; 11] = [
    r#"
key: orders-3-in-1d
name: Three orders in a day
goal: {kind: count, when: 'event.type == "order"', target: 3, within: 1d}
rewards: [{kind: points, amount: 30}]
limits: {per_customer: 2}
"#,
    r#"
key: spend-100-in-2d
name: Spend 100 in two days, get a tenth back
goal: {kind: sum, when: 'event.type == "order"', value: 'event.amount', target: 100, within: 2d}
rewards: [{kind: points, amount_expr: 'int(progress.sum) / 10'}]
limits: {per_customer: 3}
"#,
    r#"
key: big-spender
name: Spend 150 on anything
goal: {kind: sum, when: 'has(event.amount)', value: 'event.amount', target: 150}
rewards: [{kind: points, amount: 15}, {kind: coupon, amount: 1, code: BIG}]
limits: {per_customer: 2}
"#,
    r#"
key: three-categories
name: View three categories
goal: {kind: distinct, when: 'event.type == "view"', value: 'event.category', target: 3}
rewards: [{kind: discount, amount: 15}]
limits: {per_customer: 2}
"#,
    r#"
key: open-streak
name: Open the app three days in a row
schedule: {timezone: America/New_York}
goal: {kind: streak, when: 'event.type == "open"', period: day, target: 3}
rewards: [{kind: badge, amount: 1}]
limits: {per_customer: 2}
"#,
    r#"
key: browse-then-buy
name: Open, view, order within the hour
goal:
  kind: sequence
  within: 1h
  steps:
    - {name: open, when: 'event.type == "open"'}
    - {name: view, when: 'event.type == "view"'}
    - {name: order, when: 'event.type == "order"'}
rewards: [{kind: discount, amount: 10}]
limits: {per_customer: 3}
"#,
    r#"
key: view-pairs
name: Two views in a day, three times
goal: {kind: count, when: 'event.type == "view"', target: 2, within: 1d}
rewards: [{kind: points, amount: 2}]
limits: {per_customer: 3}
"#,
    r#"
key: capped-order-pairs
name: Two orders, twice per customer, three times in all
goal: {kind: count, when: 'event.type == "order"', target: 2}
rewards: [{kind: points, amount: 20}]
limits: {per_customer: 2, max_rewards: 3}
"#,
    r#"
key: each-order-capped
name: Every order, twice per customer, three times in all
goal: {kind: count, when: 'event.type == "order"', target: 1}
rewards: [{kind: points, amount: 5}, {kind: coupon, amount: 1, code: NEXT}]
limits: {per_customer: 2, max_rewards: 3}
"#,
    r#"
key: gold-anything
name: Gold members, every fourth event
audience: 'has(customer.tier) && customer.tier == "gold"'
goal: {kind: count, when: 'true', target: 4}
rewards: [{kind: points, amount: 4}]
limits: {per_customer: 5}
"#,
    r#"
key: early-december-views
name: Two views in the first days of December
schedule: {starts_at: 2026-12-01T06:00:00Z, ends_at: 2026-12-03T00:00:00Z}
goal: {kind: count, when: 'event.type == "view"', target: 2}
rewards: [{kind: points, amount: 3}]
limits: {per_customer: 2}
"#,
];

/// Campaigns without budgets that complete often: customers are independent, so any delivery
/// that keeps each customer's order gives a serial run's ledger, up to order across customers.
const UNCAPPED: [&str; 6] = [
    r#"
key: every-2-orders
name: Every second order
goal: {kind: count, when: 'event.type == "order"', target: 2}
rewards: [{kind: points, amount: 2}, {kind: coupon, amount: 1, code: TWO}]
limits: {per_customer: 1000}
"#,
    r#"
key: orders-3-in-1d
name: Three orders in a day
goal: {kind: count, when: 'event.type == "order"', target: 3, within: 1d}
rewards: [{kind: points, amount: 30}]
limits: {per_customer: 100}
"#,
    r#"
key: spend-100
name: Every 100 spent
goal: {kind: sum, when: 'has(event.amount)', value: 'event.amount', target: 100}
rewards: [{kind: points, amount_expr: 'int(progress.sum) / 10'}]
limits: {per_customer: 1000}
"#,
    r#"
key: three-categories
name: View three categories
goal: {kind: distinct, when: 'event.type == "view"', value: 'event.category', target: 3}
rewards: [{kind: discount, amount: 15}]
limits: {per_customer: 100}
"#,
    r#"
key: open-streak
name: Open the app two days in a row
schedule: {timezone: America/New_York}
goal: {kind: streak, when: 'event.type == "open"', period: day, target: 2}
rewards: [{kind: badge, amount: 1}]
limits: {per_customer: 100}
"#,
    r#"
key: browse-then-buy
name: Open, view, order within the hour
goal:
  kind: sequence
  within: 1h
  steps:
    - {name: open, when: 'event.type == "open"'}
    - {name: view, when: 'event.type == "view"'}
    - {name: order, when: 'event.type == "order"'}
rewards: [{kind: discount, amount: 10}]
limits: {per_customer: 100}
"#,
];

/// One order each pays, for the first hundred customers.
const FIRST_100: &str = r#"
key: first-100
name: The first hundred orders
goal: {kind: count, when: 'event.type == "order"', target: 1}
rewards: [{kind: points, amount: 100}]
limits: {max_rewards: 100}
"#;

/// The campaigns, sorted by key: the order the database processor runs them in.
fn compiled(texts: &[&str]) -> Vec<CompiledCampaign> {
    let mut specs: Vec<_> = texts.iter().map(|t| spec(t)).collect();
    specs.sort_by(|a, b| a.key.cmp(&b.key));
    specs
        .into_iter()
        .map(|s| CompiledCampaign::compile(s).expect("compiles"))
        .collect()
}

/// Every third customer is gold, the next silver, the next has no profile.
fn profiles(customers: usize) -> Vec<Customer> {
    (0..customers)
        .filter(|c| c % 3 != 2)
        .map(|c| {
            let tier = if c % 3 == 0 { "gold" } else { "silver" };
            Customer {
                id: customer_name(c),
                attributes: json!({"tier": tier}).as_object().expect("object").clone(),
            }
        })
        .collect()
}

fn customer_name(c: usize) -> String {
    format!("c{c}")
}

/// The reference: the in-memory processor on the same campaigns and profiles.
fn memory(texts: &[&str], customers: usize) -> MemoryProcessor {
    let mut m = MemoryProcessor::new(compiled(texts));
    for p in profiles(customers) {
        m.upsert_customer(p);
    }
    m
}

/// Installs the campaigns and profiles in a database.
async fn install(store: &Store, texts: &[&str], customers: usize) {
    for t in texts {
        store.install_campaign(&spec(t)).await.expect("install");
    }
    for p in profiles(customers) {
        store.upsert_customer(&p).await.expect("profile");
    }
}

// ---------------------------------------------------------------------------------------------
// Streams
// ---------------------------------------------------------------------------------------------

const TYPES: [&str; 4] = ["order", "view", "open", "other"];
const CATEGORIES: [&str; 5] = ["c0", "c1", "c2", "c3", "c4"];
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
/// Gaps between one customer's events: the first five are under the sequence's hour.
const GAPS: [i64; 11] = [
    0,
    1,
    30 * 60,
    59 * 60,
    HOUR,
    3 * HOUR,
    23 * HOUR,
    DAY,
    25 * HOUR,
    47 * HOUR,
    3 * DAY,
];
/// December (and the schedule's bounds), and just before New York's DST changes.
const BASES: [&str; 3] = [
    "2026-11-30T20:00:00Z",
    "2026-03-07T00:00:00Z",
    "2026-10-31T00:00:00Z",
];
/// How many ways [`Item::Invalid`] has of being invalid.
const INVALID_KINDS: usize = 7;

/// One entry of a stream, before it becomes JSON.
#[derive(Debug, Clone)]
enum Item {
    /// A new event of `customer`, `gap` (an index in [`GAPS`]) after their previous one.
    Fresh {
        customer: usize,
        kind: usize,
        gap: usize,
        amount: i64,
        category: usize,
        extra: bool,
    },
    /// An earlier event again, unchanged: a duplicate (`back` picks which).
    Again(usize),
    /// An earlier event's id with other content: a conflict.
    Changed(usize),
    /// An invalid event, in one of [`INVALID_KINDS`] ways.
    Invalid(usize),
}

fn time(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .expect("in range")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The stream's JSON. Each customer has a clock of their own, so their events are in time
/// order and close enough together for windows and sequences to complete.
fn materialize(items: &[Item], base: usize) -> Vec<Value> {
    let start = chrono::DateTime::parse_from_rfc3339(BASES[base % BASES.len()])
        .expect("RFC 3339")
        .timestamp();
    let mut clocks: HashMap<usize, i64> = HashMap::new();
    let mut fresh: Vec<Value> = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id = format!("e{i}");
        match *item {
            Item::Fresh {
                customer,
                kind,
                gap,
                amount,
                category,
                extra,
            } => {
                let clock = clocks
                    .entry(customer)
                    .or_insert(start + (customer as i64 % 24) * HOUR);
                *clock += GAPS[gap % GAPS.len()];
                let kind = TYPES[kind % TYPES.len()];
                let mut attributes = serde_json::Map::new();
                if kind == "order" || extra {
                    attributes.insert("amount".into(), json!(amount));
                }
                if kind == "view" || extra {
                    let c = CATEGORIES[category % CATEGORIES.len()];
                    attributes.insert("category".into(), json!(c));
                }
                let e = json!({"id": id, "customer_id": customer_name(customer), "type": kind,
                    "occurred_at": time(*clock), "attributes": attributes});
                fresh.push(e.clone());
                out.push(e);
            }
            Item::Again(back) | Item::Changed(back) if !fresh.is_empty() => {
                let mut e = fresh[fresh.len() - 1 - back % fresh.len()].clone();
                if matches!(item, Item::Changed(_)) {
                    e["attributes"]["amount"] = json!(999);
                }
                out.push(e);
            }
            Item::Again(_) | Item::Changed(_) => {}
            Item::Invalid(how) => {
                let mut e = json!({"id": id, "customer_id": "c0", "type": "order",
                    "occurred_at": time(start), "attributes": {"amount": 50}});
                match how % INVALID_KINDS {
                    0 => e["occurred_at"] = json!("later"),
                    1 => {
                        e.as_object_mut().expect("object").remove("customer_id");
                    }
                    2 => e["attributes"]["type"] = json!("order"),
                    3 => e["channel"] = json!("web"),
                    4 => e["id"] = json!("x".repeat(129)),
                    5 => e["attributes"] = json!([1, 2]),
                    // The next item's id: refused now, so not remembered for later.
                    _ => {
                        e["id"] = json!(format!("e{}", i + 1));
                        e["type"] = json!(7);
                    }
                }
                out.push(e);
            }
        }
    }
    out
}

/// `n` items over `customers` customers: mostly fresh events, with some duplicates, conflicts
/// and invalid events when `noise`.
fn random_items(rng: &mut StdRng, n: usize, customers: usize, noise: bool) -> Vec<Item> {
    (0..n)
        .map(|_| match rng.random_range(0..40) {
            0..=2 if noise => Item::Again(rng.random_range(0..50)),
            3 if noise => Item::Changed(rng.random_range(0..50)),
            4 if noise => Item::Invalid(rng.random_range(0..INVALID_KINDS)),
            _ => Item::Fresh {
                customer: rng.random_range(0..customers),
                kind: rng.random_range(0..TYPES.len()),
                // Mostly short gaps, so that sequences and windows complete.
                gap: if rng.random_bool(0.7) {
                    rng.random_range(0..5)
                } else {
                    rng.random_range(0..GAPS.len())
                },
                amount: rng.random_range(1..60),
                category: rng.random_range(0..CATEGORIES.len()),
                extra: rng.random_bool(0.2),
            },
        })
        .collect()
}

fn customer_of(e: &Value) -> &str {
    e["customer_id"].as_str().unwrap_or_default()
}

/// Each event `copies` times, shuffled, except that each customer's events are first delivered
/// in stream order (a duplicate may come any time after the first delivery).
fn deliveries(events: &[Value], copies: usize, rng: &mut StdRng) -> Vec<Value> {
    let mut by_customer: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        by_customer.entry(customer_of(e)).or_default().push(i);
    }
    let mut slots: Vec<&str> = Vec::with_capacity(events.len() * copies);
    let mut queues: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (&c, indices) in &by_customer {
        slots.extend(std::iter::repeat_n(c, indices.len() * copies));
        let mut labels: Vec<usize> = (0..indices.len())
            .flat_map(|i| std::iter::repeat_n(i, copies))
            .collect();
        labels.shuffle(rng);
        // Renaming labels in order of first appearance keeps the multiset and orders the
        // first deliveries.
        let mut rename: HashMap<usize, usize> = HashMap::new();
        let queue = labels
            .into_iter()
            .map(|l| {
                let next = rename.len();
                indices[*rename.entry(l).or_insert(next)]
            })
            .collect();
        queues.insert(c, queue);
    }
    slots.shuffle(rng);
    slots
        .into_iter()
        .map(|c| {
            let i = queues
                .get_mut(c)
                .and_then(VecDeque::pop_front)
                .expect("one per slot");
            events[i].clone()
        })
        .collect()
}

/// Splits `events` into batches of `min..=max` events.
fn batches(events: &[Value], min: usize, max: usize, rng: &mut StdRng) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut rest = events;
    while !rest.is_empty() {
        let n = rng.random_range(min..=max).min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

/// The stream split into `parts` by customer, each part keeping its events' order.
fn partition(events: &[Value], parts: usize) -> Vec<Vec<Value>> {
    let mut out = vec![Vec::new(); parts];
    for e in events {
        let c: usize = customer_of(e)
            .trim_start_matches('c')
            .parse()
            .unwrap_or_default();
        out[c % parts].push(e.clone());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// What the database holds
// ---------------------------------------------------------------------------------------------

type Row = (String, String, i32, i32, String, String);
type States = Vec<(String, String, CampaignState)>;

fn sorted_states(mut states: States) -> States {
    states.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    states
}

async fn db_ledger(store: &Store) -> Vec<Row> {
    ledger_of(&store.rewards().await.expect("rewards"))
}

async fn db_states(store: &Store) -> States {
    sorted_states(store.states().await.expect("states"))
}

fn mem_states(m: &MemoryProcessor) -> States {
    sorted_states(
        m.states()
            .map(|(c, k, s)| (c.to_owned(), k.to_owned(), s.clone()))
            .collect(),
    )
}

/// Budget taken per campaign.
async fn db_budgets(store: &Store) -> BTreeMap<String, i64> {
    entities::budget::Entity::find()
        .all(store.connection())
        .await
        .expect("budgets")
        .into_iter()
        .map(|b| (b.campaign, b.taken))
        .collect()
}

fn mem_budgets(m: &MemoryProcessor) -> BTreeMap<String, i64> {
    m.campaigns()
        .iter()
        .map(|c| {
            let key = c.spec().key.clone();
            let taken = i64::try_from(m.budget_taken(&key)).expect("small");
            (key, taken)
        })
        .collect()
}

/// Asserts two lists equal, naming the first difference rather than printing both whole.
#[track_caller]
fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], label: &str) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{label}: {} entries, {} expected; first difference at {at}:\n got: {:?}\nwant: {:?}",
        got.len(),
        want.len(),
        got.get(at),
        want.get(at)
    );
}

/// Sorted, for runs whose order across customers is free.
fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

/// No partial batch is visible: the rewards the inbox says its events issued are exactly the
/// ledger, and every ledger row has its outbox row. Returns the processed event ids.
async fn check_all_or_nothing(store: &Store, label: &str) -> BTreeSet<String> {
    let inbox = entities::inbox::Entity::find()
        .all(store.connection())
        .await
        .expect("inbox");
    let mut promised = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for row in inbox {
        let result: EventResult = serde_json::from_str(&row.result).expect("a stored result");
        assert_eq!(
            result.status,
            Status::Processed,
            "{label}: {}",
            row.event_id
        );
        assert_eq!(result.event_id, row.event_id, "{label}");
        for r in &result.rewards {
            let identity = (
                r.campaign.clone(),
                r.customer_id.clone(),
                i32::try_from(r.cycle).expect("small"),
                i32::try_from(r.reward_index).expect("small"),
                r.event_id.clone(),
            );
            assert!(
                promised.insert(identity),
                "{label}: a reward promised twice"
            );
        }
        ids.insert(row.event_id);
    }
    let ledger = store.rewards().await.expect("rewards");
    let issued: BTreeSet<_> = ledger
        .iter()
        .map(|r| {
            (
                r.reward.campaign.clone(),
                r.reward.customer_id.clone(),
                i32::try_from(r.reward.cycle).unwrap(),
                i32::try_from(r.reward.reward_index).unwrap(),
                r.reward.event_id.clone(),
            )
        })
        .collect();
    assert_eq!(issued.len(), ledger.len(), "{label}: a reward issued twice");
    assert_eq!(
        issued, promised,
        "{label}: the ledger and the inbox disagree"
    );
    let outbox: Vec<_> = entities::outbox::Entity::find()
        .all(store.connection())
        .await
        .expect("outbox")
        .into_iter()
        .map(|o| (o.campaign, o.customer_id, o.cycle, o.reward_index))
        .collect();
    let announced: BTreeSet<_> = outbox.iter().cloned().collect();
    let identities: BTreeSet<_> = ledger
        .iter()
        .map(|r| {
            (
                r.reward.campaign.clone(),
                r.reward.customer_id.clone(),
                i32::try_from(r.reward.cycle).unwrap(),
                i32::try_from(r.reward.reward_index).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        announced.len(),
        outbox.len(),
        "{label}: a reward announced twice"
    );
    assert_eq!(announced, identities, "{label}: one outbox row per reward");
    ids
}

/// Processes `batches` one after the other.
async fn ingest(store: &Store, batches: &[Vec<Value>]) -> Vec<EventResult> {
    let mut results = Vec::new();
    for b in batches {
        results.extend(store.process_batch(b).await.expect("batch"));
    }
    results
}

// ---------------------------------------------------------------------------------------------
// 1. Random streams: the database equals the in-memory processor
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 2. A storm of duplicates
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 3. Concurrent tasks
// ---------------------------------------------------------------------------------------------

/// A stream for concurrent runs: fresh events, each delivered twice (each customer's first
/// deliveries in order), and the serial run's ledger and states.
fn concurrent_stream(seed: u64, events: usize, customers: usize) -> (Vec<Value>, Vec<Row>, States) {
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
async fn concurrent_tasks_equal_a_serial_run() {
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
async fn stores_taking_turns_equal_a_serial_run() {
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

// ---------------------------------------------------------------------------------------------
// 4. Two processes on one PostgreSQL database
// ---------------------------------------------------------------------------------------------

const CHILD_URL: &str = "OFFERFLOW_EO_CHILD_URL";
const CHILD_SCHEMA: &str = "OFFERFLOW_EO_CHILD_SCHEMA";
const CHILD_PART: &str = "OFFERFLOW_EO_CHILD_PART";
const CHILD_START_MS: &str = "OFFERFLOW_EO_CHILD_START_MS";
const PROCESS_SEED: u64 = 0x2_0C35;
const PROCESS_EVENTS: usize = 4_000;
const PROCESS_CUSTOMERS: usize = 100;

fn epoch_ms() -> u64 {
    let since = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970");
    u64::try_from(since.as_millis()).expect("small")
}

/// This test binary again, running only the test `name`, with `env` set.
fn child(name: &str, env: &[(&str, String)]) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("current exe"));
    command.args(["--exact", name, "--nocapture", "--test-threads=1"]);
    for (k, v) in env {
        command.env(k, v);
    }
    command
}

/// A child process of `two_processes_on_postgres`: ingests its half of the stream, starting
/// at the agreed instant, and prints when it worked.
#[test]
fn child_ingest() {
    let Ok(url) = std::env::var(CHILD_URL) else {
        return;
    };
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
async fn two_processes_on_postgres() {
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
                "child_ingest",
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

// ---------------------------------------------------------------------------------------------
// 5. The budget race
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// 6. A crash mid-stream
// ---------------------------------------------------------------------------------------------

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
fn child_crash_ingest() {
    let Ok(url) = std::env::var(CRASH_URL) else {
        return;
    };
    let schema = std::env::var(CRASH_SCHEMA).ok();
    let split = crash_batches();
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async {
        let store = open(&url, schema.as_deref()).await;
        ingest(&store, &split).await;
    });
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
        let mut env = vec![(CRASH_URL, db.url.clone())];
        if let Some(schema) = &db.schema {
            env.push((CRASH_SCHEMA, schema.clone()));
        }
        let mut done = 0;
        let mut prefixes = Vec::new();
        for crash in 0..CRASHES {
            let label = format!("{}, crash {crash}", db.name);
            let mut process = child("child_crash_ingest", &env)
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
