//! `Mutation`: authoring and the lifecycle, ingestion, customer profiles.

use super::inputs::{CampaignInput, require_spec};
use super::query::{Customer, check_id};
use super::types::{Campaign, EventCounts, EventOutcome, IngestResult};
use crate::app::App;
use crate::error::ApiError;
use async_graphql::{Context, Json, Object, Result, ResultExt};
use engine::Transition;
use serde_json::Value;

/// Who makes a change, as the audit log records it.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

fn actor<'a>(ctx: &'a Context<'_>) -> &'a str {
    ctx.data_opt::<Actor>().map_or("api", |a| a.0.as_str())
}

/// The root of every change.
#[derive(Debug, Default)]
pub struct Mutation;

impl Mutation {
    async fn transition(ctx: &Context<'_>, key: &str, t: Transition) -> Result<Campaign> {
        let app = ctx.data::<App>()?;
        let record = app
            .store()
            .transition(key, t, actor(ctx))
            .await
            .map_err(ApiError::from)
            .extend()?;
        Ok(record.into())
    }
}

#[Object]
impl Mutation {
    /// Creates a campaign as a draft, from typed `input` or YAML/JSON `source` text. An
    /// invalid spec is refused with code `VALIDATION` and every problem in
    /// `extensions.diagnostics`; a taken key with `CONFLICT`.
    async fn create_campaign(
        &self,
        ctx: &Context<'_>,
        input: Option<CampaignInput>,
        source: Option<String>,
    ) -> Result<Campaign> {
        let app = ctx.data::<App>()?;
        let spec = require_spec(input.as_ref(), source.as_deref()).extend()?;
        let record = app
            .store()
            .create_campaign(&spec, actor(ctx))
            .await
            .map_err(ApiError::from)
            .extend()?;
        Ok(record.into())
    }

    /// Replaces a campaign's draft (the spec's key must be `key`). The published version
    /// keeps running until the next `publishCampaign`. Refused for ended and archived
    /// campaigns.
    async fn update_campaign(
        &self,
        ctx: &Context<'_>,
        key: String,
        input: Option<CampaignInput>,
        source: Option<String>,
    ) -> Result<Campaign> {
        let app = ctx.data::<App>()?;
        let spec = require_spec(input.as_ref(), source.as_deref()).extend()?;
        let record = app
            .store()
            .update_campaign(&key, &spec, actor(ctx))
            .await
            .map_err(ApiError::from)
            .extend()?;
        Ok(record.into())
    }

    /// Publishes the draft as the next immutable version; a draft campaign starts running.
    /// Publishing an unchanged draft changes nothing.
    async fn publish_campaign(&self, ctx: &Context<'_>, key: String) -> Result<Campaign> {
        let app = ctx.data::<App>()?;
        let record = app
            .store()
            .publish_campaign(&key, actor(ctx))
            .await
            .map_err(ApiError::from)
            .extend()?;
        Ok(record.into())
    }

    /// Stops a published campaign from processing events, until resumed.
    async fn pause_campaign(&self, ctx: &Context<'_>, key: String) -> Result<Campaign> {
        Self::transition(ctx, &key, Transition::Pause).await
    }

    /// Lets a paused campaign process events again.
    async fn resume_campaign(&self, ctx: &Context<'_>, key: String) -> Result<Campaign> {
        Self::transition(ctx, &key, Transition::Resume).await
    }

    /// Ends a published or paused campaign for good; customers keep seeing it as expired.
    async fn end_campaign(&self, ctx: &Context<'_>, key: String) -> Result<Campaign> {
        Self::transition(ctx, &key, Transition::End).await
    }

    /// Archives a draft or ended campaign.
    async fn archive_campaign(&self, ctx: &Context<'_>, key: String) -> Result<Campaign> {
        Self::transition(ctx, &key, Transition::Archive).await
    }

    /// Processes events (DESIGN §2 JSON objects) and answers each one's outcome after its
    /// batch committed. A bad event is rejected with its field and reason; the rest go on.
    async fn ingest_events(
        &self,
        ctx: &Context<'_>,
        events: Vec<Json<Value>>,
    ) -> Result<IngestResult> {
        let app = ctx.data::<App>()?;
        let results = app
            .ingest(events.into_iter().map(|j| j.0).collect())
            .await
            .extend()?;
        Ok(IngestResult {
            counts: EventCounts::of(&results),
            results: results.iter().map(EventOutcome::from).collect(),
        })
    }

    /// Stores or replaces a customer's profile attributes (a JSON object; what audiences and
    /// conditions see as `customer`).
    async fn upsert_customer(
        &self,
        ctx: &Context<'_>,
        id: String,
        attributes: Json<Value>,
    ) -> Result<Customer> {
        let app = ctx.data::<App>()?;
        check_id("id", &id).extend()?;
        let Value::Object(attributes) = attributes.0 else {
            return Err(ApiError::bad("attributes", "must be a JSON object")).extend();
        };
        campaigns::check_attributes(&attributes)
            .map_err(|e| ApiError::bad(e.field, e.reason))
            .extend()?;
        for key in attributes.keys() {
            if key == "id" {
                return Err(ApiError::bad(
                    "attributes.id",
                    "is reserved: `customer.id` is the customer's id",
                ))
                .extend();
            }
        }
        let customer = campaigns::Customer {
            id: id.clone(),
            attributes,
        };
        app.store()
            .upsert_customer(&customer)
            .await
            .map_err(ApiError::from)
            .extend()?;
        Ok(Customer { id })
    }
}
