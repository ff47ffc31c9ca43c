//! The pure progress state machine: one event, one campaign, one customer's state in, the new
//! state, the outcome and the rewards out. No I/O, no clock, no randomness: the same inputs
//! always give the same result, which is what lets replays, simulations and the database
//! processor agree (DESIGN §4).

use crate::state::{CampaignState, MAX_DISTINCT_VALUE_BYTES, MAX_SUM_WINDOW, Progress};
use campaigns::{
    Amount, Bindings, CompiledCampaign, EvalError, Event, Goal, Period, ProgressView, RewardKind,
};
use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// What an event did to a campaign for its customer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The event does not count for this campaign, and why.
    NotApplicable {
        /// Why.
        reason: Reason,
    },
    /// The event qualified but moved nothing (a second event on the same streak day).
    Qualified,
    /// The event moved the customer's progress.
    Progressed,
    /// The event completed the goal: the cycle's rewards are issued.
    Completed {
        /// The cycle completed, from 1.
        cycle: u32,
    },
}

/// Why an event does not count for a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reason {
    /// Before the schedule's `starts_at`.
    NotStarted,
    /// At or after the schedule's `ends_at`.
    Ended,
    /// The customer has completed every cycle they may.
    CustomerFinished,
    /// `max_rewards` completions have been issued.
    BudgetExhausted,
    /// The audience does not hold (or failed to evaluate) for this customer.
    Audience,
    /// The goal's condition (or the next step's) does not hold, or failed to evaluate.
    ConditionFalse,
}

/// One reward to issue; its identity is (campaign, customer, cycle, reward index).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Reward {
    /// Campaign key.
    pub campaign: String,
    /// Who earns it.
    pub customer_id: String,
    /// The completing event.
    pub event_id: String,
    /// The cycle completed, from 1.
    pub cycle: u32,
    /// Index in the campaign's `rewards`.
    pub reward_index: u32,
    /// What kind of reward.
    pub kind: RewardKind,
    /// How much (0 when `amount_expr` failed; the error is reported with the evaluation).
    pub amount: Amount,
    /// The reward's code, if the spec gives one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
}

/// The result of one event against one campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// What happened.
    pub outcome: Outcome,
    /// The new state, when it changed.
    pub state: Option<CampaignState>,
    /// Rewards to issue (non-empty only on completion).
    pub rewards: Vec<Reward>,
    /// Expressions that failed (each counted as false, or as amount 0).
    pub errors: Vec<EvalError>,
    /// Whether the caller must take one unit of the campaign's budget before committing; if it
    /// cannot, it calls [`Evaluation::refuse_budget`].
    pub takes_budget: bool,
}

impl Evaluation {
    fn not_applicable(reason: Reason, errors: Vec<EvalError>) -> Self {
        Evaluation {
            outcome: Outcome::NotApplicable { reason },
            state: None,
            rewards: Vec::new(),
            errors,
            takes_budget: false,
        }
    }

    /// Turns the evaluation into what it is when the budget could not be taken: nothing
    /// changes, the campaign's budget is exhausted.
    pub fn refuse_budget(&mut self) {
        self.outcome = Outcome::NotApplicable {
            reason: Reason::BudgetExhausted,
        };
        self.state = None;
        self.rewards.clear();
        self.takes_budget = false;
    }
}

/// Applies `event` to one customer's `state` in `campaign` (`None` before their first event).
///
/// `budget_exhausted` tells whether `max_rewards` completions are already issued; the campaign
/// then no longer applies.
pub fn evaluate(
    campaign: &CompiledCampaign,
    bindings: &Bindings<'_>,
    event: &Event,
    state: Option<&CampaignState>,
    budget_exhausted: bool,
) -> Evaluation {
    let spec = campaign.spec();
    let t = event.occurred_at;
    if spec.schedule.starts_at.is_some_and(|s| t < s) {
        return Evaluation::not_applicable(Reason::NotStarted, Vec::new());
    }
    if spec.schedule.ends_at.is_some_and(|e| t >= e) {
        return Evaluation::not_applicable(Reason::Ended, Vec::new());
    }
    if state.is_some_and(|s| s.finished) {
        return Evaluation::not_applicable(Reason::CustomerFinished, Vec::new());
    }
    if budget_exhausted {
        return Evaluation::not_applicable(Reason::BudgetExhausted, Vec::new());
    }
    let mut errors = Vec::new();
    match campaign.audience_holds(bindings) {
        Ok(true) => {}
        Ok(false) => return Evaluation::not_applicable(Reason::Audience, errors),
        Err(e) => {
            errors.push(e);
            return Evaluation::not_applicable(Reason::Audience, errors);
        }
    }
    let initial;
    let current = match state {
        Some(s) => s,
        None => {
            initial = CampaignState::new(fresh(&spec.goal));
            &initial
        }
    };
    let w = spec.goal.within().map(|d| d.seconds() * 1_000_000);
    let before = view(&current.progress, micros(t), w, current.cycle);
    // The goal's condition, or the next step's: with a timed-out sequence, the first step's.
    let condition = match spec.goal {
        Goal::Sequence { .. } => usize::try_from(before.step).unwrap_or(usize::MAX),
        _ => 0,
    };
    match campaign.condition_holds(condition, bindings, before) {
        Ok(true) => {}
        Ok(false) => return Evaluation::not_applicable(Reason::ConditionFalse, errors),
        Err(e) => {
            errors.push(e);
            return Evaluation::not_applicable(Reason::ConditionFalse, errors);
        }
    }
    // Only now, with the event qualifying, is the state copied to be changed.
    let mut next = current.clone();
    let mut step = Stepper {
        campaign,
        bindings,
        t: micros(t),
        w,
        before,
        errors: &mut errors,
    };
    let advance = step.advance(&mut next.progress, spec.schedule.timezone);
    match advance {
        Advance::NotQualified => Evaluation::not_applicable(Reason::ConditionFalse, errors),
        Advance::Unchanged => Evaluation {
            outcome: Outcome::Qualified,
            state: None,
            rewards: Vec::new(),
            errors,
            takes_budget: false,
        },
        Advance::Progressed => Evaluation {
            outcome: Outcome::Progressed,
            state: Some(next),
            rewards: Vec::new(),
            errors,
            takes_budget: false,
        },
        Advance::Done(after) => {
            let cycle = next.cycle;
            let rewards = spec
                .rewards
                .iter()
                .enumerate()
                .map(|(i, r)| {
                    let amount = campaign
                        .reward_amount(i, bindings, after)
                        .unwrap_or_else(|e| {
                            errors.push(e);
                            Amount::default()
                        });
                    Reward {
                        campaign: spec.key.clone(),
                        customer_id: event.customer_id.clone(),
                        event_id: event.id.clone(),
                        cycle,
                        reward_index: u32::try_from(i).unwrap_or(u32::MAX),
                        kind: r.kind,
                        amount,
                        code: r.code.clone(),
                    }
                })
                .collect();
            if cycle < spec.limits.per_customer {
                // The next cycle starts empty, without the completing event.
                next = CampaignState {
                    cycle: cycle + 1,
                    ..CampaignState::new(fresh(&spec.goal))
                };
            } else {
                next.finished = true;
            }
            Evaluation {
                outcome: Outcome::Completed { cycle },
                state: Some(next),
                rewards,
                errors,
                takes_budget: spec.limits.max_rewards.is_some(),
            }
        }
    }
}

/// The empty progress for a goal.
pub fn fresh(goal: &Goal) -> Progress {
    match goal {
        Goal::Count { .. } => Progress::Count {
            count: 0,
            window: VecDeque::new(),
        },
        Goal::Sum { .. } => Progress::Sum {
            sum: 0.0,
            window: VecDeque::new(),
        },
        Goal::Distinct { .. } => Progress::Distinct {
            values: Default::default(),
        },
        Goal::Streak { .. } => Progress::Streak {
            streak: 0,
            last_period: None,
        },
        Goal::Sequence { .. } => Progress::Sequence {
            step: 0,
            started_at: None,
        },
    }
}

/// Microseconds since the Unix epoch.
pub fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

/// Index of the day, or the ISO week (Monday first), that `t` falls in, in `tz`.
pub fn period_index(t: DateTime<Utc>, tz: Tz, period: Period) -> i64 {
    let date = t.with_timezone(&tz).date_naive();
    let day = i64::from(date.num_days_from_ce());
    match period {
        Period::Day => day,
        Period::Week => (day - i64::from(date.weekday().num_days_from_monday())).div_euclid(7),
    }
}

fn in_window(at: i64, t: i64, w: i64) -> bool {
    at > t - w && at <= t
}

pub(crate) fn view(progress: &Progress, t: i64, w: Option<i64>, cycle: u32) -> ProgressView {
    let mut v = ProgressView {
        cycle,
        ..ProgressView::default()
    };
    match (progress, w) {
        (Progress::Count { count, .. }, None) => v.count = *count,
        (Progress::Count { window, .. }, Some(w)) => {
            v.count = window.iter().filter(|&&at| in_window(at, t, w)).count() as u64;
        }
        (Progress::Sum { sum, .. }, None) => v.sum = *sum,
        (Progress::Sum { window, .. }, Some(w)) => {
            v.sum = window
                .iter()
                .filter(|(at, _)| in_window(*at, t, w))
                .map(|(_, x)| x)
                .sum();
        }
        (Progress::Distinct { values }, None) => v.distinct = values.len() as u64,
        (Progress::Distinct { values }, Some(w)) => {
            v.distinct = values.values().filter(|&&at| in_window(at, t, w)).count() as u64;
        }
        (Progress::Streak { streak, .. }, _) => v.streak = *streak,
        (Progress::Sequence { step, started_at }, w) => {
            let expired = matches!((started_at, w), (Some(s), Some(w)) if *s <= t - w);
            v.step = if expired { 0 } else { *step };
        }
    }
    v
}

enum Advance {
    /// The condition does not hold: nothing changes.
    NotQualified,
    /// Qualified, but the progress is the same.
    Unchanged,
    /// The progress moved.
    Progressed,
    /// The goal is reached; the progress as it is now (for `amount_expr`).
    Done(ProgressView),
}

struct Stepper<'a> {
    campaign: &'a CompiledCampaign,
    bindings: &'a Bindings<'a>,
    t: i64,
    /// The window, in microseconds.
    w: Option<i64>,
    /// The progress as the event's conditions saw it.
    before: ProgressView,
    errors: &'a mut Vec<EvalError>,
}

impl Stepper<'_> {
    /// Moves a qualifying event's progress on.
    fn advance(&mut self, progress: &mut Progress, tz: Tz) -> Advance {
        let goal = &self.campaign.spec().goal;
        let (t, w, before) = (self.t, self.w, self.before);
        if let (Progress::Sequence { step, started_at }, Goal::Sequence { steps, .. }) =
            (&mut *progress, goal)
        {
            // A timed-out sequence starts again: this event matched its first step.
            *step = before.step + 1;
            if before.step == 0 {
                *started_at = Some(t);
            }
            let after = view(progress, t, w, before.cycle);
            return if after.step >= steps.len() as u64 {
                Advance::Done(after)
            } else {
                Advance::Progressed
            };
        }
        let done = match (&mut *progress, goal) {
            (Progress::Count { count, window }, Goal::Count { target, .. }) => match w {
                None => {
                    *count += 1;
                    *count >= *target
                }
                Some(w) => {
                    insert_sorted(window, t, |at| *at);
                    prune(window, w, |at| *at);
                    let n = window.iter().filter(|&&at| in_window(at, t, w)).count();
                    n as u64 >= *target
                }
            },
            (Progress::Sum { sum, window }, Goal::Sum { target, .. }) => {
                let Some(x) = self.goal_value(before).and_then(|v| v.number()) else {
                    return Advance::NotQualified;
                };
                match w {
                    None => {
                        *sum += x;
                        *sum >= *target
                    }
                    Some(w) => {
                        insert_sorted(window, (t, x), |(at, _)| *at);
                        prune(window, w, |(at, _)| *at);
                        while window.len() > MAX_SUM_WINDOW {
                            window.pop_front();
                        }
                        let total: f64 = window
                            .iter()
                            .filter(|(at, _)| in_window(*at, t, w))
                            .map(|(_, x)| x)
                            .sum();
                        total >= *target
                    }
                }
            }
            (Progress::Distinct { values }, Goal::Distinct { target, .. }) => {
                let Some(value) = self.goal_value(before) else {
                    return Advance::NotQualified;
                };
                let key = value.key();
                if key.len() > MAX_DISTINCT_VALUE_BYTES {
                    self.errors.push(EvalError {
                        path: "goal.value".into(),
                        message: format!(
                            "a distinct value may be at most {MAX_DISTINCT_VALUE_BYTES} bytes"
                        ),
                    });
                    return Advance::NotQualified;
                }
                let seen = values.entry(key).or_insert(t);
                *seen = (*seen).max(t);
                let n = match w {
                    None => values.len(),
                    Some(w) => {
                        let newest = values.values().copied().max().unwrap_or(t);
                        values.retain(|_, at| *at > newest - w);
                        values.values().filter(|&&at| in_window(at, t, w)).count()
                    }
                };
                n as u64 >= *target
            }
            (
                Progress::Streak {
                    streak,
                    last_period,
                },
                Goal::Streak { period, target, .. },
            ) => {
                let p = period_index(self.event_time(), tz, *period);
                match *last_period {
                    Some(last) if p <= last => return Advance::Unchanged,
                    Some(last) if p == last + 1 => *streak += 1,
                    _ => *streak = 1,
                }
                *last_period = Some(p);
                *streak >= *target
            }
            // The state was written for another goal kind (the campaign changed): nothing moves.
            _ => return Advance::NotQualified,
        };
        if done {
            Advance::Done(view(progress, t, w, before.cycle))
        } else {
            Advance::Progressed
        }
    }

    fn goal_value(&mut self, before: ProgressView) -> Option<campaigns::GoalValue> {
        match self.campaign.goal_value(self.bindings, before) {
            Ok(v) => Some(v),
            Err(e) => {
                self.errors.push(e);
                None
            }
        }
    }

    fn event_time(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_micros(self.t).unwrap_or_default()
    }
}

/// Inserts keeping the deque ordered by time (late events go where they belong).
fn insert_sorted<T>(window: &mut VecDeque<T>, item: T, time: impl Fn(&T) -> i64) {
    let at = time(&item);
    let index = window.partition_point(|x| time(x) <= at);
    window.insert(index, item);
}

/// Forgets entries no event from now on can count: at or before `newest - w`.
fn prune<T>(window: &mut VecDeque<T>, w: i64, time: impl Fn(&T) -> i64) {
    let Some(newest) = window.back().map(&time) else {
        return;
    };
    while window.front().is_some_and(|x| time(x) <= newest - w) {
        window.pop_front();
    }
}
