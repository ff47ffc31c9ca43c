//! Customer events and profiles as they arrive (DESIGN §2), checked field by field.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::fmt;

/// Longest `id`, `customer_id` and `type`, in characters.
pub const MAX_ID_CHARS: usize = 128;
/// Largest `attributes` object, serialized, in bytes.
pub const MAX_ATTRIBUTES_BYTES: usize = 64 * 1024;
/// Deepest `attributes` object (the object itself is level 1).
pub const MAX_ATTRIBUTES_DEPTH: usize = 16;
/// Keys the engine sets on `event` itself, which attributes may not use.
pub const RESERVED_KEYS: [&str; 4] = ["id", "type", "customer_id", "occurred_at"];

/// One customer event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Idempotency key.
    pub id: String,
    /// Whose event it is.
    pub customer_id: String,
    /// What happened (`order.completed`).
    #[serde(rename = "type")]
    pub kind: String,
    /// When it happened; the `now` of every expression evaluated for it.
    pub occurred_at: DateTime<Utc>,
    /// Anything else, visible to conditions as `event.<name>`.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub attributes: Map<String, Value>,
}

/// A customer's profile: what audiences and conditions see as `customer`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Customer {
    /// The customer id.
    pub id: String,
    /// Profile attributes (`tier`, `country`...).
    #[serde(default)]
    pub attributes: Map<String, Value>,
}

/// Why an event was refused: the field and the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventError {
    /// The offending field (`occurred_at`, `attributes.id`), or empty for the event itself.
    pub field: String,
    /// What is wrong with it.
    pub reason: String,
}

impl EventError {
    /// An error in `field` (empty for the event itself), for `reason`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            write!(f, "{}", self.reason)
        } else {
            write!(f, "{}: {}", self.field, self.reason)
        }
    }
}

impl std::error::Error for EventError {}

impl Event {
    /// Reads an event from its JSON form, refusing it with the first bad field and why.
    pub fn from_json(value: &Value) -> Result<Event, EventError> {
        let Value::Object(map) = value else {
            return Err(EventError::new("", "an event must be a JSON object"));
        };
        for key in map.keys() {
            let known = ["id", "customer_id", "type", "occurred_at", "attributes"];
            if !known.contains(&key.as_str()) {
                return Err(EventError::new(
                    key.as_str(),
                    "unknown field; an event has id, customer_id, type, occurred_at and attributes",
                ));
            }
        }
        let text = |field: &str| -> Result<String, EventError> {
            match map.get(field) {
                None | Some(Value::Null) => Err(EventError::new(field, "is required")),
                Some(Value::String(s)) => Ok(s.clone()),
                Some(_) => Err(EventError::new(field, "must be a string")),
            }
        };
        let id = text("id")?;
        let customer_id = text("customer_id")?;
        let kind = text("type")?;
        let occurred_at = text("occurred_at")?;
        let occurred_at = DateTime::parse_from_rfc3339(&occurred_at)
            .map_err(|_| {
                EventError::new(
                    "occurred_at",
                    format!(
                        "`{}` is not an RFC 3339 timestamp with an offset, like 2026-12-01T10:00:00Z",
                        occurred_at.chars().take(64).collect::<String>()
                    ),
                )
            })?
            .with_timezone(&Utc);
        let attributes = match map.get("attributes") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(a)) => a.clone(),
            Some(_) => return Err(EventError::new("attributes", "must be a JSON object")),
        };
        let event = Event {
            id,
            customer_id,
            kind,
            occurred_at,
            attributes,
        };
        event.validate()?;
        Ok(event)
    }

    /// Checks the bounds of DESIGN §2: lengths, reserved keys, attribute size and depth.
    pub fn validate(&self) -> Result<(), EventError> {
        check_id("id", &self.id)?;
        check_id("customer_id", &self.customer_id)?;
        check_id("type", &self.kind)?;
        for key in RESERVED_KEYS {
            if self.attributes.contains_key(key) {
                return Err(EventError::new(
                    format!("attributes.{key}"),
                    "is a reserved key (id, type, customer_id and occurred_at are set by the event itself)",
                ));
            }
        }
        check_attributes(&self.attributes)
    }
}

/// Checks an identifier (an event's id, customer id or type; a customer id anywhere else): 1 to
/// [`MAX_ID_CHARS`] characters, none of them NUL (U+0000), which PostgreSQL cannot store in
/// text and which no identifier needs.
pub fn check_id(field: &str, value: &str) -> Result<(), EventError> {
    // A text of at most MAX_ID_CHARS bytes has at most as many characters: characters are
    // counted only for longer ones.
    let too_long = value.len() > MAX_ID_CHARS && value.chars().count() > MAX_ID_CHARS;
    if value.is_empty() || too_long {
        let chars = value.chars().count();
        return Err(EventError::new(
            field,
            format!("must be 1 to {MAX_ID_CHARS} characters, not {chars}"),
        ));
    }
    if let Some(at) = value.chars().position(|c| c == '\0') {
        return Err(EventError::new(
            field,
            format!("must not contain the NUL character (U+0000), found at character {at}"),
        ));
    }
    Ok(())
}

/// Counts the bytes written to it, and refuses any past [`MAX_ATTRIBUTES_BYTES`].
struct Counter(usize);

impl std::io::Write for Counter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0 += bytes.len();
        if self.0 > MAX_ATTRIBUTES_BYTES {
            return Err(std::io::Error::other("too large"));
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Bounds an attributes object's depth and serialized size, walking it without recursion.
pub fn check_attributes(attributes: &Map<String, Value>) -> Result<(), EventError> {
    let mut stack: Vec<(&Value, usize)> = attributes.values().map(|v| (v, 2)).collect();
    while let Some((value, depth)) = stack.pop() {
        let children: Box<dyn Iterator<Item = &Value>> = match value {
            Value::Array(items) => Box::new(items.iter()),
            Value::Object(map) => Box::new(map.values()),
            _ => continue,
        };
        if depth > MAX_ATTRIBUTES_DEPTH {
            return Err(EventError::new(
                "attributes",
                format!("nests deeper than {MAX_ATTRIBUTES_DEPTH} levels"),
            ));
        }
        stack.extend(children.map(|c| (c, depth + 1)));
    }
    // Counted as written, without building the text; writing stops past the limit.
    let mut size = Counter(0);
    if serde_json::to_writer(&mut size, attributes).is_err() || size.0 > MAX_ATTRIBUTES_BYTES {
        return Err(EventError::new(
            "attributes",
            format!("is more than {MAX_ATTRIBUTES_BYTES} bytes as JSON, the limit"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(v: Value) -> Result<Event, EventError> {
        Event::from_json(&v)
    }

    #[test]
    fn reads_a_valid_event() {
        let e = event(
            json!({"id": "e1", "customer_id": "c1", "type": "order.completed",
            "occurred_at": "2026-12-01T10:00:00+01:00", "attributes": {"amount": 30.5}}),
        )
        .unwrap();
        assert_eq!(e.occurred_at.to_rfc3339(), "2026-12-01T09:00:00+00:00");
        assert_eq!(e.attributes["amount"], json!(30.5));
    }

    #[test]
    fn names_the_field_and_reason() {
        let base = json!({"id": "e1", "customer_id": "c1", "type": "t", "occurred_at": "2026-12-01T10:00:00Z"});
        let cases = [
            ("id", json!(null), "id", "is required"),
            ("id", json!(""), "id", "must be 1 to 128"),
            ("id", json!("x".repeat(129)), "id", "must be 1 to 128"),
            ("customer_id", json!(7), "customer_id", "must be a string"),
            ("type", json!(null), "type", "is required"),
            ("occurred_at", json!("yesterday"), "occurred_at", "RFC 3339"),
            ("attributes", json!([1]), "attributes", "JSON object"),
            (
                "attributes",
                json!({"type": "x"}),
                "attributes.type",
                "reserved",
            ),
            ("source", json!("x"), "source", "unknown field"),
        ];
        for (field, value, expected_field, reason) in cases {
            let mut v = base.clone();
            v[field] = value;
            let err = event(v).unwrap_err();
            assert_eq!(err.field, expected_field, "{field}");
            assert!(err.reason.contains(reason), "{field}: {err}");
        }
        assert_eq!(event(json!([])).unwrap_err().field, "");
    }

    /// The bound counts characters, not bytes: 128 two-byte characters (256 bytes) are fine,
    /// 129 are not, and neither are 129 one-byte ones.
    #[test]
    fn ids_are_bounded_in_characters() {
        let with_id = |id: String| {
            event(json!({"id": id, "customer_id": "c1", "type": "t",
                "occurred_at": "2026-12-01T10:00:00Z"}))
        };
        assert!(with_id("é".repeat(MAX_ID_CHARS)).is_ok());
        assert!(with_id("x".repeat(MAX_ID_CHARS)).is_ok());
        let err = with_id("é".repeat(MAX_ID_CHARS + 1)).unwrap_err();
        assert!(err.reason.contains("not 129"), "{err}");
        assert!(with_id("x".repeat(MAX_ID_CHARS + 1)).is_err());
    }

    #[test]
    fn bounds_attribute_depth_and_size() {
        let mut deep = json!(1);
        for _ in 0..MAX_ATTRIBUTES_DEPTH {
            deep = json!({ "a": deep });
        }
        // `deep` is exactly 16 levels; one more is too many.
        let ok = deep.clone();
        let deep = json!({ "a": deep });
        let base = |attrs: Value| {
            json!({"id": "e", "customer_id": "c", "type": "t",
            "occurred_at": "2026-12-01T10:00:00Z", "attributes": attrs})
        };
        assert!(event(base(ok)).is_ok());
        let err = event(base(deep)).unwrap_err();
        assert!(err.reason.contains("deeper"), "{err}");
        let big = json!({"blob": "x".repeat(MAX_ATTRIBUTES_BYTES)});
        assert!(event(base(big)).unwrap_err().reason.contains("limit"));
        // `{"blob":""}` is 11 bytes: the limit itself is accepted, one byte more is not.
        let exact = json!({"blob": "x".repeat(MAX_ATTRIBUTES_BYTES - 11)});
        assert!(event(base(exact)).is_ok());
        let over = json!({"blob": "x".repeat(MAX_ATTRIBUTES_BYTES - 10)});
        assert!(event(base(over)).is_err());
    }
}
