//! GraphQL output types of processing: what an event did as a whole and to each campaign,
//! a customer's processed events, and what an ingestion answered.

use async_graphql::{Enum, SimpleObject};
use chrono::{DateTime, Utc};
use engine::{CampaignOutcome as DomainOutcome, EventResult, Outcome, Reason};

use super::types::Reward;

/// What happened to an event as a whole.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum EventStatus {
    /// Applied.
    Processed,
    /// Seen before with the same content: no effect; the first outcome is repeated.
    Duplicate,
    /// Seen before with other content: refused.
    Conflict,
    /// Invalid: refused.
    Rejected,
}

/// What an event did to one campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OutcomeKind {
    /// It does not count (see `reason`).
    NotApplicable,
    /// It qualified but moved nothing.
    Qualified,
    /// It moved the progress.
    Progressed,
    /// It completed the goal.
    Completed,
}

/// Why an event does not count for a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum NotApplicableReason {
    /// Before the schedule's start.
    NotStarted,
    /// At or after the schedule's end.
    Ended,
    /// The customer completed every cycle.
    CustomerFinished,
    /// `maxRewards` completions were issued.
    BudgetExhausted,
    /// The audience does not hold.
    Audience,
    /// The condition does not hold (or failed).
    ConditionFalse,
}

/// An event's field and what is wrong with it.
#[derive(Debug, Clone, SimpleObject)]
pub struct EventError {
    /// The field (`occurred_at`, `attributes.id`), empty for the event itself.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// An expression that failed on an event (it counted as false).
#[derive(Debug, Clone, SimpleObject)]
pub struct EvaluationError {
    /// Which expression: `goal.when`, `audience`, `rewards[0].amount_expr`.
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// What an event did to one campaign.
#[derive(Debug, Clone, SimpleObject)]
pub struct CampaignOutcome {
    /// Campaign key.
    pub campaign: String,
    /// What happened.
    pub result: OutcomeKind,
    /// Why it did not count, for `NOT_APPLICABLE`.
    pub reason: Option<NotApplicableReason>,
    /// The cycle completed, for `COMPLETED`.
    pub cycle: Option<i64>,
    /// Expressions that failed.
    pub errors: Vec<EvaluationError>,
}

impl From<&DomainOutcome> for CampaignOutcome {
    fn from(o: &DomainOutcome) -> Self {
        let (result, reason, cycle) = match o.outcome {
            Outcome::NotApplicable { reason } => (
                OutcomeKind::NotApplicable,
                Some(match reason {
                    Reason::NotStarted => NotApplicableReason::NotStarted,
                    Reason::Ended => NotApplicableReason::Ended,
                    Reason::CustomerFinished => NotApplicableReason::CustomerFinished,
                    Reason::BudgetExhausted => NotApplicableReason::BudgetExhausted,
                    Reason::Audience => NotApplicableReason::Audience,
                    Reason::ConditionFalse => NotApplicableReason::ConditionFalse,
                }),
                None,
            ),
            Outcome::Qualified => (OutcomeKind::Qualified, None, None),
            Outcome::Progressed => (OutcomeKind::Progressed, None, None),
            Outcome::Completed { cycle } => (OutcomeKind::Completed, None, Some(i64::from(cycle))),
        };
        CampaignOutcome {
            campaign: o.campaign.to_string(),
            result,
            reason,
            cycle,
            errors: o
                .errors
                .iter()
                .map(|e| EvaluationError {
                    path: e.path.clone(),
                    message: e.message.clone(),
                })
                .collect(),
        }
    }
}

/// An event's processing outcome.
#[derive(Debug, Clone, SimpleObject)]
pub struct EventOutcome {
    /// The event's id (empty when it had none).
    pub event_id: String,
    /// What happened to it.
    pub status: EventStatus,
    /// Why it was rejected or is a conflict.
    pub error: Option<EventError>,
    /// Per campaign it could apply to.
    pub outcomes: Vec<CampaignOutcome>,
    /// Rewards it issued.
    pub rewards: Vec<Reward>,
}

impl From<&EventResult> for EventOutcome {
    fn from(r: &EventResult) -> Self {
        EventOutcome {
            event_id: r.event_id.clone(),
            status: match r.status {
                engine::Status::Processed => EventStatus::Processed,
                engine::Status::Duplicate => EventStatus::Duplicate,
                engine::Status::Conflict => EventStatus::Conflict,
                engine::Status::Rejected => EventStatus::Rejected,
            },
            error: r.error.as_ref().map(|e| EventError {
                field: e.field.clone(),
                reason: e.reason.clone(),
            }),
            outcomes: r.outcomes.iter().map(CampaignOutcome::from).collect(),
            rewards: r.rewards.iter().map(Reward::from).collect(),
        }
    }
}

/// One event a customer sent, as it was processed.
#[derive(Debug, Clone, SimpleObject)]
pub struct CustomerEvent {
    /// When it was processed.
    pub processed_at: DateTime<Utc>,
    /// What it did.
    pub outcome: EventOutcome,
}

impl From<&store::ProcessedEvent> for CustomerEvent {
    fn from(e: &store::ProcessedEvent) -> Self {
        CustomerEvent {
            processed_at: e.processed_at,
            outcome: EventOutcome::from(&e.result),
        }
    }
}

/// How many events ended each way.
#[derive(Debug, Clone, Copy, Default, SimpleObject)]
pub struct EventCounts {
    /// Applied.
    pub processed: i64,
    /// Seen before, same content.
    pub duplicate: i64,
    /// Seen before, other content.
    pub conflict: i64,
    /// Invalid.
    pub rejected: i64,
}

impl EventCounts {
    /// Counts `results`.
    pub fn of<'a>(results: impl IntoIterator<Item = &'a EventResult>) -> Self {
        let mut c = EventCounts::default();
        for r in results {
            match r.status {
                engine::Status::Processed => c.processed += 1,
                engine::Status::Duplicate => c.duplicate += 1,
                engine::Status::Conflict => c.conflict += 1,
                engine::Status::Rejected => c.rejected += 1,
            }
        }
        c
    }
}

/// The answer of `ingestEvents`.
#[derive(Debug, Clone, SimpleObject)]
pub struct IngestResult {
    /// Each event's outcome, in the order sent.
    pub results: Vec<EventOutcome>,
    /// How many ended each way.
    pub counts: EventCounts,
}
