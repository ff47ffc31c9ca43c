//! Webhook endpoints and their delivery log (DESIGN §9), scope `admin`: the types, and the
//! work of the resolvers in `Query` and `Mutation`.

use super::types::RewardKind;
use crate::app::App;
use crate::error::{ApiError, Result as ApiResult};
use async_graphql::{ComplexObject, Context, Enum, ID, InputObject, Result, SimpleObject};
use chrono::{DateTime, Utc};
use engine::{DeliveryStatus, EndpointInput, EndpointPatch};

/// Longest endpoint URL.
const MAX_URL: usize = 2_048;
/// Longest endpoint description.
const MAX_DESCRIPTION: usize = 1_000;
/// Most campaigns in an endpoint's filter.
const MAX_CAMPAIGNS: usize = 1_000;
/// How long the secret before a rotation still signs (a second signature).
pub const ROTATION_OVERLAP: chrono::Duration = chrono::Duration::hours(24);

/// Where rewards are delivered. Its secret is shown only when it is created or rotated.
#[derive(Debug, Clone, SimpleObject)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: ID,
    /// Where messages are posted; for the NATS reward stream, `nats:` + its subject.
    pub url: String,
    /// How messages reach it.
    pub transport: WebhookTransport,
    /// Free text.
    pub description: String,
    /// Campaign keys it receives (empty: all).
    pub campaigns: Vec<String>,
    /// Reward kinds it receives (empty: all).
    pub kinds: Vec<RewardKind>,
    /// Whether messages are sent to it.
    pub enabled: bool,
    /// Why it was disabled (by `disableWebhookEndpoint`, or a `410 Gone` answer).
    pub disabled_reason: Option<String>,
    /// When it was created: it receives the rewards issued from then on.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl From<engine::WebhookEndpoint> for WebhookEndpoint {
    fn from(e: engine::WebhookEndpoint) -> Self {
        WebhookEndpoint {
            id: ID(e.id.to_string()),
            url: e.url,
            transport: e.transport.into(),
            description: e.description,
            campaigns: e.campaigns,
            kinds: e.kinds.into_iter().map(RewardKind::from).collect(),
            enabled: e.enabled,
            disabled_reason: e.disabled_reason,
            created_at: e.created_at,
            updated_at: e.updated_at,
        }
    }
}

/// How an endpoint's messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum WebhookTransport {
    /// A signed `POST` (Standard Webhooks).
    Http,
    /// The NATS reward stream: a JetStream publish with `Nats-Msg-Id` = the webhook id,
    /// sent once JetStream acked it. It follows the server's `nats_url` setting: it can be
    /// disabled, enabled, recovered and redelivered, not changed, rotated or deleted.
    Nats,
}

impl From<engine::Transport> for WebhookTransport {
    fn from(t: engine::Transport) -> Self {
        match t {
            engine::Transport::Http => WebhookTransport::Http,
            engine::Transport::Nats => WebhookTransport::Nats,
        }
    }
}

/// An endpoint with its signing secret, shown this once.
#[derive(Debug, Clone, SimpleObject)]
pub struct WebhookEndpointSecret {
    /// The endpoint.
    pub endpoint: WebhookEndpoint,
    /// `whsec_` + base64 of 32 random bytes: the key of the `webhook-signature` HMAC is the
    /// base64-decoded part after `whsec_`.
    pub secret: String,
}

/// A new endpoint.
#[derive(Debug, Clone, InputObject)]
pub struct WebhookEndpointInput {
    /// `http` or `https` URL; private, loopback and link-local addresses are refused unless
    /// the server allows them (`webhook_allow_private_targets`).
    pub url: String,
    /// Free text.
    pub description: Option<String>,
    /// Campaign keys it receives (omitted or empty: all).
    pub campaigns: Option<Vec<String>>,
    /// Reward kinds it receives (omitted or empty: all).
    pub kinds: Option<Vec<RewardKind>>,
}

/// A change to an endpoint: each field given replaces the stored one.
#[derive(Debug, Clone, InputObject)]
pub struct WebhookEndpointPatch {
    /// A new URL, checked as at creation.
    pub url: Option<String>,
    /// New text.
    pub description: Option<String>,
    /// New campaign filter (empty: all).
    pub campaigns: Option<Vec<String>>,
    /// New kind filter (empty: all).
    pub kinds: Option<Vec<RewardKind>>,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum WebhookDeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answered it.
    Delivered,
    /// Every attempt of the retry schedule failed.
    Failed,
}

impl From<DeliveryStatus> for WebhookDeliveryStatus {
    fn from(s: DeliveryStatus) -> Self {
        match s {
            DeliveryStatus::Pending => WebhookDeliveryStatus::Pending,
            DeliveryStatus::Delivered => WebhookDeliveryStatus::Delivered,
            DeliveryStatus::Failed => WebhookDeliveryStatus::Failed,
        }
    }
}

impl From<WebhookDeliveryStatus> for DeliveryStatus {
    fn from(s: WebhookDeliveryStatus) -> Self {
        match s {
            WebhookDeliveryStatus::Pending => DeliveryStatus::Pending,
            WebhookDeliveryStatus::Delivered => DeliveryStatus::Delivered,
            WebhookDeliveryStatus::Failed => DeliveryStatus::Failed,
        }
    }
}

/// One attempt at a message.
#[derive(Debug, Clone, SimpleObject)]
pub struct WebhookAttempt {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The HTTP status answered, if any.
    pub http_status: Option<i32>,
    /// Why there was no answer (timeout, connection error, refused address).
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: i64,
}

/// One reward's message to one endpoint, with every attempt at it.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct WebhookDelivery {
    /// Its id (what `redeliverWebhook` takes).
    pub id: ID,
    /// The endpoint.
    pub endpoint_id: ID,
    /// The `webhook-id` header: one per reward, the same for every endpoint and attempt.
    pub webhook_id: String,
    /// The body posted, the same on every attempt.
    pub body: String,
    /// Where it stands.
    pub status: WebhookDeliveryStatus,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the reward was issued.
    pub issued_at: DateTime<Utc>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When a 2xx answered it.
    pub delivered_at: Option<DateTime<Utc>>,
    #[graphql(skip)]
    pub message_id: i64,
}

#[ComplexObject]
impl WebhookDelivery {
    /// Every attempt, oldest first.
    async fn attempts(&self, ctx: &Context<'_>) -> Result<Vec<WebhookAttempt>> {
        use crate::error::EngineResultExt;
        let app = ctx.data::<App>()?;
        let attempts = app.store().webhook_attempts(self.message_id).await.gql()?;
        Ok(attempts
            .into_iter()
            .map(|a| WebhookAttempt {
                at: a.at,
                http_status: a.http_status.map(i32::from),
                error: a.error,
                duration_ms: i64::try_from(a.duration_ms).unwrap_or(i64::MAX),
            })
            .collect())
    }
}

impl From<engine::WebhookMessage> for WebhookDelivery {
    fn from(m: engine::WebhookMessage) -> Self {
        WebhookDelivery {
            id: ID(m.id.to_string()),
            endpoint_id: ID(m.endpoint_id.to_string()),
            webhook_id: m.webhook_id,
            body: m.body,
            status: m.status.into(),
            next_attempt_at: m.next_attempt_at,
            issued_at: m.issued_at,
            created_at: m.created_at,
            delivered_at: m.delivered_at,
            message_id: m.id,
        }
    }
}

/// An id argument read as a number.
pub fn numeric_id(field: &str, id: &ID) -> ApiResult<i64> {
    id.parse::<i64>()
        .map_err(|_| ApiError::bad(field, format!("`{}` is not an id this API gave", id.0)))
}

fn domain_kinds(kinds: Vec<RewardKind>) -> Vec<campaigns::RewardKind> {
    kinds
        .into_iter()
        .map(|k| match k {
            RewardKind::Points => campaigns::RewardKind::Points,
            RewardKind::Coupon => campaigns::RewardKind::Coupon,
            RewardKind::Badge => campaigns::RewardKind::Badge,
            RewardKind::Discount => campaigns::RewardKind::Discount,
            RewardKind::Custom => campaigns::RewardKind::Custom,
        })
        .collect()
}

/// `url` checked as DESIGN §9 says, as argument `field`.
async fn check_url(app: &App, field: &str, url: &str) -> ApiResult<String> {
    if url.len() > MAX_URL {
        return Err(ApiError::bad(
            field,
            format!("{} characters; at most {MAX_URL}", url.len()),
        ));
    }
    let allow = app.config().webhook_allow_private_targets;
    delivery::target::check_url(url, allow)
        .await
        .map(|u| u.to_string())
        .map_err(|e| ApiError::bad(field, e.to_string()))
}

fn check_description(field: &str, text: &str) -> ApiResult<()> {
    if text.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::bad(
            field,
            format!("at most {MAX_DESCRIPTION} characters"),
        ));
    }
    Ok(())
}

fn check_campaigns(field: &str, keys: &[String]) -> ApiResult<()> {
    if keys.len() > MAX_CAMPAIGNS {
        return Err(ApiError::bad(
            field,
            format!("{} campaigns; at most {MAX_CAMPAIGNS}", keys.len()),
        ));
    }
    for (i, key) in keys.iter().enumerate() {
        let valid = !key.is_empty()
            && key.len() <= 64
            && key
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if !valid {
            return Err(ApiError::bad(
                format!("{field}[{i}]"),
                format!("`{key}` is not a campaign key ([a-z0-9-]{{1,64}})"),
            ));
        }
    }
    Ok(())
}

/// `input` checked, as the domain's.
pub async fn endpoint_input(app: &App, input: WebhookEndpointInput) -> ApiResult<EndpointInput> {
    let description = input.description.unwrap_or_default();
    check_description("input.description", &description)?;
    let campaigns = input.campaigns.unwrap_or_default();
    check_campaigns("input.campaigns", &campaigns)?;
    // Last: it resolves the host.
    let url = check_url(app, "input.url", &input.url).await?;
    Ok(EndpointInput {
        url,
        description,
        campaigns,
        kinds: domain_kinds(input.kinds.unwrap_or_default()),
    })
}

/// `patch` checked, as the domain's.
pub async fn endpoint_patch(app: &App, patch: WebhookEndpointPatch) -> ApiResult<EndpointPatch> {
    if let Some(d) = &patch.description {
        check_description("input.description", d)?;
    }
    if let Some(c) = &patch.campaigns {
        check_campaigns("input.campaigns", c)?;
    }
    let url = match patch.url {
        Some(url) => Some(check_url(app, "input.url", &url).await?),
        None => None,
    };
    Ok(EndpointPatch {
        url,
        description: patch.description,
        campaigns: patch.campaigns,
        kinds: patch.kinds.map(domain_kinds),
    })
}
