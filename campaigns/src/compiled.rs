//! Compiled campaigns: each expression compiled once per campaign version, and the one place
//! where `event`, `customer`, `progress` and `now` are bound (DESIGN §3).

use crate::diagnostic::{Code, Diagnostic, Diagnostics, index, join};
use crate::event::{Customer, Event};
use crate::expr::{Expr, Scope, Variables};
use crate::fast::Facts;
use crate::progress::ProgressView;
use crate::spec::{Amount, CampaignSpec, Goal};
use cel::Value as CelValue;
use cel::common::ast::{Expr as Node, IdedExpr, LiteralValue};
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString, CelTimestamp,
};
use cel::common::value::Val;
use cel::objects::{Key, Map as ValueMap};
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::cell::OnceCell;
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

/// An expression that failed while evaluating: it counts as false, and the caller reports it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, thiserror::Error)]
#[error("{path}: {message}")]
pub struct EvalError {
    /// Which expression (`goal.when`, `rewards[0].amount_expr`).
    pub path: String,
    /// What went wrong.
    pub message: String,
}

/// What an event's expressions see that does not depend on the campaign: the event, the
/// customer and `now`, shared by reference by every campaign the event is evaluated for.
///
/// Expressions the fast path covers read the event's JSON in place; the CEL values the
/// interpreter needs are built at most once per event, and only when some expression needs
/// the interpreter.
#[derive(Debug)]
pub struct Bindings<'a> {
    event: Option<&'a Event>,
    customer_id: &'a str,
    profile: Option<&'a Customer>,
    now: DateTime<Utc>,
    cel: OnceCell<CelBindings>,
}

/// The interpreter's form of the bindings.
#[derive(Debug)]
struct CelBindings {
    event: Box<dyn Val>,
    customer: Box<dyn Val>,
    now: Box<dyn Val>,
}

impl<'a> Bindings<'a> {
    /// Binds `event` (attributes plus `id`, `type`, `customer_id`, `occurred_at`), `customer`
    /// (profile plus `id`, or just `id` without a profile) and `now` (the event's time).
    pub fn new(event: &'a Event, customer: Option<&'a Customer>) -> Self {
        Bindings {
            event: Some(event),
            customer_id: &event.customer_id,
            profile: customer,
            now: event.occurred_at,
            cel: OnceCell::new(),
        }
    }

    /// Binds what an audience sees outside of any event: `customer` (profile plus `id`) and
    /// `now`. `event` is an empty map, so a condition that reads it fails and counts as false.
    pub fn for_customer(
        customer_id: &'a str,
        profile: Option<&'a Customer>,
        now: DateTime<Utc>,
    ) -> Self {
        Bindings {
            event: None,
            customer_id,
            profile,
            now,
            cel: OnceCell::new(),
        }
    }

    pub(crate) fn facts(&self, progress: ProgressView) -> Facts<'a> {
        Facts {
            event: self.event,
            customer_id: self.customer_id,
            profile: self.profile,
            progress,
        }
    }

    /// The interpreter's values, built on first use.
    fn cel(&self) -> &CelBindings {
        self.cel.get_or_init(|| {
            let event = match self.event {
                Some(event) => {
                    let mut fields = object_vals(&event.attributes);
                    fields.insert(CelMapKey::from("id".to_owned()), str_val(&event.id));
                    fields.insert(CelMapKey::from("type".to_owned()), str_val(&event.kind));
                    let customer_id = str_val(&event.customer_id);
                    fields.insert(CelMapKey::from("customer_id".to_owned()), customer_id);
                    fields.insert(
                        CelMapKey::from("occurred_at".to_owned()),
                        time_val(event.occurred_at),
                    );
                    fields
                }
                None => HashMap::new(),
            };
            let mut profile = self
                .profile
                .map(|c| object_vals(&c.attributes))
                .unwrap_or_default();
            profile.insert(CelMapKey::from("id".to_owned()), str_val(self.customer_id));
            CelBindings {
                event: Box::new(CelMap::from(event)),
                customer: Box::new(CelMap::from(profile)),
                now: time_val(self.now),
            }
        })
    }

    /// Evaluates `e`: by the fast path when it is certain, by the interpreter otherwise.
    /// An audience sees only `customer` and `now`.
    pub(crate) fn evaluate(
        &self,
        e: &Expr,
        progress: ProgressView,
        audience: bool,
    ) -> Result<CelValue, String> {
        match e.fast(&self.facts(progress)) {
            Some(value) => Ok(value.to_cel()),
            None => self.interpret(e, progress, audience),
        }
    }

    /// Evaluates `e` by the interpreter alone.
    pub(crate) fn interpret(
        &self,
        e: &Expr,
        progress: ProgressView,
        audience: bool,
    ) -> Result<CelValue, String> {
        let cel = self.cel();
        let vars = Variables::default()
            .with("customer", cel.customer.as_ref())
            .with("now", cel.now.as_ref());
        if audience {
            return e.evaluate(&vars);
        }
        let progress = progress_value(e, progress);
        e.evaluate(
            &vars
                .with("event", cel.event.as_ref())
                .with("progress", progress.as_ref()),
        )
    }
}

impl ProgressView {
    fn to_cel(self) -> CelValue {
        let int = |n: u64| CelValue::Int(i64::try_from(n).unwrap_or(i64::MAX));
        let entries = HashMap::from([
            (key("count"), int(self.count)),
            (key("sum"), CelValue::Float(self.sum)),
            (key("distinct"), int(self.distinct)),
            (key("streak"), int(self.streak)),
            (key("step"), int(self.step)),
            (key("cycle"), CelValue::Int(i64::from(self.cycle))),
        ]);
        map(entries)
    }
}

/// A campaign ready to run: immutable, every expression compiled once.
#[derive(Debug, Clone)]
pub struct CompiledCampaign {
    spec: Arc<CampaignSpec>,
    audience: Option<Expr>,
    /// `goal.when`, or each step's `when` for a sequence.
    conditions: Vec<(String, Expr)>,
    value: Option<Expr>,
    amounts: Vec<Option<Expr>>,
    event_types: Option<BTreeSet<String>>,
}

impl CompiledCampaign {
    /// Validates and compiles a spec.
    pub fn compile(spec: CampaignSpec) -> Result<Self, Diagnostics> {
        spec.validate()?;
        let mut errors = Vec::new();
        let mut compile =
            |path: String, source: &str, scope: Scope| match Expr::compile(source, scope) {
                Ok(e) => Some((path, e)),
                Err(es) => {
                    errors.extend(es.into_iter().map(|e| {
                        let mut d = Diagnostic::new(&path, Code::Cel, e.message);
                        d.expression_position = Some(e.position);
                        d
                    }));
                    None
                }
            };
        let audience = spec
            .audience
            .as_deref()
            .and_then(|a| compile("audience".into(), a, Scope::Audience));
        let conditions: Vec<_> = match &spec.goal {
            Goal::Sequence { steps, .. } => steps
                .iter()
                .enumerate()
                .filter_map(|(i, s)| {
                    compile(join(&index("goal.steps", i), "when"), &s.when, Scope::Event)
                })
                .collect(),
            Goal::Count { when, .. }
            | Goal::Sum { when, .. }
            | Goal::Distinct { when, .. }
            | Goal::Streak { when, .. } => compile("goal.when".into(), when, Scope::Event)
                .into_iter()
                .collect(),
        };
        let value = match &spec.goal {
            Goal::Sum { value, .. } | Goal::Distinct { value, .. } => {
                compile("goal.value".into(), value, Scope::Event)
            }
            _ => None,
        };
        let amounts = spec
            .rewards
            .iter()
            .enumerate()
            .map(|(i, r)| {
                let path = join(&index("rewards", i), "amount_expr");
                r.amount_expr
                    .as_deref()
                    .and_then(|source| compile(path, source, Scope::Event))
                    .map(|(_, e)| e)
            })
            .collect();
        if !errors.is_empty() {
            return Err(Diagnostics(errors));
        }
        let event_types = union_all(conditions.iter().map(|(_, e)| required_types(e.tree())));
        Ok(CompiledCampaign {
            audience: audience.map(|(_, e)| e),
            value: value.map(|(_, e)| e),
            spec: Arc::new(spec),
            conditions,
            amounts,
            event_types,
        })
    }

    /// The spec this was compiled from.
    pub fn spec(&self) -> &CampaignSpec {
        &self.spec
    }

    /// The event types this campaign can react to, read off its conditions' trees; `None` when
    /// any type might qualify. Events of other types never change its state.
    pub fn event_types(&self) -> Option<&BTreeSet<String>> {
        self.event_types.as_ref()
    }

    /// Whether an event of `kind` may qualify (always true without a type constraint).
    pub fn may_apply_to(&self, kind: &str) -> bool {
        self.event_types.as_ref().is_none_or(|t| t.contains(kind))
    }

    /// Whether the audience holds (true without one).
    pub fn audience_holds(&self, b: &Bindings<'_>) -> Result<bool, EvalError> {
        match &self.audience {
            None => Ok(true),
            Some(e) => boolean("audience", b.evaluate(e, ProgressView::default(), true)),
        }
    }

    /// Whether condition `i` holds (the goal's `when`, or step `i`'s for a sequence).
    pub fn condition_holds(
        &self,
        i: usize,
        b: &Bindings<'_>,
        progress: ProgressView,
    ) -> Result<bool, EvalError> {
        let Some((path, e)) = self.conditions.get(i) else {
            return Ok(false);
        };
        boolean(path, b.evaluate(e, progress, false))
    }

    /// The goal's `value` for a sum (a number) or distinct (a scalar, as a key) goal.
    pub fn goal_value(
        &self,
        b: &Bindings<'_>,
        progress: ProgressView,
    ) -> Result<GoalValue, EvalError> {
        let path = "goal.value";
        let Some(e) = &self.value else {
            return Err(error(path, "this goal has no value"));
        };
        let value = b.evaluate(e, progress, false).map_err(|m| error(path, m))?;
        GoalValue::from_cel(value).map_err(|m| error(path, m))
    }

    /// Reward `i`'s amount: the fixed one, or its `amount_expr` on the completing event with the
    /// progress after it.
    pub fn reward_amount(
        &self,
        i: usize,
        b: &Bindings<'_>,
        progress: ProgressView,
    ) -> Result<Amount, EvalError> {
        let path = join(&index("rewards", i), "amount_expr");
        if let Some(a) = self.spec.rewards.get(i).and_then(|r| r.amount) {
            return Ok(a);
        }
        let Some(Some(e)) = self.amounts.get(i) else {
            return Err(error(&path, "this reward has no amount"));
        };
        let value = b
            .evaluate(e, progress, false)
            .map_err(|m| error(&path, m))?;
        let x = match value {
            CelValue::Int(i) => i as f64,
            CelValue::UInt(u) => u as f64,
            CelValue::Float(f) => f,
            other => {
                return Err(error(
                    &path,
                    format!("must be a number, not {}", type_name(&other)),
                ));
            }
        };
        match Amount::new(x) {
            Some(a) if x >= 0.0 => Ok(a),
            _ => Err(error(
                &path,
                format!("must be a finite number not below 0, not {x}"),
            )),
        }
    }
}

/// A `sum` or `distinct` goal's value for one event.
#[derive(Debug, Clone, PartialEq)]
pub enum GoalValue {
    /// A number (sum goals).
    Number(f64),
    /// A scalar's canonical text (distinct goals): `s:shoes`, `i:3`, `b:true`...
    Key(String),
}

impl GoalValue {
    fn from_cel(value: CelValue) -> Result<Self, String> {
        Ok(match value {
            CelValue::Int(i) => GoalValue::Number(i as f64),
            CelValue::UInt(u) => GoalValue::Number(u as f64),
            CelValue::Float(f) if f.is_finite() => GoalValue::Number(f),
            CelValue::String(s) => GoalValue::Key(format!("s:{s}")),
            CelValue::Bool(b) => GoalValue::Key(format!("b:{b}")),
            CelValue::Timestamp(t) => GoalValue::Key(format!("t:{}", t.to_rfc3339())),
            other => {
                return Err(format!(
                    "must be a number or a scalar, not {}",
                    type_name(&other)
                ));
            }
        })
    }

    /// The number, for sum goals.
    pub fn number(&self) -> Option<f64> {
        match self {
            GoalValue::Number(x) => Some(*x),
            GoalValue::Key(_) => None,
        }
    }

    /// The distinct key, for distinct goals: numbers compare by value (`3 == 3.0`).
    pub fn key(&self) -> String {
        match self {
            GoalValue::Number(x) => format!("n:{x}"),
            GoalValue::Key(k) => k.clone(),
        }
    }
}

/// `progress` as CEL, built only for expressions that mention it.
fn progress_value(e: &Expr, progress: ProgressView) -> Box<dyn Val> {
    if e.uses("progress") {
        to_val(progress.to_cel())
    } else {
        Box::new(CelNull)
    }
}

/// A value in the interpreter's own form; built only from JSON data, which always converts.
fn to_val(value: CelValue) -> Box<dyn Val> {
    Box::<dyn Val>::try_from(value).unwrap_or_else(|_| Box::new(CelNull))
}

fn boolean(path: &str, value: Result<CelValue, String>) -> Result<bool, EvalError> {
    match value {
        Ok(CelValue::Bool(b)) => Ok(b),
        Ok(other) => Err(error(
            path,
            format!(
                "a condition must give true or false, not {}",
                type_name(&other)
            ),
        )),
        Err(m) => Err(error(path, m)),
    }
}

fn error(path: &str, message: impl Into<String>) -> EvalError {
    EvalError {
        path: path.to_owned(),
        message: message.into(),
    }
}

fn type_name(v: &CelValue) -> String {
    v.type_of().to_string()
}

fn key(k: &str) -> Key {
    Key::String(Arc::new(k.to_owned()))
}

fn map(entries: HashMap<Key, CelValue>) -> CelValue {
    CelValue::Map(ValueMap {
        map: Arc::new(entries),
    })
}

/// JSON to the interpreter's values, once per event: integers become `int` (or `double` past
/// its range), other numbers `double`. Recursion is bounded by the depth limits on events and
/// profiles.
fn json_val(value: &Value) -> Box<dyn Val> {
    match value {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Box::new(CelInt::from(i)),
            None => Box::new(CelDouble::from(n.as_f64().unwrap_or(f64::NAN))),
        },
        Value::String(s) => str_val(s),
        Value::Array(items) => Box::new(CelList::from(
            items.iter().map(json_val).collect::<Vec<_>>(),
        )),
        Value::Object(o) => Box::new(CelMap::from(object_vals(o))),
    }
}

fn object_vals(
    object: &serde_json::Map<String, Value>,
) -> HashMap<CelMapKey<'static>, Box<dyn Val>> {
    object
        .iter()
        .map(|(k, v)| (CelMapKey::from(k.clone()), json_val(v)))
        .collect()
}

fn str_val(s: &str) -> Box<dyn Val> {
    Box::new(CelString::from(s.to_owned()))
}

fn time_val(t: DateTime<Utc>) -> Box<dyn Val> {
    Box::new(CelTimestamp::from(t.fixed_offset()))
}

/// The event types a condition requires, or `None` when it does not pin `event.type` down.
fn required_types(node: &IdedExpr) -> Option<BTreeSet<String>> {
    let Node::Call(call) = &node.expr else {
        return None;
    };
    match (call.func_name.as_str(), call.args.as_slice()) {
        ("_&&_", args) => args
            .iter()
            .filter_map(required_types)
            .reduce(|a, b| a.intersection(&b).cloned().collect()),
        ("_||_", args) => union_all(args.iter().map(required_types)),
        ("_==_", [a, b]) => match (is_event_type(a), is_event_type(b)) {
            (true, _) => string_literal(b).map(|s| BTreeSet::from([s])),
            (_, true) => string_literal(a).map(|s| BTreeSet::from([s])),
            _ => None,
        },
        ("@in", [a, list]) if is_event_type(a) => match &list.expr {
            Node::List(l) => l.elements.iter().map(string_literal).collect(),
            _ => None,
        },
        _ => None,
    }
}

fn union_all(sets: impl Iterator<Item = Option<BTreeSet<String>>>) -> Option<BTreeSet<String>> {
    let mut all = BTreeSet::new();
    for set in sets {
        all.extend(set?);
    }
    Some(all)
}

fn is_event_type(node: &IdedExpr) -> bool {
    matches!(&node.expr, Node::Select(s) if !s.test && s.field == "type"
        && matches!(&s.operand.expr, Node::Ident(name) if name == "event"))
}

fn string_literal(node: &IdedExpr) -> Option<String> {
    match &node.expr {
        Node::Literal(LiteralValue::String(s)) => Some(s.to_string()),
        _ => None,
    }
}
