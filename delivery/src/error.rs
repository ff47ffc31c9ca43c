//! The relay's errors.

/// What delivery can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A webhook URL that may not be used: why.
    #[error("{0}")]
    Target(String),
    /// A retry schedule or duration that cannot be read: why.
    #[error("{0}")]
    Schedule(String),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(String),
    /// Storage failed.
    #[error(transparent)]
    Store(#[from] store::Error),
}

/// The relay's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
