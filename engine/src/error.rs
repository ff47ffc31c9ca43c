//! The engine's errors.

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
    /// A stored state could not be read.
    #[error("stored state is not readable: {0}")]
    StateFormat(#[from] serde_json::Error),
}

/// The engine's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
