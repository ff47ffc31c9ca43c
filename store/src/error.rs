//! Storage's errors: the domain's own, and what the database can do to a piece of work, sorted
//! by the database's code for it (see the `fault` module).

use crate::fault::{Fault, classify};
use sea_orm::DbErr;

/// What a storage operation can fail with.
#[derive(Debug, Clone, thiserror::Error)]
pub enum Error {
    /// The domain refused (an invalid spec, an unknown campaign, an illegal transition, a
    /// stored document it cannot read).
    #[error(transparent)]
    Engine(#[from] engine::Error),
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
}

impl Error {
    /// The domain's `NotFound`.
    pub fn not_found(message: String) -> Self {
        Error::Engine(engine::Error::NotFound(message))
    }

    /// The domain's `Conflict`.
    pub fn conflict(message: String) -> Self {
        Error::Engine(engine::Error::Conflict(message))
    }

    /// The domain's `Spec`.
    pub fn spec(diagnostics: campaigns::Diagnostics) -> Self {
        Error::Engine(engine::Error::Spec(diagnostics))
    }
}

impl From<DbErr> for Error {
    /// Sorted by the database's own code for the error.
    fn from(e: DbErr) -> Self {
        match classify(&e) {
            Fault::Unavailable => Error::Unavailable(e),
            Fault::Unstorable => Error::Unstorable(e),
            Fault::Contention | Fault::Other => Error::Db(e),
        }
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Engine(e.into())
    }
}

impl From<campaigns::Diagnostics> for Error {
    fn from(e: campaigns::Diagnostics) -> Self {
        Error::Engine(e.into())
    }
}

/// Storage's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
