//! The event vocabulary of the randomized tests: the reference model (`engine/tests/model.rs`)
//! and the store's exactly-once suite (`store/tests/exactly_once`, which includes this file)
//! draw their streams from the same types, categories and gaps and write events the same way,
//! so that a campaign written against one stream means the same against the other.

use serde_json::{Map, Value, json};

pub const TYPES: [&str; 4] = ["order", "view", "open", "other"];
pub const CATEGORIES: [&str; 5] = ["c0", "c1", "c2", "c3", "c4"];
pub const HOUR: i64 = 3_600;
pub const DAY: i64 = 86_400;
/// Gaps between one customer's events: the first five are under an hour (the sequences'
/// window), the others longer.
pub const GAPS: [i64; 11] = [
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

/// Seconds since the epoch as RFC 3339 (UTC, whole seconds).
pub fn time(at: i64) -> String {
    chrono::DateTime::from_timestamp(at, 0)
        .expect("in range")
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// An RFC 3339 time as seconds since the epoch.
pub fn parse_time(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .expect("RFC 3339")
        .timestamp()
}

/// An event's JSON, with the attributes it carries.
pub fn event_json(
    id: &str,
    customer: &str,
    kind: &str,
    at: i64,
    amount: Option<i64>,
    category: Option<&str>,
) -> Value {
    let mut attributes = Map::new();
    if let Some(a) = amount {
        attributes.insert("amount".into(), json!(a));
    }
    if let Some(c) = category {
        attributes.insert("category".into(), json!(c));
    }
    json!({"id": id, "customer_id": customer, "type": kind, "occurred_at": time(at),
        "attributes": attributes})
}
