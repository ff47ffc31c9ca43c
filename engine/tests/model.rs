//! Model-based tests of the in-memory processor.
//!
//! `engine_matches_reference_model` checks [`MemoryProcessor`] against a reference model
//! written here from the definitions of DESIGN §4: the model keeps every qualifying event of a
//! customer's current cycle and recomputes counts, sums, distinct sets, streaks and windows
//! from that history on every event, instead of updating compact state the way the engine
//! does. `event_type_index_never_changes_a_result` checks that the event-type index is only an
//! optimisation.
//!
//! Streams are in `occurred_at` order (the engine's window semantics for late events is a
//! documented simplification, which this model does not describe).

use campaigns::CompiledCampaign;
use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use engine::{MemoryProcessor, Outcome, Status};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap};
use vocabulary::*;

#[path = "support/vocabulary.rs"]
mod vocabulary;

// ---------------------------------------------------------------------------------------------
// Campaigns
// ---------------------------------------------------------------------------------------------

/// The campaigns the model describes, in processing order: the six of the brief, then two
/// that repeat with a target above 1, where "the next cycle starts empty, without the
/// completing event" can be seen.
const MODELLED: [&str; 8] = [
    r#"
key: orders-3-in-1d
name: Three orders in a day
goal: {kind: count, when: 'event.type == "order"', target: 3, within: 1d}
rewards: [{kind: points, amount: 30}]
"#,
    r#"
key: each-order-twice
name: Every order, twice per customer, three in all
goal: {kind: count, when: 'event.type == "order"', target: 1}
rewards: [{kind: points, amount: 5}, {kind: coupon, amount: 1, code: NEXT}]
limits: {per_customer: 2, max_rewards: 3}
"#,
    r#"
key: spend-100-in-2d
name: Spend 100 in two days
goal: {kind: sum, when: 'event.type == "order"', value: 'event.amount', target: 100, within: 2d}
rewards: [{kind: points, amount: 100}]
"#,
    r#"
key: three-categories
name: View three categories
goal: {kind: distinct, when: 'event.type == "view"', value: 'event.category', target: 3}
rewards: [{kind: discount, amount: 15}]
"#,
    r#"
key: open-streak
name: Open the app three days in a row
schedule: {timezone: America/New_York}
goal: {kind: streak, when: 'event.type == "open"', period: day, target: 3}
rewards: [{kind: badge, amount: 1}]
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
"#,
    r#"
key: view-pairs
name: Two views in a day, three times
goal: {kind: count, when: 'event.type == "view"', target: 2, within: 1d}
rewards: [{kind: points, amount: 2}]
limits: {per_customer: 3}
"#,
    r#"
key: open-two-days
name: Open the app two days in a row, twice
schedule: {timezone: America/New_York}
goal: {kind: streak, when: 'event.type == "open"', period: day, target: 2}
rewards: [{kind: points, amount: 4}]
limits: {per_customer: 2}
"#,
];

/// More campaigns for the index property: conditions that do not pin the type, that pin it
/// with `in` or `||`, and that pin it after a term that fails on events without the key.
const INDEX_ONLY: [&str; 4] = [
    r#"
key: big-anything
name: Two big events of any type
goal: {kind: count, when: 'has(event.amount) && event.amount > 50', target: 2}
rewards: [{kind: points, amount: 7}]
limits: {per_customer: 3}
"#,
    r#"
key: c1-orders-or-views
name: Two orders or views of c1 in three days
goal:
  kind: count
  when: 'event.type in ["order", "view"] && has(event.category) && event.category == "c1"'
  target: 2
  within: 3d
rewards: [{kind: points, amount: 3}]
limits: {per_customer: 2, max_rewards: 2}
"#,
    r#"
key: weekly-open-or-other
name: Open or other two weeks in a row
schedule: {timezone: Europe/Paris}
goal: {kind: streak, when: 'event.type == "open" || event.type == "other"', period: week, target: 2}
rewards: [{kind: badge, amount: 1}]
"#,
    r#"
key: big-orders-sum
name: Big orders adding up to 90
goal: {kind: sum, when: 'event.amount > 30 && event.type == "order"', value: 'event.amount', target: 90}
rewards: [{kind: points, amount: 9}]
limits: {per_customer: 2}
"#,
];

fn compile(texts: &[&str]) -> Vec<CompiledCampaign> {
    texts
        .iter()
        .map(|t| {
            let spec = campaigns::parse(t).unwrap_or_else(|e| panic!("{t}: {e:?}"));
            CompiledCampaign::compile(spec).unwrap_or_else(|e| panic!("{t}: {e:?}"))
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Events
// ---------------------------------------------------------------------------------------------

/// Starting points: December, and just before New York's 2026 DST changes (Mar 8, Nov 1).
const BASES: [&str; 3] = [
    "2026-12-01T00:00:00Z",
    "2026-03-07T00:00:00Z",
    "2026-10-31T00:00:00Z",
];

/// One event, as the model sees it; times in seconds since the epoch.
#[derive(Clone)]
struct Ev {
    id: String,
    customer: String,
    kind: &'static str,
    at: i64,
    amount: Option<i64>,
    category: Option<&'static str>,
}

impl std::fmt::Debug for Ev {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {} {} {}",
            self.id,
            self.customer,
            self.kind,
            time(self.at)
        )?;
        if let Some(a) = self.amount {
            write!(f, " amount={a}")?;
        }
        if let Some(c) = self.category {
            write!(f, " category={c}")?;
        }
        Ok(())
    }
}

impl Ev {
    fn json(&self) -> Value {
        event_json(
            &self.id,
            &self.customer,
            self.kind,
            self.at,
            self.amount,
            self.category,
        )
    }
}

/// The raw choices for one event.
#[derive(Debug, Clone)]
struct Draw {
    customer: usize,
    kind: usize,
    gap: usize,
    amount: i64,
    category: usize,
    extra_amount: bool,
    extra_category: bool,
}

/// `short` in 10 gaps are under an hour (the sequence's window), the others longer.
fn draw(short: u32) -> impl Strategy<Value = Draw> {
    (
        0..4usize,
        0..TYPES.len(),
        prop_oneof![short => 0..5usize, 10 - short => 5..GAPS.len()],
        1..60i64,
        0..CATEGORIES.len(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(
            |(customer, kind, gap, amount, category, extra_amount, extra_category)| Draw {
                customer,
                kind,
                gap,
                amount,
                category,
                extra_amount,
                extra_category,
            },
        )
}

/// 1..120 events over 1..4 customers, in time order: orders always carry an amount and views a
/// category; any event may carry the other one too. Half the streams are bursty (most gaps
/// under an hour), so that sequences complete often enough to be tested.
fn stream() -> impl Strategy<Value = Vec<Ev>> {
    (
        1..=4usize,
        0..BASES.len(),
        0..48i64,
        prop_oneof![Just(5u32), Just(9u32)]
            .prop_flat_map(|short| prop::collection::vec(draw(short), 1..=120)),
    )
        .prop_map(|(customers, base, half_hours, draws)| {
            let mut at = parse_time(BASES[base]) + half_hours * 30 * 60;
            draws
                .into_iter()
                .enumerate()
                .map(|(i, d)| {
                    at += GAPS[d.gap];
                    let kind = TYPES[d.kind];
                    Ev {
                        id: format!("e{i}"),
                        customer: format!("c{}", d.customer % customers),
                        kind,
                        at,
                        amount: (kind == "order" || d.extra_amount).then_some(d.amount),
                        category: (kind == "view" || d.extra_category)
                            .then_some(CATEGORIES[d.category]),
                    }
                })
                .collect()
        })
}

// ---------------------------------------------------------------------------------------------
// The reference model
// ---------------------------------------------------------------------------------------------

type Pred = fn(&Ev) -> bool;

enum Mechanic {
    Count { when: Pred, target: usize },
    Sum { when: Pred, target: i64 },
    Distinct { when: Pred, target: usize },
    DailyStreak { when: Pred, tz: Tz, target: usize },
    Sequence { steps: Vec<Pred> },
}

struct ModelCampaign {
    key: &'static str,
    mechanic: Mechanic,
    /// Seconds.
    within: Option<i64>,
    per_customer: u32,
    max_rewards: Option<u64>,
    /// Each reward's amount, by reward index.
    rewards: Vec<f64>,
}

/// The model of [`MODELLED`], written out by hand.
fn model_campaigns() -> Vec<ModelCampaign> {
    fn campaign(key: &'static str, mechanic: Mechanic, within: Option<i64>) -> ModelCampaign {
        ModelCampaign {
            key,
            mechanic,
            within,
            per_customer: 1,
            max_rewards: None,
            rewards: Vec::new(),
        }
    }
    let order: Pred = |e| e.kind == "order";
    let view: Pred = |e| e.kind == "view";
    let open: Pred = |e| e.kind == "open";
    vec![
        ModelCampaign {
            rewards: vec![30.0],
            ..campaign(
                "orders-3-in-1d",
                Mechanic::Count {
                    when: order,
                    target: 3,
                },
                Some(DAY),
            )
        },
        ModelCampaign {
            per_customer: 2,
            max_rewards: Some(3),
            rewards: vec![5.0, 1.0],
            ..campaign(
                "each-order-twice",
                Mechanic::Count {
                    when: order,
                    target: 1,
                },
                None,
            )
        },
        ModelCampaign {
            rewards: vec![100.0],
            ..campaign(
                "spend-100-in-2d",
                Mechanic::Sum {
                    when: order,
                    target: 100,
                },
                Some(2 * DAY),
            )
        },
        ModelCampaign {
            rewards: vec![15.0],
            ..campaign(
                "three-categories",
                Mechanic::Distinct {
                    when: view,
                    target: 3,
                },
                None,
            )
        },
        ModelCampaign {
            rewards: vec![1.0],
            ..campaign(
                "open-streak",
                Mechanic::DailyStreak {
                    when: open,
                    tz: chrono_tz::America::New_York,
                    target: 3,
                },
                None,
            )
        },
        ModelCampaign {
            rewards: vec![10.0],
            ..campaign(
                "browse-then-buy",
                Mechanic::Sequence {
                    steps: vec![open, view, order],
                },
                Some(HOUR),
            )
        },
        ModelCampaign {
            per_customer: 3,
            rewards: vec![2.0],
            ..campaign(
                "view-pairs",
                Mechanic::Count {
                    when: view,
                    target: 2,
                },
                Some(DAY),
            )
        },
        ModelCampaign {
            per_customer: 2,
            rewards: vec![4.0],
            ..campaign(
                "open-two-days",
                Mechanic::DailyStreak {
                    when: open,
                    tz: chrono_tz::America::New_York,
                    target: 2,
                },
                None,
            )
        },
    ]
}

/// One customer's history in one campaign.
struct Track {
    cycle: u32,
    finished: bool,
    /// Every event that counted in the current cycle (for a sequence: the current attempt's
    /// matched steps, in order).
    history: Vec<Ev>,
}

/// (campaign, customer_id, event_id, cycle, reward_index, amount)
type Row = (String, String, String, u32, u32, f64);

struct Model {
    campaigns: Vec<ModelCampaign>,
    tracks: HashMap<(String, usize), Track>,
    completions: Vec<u64>,
    ledger: Vec<Row>,
}

fn local_day(at: i64, tz: Tz) -> NaiveDate {
    DateTime::<Utc>::from_timestamp(at, 0)
        .expect("in range")
        .with_timezone(&tz)
        .date_naive()
}

impl Model {
    fn new(campaigns: Vec<ModelCampaign>) -> Self {
        Model {
            completions: vec![0; campaigns.len()],
            campaigns,
            tracks: HashMap::new(),
            ledger: Vec::new(),
        }
    }

    fn process(&mut self, ev: &Ev) {
        for (i, c) in self.campaigns.iter().enumerate() {
            if c.max_rewards.is_some_and(|m| self.completions[i] >= m) {
                continue; // the budget is spent: the campaign applies to nothing more
            }
            let track = self
                .tracks
                .entry((ev.customer.clone(), i))
                .or_insert(Track {
                    cycle: 1,
                    finished: false,
                    history: Vec::new(),
                });
            if track.finished {
                continue;
            }
            let t = ev.at;
            // (t - within, t]
            let in_window = |e: &Ev| c.within.is_none_or(|w| t - w < e.at && e.at <= t);
            let done = match &c.mechanic {
                Mechanic::Count { when, target } => {
                    if !when(ev) {
                        continue;
                    }
                    track.history.push(ev.clone());
                    track.history.iter().filter(|e| in_window(e)).count() >= *target
                }
                Mechanic::Sum { when, target } => {
                    if !when(ev) || ev.amount.is_none() {
                        continue;
                    }
                    track.history.push(ev.clone());
                    let sum: i64 = track
                        .history
                        .iter()
                        .filter(|e| in_window(e))
                        .filter_map(|e| e.amount)
                        .sum();
                    sum >= *target
                }
                Mechanic::Distinct { when, target } => {
                    if !when(ev) || ev.category.is_none() {
                        continue;
                    }
                    track.history.push(ev.clone());
                    let values: BTreeSet<&str> = track
                        .history
                        .iter()
                        .filter(|e| in_window(e))
                        .filter_map(|e| e.category)
                        .collect();
                    values.len() >= *target
                }
                Mechanic::DailyStreak { when, tz, target } => {
                    if !when(ev) {
                        continue;
                    }
                    track.history.push(ev.clone());
                    // The run of consecutive local days with an open, ending today.
                    let days: BTreeSet<NaiveDate> =
                        track.history.iter().map(|e| local_day(e.at, *tz)).collect();
                    let mut day = local_day(t, *tz);
                    let mut streak = 0;
                    while days.contains(&day) {
                        streak += 1;
                        day = day.pred_opt().expect("in range");
                    }
                    streak >= *target
                }
                Mechanic::Sequence { steps } => {
                    if track.history.first().is_some_and(|first| !in_window(first)) {
                        track.history.clear(); // expired: start again, try this as step 1
                    }
                    if !steps[track.history.len()](ev) {
                        continue;
                    }
                    track.history.push(ev.clone());
                    track.history.len() == steps.len()
                }
            };
            if !done {
                continue;
            }
            self.completions[i] += 1;
            for (index, amount) in c.rewards.iter().enumerate() {
                self.ledger.push((
                    c.key.to_owned(),
                    ev.customer.clone(),
                    ev.id.clone(),
                    track.cycle,
                    u32::try_from(index).expect("few rewards"),
                    *amount,
                ));
            }
            if track.cycle < c.per_customer {
                track.cycle += 1;
                track.history.clear(); // the next cycle starts empty, without this event
            } else {
                track.finished = true;
            }
        }
    }
}

fn engine_rows(processor: &MemoryProcessor) -> Vec<Row> {
    processor
        .ledger()
        .iter()
        .map(|r| {
            (
                r.campaign.clone(),
                r.customer_id.clone(),
                r.event_id.clone(),
                r.cycle,
                r.reward_index,
                r.amount.get(),
            )
        })
        .collect()
}

/// The ledger of the model and of the engine for `events`.
fn run_both(events: &[Ev]) -> (Vec<Row>, Vec<Row>) {
    let mut model = Model::new(model_campaigns());
    let mut processor = MemoryProcessor::new(compile(&MODELLED));
    for ev in events {
        model.process(ev);
        let result = processor.process_json(&ev.json());
        assert_eq!(result.status, Status::Processed, "{ev:?}: {result:?}");
    }
    (model.ledger, engine_rows(&processor))
}

/// Events of one customer `c`, from (type, time, amount, category).
fn events(list: &[(&'static str, &str, Option<i64>, Option<&'static str>)]) -> Vec<Ev> {
    list.iter()
        .enumerate()
        .map(|(i, &(kind, at, amount, category))| Ev {
            id: format!("e{}", i + 1),
            customer: "c".into(),
            kind,
            at: parse_time(at),
            amount,
            category,
        })
        .collect()
}

fn row(campaign: &str, customer: &str, event: &str, cycle: u32, index: u32, amount: f64) -> Row {
    (
        campaign.into(),
        customer.into(),
        event.into(),
        cycle,
        index,
        amount,
    )
}

/// The model (and the engine) on the worked examples of DESIGN §4, so the model is checked
/// against the contract and not only against the engine.
#[test]
fn model_follows_the_worked_examples() {
    let order = |at| ("order", at, Some(10), None);
    let open = |at| ("open", at, None, None);
    let view = |at| ("view", at, None, Some("c0"));
    let check = |evs: Vec<Ev>, campaign: &str, expected: Vec<Row>| {
        let (model, engine) = run_both(&evs);
        let model: Vec<Row> = model.into_iter().filter(|r| r.0 == campaign).collect();
        assert_eq!(model, expected, "model, {campaign}");
        let engine: Vec<Row> = engine.into_iter().filter(|r| r.0 == campaign).collect();
        assert_eq!(engine, expected, "engine, {campaign}");
    };
    check(
        events(&[
            order("2026-12-01T10:00:00Z"),
            order("2026-12-01T12:00:00Z"),
            order("2026-12-03T10:00:00Z"),
            order("2026-12-03T11:00:00Z"),
            order("2026-12-03T12:00:00Z"),
        ]),
        "orders-3-in-1d",
        vec![row("orders-3-in-1d", "c", "e5", 1, 0, 30.0)],
    );
    check(
        events(&[
            order("2026-12-01T10:00:00Z"),
            order("2026-12-01T12:00:00Z"),
            order("2026-12-02T10:00:00Z"),
        ]),
        "orders-3-in-1d",
        vec![],
    );
    check(
        events(&[
            open("2026-12-02T04:30:00Z"),
            open("2026-12-02T15:00:00Z"),
            open("2026-12-02T20:00:00Z"),
            open("2026-12-04T01:00:00Z"),
        ]),
        "open-streak",
        vec![row("open-streak", "c", "e4", 1, 0, 1.0)],
    );
    check(
        events(&[
            open("2026-12-01T10:00:00Z"),
            view("2026-12-01T12:00:00Z"),
            open("2026-12-01T12:10:00Z"),
            view("2026-12-01T12:20:00Z"),
            order("2026-12-01T12:30:00Z"),
        ]),
        "browse-then-buy",
        vec![row("browse-then-buy", "c", "e5", 1, 0, 10.0)],
    );
    let mut by_customer = events(&[
        order("2026-12-01T10:00:00Z"),
        order("2026-12-01T10:01:00Z"),
        order("2026-12-01T10:02:00Z"),
        order("2026-12-01T10:03:00Z"),
        order("2026-12-01T10:04:00Z"),
    ]);
    for (ev, customer) in by_customer.iter_mut().zip(["a", "a", "a", "b", "c"]) {
        ev.customer = customer.into();
    }
    let key = "each-order-twice";
    check(
        by_customer,
        key,
        vec![
            row(key, "a", "e1", 1, 0, 5.0),
            row(key, "a", "e1", 1, 1, 1.0),
            row(key, "a", "e2", 2, 0, 5.0),
            row(key, "a", "e2", 2, 1, 1.0),
            row(key, "b", "e4", 1, 0, 5.0),
            row(key, "b", "e4", 1, 1, 1.0),
        ],
    );
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn engine_matches_reference_model(events in stream()) {
        let (model, engine) = run_both(&events);
        prop_assert_eq!(engine, model);
    }

    #[test]
    fn event_type_index_never_changes_a_result(events in stream()) {
        let campaigns: Vec<&str> = MODELLED.iter().chain(&INDEX_ONLY).copied().collect();
        let cs = compile(&campaigns);
        let pinned: Vec<Option<BTreeSet<String>>> =
            cs.iter().map(|c| c.event_types().cloned()).collect();
        let keys_in_order: Vec<String> = cs.iter().map(|c| c.spec().key.clone()).collect();
        let mut indexed = MemoryProcessor::new(cs.clone());
        let mut full = MemoryProcessor::new(cs).without_index();
        for ev in &events {
            let json = ev.json();
            let a = indexed.process_json(&json);
            let b = full.process_json(&json);
            prop_assert_eq!(a.status, Status::Processed, "{:?}", ev);
            prop_assert_eq!(a.status, b.status, "{:?}", ev);
            prop_assert_eq!(&a.rewards, &b.rewards, "{:?}", ev);
            // The full evaluation lists every campaign, in order. The indexed one lists the
            // same outcomes, except for campaigns the index skipped, which it leaves out.
            let keys: Vec<String> = b.outcomes.iter().map(|y| y.campaign.to_string()).collect();
            prop_assert_eq!(&keys, &keys_in_order);
            let mut listed = a.outcomes.iter().peekable();
            for (y, types) in b.outcomes.iter().zip(&pinned) {
                let x = listed.next_if(|x| x.campaign == y.campaign);
                if x == Some(y) {
                    continue;
                }
                // The only allowed difference: the index skipped a campaign whose conditions
                // rule out this type, and the full evaluation found it not applicable without
                // anything failing (`ConditionFalse`, or a reason checked before the condition:
                // `CustomerFinished`, `BudgetExhausted`...).
                let skipped = x.is_none();
                let excluded = types.as_ref().is_some_and(|t| !t.contains(ev.kind));
                let not_applicable = matches!(y.outcome, Outcome::NotApplicable { .. });
                prop_assert!(
                    skipped && excluded && not_applicable && y.errors.is_empty(),
                    "{:?}: indexed {:?}, full {:?}", ev, x, y
                );
            }
            prop_assert!(listed.next().is_none(), "{:?}: indexed {:?}", ev, a.outcomes);
        }
        prop_assert_eq!(indexed.ledger(), full.ledger());
        let states = |p: &MemoryProcessor| {
            let mut s: Vec<(String, String, engine::CampaignState)> = p
                .states()
                .map(|(c, k, s)| (c.to_owned(), k.to_owned(), s.clone()))
                .collect();
            s.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
            s
        };
        prop_assert_eq!(states(&indexed), states(&full));
        prop_assert_eq!(indexed.error_counts(), full.error_counts());
        for key in &keys_in_order {
            prop_assert_eq!(indexed.budget_taken(key), full.budget_taken(key), "{}", key);
        }
    }
}

/// The index reads the types the extra campaigns expect off their conditions.
#[test]
fn index_campaigns_pin_the_expected_types() {
    let cs = compile(&INDEX_ONLY);
    let types: Vec<Option<Vec<&str>>> = cs
        .iter()
        .map(|c| {
            c.event_types()
                .map(|t| t.iter().map(String::as_str).collect())
        })
        .collect();
    assert_eq!(
        types,
        vec![
            None,
            Some(vec!["order", "view"]),
            Some(vec!["open", "other"]),
            Some(vec!["order"]),
        ]
    );
}
