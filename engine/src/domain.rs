//! The domain's records, as storage hands them over and the API shows them: campaign lifecycle
//! and versions, the audit log, ledger entries, a customer's view, and events made ready for a
//! batch. No storage type appears here; storage converts at its edge.

use crate::apply::{EventResult, Status};
use crate::core::Reward;
use crate::error::{Error, Result};
use crate::fingerprint::{fingerprint, to_hex};
use crate::offer::CampaignFacts;
use crate::state::CampaignState;
use campaigns::{CampaignSpec, CompiledCampaign, Customer, Event};
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// A campaign's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Being written; never published.
    Draft,
    /// Running: its latest version processes events.
    Published,
    /// Stopped for now: ignores events until resumed.
    Paused,
    /// Over for good: ignores events; its history stays.
    Ended,
    /// Put away: hidden from customers.
    Archived,
}

impl CampaignStatus {
    /// Every status, in lifecycle order.
    pub const ALL: [CampaignStatus; 5] = [
        CampaignStatus::Draft,
        CampaignStatus::Published,
        CampaignStatus::Paused,
        CampaignStatus::Ended,
        CampaignStatus::Archived,
    ];

    /// The status as stored.
    pub fn as_str(self) -> &'static str {
        match self {
            CampaignStatus::Draft => "draft",
            CampaignStatus::Published => "published",
            CampaignStatus::Paused => "paused",
            CampaignStatus::Ended => "ended",
            CampaignStatus::Archived => "archived",
        }
    }

    /// Reads a stored status.
    pub fn parse(text: &str) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|s| s.as_str() == text)
            .ok_or_else(|| Error::Corrupt(format!("unknown campaign status `{text}`")))
    }

    /// Whether the draft may still be edited and published.
    pub fn editable(self) -> bool {
        matches!(
            self,
            CampaignStatus::Draft | CampaignStatus::Published | CampaignStatus::Paused
        )
    }
}

impl std::fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A lifecycle change other than publishing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// published → paused.
    Pause,
    /// paused → published.
    Resume,
    /// published or paused → ended.
    End,
    /// draft or ended → archived.
    Archive,
}

impl Transition {
    /// The verb, as audited (`campaign.pause`) and shown in errors.
    pub fn name(self) -> &'static str {
        match self {
            Transition::Pause => "pause",
            Transition::Resume => "resume",
            Transition::End => "end",
            Transition::Archive => "archive",
        }
    }

    /// The statuses it applies to.
    pub fn from(self) -> &'static [CampaignStatus] {
        use CampaignStatus::*;
        match self {
            Transition::Pause => &[Published],
            Transition::Resume => &[Paused],
            Transition::End => &[Published, Paused],
            Transition::Archive => &[Draft, Ended],
        }
    }

    /// The status it leads to.
    pub fn to(self) -> CampaignStatus {
        match self {
            Transition::Pause => CampaignStatus::Paused,
            Transition::Resume => CampaignStatus::Published,
            Transition::End => CampaignStatus::Ended,
            Transition::Archive => CampaignStatus::Archived,
        }
    }
}

/// A stored campaign: its draft, status and latest published version.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRecord {
    /// The lifecycle status.
    pub status: CampaignStatus,
    /// The draft: what the next publication will make a version of.
    pub draft: CampaignSpec,
    /// The latest published version, 0 before the first.
    pub version: i32,
    /// The latest published version's spec.
    pub published: Option<CampaignSpec>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl CampaignRecord {
    /// The campaign's key.
    pub fn key(&self) -> &str {
        &self.draft.key
    }

    /// Whether the draft differs from the latest published version (always, before the first).
    pub fn has_unpublished_changes(&self) -> bool {
        self.published.as_ref() != Some(&self.draft)
    }
}

/// One published version.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignVersion {
    /// The version, from 1.
    pub version: i32,
    /// Its spec, as published.
    pub spec: CampaignSpec,
    /// When.
    pub published_at: DateTime<Utc>,
}

/// One audited change.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    /// The entry's id, increasing.
    pub id: i64,
    /// When.
    pub at: DateTime<Utc>,
    /// Who: the API key's name, `api`, `cli`...
    pub actor: String,
    /// What: `campaign.create`, `campaign.update`, `campaign.publish`, `campaign.pause`...
    pub action: String,
    /// The campaign concerned.
    pub campaign: Option<String>,
    /// What changed, as JSON: the spec created, the fields updated with their values before
    /// and after, the version published, the statuses before and after.
    pub details: Value,
}

/// A reward in the ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct LedgerEntry {
    /// The ledger id, in issue order.
    pub id: i64,
    /// The reward.
    pub reward: Reward,
    /// When it was issued.
    pub issued_at: DateTime<Utc>,
}

/// A campaign that may be offered: published (running) or ended, compiled from its latest
/// version, with the facts that decide its offers' status.
#[derive(Debug, Clone)]
pub struct OfferCampaign {
    /// The compiled latest version.
    pub campaign: Arc<CompiledCampaign>,
    /// Its lifecycle status: published or ended.
    pub status: CampaignStatus,
    /// Ended, budget exhausted.
    pub facts: CampaignFacts,
}

/// Rewards a view holds at most, oldest first; past it, the newest are not in the view.
pub const VIEW_REWARDS: u64 = 10_000;

/// What a customer's offers are made of, as read together.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomerView {
    /// The stored profile, if any.
    pub profile: Option<Customer>,
    /// Their state in each campaign they have one in, by campaign key.
    pub states: HashMap<String, CampaignState>,
    /// Their rewards in issue order, the first [`VIEW_REWARDS`] at most.
    pub rewards: Vec<LedgerEntry>,
}

impl CustomerView {
    /// Whether `rewards` holds every reward of the customer (fewer than [`VIEW_REWARDS`]).
    pub fn all_rewards(&self) -> bool {
        (self.rewards.len() as u64) < VIEW_REWARDS
    }
}

/// Events read and fingerprinted, ready for a batch: the work that needs no database, done by
/// the caller (on its own task, in parallel with other callers) before the batch.
#[derive(Debug, Clone, Default)]
pub struct Prepared(Vec<Incoming>);

/// One incoming event: read with its fingerprint, or refused with field and reason.
pub type Incoming = std::result::Result<(Event, String), Box<EventResult>>;

impl Prepared {
    /// Reads `events` (their JSON forms); invalid ones are kept as their refusals.
    pub fn new(events: &[serde_json::Value]) -> Self {
        Prepared(
            events
                .iter()
                .map(|v| match Event::from_json(v) {
                    Ok(e) => {
                        let print = to_hex(&fingerprint(&e));
                        Ok((e, print))
                    }
                    Err(error) => {
                        let id = v.get("id").and_then(|i| i.as_str()).unwrap_or_default();
                        Err(Box::new(EventResult::refused(
                            id.to_owned(),
                            Status::Rejected,
                            error,
                        )))
                    }
                })
                .collect(),
        )
    }

    /// The events, in order.
    pub fn events(&self) -> &[Incoming] {
        &self.0
    }

    /// How many events.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Appends `other`'s events after these.
    pub fn append(&mut self, mut other: Prepared) {
        self.0.append(&mut other.0);
    }
}

/// An API key as stored: its secret never, only the secret's SHA-256 (hex).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredKey {
    /// Public id (the `<id>` of `of_<id>_<secret>`).
    pub id: String,
    /// A name for people.
    pub name: String,
    /// Its scopes' names.
    pub scopes: Vec<String>,
    /// SHA-256 of the whole key, hex.
    pub hash: String,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}
