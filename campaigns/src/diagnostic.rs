//! Validation problems as data: every diagnostic names the path of the field it is about, says
//! what is wrong, and, where known, where it was written.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A line and column, both counted from 1 (columns in characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column in characters, from 1.
    pub column: u32,
}

impl Position {
    /// A position from a 1-based line and column.
    pub fn new(line: u32, column: u32) -> Self {
        Self { line, column }
    }
}

/// What kind of problem a diagnostic reports: a stable, machine-readable tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Code {
    /// The source text is not well-formed YAML or JSON, or too large or deep to read.
    Syntax,
    /// A required field is absent.
    MissingField,
    /// A field the spec (or this goal kind) does not use.
    UnknownField,
    /// A value of the wrong type (a string where a number belongs, say).
    InvalidType,
    /// A value of the right type that breaks a rule (a target of 0, an unknown timezone...).
    InvalidValue,
    /// A CEL expression that does not compile, is too large, or uses what it may not.
    Cel,
}

/// One problem found while reading or validating a campaign spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Diagnostic {
    /// Where in the spec: `goal.steps[1].when`; empty for the document itself.
    pub path: String,
    /// What kind of problem this is.
    pub code: Code,
    /// What is wrong, for a person.
    pub message: String,
    /// Where in the source file, when the spec was read from text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub position: Option<Position>,
    /// For CEL problems: where inside the expression.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expression_position: Option<Position>,
}

impl Diagnostic {
    /// A diagnostic at `path` with no position yet.
    pub fn new(path: impl Into<String>, code: Code, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code,
            message: message.into(),
            position: None,
            expression_position: None,
        }
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            write!(f, "{}", self.message)?;
        } else {
            write!(f, "{}: {}", self.path, self.message)?;
        }
        if let Some(p) = self.expression_position {
            write!(f, " (expression {}:{})", p.line, p.column)?;
        }
        Ok(())
    }
}

/// The problems that kept a spec from being accepted; never empty.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostics(pub Vec<Diagnostic>);

impl fmt::Display for Diagnostics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostics {}

// Diagnostics, event errors and evaluation errors are the crate's three errors, each data a
// caller reports (with positions, fields, paths) rather than a failure to propagate, so there
// is no crate-wide enum folding them together.

/// The path of `field` inside the object at `parent`.
pub(crate) fn join(parent: &str, field: &str) -> String {
    if parent.is_empty() {
        field.to_owned()
    } else {
        format!("{parent}.{field}")
    }
}

/// The path of item `index` inside the list at `parent`.
pub(crate) fn index(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}
