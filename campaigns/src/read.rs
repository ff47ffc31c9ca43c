//! Reads a JSON tree into a [`CampaignSpec`], checking every rule of DESIGN §4 on the way and
//! reporting every problem at once, each at the path of the field it is about.
//!
//! This is the one validation path: text (`crate::parse`), JSON values and typed input
//! (`CampaignSpec::validate`, through its serde form) all come here.

use crate::diagnostic::{Code, Diagnostic, index, join};
use crate::duration::SpecDuration;
use crate::expr::{Expr, Scope};
use crate::spec::{
    Amount, CampaignSpec, Goal, Limits, Period, RewardKind, RewardSpec, Schedule, Step,
};
use crate::typecheck::Type as ValueType;
use chrono::{DateTime, LocalResult, NaiveDate, NaiveDateTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde_json::{Map, Value};

/// Longest `name`, in characters.
pub const MAX_NAME_CHARS: usize = 200;
/// Longest `description`, reward `code` or reward `description`, in characters.
pub const MAX_TEXT_CHARS: usize = 2_000;
/// Most rewards per campaign.
pub const MAX_REWARDS: usize = 16;
/// Most steps per sequence.
pub const MAX_STEPS: usize = 32;
/// Largest target of a goal that remembers each qualifying event: a `distinct` goal, or a
/// `count` goal with a window. It bounds the size of a customer's state.
pub const MAX_REMEMBERED_TARGET: i64 = 10_000;
/// Most cycles per customer.
pub const MAX_PER_CUSTOMER: i64 = 1_000_000;

const TOP_FIELDS: &[&str] = &[
    "key",
    "name",
    "description",
    "schedule",
    "audience",
    "goal",
    "rewards",
    "limits",
    "priority",
];
const GOAL_KINDS: &[&str] = &["count", "sum", "distinct", "streak", "sequence"];
const GOAL_FIELDS: &[&str] = &[
    "kind", "when", "target", "within", "value", "period", "steps",
];
const REWARD_KINDS: &[&str] = &["points", "coupon", "badge", "discount", "custom"];

/// Reads `value` into a spec, or returns every problem found.
pub(crate) fn read_spec(value: &Value) -> Result<CampaignSpec, Vec<Diagnostic>> {
    let mut r = Reader::default();
    let spec = r.spec(value);
    match spec {
        Some(spec) if r.diagnostics.is_empty() => Ok(spec),
        _ => {
            if r.diagnostics.is_empty() {
                r.error("", Code::InvalidValue, "the spec is incomplete");
            }
            Err(r.diagnostics)
        }
    }
}

#[derive(Default)]
struct Reader {
    diagnostics: Vec<Diagnostic>,
}

/// A field's value and its path.
struct Field<'v> {
    path: String,
    value: &'v Value,
}

impl Reader {
    fn error(&mut self, path: &str, code: Code, message: impl Into<String>) {
        self.diagnostics.push(Diagnostic::new(path, code, message));
    }

    /// `value` as an object whose fields are all among `allowed`.
    fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(map) = value else {
            self.type_error(path, "a mapping", value);
            return None;
        };
        for key in map.keys() {
            if !allowed.contains(&key.as_str()) {
                let message = format!(
                    "unknown field `{key}`; expected one of {}",
                    allowed.join(", ")
                );
                self.error(&join(path, key), Code::UnknownField, message);
            }
        }
        Some(map)
    }

    fn type_error(&mut self, path: &str, expected: &str, found: &Value) {
        let found = match found {
            Value::Null => "nothing",
            Value::Bool(_) => "a boolean",
            Value::Number(_) => "a number",
            Value::String(_) => "a string",
            Value::Array(_) => "a list",
            Value::Object(_) => "a mapping",
        };
        self.error(
            path,
            Code::InvalidType,
            format!("expected {expected}, found {found}"),
        );
    }

    /// The field, or `None` (and a diagnostic when `required`) if it is absent or null.
    fn field<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        path: &str,
        name: &str,
        required: bool,
    ) -> Option<Field<'v>> {
        let path = join(path, name);
        match map.get(name) {
            Some(Value::Null) | None => {
                if required {
                    self.error(&path, Code::MissingField, format!("`{name}` is required"));
                }
                None
            }
            Some(value) => Some(Field { path, value }),
        }
    }

    fn string(&mut self, f: &Field<'_>, max_chars: usize) -> Option<String> {
        let Value::String(s) = f.value else {
            self.type_error(&f.path, "a string", f.value);
            return None;
        };
        let chars = s.chars().count();
        if chars > max_chars {
            let message = format!("is {chars} characters long; the limit is {max_chars}");
            self.error(&f.path, Code::InvalidValue, message);
            return None;
        }
        Some(s.clone())
    }

    fn integer(&mut self, f: &Field<'_>, min: i64, max: i64) -> Option<i64> {
        let Some(n) = f.value.as_number() else {
            self.type_error(&f.path, "an integer", f.value);
            return None;
        };
        let Some(i) = n.as_i64() else {
            let message = format!("must be a whole number, not {n}");
            self.error(&f.path, Code::InvalidValue, message);
            return None;
        };
        if i < min || i > max {
            let message = if i < min && min == 1 {
                format!("must be greater than 0, not {i}")
            } else {
                format!("must be between {min} and {max}, not {i}")
            };
            self.error(&f.path, Code::InvalidValue, message);
            return None;
        }
        Some(i)
    }

    fn number(&mut self, f: &Field<'_>) -> Option<f64> {
        match f.value.as_f64() {
            Some(x) if x.is_finite() => Some(x),
            _ => {
                self.type_error(&f.path, "a number", f.value);
                None
            }
        }
    }

    /// A CEL expression: compiled for `scope`, its errors placed inside the expression.
    fn expr(&mut self, f: &Field<'_>, scope: Scope) -> Option<(String, Expr)> {
        let source = match f.value {
            Value::String(s) => s.clone(),
            Value::Bool(b) => b.to_string(),
            Value::Number(n) => n.to_string(),
            other => {
                self.type_error(&f.path, "a CEL expression", other);
                return None;
            }
        };
        match Expr::compile(&source, scope) {
            Ok(expr) => Some((source, expr)),
            Err(errors) => {
                for e in errors {
                    let mut d = Diagnostic::new(&f.path, Code::Cel, e.message);
                    d.expression_position = Some(e.position);
                    self.diagnostics.push(d);
                }
                None
            }
        }
    }

    /// A condition: an expression that is not a literal of another type than bool.
    fn condition(&mut self, f: &Field<'_>, scope: Scope) -> Option<String> {
        let (source, expr) = self.expr(f, scope)?;
        self.of_type(
            f,
            &expr,
            |t| t == ValueType::Bool,
            "a condition must be true or false",
        )
        .then_some(source)
    }

    /// Whether `expr`'s type, when it is known without an event, is one `allowed` takes; if
    /// not, says so at `f`: "{what}, but this is always a string".
    fn of_type(
        &mut self,
        f: &Field<'_>,
        expr: &Expr,
        allowed: impl Fn(ValueType) -> bool,
        what: &str,
    ) -> bool {
        let Some(t) = expr.value_type().filter(|t| !allowed(*t)) else {
            return true;
        };
        let always = match t {
            ValueType::Int | ValueType::Uint | ValueType::Double => "a number",
            ValueType::String => "a string",
            ValueType::Null => "null",
            ValueType::Bytes => "bytes",
            ValueType::Bool => "true or false",
            ValueType::List => "a list",
            ValueType::Map => "a map",
            ValueType::Timestamp => "a timestamp",
            ValueType::Duration => "a duration",
            ValueType::Type => "a type",
        };
        self.error(
            &f.path,
            Code::Cel,
            format!("{what}, but this is always {always}"),
        );
        false
    }

    fn duration(&mut self, f: &Field<'_>) -> Option<SpecDuration> {
        let text = match f.value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            other => {
                self.type_error(&f.path, "a duration like `7d`", other);
                return None;
            }
        };
        match text.parse() {
            Ok(d) => Some(d),
            Err(message) => {
                self.error(&f.path, Code::InvalidValue, message);
                None
            }
        }
    }

    fn spec(&mut self, value: &Value) -> Option<CampaignSpec> {
        let Value::Object(_) = value else {
            self.error(
                "",
                Code::InvalidType,
                "a campaign spec is a mapping with key, name, goal and rewards",
            );
            return None;
        };
        let map = self.object(value, "", TOP_FIELDS)?;
        let key = self.field(map, "", "key", true).and_then(|f| self.key(&f));
        let name = self.field(map, "", "name", true).and_then(|f| {
            let name = self.string(&f, MAX_NAME_CHARS)?;
            if name.trim().is_empty() {
                self.error(&f.path, Code::InvalidValue, "must not be empty");
                return None;
            }
            Some(name)
        });
        let description = self
            .field(map, "", "description", false)
            .map(|f| self.string(&f, MAX_TEXT_CHARS));
        let schedule = match self.field(map, "", "schedule", false) {
            Some(f) => self.schedule(&f),
            None => Some(Schedule::default()),
        };
        let audience = self
            .field(map, "", "audience", false)
            .map(|f| self.condition(&f, Scope::Audience));
        let goal = self
            .field(map, "", "goal", true)
            .and_then(|f| self.goal(&f));
        let rewards = self
            .field(map, "", "rewards", true)
            .and_then(|f| self.rewards(&f));
        let limits = match self.field(map, "", "limits", false) {
            Some(f) => self.limits(&f),
            None => Some(Limits::default()),
        };
        let priority = match self.field(map, "", "priority", false) {
            Some(f) => self.integer(&f, i64::from(i32::MIN), i64::from(i32::MAX)),
            None => Some(0),
        };
        Some(CampaignSpec {
            key: key?,
            name: name?,
            description: description.map_or(Some(None), |d| d.map(Some))?,
            schedule: schedule?,
            audience: match audience {
                Some(a) => Some(a?),
                None => None,
            },
            goal: goal?,
            rewards: rewards?,
            limits: limits?,
            priority: i32::try_from(priority?).ok()?,
        })
    }

    fn key(&mut self, f: &Field<'_>) -> Option<String> {
        let key = self.string(f, usize::MAX)?;
        let well_formed = (1..=64).contains(&key.len())
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !well_formed {
            let message = format!(
                "`{}` is not a valid key: use 1 to 64 lowercase letters, digits and dashes",
                key.chars().take(80).collect::<String>()
            );
            self.error(&f.path, Code::InvalidValue, message);
            return None;
        }
        Some(key)
    }

    fn schedule(&mut self, f: &Field<'_>) -> Option<Schedule> {
        let map = self.object(f.value, &f.path, &["starts_at", "ends_at", "timezone"])?;
        let timezone = match self.field(map, &f.path, "timezone", false) {
            Some(tz) => match self.string(&tz, 64).map(|name| (name.parse::<Tz>(), name)) {
                Some((Ok(zone), _)) => Some(zone),
                Some((Err(_), name)) => {
                    let message = format!(
                        "`{name}` is not a known IANA timezone (like `Europe/Paris` or `UTC`)"
                    );
                    self.error(&tz.path, Code::InvalidValue, message);
                    None
                }
                None => None,
            },
            None => Some(Tz::UTC),
        };
        let zone = timezone.unwrap_or(Tz::UTC);
        let starts_at = self
            .field(map, &f.path, "starts_at", false)
            .map(|at| self.time(&at, zone));
        let ends_at = self
            .field(map, &f.path, "ends_at", false)
            .map(|at| self.time(&at, zone));
        if let (Some(Some(start)), Some(Some(end))) = (starts_at, ends_at)
            && end <= start
        {
            let message = format!("must be after starts_at ({})", start.to_rfc3339());
            self.error(&join(&f.path, "ends_at"), Code::InvalidValue, message);
            return None;
        }
        Some(Schedule {
            starts_at: starts_at.map_or(Some(None), |t| t.map(Some))?,
            ends_at: ends_at.map_or(Some(None), |t| t.map(Some))?,
            timezone: timezone?,
        })
    }

    /// RFC 3339 with an offset, or a local date (and time) in the schedule's timezone.
    fn time(&mut self, f: &Field<'_>, zone: Tz) -> Option<DateTime<Utc>> {
        let text = self.string(f, 64)?;
        if let Ok(t) = DateTime::parse_from_rfc3339(&text) {
            return Some(t.with_timezone(&Utc));
        }
        let local = NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S")
            .or_else(|_| NaiveDateTime::parse_from_str(&text, "%Y-%m-%d %H:%M:%S"))
            .ok()
            .or_else(|| {
                NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                    .ok()
                    .and_then(|d| d.and_hms_opt(0, 0, 0))
            });
        let Some(local) = local else {
            let message = format!(
                "`{text}` is not a time: use RFC 3339 (`2026-12-01T00:00:00Z`) or a local `2026-12-01T00:00:00` in the schedule's timezone"
            );
            self.error(&f.path, Code::InvalidValue, message);
            return None;
        };
        match zone.from_local_datetime(&local) {
            LocalResult::Single(t) => Some(t.with_timezone(&Utc)),
            // A repeated hour (DST ends): the first of the two instants.
            LocalResult::Ambiguous(first, _) => Some(first.with_timezone(&Utc)),
            LocalResult::None => {
                let message = format!("`{text}` does not exist in {zone} (clocks skip it)");
                self.error(&f.path, Code::InvalidValue, message);
                None
            }
        }
    }

    fn goal(&mut self, f: &Field<'_>) -> Option<Goal> {
        let Value::Object(map) = f.value else {
            self.type_error(&f.path, "a mapping", f.value);
            return None;
        };
        let path = f.path.as_str();
        let kind = match self.field(map, path, "kind", true) {
            Some(k) => {
                let kind = self.string(&k, 64)?;
                if GOAL_KINDS.contains(&kind.as_str()) {
                    Some(kind)
                } else {
                    let message = format!(
                        "unknown goal kind `{kind}`; expected one of {}",
                        GOAL_KINDS.join(", ")
                    );
                    self.error(&k.path, Code::InvalidValue, message);
                    None
                }
            }
            None => None,
        };
        let Some(kind) = kind else {
            // Without a kind, only fields no kind uses can be reported.
            self.object(f.value, path, GOAL_FIELDS);
            return None;
        };
        let fields: &[&str] = match kind.as_str() {
            "count" => &["kind", "when", "target", "within"],
            "sum" | "distinct" => &["kind", "when", "value", "target", "within"],
            "streak" => &["kind", "when", "period", "target"],
            _ => &["kind", "steps", "within"],
        };
        for name in map.keys() {
            if !fields.contains(&name.as_str()) {
                let message = if GOAL_FIELDS.contains(&name.as_str()) {
                    format!(
                        "a {kind} goal has no `{name}`; it uses {}",
                        fields[1..].join(", ")
                    )
                } else {
                    format!(
                        "unknown field `{name}`; a {kind} goal uses {}",
                        fields[1..].join(", ")
                    )
                };
                self.error(&join(path, name), Code::UnknownField, message);
            }
        }
        let mut when = || {
            self.field(map, path, "when", true)
                .and_then(|w| self.condition(&w, Scope::Event))
        };
        match kind.as_str() {
            "count" => {
                let when = when();
                let within = self.within(map, path);
                let max = if matches!(within, Some(Some(_))) {
                    MAX_REMEMBERED_TARGET
                } else {
                    i64::MAX
                };
                let target = self.count_target(map, path, max);
                Some(Goal::Count {
                    when: when?,
                    target: target?,
                    within: within?,
                })
            }
            "sum" => {
                let when = when();
                let value = self.value(map, path, true);
                let target = self.field(map, path, "target", true).and_then(|t| {
                    let x = self.number(&t)?;
                    if x <= 0.0 {
                        self.error(
                            &t.path,
                            Code::InvalidValue,
                            format!("must be greater than 0, not {x}"),
                        );
                        return None;
                    }
                    Some(x)
                });
                let within = self.within(map, path);
                Some(Goal::Sum {
                    when: when?,
                    value: value?,
                    target: target?,
                    within: within?,
                })
            }
            "distinct" => {
                let when = when();
                let value = self.value(map, path, false);
                let target = self.count_target(map, path, MAX_REMEMBERED_TARGET);
                let within = self.within(map, path);
                Some(Goal::Distinct {
                    when: when?,
                    value: value?,
                    target: target?,
                    within: within?,
                })
            }
            "streak" => {
                let when = when();
                let period = self.field(map, path, "period", true).and_then(|p| {
                    match self.string(&p, 16)?.as_str() {
                        "day" => Some(Period::Day),
                        "week" => Some(Period::Week),
                        other => {
                            let message = format!("unknown period `{other}`; expected day or week");
                            self.error(&p.path, Code::InvalidValue, message);
                            None
                        }
                    }
                });
                let target = self.count_target(map, path, i64::MAX);
                Some(Goal::Streak {
                    when: when?,
                    period: period?,
                    target: target?,
                })
            }
            _ => {
                let steps = self
                    .field(map, path, "steps", true)
                    .and_then(|s| self.steps(&s));
                let within = self.within(map, path);
                Some(Goal::Sequence {
                    steps: steps?,
                    within: within?,
                })
            }
        }
    }

    fn count_target(&mut self, map: &Map<String, Value>, path: &str, max: i64) -> Option<u64> {
        let f = self.field(map, path, "target", true)?;
        self.integer(&f, 1, max).map(|t| t.unsigned_abs())
    }

    /// `Some(None)` when absent, `None` when invalid.
    fn within(&mut self, map: &Map<String, Value>, path: &str) -> Option<Option<SpecDuration>> {
        match self.field(map, path, "within", false) {
            Some(f) => self.duration(&f).map(Some),
            None => Some(None),
        }
    }

    /// A goal's `value`: a number for a sum goal, a number or another scalar for a distinct one.
    fn value(&mut self, map: &Map<String, Value>, path: &str, sum: bool) -> Option<String> {
        let f = self.field(map, path, "value", true)?;
        let (source, expr) = self.expr(&f, Scope::Event)?;
        let fits = if sum {
            self.of_type(
                &f,
                &expr,
                ValueType::is_number,
                "a sum's value must be a number",
            )
        } else {
            let scalar = |t: ValueType| {
                t.is_number()
                    || matches!(
                        t,
                        ValueType::String | ValueType::Bool | ValueType::Timestamp
                    )
            };
            self.of_type(
                &f,
                &expr,
                scalar,
                "a distinct goal's value must be a number or a string, bool or timestamp",
            )
        };
        fits.then_some(source)
    }

    fn steps(&mut self, f: &Field<'_>) -> Option<Vec<Step>> {
        let Value::Array(items) = f.value else {
            self.type_error(&f.path, "a list of steps", f.value);
            return None;
        };
        if items.len() < 2 || items.len() > MAX_STEPS {
            let message = format!(
                "a sequence needs 2 to {MAX_STEPS} steps, not {} (for one step, use a count goal)",
                items.len()
            );
            self.error(&f.path, Code::InvalidValue, message);
            return None;
        }
        let mut steps = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = index(&f.path, i);
            let Some(map) = self.object(item, &path, &["name", "when"]) else {
                ok = false;
                continue;
            };
            let name = self
                .field(map, &path, "name", true)
                .and_then(|n| self.string(&n, MAX_NAME_CHARS));
            let when = self
                .field(map, &path, "when", true)
                .and_then(|w| self.condition(&w, Scope::Event));
            match (name, when) {
                (Some(name), Some(when)) => steps.push(Step { name, when }),
                _ => ok = false,
            }
        }
        ok.then_some(steps)
    }

    fn rewards(&mut self, f: &Field<'_>) -> Option<Vec<RewardSpec>> {
        let Value::Array(items) = f.value else {
            self.type_error(&f.path, "a list of rewards", f.value);
            return None;
        };
        if items.is_empty() || items.len() > MAX_REWARDS {
            let message = format!(
                "a campaign needs 1 to {MAX_REWARDS} rewards, not {}",
                items.len()
            );
            self.error(&f.path, Code::InvalidValue, message);
            return None;
        }
        let mut rewards = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            match self.reward(item, &index(&f.path, i)) {
                Some(r) => rewards.push(r),
                None => ok = false,
            }
        }
        ok.then_some(rewards)
    }

    fn reward(&mut self, item: &Value, path: &str) -> Option<RewardSpec> {
        let fields = ["kind", "amount", "amount_expr", "code", "description"];
        let map = self.object(item, path, &fields)?;
        let kind = self.field(map, path, "kind", true).and_then(|k| {
            let kind = self.string(&k, 16)?;
            let parsed = serde_json::from_value::<RewardKind>(Value::String(kind.clone())).ok();
            if parsed.is_none() {
                let message = format!(
                    "unknown reward kind `{kind}`; expected one of {}",
                    REWARD_KINDS.join(", ")
                );
                self.error(&k.path, Code::InvalidValue, message);
            }
            parsed
        });
        let amount = self.field(map, path, "amount", false).map(|a| {
            let x = self.number(&a)?;
            if x < 0.0 {
                self.error(
                    &a.path,
                    Code::InvalidValue,
                    format!("must not be negative, not {x}"),
                );
                return None;
            }
            Amount::new(x)
        });
        let amount_expr = self.field(map, path, "amount_expr", false).map(|e| {
            let (source, expr) = self.expr(&e, Scope::Event)?;
            self.of_type(
                &e,
                &expr,
                ValueType::is_number,
                "an amount must be a number",
            )
            .then_some(source)
        });
        let code = self
            .field(map, path, "code", false)
            .map(|c| self.string(&c, MAX_TEXT_CHARS));
        let description = self
            .field(map, path, "description", false)
            .map(|d| self.string(&d, MAX_TEXT_CHARS));
        match (&amount, &amount_expr) {
            (None, None) => {
                let message = "a reward needs `amount` or `amount_expr`";
                self.error(&join(path, "amount"), Code::MissingField, message);
                return None;
            }
            (Some(_), Some(_)) => {
                let message = "give either `amount` or `amount_expr`, not both";
                self.error(&join(path, "amount_expr"), Code::InvalidValue, message);
                return None;
            }
            _ => {}
        }
        Some(RewardSpec {
            kind: kind?,
            amount: amount.map_or(Some(None), |a| a.map(Some))?,
            amount_expr: amount_expr.map_or(Some(None), |a| a.map(Some))?,
            code: code.map_or(Some(None), |c| c.map(Some))?,
            description: description.map_or(Some(None), |d| d.map(Some))?,
        })
    }

    fn limits(&mut self, f: &Field<'_>) -> Option<Limits> {
        let map = self.object(f.value, &f.path, &["per_customer", "max_rewards"])?;
        let per_customer = match self.field(map, &f.path, "per_customer", false) {
            Some(p) => self.integer(&p, 1, MAX_PER_CUSTOMER),
            None => Some(1),
        };
        let max_rewards = match self.field(map, &f.path, "max_rewards", false) {
            Some(m) => self.integer(&m, 1, i64::MAX).map(Some),
            None => Some(None),
        };
        Some(Limits {
            per_customer: u32::try_from(per_customer?).ok()?,
            max_rewards: max_rewards?.map(i64::unsigned_abs),
        })
    }
}
