//! Running a fixture through the real engine and storage, and comparing with its expectation.

use super::fixture::{Events, ExpectedReward, Fixture, FixtureError};
use engine::{Prepared, Reward, Status};
use serde::Serialize;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::io::BufRead;
use store::Store;

/// Events per transaction during a replay.
pub const REPLAY_BATCH: usize = 1_000;

/// Event counts, as DESIGN §5 reports them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    /// Applied.
    pub processed: u64,
    /// Seen before (in this run or in the database), with the same content.
    pub duplicate: u64,
    /// Invalid, or a conflict (same id, other content).
    pub rejected: u64,
}

/// A reward as a replay reports it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ReportedReward {
    /// Who.
    pub customer_id: String,
    /// Campaign key.
    pub campaign: String,
    /// Completing event.
    pub event_id: String,
    /// Cycle.
    pub cycle: u32,
    /// Kind.
    pub kind: String,
    /// Amount.
    pub amount: serde_json::Number,
}

impl From<&Reward> for ReportedReward {
    fn from(r: &Reward) -> Self {
        ReportedReward {
            customer_id: r.customer_id.clone(),
            campaign: r.campaign.clone(),
            event_id: r.event_id.clone(),
            cycle: r.cycle,
            kind: r.kind.as_str().to_owned(),
            amount: r.amount.to_json(),
        }
    }
}

/// A refused event, for the readable report.
#[derive(Debug, Clone, PartialEq)]
pub struct Refusal {
    /// Its id (may be empty).
    pub event_id: String,
    /// Its line in the fixture or the events file.
    pub line: u32,
    /// The field at fault.
    pub field: String,
    /// Why.
    pub reason: String,
}

/// One fixture's replay: the JSON fields are exactly DESIGN §5's.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The fixture file, as given.
    pub fixture: String,
    /// Event counts.
    pub events: Counts,
    /// The rewards this run issued, in issue order.
    pub rewards: Vec<ReportedReward>,
    /// Whether the rewards match `expect` (true when the fixture expects nothing).
    pub passed: bool,
    /// Where actual and expected part, for people.
    pub mismatches: Vec<String>,
    /// The fixture's name.
    #[serde(skip)]
    pub name: String,
    /// Refused events, with field and reason.
    #[serde(skip)]
    pub refusals: Vec<Refusal>,
    /// Rewards issued per campaign key (this run).
    #[serde(skip)]
    pub per_campaign: Vec<(String, u64)>,
    /// Events read.
    #[serde(skip)]
    pub total: u64,
    /// Expression evaluations that failed (each counted as false), per campaign key, with the
    /// first failure's path and message.
    #[serde(skip)]
    pub evaluation_errors: Vec<EvaluationErrors>,
}

/// One campaign's failed evaluations in a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvaluationErrors {
    /// Campaign key.
    pub campaign: String,
    /// How many evaluations failed.
    pub count: u64,
    /// The first failure: the expression's path and what went wrong.
    pub first: String,
}

/// Why a replay could not finish.
#[derive(Debug)]
pub enum ReplayError {
    /// The fixture (or its events file) is malformed.
    Fixture(FixtureError),
    /// The engine or database failed.
    Engine(store::Error),
}

impl std::fmt::Display for ReplayError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplayError::Fixture(e) => write!(f, "{e}"),
            ReplayError::Engine(e) => write!(f, "{e}"),
        }
    }
}

impl From<store::Error> for ReplayError {
    fn from(e: store::Error) -> Self {
        ReplayError::Engine(e)
    }
}

/// How many events a fixture has, for a progress bar (reads an events file's lines once).
pub fn count_events(fixture: &Fixture) -> u64 {
    match &fixture.events {
        Events::Inline(list) => list.len() as u64,
        Events::File(path) => std::fs::File::open(path)
            .map(|f| {
                std::io::BufReader::new(f)
                    .lines()
                    .map_while(Result::ok)
                    .filter(|l| !l.trim().is_empty())
                    .count() as u64
            })
            .unwrap_or(0),
    }
}

/// Replays `fixture` into `store`, calling `progress` with the number of events done so far.
pub async fn replay(
    fixture: &Fixture,
    store: &Store,
    progress: &dyn Fn(u64),
) -> Result<Report, ReplayError> {
    for spec in &fixture.campaigns {
        store.install_campaign(spec).await?;
    }
    for customer in &fixture.customers {
        store.upsert_customer(customer).await?;
    }
    let mut so_far = ReplaySoFar::new(fixture);
    // A reader thread reads, parses and fingerprints the next chunks while this task applies
    // and writes the current one: the two halves of the work run on both cores.
    let (sender, mut chunks) = tokio::sync::mpsc::channel(READ_AHEAD);
    let events = fixture.events.clone();
    let reader = std::thread::Builder::new()
        .name("replay-reader".into())
        .spawn(move || read_chunks(&events, &sender))
        .map_err(|e| {
            ReplayError::Fixture(FixtureError {
                file: String::new(),
                line: None,
                reason: format!("could not start reading the events: {e}"),
            })
        })?;
    while let Some(chunk) = chunks.recv().await {
        let (events, lines) = chunk?;
        so_far.batch(store, &events, lines).await?;
        progress(so_far.total);
    }
    let _ = reader.join();
    Ok(so_far.finish(fixture))
}

/// Chunks the reader may have ready ahead of the one being applied.
const READ_AHEAD: usize = 2;

/// One chunk of events, read and fingerprinted, with each event's line in its file.
type Chunk = Result<(Prepared, Vec<u32>), ReplayError>;

/// Reads `events` in chunks of [`REPLAY_BATCH`] and sends them in order; a line that is not
/// JSON ends the stream with its error, after the chunks before it.
fn read_chunks(events: &Events, sender: &tokio::sync::mpsc::Sender<Chunk>) {
    let send = |values: &[Value], lines: Vec<u32>| {
        sender
            .blocking_send(Ok((Prepared::new(values), lines)))
            .is_ok()
    };
    match events {
        Events::Inline(list) => {
            for chunk in list.chunks(REPLAY_BATCH) {
                let values: Vec<Value> = chunk.iter().map(|(v, _)| v.clone()).collect();
                if !send(&values, chunk.iter().map(|(_, l)| *l).collect()) {
                    return;
                }
            }
        }
        Events::File(path) => {
            let file_name = path.display().to_string();
            let fail = |line: u32, reason: String| {
                let error = ReplayError::Fixture(FixtureError {
                    file: file_name.clone(),
                    line: Some(line),
                    reason,
                });
                let _ = sender.blocking_send(Err(error));
            };
            let reader = match std::fs::File::open(path) {
                Ok(r) => r,
                Err(e) => return fail(0, e.to_string()),
            };
            let mut values = Vec::with_capacity(REPLAY_BATCH);
            let mut lines = Vec::with_capacity(REPLAY_BATCH);
            for (i, line) in std::io::BufReader::new(reader).lines().enumerate() {
                let number = u32::try_from(i + 1).unwrap_or(u32::MAX);
                let line = match line {
                    Ok(l) => l,
                    Err(e) => return fail(number, e.to_string()),
                };
                if line.trim().is_empty() {
                    continue;
                }
                match serde_json::from_str::<Value>(&line) {
                    Ok(value) => values.push(value),
                    Err(e) => return fail(number, format!("not a JSON event: {e}")),
                }
                lines.push(number);
                if values.len() == REPLAY_BATCH {
                    let full = std::mem::replace(&mut lines, Vec::with_capacity(REPLAY_BATCH));
                    if !send(&values, full) {
                        return;
                    }
                    values.clear();
                }
            }
            if !values.is_empty() {
                send(&values, lines);
            }
        }
    }
}

/// What a replay has seen so far.
struct ReplaySoFar {
    counts: Counts,
    total: u64,
    issued: Vec<ReportedReward>,
    /// Every reward of this fixture's events (issued now or by an earlier run), once each.
    all: Vec<ReportedReward>,
    identities: HashSet<(String, String, u32, u32)>,
    refusals: Vec<Refusal>,
    /// Stream position of the events that rewards or expectations name.
    positions: HashMap<String, (u64, u32)>,
    wanted: HashSet<String>,
    errors: Vec<EvaluationErrors>,
}

impl ReplaySoFar {
    fn new(fixture: &Fixture) -> Self {
        let wanted = fixture
            .expect
            .iter()
            .flatten()
            .map(|r| r.event_id.clone())
            .collect();
        ReplaySoFar {
            counts: Counts::default(),
            total: 0,
            issued: Vec::new(),
            all: Vec::new(),
            identities: HashSet::new(),
            refusals: Vec::new(),
            positions: HashMap::new(),
            wanted,
            errors: Vec::new(),
        }
    }

    async fn batch(
        &mut self,
        store: &Store,
        events: &Prepared,
        lines: Vec<u32>,
    ) -> Result<(), ReplayError> {
        let results = store.process_prepared(events).await?;
        for (result, line) in results.iter().zip(lines) {
            self.total += 1;
            match result.status {
                Status::Processed => self.counts.processed += 1,
                Status::Duplicate => self.counts.duplicate += 1,
                Status::Rejected | Status::Conflict => {
                    self.counts.rejected += 1;
                    let error = result
                        .error
                        .clone()
                        .unwrap_or_else(|| campaigns::EventError {
                            field: String::new(),
                            reason: "refused".into(),
                        });
                    self.refusals.push(Refusal {
                        event_id: result.event_id.clone(),
                        line,
                        field: error.field,
                        reason: error.reason,
                    });
                }
            }
            if result.status == Status::Processed {
                for outcome in &result.outcomes {
                    self.count_errors(&outcome.campaign, &outcome.errors);
                }
            }
            if self.wanted.contains(&result.event_id) || !result.rewards.is_empty() {
                self.positions
                    .entry(result.event_id.clone())
                    .or_insert((self.total, line));
            }
            for r in &result.rewards {
                let reported = ReportedReward::from(r);
                if result.status == Status::Processed {
                    self.issued.push(reported.clone());
                }
                let identity = (
                    r.campaign.clone(),
                    r.customer_id.clone(),
                    r.cycle,
                    r.reward_index,
                );
                if self.identities.insert(identity) {
                    self.all.push(reported);
                }
            }
        }
        Ok(())
    }

    fn count_errors(&mut self, campaign: &str, errors: &[campaigns::EvalError]) {
        let Some(first) = errors.first() else {
            return;
        };
        match self.errors.iter_mut().find(|e| e.campaign == campaign) {
            Some(e) => e.count += errors.len() as u64,
            None => self.errors.push(EvaluationErrors {
                campaign: campaign.to_owned(),
                count: errors.len() as u64,
                first: first.to_string(),
            }),
        }
    }

    fn finish(self, fixture: &Fixture) -> Report {
        let mismatches = match &fixture.expect {
            None => Vec::new(),
            Some(expected) => diff(expected, &self.all, &self.positions),
        };
        let mut per_campaign: Vec<(String, u64)> = fixture
            .campaigns
            .iter()
            .map(|c| (c.key.clone(), 0))
            .collect();
        for r in &self.issued {
            if let Some(entry) = per_campaign.iter_mut().find(|(k, _)| *k == r.campaign) {
                entry.1 += 1;
            }
        }
        Report {
            fixture: fixture.file.clone(),
            events: self.counts,
            rewards: self.issued,
            passed: mismatches.is_empty(),
            mismatches,
            name: fixture.name.clone(),
            refusals: self.refusals,
            per_campaign,
            total: self.total,
            evaluation_errors: self.errors,
        }
    }
}

fn reward_matches(e: &ExpectedReward, a: &ReportedReward) -> bool {
    e.customer_id == a.customer_id
        && e.campaign == a.campaign
        && e.event_id == a.event_id
        && e.cycle == a.cycle
        && e.kind == a.kind
        && a.amount
            .as_f64()
            .is_some_and(|x| (x - e.amount).abs() < 1e-9)
}

fn show_expected(e: &ExpectedReward) -> String {
    format!(
        "{} {} cycle {} {} {} on {}",
        e.customer_id, e.campaign, e.cycle, e.kind, e.amount, e.event_id
    )
}

fn show_actual(a: &ReportedReward) -> String {
    format!(
        "{} {} cycle {} {} {} on {}",
        a.customer_id, a.campaign, a.cycle, a.kind, a.amount, a.event_id
    )
}

/// Where the two lists part: the first reward that differs, named by the earlier of the two
/// events involved, then what is missing and what is extra.
fn diff(
    expected: &[ExpectedReward],
    actual: &[ReportedReward],
    positions: &HashMap<String, (u64, u32)>,
) -> Vec<String> {
    let Some(i) =
        (0..expected.len().max(actual.len())).find(|&i| match (expected.get(i), actual.get(i)) {
            (Some(e), Some(a)) => !reward_matches(e, a),
            _ => true,
        })
    else {
        return Vec::new();
    };
    let e = expected.get(i);
    let a = actual.get(i);
    let place = |id: &str| positions.get(id).copied();
    let event = [
        e.map(|e| e.event_id.as_str()),
        a.map(|a| a.event_id.as_str()),
    ]
    .into_iter()
    .flatten()
    .min_by_key(|id| place(id).map_or(u64::MAX, |(n, _)| n))
    .unwrap_or_default();
    let at = match place(event) {
        Some((n, line)) => format!("event `{event}` (#{n}, line {line})"),
        None => format!("event `{event}` (not in the stream)"),
    };
    let mut out = vec![format!(
        "rewards part at {at}: expected {}, got {}",
        e.map_or("no more rewards".into(), show_expected),
        a.map_or("no more rewards".into(), show_actual)
    )];
    let missing: Vec<String> = expected
        .iter()
        .filter(|e| !actual.iter().any(|a| reward_matches(e, a)))
        .map(show_expected)
        .collect();
    let extra: Vec<String> = actual
        .iter()
        .filter(|a| !expected.iter().any(|e| reward_matches(e, a)))
        .map(show_actual)
        .collect();
    for (what, list) in [("missing", missing), ("unexpected", extra)] {
        for item in list.iter().take(10) {
            out.push(format!("{what}: {item}"));
        }
        if list.len() > 10 {
            out.push(format!("... and {} more {what}", list.len() - 10));
        }
    }
    if expected.len() == actual.len() && out.len() == 1 {
        out.push("the same rewards, in another order".into());
    }
    out
}
