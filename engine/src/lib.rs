//! Offerflow's engine: the pure progress state machine ([`evaluate`]) and the processors that
//! apply it to streams of events.
//!
//! ```
//! use engine::{MemoryProcessor, Status};
//! use serde_json::json;
//!
//! let spec = campaigns::parse(r#"
//! key: two-orders
//! name: Order twice, get 100 points
//! goal: {kind: count, when: 'event.type == "order.completed"', target: 2}
//! rewards: [{kind: points, amount: 100}]
//! "#).unwrap();
//! let mut processor = MemoryProcessor::new(vec![campaigns::CompiledCampaign::compile(spec).unwrap()]);
//! for id in ["e1", "e2", "e2"] {
//!     processor.process_json(&json!({"id": id, "customer_id": "c1", "type": "order.completed",
//!         "occurred_at": "2026-12-01T10:00:00Z"}));
//! }
//! assert_eq!(processor.ledger().len(), 1);
//! assert_eq!(processor.ledger()[0].event_id, "e2");
//! ```

mod apply;
mod core;
mod error;
mod fingerprint;
mod memory;
mod offer;
mod pipeline;
mod state;
mod store;

pub use crate::core::{Evaluation, Outcome, Reason, Reward, evaluate, fresh, micros, period_index};
pub use apply::{CampaignOutcome, CampaignSet, EventResult, Status};
pub use error::{Error, Result};
pub use fingerprint::{fingerprint, to_hex};
pub use memory::MemoryProcessor;
pub use offer::{CampaignFacts, Offer, OfferProgress, OfferStatus, offer, progress};
pub use pipeline::{BatchObserver, BatchReport, Pipeline, PipelineConfig, PipelineStats};
pub use state::{CampaignState, MAX_DISTINCT_VALUE_BYTES, MAX_SUM_WINDOW, Progress, STATE_VERSION};
pub use store::{
    AuditEntry, CacheStats, CampaignRecord, CampaignStatus, CampaignVersion, CustomerView,
    LedgerEntry, OFFER_CAMPAIGNS_TTL, OfferCampaign, Prepared, Store, Transition, VIEW_REWARDS,
    VIEW_TTL, redact,
};
