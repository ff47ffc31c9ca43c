//! Sizes read before anything parses: a GraphQL text's tokens and bracket nesting, a JSON
//! body's nesting, a value's nesting. Each is one pass with a constant stack, so a caller's
//! input cannot make this code recurse or allocate with its size.
//!
//! async-graphql's parser (pest) and every later stage (conversion to the AST, validation,
//! argument coercion, drop) recurse once per level of `{`, `[` and `(`, and nothing bounds
//! the levels of a value (`[[[[...]]]]`, `{a: {a: ...}}`): 2,000 of them overflow a worker's
//! stack and abort the process. The parsed document's size follows its tokens. Both are
//! counted here, on the text, so a document past either bound is never parsed.

use async_graphql::Value;

/// What [`scan`] found in a GraphQL text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scan {
    /// Deepest nesting of `{`, `[` and `(`, outside strings and comments.
    pub nesting: usize,
    /// Lexical tokens (names, numbers, strings, punctuators), ignoring whitespace, commas
    /// and comments.
    pub tokens: usize,
}

/// The tokens and bracket nesting of a GraphQL text, as GraphQL's lexical grammar reads it:
/// brackets in strings, block strings and comments do not count.
pub fn scan(text: &str) -> Scan {
    let bytes = text.as_bytes();
    let mut depth = 0usize;
    let mut out = Scan {
        nesting: 0,
        tokens: 0,
    };
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => i = block_string_end(bytes, i + 3),
            b'"' => i = string_end(bytes, i + 1),
            b'{' | b'[' | b'(' => {
                depth += 1;
                out.nesting = out.nesting.max(depth);
                i += 1;
            }
            b'}' | b']' | b')' => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            b'.' if bytes[i..].starts_with(b"...") => i += 3,
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                i += 1;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric() || matches!(bytes[i], b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
            }
            _ => i += 1,
        }
        out.tokens += 1;
    }
    out
}

/// The index after a string's closing quote (or the end of the line or text, where the
/// parser will refuse it).
fn string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            b'\n' | b'\r' => return i,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// The index after a block string's closing `"""`; `\"""` does not close it.
fn block_string_end(bytes: &[u8], mut i: usize) -> usize {
    while i < bytes.len() {
        if bytes[i..].starts_with(b"\\\"\"\"") {
            i += 4;
        } else if bytes[i..].starts_with(b"\"\"\"") {
            return i + 3;
        } else {
            i += 1;
        }
    }
    bytes.len()
}

/// What [`json_scan`] found in a JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JsonScan {
    /// Deepest nesting of arrays and objects.
    pub nesting: usize,
    /// Values, keys included: each string, number, literal, array and object counts one.
    pub values: usize,
}

/// The nesting and values of a JSON text, outside strings. Parsed JSON takes about a hundred
/// bytes per value (async-graphql's `Value`, in lists and maps), forty times the text of a
/// list of small numbers, so the values are counted before parsing. Malformed JSON is
/// measured as far as it goes; the JSON parser refuses it after.
pub fn json_scan(bytes: &[u8]) -> JsonScan {
    let (mut depth, mut i) = (0usize, 0usize);
    let mut out = JsonScan {
        nesting: 0,
        values: 0,
    };
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                out.values += 1;
            }
            b'[' | b'{' => {
                depth += 1;
                out.nesting = out.nesting.max(depth);
                out.values += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b',' | b':' | b' ' | b'\t' | b'\n' | b'\r' => {}
            _ => {
                while i + 1 < bytes.len() && !b",:]} \t\n\r\"[{".contains(&bytes[i + 1]) {
                    i += 1;
                }
                out.values += 1;
            }
        }
        i += 1;
    }
    out
}

/// The deepest nesting of lists and objects in a value (a scalar is 0, `[1]` is 1), walked
/// with a heap stack.
pub fn value_nesting(value: &Value) -> usize {
    let mut stack = vec![(value, 0usize)];
    let mut deepest = 0;
    while let Some((v, depth)) = stack.pop() {
        deepest = deepest.max(depth);
        match v {
            Value::List(items) => stack.extend(items.iter().map(|x| (x, depth + 1))),
            Value::Object(fields) => stack.extend(fields.values().map(|x| (x, depth + 1))),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brackets_in_strings_and_comments_do_not_nest() {
        assert_eq!(
            scan("{ a(x: [[1]]) { b } }"),
            Scan {
                nesting: 4,
                tokens: 15
            }
        );
        let quoted = r#"{ a(x: "[[[[\"[[", y: """ {{{{ \""" [[[ """) # [[[[[
        }"#;
        assert_eq!(scan(quoted).nesting, 2);
        assert_eq!(
            scan("{ ...F ... on Q { x } } fragment F on Q { y }").tokens,
            17
        );
        assert_eq!(scan(&"[".repeat(5000)).nesting, 5000);
        assert_eq!(scan("x: -1.5e+3, y: $v, z: @skip").tokens, 11);
        assert_eq!(scan("").tokens, 0);
    }

    #[test]
    fn json_scan_skips_strings() {
        assert_eq!(
            json_scan(br#"{"query": "{[[[", "variables": {"a": [[1, -2.5e3, true]]}}"#),
            JsonScan {
                nesting: 4,
                values: 11
            }
        );
        assert_eq!(json_scan(br#"["\"[[[", {}]"#).nesting, 2);
        assert_eq!(json_scan(br#"["\\", null,1]"#).values, 4);
        assert_eq!(json_scan(&vec![b'['; 10_000]).nesting, 10_000);
    }

    #[test]
    fn value_nesting_counts_lists_and_objects() {
        let v = Value::from_json(serde_json::json!({"a": [[1], {"b": {}}]})).unwrap();
        assert_eq!(value_nesting(&v), 3);
        assert_eq!(value_nesting(&Value::from(1)), 0);
    }
}
