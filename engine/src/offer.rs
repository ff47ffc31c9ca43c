//! What a customer sees of a campaign: its status for them, their progress toward the goal,
//! the cycles left and what is still missing. Pure: the same campaign, state and instant always
//! give the same offer, so the API, simulations and tests agree.
//!
//! Progress is shown as of the instant asked about: window entries older than the window no
//! longer count, a sequence whose window has passed shows no steps, and a streak whose last
//! period is before the previous one shows 0 (the next qualifying event starts it again).

use crate::core::{fresh, micros, period_index, view};
use crate::state::{CampaignState, Progress};
use campaigns::{CompiledCampaign, Goal};
use chrono::{DateTime, Utc};
use serde::Serialize;

/// Where a customer stands with a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OfferStatus {
    /// Open to them, with no progress in the current cycle.
    Available,
    /// Some progress in the current cycle.
    InProgress,
    /// Every cycle they may complete is done.
    Completed,
    /// The campaign has ended (its schedule is over, or it was ended).
    Expired,
    /// `max_rewards` completions have been issued: nobody can complete it any more.
    BudgetExhausted,
}

/// Progress toward the goal in the current cycle.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfferProgress {
    /// The goal's kind.
    pub kind: campaigns::GoalKind,
    /// Where they are: events counted, the sum, distinct values, the streak, steps done.
    pub current: f64,
    /// Where the goal is.
    pub target: f64,
    /// `current / target` as a percentage, 0 to 100.
    pub percent: f64,
    /// The streak's period (`day` or `week`), for streak goals.
    pub period: Option<&'static str>,
    /// Every step's name, in order, for sequence goals.
    pub step_names: Vec<String>,
    /// The next step's name, for sequence goals not yet done.
    pub next_step: Option<String>,
    /// The rolling window, in seconds, for goals with `within`.
    pub window_seconds: Option<i64>,
}

/// A campaign as one customer sees it at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Offer {
    /// Their status.
    pub status: OfferStatus,
    /// Their progress in the current cycle.
    pub progress: OfferProgress,
    /// The current cycle, from 1 (the last one once completed).
    pub cycle: u32,
    /// Cycles completed.
    pub cycles_completed: u32,
    /// Cycles they may still complete.
    pub cycles_left: u32,
    /// Seconds until the schedule ends, if it has an end and has not reached it.
    pub seconds_left: Option<i64>,
    /// What is still missing to complete the current cycle, for a person.
    pub missing: Option<String>,
}

/// The campaign's facts that do not depend on the customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CampaignFacts {
    /// The campaign was ended by its authors.
    pub ended: bool,
    /// Its `max_rewards` completions have been issued.
    pub budget_exhausted: bool,
}

/// The offer `campaign` makes to a customer whose state is `state` (`None` before their first
/// qualifying event), at instant `at`.
pub fn offer(
    campaign: &CompiledCampaign,
    state: Option<&CampaignState>,
    facts: CampaignFacts,
    at: DateTime<Utc>,
) -> Offer {
    let spec = campaign.spec();
    let per_customer = spec.limits.per_customer;
    let (cycle, finished) = state.map_or((1, false), |s| (s.cycle, s.finished));
    let cycles_completed = if finished {
        cycle
    } else {
        cycle.saturating_sub(1)
    };
    let progress = progress(campaign, state, at);
    let schedule_over = spec.schedule.ends_at.is_some_and(|e| at >= e);
    let status = if finished {
        OfferStatus::Completed
    } else if facts.ended || schedule_over {
        OfferStatus::Expired
    } else if facts.budget_exhausted {
        OfferStatus::BudgetExhausted
    } else if progress.current > 0.0 {
        OfferStatus::InProgress
    } else {
        OfferStatus::Available
    };
    let open = matches!(status, OfferStatus::Available | OfferStatus::InProgress);
    Offer {
        missing: open.then(|| missing(&spec.goal, &progress)),
        status,
        progress,
        cycle,
        cycles_completed,
        cycles_left: per_customer.saturating_sub(cycles_completed),
        seconds_left: spec
            .schedule
            .ends_at
            .filter(|e| *e > at)
            .map(|e| (e - at).num_seconds()),
    }
}

/// A customer's progress in the current cycle, as of `at`.
pub fn progress(
    campaign: &CompiledCampaign,
    state: Option<&CampaignState>,
    at: DateTime<Utc>,
) -> OfferProgress {
    let spec = campaign.spec();
    let goal = &spec.goal;
    let empty;
    let (progress, cycle) = match state {
        Some(s) => (&s.progress, s.cycle),
        None => {
            empty = fresh(goal);
            (&empty, 1)
        }
    };
    let window = goal.within().map(|d| d.seconds());
    let v = view(progress, micros(at), window.map(|w| w * 1_000_000), cycle);
    let mut shown = OfferProgress {
        kind: goal.kind(),
        current: 0.0,
        target: 0.0,
        percent: 0.0,
        period: None,
        step_names: Vec::new(),
        next_step: None,
        window_seconds: window,
    };
    match goal {
        Goal::Count { target, .. } => {
            shown.current = v.count as f64;
            shown.target = *target as f64;
        }
        Goal::Sum { target, .. } => {
            shown.current = v.sum;
            shown.target = *target;
        }
        Goal::Distinct { target, .. } => {
            shown.current = v.distinct as f64;
            shown.target = *target as f64;
        }
        Goal::Streak { target, period, .. } => {
            let alive = match progress {
                Progress::Streak {
                    last_period: Some(last),
                    ..
                } => period_index(at, spec.schedule.timezone, *period) <= last + 1,
                _ => false,
            };
            shown.current = if alive { v.streak as f64 } else { 0.0 };
            shown.target = *target as f64;
            shown.period = Some(match period {
                campaigns::Period::Day => "day",
                campaigns::Period::Week => "week",
            });
        }
        Goal::Sequence { steps, .. } => {
            shown.current = v.step as f64;
            shown.target = steps.len() as f64;
            shown.step_names = steps.iter().map(|s| s.name.clone()).collect();
            shown.next_step = usize::try_from(v.step)
                .ok()
                .and_then(|i| steps.get(i))
                .map(|s| s.name.clone());
        }
    }
    if state.is_some_and(|s| s.finished) {
        shown.current = shown.target;
        shown.next_step = None;
    }
    shown.percent = if shown.target > 0.0 {
        (shown.current / shown.target * 100.0).clamp(0.0, 100.0)
    } else {
        0.0
    };
    shown
}

/// What is still missing, in words.
fn missing(goal: &Goal, p: &OfferProgress) -> String {
    let left = (p.target - p.current).max(0.0);
    let whole = left.ceil() as u64;
    let plural = |n: u64, one: &str, many: &str| {
        if n == 1 {
            format!("1 more {one}")
        } else {
            format!("{n} more {many}")
        }
    };
    let within = goal
        .within()
        .map(|d| format!(" within {d}"))
        .unwrap_or_default();
    match goal {
        Goal::Count { .. } => plural(whole, "qualifying event", "qualifying events") + &within,
        Goal::Sum { .. } => format!(
            "{} more{within}",
            campaigns::Amount::new(left).unwrap_or_default()
        ),
        Goal::Distinct { .. } => plural(whole, "distinct value", "distinct values") + &within,
        Goal::Streak { period, .. } => {
            let (one, many) = match period {
                campaigns::Period::Day => ("day in a row", "days in a row"),
                campaigns::Period::Week => ("week in a row", "weeks in a row"),
            };
            plural(whole, one, many)
        }
        Goal::Sequence { .. } => match &p.next_step {
            Some(next) => format!(
                "next step: {next} ({} of {} done){within}",
                p.current, p.target
            ),
            None => String::new(),
        },
    }
}
