//! The engine's errors.

use sea_orm::DbErr;

/// Everything that can go wrong in the engine outside of a single event's evaluation (which
/// reports per-event outcomes instead).
#[derive(Debug, thiserror::Error)]
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
    StateFormat(#[from] serde_json::Error),
    /// A campaign spec is invalid.
    #[error("invalid campaign spec:\n{0}")]
    Spec(#[from] campaigns::Diagnostics),
    /// The database failed.
    #[error("database error: {0}")]
    Db(#[from] DbErr),
    /// A batch kept meeting concurrent writers and gave up.
    #[error("gave up after {0} attempts: concurrent writers kept changing the same rows")]
    Contention(u32),
    /// The processing pipeline has stopped.
    #[error("the processing pipeline has stopped")]
    Stopped,
    /// No such campaign (or other record).
    #[error("{0}")]
    NotFound(String),
    /// The request contradicts what is stored: a key already taken, a lifecycle transition
    /// the campaign's status does not allow.
    #[error("{0}")]
    Conflict(String),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
