//! Table tests for every mechanic of DESIGN §4 and its boundaries, through the in-memory
//! processor (which runs the pure core).

use campaigns::{CompiledCampaign, Customer};
use engine::{MemoryProcessor, Outcome, Reason, Status};
use serde_json::{Value, json};

fn campaign(yaml: &str) -> CompiledCampaign {
    CompiledCampaign::compile(campaigns::parse(yaml).unwrap()).unwrap()
}

fn processor(yamls: &[&str]) -> MemoryProcessor {
    MemoryProcessor::new(yamls.iter().map(|y| campaign(y)).collect())
}

fn event(id: &str, customer: &str, kind: &str, at: &str, attributes: Value) -> Value {
    json!({"id": id, "customer_id": customer, "type": kind, "occurred_at": at, "attributes": attributes})
}

/// Runs `(customer, type, time, attributes)` events with ids e1, e2, ... and returns the
/// (customer, event id, cycle) of every reward, in issue order.
fn run(
    p: &mut MemoryProcessor,
    events: &[(&str, &str, &str, Value)],
) -> Vec<(String, String, u32)> {
    for (i, (customer, kind, at, attributes)) in events.iter().enumerate() {
        let r = p.process_json(&event(
            &format!("e{}", i + 1),
            customer,
            kind,
            at,
            attributes.clone(),
        ));
        assert_eq!(r.status, Status::Processed, "{r:?}");
    }
    p.ledger()
        .iter()
        .map(|r| (r.customer_id.clone(), r.event_id.clone(), r.cycle))
        .collect()
}

fn rewards(list: &[(&str, &str, u32)]) -> Vec<(String, String, u32)> {
    list.iter()
        .map(|(c, e, n)| (c.to_string(), e.to_string(), *n))
        .collect()
}

const COUNT_1D: &str = "key: orders\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 3, within: 1d}\nrewards: [{kind: points, amount: 500}]\n";

#[test]
fn count_within_a_day_counts_only_the_window() {
    // DESIGN §4: the third only has itself in its window; the fifth completes.
    let mut p = processor(&[COUNT_1D]);
    let got = run(
        &mut p,
        &[
            ("c", "order", "2026-12-01T10:00:00Z", json!({})),
            ("c", "order", "2026-12-01T12:00:00Z", json!({})),
            ("c", "order", "2026-12-03T10:00:00Z", json!({})),
            ("c", "order", "2026-12-03T11:00:00Z", json!({})),
            ("c", "order", "2026-12-03T12:00:00Z", json!({})),
        ],
    );
    assert_eq!(got, rewards(&[("c", "e5", 1)]));
}

#[test]
fn an_event_exactly_within_old_is_out() {
    let mut p = processor(&[COUNT_1D]);
    let got = run(
        &mut p,
        &[
            ("c", "order", "2026-12-01T10:00:00Z", json!({})),
            ("c", "order", "2026-12-01T12:00:00Z", json!({})),
            ("c", "order", "2026-12-02T10:00:00Z", json!({})),
        ],
    );
    assert!(got.is_empty());
    // One microsecond less than a day old is still in.
    let mut p = processor(&[COUNT_1D]);
    let got = run(
        &mut p,
        &[
            ("c", "order", "2026-12-01T10:00:00.000001Z", json!({})),
            ("c", "order", "2026-12-01T12:00:00Z", json!({})),
            ("c", "order", "2026-12-02T10:00:00Z", json!({})),
        ],
    );
    assert_eq!(got, rewards(&[("c", "e3", 1)]));
}

#[test]
fn day_streak_in_new_york_and_across_a_dst_change() {
    let streak = "key: streak\nname: n\nschedule: {timezone: America/New_York}\ngoal: {kind: streak, period: day, when: 'event.type == \"open\"', target: 3}\nrewards: [{kind: badge, amount: 1}]\n";
    // DESIGN §4's example.
    let mut p = processor(&[streak]);
    let got = run(
        &mut p,
        &[
            ("c", "open", "2026-12-02T04:30:00Z", json!({})), // Dec 1 local
            ("c", "open", "2026-12-02T15:00:00Z", json!({})), // Dec 2
            ("c", "open", "2026-12-02T20:00:00Z", json!({})), // Dec 2 again: nothing
            ("c", "open", "2027-12-04T01:00:00Z", json!({})), // far later: resets
        ],
    );
    assert!(got.is_empty(), "a gap resets the streak");
    let mut p = processor(&[streak]);
    let got = run(
        &mut p,
        &[
            ("c", "open", "2026-12-02T04:30:00Z", json!({})),
            ("c", "open", "2026-12-02T15:00:00Z", json!({})),
            ("c", "open", "2026-12-02T20:00:00Z", json!({})),
            ("c", "open", "2026-12-04T01:00:00Z", json!({})), // Dec 3 local
        ],
    );
    assert_eq!(got, rewards(&[("c", "e4", 1)]));
    assert_eq!(p.state("c", "streak").map(|s| s.finished), Some(true));

    // Clocks go forward on 2027-03-14 in New York. Late-evening opens on Mar 13, 14 and 15
    // local are three days in a row (in UTC the last two would be the same day).
    let mut p = processor(&[streak]);
    let got = run(
        &mut p,
        &[
            ("c", "open", "2027-03-14T04:30:00Z", json!({})), // Mar 13 23:30 EST
            ("c", "open", "2027-03-15T03:30:00Z", json!({})), // Mar 14 23:30 EDT
            ("c", "open", "2027-03-15T04:30:00Z", json!({})), // Mar 15 00:30 EDT
        ],
    );
    assert_eq!(got, rewards(&[("c", "e3", 1)]));
}

#[test]
fn week_streak_across_an_iso_week_boundary_in_shanghai() {
    let weekly = "key: weekly\nname: n\nschedule: {timezone: Asia/Shanghai}\ngoal: {kind: streak, period: week, when: 'event.type == \"order\"', target: 2}\nrewards: [{kind: points, amount: 1}]\n";
    // Sunday 2026-12-06 23:30 and Monday 2026-12-07 00:30 in Shanghai: two ISO weeks, though
    // both instants fall on Sunday in UTC.
    let mut p = processor(&[weekly]);
    let got = run(
        &mut p,
        &[
            ("c", "order", "2026-12-06T15:30:00Z", json!({})),
            ("c", "order", "2026-12-06T16:30:00Z", json!({})),
        ],
    );
    assert_eq!(got, rewards(&[("c", "e2", 1)]));
    // Monday to Sunday of the same ISO week is one week.
    let mut p = processor(&[weekly]);
    let got = run(
        &mut p,
        &[
            ("c", "order", "2026-11-30T02:00:00Z", json!({})), // Mon Nov 30 local
            ("c", "order", "2026-12-06T15:00:00Z", json!({})), // Sun Dec 6 23:00 local
        ],
    );
    assert!(got.is_empty());
}

#[test]
fn sequence_times_out_and_restarts_on_the_current_event() {
    let seq = "key: seq\nname: n\ngoal:\n  kind: sequence\n  within: 1h\n  steps:\n    - {name: open, when: 'event.type == \"open\"'}\n    - {name: view shoes, when: 'event.type == \"view\" && event.category == \"shoes\"'}\n    - {name: order, when: 'event.type == \"order\"'}\nrewards: [{kind: coupon, amount: 1}]\n";
    let shoes = || json!({"category": "shoes"});
    let mut p = processor(&[seq]);
    let got = run(
        &mut p,
        &[
            ("c", "open", "2026-12-01T10:00:00Z", json!({})),
            ("c", "view", "2026-12-01T12:00:00Z", shoes()), // expired, and a view is not step 1
            ("c", "open", "2026-12-01T12:10:00Z", json!({})),
            ("c", "view", "2026-12-01T12:20:00Z", shoes()),
            ("c", "order", "2026-12-01T12:30:00Z", json!({})),
        ],
    );
    assert_eq!(got, rewards(&[("c", "e5", 1)]));

    // An open that arrives after the window restarts the sequence on itself.
    let mut p = processor(&[seq]);
    let got = run(
        &mut p,
        &[
            ("c", "open", "2026-12-01T10:00:00Z", json!({})),
            ("c", "view", "2026-12-01T10:30:00Z", shoes()),
            ("c", "open", "2026-12-01T11:00:00Z", json!({})), // exactly 1h: expired, restarts here
            ("c", "view", "2026-12-01T11:10:00Z", shoes()),
            ("c", "order", "2026-12-01T11:20:00Z", json!({})),
        ],
    );
    assert_eq!(got, rewards(&[("c", "e5", 1)]));

    // Steps must come in order; an event advances at most one step.
    let mut p = processor(&[seq]);
    let got = run(
        &mut p,
        &[
            ("c", "view", "2026-12-01T10:00:00Z", shoes()),
            ("c", "order", "2026-12-01T10:01:00Z", json!({})),
            ("c", "open", "2026-12-01T10:02:00Z", json!({})),
            ("c", "order", "2026-12-01T10:03:00Z", json!({})),
        ],
    );
    assert!(got.is_empty());
    assert_eq!(
        p.state("c", "seq").map(|s| s.progress.clone()),
        Some(engine::Progress::Sequence {
            step: 1,
            started_at: Some(engine::micros("2026-12-01T10:02:00Z".parse().unwrap()))
        })
    );
}

#[test]
fn cycles_restart_empty_up_to_per_customer() {
    let cycles = "key: cycles\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 2}\nrewards: [{kind: points, amount: 10}, {kind: badge, amount: 1}]\nlimits: {per_customer: 3}\n";
    let mut p = processor(&[cycles]);
    let orders: Vec<_> = (0..8)
        .map(|i| {
            (
                "c",
                "order",
                [
                    "2026-12-01T10:00:00Z",
                    "2026-12-01T10:01:00Z",
                    "2026-12-01T10:02:00Z",
                    "2026-12-01T10:03:00Z",
                    "2026-12-01T10:04:00Z",
                    "2026-12-01T10:05:00Z",
                    "2026-12-01T10:06:00Z",
                    "2026-12-01T10:07:00Z",
                ][i],
                json!({}),
            )
        })
        .collect();
    let got = run(&mut p, &orders);
    // Two rewards per completion; the completing event does not count toward the next cycle.
    assert_eq!(
        got,
        rewards(&[
            ("c", "e2", 1),
            ("c", "e2", 1),
            ("c", "e4", 2),
            ("c", "e4", 2),
            ("c", "e6", 3),
            ("c", "e6", 3)
        ])
    );
    let indices: Vec<u32> = p.ledger().iter().map(|r| r.reward_index).collect();
    assert_eq!(indices, [0, 1, 0, 1, 0, 1]);
    let last = p.process_json(&event(
        "e9",
        "c",
        "order",
        "2026-12-01T11:00:00Z",
        json!({}),
    ));
    assert_eq!(
        last.outcomes[0].outcome,
        Outcome::NotApplicable {
            reason: Reason::CustomerFinished
        }
    );
}

#[test]
fn a_cap_reached_mid_stream() {
    // DESIGN §4: orders by a, a, a, b, c → (a,1), (a,2), (b,1).
    let capped = "key: capped\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 1}\nrewards: [{kind: points, amount: 1}]\nlimits: {per_customer: 2, max_rewards: 3}\n";
    let mut p = processor(&[capped]);
    let got = run(
        &mut p,
        &[
            ("a", "order", "2026-12-01T10:00:00Z", json!({})),
            ("a", "order", "2026-12-01T10:01:00Z", json!({})),
            ("a", "order", "2026-12-01T10:02:00Z", json!({})),
            ("b", "order", "2026-12-01T10:03:00Z", json!({})),
            ("c", "order", "2026-12-01T10:04:00Z", json!({})),
        ],
    );
    assert_eq!(
        got,
        rewards(&[("a", "e1", 1), ("a", "e2", 2), ("b", "e4", 1)])
    );
    assert_eq!(p.budget_taken("capped"), 3);
    // Once the cap is reached the campaign no longer moves anyone's progress.
    let slow = "key: slow\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 2}\nrewards: [{kind: points, amount: 1}]\nlimits: {max_rewards: 1}\n";
    let mut p = processor(&[slow]);
    run(
        &mut p,
        &[
            ("a", "order", "2026-12-01T10:00:00Z", json!({})),
            ("b", "order", "2026-12-01T10:01:00Z", json!({})),
            ("b", "order", "2026-12-01T10:02:00Z", json!({})),
        ],
    );
    let r = p.process_json(&event(
        "e4",
        "a",
        "order",
        "2026-12-01T10:03:00Z",
        json!({}),
    ));
    assert_eq!(
        r.outcomes[0].outcome,
        Outcome::NotApplicable {
            reason: Reason::BudgetExhausted
        }
    );
    assert_eq!(p.ledger().len(), 1);
}

#[test]
fn a_condition_erroring_on_a_missing_key_is_false_and_counted() {
    let amount = "key: big\nname: n\ngoal: {kind: count, when: 'event.type == \"order\" && event.amount > 10', target: 1}\nrewards: [{kind: points, amount: 1}]\n";
    let mut p = processor(&[amount]);
    let r = p.process_json(&event(
        "e1",
        "c",
        "order",
        "2026-12-01T10:00:00Z",
        json!({}),
    ));
    assert_eq!(
        r.outcomes[0].outcome,
        Outcome::NotApplicable {
            reason: Reason::ConditionFalse
        }
    );
    assert_eq!(r.outcomes[0].errors.len(), 1);
    assert_eq!(r.outcomes[0].errors[0].path, "goal.when");
    assert!(r.outcomes[0].errors[0].message.contains("amount"));
    assert_eq!(p.error_counts().get("big"), Some(&1));
    let r = p.process_json(&event(
        "e2",
        "c",
        "order",
        "2026-12-01T10:01:00Z",
        json!({"amount": 10.5}),
    ));
    assert!(matches!(
        r.outcomes[0].outcome,
        Outcome::Completed { cycle: 1 }
    ));
    assert_eq!(p.error_counts().get("big"), Some(&1));
}

#[test]
fn sum_with_a_window_and_amount_from_the_progress_after_the_event() {
    let spend = "key: spend\nname: n\ngoal: {kind: sum, when: 'event.type == \"order\"', value: 'event.amount', target: 100, within: 2d}\nrewards: [{kind: points, amount_expr: 'int(progress.sum) / 10'}]\n";
    let mut p = processor(&[spend]);
    let got = run(
        &mut p,
        &[
            ("c", "order", "2026-12-01T10:00:00Z", json!({"amount": 60})),
            (
                "c",
                "order",
                "2026-12-03T10:00:00Z",
                json!({"amount": 45.5}),
            ), // the 60 is out
            ("c", "order", "2026-12-04T09:00:00Z", json!({"amount": 70})), // 45.5 + 70
        ],
    );
    assert_eq!(got, rewards(&[("c", "e3", 1)]));
    assert_eq!(p.ledger()[0].amount.get(), 11.0);
}

/// A product view of `category` by customer `c` at `at`.
fn viewed(at: &'static str, category: &str) -> (&'static str, &'static str, &'static str, Value) {
    ("c", "view", at, json!({ "category": category }))
}

#[test]
fn distinct_values_with_and_without_a_window() {
    let explore = "key: explore\nname: n\ngoal: {kind: distinct, when: 'event.type == \"view\"', value: 'event.category', target: 3, within: 7d}\nrewards: [{kind: discount, amount: 15}]\n";
    let mut p = processor(&[explore]);
    let got = run(
        &mut p,
        &[
            viewed("2026-12-01T10:00:00Z", "shoes"),
            viewed("2026-12-02T12:00:00Z", "shoes"),
            viewed("2026-12-03T10:00:00Z", "hats"),
            // Dec 1's shoes are out of the window, Dec 2's are in.
            viewed("2026-12-09T10:00:00Z", "bags"),
        ],
    );
    assert_eq!(got, rewards(&[("c", "e4", 1)]));
    let mut p = processor(&[explore]);
    let got = run(
        &mut p,
        &[
            viewed("2026-12-01T10:00:00Z", "shoes"),
            viewed("2026-12-03T10:00:00Z", "hats"),
            // The shoes are exactly 7 days old: out.
            viewed("2026-12-08T10:00:00Z", "bags"),
        ],
    );
    assert!(got.is_empty());
}

#[test]
fn schedule_bounds_and_audience() {
    let scheduled = "key: sched\nname: n\nschedule: {starts_at: 2026-12-01T00:00:00Z, ends_at: 2026-12-02T00:00:00Z}\naudience: 'customer.tier == \"gold\"'\ngoal: {kind: count, when: 'true', target: 1}\nrewards: [{kind: points, amount: 1}]\n";
    let mut p = processor(&[scheduled]);
    p.upsert_customer(Customer {
        id: "g".into(),
        attributes: json!({"tier": "gold"}).as_object().unwrap().clone(),
    });
    let outcome = |p: &mut MemoryProcessor, id: &str, customer: &str, at: &str| {
        p.process_json(&event(id, customer, "x", at, json!({})))
            .outcomes[0]
            .outcome
    };
    let na = |reason| Outcome::NotApplicable { reason };
    assert_eq!(
        outcome(&mut p, "e1", "g", "2026-11-30T23:59:59Z"),
        na(Reason::NotStarted)
    );
    assert_eq!(
        outcome(&mut p, "e2", "g", "2026-12-02T00:00:00Z"),
        na(Reason::Ended)
    );
    assert_eq!(
        outcome(&mut p, "e3", "s", "2026-12-01T10:00:00Z"),
        na(Reason::Audience)
    );
    assert_eq!(
        p.error_counts().get("sched"),
        Some(&1),
        "a missing tier is an error, counted"
    );
    assert_eq!(
        outcome(&mut p, "e4", "g", "2026-12-01T00:00:00Z"),
        Outcome::Completed { cycle: 1 }
    );
}

#[test]
fn ids_duplicates_conflicts_and_rejects() {
    // DESIGN §4: e1, e1 unchanged, e1 with other attributes, e2 → processed 2, duplicate 1, rejected 1.
    let mut p = processor(&[COUNT_1D]);
    let e1 = event(
        "e1",
        "c",
        "order",
        "2026-12-01T10:00:00Z",
        json!({"amount": 1}),
    );
    let first = p.process_json(&e1);
    let again = p.process_json(&e1);
    let changed = p.process_json(&event(
        "e1",
        "c",
        "order",
        "2026-12-01T10:00:00Z",
        json!({"amount": 2}),
    ));
    let e2 = p.process_json(&event(
        "e2",
        "c",
        "order",
        "2026-12-01T11:00:00Z",
        json!({}),
    ));
    assert_eq!(first.status, Status::Processed);
    assert_eq!(again.status, Status::Duplicate);
    assert_eq!(
        again.outcomes, first.outcomes,
        "a duplicate repeats the first outcome"
    );
    assert_eq!(changed.status, Status::Conflict);
    assert_eq!(changed.error.as_ref().unwrap().field, "id");
    assert_eq!(e2.status, Status::Processed);
    let count = |p: &MemoryProcessor| p.state("c", "orders").map(|s| s.progress.clone());
    assert!(
        matches!(count(&p), Some(engine::Progress::Count { ref window, .. }) if window.len() == 2)
    );
    // An invalid event is rejected with field and reason, remembered nowhere.
    let bad = p.process_json(
        &json!({"id": "e3", "customer_id": "c", "type": "order", "occurred_at": "soon"}),
    );
    assert_eq!(bad.status, Status::Rejected);
    assert_eq!(bad.error.as_ref().unwrap().field, "occurred_at");
    let fixed = p.process_json(&event(
        "e3",
        "c",
        "order",
        "2026-12-01T12:00:00Z",
        json!({}),
    ));
    assert_eq!(fixed.status, Status::Processed);
    assert_eq!(p.ledger().len(), 1);
}
