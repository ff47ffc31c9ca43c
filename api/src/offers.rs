//! A customer's offers: every campaign they can see, with their status, progress and rewards.
//!
//! Shown: published campaigns whose audience holds for the customer now, and any published
//! or ended campaign they already have progress or rewards in (so an offer does not vanish
//! when a profile changes or a campaign ends). Paused, draft and archived campaigns are not
//! shown. Offers come highest `priority` first, then by key.
//!
//! The profile, progress and rewards come from the customer's view ([`Store::customer_view`]):
//! this node's ingestion and profile upserts show at once, other nodes' within
//! [`engine::VIEW_TTL`]. Rewards shown per customer are the oldest [`VIEW_REWARDS`] at most
//! (the paginated `rewards` list has them all).

use crate::error::Result;
use campaigns::{Bindings, CompiledCampaign};
use chrono::{DateTime, Utc};
use engine::{LedgerEntry, Offer, Store, VIEW_REWARDS};
use std::collections::HashMap;
use std::sync::Arc;

/// One offer with what the customer earned from it.
#[derive(Debug, Clone)]
pub struct CustomerOffer {
    /// The campaign's published version.
    pub campaign: Arc<CompiledCampaign>,
    /// Where the customer stands.
    pub offer: Offer,
    /// Rewards they earned from it, in issue order.
    pub rewards: Vec<LedgerEntry>,
}

/// The offers of customer `id` at instant `at`; only campaigns in `only` if given.
pub async fn customer_offers(
    store: &Store,
    id: &str,
    at: DateTime<Utc>,
    only: Option<&[String]>,
) -> Result<Vec<CustomerOffer>> {
    let all = store.offer_campaigns().await?;
    let campaigns: Vec<&engine::OfferCampaign> = all
        .iter()
        .filter(|c| only.is_none_or(|keys| keys.contains(&c.campaign.spec().key)))
        .collect();
    if campaigns.is_empty() {
        return Ok(Vec::new());
    }
    let view = store.customer_view(id).await?;
    // The view holds the oldest rewards of every campaign; past its cap, the campaigns asked
    // for may have more among the first ones of their own.
    let more;
    let rewards = match only {
        Some(keys) if !view.all_rewards() => {
            more = store
                .customer_rewards(id, Some(keys), None, VIEW_REWARDS)
                .await?;
            &more
        }
        _ => &view.rewards,
    };
    let mut earned: HashMap<&str, Vec<&LedgerEntry>> = HashMap::new();
    for entry in rewards {
        earned
            .entry(entry.reward.campaign.as_str())
            .or_default()
            .push(entry);
    }
    let bindings = Bindings::for_customer(id, view.profile.as_ref(), at);
    let mut offers = Vec::new();
    for c in campaigns {
        let spec = c.campaign.spec();
        let state = view.states.get(&spec.key);
        let rewards = earned.remove(spec.key.as_str()).unwrap_or_default();
        let involved = state.is_some() || !rewards.is_empty();
        let running = !c.facts.ended;
        let audience = match c.campaign.audience_holds(&bindings) {
            Ok(holds) => holds,
            Err(e) => {
                tracing::debug!(campaign = %spec.key, customer = id, error = %e, "audience failed; counted as false");
                false
            }
        };
        if !(involved || running && audience) {
            continue;
        }
        let offer = engine::offer(&c.campaign, state, c.facts, at);
        offers.push(CustomerOffer {
            campaign: Arc::clone(&c.campaign),
            offer,
            rewards: rewards.into_iter().cloned().collect(),
        });
    }
    offers.sort_by(|a, b| {
        let (a, b) = (a.campaign.spec(), b.campaign.spec());
        b.priority.cmp(&a.priority).then_with(|| a.key.cmp(&b.key))
    });
    Ok(offers)
}
