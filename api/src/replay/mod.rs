//! QA replay: fixtures in, a report out (DESIGN §5).

pub mod fixture;
pub mod generate;
pub mod run;

pub use fixture::{Events, ExpectedReward, Fixture, FixtureError, load};
pub use run::{Counts, Refusal, ReplayError, Report, ReportedReward, count_events, replay};
