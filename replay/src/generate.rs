//! Deterministic synthetic fixtures for load tests and benchmarks: campaigns over every
//! mechanic and a JSON-lines event stream, the same for the same seed.

use serde_json::{Value, json};
use std::io::Write;

/// What to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    /// Distinct customers.
    pub customers: u64,
    /// Events.
    pub events: u64,
    /// The seed: the same seed, the same fixture.
    pub seed: u64,
}

/// The campaigns: one or more per mechanic, over the generated event types.
pub fn campaigns() -> Value {
    json!([
        {"key": "gen-count-window", "name": "Three orders in a week",
         "goal": {"kind": "count", "when": "event.type == \"order.completed\" && event.amount >= 25", "target": 3, "within": "7d"},
         "rewards": [{"kind": "points", "amount": 500}], "limits": {"per_customer": 5}},
        {"key": "gen-sum", "name": "Spend 300",
         "goal": {"kind": "sum", "when": "event.type == \"order.completed\"", "value": "event.amount", "target": 300},
         "rewards": [{"kind": "points", "amount_expr": "int(progress.sum) / 10"}], "limits": {"per_customer": 3}},
        {"key": "gen-distinct", "name": "Explore four categories",
         "goal": {"kind": "distinct", "when": "event.type == \"product.viewed\"", "value": "event.category", "target": 4, "within": "14d"},
         "rewards": [{"kind": "badge", "amount": 1}]},
        {"key": "gen-streak", "name": "Three days in a row",
         "schedule": {"timezone": "America/New_York"},
         "goal": {"kind": "streak", "period": "day", "when": "event.type == \"app.opened\"", "target": 3},
         "rewards": [{"kind": "points", "amount": 50}], "limits": {"per_customer": 10}},
        {"key": "gen-sequence", "name": "Open, view, buy within a day",
         "goal": {"kind": "sequence", "within": "1d", "steps": [
            {"name": "open", "when": "event.type == \"app.opened\""},
            {"name": "view", "when": "event.type == \"product.viewed\""},
            {"name": "buy", "when": "event.type == \"order.completed\""}]},
         "rewards": [{"kind": "coupon", "amount": 1, "code": "THANKS"}], "limits": {"per_customer": 2}},
        {"key": "gen-capped", "name": "First 100 orders over 80",
         "goal": {"kind": "count", "when": "event.type == \"order.completed\" && event.amount > 80", "target": 1},
         "rewards": [{"kind": "coupon", "amount": 10}], "limits": {"max_rewards": 100}}
    ])
}

const TYPES: [&str; 4] = [
    "order.completed",
    "product.viewed",
    "app.opened",
    "cart.updated",
];
const CATEGORIES: [&str; 8] = [
    "shoes", "hats", "bags", "coats", "socks", "belts", "watches", "toys",
];

/// xorshift64*: small, fast and the same everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

/// The events, one JSON object per line, written to `out`; `progress` is called every 100,000.
pub fn write_events(
    plan: Plan,
    out: &mut impl Write,
    progress: &dyn Fn(u64),
) -> std::io::Result<()> {
    let mut rng = Rng(plan.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    // 2026-12-01T00:00:00Z, moving forward by up to 2 minutes per event.
    let mut at: i64 = 1_795_996_800;
    for i in 0..plan.events {
        at += i64::try_from(rng.below(120)).unwrap_or(0);
        let kind = TYPES[usize::try_from(rng.below(4)).unwrap_or(0)];
        let customer = rng.below(plan.customers);
        let time = chrono::DateTime::from_timestamp(at, 0).unwrap_or_default();
        let attributes = match kind {
            "order.completed" => json!({"amount": rng.below(150) as f64 + 0.5}),
            "product.viewed" => {
                json!({"category": CATEGORIES[usize::try_from(rng.below(8)).unwrap_or(0)]})
            }
            _ => json!({}),
        };
        let event = json!({
            "id": format!("g{}-{i}", plan.seed),
            "customer_id": format!("c{customer}"),
            "type": kind,
            "occurred_at": time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            "attributes": attributes,
        });
        writeln!(out, "{event}")?;
        if (i + 1) % 100_000 == 0 {
            progress(i + 1);
        }
    }
    Ok(())
}
