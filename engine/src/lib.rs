//! Offerflow's engine: the pure domain. The progress state machine ([`evaluate`]), applying a
//! campaign set to an event ([`CampaignSet`]), offers ([`offer`], [`customer_offers`]), the
//! in-memory processor ([`MemoryProcessor`]), the domain's records ([`CampaignRecord`],
//! [`LedgerEntry`], [`AuditEntry`]...), and the storage traits ([`ports`]) that storage
//! implements, with their memory implementation ([`ports::MemoryStore`]). No I/O, no clock,
//! no database: the `store` crate implements the ports on SQLite and PostgreSQL.
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
mod domain;
mod error;
mod fingerprint;
mod memory;
mod offer;
mod offers;
pub mod ports;
mod state;
mod webhook;

pub use crate::core::{Evaluation, Outcome, Reason, Reward, evaluate, fresh, micros, period_index};
pub use apply::{CampaignOutcome, CampaignSet, EventResult, Status};
pub use domain::{
    AuditEntry, CampaignRecord, CampaignStatus, CampaignVersion, CustomerView, Incoming,
    LedgerEntry, OfferCampaign, Prepared, StoredKey, Transition, VIEW_REWARDS,
};
pub use error::{Error, Result};
pub use fingerprint::{fingerprint, to_hex};
pub use memory::MemoryProcessor;
pub use offer::{CampaignFacts, Offer, OfferProgress, OfferStatus, offer, progress};
pub use offers::{CustomerOffer, customer_offers};
pub use state::{CampaignState, MAX_DISTINCT_VALUE_BYTES, MAX_SUM_WINDOW, Progress, STATE_VERSION};
pub use webhook::{
    AttemptOutcome, DeliveryAttempt, DeliveryStatus, DueMessage, EndpointInput, EndpointPatch,
    Transport, WebhookEndpoint, WebhookMessage, reward_message, webhook_id,
};
