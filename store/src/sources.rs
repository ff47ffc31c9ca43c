//! What event sources and several nodes share through the database: which node consumes each
//! partition of a stream (leases), which nodes are alive, the events a source refused, and the
//! commits every node announces to the others (PostgreSQL `LISTEN`/`NOTIFY`).

use crate::Store;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use engine::EventResult;
use entities::{inbox, rejected_event, source_lease, source_node};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, Statement,
};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// The PostgreSQL channel commits are announced on, followed by the schema's name (nodes on
/// different schemas of one database are different deployments).
pub const COMMITS_CHANNEL: &str = "offerflow_commits";

/// The channel of the schema `db` works in, on PostgreSQL.
pub(crate) async fn commits_channel(
    db: &sea_orm::DatabaseConnection,
) -> Result<Option<std::sync::Arc<str>>> {
    if db.get_database_backend() != DbBackend::Postgres {
        return Ok(None);
    }
    let row = db
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_schema() AS schema",
        ))
        .await?;
    let schema: String = match row {
        Some(r) => r.try_get("", "schema").unwrap_or_default(),
        None => String::new(),
    };
    // A channel name is an identifier: at most 63 bytes.
    let mut channel = format!("{COMMITS_CHANNEL}:{schema}");
    while channel.len() > 63 {
        channel.pop();
    }
    Ok(Some(channel.into()))
}

/// The largest payload one `NOTIFY` carries (PostgreSQL refuses 8,000 bytes and more).
const MAX_NOTIFY_BYTES: usize = 7_000;

/// One committed event, as a node announces it to the others: enough for their subscribers
/// and caches.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommitNotice {
    /// The customer whose event it was.
    pub customer_id: String,
    /// When the event happened.
    pub occurred_at: DateTime<Utc>,
    /// What it did.
    pub result: EventResult,
}

/// A batch of notices from one node.
#[derive(Debug, Serialize, Deserialize)]
struct Announcement {
    /// The announcing node: a node skips its own.
    node: String,
    notices: Vec<CommitNotice>,
}

impl Store {
    /// Says node `node` is alive, and forgets nodes not seen for `ttl`.
    pub async fn heartbeat(&self, node: &str, ttl: Duration) -> Result<()> {
        let now = Utc::now();
        source_node::Entity::insert(source_node::ActiveModel {
            node: Set(node.to_owned()),
            seen_at: Set(now),
        })
        .on_conflict(
            OnConflict::column(source_node::Column::Node)
                .update_column(source_node::Column::SeenAt)
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        source_node::Entity::delete_many()
            .filter(source_node::Column::SeenAt.lt(now - ttl))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// How many nodes were seen within `ttl` (this one included once it has beaten).
    pub async fn live_nodes(&self, ttl: Duration) -> Result<usize> {
        let since = Utc::now() - ttl;
        let nodes = source_node::Entity::find()
            .filter(source_node::Column::SeenAt.gte(since))
            .all(&self.db)
            .await?;
        Ok(nodes.len().max(1))
    }

    /// Renews node `node`'s leases on partitions `0..partitions` for `ttl`, gives back those
    /// past its fair share (`ceil(partitions / nodes)`), and takes free or expired ones up to
    /// it. Returns the partitions it holds, in order. Each take is one conditional update, so
    /// two nodes never hold one partition at once (while their clocks agree within the lease).
    pub async fn claim_partitions(
        &self,
        node: &str,
        partitions: u32,
        nodes: usize,
        ttl: Duration,
    ) -> Result<Vec<u32>> {
        let now = Utc::now();
        let until = now + ttl;
        let rows: Vec<source_lease::ActiveModel> = (0..partitions)
            .map(|p| source_lease::ActiveModel {
                partition: Set(p as i32),
                holder: Set(None),
                expires_at: Set(now),
            })
            .collect();
        source_lease::Entity::insert_many(rows)
            .on_conflict_do_nothing_on([source_lease::Column::Partition])
            .exec(&self.db)
            .await?;
        // Renew what is still ours.
        source_lease::Entity::update_many()
            .col_expr(source_lease::Column::ExpiresAt, Expr::value(until))
            .filter(source_lease::Column::Holder.eq(node))
            .filter(source_lease::Column::ExpiresAt.gt(now))
            .filter(source_lease::Column::Partition.lt(partitions as i32))
            .exec(&self.db)
            .await?;
        let fair = (partitions as usize).div_ceil(nodes.max(1));
        let mut held: Vec<u32> = self.held(node, now).await?;
        // Past the fair share: give back the last ones (the others take them).
        while held.len() > fair {
            let Some(p) = held.pop() else { break };
            self.release_partition(node, p).await?;
        }
        if held.len() < fair {
            let free = source_lease::Entity::find()
                .filter(source_lease::Column::Partition.lt(partitions as i32))
                .filter(source_lease::Column::ExpiresAt.lte(now))
                .order_by_asc(source_lease::Column::Partition)
                .all(&self.db)
                .await?;
            for row in free {
                if held.len() >= fair {
                    break;
                }
                let taken = source_lease::Entity::update_many()
                    .col_expr(source_lease::Column::Holder, Expr::value(node))
                    .col_expr(source_lease::Column::ExpiresAt, Expr::value(until))
                    .filter(source_lease::Column::Partition.eq(row.partition))
                    .filter(source_lease::Column::ExpiresAt.lte(now))
                    .exec(&self.db)
                    .await?;
                if taken.rows_affected == 1 {
                    held.push(row.partition as u32);
                }
            }
            held.sort_unstable();
        }
        Ok(held)
    }

    async fn held(&self, node: &str, now: DateTime<Utc>) -> Result<Vec<u32>> {
        let rows = source_lease::Entity::find()
            .filter(source_lease::Column::Holder.eq(node))
            .filter(source_lease::Column::ExpiresAt.gt(now))
            .order_by_asc(source_lease::Column::Partition)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(|r| r.partition as u32).collect())
    }

    /// Whether node `node` still holds partition `p`'s lease.
    pub async fn holds_partition(&self, node: &str, p: u32) -> Result<bool> {
        let row = source_lease::Entity::find_by_id(p as i32)
            .one(&self.db)
            .await?;
        Ok(row.is_some_and(|r| r.holder.as_deref() == Some(node) && r.expires_at > Utc::now()))
    }

    /// Gives partition `p` back at once (a node leaving, or past its share).
    pub async fn release_partition(&self, node: &str, p: u32) -> Result<()> {
        source_lease::Entity::update_many()
            .col_expr(source_lease::Column::Holder, Expr::value(None::<String>))
            .col_expr(source_lease::Column::ExpiresAt, Expr::value(Utc::now()))
            .filter(source_lease::Column::Partition.eq(p as i32))
            .filter(source_lease::Column::Holder.eq(node))
            .exec(&self.db)
            .await?;
        Ok(())
    }

    /// Records an event a source refused, so that `event(id)` answers it; nothing is recorded
    /// when a processed event holds the id (a `conflict`: that event's outcome stands).
    pub async fn record_rejection(&self, result: &EventResult) -> Result<()> {
        let id = result.event_id.as_str();
        if id.is_empty()
            || inbox::Entity::find_by_id(id.to_owned())
                .one(&self.db)
                .await?
                .is_some()
        {
            return Ok(());
        }
        let json = serde_json::to_string(result)?;
        rejected_event::Entity::insert(rejected_event::ActiveModel {
            event_id: Set(id.to_owned()),
            result: Set(json),
            rejected_at: Set(Utc::now()),
        })
        .on_conflict(
            OnConflict::column(rejected_event::Column::EventId)
                .update_columns([
                    rejected_event::Column::Result,
                    rejected_event::Column::RejectedAt,
                ])
                .to_owned(),
        )
        .exec(&self.db)
        .await?;
        Ok(())
    }

    /// A refused event's recorded rejection.
    pub(crate) async fn rejection(&self, id: &str) -> Result<Option<EventResult>> {
        let row = rejected_event::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?;
        row.map(|r| serde_json::from_str(&r.result).map_err(Error::from))
            .transpose()
    }

    /// Whether other nodes can hear this one's commits: on PostgreSQL.
    pub fn shares_commits(&self) -> bool {
        self.channel.is_some()
    }

    /// Listens for the commits other nodes announce (PostgreSQL; `None` on SQLite): each
    /// announcement's notices, read by [`Store::heard`] (which drops their offers views), on
    /// the receiver. A lost connection is opened again; what was announced meanwhile is missed
    /// (the offers view then catches up when it expires).
    pub async fn listen_commits(
        &self,
        own: String,
    ) -> Result<Option<tokio::sync::mpsc::Receiver<Vec<CommitNotice>>>> {
        use sea_orm::sqlx::postgres::PgListener;
        let Some(channel) = self.channel.clone() else {
            return Ok(None);
        };
        let fail = |e: sea_orm::sqlx::Error| Error::Connect {
            url: crate::redact(&self.url),
            reason: format!("cannot listen for other nodes' commits: {e}"),
        };
        let mut listener = PgListener::connect(&self.url).await.map_err(fail)?;
        listener.listen(&channel).await.map_err(fail)?;
        let (sender, receiver) = tokio::sync::mpsc::channel(1024);
        let store = self.clone();
        tokio::spawn(async move {
            loop {
                match listener.recv().await {
                    Ok(n) => {
                        let notices = store.heard(&own, n.payload());
                        if !notices.is_empty() && sender.send(notices).await.is_err() {
                            return;
                        }
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "listening for other nodes' commits failed; trying again");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
                if sender.is_closed() {
                    return;
                }
            }
        });
        Ok(Some(receiver))
    }

    /// Announces committed events to the other nodes on this database (PostgreSQL; nothing on
    /// SQLite, which has one node), in as many notifications as their size needs. A notice too
    /// large for one notification alone is left out: the others learn of it when their offers
    /// view expires.
    pub async fn announce(&self, node: &str, notices: Vec<CommitNotice>) -> Result<()> {
        let Some(channel) = &self.channel else {
            return Ok(());
        };
        if notices.is_empty() {
            return Ok(());
        }
        let mut batch: Vec<CommitNotice> = Vec::new();
        let mut size = 0usize;
        let mut payloads = Vec::new();
        for notice in notices {
            let len = serde_json::to_string(&notice).map_or(usize::MAX, |s| s.len());
            if len > MAX_NOTIFY_BYTES - 200 {
                continue;
            }
            if size + len > MAX_NOTIFY_BYTES - 200 {
                payloads.push(std::mem::take(&mut batch));
                size = 0;
            }
            size += len + 1;
            batch.push(notice);
        }
        if !batch.is_empty() {
            payloads.push(batch);
        }
        for notices in payloads {
            let payload = serde_json::to_string(&Announcement {
                node: node.to_owned(),
                notices,
            })?;
            self.db
                .execute_raw(Statement::from_sql_and_values(
                    DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [channel.to_string().into(), payload.into()],
                ))
                .await?;
        }
        Ok(())
    }

    /// Reads one announcement's payload: the notices, unless node `own` sent it. The offers
    /// views of the customers it names are dropped, so this node's reads see the other's
    /// writes at once.
    pub fn heard(&self, own: &str, payload: &str) -> Vec<CommitNotice> {
        let Ok(announcement) = serde_json::from_str::<Announcement>(payload) else {
            tracing::warn!("an unreadable commit announcement was ignored");
            return Vec::new();
        };
        if announcement.node == own {
            return Vec::new();
        }
        self.forget_views(announcement.notices.iter().map(|n| &n.customer_id));
        for n in &announcement.notices {
            self.progress.invalidate(&n.customer_id);
        }
        announcement.notices
    }
}
