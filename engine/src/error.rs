//! The engine's errors: what the domain itself can refuse. Storage has its own (the `store`
//! crate's `Error`), which carries these.

use std::sync::Arc;

/// Everything that can go wrong in the domain outside of a single event's evaluation (which
/// reports per-event outcomes instead).
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// A stored state was written by another schema version.
    #[error("stored state has schema version {found}; this engine reads version {expected}")]
    StateVersion {
        /// The version found.
        found: u8,
        /// The version this engine reads.
        expected: u8,
    },
    /// A stored document (state, spec, result) could not be read.
    #[error("stored document is not readable: {0}")]
    StateFormat(Arc<serde_json::Error>),
    /// A stored record holds a value this engine does not know (a campaign status, a negative
    /// cycle...).
    #[error("stored record is not readable: {0}")]
    Corrupt(String),
    /// A campaign spec is invalid.
    #[error("invalid campaign spec:\n{0}")]
    Spec(#[from] campaigns::Diagnostics),
    /// No such campaign (or other record).
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts what is stored: a key already taken, a lifecycle transition
    /// the campaign's status does not allow.
    #[error("{0}")]
    Conflict(String),
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::StateFormat(Arc::new(e))
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
