//! What a customer sees of a campaign (`engine::offer`): status, progress as of an instant,
//! cycles and what is missing, for every mechanic.

use campaigns::CompiledCampaign;
use chrono::{DateTime, Utc};
use engine::{CampaignFacts, MemoryProcessor, OfferStatus, Status, offer};
use serde_json::json;

fn campaign(yaml: &str) -> CompiledCampaign {
    CompiledCampaign::compile(campaigns::parse(yaml).unwrap()).unwrap()
}

fn t(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Feeds `(type, time)` events for customer `c` to `yaml`'s campaign and returns the
/// processor.
fn fed(yaml: &str, events: &[(&str, &str)]) -> MemoryProcessor {
    let mut p = MemoryProcessor::new(vec![campaign(yaml)]);
    for (i, (kind, at)) in events.iter().enumerate() {
        let e = json!({"id": format!("e{i}"), "customer_id": "c", "type": kind, "occurred_at": at,
            "attributes": {"amount": 40, "category": format!("cat{}", i % 2)}});
        assert_eq!(p.process_json(&e).status, Status::Processed);
    }
    p
}

fn seen(p: &MemoryProcessor, facts: CampaignFacts, at: &str) -> engine::Offer {
    let campaign = &p.campaigns()[0];
    offer(campaign, p.state("c", &campaign.spec().key), facts, t(at))
}

const COUNT: &str = "key: k\nname: n\nschedule: {ends_at: 2027-01-01T00:00:00Z}\ngoal: {kind: count, when: 'event.type == \"order\"', target: 3, within: 7d}\nrewards: [{kind: points, amount: 5}]\nlimits: {per_customer: 2}\n";

#[test]
fn count_progress_is_shown_as_of_the_instant_asked() {
    let p = fed(
        COUNT,
        &[
            ("order", "2026-12-01T10:00:00Z"),
            ("order", "2026-12-05T10:00:00Z"),
        ],
    );
    let now = seen(&p, CampaignFacts::default(), "2026-12-06T00:00:00Z");
    assert_eq!(now.status, OfferStatus::InProgress);
    assert_eq!((now.progress.current, now.progress.target), (2.0, 3.0));
    assert!((now.progress.percent - 200.0 / 3.0).abs() < 1e-9);
    assert_eq!(now.progress.window_seconds, Some(7 * 86_400));
    assert_eq!(
        now.missing.as_deref(),
        Some("1 more qualifying event within 7d")
    );
    assert_eq!(
        (now.cycle, now.cycles_completed, now.cycles_left),
        (1, 0, 2)
    );
    assert_eq!(now.seconds_left, Some(26 * 86_400));
    // A week after the first order it has left the window.
    let later = seen(&p, CampaignFacts::default(), "2026-12-08T10:00:00Z");
    assert_eq!(later.progress.current, 1.0);
    assert_eq!(
        later.missing.as_deref(),
        Some("2 more qualifying events within 7d")
    );
    // Nothing in the window at all: available again.
    let much_later = seen(&p, CampaignFacts::default(), "2026-12-20T00:00:00Z");
    assert_eq!(much_later.status, OfferStatus::Available);
}

#[test]
fn statuses_in_their_order_of_precedence() {
    let fresh = MemoryProcessor::new(vec![campaign(COUNT)]);
    let at = "2026-12-02T00:00:00Z";
    let open = seen(&fresh, CampaignFacts::default(), at);
    assert_eq!(open.status, OfferStatus::Available);
    assert_eq!((open.cycle, open.cycles_left), (1, 2));
    let spent = CampaignFacts {
        ended: false,
        budget_exhausted: true,
    };
    assert_eq!(seen(&fresh, spent, at).status, OfferStatus::BudgetExhausted);
    assert_eq!(seen(&fresh, spent, at).missing, None);
    let ended = CampaignFacts {
        ended: true,
        budget_exhausted: true,
    };
    assert_eq!(seen(&fresh, ended, at).status, OfferStatus::Expired);
    let over = seen(&fresh, CampaignFacts::default(), "2027-01-01T00:00:00Z");
    assert_eq!(
        over.status,
        OfferStatus::Expired,
        "the schedule's end is exclusive"
    );
    assert_eq!(over.seconds_left, None);

    // Two cycles completed: completed beats every other status.
    let orders: Vec<(&str, &str)> = (1..=6)
        .map(|d| {
            (
                "order",
                [
                    "2026-12-01T10:00:00Z",
                    "2026-12-01T11:00:00Z",
                    "2026-12-01T12:00:00Z",
                    "2026-12-02T10:00:00Z",
                    "2026-12-02T11:00:00Z",
                    "2026-12-02T12:00:00Z",
                ][d - 1],
            )
        })
        .collect();
    let done = fed(COUNT, &orders);
    let completed = seen(&done, ended, "2027-02-01T00:00:00Z");
    assert_eq!(completed.status, OfferStatus::Completed);
    assert_eq!(
        (
            completed.cycle,
            completed.cycles_completed,
            completed.cycles_left
        ),
        (2, 2, 0)
    );
    assert_eq!(completed.progress.percent, 100.0);
    assert_eq!(completed.missing, None);
    // After one cycle of two, the next starts empty.
    let one = fed(COUNT, &orders[..3]);
    let next = seen(&one, CampaignFacts::default(), "2026-12-01T13:00:00Z");
    assert_eq!(next.status, OfferStatus::Available);
    assert_eq!(
        (next.cycle, next.cycles_completed, next.cycles_left),
        (2, 1, 1)
    );
}

#[test]
fn streaks_show_zero_once_broken() {
    let yaml = "key: k\nname: n\nschedule: {timezone: America/New_York}\ngoal: {kind: streak, when: 'event.type == \"open\"', period: day, target: 5}\nrewards: [{kind: badge, amount: 1}]\n";
    // Dec 1 and Dec 2, New York time.
    let p = fed(
        yaml,
        &[
            ("open", "2026-12-01T15:00:00Z"),
            ("open", "2026-12-02T15:00:00Z"),
        ],
    );
    let alive = seen(&p, CampaignFacts::default(), "2026-12-04T04:00:00Z"); // Dec 3, 23:00 local
    assert_eq!(alive.progress.current, 2.0);
    assert_eq!(alive.progress.period, Some("day"));
    assert_eq!(alive.missing.as_deref(), Some("3 more days in a row"));
    let broken = seen(&p, CampaignFacts::default(), "2026-12-04T06:00:00Z"); // Dec 4, 01:00 local
    assert_eq!(broken.progress.current, 0.0);
    assert_eq!(broken.status, OfferStatus::Available);
}

#[test]
fn sequences_name_their_steps() {
    let yaml = "key: k\nname: n\ngoal:\n  kind: sequence\n  within: 1h\n  steps:\n    - {name: open the app, when: 'event.type == \"open\"'}\n    - {name: view shoes, when: 'event.type == \"view\"'}\n    - {name: order, when: 'event.type == \"order\"'}\nrewards: [{kind: badge, amount: 1}]\n";
    let p = fed(
        yaml,
        &[
            ("open", "2026-12-01T10:00:00Z"),
            ("view", "2026-12-01T10:10:00Z"),
        ],
    );
    let o = seen(&p, CampaignFacts::default(), "2026-12-01T10:30:00Z");
    assert_eq!(
        o.progress.step_names,
        ["open the app", "view shoes", "order"]
    );
    assert_eq!(o.progress.current, 2.0);
    assert_eq!(o.progress.next_step.as_deref(), Some("order"));
    assert_eq!(
        o.missing.as_deref(),
        Some("next step: order (2 of 3 done) within 1h")
    );
    let expired = seen(&p, CampaignFacts::default(), "2026-12-01T11:00:00Z");
    assert_eq!(expired.progress.current, 0.0);
    assert_eq!(expired.progress.next_step.as_deref(), Some("open the app"));
}

#[test]
fn sums_and_distinct_values() {
    let sum = "key: k\nname: n\ngoal: {kind: sum, when: 'event.type == \"order\"', value: event.amount, target: 100}\nrewards: [{kind: points, amount: 1}]\n";
    let p = fed(sum, &[("order", "2026-12-01T10:00:00Z")]);
    let o = seen(&p, CampaignFacts::default(), "2026-12-01T11:00:00Z");
    assert_eq!((o.progress.current, o.progress.percent), (40.0, 40.0));
    assert_eq!(o.missing.as_deref(), Some("60 more"));
    let distinct = "key: k\nname: n\ngoal: {kind: distinct, when: 'event.type == \"view\"', value: event.category, target: 3}\nrewards: [{kind: points, amount: 1}]\n";
    let p = fed(
        distinct,
        &[
            ("view", "2026-12-01T10:00:00Z"),
            ("view", "2026-12-01T10:01:00Z"),
            ("view", "2026-12-01T10:02:00Z"),
        ],
    );
    let o = seen(&p, CampaignFacts::default(), "2026-12-01T11:00:00Z");
    assert_eq!(o.progress.kind, campaigns::GoalKind::Distinct);
    assert_eq!(o.progress.current, 2.0);
    assert_eq!(o.missing.as_deref(), Some("1 more distinct value"));
}
