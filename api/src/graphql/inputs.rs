//! GraphQL input types, and how a campaign arrives: as typed input or as spec source text
//! (YAML or JSON). Both go through the one validation path of the `campaigns` crate, so they
//! get the same diagnostics; source text also gets line and column.

use super::types::{GoalKind, RewardKind, StreakPeriod};
use crate::error::{ApiError, Result};
use async_graphql::{InputObject, Json};
use campaigns::CampaignSpec;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// A campaign spec as typed input: the same fields as a spec document (DESIGN §4).
#[derive(Debug, Clone, InputObject)]
pub struct CampaignInput {
    /// Unique key, `[a-z0-9-]{1,64}`.
    pub key: String,
    /// Name shown to marketers and customers.
    pub name: String,
    /// Longer text.
    pub description: Option<String>,
    /// When it runs.
    pub schedule: Option<ScheduleInput>,
    /// CEL condition on `customer` and `now`.
    pub audience: Option<String>,
    /// What a customer must do.
    pub goal: GoalInput,
    /// What completing the goal earns; at least one.
    pub rewards: Vec<RewardInput>,
    /// Cycles per customer and the cap on completions.
    pub limits: Option<LimitsInput>,
    /// Higher first when listed.
    pub priority: Option<i32>,
}

/// When a campaign applies.
#[derive(Debug, Clone, InputObject)]
pub struct ScheduleInput {
    /// First instant at which events count.
    pub starts_at: Option<DateTime<Utc>>,
    /// First instant at which events no longer count.
    pub ends_at: Option<DateTime<Utc>>,
    /// IANA timezone for streak days and weeks (UTC when absent).
    pub timezone: Option<String>,
}

/// A goal: `kind` decides which other fields it takes (count: when, target, within; sum and
/// distinct: when, value, target, within; streak: when, period, target; sequence: steps,
/// within). A field the kind does not take is refused by name.
#[derive(Debug, Clone, InputObject)]
pub struct GoalInput {
    /// The mechanic.
    pub kind: GoalKind,
    /// CEL: which events qualify.
    pub when: Option<String>,
    /// CEL: the value summed or collected (sum, distinct).
    pub value: Option<String>,
    /// Where the goal is.
    pub target: Option<f64>,
    /// Rolling window: `7d`, `12h`, `30m`, `2w`, `90s`.
    pub within: Option<String>,
    /// The streak's period.
    pub period: Option<StreakPeriod>,
    /// The sequence's steps, in order.
    pub steps: Option<Vec<StepInput>>,
}

/// One step of a sequence.
#[derive(Debug, Clone, InputObject)]
pub struct StepInput {
    /// Shown to customers.
    pub name: String,
    /// CEL: the event that completes this step.
    pub when: String,
}

/// One reward.
#[derive(Debug, Clone, InputObject)]
pub struct RewardInput {
    /// Kind.
    pub kind: RewardKind,
    /// A fixed amount.
    pub amount: Option<f64>,
    /// CEL: the amount, computed on completion.
    pub amount_expr: Option<String>,
    /// A code for the fulfilling system.
    pub code: Option<String>,
    /// Text for the customer.
    pub description: Option<String>,
}

/// Cycles per customer and the cap on completions.
#[derive(Debug, Clone, InputObject)]
pub struct LimitsInput {
    /// Completions per customer (default 1).
    pub per_customer: Option<i64>,
    /// Completions across all customers, at most.
    pub max_rewards: Option<i64>,
}

/// A customer profile, for simulations.
#[derive(Debug, Clone, InputObject)]
pub struct CustomerInput {
    /// The customer id.
    pub id: String,
    /// Profile attributes, a JSON object.
    pub attributes: Option<Json<Value>>,
}

/// Inserts `value` under `key` unless it is absent.
fn put(map: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        map.insert(key.to_owned(), v);
    }
}

/// A whole number as a JSON integer (so `3.0` is the integer target 3), others as floats.
fn number(x: f64) -> Value {
    if x.fract() == 0.0 && x.abs() < 9.0e15 {
        Value::from(x as i64)
    } else {
        serde_json::Number::from_f64(x).map_or(Value::Null, Value::Number)
    }
}

impl CampaignInput {
    /// The spec document this input stands for.
    pub fn to_document(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("key".into(), Value::from(self.key.clone()));
        doc.insert("name".into(), Value::from(self.name.clone()));
        put(
            &mut doc,
            "description",
            self.description.clone().map(Value::from),
        );
        if let Some(s) = &self.schedule {
            let mut m = Map::new();
            put(
                &mut m,
                "starts_at",
                s.starts_at.map(|t| Value::from(t.to_rfc3339())),
            );
            put(
                &mut m,
                "ends_at",
                s.ends_at.map(|t| Value::from(t.to_rfc3339())),
            );
            put(&mut m, "timezone", s.timezone.clone().map(Value::from));
            doc.insert("schedule".into(), Value::Object(m));
        }
        put(&mut doc, "audience", self.audience.clone().map(Value::from));
        let g = &self.goal;
        let mut goal = Map::new();
        goal.insert("kind".into(), Value::from(g.kind.as_str()));
        put(&mut goal, "when", g.when.clone().map(Value::from));
        put(&mut goal, "value", g.value.clone().map(Value::from));
        put(&mut goal, "target", g.target.map(number));
        put(&mut goal, "within", g.within.clone().map(Value::from));
        put(
            &mut goal,
            "period",
            g.period.map(|p| {
                Value::from(match p {
                    StreakPeriod::Day => "day",
                    StreakPeriod::Week => "week",
                })
            }),
        );
        if let Some(steps) = &g.steps {
            let steps = steps
                .iter()
                .map(|s| serde_json::json!({"name": s.name, "when": s.when}))
                .collect();
            goal.insert("steps".into(), Value::Array(steps));
        }
        doc.insert("goal".into(), Value::Object(goal));
        let rewards = self
            .rewards
            .iter()
            .map(|r| {
                let mut m = Map::new();
                m.insert("kind".into(), Value::from(r.kind.as_str()));
                put(&mut m, "amount", r.amount.map(number));
                put(
                    &mut m,
                    "amount_expr",
                    r.amount_expr.clone().map(Value::from),
                );
                put(&mut m, "code", r.code.clone().map(Value::from));
                put(
                    &mut m,
                    "description",
                    r.description.clone().map(Value::from),
                );
                Value::Object(m)
            })
            .collect();
        doc.insert("rewards".into(), Value::Array(rewards));
        if let Some(l) = &self.limits {
            let mut m = Map::new();
            put(&mut m, "per_customer", l.per_customer.map(Value::from));
            put(&mut m, "max_rewards", l.max_rewards.map(Value::from));
            doc.insert("limits".into(), Value::Object(m));
        }
        put(&mut doc, "priority", self.priority.map(Value::from));
        Value::Object(doc)
    }
}

/// Largest spec source text accepted, in bytes (the spec reader's own bound).
pub const MAX_SOURCE_BYTES: usize = 4 * 1024 * 1024;

/// The spec given as exactly one of `input` (typed) or `source` (YAML or JSON text): the spec,
/// or every problem with it.
pub fn read_spec(
    input: Option<&CampaignInput>,
    source: Option<&str>,
) -> Result<std::result::Result<CampaignSpec, campaigns::Diagnostics>> {
    match (input, source) {
        (Some(i), None) => Ok(CampaignSpec::from_value(&i.to_document())),
        (None, Some(s)) => {
            if s.len() > MAX_SOURCE_BYTES {
                return Err(ApiError::LimitExceeded(format!(
                    "source: {} bytes; the limit is {MAX_SOURCE_BYTES}",
                    s.len()
                )));
            }
            Ok(campaigns::parse(s))
        }
        (Some(_), Some(_)) => Err(ApiError::bad(
            "source",
            "give the campaign as `input` or as `source`, not both",
        )),
        (None, None) => Err(ApiError::bad(
            "input",
            "give the campaign as `input` (typed) or `source` (YAML or JSON text)",
        )),
    }
}

/// Like [`read_spec`], with an invalid spec as a `VALIDATION` error.
pub fn require_spec(input: Option<&CampaignInput>, source: Option<&str>) -> Result<CampaignSpec> {
    Ok(read_spec(input, source)??)
}
