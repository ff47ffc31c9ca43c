//! Shared inputs for Offerflow's benchmarks: the condition every engine evaluates, written in
//! each engine's language, and the 1,000 events (with customer tiers) it is evaluated on; and
//! what the load generators share ([`server`]).

pub mod server;

use serde_json::{Value, json};

/// The condition, in CEL (Offerflow and the raw `cel` crate).
pub const CEL: &str = r#"event.type == "order.completed" && event.amount >= 25 && customer.tier in ["gold", "silver"]"#;

/// The same condition in ZEN's expression language.
pub const ZEN: &str = r#"event.type == "order.completed" and event.amount >= 25 and customer.tier in ["gold", "silver"]"#;

/// 1,000 varied facts: `{"event": {...}, "customer": {...}}`, deterministic. Types, amounts
/// (ints and doubles) and tiers vary so that each clause of the condition decides some.
pub fn facts() -> Vec<Value> {
    let mut x: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let types = [
        "order.completed",
        "order.completed",
        "app.opened",
        "product.viewed",
        "order.refunded",
    ];
    let tiers = ["gold", "silver", "bronze", "none"];
    (0..1000)
        .map(|i| {
            let amount = if i % 3 == 0 {
                json!((next() % 60) as f64 + 0.5)
            } else {
                json!(next() % 60)
            };
            json!({
                "event": {
                    "id": format!("e{i}"),
                    "customer_id": format!("c{}", next() % 100),
                    "type": types[(next() % types.len() as u64) as usize],
                    "occurred_at": "2026-12-01T10:00:00Z",
                    "amount": amount,
                    "category": format!("k{}", next() % 8),
                },
                "customer": {"id": format!("c{}", i % 100), "tier": tiers[(next() % 4) as usize]},
            })
        })
        .collect()
}

/// The reference answer: the condition computed by hand in Rust.
pub fn expected(fact: &Value) -> bool {
    let e = &fact["event"];
    e["type"] == "order.completed"
        && e["amount"].as_f64().is_some_and(|a| a >= 25.0)
        && matches!(fact["customer"]["tier"].as_str(), Some("gold" | "silver"))
}
