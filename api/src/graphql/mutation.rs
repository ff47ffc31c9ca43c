//! `Mutation`: authoring and the lifecycle, ingestion, customer profiles.

use super::access::{allow, principal};
use super::inputs::{CampaignInput, require_spec};
use super::query::{Customer, check_id};
use super::types::{
    ApiKey, Campaign, CreatedApiKey, CustomerToken, EventCounts, EventOutcome, IngestResult,
};
use crate::app::App;
use crate::auth::{Access, Scope};
use crate::error::ApiError;
use crate::error::EngineResultExt;
use async_graphql::{Context, Json, Object, Result, ResultExt};
use engine::Transition;
use serde_json::Value;

/// Who makes a change, as the audit log records it: the API key's name.
fn actor(ctx: &Context<'_>) -> String {
    principal(ctx).actor()
}

/// The root of every change.
#[derive(Debug, Default)]
pub struct Mutation;

impl Mutation {
    async fn transition(ctx: &Context<'_>, key: &str, t: Transition) -> Result<Campaign> {
        allow(ctx, Access::Author)?;
        let app = ctx.data::<App>()?;
        let record = app.store().transition(key, t, &actor(ctx)).await.gql()?;
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
        allow(ctx, Access::Author)?;
        let app = ctx.data::<App>()?;
        let spec = require_spec(input.as_ref(), source.as_deref()).extend()?;
        let record = app
            .store()
            .create_campaign(&spec, &actor(ctx))
            .await
            .gql()?;
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
        allow(ctx, Access::Author)?;
        let app = ctx.data::<App>()?;
        let spec = require_spec(input.as_ref(), source.as_deref()).extend()?;
        let record = app
            .store()
            .update_campaign(&key, &spec, &actor(ctx))
            .await
            .gql()?;
        Ok(record.into())
    }

    /// Publishes the draft as the next immutable version; a draft campaign starts running.
    /// Publishing an unchanged draft changes nothing.
    async fn publish_campaign(&self, ctx: &Context<'_>, key: String) -> Result<Campaign> {
        allow(ctx, Access::Author)?;
        let app = ctx.data::<App>()?;
        let record = app
            .store()
            .publish_campaign(&key, &actor(ctx))
            .await
            .gql()?;
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
        allow(ctx, Access::Ingest)?;
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
        allow(ctx, Access::Ingest)?;
        let app = ctx.data::<App>()?;
        check_id("id", &id).extend()?;
        let Value::Object(attributes) = attributes.0 else {
            return Err(ApiError::bad("attributes", "must be a JSON object")).extend();
        };
        campaigns::check_attributes(&attributes)
            .map_err(ApiError::from)
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
        app.store().upsert_customer(&customer).await.gql()?;
        Ok(Customer { id })
    }

    /// Mints a token a client app uses to read one customer's offers, rewards and updates,
    /// for `ttlSeconds` (1 to 86,400). Called by the app's backend with a `read` key.
    async fn create_customer_token(
        &self,
        ctx: &Context<'_>,
        customer_id: String,
        #[graphql(default = 3600)] ttl_seconds: i64,
    ) -> Result<CustomerToken> {
        allow(ctx, Access::Read)?;
        let app = ctx.data::<App>()?;
        let t = app
            .tokens()
            .mint(&customer_id, ttl_seconds, chrono::Utc::now())
            .extend()?;
        Ok(CustomerToken {
            token: t.token,
            customer_id: t.customer_id,
            expires_at: t.expires_at,
        })
    }

    /// Creates an API key; the answer holds its secret, shown this once. Needs scope admin.
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        name: String,
        scopes: Vec<Scope>,
    ) -> Result<CreatedApiKey> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let created = app.keys().create(&name, &scopes).await.extend()?;
        Ok(CreatedApiKey {
            key: created.secret,
            api_key: created.key.into(),
        })
    }

    /// Revokes an API key for good. Needs scope admin.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: String) -> Result<ApiKey> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        Ok(app.keys().revoke(&id).await.extend()?.into())
    }
}
