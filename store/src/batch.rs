//! One batch of events in one transaction: inbox dedup, progress with a version check, ledger
//! under its unique key, budget with one conditional update, outbox rows. A batch that meets a
//! concurrent writer (a version that moved, a key inserted meanwhile) is rolled back whole and
//! run again from fresh reads.

use super::fault::{Fault, classify};
use super::{CustomerProgress, Store};
use crate::error::{Error, Result};
use campaigns::{Customer, Event, EventError};
use chrono::Utc;
use engine::CampaignState;
use engine::Reward;
use engine::{EventResult, Status};
use engine::{Incoming, Prepared};
use entities::{budget, customer, inbox, outbox, progress, reward};
use sea_orm::sea_query::{Alias, Expr, ExprTrait, OnConflict, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

/// How many times a batch is run again after meeting a concurrent writer.
const MAX_ATTEMPTS: u32 = 50;

/// Why an attempt at a batch did not commit.
enum AttemptFailure {
    /// A concurrent writer got there first: run the batch again.
    Contended,
    /// Anything else: the batch fails with it.
    Failed(Error),
}

impl From<DbErr> for AttemptFailure {
    fn from(e: DbErr) -> Self {
        if classify(&e) == Fault::Contention {
            AttemptFailure::Contended
        } else {
            AttemptFailure::Failed(Error::from(e))
        }
    }
}

impl From<Error> for AttemptFailure {
    fn from(e: Error) -> Self {
        AttemptFailure::Failed(e)
    }
}

impl From<engine::Error> for AttemptFailure {
    fn from(e: engine::Error) -> Self {
        AttemptFailure::Failed(Error::Engine(e))
    }
}

impl From<serde_json::Error> for AttemptFailure {
    fn from(e: serde_json::Error) -> Self {
        AttemptFailure::Failed(Error::from(e))
    }
}

impl Store {
    /// Processes `events` (their JSON forms) in order, in one transaction, and returns each
    /// event's result once the transaction has committed. Invalid events are rejected one by
    /// one, with field and reason; the rest commit.
    pub async fn process_batch(&self, events: &[serde_json::Value]) -> Result<Vec<EventResult>> {
        self.process_prepared(&Prepared::new(events)).await
    }

    /// [`Store::process_batch`] for events already read.
    ///
    /// An event the database cannot store (PostgreSQL refuses a NUL character in text, say)
    /// fails only itself: the batch it broke is run again one event at a time, in order, and
    /// that event alone is rejected with the database's reason.
    pub async fn process_prepared(&self, events: &Prepared) -> Result<Vec<EventResult>> {
        let incoming = events.events();
        match self.run(incoming).await {
            Err(Error::Unstorable(_)) if incoming.len() > 1 => {
                let mut results = Vec::with_capacity(incoming.len());
                for one in incoming.chunks(1) {
                    match self.run(one).await {
                        Err(Error::Unstorable(e)) => results.push(unstorable(&one[0], &e)),
                        other => results.extend(other?),
                    }
                }
                Ok(results)
            }
            Err(Error::Unstorable(e)) if incoming.len() == 1 => {
                Ok(vec![unstorable(&incoming[0], &e)])
            }
            other => other,
        }
    }

    /// Runs `incoming` in one transaction, again from fresh reads while it meets concurrent
    /// writers.
    async fn run(&self, incoming: &[Incoming]) -> Result<Vec<EventResult>> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(incoming).await {
                Ok(results) => return Ok(results),
                Err(AttemptFailure::Contended) if attempt < MAX_ATTEMPTS => {
                    // Back off a little, more each time, so contenders fall out of step.
                    let jitter = u64::from(attempt) * 2 + rand_jitter();
                    tokio::time::sleep(Duration::from_millis(jitter)).await;
                }
                Err(AttemptFailure::Contended) => return Err(Error::Contention(attempt)),
                Err(AttemptFailure::Failed(e)) => return Err(e),
            }
        }
    }

    async fn begin(&self) -> std::result::Result<DatabaseTransaction, DbErr> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        self.db.begin_with_options(options).await
    }

    async fn attempt(
        &self,
        incoming: &[Incoming],
    ) -> std::result::Result<Vec<EventResult>, AttemptFailure> {
        let txn = self.begin().await?;
        let (set, versions) = self.campaign_set_versions(&txn).await?;
        let valid: Vec<&(Event, String)> =
            incoming.iter().filter_map(|i| i.as_ref().ok()).collect();

        // The inbox: events this database has already processed.
        let ids: Vec<String> = valid
            .iter()
            .map(|(e, _)| e.id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut seen: HashMap<String, (String, Arc<EventResult>)> = HashMap::new();
        for chunk in ids.chunks(500) {
            for row in inbox::Entity::find()
                .filter(inbox::Column::EventId.is_in(chunk.iter().cloned()))
                .all(&txn)
                .await?
            {
                let first: EventResult = serde_json::from_str(&row.result)?;
                seen.insert(row.event_id, (row.fingerprint, Arc::new(first)));
            }
        }

        // Profiles and progress of the customers with new events.
        let customers: Vec<String> = valid
            .iter()
            .filter(|(e, _)| !seen.contains_key(&e.id))
            .map(|(e, _)| e.customer_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut profiles: HashMap<String, Customer> = HashMap::new();
        let mut states: HashMap<String, CustomerProgress> = HashMap::new();
        let mut missing = Vec::new();
        for c in &customers {
            match self.progress.get(c) {
                Some(cached) => {
                    states.insert(c.clone(), CustomerProgress::clone(&cached));
                }
                None => missing.push(c.clone()),
            }
        }
        for chunk in customers.chunks(500) {
            for row in customer::Entity::find()
                .filter(customer::Column::Id.is_in(chunk.iter().cloned()))
                .all(&txn)
                .await?
            {
                let attributes = serde_json::from_str(&row.attributes)?;
                profiles.insert(
                    row.id.clone(),
                    Customer {
                        id: row.id,
                        attributes,
                    },
                );
            }
        }
        // A cached entry is used only while the database holds the versions it holds. The
        // version check on writes is not enough: an event that changes nothing writes nothing,
        // and a stale state can make an event look like one (a sequence step already taken, a
        // streak's period already counted), so the entry is checked before it is used.
        //
        // One row per customer is enough: (rows, sum of versions). A row's version only grows
        // (every write is the version read plus one) and rows are never deleted, so the same
        // count and the same sum mean the same rows at the same versions.
        let cached: Vec<String> = states.keys().cloned().collect();
        let mut current: HashMap<String, (i64, i64)> = HashMap::new();
        for chunk in cached.chunks(500) {
            let rows: Vec<(String, i64, i64)> = progress::Entity::find()
                .select_only()
                .column(progress::Column::CustomerId)
                .column_as(Expr::cust("COUNT(*)"), "rows")
                .column_as(Expr::cust("CAST(SUM(version) AS BIGINT)"), "versions")
                .filter(progress::Column::CustomerId.is_in(chunk.iter().cloned()))
                .group_by(progress::Column::CustomerId)
                .into_tuple()
                .all(&txn)
                .await?;
            for (c, rows, versions) in rows {
                current.insert(c, (rows, versions));
            }
        }
        for c in cached {
            let held = &states[&c];
            let rows = i64::try_from(held.len()).unwrap_or(i64::MAX);
            let versions: i64 = held.values().map(|(v, _)| *v).sum();
            let fresh = current.get(&c).copied().unwrap_or((0, 0)) == (rows, versions);
            if !fresh {
                states.remove(&c);
                self.progress.invalidate(&c);
                missing.push(c);
            }
        }
        let hits = (customers.len() - missing.len()) as u64;
        self.stats.progress_hits.fetch_add(hits, Relaxed);
        self.stats
            .progress_misses
            .fetch_add(missing.len() as u64, Relaxed);
        for c in &missing {
            states.insert(c.clone(), CustomerProgress::new());
        }
        for chunk in missing.chunks(500) {
            for row in progress::Entity::find()
                .filter(progress::Column::CustomerId.is_in(chunk.iter().cloned()))
                .all(&txn)
                .await?
            {
                let state = CampaignState::from_json(&row.state)?;
                states
                    .entry(row.customer_id)
                    .or_default()
                    .insert(row.campaign, (row.version, state));
            }
        }

        // Budgets of capped campaigns: which are already spent.
        let capped: Vec<String> = set
            .campaigns()
            .iter()
            .filter(|c| c.spec().limits.max_rewards.is_some())
            .map(|c| c.spec().key.clone())
            .collect();
        let mut spent: HashSet<String> = HashSet::new();
        if !capped.is_empty() {
            for row in budget::Entity::find()
                .filter(budget::Column::Campaign.is_in(capped))
                .all(&txn)
                .await?
            {
                if row.max.is_some_and(|m| row.taken >= m) {
                    spent.insert(row.campaign);
                }
            }
        }

        // Apply, in order.
        let loaded: HashMap<(String, String), i64> = states
            .iter()
            .flat_map(|(c, rows)| {
                rows.iter()
                    .map(move |(k, (v, _))| ((c.clone(), k.clone()), *v))
            })
            .collect();
        let mut dirty: HashSet<(String, String)> = HashSet::new();
        let mut batch_seen: HashMap<String, (String, Arc<EventResult>)> = HashMap::new();
        let mut new_rows: Vec<(&Event, &String, Arc<EventResult>)> = Vec::new();
        let mut results = Vec::with_capacity(incoming.len());
        for item in incoming {
            let (event, print) = match item {
                Err(refused) => {
                    results.push(EventResult::clone(refused));
                    continue;
                }
                Ok(pair) => pair,
            };
            if let Some((first_print, first)) =
                seen.get(&event.id).or_else(|| batch_seen.get(&event.id))
            {
                results.push(if first_print == print {
                    EventResult::duplicate_of(first)
                } else {
                    EventResult::conflict(&event.id)
                });
                continue;
            }
            let rows = states.entry(event.customer_id.clone()).or_default();
            let key = |i: usize| set.campaigns()[i].spec().key.as_str();
            let evaluations = set.evaluate(
                event,
                profiles.get(&event.customer_id),
                |i| rows.get(key(i)).map(|(_, s)| s),
                |i| spent.contains(key(i)),
            );
            for (i, evaluation) in &evaluations {
                if evaluation.takes_budget {
                    match take_budget(&txn, key(*i)).await? {
                        Budget::Left => {}
                        // Later events of this batch must see the campaign stopped, as they
                        // would one batch later.
                        Budget::Spent => {
                            spent.insert(key(*i).to_owned());
                        }
                        // The budget read when the batch began is stale: a concurrent writer
                        // spent it meanwhile. Events before this one were evaluated as if it
                        // were not, which no serial order allows, so run the batch again.
                        Budget::Refused => return Err(AttemptFailure::Contended),
                    }
                }
            }
            let result = Arc::new(set.result(event, &evaluations));
            for (i, evaluation) in evaluations {
                if let Some(state) = evaluation.state {
                    let campaign = key(i).to_owned();
                    let version = rows.get(&campaign).map_or(0, |(v, _)| *v);
                    dirty.insert((event.customer_id.clone(), campaign.clone()));
                    rows.insert(campaign, (version, state));
                }
            }
            batch_seen.insert(event.id.clone(), (print.clone(), Arc::clone(&result)));
            new_rows.push((event, print, Arc::clone(&result)));
            results.push(EventResult::clone(&result));
        }

        // Write, a few statements per batch whatever its size.
        let now = Utc::now();
        let rows: Vec<(&String, &String, &CampaignState)> =
            dirty.iter().map(|(c, k)| (c, k, &states[c][k].1)).collect();
        if let Err(stop) = write_progress(&txn, &rows, &loaded, now).await {
            // Another writer moved a row: what we read (or cached) is stale.
            self.forget(&dirty);
            return Err(stop);
        }
        let rewards: Vec<&Reward> = new_rows.iter().flat_map(|(_, _, r)| &r.rewards).collect();
        write_rewards(&txn, &rewards, &versions, now).await?;
        let mut inbox_rows = Vec::with_capacity(new_rows.len());
        for (event, print, result) in &new_rows {
            inbox_rows.push(inbox::ActiveModel {
                event_id: Set(event.id.clone()),
                fingerprint: Set(String::clone(print)),
                customer_id: Set(event.customer_id.clone()),
                result: Set(serde_json::to_string(result.as_ref())?),
                processed_at: Set(now),
            });
        }
        for chunk in chunks(inbox_rows) {
            inbox::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        self.forget_views(&customers);

        // Write through: the cache now holds what the database holds, versions included.
        for customer_id in dirty.iter().map(|(c, _)| c).collect::<HashSet<_>>() {
            let mut rows = states.remove(customer_id).unwrap_or_default();
            for (campaign, (version, _)) in rows.iter_mut() {
                let key = (customer_id.clone(), campaign.clone());
                if dirty.contains(&key) {
                    // What `write_progress` wrote: the version read (0 for a new row), plus one.
                    *version = loaded.get(&key).copied().unwrap_or(0) + 1;
                }
            }
            self.progress.insert(customer_id.clone(), Arc::new(rows));
        }
        Ok(results)
    }

    /// Drops the cached progress of customers whose rows turned out stale.
    fn forget(&self, dirty: &HashSet<(String, String)>) {
        for (customer_id, _) in dirty {
            self.progress.invalidate(customer_id);
        }
    }
}

/// The rejection of an event the database refused to store.
fn unstorable(incoming: &Incoming, e: &DbErr) -> EventResult {
    tracing::warn!(error = %e, "the database refused an event's values; rejecting that event");
    let id = match incoming {
        Ok((event, _)) => event.id.clone(),
        Err(refused) => refused.event_id.clone(),
    };
    EventResult::refused(
        id,
        Status::Rejected,
        EventError::new("", format!("the database cannot store this event: {e}")),
    )
}

/// What taking one unit of a budget did.
enum Budget {
    /// Taken; some is left (or there is no cap).
    Left,
    /// Taken, and that was the last unit.
    Spent,
    /// Already spent: nothing taken.
    Refused,
}

/// Takes one unit of a campaign's budget with one conditional update, and tells whether that
/// spent it. The update holds the budget row's lock until the transaction ends (PostgreSQL)
/// or the batch holds the write lock (SQLite), so the read after it is exact.
async fn take_budget(
    txn: &DatabaseTransaction,
    campaign: &str,
) -> std::result::Result<Budget, AttemptFailure> {
    let update = Query::update()
        .table(budget::Entity)
        .value(
            budget::Column::Taken,
            Expr::col(budget::Column::Taken).add(1),
        )
        .and_where(budget::Column::Campaign.eq(campaign))
        .and_where(
            budget::Column::Max
                .is_null()
                .or(Expr::col(budget::Column::Taken).lt(Expr::col(budget::Column::Max))),
        )
        .to_owned();
    if txn.execute(&update).await?.rows_affected() != 1 {
        return Ok(Budget::Refused);
    }
    let row = budget::Entity::find_by_id(campaign.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("budget of {campaign}")))?;
    Ok(if row.max.is_some_and(|m| row.taken >= m) {
        Budget::Spent
    } else {
        Budget::Left
    })
}

/// Rows per multi-row statement: far below SQLite's and PostgreSQL's bound parameters.
const ROWS_PER_STATEMENT: usize = 500;

fn chunks<T>(rows: Vec<T>) -> impl Iterator<Item = Vec<T>> {
    let mut rows = rows.into_iter().peekable();
    std::iter::from_fn(move || {
        rows.peek()?;
        Some(rows.by_ref().take(ROWS_PER_STATEMENT).collect())
    })
}

/// Writes changed progress with one upsert per chunk. A row goes in only if nobody wrote it
/// since it was read: a new row must still be absent (version 0), an existing one still at the
/// version read. Fewer rows written than sent means another writer got there first.
async fn write_progress(
    txn: &DatabaseTransaction,
    rows: &[(&String, &String, &CampaignState)],
    loaded: &HashMap<(String, String), i64>,
    now: chrono::DateTime<Utc>,
) -> std::result::Result<(), AttemptFailure> {
    for chunk in rows.chunks(ROWS_PER_STATEMENT) {
        let mut upsert = Query::insert();
        upsert.into_table(progress::Entity).columns([
            progress::Column::CustomerId,
            progress::Column::Campaign,
            progress::Column::State,
            progress::Column::Version,
            progress::Column::UpdatedAt,
        ]);
        for (customer_id, campaign, state) in chunk {
            let read = loaded
                .get(&((*customer_id).clone(), (*campaign).clone()))
                .copied()
                .unwrap_or(0);
            upsert
                .values([
                    Expr::val(customer_id.as_str()),
                    Expr::val(campaign.as_str()),
                    Expr::val(state.to_json()),
                    Expr::val(read + 1),
                    Expr::val(now),
                ])
                .map_err(|e| AttemptFailure::Failed(Error::Db(DbErr::Custom(e.to_string()))))?;
        }
        upsert.on_conflict(
            OnConflict::columns([progress::Column::CustomerId, progress::Column::Campaign])
                .update_columns([
                    progress::Column::State,
                    progress::Column::Version,
                    progress::Column::UpdatedAt,
                ])
                .action_and_where(
                    Expr::col((progress::Entity, progress::Column::Version)).eq(Expr::col((
                        Alias::new("excluded"),
                        progress::Column::Version,
                    ))
                    .sub(1)),
                )
                .to_owned(),
        );
        let written = txn.execute(&upsert).await?.rows_affected();
        if written != chunk.len() as u64 {
            return Err(AttemptFailure::Contended);
        }
    }
    Ok(())
}

/// Appends rewards to the ledger, whose unique key refuses a second copy, and announces each in
/// the outbox: the reward as JSON with its campaign's version (`campaign_version`), which the
/// relay puts in the reward's messages (the `webhook` module).
async fn write_rewards(
    txn: &DatabaseTransaction,
    rewards: &[&Reward],
    versions: &HashMap<String, i32>,
    now: chrono::DateTime<Utc>,
) -> std::result::Result<(), AttemptFailure> {
    let mut ledger = Vec::with_capacity(rewards.len());
    let mut outbox_rows = Vec::with_capacity(rewards.len());
    for r in rewards {
        let cycle = i32::try_from(r.cycle).unwrap_or(i32::MAX);
        let index = i32::try_from(r.reward_index).unwrap_or(i32::MAX);
        ledger.push(reward::ActiveModel {
            campaign: Set(r.campaign.clone()),
            customer_id: Set(r.customer_id.clone()),
            cycle: Set(cycle),
            reward_index: Set(index),
            event_id: Set(r.event_id.clone()),
            kind: Set(r.kind.as_str().to_owned()),
            amount: Set(r.amount.get()),
            code: Set(r.code.clone()),
            issued_at: Set(now),
            ..Default::default()
        });
        outbox_rows.push(outbox::ActiveModel {
            campaign: Set(r.campaign.clone()),
            customer_id: Set(r.customer_id.clone()),
            cycle: Set(cycle),
            reward_index: Set(index),
            payload: Set(outbox_payload(r, versions.get(&r.campaign).copied())?),
            created_at: Set(now),
            ..Default::default()
        });
    }
    for chunk in chunks(ledger) {
        reward::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    for chunk in chunks(outbox_rows) {
        outbox::Entity::insert_many(chunk)
            .exec_without_returning(txn)
            .await?;
    }
    Ok(())
}

/// An outbox row's payload: the reward, and the version of its campaign that issued it.
fn outbox_payload(reward: &Reward, version: Option<i32>) -> serde_json::Result<String> {
    let mut payload = serde_json::to_value(reward)?;
    if let (serde_json::Value::Object(fields), Some(v)) = (&mut payload, version) {
        fields.insert("campaign_version".into(), v.into());
    }
    serde_json::to_string(&payload)
}

/// A few milliseconds of jitter from the clock's low bits; no need for a random generator.
fn rand_jitter() -> u64 {
    u64::from(Utc::now().timestamp_subsec_micros() % 7)
}
