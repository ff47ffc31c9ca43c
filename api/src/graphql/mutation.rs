//! `Mutation`: authoring and the lifecycle, ingestion, customer profiles.

use super::access::{allow, principal};
use super::inputs::{CampaignInput, require_spec};
use super::query::{Customer, check_id};
use super::types::{
    ApiKey, Campaign, CreatedApiKey, CustomerToken, EventCounts, EventOutcome, IngestResult,
};
use super::webhooks::{
    ROTATION_OVERLAP, WebhookDelivery, WebhookEndpoint, WebhookEndpointInput, WebhookEndpointPatch,
    WebhookEndpointSecret, endpoint_input, endpoint_patch, numeric_id,
};
use crate::app::App;
use crate::auth::{Access, Scope};
use crate::error::ApiError;
use crate::error::EngineResultExt;
use async_graphql::{Context, ID, Json, Object, Result, ResultExt};
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

    /// Creates a webhook endpoint; it receives the rewards issued from now on that match
    /// its filters. The answer holds its signing secret, shown this once. Needs scope admin.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> Result<WebhookEndpointSecret> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let input = endpoint_input(app, input).await.extend()?;
        let secret = delivery::signature::new_secret();
        let endpoint = app
            .store()
            .create_webhook_endpoint(&input, &secret)
            .await
            .gql()?;
        Ok(WebhookEndpointSecret {
            endpoint: endpoint.into(),
            secret,
        })
    }

    /// Changes an endpoint's URL, description or filters. Needs scope admin.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        input: WebhookEndpointPatch,
    ) -> Result<WebhookEndpoint> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let id = numeric_id("id", &id).extend()?;
        let patch = endpoint_patch(app, input).await.extend()?;
        let endpoint = app
            .store()
            .update_webhook_endpoint(id, &patch)
            .await
            .gql()?;
        Ok(endpoint.into())
    }

    /// Stops sending to an endpoint: rewards issued while it is disabled are not queued for
    /// it (`recoverWebhookEndpoint` sends them later), and its pending messages wait. Needs
    /// scope admin.
    async fn disable_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        reason: Option<String>,
    ) -> Result<WebhookEndpoint> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let id = numeric_id("id", &id).extend()?;
        let reason = reason.unwrap_or_else(|| format!("disabled by {}", actor(ctx)));
        let endpoint = app
            .store()
            .set_webhook_endpoint_enabled(id, Some(&reason))
            .await
            .gql()?;
        Ok(endpoint.into())
    }

    /// Sends to a disabled endpoint again, its pending messages first. Needs scope admin.
    async fn enable_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let id = numeric_id("id", &id).extend()?;
        let endpoint = app
            .store()
            .set_webhook_endpoint_enabled(id, None)
            .await
            .gql()?;
        Ok(endpoint.into())
    }

    /// Deletes an endpoint with its messages (pending ones are dropped) and their log;
    /// answers it as it was. Needs scope admin.
    async fn delete_webhook_endpoint(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookEndpoint> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let id = numeric_id("id", &id).extend()?;
        Ok(app.store().delete_webhook_endpoint(id).await.gql()?.into())
    }

    /// Gives an endpoint a new secret, shown this once; for 24 hours messages carry a
    /// signature with the old secret too. Needs scope admin.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> Result<WebhookEndpointSecret> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let id = numeric_id("id", &id).extend()?;
        let secret = delivery::signature::new_secret();
        let until = chrono::Utc::now() + ROTATION_OVERLAP;
        let endpoint = app
            .store()
            .rotate_webhook_secret(id, &secret, until)
            .await
            .gql()?;
        Ok(WebhookEndpointSecret {
            endpoint: endpoint.into(),
            secret,
        })
    }

    /// Sends a message (a `webhookDeliveries` id) again now, with the retry schedule from
    /// its start, the same `webhook-id` and body. Needs scope admin.
    async fn redeliver_webhook(&self, ctx: &Context<'_>, id: ID) -> Result<WebhookDelivery> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let id = numeric_id("id", &id).extend()?;
        Ok(app.store().redeliver_webhook(id).await.gql()?.into())
    }

    /// Sends an endpoint again every matching reward issued since `since`: failed messages,
    /// and rewards it never had a message for (issued before it existed or while it was
    /// disabled), as far back as `outbox_retention`. Answers how many messages were queued.
    /// Needs scope admin.
    async fn recover_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        id: ID,
        since: chrono::DateTime<chrono::Utc>,
    ) -> Result<u64> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let id = numeric_id("id", &id).extend()?;
        app.store().recover_webhook_endpoint(id, since).await.gql()
    }

    /// Revokes an API key for good. Needs scope admin.
    async fn revoke_api_key(&self, ctx: &Context<'_>, id: String) -> Result<ApiKey> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        Ok(app.keys().revoke(&id).await.extend()?.into())
    }
}
