//! Campaign spec types (DESIGN §4), the same for YAML, JSON and typed API input.
//!
//! A `CampaignSpec` is only ever built from input that passed validation (`crate::parse`,
//! `CampaignSpec::from_value`); its serde form is the spec format itself.

use crate::duration::SpecDuration;
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// One campaign, as its author wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignSpec {
    /// Unique key, `[a-z0-9-]{1,64}`.
    pub key: String,
    /// Name shown to marketers and customers.
    pub name: String,
    /// Optional longer text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// When the campaign runs, and the timezone its days and weeks are counted in.
    #[serde(default)]
    pub schedule: Schedule,
    /// Optional CEL condition on `customer` and `now`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// What a customer must do.
    pub goal: Goal,
    /// What completing the goal earns; at least one.
    pub rewards: Vec<RewardSpec>,
    /// Cycles per customer and the cap on completions.
    #[serde(default)]
    pub limits: Limits,
    /// Higher first when campaigns are listed; no effect on processing.
    #[serde(default)]
    pub priority: i32,
}

/// When a campaign applies: `starts_at <= occurred_at < ends_at`, either bound optional.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Schedule {
    /// First instant at which events count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub starts_at: Option<DateTime<Utc>>,
    /// First instant at which events no longer count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ends_at: Option<DateTime<Utc>>,
    /// IANA timezone for streak days and weeks; UTC when absent.
    #[serde(default = "utc", skip_serializing_if = "is_utc")]
    pub timezone: Tz,
}

fn utc() -> Tz {
    Tz::UTC
}

fn is_utc(tz: &Tz) -> bool {
    *tz == Tz::UTC
}

/// The goal, by mechanic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Goal {
    /// +1 per qualifying event; done at `count >= target`.
    Count {
        /// Which events qualify.
        when: String,
        /// How many.
        target: u64,
        /// Optional rolling window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within: Option<SpecDuration>,
    },
    /// Adds `value` per qualifying event; done at `sum >= target`.
    Sum {
        /// Which events qualify.
        when: String,
        /// A numeric CEL expression.
        value: String,
        /// The sum to reach.
        target: f64,
        /// Optional rolling window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within: Option<SpecDuration>,
    },
    /// Collects distinct `value`s; done when there are `target` of them.
    Distinct {
        /// Which events qualify.
        when: String,
        /// A scalar CEL expression.
        value: String,
        /// How many distinct values.
        target: u64,
        /// Optional rolling window.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within: Option<SpecDuration>,
    },
    /// Consecutive days or ISO weeks with a qualifying event.
    Streak {
        /// Which events qualify.
        when: String,
        /// Day or week, in the schedule's timezone.
        period: Period,
        /// How many consecutive periods.
        target: u64,
    },
    /// Steps matched in order, one per event.
    Sequence {
        /// The steps, at least two.
        steps: Vec<Step>,
        /// Optional: the whole sequence must fit in this window from its first step.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        within: Option<SpecDuration>,
    },
}

/// A goal's kind, without its parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoalKind {
    /// `count`.
    Count,
    /// `sum`.
    Sum,
    /// `distinct`.
    Distinct,
    /// `streak`.
    Streak,
    /// `sequence`.
    Sequence,
}

impl GoalKind {
    /// The kind as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            GoalKind::Count => "count",
            GoalKind::Sum => "sum",
            GoalKind::Distinct => "distinct",
            GoalKind::Streak => "streak",
            GoalKind::Sequence => "sequence",
        }
    }
}

impl Goal {
    /// The goal's kind.
    pub fn kind(&self) -> GoalKind {
        match self {
            Goal::Count { .. } => GoalKind::Count,
            Goal::Sum { .. } => GoalKind::Sum,
            Goal::Distinct { .. } => GoalKind::Distinct,
            Goal::Streak { .. } => GoalKind::Streak,
            Goal::Sequence { .. } => GoalKind::Sequence,
        }
    }

    /// The rolling window, for the kinds that have one.
    pub fn within(&self) -> Option<SpecDuration> {
        match self {
            Goal::Count { within, .. }
            | Goal::Sum { within, .. }
            | Goal::Distinct { within, .. }
            | Goal::Sequence { within, .. } => *within,
            Goal::Streak { .. } => None,
        }
    }
}

/// A streak's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Period {
    /// Calendar days in the schedule's timezone.
    Day,
    /// ISO weeks (Monday first) in the schedule's timezone.
    Week,
}

/// One step of a sequence.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Shown to customers ("view shoes").
    pub name: String,
    /// The event that completes this step.
    pub when: String,
}

/// What kind of reward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RewardKind {
    /// Loyalty points.
    Points,
    /// A coupon.
    Coupon,
    /// A badge.
    Badge,
    /// A discount.
    Discount,
    /// Anything else, handled by the notified system.
    Custom,
}

impl RewardKind {
    /// The kind as written in specs and ledgers.
    pub fn as_str(&self) -> &'static str {
        match self {
            RewardKind::Points => "points",
            RewardKind::Coupon => "coupon",
            RewardKind::Badge => "badge",
            RewardKind::Discount => "discount",
            RewardKind::Custom => "custom",
        }
    }
}

/// One reward issued on completion: a fixed `amount` or an `amount_expr` evaluated then.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RewardSpec {
    /// What kind of reward.
    pub kind: RewardKind,
    /// A fixed amount.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount: Option<Amount>,
    /// A numeric CEL expression, evaluated on the completing event with the progress after it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amount_expr: Option<String>,
    /// A coupon code or other reference for the fulfilling system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Text shown to the customer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Cycles per customer and the cap on completions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limits {
    /// How many times one customer can complete the campaign (default 1).
    #[serde(default = "one")]
    pub per_customer: u32,
    /// How many completions across all customers, at most.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_rewards: Option<u64>,
}

fn one() -> u32 {
    1
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            per_customer: 1,
            max_rewards: None,
        }
    }
}

/// A finite reward amount, written as an integer when it is one (`500`, not `500.0`).
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd, Default)]
pub struct Amount(f64);

impl Amount {
    /// A finite amount; `None` for NaN or infinity.
    pub fn new(value: f64) -> Option<Self> {
        value.is_finite().then_some(Amount(value))
    }

    /// The amount as a float.
    pub fn get(self) -> f64 {
        self.0
    }

    /// The amount as a JSON number: an integer when it is a whole number that fits.
    pub fn to_json(self) -> serde_json::Number {
        const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53
        if self.0.fract() == 0.0 && self.0.abs() <= EXACT {
            serde_json::Number::from(self.0 as i64)
        } else {
            serde_json::Number::from_f64(self.0).unwrap_or_else(|| 0.into())
        }
    }
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.to_json())
    }
}

impl Serialize for Amount {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Amount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = f64::deserialize(d)?;
        Amount::new(v).ok_or_else(|| serde::de::Error::custom("amount must be a finite number"))
    }
}
