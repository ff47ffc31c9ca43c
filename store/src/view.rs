//! A customer's view: the profile, progress and rewards that their offers are made of, read
//! together and kept briefly per customer, so that a burst of offer queries reads the database
//! once per customer rather than once per query.
//!
//! Guarantees, and how:
//! - **This node's writes show at once.** A batch drops the views of its customers right after
//!   it commits, and so does a profile upsert after its write; both return to their caller only
//!   after that. An offers query that follows an `ingestEvents` or `upsertCustomer` call
//!   answered on this node therefore reads the database again.
//! - **A read racing a write cannot bring back stale data.** A view read from the database
//!   while a write commits may hold what was there before. Every drop moves an epoch, under
//!   one lock with the drop itself; a reader notes the epoch before it reads, and stores its
//!   view, under the same lock, only if the epoch has not moved since. So a view is stored
//!   either before a write's drop (which then removes it) or not at all.
//! - **Other processes' writes show within [`VIEW_TTL`].** Writes from other nodes sharing
//!   the database (or the `offerflow` CLI) cannot drop this node's views, so a view is used
//!   for that long at most.

use super::Store;
use crate::error::Result;
use crate::read::ledger_entry;
use campaigns::Customer;
use engine::CampaignState;
use engine::CustomerView;
use entities::reward;
use sea_orm::{ConnectionTrait, DbBackend, Statement};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

/// How long a customer's view is used at most: the bound on how stale offers can be after a
/// write made by another node.
pub const VIEW_TTL: Duration = Duration::from_secs(1);

/// How many customers' views are kept.
pub(super) const VIEW_CUSTOMERS: u64 = 100_000;

impl Store {
    /// Customer `id`'s view: from the cache when this node holds a current one, else read
    /// from the database (and kept for [`VIEW_TTL`]).
    pub async fn customer_view(&self, id: &str) -> Result<Arc<CustomerView>> {
        if let Some(view) = self.views.get(id) {
            self.stats.view_hits.fetch_add(1, Relaxed);
            return Ok(view);
        }
        self.stats.view_misses.fetch_add(1, Relaxed);
        let epoch = *lock(&self.view_epoch);
        let view = Arc::new(self.read_view(id).await?);
        let current = lock(&self.view_epoch);
        // Otherwise a write committed while we read: what we read may predate it.
        if *current == epoch {
            self.views.insert(id.to_owned(), Arc::clone(&view));
        }
        drop(current);
        Ok(view)
    }

    /// Drops the views of `customers`, after a write to their rows committed.
    pub(super) fn forget_views<'a>(&self, customers: impl IntoIterator<Item = &'a String>) {
        let mut epoch = lock(&self.view_epoch);
        *epoch += 1;
        for c in customers {
            self.views.invalidate(c);
        }
        drop(epoch);
    }

    /// The view in one statement, one round trip: the profile (part 0), progress (part 1)
    /// and the first rewards (part 2), in columns shared by the three parts.
    async fn read_view(&self, id: &str) -> Result<CustomerView> {
        let backend = self.db.get_database_backend();
        let (sql, values) = match backend {
            DbBackend::Postgres => (VIEW_SQL.replace('?', "$1"), vec![id.into()]),
            _ => (VIEW_SQL.to_owned(), vec![id.into(), id.into(), id.into()]),
        };
        let rows = self
            .db
            .query_all_raw(Statement::from_sql_and_values(backend, sql, values))
            .await?;
        let mut view = CustomerView::default();
        for row in rows {
            let text = |i: usize| row.try_get_by_index::<String>(i);
            match row.try_get_by_index::<i32>(0)? {
                0 => {
                    view.profile = Some(Customer {
                        id: id.to_owned(),
                        attributes: serde_json::from_str(&text(1)?)?,
                    });
                }
                1 => {
                    let state = CampaignState::from_json(&text(2)?)?;
                    view.states.insert(text(1)?, state);
                }
                _ => view.rewards.push(ledger_entry(reward::Model {
                    id: row.try_get_by_index(5)?,
                    campaign: text(1)?,
                    customer_id: id.to_owned(),
                    cycle: row.try_get_by_index(6)?,
                    reward_index: row.try_get_by_index(7)?,
                    event_id: text(3)?,
                    kind: text(2)?,
                    amount: row.try_get_by_index(8)?,
                    code: row.try_get_by_index(4)?,
                    issued_at: row.try_get_by_index(9)?,
                })?),
            }
        }
        Ok(view)
    }
}

/// A customer's profile, progress and first [`VIEW_REWARDS`] rewards (oldest first), as rows
/// of one shape: `part, text, text, text, code, id, cycle, index, amount, issued_at`. Each
/// `?` is the customer id. The first part's empty columns are typed, as PostgreSQL takes the
/// type of a union's column from its first parts.
const VIEW_SQL: &str = "\
SELECT 0 AS part, attributes AS t1, NULL AS t2, NULL AS t3, NULL AS code, \
CAST(NULL AS BIGINT) AS id, CAST(NULL AS INTEGER) AS cycle, \
CAST(NULL AS INTEGER) AS reward_index, CAST(NULL AS DOUBLE PRECISION) AS amount, \
CAST(NULL AS TIMESTAMP WITH TIME ZONE) AS issued_at \
FROM customers WHERE id = ? \
UNION ALL SELECT 1, campaign, state, NULL, NULL, NULL, NULL, NULL, NULL, NULL \
FROM progress WHERE customer_id = ? \
UNION ALL SELECT * FROM (SELECT 2, campaign, kind, event_id, code, id, cycle, reward_index, \
amount, issued_at FROM rewards WHERE customer_id = ? ORDER BY id LIMIT 10000) AS r \
ORDER BY part, id";

/// The epoch's lock; a panic elsewhere while it was held left a plain number, still good.
fn lock(epoch: &Mutex<u64>) -> std::sync::MutexGuard<'_, u64> {
    epoch.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Store {
    /// The offers of customer `id` at instant `at` (only campaigns in `only` if given), by
    /// [`engine::customer_offers`] over their view: this node's writes show at once, other
    /// nodes' within [`VIEW_TTL`]. Rewards shown per customer are the oldest
    /// [`engine::VIEW_REWARDS`] at most (the paginated rewards list has them all).
    pub async fn customer_offers(
        &self,
        id: &str,
        at: chrono::DateTime<chrono::Utc>,
        only: Option<&[String]>,
    ) -> Result<Vec<engine::CustomerOffer>> {
        let all = self.offer_campaigns().await?;
        let campaigns: Vec<&engine::OfferCampaign> = all
            .iter()
            .filter(|c| only.is_none_or(|keys| keys.contains(&c.campaign.spec().key)))
            .collect();
        if campaigns.is_empty() {
            return Ok(Vec::new());
        }
        let view = self.customer_view(id).await?;
        // The view holds the oldest rewards of every campaign; past its cap, the campaigns
        // asked for may have more among the first ones of their own.
        let more;
        let rewards = match only {
            Some(keys) if !view.all_rewards() => {
                more = self
                    .customer_rewards(id, Some(keys), None, engine::VIEW_REWARDS)
                    .await?;
                &more
            }
            _ => &view.rewards,
        };
        Ok(engine::customer_offers(&campaigns, id, &view, rewards, at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_statement_reads_at_most_view_rewards() {
        assert!(VIEW_SQL.contains(&format!("LIMIT {})", engine::VIEW_REWARDS)));
    }
}
