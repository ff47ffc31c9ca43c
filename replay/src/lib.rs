//! QA replay: fixtures in, a report out (DESIGN §5).
//!
//! A replay applies its events through the same exactly-once batch processor that serves
//! ingestion ([`store::Store::process_prepared`], which the ingestion pipeline's worker calls
//! too), in file order, in batches of [`run::REPLAY_BATCH`]. It does not go through the
//! pipeline itself: the pipeline exists to group many callers' requests into shared batches,
//! and a replay is one caller that already sends full batches, reading the next ones ahead on a
//! thread of its own.

pub mod fixture;
pub mod generate;
pub mod junit;
pub mod run;

pub use fixture::{Events, ExpectedReward, Fixture, FixtureError, load};
pub use junit::{FixtureRun, junit_xml};
pub use run::{Counts, Refusal, ReplayError, Report, ReportedReward, count_events, replay};
