//! QA fixtures (DESIGN §5): campaigns (inline or `{path: ...}`), customers, events (inline or
//! `events_file`, JSON lines relative to the fixture), and the expected rewards.
//!
//! A fixture that cannot be read is refused with its file, line and reason.

use campaigns::source::{self, SourceMap};
use campaigns::{CampaignSpec, Customer};
use serde_json::Value;
use std::fmt;
use std::path::{Path, PathBuf};

/// A fixture that cannot be used: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FixtureError {
    /// The file at fault (the fixture, a campaign file or the events file).
    pub file: String,
    /// Line in that file, when known.
    pub line: Option<u32>,
    /// What is wrong.
    pub reason: String,
}

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.file, self.reason),
            None => write!(f, "{}: {}", self.file, self.reason),
        }
    }
}

impl std::error::Error for FixtureError {}

/// Where a fixture's events come from.
#[derive(Debug, Clone)]
pub enum Events {
    /// Written in the fixture: each event with its line there.
    Inline(Vec<(Value, u32)>),
    /// A JSON-lines file.
    File(PathBuf),
}

/// One expected reward.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExpectedReward {
    /// Who earns it.
    pub customer_id: String,
    /// The campaign key.
    pub campaign: String,
    /// The completing event.
    pub event_id: String,
    /// The cycle.
    pub cycle: u32,
    /// The reward kind.
    pub kind: String,
    /// The amount.
    pub amount: f64,
}

/// A fixture, read and checked.
#[derive(Debug, Clone)]
pub struct Fixture {
    /// The path it was read from, as given.
    pub file: String,
    /// Its `name`, or the file name.
    pub name: String,
    /// The campaigns to install.
    pub campaigns: Vec<CampaignSpec>,
    /// Customer profiles to store.
    pub customers: Vec<Customer>,
    /// The events, in order.
    pub events: Events,
    /// The exact rewards expected, in issue order; `None` when the fixture expects nothing.
    pub expect: Option<Vec<ExpectedReward>>,
}

const FIELDS: [&str; 7] = [
    "name",
    "description",
    "campaigns",
    "customers",
    "events",
    "events_file",
    "expect",
];

/// Reads a fixture file.
pub fn load(path: &Path) -> Result<Fixture, FixtureError> {
    let file = path.display().to_string();
    let fail = |line: Option<u32>, reason: String| FixtureError {
        file: file.clone(),
        line,
        reason,
    };
    let text = std::fs::read_to_string(path).map_err(|e| fail(None, e.to_string()))?;
    let doc = source::read(&text).map_err(|d| fail(d.position.map(|p| p.line), d.message))?;
    let at = |p: &str| line_of(&doc.map, p);
    let Value::Object(top) = &doc.value else {
        return Err(fail(
            Some(1),
            "a fixture is a mapping with campaigns, events and expect".into(),
        ));
    };
    for key in top.keys() {
        if !FIELDS.contains(&key.as_str()) {
            let reason = format!(
                "unknown field `{key}`; expected one of {}",
                FIELDS.join(", ")
            );
            return Err(fail(at(key), reason));
        }
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = match top.get("name") {
        Some(Value::String(n)) => n.clone(),
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default(),
        Some(_) => return Err(fail(at("name"), "`name` must be a string".into())),
    };

    let mut campaigns = Vec::new();
    let Some(Value::Array(list)) = top.get("campaigns") else {
        return Err(fail(
            at("campaigns").or(Some(1)),
            "`campaigns` is required: a list of specs or {path: ...}".into(),
        ));
    };
    for (i, item) in list.iter().enumerate() {
        let here = format!("campaigns[{i}]");
        let spec = match item {
            Value::Object(o) if o.contains_key("path") && o.len() == 1 => {
                let Some(Value::String(p)) = o.get("path") else {
                    return Err(fail(at(&here), "`path` must be a string".into()));
                };
                let spec_path = dir.join(p);
                let spec_file = spec_path.display().to_string();
                let spec_text = std::fs::read_to_string(&spec_path).map_err(|e| FixtureError {
                    file: file.clone(),
                    line: at(&here),
                    reason: format!("cannot read campaign {spec_file}: {e}"),
                })?;
                campaigns::parse(&spec_text).map_err(|d| {
                    let first = &d.0[0];
                    FixtureError {
                        file: spec_file.clone(),
                        line: first.position.map(|p| p.line),
                        reason: format!("invalid campaign: {first}"),
                    }
                })?
            }
            other => CampaignSpec::from_value(other).map_err(|d| {
                let first = &d.0[0];
                let path = if first.path.is_empty() {
                    here.clone()
                } else {
                    format!("{here}.{}", first.path)
                };
                fail(at(&path), format!("invalid campaign: {first}"))
            })?,
        };
        if campaigns.iter().any(|c: &CampaignSpec| c.key == spec.key) {
            return Err(fail(
                at(&here),
                format!("campaign `{}` appears twice", spec.key),
            ));
        }
        campaigns.push(spec);
    }

    let mut customers = Vec::new();
    match top.get("customers") {
        None | Some(Value::Null) => {}
        Some(Value::Array(list)) => {
            for (i, item) in list.iter().enumerate() {
                let here = format!("customers[{i}]");
                let customer: Customer = serde_json::from_value(item.clone())
                    .map_err(|e| fail(at(&here), format!("invalid customer: {e}")))?;
                if customer.id.is_empty() {
                    return Err(fail(at(&here), "a customer needs an `id`".into()));
                }
                campaigns::check_attributes(&customer.attributes)
                    .map_err(|e| fail(at(&here), format!("invalid customer: {e}")))?;
                customers.push(customer);
            }
        }
        Some(_) => return Err(fail(at("customers"), "`customers` must be a list".into())),
    }

    let events = match (top.get("events"), top.get("events_file")) {
        (Some(_), Some(_)) => {
            return Err(fail(
                at("events_file"),
                "give `events` or `events_file`, not both".into(),
            ));
        }
        (Some(Value::Array(list)), None) => Events::Inline(
            list.iter()
                .enumerate()
                .map(|(i, e)| (e.clone(), at(&format!("events[{i}]")).unwrap_or(0)))
                .collect(),
        ),
        (Some(_), None) => return Err(fail(at("events"), "`events` must be a list".into())),
        (None, Some(Value::String(p))) => {
            let events_path = dir.join(p);
            if !events_path.is_file() {
                return Err(fail(
                    at("events_file"),
                    format!("no events file at {}", events_path.display()),
                ));
            }
            Events::File(events_path)
        }
        (None, Some(_)) => {
            return Err(fail(
                at("events_file"),
                "`events_file` must be a path".into(),
            ));
        }
        (None, None) => {
            return Err(fail(
                Some(1),
                "`events` or `events_file` is required".into(),
            ));
        }
    };

    let expect = match top.get("expect") {
        None | Some(Value::Null) => None,
        Some(Value::Object(e)) => {
            if let Some(key) = e.keys().find(|k| *k != "rewards") {
                return Err(fail(
                    at(&format!("expect.{key}")),
                    format!("unknown field `{key}` in expect; expected rewards"),
                ));
            }
            match e.get("rewards") {
                None | Some(Value::Null) => Some(Vec::new()),
                Some(Value::Array(list)) => {
                    let mut rewards = Vec::with_capacity(list.len());
                    for (i, r) in list.iter().enumerate() {
                        let reward: ExpectedReward =
                            serde_json::from_value(r.clone()).map_err(|e| {
                                fail(
                                    at(&format!("expect.rewards[{i}]")),
                                    format!("invalid expected reward: {e}"),
                                )
                            })?;
                        rewards.push(reward);
                    }
                    Some(rewards)
                }
                Some(_) => {
                    return Err(fail(
                        at("expect.rewards"),
                        "`expect.rewards` must be a list".into(),
                    ));
                }
            }
        }
        Some(_) => {
            return Err(fail(
                at("expect"),
                "`expect` must be a mapping with rewards".into(),
            ));
        }
    };

    Ok(Fixture {
        file,
        name,
        campaigns,
        customers,
        events,
        expect,
    })
}

fn line_of(map: &SourceMap, path: &str) -> Option<u32> {
    let mut d = campaigns::Diagnostic::new(path, campaigns::Code::Syntax, "");
    map.place(&mut d);
    d.position.map(|p| p.line)
}
