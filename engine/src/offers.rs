//! A customer's offers: every campaign they can see, with their status, progress and rewards.
//!
//! Shown: published campaigns whose audience holds for the customer now, and any published
//! or ended campaign they already have progress or rewards in (so an offer does not vanish
//! when a profile changes or a campaign ends). Paused, draft and archived campaigns are not
//! shown (storage hands over only published and ended ones). Offers come highest `priority`
//! first, then by key.

use crate::domain::{CustomerView, LedgerEntry, OfferCampaign};
use crate::offer::{Offer, offer};
use campaigns::{Bindings, CompiledCampaign};
use chrono::{DateTime, Utc};
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

/// The offers of customer `id` at instant `at`, among `campaigns`, from their `view` and
/// their `rewards` (the view's, or more when the view holds only the first of them).
pub fn customer_offers(
    campaigns: &[&OfferCampaign],
    id: &str,
    view: &CustomerView,
    rewards: &[LedgerEntry],
    at: DateTime<Utc>,
) -> Vec<CustomerOffer> {
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
        // An audience that fails to evaluate counts as false, as in processing.
        let audience = c.campaign.audience_holds(&bindings).unwrap_or(false);
        if !(involved || running && audience) {
            continue;
        }
        offers.push(CustomerOffer {
            campaign: Arc::clone(&c.campaign),
            offer: offer(&c.campaign, state, c.facts, at),
            rewards: rewards.into_iter().cloned().collect(),
        });
    }
    offers.sort_by(|a, b| {
        let (a, b) = (a.campaign.spec(), b.campaign.spec());
        b.priority.cmp(&a.priority).then_with(|| a.key.cmp(&b.key))
    });
    offers
}
