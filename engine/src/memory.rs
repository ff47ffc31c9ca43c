//! The in-memory processor: the reference every other processor must match, and what
//! simulations and benchmarks run on.
//!
//! Ids follow DESIGN §2: an event id seen with the same content is a duplicate (no effect, the
//! first result again); with other content a conflict (no effect); an invalid event is rejected
//! with its field and reason and is not remembered, so a corrected one may follow.

use crate::apply::{CampaignSet, EventResult, Status};
use crate::core::Reward;
use crate::fingerprint::fingerprint;
use crate::state::CampaignState;
use campaigns::{CompiledCampaign, Customer, Event};
use std::collections::HashMap;
use std::sync::Arc;

/// Processes events in memory, across many customers and campaigns.
#[derive(Debug)]
pub struct MemoryProcessor {
    set: CampaignSet,
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
            taken: vec![0; campaigns.len()],
            set: CampaignSet::new(campaigns),
            customers: HashMap::new(),
            inbox: HashMap::new(),
            ledger: Vec::new(),
            errors: HashMap::new(),
        }
    }

    /// Installs `campaign`: a new version of a campaign it holds replaces that one and keeps
    /// its customers' progress and budget (as storage does, by key); a new key joins in key
    /// order, the order storage applies campaigns in.
    pub fn install(&mut self, campaign: CompiledCampaign) {
        let old: Vec<Arc<CompiledCampaign>> = self.set.campaigns().to_vec();
        let mut campaigns = old.clone();
        let key = campaign.spec().key.clone();
        match campaigns.iter().position(|c| c.spec().key == key) {
            Some(at) => campaigns[at] = Arc::new(campaign),
            None => campaigns.push(Arc::new(campaign)),
        }
        campaigns.sort_by(|a, b| a.spec().key.cmp(&b.spec().key));
        let position = |key: &str| campaigns.iter().position(|c| c.spec().key == key);
        // Old index → new index, by key.
        let moved: Vec<usize> = old
            .iter()
            .map(|c| position(&c.spec().key).unwrap_or_else(|| unreachable!("kept")))
            .collect();
        let mut taken = vec![0; campaigns.len()];
        for (i, n) in self.taken.iter().enumerate() {
            taken[moved[i]] = *n;
        }
        for slot in self.customers.values_mut() {
            for (i, _) in &mut slot.states {
                *i = moved[*i];
            }
            slot.states.sort_by_key(|(i, _)| *i);
        }
        self.taken = taken;
        self.set = CampaignSet::new(campaigns);
    }

    /// The result event `id` had, if it was processed.
    pub fn result(&self, id: &str) -> Option<Arc<EventResult>> {
        self.inbox.get(id).map(|(_, result)| Arc::clone(result))
    }

    /// Customer `id`'s profile, if one was stored.
    pub fn customer(&self, id: &str) -> Option<&Customer> {
        self.customers.get(id)?.profile.as_ref()
    }

    /// Turns the event-type index off (every campaign sees every event), for tests that prove
    /// it never changes a result.
    pub fn without_index(mut self) -> Self {
        self.set = self.set.without_index();
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
            return Arc::new(if *seen == print {
                EventResult::duplicate_of(first)
            } else {
                EventResult::conflict(&event.id)
            });
        }
        if !self.customers.contains_key(&event.customer_id) {
            self.customers
                .insert(event.customer_id.clone(), Slot::default());
        }
        let Some(slot) = self.customers.get_mut(&event.customer_id) else {
            unreachable!("inserted above")
        };
        let taken = &mut self.taken;
        let max = |i: usize| self.set.campaigns()[i].spec().limits.max_rewards;
        let mut evaluations = self.set.evaluate(
            event,
            slot.profile.as_ref(),
            |i| slot.state(i),
            |i| max(i).is_some_and(|m| taken[i] >= m),
        );
        for (i, evaluation) in &mut evaluations {
            if evaluation.takes_budget {
                if max(*i).is_some_and(|m| taken[*i] < m) {
                    taken[*i] += 1;
                } else {
                    evaluation.refuse_budget();
                }
            }
        }
        let result = self.set.result(event, &evaluations);
        for (i, evaluation) in evaluations {
            let errors = evaluation.errors.len() as u64;
            if errors > 0 {
                let key = &self.set.campaigns()[i].spec().key;
                *self.errors.entry(key.clone()).or_default() += errors;
            }
            if let Some(state) = evaluation.state {
                slot.set_state(i, state);
            }
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
                .map(move |(i, s)| (c.as_str(), self.set.campaigns()[*i].spec().key.as_str(), s))
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
        self.set.campaigns()
    }

    fn position(&self, campaign: &str) -> Option<usize> {
        self.set.position(campaign)
    }
}
