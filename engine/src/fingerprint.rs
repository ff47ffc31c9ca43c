//! An event's content fingerprint: what decides between a duplicate (same id, same content) and
//! a conflict (same id, other content).
//!
//! The content is the event less its id, in a canonical form: object keys sorted, the time as
//! the UTC instant in microseconds, so `10:00:00Z` and `11:00:00+01:00` are the same content.
//! The form does not depend on how serde_json orders maps.

use campaigns::Event;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::io::Write;

/// SHA-256 of the event's canonical content, hashed as it is written: nothing is allocated.
pub fn fingerprint(event: &Event) -> [u8; 32] {
    let mut out = Hashing(Sha256::new());
    for part in [&event.customer_id, &event.kind] {
        // Writing to a hasher cannot fail.
        let _ = write!(out, "{}:{part}", part.len());
    }
    let _ = write!(out, "{}|", event.occurred_at.timestamp_micros());
    canonical_object(&event.attributes, &mut out);
    out.0.finalize().into()
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

/// Feeds everything written to it to the hash.
struct Hashing(Sha256);

impl Write for Hashing {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn canonical_object(map: &serde_json::Map<String, Value>, out: &mut Hashing) {
    let mut keys: Vec<&String> = map.keys().collect();
    keys.sort();
    out.0.update(b"{");
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.0.update(b",");
        }
        let _ = serde_json::to_writer(&mut *out, k);
        out.0.update(b":");
        canonical(&map[k], out);
    }
    out.0.update(b"}");
}

/// Canonical JSON: sorted keys, no whitespace. Depth is bounded by event validation.
fn canonical(value: &Value, out: &mut Hashing) {
    match value {
        Value::Object(map) => canonical_object(map, out),
        Value::Array(items) => {
            out.0.update(b"[");
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.0.update(b",");
                }
                canonical(item, out);
            }
            out.0.update(b"]");
        }
        other => {
            let _ = serde_json::to_writer(&mut *out, other);
        }
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

    /// The old code's fingerprint of the event below (it built the canonical text as a string,
    /// `3:c-115:order.completed1796119200500000|{"a":{"k":-3},"n":1e+300,...}`, then hashed it).
    const PINNED: &str = "81d309fd4a14e43777dbf2b816ba6019aed622c02d96b55fc5a8230887683329";

    /// Fingerprints are stored: the canonical form must never change, or redelivered events
    /// would turn into conflicts after an upgrade.
    #[test]
    fn the_canonical_form_is_stable() {
        let e = event(
            json!({"id": "e1", "customer_id": "c-1", "type": "order.completed",
            "occurred_at": "2026-12-01T10:00:00.5Z",
            "attributes": {"z": [1, 2.5, "é\"x", null, true], "a": {"k": -3}, "n": 1e300}}),
        );
        assert_eq!(to_hex(&fingerprint(&e)), PINNED);
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
