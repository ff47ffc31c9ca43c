//! Offerflow's reward delivery (DESIGN §9): the outbox relay that sends every reward to the
//! webhook endpoints it is for, signed per Standard Webhooks 1.0, retried on a schedule,
//! at least once, shared by every node on one database.
//!
//! - [`signature`]: secrets and signatures.
//! - [`target`]: which URLs and addresses webhooks may go to.
//! - [`schedule`]: the retry schedule and `Retry-After`.
//! - [`relay`]: the worker every `offerflow serve` node runs.
//! - [`stream`]: the NATS reward stream.

mod error;
pub mod relay;
pub mod schedule;
pub mod signature;
pub mod stream;
pub mod target;

pub use error::{Error, Result};
pub use relay::{AttemptObserver, AttemptReport, Relay, RelayConfig};
pub use stream::{RewardStream, StreamConfig};
