//! `simulateCampaign`: a campaign run over given events and profiles in a fresh in-memory
//! processor, the same engine the server runs, touching no stored state.

use super::inputs::{CampaignInput, CustomerInput, require_spec};
use super::types::{EventCounts, EventOutcome, OfferProgress, OfferStatus, Reward};
use crate::app::App;
use crate::error::{ApiError, Result};
use async_graphql::{Json, SimpleObject};
use campaigns::{CompiledCampaign, Customer, Event};
use engine::{CampaignFacts, MemoryProcessor};
use serde_json::Value;

/// The answer of `simulateCampaign`.
#[derive(Debug, Clone, SimpleObject)]
pub struct Simulation {
    /// The campaign's key.
    pub campaign: String,
    /// Each event's outcome with the progress after it, in the order given.
    pub events: Vec<SimulatedEvent>,
    /// Every reward issued, in issue order.
    pub rewards: Vec<Reward>,
    /// How many events ended each way.
    pub counts: EventCounts,
    /// How many expression evaluations failed (each counted as false).
    pub evaluation_errors: i64,
}

/// One simulated event.
#[derive(Debug, Clone, SimpleObject)]
pub struct SimulatedEvent {
    /// What it did.
    pub result: EventOutcome,
    /// Its customer, when the event was readable.
    pub customer_id: Option<String>,
    /// The customer's progress right after it, as of its time.
    pub progress: Option<OfferProgress>,
    /// The customer's offer status right after it.
    pub status: Option<OfferStatus>,
    /// The customer's cycle right after it.
    pub cycle: Option<i64>,
}

pub(super) async fn simulate(
    app: &App,
    key: Option<String>,
    input: Option<CampaignInput>,
    source: Option<String>,
    events: Vec<Json<Value>>,
    customers: Vec<CustomerInput>,
) -> Result<Simulation> {
    let limit = app.config().max_simulation_events;
    if events.len() > limit || customers.len() > limit {
        return Err(ApiError::LimitExceeded(format!(
            "events: a simulation takes at most {limit} events and {limit} customers (max_simulation_events)"
        )));
    }
    let spec = match key {
        Some(key) if input.is_none() && source.is_none() => {
            let record = app.store().campaign(&key).await?;
            record
                .ok_or_else(|| ApiError::NotFound(format!("no campaign with key `{key}`")))?
                .draft
        }
        Some(_) => {
            return Err(ApiError::bad(
                "key",
                "give the campaign as `key`, `input` or `source`: one of them",
            ));
        }
        None => require_spec(input.as_ref(), source.as_deref())?,
    };
    let mut profiles = Vec::with_capacity(customers.len());
    for (i, c) in customers.into_iter().enumerate() {
        let attributes = match c.attributes.map(|j| j.0) {
            None | Some(Value::Null) => serde_json::Map::new(),
            Some(Value::Object(m)) => m,
            Some(_) => {
                return Err(ApiError::bad(
                    format!("customers[{i}].attributes"),
                    "must be a JSON object",
                ));
            }
        };
        campaigns::check_attributes(&attributes)
            .map_err(|e| ApiError::bad(format!("customers[{i}].{}", e.field), e.reason))?;
        profiles.push(Customer {
            id: c.id,
            attributes,
        });
    }
    let campaign = CompiledCampaign::compile(spec)?;
    let events: Vec<Value> = events.into_iter().map(|j| j.0).collect();
    // Evaluation is CPU work: keep it off the request threads.
    tokio::task::spawn_blocking(move || run(campaign, profiles, &events))
        .await
        .map_err(|e| ApiError::Internal(format!("simulation task: {e}")))
}

fn run(campaign: CompiledCampaign, profiles: Vec<Customer>, events: &[Value]) -> Simulation {
    let key = campaign.spec().key.clone();
    let max = campaign.spec().limits.max_rewards;
    let mut processor = MemoryProcessor::new(vec![campaign]);
    for p in profiles {
        processor.upsert_customer(p);
    }
    let mut simulated = Vec::with_capacity(events.len());
    let mut results = Vec::with_capacity(events.len());
    for value in events {
        let result = processor.process_json(value);
        let event = Event::from_json(value).ok();
        let mut step = SimulatedEvent {
            result: EventOutcome::from(result.as_ref()),
            customer_id: event.as_ref().map(|e| e.customer_id.clone()),
            progress: None,
            status: None,
            cycle: None,
        };
        if let Some(e) = event {
            let state = processor.state(&e.customer_id, &key);
            let facts = CampaignFacts {
                ended: false,
                budget_exhausted: max.is_some_and(|m| processor.budget_taken(&key) >= m),
            };
            let campaign = &processor.campaigns()[0];
            let offer = engine::offer(campaign, state, facts, e.occurred_at);
            step.status = Some(offer.status.into());
            step.cycle = Some(i64::from(offer.cycle));
            step.progress = Some(offer.progress.into());
        }
        simulated.push(step);
        results.push(result);
    }
    Simulation {
        campaign: key,
        counts: EventCounts::of(results.iter().map(|r| r.as_ref())),
        rewards: processor.ledger().iter().map(Reward::from).collect(),
        evaluation_errors: processor.error_counts().values().sum::<u64>() as i64,
        events: simulated,
    }
}
