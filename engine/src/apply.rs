//! Applying one event to every campaign it may concern: shared by the in-memory and the
//! database processors, so that they cannot disagree on anything but storage.
//!
//! An event is evaluated against each candidate campaign (the event-type index), with each
//! campaign's budget state read before the event. Budgets are per campaign, so one campaign's
//! budget decision never changes another's evaluation: the processor takes the budget for each
//! completion afterwards, in campaign order, and refuses the completions it cannot pay for.

use crate::core::{Evaluation, Outcome, Reward, evaluate};
use crate::state::CampaignState;
use campaigns::{Bindings, CompiledCampaign, Customer, EvalError, Event, EventError};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::Arc;

/// What happened to an event as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Applied to every campaign.
    Processed,
    /// Seen before with the same content: no effect.
    Duplicate,
    /// Seen before with other content: refused, no effect.
    Conflict,
    /// Invalid: refused, no effect.
    Rejected,
}

/// What an event did to one campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignOutcome {
    /// Campaign key (shared with the campaign set: no copy per event).
    pub campaign: Arc<str>,
    /// What happened.
    pub outcome: Outcome,
    /// Expressions that failed on this event (each counted as false).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<EvalError>,
}

/// The result of one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventResult {
    /// The event's id (empty when it had none).
    pub event_id: String,
    /// What happened to it.
    pub status: Status,
    /// Why it was rejected or is a conflict.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<EventError>,
    /// Per campaign the event could apply to (campaigns whose conditions rule out its type are
    /// not listed), for processed events and their duplicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub outcomes: Vec<CampaignOutcome>,
    /// Rewards this event issued.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rewards: Vec<Reward>,
}

impl EventResult {
    /// A refused event: rejected or a conflict.
    pub fn refused(event_id: String, status: Status, error: EventError) -> Self {
        EventResult {
            event_id,
            status,
            error: Some(error),
            outcomes: Vec::new(),
            rewards: Vec::new(),
        }
    }

    /// The answer to an event id seen before with other content.
    pub fn conflict(event_id: &str) -> Self {
        let error = EventError {
            field: "id".into(),
            reason: "an event with this id was already processed with different content".into(),
        };
        EventResult::refused(event_id.to_owned(), Status::Conflict, error)
    }

    /// The answer to an event seen before with the same content: the first result again.
    pub fn duplicate_of(first: &EventResult) -> Self {
        EventResult {
            status: Status::Duplicate,
            ..first.clone()
        }
    }
}

/// The campaigns a processor runs, in order, with their event-type index.
#[derive(Debug, Clone)]
pub struct CampaignSet {
    campaigns: Vec<Arc<CompiledCampaign>>,
    keys: Vec<Arc<str>>,
    by_type: HashMap<String, Vec<usize>>,
    any_type: Vec<usize>,
    all: Vec<usize>,
    use_index: bool,
}

impl CampaignSet {
    /// The set, in the order given.
    pub fn new(campaigns: Vec<Arc<CompiledCampaign>>) -> Self {
        let any_type: Vec<usize> = (0..campaigns.len())
            .filter(|&i| campaigns[i].event_types().is_none())
            .collect();
        let mut by_type: HashMap<String, Vec<usize>> = HashMap::new();
        for (i, c) in campaigns.iter().enumerate() {
            for t in c.event_types().into_iter().flatten() {
                by_type.entry(t.clone()).or_default().push(i);
            }
        }
        for list in by_type.values_mut() {
            list.extend(&any_type);
            list.sort_unstable();
        }
        CampaignSet {
            all: (0..campaigns.len()).collect(),
            keys: campaigns
                .iter()
                .map(|c| Arc::from(c.spec().key.as_str()))
                .collect(),
            campaigns,
            by_type,
            any_type,
            use_index: true,
        }
    }

    /// The same set with the index off: every campaign sees every event.
    pub fn without_index(mut self) -> Self {
        self.use_index = false;
        self
    }

    /// The campaigns, in order.
    pub fn campaigns(&self) -> &[Arc<CompiledCampaign>] {
        &self.campaigns
    }

    /// The position of the campaign with `key`.
    pub fn position(&self, key: &str) -> Option<usize> {
        self.campaigns.iter().position(|c| c.spec().key == key)
    }

    /// The campaigns an event of type `kind` may concern, in order.
    pub fn candidates(&self, kind: &str) -> &[usize] {
        if !self.use_index {
            return &self.all;
        }
        self.by_type.get(kind).map_or(&self.any_type, |v| v)
    }

    /// Evaluates `event` against every candidate campaign: `state(i)` is the customer's state
    /// in campaign `i`, `exhausted(i)` whether its budget is spent.
    pub fn evaluate<'s>(
        &self,
        event: &Event,
        profile: Option<&Customer>,
        state: impl Fn(usize) -> Option<&'s CampaignState>,
        exhausted: impl Fn(usize) -> bool,
    ) -> Vec<(usize, Evaluation)> {
        let bindings = Bindings::new(event, profile);
        self.candidates(&event.kind)
            .iter()
            .map(|&i| {
                let e = evaluate(&self.campaigns[i], &bindings, event, state(i), exhausted(i));
                (i, e)
            })
            .collect()
    }

    /// The event's result from its evaluations, once their budgets are settled.
    pub fn result(&self, event: &Event, evaluations: &[(usize, Evaluation)]) -> EventResult {
        let mut result = EventResult {
            event_id: event.id.clone(),
            status: Status::Processed,
            error: None,
            outcomes: Vec::with_capacity(evaluations.len()),
            rewards: Vec::new(),
        };
        for (i, e) in evaluations {
            result.rewards.extend(e.rewards.iter().cloned());
            result.outcomes.push(CampaignOutcome {
                campaign: Arc::clone(&self.keys[*i]),
                outcome: e.outcome,
                errors: e.errors.clone(),
            });
        }
        result
    }
}
