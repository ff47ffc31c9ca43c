//! The engine's errors.

use sea_orm::DbErr;
use std::sync::Arc;

/// Everything that can go wrong in the engine outside of a single event's evaluation (which
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
    /// A campaign spec is invalid.
    #[error("invalid campaign spec:\n{0}")]
    Spec(#[from] campaigns::Diagnostics),
    /// The database cannot take the work now (disk full, I/O error, connection lost, out of
    /// connections): nothing of the failed work was kept, and it can be sent again later.
    #[error("storage unavailable, nothing of this work was kept (retry later): {0}")]
    Unavailable(DbErr),
    /// The database refused a value it cannot store (a NUL character in PostgreSQL text).
    #[error("the database cannot store a value of this request: {0}")]
    Unstorable(DbErr),
    /// The database could not be opened: which one (its password hidden), and why.
    #[error("cannot open the database {url}: {reason}")]
    Connect {
        /// The database URL, without its password.
        url: String,
        /// Why.
        reason: String,
    },
    /// The database failed otherwise.
    #[error("database error: {0}")]
    Db(DbErr),
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

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::StateFormat(Arc::new(e))
    }
}

impl From<DbErr> for Error {
    /// Sorted by the database's own code for the error (see the `store::fault` module).
    fn from(e: DbErr) -> Self {
        use crate::store::Fault;
        match crate::store::classify(&e) {
            Fault::Unavailable => Error::Unavailable(e),
            Fault::Unstorable => Error::Unstorable(e),
            Fault::Contention | Fault::Other => Error::Db(e),
        }
    }
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
