//! What the API reads about customers and events: profiles, progress, the ledger, processing
//! outcomes, and the campaigns a customer can be offered.

use super::Store;
use crate::error::{Error, Result};
use campaigns::{Amount, CampaignSpec, CompiledCampaign, Customer, RewardKind};
use engine::CampaignFacts;
use engine::CampaignState;
use engine::EventResult;
use engine::Reward;
use engine::{CampaignStatus, LedgerEntry, OfferCampaign};
use entities::{budget, campaign, campaign_version, customer, inbox, progress, reward};
use sea_orm::{ColumnTrait, DbErr, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;

/// How long the list of offerable campaigns is reused.
pub const OFFER_CAMPAIGNS_TTL: std::time::Duration = std::time::Duration::from_secs(1);

/// A ledger row as the domain's entry.
pub(crate) fn ledger_entry(r: reward::Model) -> Result<LedgerEntry> {
    {
        let kind: RewardKind = serde_json::from_value(serde_json::Value::String(r.kind))?;
        let bad = |what: &str| {
            Error::Engine(engine::Error::Corrupt(format!(
                "ledger row {}: bad {what}",
                r.id
            )))
        };
        Ok(LedgerEntry {
            id: r.id,
            reward: Reward {
                campaign: r.campaign,
                customer_id: r.customer_id,
                event_id: r.event_id,
                cycle: u32::try_from(r.cycle).map_err(|_| bad("cycle"))?,
                reward_index: u32::try_from(r.reward_index).map_err(|_| bad("reward index"))?,
                kind,
                amount: Amount::new(r.amount).ok_or_else(|| bad("amount"))?,
                code: r.code,
            },
            issued_at: r.issued_at,
        })
    }
}

impl Store {
    /// A customer's profile, if one was stored.
    pub async fn customer(&self, id: &str) -> Result<Option<Customer>> {
        let Some(row) = customer::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(Customer {
            id: row.id,
            attributes: serde_json::from_str(&row.attributes)?,
        }))
    }

    /// A customer's state in each campaign they have one in, by campaign key.
    pub async fn customer_states(&self, id: &str) -> Result<HashMap<String, CampaignState>> {
        let rows = progress::Entity::find()
            .filter(progress::Column::CustomerId.eq(id))
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| Ok((r.campaign, CampaignState::from_json(&r.state)?)))
            .collect()
    }

    /// A customer's rewards in issue order, after ledger id `after`, at most `limit`;
    /// optionally of the given campaigns only.
    pub async fn customer_rewards(
        &self,
        id: &str,
        campaigns: Option<&[String]>,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<LedgerEntry>> {
        let mut query = reward::Entity::find()
            .filter(reward::Column::CustomerId.eq(id))
            .order_by_asc(reward::Column::Id);
        if let Some(keys) = campaigns {
            query = query.filter(reward::Column::Campaign.is_in(keys.iter().cloned()));
        }
        if let Some(a) = after {
            query = query.filter(reward::Column::Id.gt(a));
        }
        let rows = query.limit(limit).all(&self.db).await?;
        rows.into_iter().map(ledger_entry).collect()
    }

    /// The ledger in issue order, optionally of one campaign and issued in `[from, to)`,
    /// after ledger id `after`, at most `limit`: reconciliation without database access.
    pub async fn ledger_page(
        &self,
        campaign: Option<&str>,
        from: Option<chrono::DateTime<chrono::Utc>>,
        to: Option<chrono::DateTime<chrono::Utc>>,
        after: Option<i64>,
        limit: u64,
    ) -> Result<Vec<LedgerEntry>> {
        let mut query = reward::Entity::find().order_by_asc(reward::Column::Id);
        if let Some(c) = campaign {
            query = query.filter(reward::Column::Campaign.eq(c));
        }
        if let Some(f) = from {
            query = query.filter(reward::Column::IssuedAt.gte(f));
        }
        if let Some(t) = to {
            query = query.filter(reward::Column::IssuedAt.lt(t));
        }
        if let Some(a) = after {
            query = query.filter(reward::Column::Id.gt(a));
        }
        let rows = query.limit(limit).all(&self.db).await?;
        rows.into_iter().map(ledger_entry).collect()
    }

    /// The result an event got when it was processed, or refused by an event source, if it was.
    pub async fn event_result(&self, id: &str) -> Result<Option<EventResult>> {
        let row = inbox::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?;
        match row {
            Some(r) => Ok(Some(serde_json::from_str(&r.result)?)),
            // An event a source refused (a NATS message that was not a valid event).
            None => self.rejection(id).await,
        }
    }

    /// The campaigns that may be offered (published or ended), in key order, compiled. The
    /// list is kept for [`OFFER_CAMPAIGNS_TTL`]: offers see another node's lifecycle changes
    /// and spent budgets within that time; this node's authoring changes clear it at once.
    pub async fn offer_campaigns(&self) -> Result<Arc<Vec<OfferCampaign>>> {
        if let Some(list) = self.offers.get(&()) {
            return Ok(list);
        }
        let list = Arc::new(self.read_offer_campaigns().await?);
        self.offers.insert((), Arc::clone(&list));
        Ok(list)
    }

    async fn read_offer_campaigns(&self) -> Result<Vec<OfferCampaign>> {
        let shown = [CampaignStatus::Published, CampaignStatus::Ended];
        let rows = campaign::Entity::find()
            .filter(campaign::Column::Status.is_in(shown.map(|s| s.as_str())))
            .filter(campaign::Column::Version.gt(0))
            .order_by_asc(campaign::Column::Key)
            .all(&self.db)
            .await?;
        let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        let spent: HashMap<String, bool> = budget::Entity::find()
            .filter(budget::Column::Campaign.is_in(keys))
            .all(&self.db)
            .await?
            .into_iter()
            .map(|b| (b.campaign, b.max.is_some_and(|m| b.taken >= m)))
            .collect();
        let mut out = Vec::with_capacity(rows.len());
        for row in rows {
            let status = CampaignStatus::parse(&row.status)?;
            out.push(OfferCampaign {
                facts: CampaignFacts {
                    ended: status == CampaignStatus::Ended,
                    budget_exhausted: spent.get(&row.key).copied().unwrap_or(false),
                },
                campaign: self.compiled(&self.db, &row.key, row.version).await?,
                status,
            });
        }
        Ok(out)
    }

    /// Campaign `key` at `version`, compiled, from the cache when possible (versions never
    /// change, so a cached one is always right).
    pub(super) async fn compiled(
        &self,
        db: &impl sea_orm::ConnectionTrait,
        key: &str,
        version: i32,
    ) -> Result<Arc<CompiledCampaign>> {
        let id = (key.to_owned(), version);
        if let Some(c) = self.compiled.get(&id) {
            self.stats.compiled_hits.fetch_add(1, Relaxed);
            return Ok(c);
        }
        self.stats.compiled_misses.fetch_add(1, Relaxed);
        let row = campaign_version::Entity::find_by_id(id.clone())
            .one(db)
            .await?
            .ok_or_else(|| DbErr::RecordNotFound(format!("{key} v{version}")))?;
        let spec: CampaignSpec = serde_json::from_str(&row.spec)?;
        let c = Arc::new(CompiledCampaign::compile(spec)?);
        self.compiled.insert(id, Arc::clone(&c));
        Ok(c)
    }
}

/// How much a campaign has given: rewards in the ledger and the completions its budget took.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CampaignTotals {
    /// Rewards issued, all customers and cycles.
    pub rewards_issued: u64,
    /// Its `max_rewards` cap, if it has one.
    pub budget_max: Option<i64>,
    /// Completions taken from the budget.
    pub budget_taken: i64,
}

impl CampaignTotals {
    /// Completions left before the cap, if it has one.
    pub fn budget_left(&self) -> Option<i64> {
        self.budget_max.map(|m| (m - self.budget_taken).max(0))
    }
}

/// One event a customer sent, as it was processed.
#[derive(Debug, Clone)]
pub struct ProcessedEvent {
    /// When it was processed.
    pub processed_at: chrono::DateTime<chrono::Utc>,
    /// What it did.
    pub result: EventResult,
}

impl Store {
    /// Campaign `key`'s rewards issued and budget (the ledger's identity index starts with the
    /// campaign, so the count reads an index).
    pub async fn campaign_totals(&self, key: &str) -> Result<CampaignTotals> {
        use sea_orm::PaginatorTrait;
        let rewards_issued = reward::Entity::find()
            .filter(reward::Column::Campaign.eq(key))
            .count(&self.db)
            .await?;
        let budget = budget::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?;
        Ok(CampaignTotals {
            rewards_issued,
            budget_max: budget.as_ref().and_then(|b| b.max),
            budget_taken: budget.map_or(0, |b| b.taken),
        })
    }

    /// A customer's latest `limit` processed events, newest first, with their outcomes.
    pub async fn customer_events(&self, id: &str, limit: u64) -> Result<Vec<ProcessedEvent>> {
        let rows = inbox::Entity::find()
            .filter(inbox::Column::CustomerId.eq(id))
            .order_by_desc(inbox::Column::ProcessedAt)
            .order_by_desc(inbox::Column::EventId)
            .limit(limit)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(ProcessedEvent {
                    processed_at: r.processed_at,
                    result: serde_json::from_str(&r.result)?,
                })
            })
            .collect()
    }
}
