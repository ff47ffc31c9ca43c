//! Reward delivery's storage (DESIGN §9): webhook endpoints, one message per reward and
//! matching endpoint, and the log of attempts.
//!
//! Guarantees, and how:
//! - **Every reward reaches every matching endpoint.** The batch writes an outbox row per
//!   reward in its own transaction; [`Store::dispatch_outbox`] turns outbox rows into
//!   messages, one per enabled endpoint whose filters match and that existed when the reward
//!   was issued, and marks the rows dispatched (`delivered_at`), in one transaction. The
//!   unique key (endpoint, outbox row) keeps a message from being queued twice, and on
//!   PostgreSQL the rows are taken `FOR UPDATE SKIP LOCKED`, so nodes dispatch different rows.
//! - **One attempt at a time per message.** A node attempts a message only under a lease:
//!   [`Store::claim_webhook_messages`] takes due, unleased messages (`FOR UPDATE SKIP LOCKED`
//!   on PostgreSQL; SQLite has one writer) and sets their lease in the same transaction. The
//!   lease outlives the attempt's timeout; a node that dies mid-attempt leaves the lease to
//!   expire, and another node (or the same one restarted) attempts the message again, with
//!   the same `webhook-id` and body.
//! - **An attempt's result is kept only by its lease holder.** [`Store::record_webhook_attempts`]
//!   updates a message only while the caller still holds its lease.
//!
//! The NATS reward stream is one more endpoint, of [`Transport::Nats`]: its messages are
//! queued, leased, retried and logged like the others, and only nodes that publish to NATS
//! lease them. [`Store::set_reward_stream`] keeps it in step with the `nats_url` setting.

mod endpoints;

use super::Store;
use crate::error::{Error, Result};
use crate::read::ledger_entry;
use campaigns::RewardKind;
use chrono::{DateTime, Utc};
use engine::{
    AttemptOutcome, DeliveryAttempt, DeliveryStatus, DueMessage, Transport, WebhookEndpoint,
    WebhookMessage,
};
use entities::{outbox, reward, webhook_attempt, webhook_endpoint, webhook_message};
use sea_orm::sea_query::{Expr, ExprTrait, LockBehavior, LockType, OnConflict};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use std::collections::{BTreeSet, HashMap, HashSet};

/// Unix milliseconds of `t`.
fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

/// The time of Unix milliseconds `ms`.
fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

fn corrupt(what: String) -> Error {
    Error::Engine(engine::Error::Corrupt(what))
}

/// Messages settled (delivered, failed or rescheduled) between two [`Store::tidy_deliveries`].
pub const TIDY_EVERY: u64 = 20_000;

/// Why the NATS reward stream is disabled while no node publishes to NATS.
pub const REWARD_STREAM_OFF: &str = "nats_url is not set: rewards are not published to NATS";

/// An endpoint row as the domain's endpoint.
fn endpoint(row: webhook_endpoint::Model) -> Result<WebhookEndpoint> {
    let transport = Transport::parse(&row.transport)
        .ok_or_else(|| corrupt(format!("webhook endpoint {}: bad transport", row.id)))?;
    Ok(WebhookEndpoint {
        id: row.id,
        transport,
        campaigns: serde_json::from_str(&row.campaigns)?,
        kinds: serde_json::from_str(&row.kinds)?,
        url: row.url,
        description: row.description,
        enabled: row.enabled,
        disabled_reason: row.disabled_reason,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// A message row as the domain's message.
fn message(row: webhook_message::Model) -> Result<WebhookMessage> {
    let status = DeliveryStatus::parse(&row.status)
        .ok_or_else(|| corrupt(format!("webhook message {}: bad status", row.id)))?;
    Ok(WebhookMessage {
        id: row.id,
        endpoint_id: row.endpoint_id,
        webhook_id: row.webhook_id,
        body: row.body,
        status,
        attempts: u32::try_from(row.attempts).unwrap_or(0),
        next_attempt_at: (status == DeliveryStatus::Pending).then(|| time(row.next_attempt_ms)),
        issued_at: row.issued_at,
        created_at: row.created_at,
        delivered_at: row.delivered_at,
    })
}

/// Pending and failed messages, and how old the oldest pending one is.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeliveryStats {
    /// Messages waiting for an attempt.
    pub pending: u64,
    /// Messages whose every attempt failed.
    pub failed: u64,
    /// When the oldest pending message was queued.
    pub oldest_pending: Option<DateTime<Utc>>,
}

/// What an outbox row announces, read with its ledger entry.
struct Announced {
    outbox_id: i64,
    created_at: DateTime<Utc>,
    campaign: String,
    kind: RewardKind,
    webhook_id: String,
    body: String,
    issued_at: DateTime<Utc>,
}

impl Store {
    async fn begin_write(&self) -> Result<DatabaseTransaction> {
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        Ok(self.db.begin_with_options(options).await?)
    }

    /// A transaction of the relay's own bookkeeping (dispatching the outbox, leases, attempt
    /// records). On PostgreSQL it commits without waiting for the WAL to reach the disk
    /// (`synchronous_commit = off` for this transaction alone): a crash can lose only the
    /// last few such commits, each whole, and every one of them is redone (an outbox row
    /// dispatched again, a lease that expires, a message sent again with the same
    /// `webhook-id`), so delivery stays at least once while a delivery costs no disk flush.
    /// What the API acknowledges (endpoints, redeliveries) and the ledger and outbox the
    /// batches write are committed durably as before.
    async fn begin_relay(&self) -> Result<DatabaseTransaction> {
        let txn = self.begin_write().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            txn.execute_unprepared("SET LOCAL synchronous_commit = off")
                .await?;
        }
        Ok(txn)
    }

    async fn endpoint_row(
        &self,
        db: &impl ConnectionTrait,
        id: i64,
    ) -> Result<webhook_endpoint::Model> {
        webhook_endpoint::Entity::find_by_id(id)
            .one(db)
            .await?
            .ok_or_else(|| Error::not_found(format!("no webhook endpoint {id}")))
    }

    /// The rewards `rows` announce, as the messages' bodies.
    async fn announced(
        &self,
        db: &impl ConnectionTrait,
        rows: &[outbox::Model],
    ) -> Result<Vec<Announced>> {
        let customers: BTreeSet<&str> = rows.iter().map(|r| r.customer_id.as_str()).collect();
        let customers: Vec<&str> = customers.into_iter().collect();
        let campaigns: BTreeSet<&str> = rows.iter().map(|r| r.campaign.as_str()).collect();
        let mut ledger = HashMap::new();
        for chunk in customers.chunks(500) {
            for r in reward::Entity::find()
                .filter(reward::Column::CustomerId.is_in(chunk.iter().copied()))
                .filter(reward::Column::Campaign.is_in(campaigns.iter().copied()))
                .all(db)
                .await?
            {
                let identity = (
                    r.campaign.clone(),
                    r.customer_id.clone(),
                    r.cycle,
                    r.reward_index,
                );
                ledger.insert(identity, r);
            }
        }
        let mut announced = Vec::with_capacity(rows.len());
        for row in rows {
            let identity = (
                row.campaign.clone(),
                row.customer_id.clone(),
                row.cycle,
                row.reward_index,
            );
            let Some(r) = ledger.remove(&identity) else {
                return Err(corrupt(format!("outbox row {}: no ledger entry", row.id)));
            };
            let payload: serde_json::Value = serde_json::from_str(&row.payload)?;
            let version = payload["campaign_version"]
                .as_i64()
                .and_then(|v| i32::try_from(v).ok())
                .unwrap_or(0);
            let entry = ledger_entry(r)?;
            announced.push(Announced {
                outbox_id: row.id,
                created_at: row.created_at,
                campaign: entry.reward.campaign.clone(),
                kind: entry.reward.kind,
                webhook_id: engine::webhook_id(entry.id),
                body: engine::reward_message(&entry, version),
                issued_at: entry.issued_at,
            });
        }
        Ok(announced)
    }

    /// Queues `announced` to each of `endpoints` it is for (filters, and existence when it
    /// was issued unless `any_time`); a message already queued is left alone.
    async fn queue(
        txn: &DatabaseTransaction,
        announced: &[Announced],
        endpoints: &[webhook_endpoint::Model],
        any_time: bool,
    ) -> Result<u64> {
        let now = Utc::now();
        let mut messages = Vec::new();
        for ep in endpoints {
            let filter = endpoint(ep.clone())?;
            for a in announced {
                let existed =
                    any_time || a.outbox_id >= ep.from_outbox_id || a.created_at >= ep.created_at;
                if existed && filter.matches(&a.campaign, a.kind) {
                    messages.push(webhook_message::ActiveModel {
                        endpoint_id: Set(ep.id),
                        outbox_id: Set(a.outbox_id),
                        webhook_id: Set(a.webhook_id.clone()),
                        body: Set(a.body.clone()),
                        status: Set(DeliveryStatus::Pending.as_str().to_owned()),
                        attempts: Set(0),
                        next_attempt_ms: Set(ms(now)),
                        lease_owner: Set(None),
                        lease_until_ms: Set(0),
                        issued_at: Set(a.issued_at),
                        created_at: Set(now),
                        delivered_at: Set(None),
                        ..Default::default()
                    });
                }
            }
        }
        let mut queued = 0;
        for chunk in messages.chunks(200) {
            let on_conflict = OnConflict::columns([
                webhook_message::Column::EndpointId,
                webhook_message::Column::OutboxId,
            ])
            .do_nothing()
            .to_owned();
            let result = webhook_message::Entity::insert_many(chunk.to_vec())
                .on_conflict(on_conflict)
                .exec_without_returning(txn)
                .await?;
            queued += result;
        }
        Ok(queued)
    }

    /// Turns up to `limit` undispatched outbox rows, oldest first, into messages for the
    /// endpoints they are for (see the module's note), and marks them dispatched. Answers
    /// how many rows it dispatched.
    pub async fn dispatch_outbox(&self, limit: u64) -> Result<usize> {
        let txn = self.begin_relay().await?;
        let rows = outbox::Entity::find()
            .filter(outbox::Column::DeliveredAt.is_null())
            .order_by_asc(outbox::Column::Id)
            .limit(limit)
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(0);
        }
        let endpoints = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .all(&txn)
            .await?;
        if !endpoints.is_empty() {
            let announced = self.announced(&txn, &rows).await?;
            Self::queue(&txn, &announced, &endpoints, false).await?;
        }
        let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
        outbox::Entity::update_many()
            .col_expr(outbox::Column::DeliveredAt, Expr::value(Utc::now()))
            .filter(outbox::Column::Id.is_in(ids))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        Ok(rows.len())
    }

    /// Leases to `owner` for `lease` up to `total` due messages of enabled endpoints (not the
    /// NATS reward stream's unless `nats`: this node publishes there), at most `per_endpoint`
    /// per endpoint counting the `held` ones it already has, and answers them with what
    /// sending them needs.
    ///
    /// Each endpoint's due messages are read in their own statement, in the order of the
    /// partial index on pending messages by endpoint: the plan is an index scan that stops
    /// at the limit whatever the table's statistics say (a table that grew from nothing
    /// within a minute has none, and one query over several endpoints was planned as a sort
    /// of every due message).
    pub async fn claim_webhook_messages(
        &self,
        owner: &str,
        lease: std::time::Duration,
        total: u64,
        per_endpoint: u64,
        held: &HashMap<i64, usize>,
        nats: bool,
    ) -> Result<Vec<DueMessage>> {
        let now = ms(Utc::now());
        let room = |id: i64| {
            let held = held
                .get(&id)
                .map_or(0, |n| u64::try_from(*n).unwrap_or(u64::MAX));
            per_endpoint.saturating_sub(held)
        };
        let txn = self.begin_relay().await?;
        let mut endpoints: Vec<webhook_endpoint::Model> = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Enabled.eq(true))
            .all(&txn)
            .await?
            .into_iter()
            .filter(|e| room(e.id) > 0)
            .filter(|e| nats || e.transport != Transport::Nats.as_str())
            .collect();
        // The least served first, when `total` cannot feed them all.
        endpoints.sort_by_key(|e| (std::cmp::Reverse(room(e.id)), e.id));
        let mut rows = Vec::new();
        let mut left = total;
        for ep in &endpoints {
            if left == 0 {
                break;
            }
            let due = webhook_message::Entity::find()
                .filter(webhook_message::Column::EndpointId.eq(ep.id))
                .filter(webhook_message::Column::Status.eq(DeliveryStatus::Pending.as_str()))
                .filter(webhook_message::Column::NextAttemptMs.lte(now))
                .filter(webhook_message::Column::LeaseUntilMs.lt(now))
                .order_by_asc(webhook_message::Column::NextAttemptMs)
                .order_by_asc(webhook_message::Column::Id)
                .limit(Ord::min(room(ep.id), left))
                .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                .all(&txn)
                .await?;
            left -= due.len() as u64;
            rows.extend(due);
        }
        if rows.is_empty() {
            txn.commit().await?;
            return Ok(Vec::new());
        }
        let endpoints: HashMap<i64, webhook_endpoint::Model> =
            endpoints.into_iter().map(|e| (e.id, e)).collect();
        let until = now + i64::try_from(lease.as_millis()).unwrap_or(i64::MAX / 2);
        webhook_message::Entity::update_many()
            .col_expr(webhook_message::Column::LeaseOwner, Expr::value(owner))
            .col_expr(webhook_message::Column::LeaseUntilMs, Expr::value(until))
            .filter(webhook_message::Column::Id.is_in(rows.iter().map(|r| r.id)))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        let mut due = Vec::with_capacity(rows.len());
        for row in rows {
            let Some(ep) = endpoints.get(&row.endpoint_id) else {
                continue;
            };
            let mut secrets = vec![ep.secret.clone()];
            if let (Some(previous), Some(until)) =
                (&ep.previous_secret, ep.previous_secret_until_ms)
                && until > now
            {
                secrets.push(previous.clone());
            }
            due.push(DueMessage {
                url: ep.url.clone(),
                transport: Transport::parse(&ep.transport)
                    .ok_or_else(|| corrupt(format!("webhook endpoint {}: bad transport", ep.id)))?,
                secrets,
                message: message(row)?,
            });
        }
        Ok(due)
    }

    /// Gives back the leases `owner` holds on messages `ids`, unattempted.
    pub async fn release_webhook_messages(&self, ids: &[i64], owner: &str) -> Result<()> {
        webhook_message::Entity::update_many()
            .col_expr(
                webhook_message::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(webhook_message::Column::LeaseUntilMs, Expr::value(0i64))
            .filter(webhook_message::Column::Id.is_in(ids.iter().copied()))
            .filter(webhook_message::Column::LeaseOwner.eq(owner))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Keeps each attempt of `attempts` (message id, attempt, what it decided) whose message
    /// `owner` still leases, in one transaction; answers, for each, whether it was kept.
    ///
    /// The messages still leased are read (and locked) in one statement, and updated in one
    /// statement per outcome: a transaction costs a few statements whatever the number of
    /// attempts, but for retries, whose next attempt differs from one message to the next.
    pub async fn record_webhook_attempts(
        &self,
        owner: &str,
        attempts: &[(i64, DeliveryAttempt, AttemptOutcome)],
    ) -> Result<Vec<bool>> {
        let txn = self.begin_relay().await?;
        let mut held: Vec<i64> = Vec::new();
        for chunk in attempts.chunks(500) {
            held.extend(
                webhook_message::Entity::find()
                    .select_only()
                    .column(webhook_message::Column::Id)
                    .filter(webhook_message::Column::Id.is_in(chunk.iter().map(|a| a.0)))
                    .filter(webhook_message::Column::LeaseOwner.eq(owner))
                    .lock(LockType::Update)
                    .into_tuple::<i64>()
                    .all(&txn)
                    .await?,
            );
        }
        // An attempt is kept once: the first one recorded lets go of the lease.
        let mut held: HashSet<i64> = held.into_iter().collect();
        let kept: Vec<bool> = attempts.iter().map(|a| held.remove(&a.0)).collect();
        let now = Utc::now();
        let mut delivered = Vec::new();
        let mut failed = Vec::new();
        for ((id, _, outcome), _) in attempts.iter().zip(&kept).filter(|(_, k)| **k) {
            match *outcome {
                AttemptOutcome::Delivered => delivered.push(*id),
                AttemptOutcome::Failed => failed.push(*id),
                AttemptOutcome::Retry(at) => {
                    Self::settle(&txn, &[*id], DeliveryStatus::Pending, ms(at), None).await?;
                }
            }
        }
        for chunk in delivered.chunks(500) {
            Self::settle(&txn, chunk, DeliveryStatus::Delivered, 0, Some(now)).await?;
        }
        for chunk in failed.chunks(500) {
            Self::settle(&txn, chunk, DeliveryStatus::Failed, 0, None).await?;
        }
        let rows: Vec<webhook_attempt::ActiveModel> = attempts
            .iter()
            .zip(&kept)
            .filter(|(_, k)| **k)
            .map(|((id, attempt, _), _)| webhook_attempt::ActiveModel {
                message_id: Set(*id),
                at: Set(attempt.at),
                http_status: Set(attempt.http_status.map(i32::from)),
                error: Set(attempt.error.clone()),
                duration_ms: Set(i64::try_from(attempt.duration_ms).unwrap_or(i64::MAX)),
                ..Default::default()
            })
            .collect();
        for chunk in rows.chunks(500) {
            webhook_attempt::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(&txn)
                .await?;
        }
        txn.commit().await?;
        Ok(kept)
    }

    /// Sets messages `ids` to `status` after one more attempt, next attempted at `next` (Unix
    /// ms) if pending, and lets go of their lease.
    async fn settle(
        txn: &DatabaseTransaction,
        ids: &[i64],
        status: DeliveryStatus,
        next: i64,
        delivered: Option<DateTime<Utc>>,
    ) -> Result<()> {
        webhook_message::Entity::update_many()
            .col_expr(
                webhook_message::Column::Status,
                Expr::value(status.as_str()),
            )
            .col_expr(
                webhook_message::Column::Attempts,
                Expr::col(webhook_message::Column::Attempts).add(1),
            )
            .col_expr(webhook_message::Column::NextAttemptMs, Expr::value(next))
            .col_expr(
                webhook_message::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(webhook_message::Column::LeaseUntilMs, Expr::value(0i64))
            .col_expr(webhook_message::Column::DeliveredAt, Expr::value(delivered))
            .filter(webhook_message::Column::Id.is_in(ids.iter().copied()))
            .exec(txn)
            .await?;
        Ok(())
    }

    /// Clears the relay's tables of the row versions its work left behind, on PostgreSQL
    /// (`VACUUM (SKIP_LOCKED, ANALYZE)` of the messages and the outbox; nothing on SQLite,
    /// whose B-trees drop a row's entries as it goes). Every message is updated at least
    /// twice, and each update leaves an index entry the next lease must step over until a
    /// vacuum removes it: with a few hundred thousand of them a lease took 20 ms. The relay
    /// calls it after every [`TIDY_EVERY`] settled messages instead of waiting on autovacuum
    /// (a minute apart at best; off on some servers), and skips it while another node runs it.
    pub async fn tidy_deliveries(&self) -> Result<()> {
        if self.db.get_database_backend() == DbBackend::Postgres {
            self.db
                .execute_unprepared("VACUUM (SKIP_LOCKED, ANALYZE) webhook_messages, outbox")
                .await?;
        }
        Ok(())
    }

    /// Queues message `id` again now, with the retry schedule from its start.
    pub async fn redeliver_webhook(&self, id: i64) -> Result<WebhookMessage> {
        let txn = self.begin_write().await?;
        let row = webhook_message::Entity::find_by_id(id)
            .one(&txn)
            .await?
            .ok_or_else(|| Error::not_found(format!("no webhook message {id}")))?;
        let mut active: webhook_message::ActiveModel = row.into();
        active.status = Set(DeliveryStatus::Pending.as_str().to_owned());
        active.attempts = Set(0);
        active.next_attempt_ms = Set(ms(Utc::now()));
        let row = active.update(&txn).await?;
        txn.commit().await?;
        message(row)
    }

    /// Sends endpoint `id` again every reward issued since `since` that is for it: failed
    /// messages are queued again, and rewards it has no message for (issued before it
    /// existed, or while it was disabled) are queued, as far back as the outbox keeps them.
    /// Answers how many messages were queued.
    pub async fn recover_webhook_endpoint(&self, id: i64, since: DateTime<Utc>) -> Result<u64> {
        let txn = self.begin_write().await?;
        let ep = self.endpoint_row(&txn, id).await?;
        let requeued = webhook_message::Entity::update_many()
            .col_expr(
                webhook_message::Column::Status,
                Expr::value(DeliveryStatus::Pending.as_str()),
            )
            .col_expr(webhook_message::Column::Attempts, Expr::value(0))
            .col_expr(
                webhook_message::Column::NextAttemptMs,
                Expr::value(ms(Utc::now())),
            )
            .filter(webhook_message::Column::EndpointId.eq(id))
            .filter(webhook_message::Column::Status.eq(DeliveryStatus::Failed.as_str()))
            .filter(webhook_message::Column::IssuedAt.gte(since))
            .exec(&txn)
            .await?
            .rows_affected;
        let mut queued = 0;
        let mut after = 0;
        loop {
            let rows = outbox::Entity::find()
                .filter(outbox::Column::CreatedAt.gte(since))
                .filter(outbox::Column::DeliveredAt.is_not_null())
                .filter(outbox::Column::Id.gt(after))
                .order_by_asc(outbox::Column::Id)
                .limit(500)
                .all(&txn)
                .await?;
            let Some(last) = rows.last() else { break };
            after = last.id;
            let announced = self.announced(&txn, &rows).await?;
            queued += Self::queue(&txn, &announced, std::slice::from_ref(&ep), true).await?;
        }
        txn.commit().await?;
        Ok(requeued + queued)
    }

    /// Endpoint `endpoint_id`'s messages, newest first, optionally of one status, older
    /// than message `before`, at most `limit`.
    pub async fn webhook_messages(
        &self,
        endpoint_id: i64,
        status: Option<DeliveryStatus>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<WebhookMessage>> {
        let mut query = webhook_message::Entity::find()
            .filter(webhook_message::Column::EndpointId.eq(endpoint_id));
        if let Some(s) = status {
            query = query.filter(webhook_message::Column::Status.eq(s.as_str()));
        }
        if let Some(b) = before {
            query = query.filter(webhook_message::Column::Id.lt(b));
        }
        query
            .order_by_desc(webhook_message::Column::Id)
            .limit(limit)
            .all(&self.db)
            .await?
            .into_iter()
            .map(message)
            .collect()
    }

    /// Every attempt at message `id`, oldest first.
    pub async fn webhook_attempts(&self, id: i64) -> Result<Vec<DeliveryAttempt>> {
        let rows = webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::MessageId.eq(id))
            .order_by_asc(webhook_attempt::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows
            .into_iter()
            .map(|r| DeliveryAttempt {
                at: r.at,
                http_status: r.http_status.and_then(|s| u16::try_from(s).ok()),
                error: r.error,
                duration_ms: u64::try_from(r.duration_ms).unwrap_or(0),
            })
            .collect())
    }

    /// How many messages are pending and failed, and the oldest pending one's age. Both read
    /// only the rows not delivered (ranges of the index by status), whatever the log holds.
    pub async fn delivery_stats(&self) -> Result<DeliveryStats> {
        let undelivered = [DeliveryStatus::Pending, DeliveryStatus::Failed].map(|s| s.as_str());
        let counts: Vec<(String, i64)> = webhook_message::Entity::find()
            .select_only()
            .column(webhook_message::Column::Status)
            .column_as(webhook_message::Column::Id.count(), "n")
            .filter(webhook_message::Column::Status.is_in(undelivered))
            .group_by(webhook_message::Column::Status)
            .into_tuple()
            .all(&self.db)
            .await?;
        let count = |s: DeliveryStatus| {
            counts
                .iter()
                .find(|(name, _)| name == s.as_str())
                .map_or(0, |(_, n)| u64::try_from(*n).unwrap_or(0))
        };
        let oldest: Option<Option<DateTime<Utc>>> = webhook_message::Entity::find()
            .select_only()
            .column_as(webhook_message::Column::CreatedAt.min(), "oldest")
            .filter(webhook_message::Column::Status.eq(DeliveryStatus::Pending.as_str()))
            .into_tuple()
            .one(&self.db)
            .await?;
        Ok(DeliveryStats {
            pending: count(DeliveryStatus::Pending),
            failed: count(DeliveryStatus::Failed),
            oldest_pending: oldest.flatten(),
        })
    }

    /// Deletes dispatched outbox rows, and delivered messages with their attempts, older
    /// than `before`; answers how many rows of each went.
    pub async fn prune_deliveries(&self, before: DateTime<Utc>) -> Result<(u64, u64)> {
        let txn = self.begin_write().await?;
        let outbox_rows = outbox::Entity::delete_many()
            .filter(outbox::Column::DeliveredAt.is_not_null())
            .filter(outbox::Column::CreatedAt.lt(before))
            .exec(&txn)
            .await?
            .rows_affected;
        let old = webhook_message::Entity::find()
            .select_only()
            .column(webhook_message::Column::Id)
            .filter(webhook_message::Column::Status.eq(DeliveryStatus::Delivered.as_str()))
            .filter(webhook_message::Column::CreatedAt.lt(before));
        webhook_attempt::Entity::delete_many()
            .filter(webhook_attempt::Column::MessageId.in_subquery(old.into_query()))
            .exec(&txn)
            .await?;
        let messages = webhook_message::Entity::delete_many()
            .filter(webhook_message::Column::Status.eq(DeliveryStatus::Delivered.as_str()))
            .filter(webhook_message::Column::CreatedAt.lt(before))
            .exec(&txn)
            .await?
            .rows_affected;
        txn.commit().await?;
        Ok((outbox_rows, messages))
    }
}
