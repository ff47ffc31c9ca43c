//! The in-memory processor: the reference every other processor must match, and what
//! simulations and benchmarks run on.
//!
//! Ids follow DESIGN §2: an event id seen with the same content is a duplicate (no effect, the
//! first result again); with other content a conflict (no effect); an invalid event is rejected
//! with its field and reason and is not remembered, so a corrected one may follow.

use crate::core::{Outcome, Reward, evaluate};
use crate::fingerprint::fingerprint;
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
    /// Campaign key.
    pub campaign: String,
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
    fn refused(event_id: String, status: Status, error: EventError) -> Self {
        EventResult {
            event_id,
            status,
            error: Some(error),
            outcomes: Vec::new(),
            rewards: Vec::new(),
        }
    }
}

/// Processes events in memory, across many customers and campaigns.
#[derive(Debug)]
pub struct MemoryProcessor {
    campaigns: Vec<Arc<CompiledCampaign>>,
    index: TypeIndex,
    use_index: bool,
    customers: HashMap<String, Slot>,
    inbox: HashMap<String, ([u8; 32], Arc<EventResult>)>,
    taken: Vec<u64>,
    ledger: Vec<Reward>,
    errors: HashMap<String, u64>,
}

/// One customer: their profile and their state in each campaign they have one in.
#[derive(Debug, Default)]
struct Slot {
    profile: Option<Customer>,
    /// (campaign index, state), sorted by index; most customers touch few campaigns.
    states: Vec<(usize, CampaignState)>,
}

impl Slot {
    fn state(&self, campaign: usize) -> Option<&CampaignState> {
        self.states
            .binary_search_by_key(&campaign, |(i, _)| *i)
            .ok()
            .map(|at| &self.states[at].1)
    }

    fn set_state(&mut self, campaign: usize, state: CampaignState) {
        match self.states.binary_search_by_key(&campaign, |(i, _)| *i) {
            Ok(at) => self.states[at].1 = state,
            Err(at) => self.states.insert(at, (campaign, state)),
        }
    }
}

impl MemoryProcessor {
    /// A processor over `campaigns`, in the order given.
    pub fn new(campaigns: Vec<CompiledCampaign>) -> Self {
        let campaigns: Vec<Arc<CompiledCampaign>> = campaigns.into_iter().map(Arc::new).collect();
        MemoryProcessor {
            index: TypeIndex::new(&campaigns),
            taken: vec![0; campaigns.len()],
            campaigns,
            use_index: true,
            customers: HashMap::new(),
            inbox: HashMap::new(),
            ledger: Vec::new(),
            errors: HashMap::new(),
        }
    }

    /// Turns the event-type index off (every campaign sees every event), for tests that prove
    /// it never changes a result.
    pub fn without_index(mut self) -> Self {
        self.use_index = false;
        self
    }

    /// Stores or replaces a customer's profile.
    pub fn upsert_customer(&mut self, customer: Customer) {
        let id = customer.id.clone();
        self.customers.entry(id).or_default().profile = Some(customer);
    }

    /// Reads and processes one event in its JSON form.
    pub fn process_json(&mut self, value: &serde_json::Value) -> Arc<EventResult> {
        match Event::from_json(value) {
            Ok(event) => self.process(&event),
            Err(error) => {
                let id = value.get("id").and_then(|v| v.as_str()).unwrap_or_default();
                Arc::new(EventResult::refused(id.to_owned(), Status::Rejected, error))
            }
        }
    }

    /// Processes one event.
    pub fn process(&mut self, event: &Event) -> Arc<EventResult> {
        if let Err(error) = event.validate() {
            let refused = EventResult::refused(event.id.clone(), Status::Rejected, error);
            return Arc::new(refused);
        }
        let print = fingerprint(event);
        if let Some((seen, first)) = self.inbox.get(&event.id) {
            if *seen == print {
                return Arc::new(EventResult {
                    status: Status::Duplicate,
                    ..EventResult::clone(first)
                });
            }
            let error = EventError {
                field: "id".into(),
                reason: "an event with this id was already processed with different content".into(),
            };
            let conflict = EventResult::refused(event.id.clone(), Status::Conflict, error);
            return Arc::new(conflict);
        }
        if !self.customers.contains_key(&event.customer_id) {
            self.customers
                .insert(event.customer_id.clone(), Slot::default());
        }
        let Some(slot) = self.customers.get_mut(&event.customer_id) else {
            unreachable!("inserted above")
        };
        let bindings = Bindings::new(event, slot.profile.as_ref());
        let candidates: &[usize] = if self.use_index {
            self.index.candidates(&event.kind)
        } else {
            &self.index.all
        };
        let mut result = EventResult {
            event_id: event.id.clone(),
            status: Status::Processed,
            error: None,
            outcomes: Vec::with_capacity(candidates.len()),
            rewards: Vec::new(),
        };
        for &i in candidates {
            let campaign = &self.campaigns[i];
            let max = campaign.spec().limits.max_rewards;
            let exhausted = max.is_some_and(|m| self.taken[i] >= m);
            let mut evaluation = evaluate(campaign, &bindings, event, slot.state(i), exhausted);
            if evaluation.takes_budget {
                if max.is_some_and(|m| self.taken[i] < m) {
                    self.taken[i] += 1;
                } else {
                    evaluation = evaluation.budget_refused();
                }
            }
            if !evaluation.errors.is_empty() {
                *self.errors.entry(campaign.spec().key.clone()).or_default() +=
                    evaluation.errors.len() as u64;
            }
            if let Some(state) = evaluation.state {
                slot.set_state(i, state);
            }
            result.rewards.extend(evaluation.rewards);
            result.outcomes.push(CampaignOutcome {
                campaign: campaign.spec().key.clone(),
                outcome: evaluation.outcome,
                errors: evaluation.errors,
            });
        }
        self.ledger.extend(result.rewards.iter().cloned());
        let result = Arc::new(result);
        self.inbox
            .insert(event.id.clone(), (print, Arc::clone(&result)));
        result
    }

    /// Every reward issued, in issue order.
    pub fn ledger(&self) -> &[Reward] {
        &self.ledger
    }

    /// A customer's state in a campaign.
    pub fn state(&self, customer_id: &str, campaign: &str) -> Option<&CampaignState> {
        let i = self.position(campaign)?;
        self.customers.get(customer_id)?.state(i)
    }

    /// Every (customer, campaign key, state), for comparisons.
    pub fn states(&self) -> impl Iterator<Item = (&str, &str, &CampaignState)> {
        self.customers.iter().flat_map(move |(c, slot)| {
            slot.states
                .iter()
                .map(move |(i, s)| (c.as_str(), self.campaigns[*i].spec().key.as_str(), s))
        })
    }

    /// Completions taken from a campaign's budget so far.
    pub fn budget_taken(&self, campaign: &str) -> u64 {
        self.position(campaign).map_or(0, |i| self.taken[i])
    }

    /// Evaluation errors counted per campaign key.
    pub fn error_counts(&self) -> &HashMap<String, u64> {
        &self.errors
    }

    /// The campaigns, in order.
    pub fn campaigns(&self) -> &[Arc<CompiledCampaign>] {
        &self.campaigns
    }

    fn position(&self, campaign: &str) -> Option<usize> {
        self.campaigns.iter().position(|c| c.spec().key == campaign)
    }
}

/// Event type → the campaigns that may react to it, in campaign order.
#[derive(Debug)]
struct TypeIndex {
    by_type: HashMap<String, Vec<usize>>,
    any_type: Vec<usize>,
    all: Vec<usize>,
}

impl TypeIndex {
    fn new(campaigns: &[Arc<CompiledCampaign>]) -> Self {
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
        TypeIndex {
            by_type,
            any_type,
            all: (0..campaigns.len()).collect(),
        }
    }

    fn candidates(&self, kind: &str) -> &[usize] {
        self.by_type.get(kind).map_or(&self.any_type, |v| v)
    }
}
