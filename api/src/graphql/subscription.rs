//! `Subscription.offerUpdates`: a customer's changed offers and new rewards, pushed after each
//! of their events commits on this node.
//!
//! The access is checked when the subscription starts; the connection that carries it
//! (`crate::websocket`) holds the credential for its whole life, checks it again before each
//! update and ends every subscription when it lapses, and bounds how many run.

use super::types::{Offer, Reward};
use crate::app::{App, Committed};
use async_graphql::{Context, Result, ResultExt, SimpleObject, Subscription};
use engine::{Outcome, Status};
use futures_util::Stream;
use std::sync::Arc;
use tokio::sync::broadcast::error::RecvError;

/// What one committed event changed for a customer.
#[derive(Debug, Clone, SimpleObject)]
pub struct OfferUpdate {
    /// The customer.
    pub customer_id: String,
    /// The event that changed them.
    pub event_id: String,
    /// The offers it moved, as of the event's time.
    pub offers: Vec<Offer>,
    /// The rewards it issued.
    pub rewards: Vec<Reward>,
}

/// The root of every subscription.
#[derive(Debug, Default)]
pub struct Subscription;

#[Subscription]
impl Subscription {
    /// Pushes an update each time one of the customer's events moves their progress or
    /// issues rewards, after it commits.
    async fn offer_updates(
        &self,
        ctx: &Context<'_>,
        customer_id: String,
    ) -> Result<impl Stream<Item = OfferUpdate>> {
        super::access::allow(ctx, crate::auth::Access::Customer(&customer_id))?;
        super::query::check_id("customerId", &customer_id).extend()?;
        let app = ctx.data::<App>()?.clone();
        let receiver = app.subscribe();
        Ok(futures_util::stream::unfold(
            (app, receiver, customer_id),
            |(app, mut receiver, customer_id)| async move {
                loop {
                    let committed = match receiver.recv().await {
                        Ok(c) => c,
                        Err(RecvError::Lagged(n)) => {
                            tracing::warn!(
                                skipped = n,
                                "a slow offerUpdates subscriber skipped updates"
                            );
                            continue;
                        }
                        Err(RecvError::Closed) => return None,
                    };
                    if committed.customer_id != customer_id {
                        continue;
                    }
                    if let Some(update) = update(&app, &committed).await {
                        return Some((update, (app, receiver, customer_id)));
                    }
                }
            },
        ))
    }
}

/// The update for one committed event, if it moved anything.
async fn update(app: &App, committed: &Arc<Committed>) -> Option<OfferUpdate> {
    let result = &committed.result;
    if result.status != Status::Processed {
        return None;
    }
    let moved: Vec<String> = result
        .outcomes
        .iter()
        .filter(|o| matches!(o.outcome, Outcome::Progressed | Outcome::Completed { .. }))
        .map(|o| o.campaign.to_string())
        .collect();
    if moved.is_empty() {
        return None;
    }
    let offers = match app
        .store()
        .customer_offers(&committed.customer_id, committed.occurred_at, Some(&moved))
        .await
    {
        Ok(offers) => offers,
        Err(e) => {
            tracing::error!(error = %e, "offerUpdates: reading offers failed");
            return None;
        }
    };
    Some(OfferUpdate {
        customer_id: committed.customer_id.clone(),
        event_id: result.event_id.clone(),
        offers: offers.into_iter().map(Offer::from).collect(),
        rewards: result.rewards.iter().map(Reward::from).collect(),
    })
}
