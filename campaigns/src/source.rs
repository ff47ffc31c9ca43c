//! Reads spec source text into a JSON tree and remembers where each value was written.
//!
//! YAML and JSON go through the same YAML 1.2 reader (JSON is YAML's flow syntax), so a
//! problem in either is reported at its line and column. The reader keeps to the core schema
//! (`yes` is a string, timestamps stay strings), refuses anchors and aliases (no "billion
//! laughs"), and bounds the text's size and the tree's depth before anything can grow.

use crate::diagnostic::{Code, Diagnostic, Position, index, join};
use serde_json::{Map, Number, Value};
use std::collections::HashMap;
use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::{Marker, TScalarStyle};

/// The largest spec source accepted, in bytes.
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;
/// The deepest nesting of mappings and sequences accepted.
pub const MAX_SOURCE_DEPTH: usize = 32;

/// How a scalar was written, which decides where its text starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarStyle {
    /// Unquoted: the text starts at the value's position.
    Plain,
    /// `'...'` or `"..."`: the text starts one column later.
    Quoted,
    /// `|` or `>`: the text starts on the line after the indicator, at the block's indent.
    Block {
        /// First line of the block's text.
        line: u32,
        /// Column of the block's text.
        column: u32,
    },
    /// A mapping or sequence.
    Collection,
}

/// Where one value was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    /// Where the value (or its opening quote or block indicator) starts.
    pub start: Position,
    /// How it was written.
    pub style: ScalarStyle,
}

impl Span {
    /// Where character `at` (line and column within a scalar's text) was written.
    pub fn locate(&self, at: Position) -> Position {
        match self.style {
            ScalarStyle::Block { line, column } => {
                Position::new(line + at.line - 1, column + at.column - 1)
            }
            ScalarStyle::Quoted if at.line == 1 => {
                Position::new(self.start.line, self.start.column + at.column)
            }
            _ if at.line == 1 => Position::new(self.start.line, self.start.column + at.column - 1),
            // A multi-line flow scalar is folded into one line; point at its start.
            _ => self.start,
        }
    }
}

/// Path (`goal.steps[1].when`) to where the value at that path was written.
#[derive(Debug, Clone, Default)]
pub struct SourceMap {
    spans: HashMap<String, Span>,
}

impl SourceMap {
    /// The span of the value at `path`, if it was written.
    pub fn get(&self, path: &str) -> Option<&Span> {
        self.spans.get(path)
    }

    /// Fills in the file position of a diagnostic: the value it names, or else its nearest
    /// written ancestor (a missing field points at the object that lacks it).
    pub fn place(&self, diagnostic: &mut Diagnostic) {
        if diagnostic.position.is_some() {
            return;
        }
        let mut path = diagnostic.path.as_str();
        loop {
            if let Some(span) = self.spans.get(path) {
                diagnostic.position = Some(match diagnostic.expression_position {
                    Some(at) if path == diagnostic.path => span.locate(at),
                    _ => span.start,
                });
                return;
            }
            match path.rfind(['.', '[']) {
                Some(cut) => path = &path[..cut],
                None if !path.is_empty() => path = "",
                None => return,
            }
        }
    }
}

/// A spec's source read into a tree, with where each value was written.
#[derive(Debug, Clone)]
pub struct Document {
    /// The tree, as JSON.
    pub value: Value,
    /// Where each value was written.
    pub map: SourceMap,
}

/// Reads YAML or JSON text. A malformed text gives one diagnostic at its line and column.
pub fn read(text: &str) -> Result<Document, Diagnostic> {
    if text.len() > MAX_SOURCE_BYTES {
        return Err(Diagnostic::new(
            "",
            Code::Syntax,
            format!(
                "the spec is {} bytes; the limit is {MAX_SOURCE_BYTES}",
                text.len()
            ),
        ));
    }
    let mut builder = Builder::new();
    let mut parser = Parser::new_from_str(text);
    if let Err(e) = parser.load(&mut builder, false) {
        let m = e.marker();
        let mut d = Diagnostic::new("", Code::Syntax, format!("malformed YAML: {}", e.info()));
        d.position = Some(marker_position(m));
        return Err(d);
    }
    if let Some(d) = builder.error {
        return Err(d);
    }
    match builder.root {
        Some(value) => Ok(Document {
            value,
            map: builder.map,
        }),
        None => Err(Diagnostic::new(
            "",
            Code::Syntax,
            "the spec is empty: expected a mapping with key, name, goal and rewards",
        )),
    }
}

fn marker_position(m: &Marker) -> Position {
    // yaml-rust2 counts lines from 1 and columns from 0.
    Position::new(to_u32(m.line()), to_u32(m.col()) + 1)
}

fn to_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

enum Frame {
    Seq {
        path: String,
        items: Vec<Value>,
    },
    Map {
        path: String,
        entries: Map<String, Value>,
        /// The pending key and where it was written.
        key: Option<(String, Marker)>,
    },
}

/// Turns parser events into a JSON tree with an explicit stack, so depth costs heap, not stack.
struct Builder {
    stack: Vec<Frame>,
    root: Option<Value>,
    map: SourceMap,
    error: Option<Diagnostic>,
}

impl Builder {
    fn new() -> Self {
        Self {
            stack: Vec::new(),
            root: None,
            map: SourceMap::default(),
            error: None,
        }
    }

    fn fail(&mut self, mark: Marker, path: String, code: Code, message: String) {
        if self.error.is_none() {
            let mut d = Diagnostic::new(path, code, message);
            d.position = Some(marker_position(&mark));
            self.error = Some(d);
        }
    }

    /// The path the next value takes, or `None` when the next scalar is a mapping key.
    fn next_path(&self) -> Option<String> {
        match self.stack.last() {
            None => Some(String::new()),
            Some(Frame::Seq { path, items }) => Some(index(path, items.len())),
            Some(Frame::Map { path, key, .. }) => key.as_ref().map(|(k, _)| join(path, k)),
        }
    }

    fn push_value(&mut self, value: Value, mark: Marker) {
        match self.stack.last_mut() {
            None => self.root = Some(value),
            Some(Frame::Seq { items, .. }) => items.push(value),
            Some(Frame::Map { entries, key, path }) => {
                if let Some((k, _)) = key.take() {
                    if entries.contains_key(&k) {
                        let p = join(path, &k);
                        self.fail(mark, p, Code::Syntax, format!("duplicate key `{k}`"));
                    } else {
                        entries.insert(k, value);
                    }
                }
            }
        }
    }

    fn open(&mut self, frame: Frame, mark: Marker) {
        if self.stack.len() >= MAX_SOURCE_DEPTH {
            let path = self.next_path().unwrap_or_default();
            let message = format!("nested deeper than {MAX_SOURCE_DEPTH} levels");
            self.fail(mark, path, Code::Syntax, message);
        }
        self.stack.push(frame);
    }
}

impl MarkedEventReceiver for Builder {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        if self.error.is_some() {
            return;
        }
        match ev {
            Event::Alias(_) => {
                let path = self.next_path().unwrap_or_default();
                let message = "anchors and aliases are not supported".to_owned();
                self.fail(mark, path, Code::Syntax, message);
            }
            Event::Scalar(text, style, anchor, tag) => {
                if anchor != 0 {
                    let path = self.next_path().unwrap_or_default();
                    let message = "anchors and aliases are not supported".to_owned();
                    return self.fail(mark, path, Code::Syntax, message);
                }
                let Some(path) = self.next_path() else {
                    // A mapping key.
                    if let Some(Frame::Map { key, .. }) = self.stack.last_mut() {
                        *key = Some((text, mark));
                    }
                    return;
                };
                let span_style = match style {
                    TScalarStyle::Plain => ScalarStyle::Plain,
                    TScalarStyle::SingleQuoted | TScalarStyle::DoubleQuoted => ScalarStyle::Quoted,
                    // Block scalars are marked where their text starts.
                    _ => ScalarStyle::Block {
                        line: to_u32(mark.line()),
                        column: to_u32(mark.col()) + 1,
                    },
                };
                let start = marker_position(&mark);
                self.map.spans.insert(
                    path.clone(),
                    Span {
                        start,
                        style: span_style,
                    },
                );
                let is_str_tag = tag.as_ref().is_some_and(|t| t.suffix == "str");
                let value = if style == TScalarStyle::Plain && !is_str_tag {
                    match plain_scalar(&text) {
                        Ok(v) => v,
                        Err(message) => return self.fail(mark, path, Code::InvalidValue, message),
                    }
                } else {
                    Value::String(text)
                };
                self.push_value(value, mark);
            }
            Event::SequenceStart(anchor, _) | Event::MappingStart(anchor, _) if anchor != 0 => {
                let path = self.next_path().unwrap_or_default();
                let message = "anchors and aliases are not supported".to_owned();
                self.fail(mark, path, Code::Syntax, message);
            }
            Event::SequenceStart(..) | Event::MappingStart(..) => {
                let Some(path) = self.next_path() else {
                    let message = "a mapping key must be a plain string".to_owned();
                    return self.fail(mark, String::new(), Code::Syntax, message);
                };
                // A collection under a key is placed at its key, which is where a person looks
                // for "goal is missing target"; block collections have no better mark.
                let start = match self.stack.last() {
                    Some(Frame::Map {
                        key: Some((_, key_mark)),
                        ..
                    }) => marker_position(key_mark),
                    // The document: its first line.
                    None => Position::new(to_u32(mark.line()), 1),
                    _ => marker_position(&mark),
                };
                let span = Span {
                    start,
                    style: ScalarStyle::Collection,
                };
                self.map.spans.insert(path.clone(), span);
                let frame = if matches!(ev, Event::SequenceStart(..)) {
                    Frame::Seq {
                        path,
                        items: Vec::new(),
                    }
                } else {
                    Frame::Map {
                        path,
                        entries: Map::new(),
                        key: None,
                    }
                };
                self.open(frame, mark);
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let value = match self.stack.pop() {
                    Some(Frame::Seq { items, .. }) => Value::Array(items),
                    Some(Frame::Map { entries, .. }) => Value::Object(entries),
                    None => return,
                };
                self.push_value(value, mark);
            }
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart
            | Event::DocumentEnd => {}
        }
    }
}

/// A plain scalar under the YAML 1.2 core schema.
fn plain_scalar(text: &str) -> Result<Value, String> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Ok(Value::Null),
        "true" | "True" | "TRUE" => return Ok(Value::Bool(true)),
        "false" | "False" | "FALSE" => return Ok(Value::Bool(false)),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "-.inf" | ".nan" | ".NaN" | ".NAN" => {
            return Err(format!("`{text}` is not a finite number"));
        }
        _ => {}
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && let Ok(i) = text.parse::<i64>()
    {
        return Ok(Value::Number(i.into()));
    }
    if let Some(hex) = text.strip_prefix("0x")
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Ok(Value::Number(i.into()));
    }
    if let Some(oct) = text.strip_prefix("0o")
        && let Ok(i) = i64::from_str_radix(oct, 8)
    {
        return Ok(Value::Number(i.into()));
    }
    let looks_numeric = digits.starts_with(|c: char| c.is_ascii_digit() || c == '.')
        && digits
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '+' | '-'));
    if looks_numeric
        && let Ok(f) = text.parse::<f64>()
        && let Some(n) = Number::from_f64(f)
    {
        return Ok(Value::Number(n));
    }
    Ok(Value::String(text.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_yaml_core_schema() {
        let doc =
            read("a: 1\nb: 2.5\nc: yes\nd: true\ne: 2026-12-01T00:00:00Z\nf: ~\ng: '3'\n").unwrap();
        assert_eq!(
            doc.value,
            json!({"a": 1, "b": 2.5, "c": "yes", "d": true, "e": "2026-12-01T00:00:00Z", "f": null, "g": "3"})
        );
    }

    #[test]
    fn reads_json() {
        let doc =
            read("{\"key\": \"x\", \"goal\": {\"target\": 3, \"steps\": [{\"when\": \"true\"}]}}")
                .unwrap();
        assert_eq!(doc.value["goal"]["steps"][0]["when"], json!("true"));
        let span = doc.map.get("goal.steps[0].when").unwrap();
        assert_eq!(span.style, ScalarStyle::Quoted);
        assert_eq!(span.start, Position::new(1, 55));
    }

    #[test]
    fn remembers_positions_of_values() {
        let text = "key: x\ngoal:\n  kind: count\n  when: 'event.type == \"a\"'\n  steps:\n    - {name: a, when: b}\n";
        let doc = read(text).unwrap();
        let when = doc.map.get("goal.when").unwrap();
        assert_eq!(when.start, Position::new(4, 9));
        assert_eq!(when.locate(Position::new(1, 1)), Position::new(4, 10));
        assert_eq!(
            doc.map.get("goal.steps[0].when").unwrap().start,
            Position::new(6, 23)
        );
        assert_eq!(doc.map.get("goal").unwrap().start, Position::new(2, 1));
    }

    #[test]
    fn locates_inside_block_scalars() {
        let text = "goal:\n  when: |\n    event.type == \"a\"\n      && event.amount > 3\n";
        let doc = read(text).unwrap();
        let span = doc.map.get("goal.when").unwrap();
        assert_eq!(span.locate(Position::new(2, 10)), Position::new(4, 14));
    }

    #[test]
    fn malformed_yaml_has_line_and_column() {
        let err = read("key: x\ngoal: {kind: count\nname: y\n").unwrap_err();
        assert_eq!(err.code, Code::Syntax);
        assert!(err.position.is_some(), "{err:?}");
        assert!(err.message.starts_with("malformed YAML"), "{err:?}");
    }

    #[test]
    fn refuses_aliases_duplicates_and_depth() {
        let alias = read("a: &x {b: 1}\nc: *x\n").unwrap_err();
        assert!(alias.message.contains("anchors"), "{alias:?}");
        let dup = read("a: 1\na: 2\n").unwrap_err();
        assert_eq!(dup.path, "a");
        assert_eq!(dup.position, Some(Position::new(2, 4)));
        let deep = format!("{}{}", "[".repeat(5_000), "]".repeat(5_000));
        let err = read(&deep).unwrap_err();
        assert_eq!(err.code, Code::Syntax, "{err:?}");
    }

    #[test]
    fn bounds_size() {
        let big = format!("a: '{}'", "x".repeat(MAX_SOURCE_BYTES));
        assert!(read(&big).unwrap_err().message.contains("limit"));
    }

    #[test]
    fn places_missing_fields_at_their_parent() {
        let doc = read("key: x\ngoal:\n  kind: count\n").unwrap();
        let mut d = Diagnostic::new("goal.target", Code::MissingField, "missing");
        doc.map.place(&mut d);
        assert_eq!(d.position, Some(Position::new(2, 1)));
    }
}
