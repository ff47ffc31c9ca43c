//! An event's content fingerprint: what decides between a duplicate (same id, same content) and
//! a conflict (same id, other content).
//!
//! The content is the event less its id, in a canonical form: object keys sorted, the time as
//! the UTC instant in microseconds, so `10:00:00Z` and `11:00:00+01:00` are the same content.
//! The form does not depend on how serde_json orders maps.

use campaigns::Event;
use serde_json::Value;
use sha2::{Digest, Sha256};

/// SHA-256 of the event's canonical content.
pub fn fingerprint(event: &Event) -> [u8; 32] {
    let mut out = String::with_capacity(128);
    out.push_str(&event.customer_id.len().to_string());
    out.push(':');
    out.push_str(&event.customer_id);
    out.push_str(&event.kind.len().to_string());
    out.push(':');
    out.push_str(&event.kind);
    out.push_str(&event.occurred_at.timestamp_micros().to_string());
    out.push('|');
    canonical_object(&event.attributes, &mut out);
    Sha256::digest(out.as_bytes()).into()
}

/// A fingerprint as lowercase hex, for storage.
pub fn to_hex(fingerprint: &[u8; 32]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut hex = String::with_capacity(64);
    for b in fingerprint {
        hex.push(char::from(DIGITS[usize::from(b >> 4)]));
        hex.push(char::from(DIGITS[usize::from(b & 0xf)]));
    }
    hex
}

fn canonical_object(map: &serde_json::Map<String, Value>, out: &mut String) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.push('{');
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&Value::String(k.clone()).to_string());
        out.push(':');
        canonical(&map[k], out);
    }
    out.push('}');
}

/// Canonical JSON: sorted keys, no whitespace. Depth is bounded by event validation.
fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => canonical_object(map, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: Value) -> Event {
        Event::from_json(&v).unwrap()
    }

    #[test]
    fn same_content_same_fingerprint() {
        let a = event(json!({"id": "e1", "customer_id": "c", "type": "t",
            "occurred_at": "2026-12-01T10:00:00Z", "attributes": {"a": 1, "b": {"y": 2, "x": 1}}}));
        let b = event(json!({"id": "e2", "customer_id": "c", "type": "t",
            "occurred_at": "2026-12-01T11:00:00+01:00", "attributes": {"b": {"x": 1, "y": 2}, "a": 1}}));
        assert_eq!(fingerprint(&a), fingerprint(&b));
        let hex = to_hex(&fingerprint(&a));
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
    }

    #[test]
    fn any_change_changes_it() {
        let base = json!({"id": "e1", "customer_id": "c", "type": "t",
            "occurred_at": "2026-12-01T10:00:00Z", "attributes": {"a": 1}});
        let f = fingerprint(&event(base.clone()));
        for (field, value) in [
            ("customer_id", json!("d")),
            ("type", json!("u")),
            ("occurred_at", json!("2026-12-01T10:00:00.000001Z")),
            ("attributes", json!({"a": 2})),
            ("attributes", json!({"a": 1.0})),
            ("attributes", json!({})),
        ] {
            let mut v = base.clone();
            v[field] = value;
            assert_ne!(fingerprint(&event(v)), f, "{field}");
        }
    }
}
