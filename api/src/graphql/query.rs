//! `Query`: campaigns, customers and their offers and rewards, event outcomes, validation,
//! simulation and the audit log.

use super::access::allow;
use super::inputs::{CampaignInput, CustomerInput, read_spec};
use super::simulate::{Simulation, simulate};
use super::types::{
    ApiKey, AuditEntry, Campaign, CampaignStatus, CustomerEvent, Diagnostic, EventOutcome, Offer,
    Reward, ValidationResult, spec_json,
};
use super::webhooks::{WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint, numeric_id};
use crate::app::App;
use crate::auth::{Access, Principal, Scope};
use crate::error::EngineResultExt;
use crate::error::{ApiError, Result as ApiResult};
use async_graphql::connection::{Connection, Edge};
use async_graphql::{Context, ID, Json, Object, Result, ResultExt};
use chrono::{DateTime, Utc};
use serde_json::Value;

/// Most items in one page of any list.
pub const MAX_PAGE: i32 = 100;

/// The root of every read.
#[derive(Debug, Default)]
pub struct Query;

/// `first` checked against [`MAX_PAGE`].
fn page_size(first: i32) -> ApiResult<u64> {
    if !(1..=MAX_PAGE).contains(&first) {
        return Err(ApiError::bad(
            "first",
            format!("must be between 1 and {MAX_PAGE}, not {first}"),
        ));
    }
    Ok(first as u64)
}

/// One page from `rows`, read with one row more than `limit` to tell whether more follow;
/// `edge` gives each row's cursor and node.
fn page<R, N: async_graphql::OutputType>(
    mut rows: Vec<R>,
    limit: u64,
    after: bool,
    edge: impl Fn(R) -> (String, N),
) -> Connection<String, N> {
    let more = rows.len() as u64 > limit;
    rows.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
    let mut page = Connection::new(after, more);
    page.edges.extend(rows.into_iter().map(|r| {
        let (cursor, node) = edge(r);
        Edge::new(cursor, node)
    }));
    page
}

/// A numeric cursor (ledger and audit ids).
fn id_cursor(after: Option<&str>) -> ApiResult<Option<i64>> {
    after
        .map(|a| {
            a.parse::<i64>().map_err(|_| {
                ApiError::bad("after", format!("`{a}` is not a cursor this list gave"))
            })
        })
        .transpose()
}

#[Object]
impl Query {
    /// Campaigns in key order, optionally of one status; `after` is the last key of the
    /// previous page.
    async fn campaigns(
        &self,
        ctx: &Context<'_>,
        status: Option<CampaignStatus>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Campaign>> {
        allow(ctx, Access::Campaigns)?;
        let app = ctx.data::<App>()?;
        let limit = page_size(first).extend()?;
        let records = app
            .store()
            .campaigns(status.map(Into::into), after.as_deref(), limit + 1)
            .await
            .gql()?;
        Ok(page(records, limit, after.is_some(), |r| {
            (r.key().to_owned(), Campaign::from(r))
        }))
    }

    /// One campaign.
    async fn campaign(&self, ctx: &Context<'_>, key: String) -> Result<Option<Campaign>> {
        allow(ctx, Access::Campaigns)?;
        let app = ctx.data::<App>()?;
        let record = app.store().campaign(&key).await.gql()?;
        Ok(record.map(Campaign::from))
    }

    /// A customer: their profile, offers and rewards. Every id has one (a customer with no
    /// stored profile has just `id`).
    async fn customer(&self, ctx: &Context<'_>, id: String) -> Result<Customer> {
        allow(ctx, Access::Customer(&id))?;
        check_id("id", &id).extend()?;
        Ok(Customer { id })
    }

    /// An event's processing outcome, if it was processed.
    async fn event(&self, ctx: &Context<'_>, id: String) -> Result<Option<EventOutcome>> {
        allow(ctx, Access::Read)?;
        check_id("id", &id).extend()?;
        let app = ctx.data::<App>()?;
        let result = app.store().event_result(&id).await.gql()?;
        Ok(result.as_ref().map(EventOutcome::from))
    }

    /// Checks a campaign spec, given as typed `input` or as YAML/JSON `source` text, and
    /// lists every problem with its path (and, for text, line and column).
    async fn validate_campaign(
        &self,
        ctx: &Context<'_>,
        input: Option<CampaignInput>,
        source: Option<String>,
    ) -> Result<ValidationResult> {
        allow(ctx, Access::Author)?;
        let read = read_spec(input.as_ref(), source.as_deref()).extend()?;
        Ok(match read {
            Ok(spec) => ValidationResult {
                valid: true,
                diagnostics: Vec::new(),
                spec: Some(Json(spec_json(&spec))),
            },
            Err(ds) => ValidationResult {
                valid: false,
                diagnostics: ds.0.into_iter().map(Diagnostic::from).collect(),
                spec: None,
            },
        })
    }

    /// Runs a campaign (a stored draft by `key`, typed `input`, or `source` text) over
    /// `events` and `customers` in memory: per-event outcomes, progress after each event, and
    /// the rewards. Touches no stored state.
    async fn simulate_campaign(
        &self,
        ctx: &Context<'_>,
        key: Option<String>,
        input: Option<CampaignInput>,
        source: Option<String>,
        events: Vec<Json<Value>>,
        #[graphql(default)] customers: Vec<CustomerInput>,
    ) -> Result<Simulation> {
        allow(ctx, Access::Author)?;
        let app = ctx.data::<App>()?;
        simulate(app, key, input, source, events, customers)
            .await
            .extend()
    }

    /// Every API key, oldest first (secrets are never shown again). Needs scope admin.
    async fn api_keys(&self, ctx: &Context<'_>) -> Result<Vec<ApiKey>> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let keys = app.keys().list().await.extend()?;
        Ok(keys.into_iter().map(ApiKey::from).collect())
    }

    /// Who is asking: the API key's name and scopes (what the console may offer), or the
    /// customer a token opens. With authentication off, every scope.
    async fn viewer(&self, ctx: &Context<'_>) -> Viewer {
        Viewer::of(super::access::principal(ctx))
    }

    /// The reward ledger in issue order, for reconciliation: optionally of one campaign and
    /// issued in `[from, to)`; the same fields as `offerflow rewards export`. `after` is the
    /// `id` of the last reward of the previous page. Needs scope read.
    async fn ledger(
        &self,
        ctx: &Context<'_>,
        campaign: Option<String>,
        from: Option<DateTime<Utc>>,
        to: Option<DateTime<Utc>>,
        #[graphql(default = 100)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, Reward>> {
        allow(ctx, Access::Read)?;
        let app = ctx.data::<App>()?;
        let limit = page_size(first).extend()?;
        let after_id = id_cursor(after.as_deref()).extend()?;
        let entries = app
            .store()
            .ledger_page(campaign.as_deref(), from, to, after_id, limit + 1)
            .await
            .gql()?;
        Ok(page(entries, limit, after.is_some(), |e| {
            (e.id.to_string(), Reward::from(&e))
        }))
    }

    /// Every webhook endpoint, oldest first (secrets are never shown again). Needs scope
    /// admin.
    async fn webhook_endpoints(&self, ctx: &Context<'_>) -> Result<Vec<WebhookEndpoint>> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let endpoints = app.store().webhook_endpoints().await.gql()?;
        Ok(endpoints.into_iter().map(WebhookEndpoint::from).collect())
    }

    /// An endpoint's messages, newest first, optionally of one status, each with its
    /// attempts and next try; `after` is the `id` of the last message of the previous page.
    /// Needs scope admin.
    async fn webhook_deliveries(
        &self,
        ctx: &Context<'_>,
        endpoint_id: ID,
        status: Option<WebhookDeliveryStatus>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, WebhookDelivery>> {
        allow(ctx, Access::Admin)?;
        let app = ctx.data::<App>()?;
        let endpoint = numeric_id("endpointId", &endpoint_id).extend()?;
        let limit = page_size(first).extend()?;
        let before = id_cursor(after.as_deref()).extend()?;
        if app
            .store()
            .webhook_endpoint(endpoint)
            .await
            .gql()?
            .is_none()
        {
            return Err(ApiError::NotFound(format!(
                "no webhook endpoint {endpoint}"
            )))
            .extend();
        }
        let messages = app
            .store()
            .webhook_messages(endpoint, status.map(Into::into), before, limit + 1)
            .await
            .gql()?;
        Ok(page(messages, limit, after.is_some(), |m| {
            (m.id.to_string(), WebhookDelivery::from(m))
        }))
    }

    /// Audit entries, newest first, of one campaign or of all; `after` is the `id` of the
    /// last entry of the previous page.
    async fn audit_log(
        &self,
        ctx: &Context<'_>,
        campaign: Option<String>,
        #[graphql(default = 50)] first: i32,
        after: Option<String>,
    ) -> Result<Connection<String, AuditEntry>> {
        allow(ctx, Access::Author)?;
        let app = ctx.data::<App>()?;
        let limit = page_size(first).extend()?;
        let before = id_cursor(after.as_deref()).extend()?;
        let entries = app
            .store()
            .audit_log(campaign.as_deref(), before, limit + 1)
            .await
            .gql()?;
        Ok(page(entries, limit, after.is_some(), |e| {
            (e.id.to_string(), AuditEntry::from(e))
        }))
    }
}

/// An id argument: 1 to 128 characters and no NUL, like event and customer ids.
pub(super) fn check_id(field: &str, id: &str) -> ApiResult<()> {
    Ok(campaigns::check_id(field, id)?)
}

/// A customer, by id. Reached from `customer(id)` and from `upsertCustomer`'s answer: each
/// field that reads the customer's data checks `Access::Customer` itself, since an `ingest`
/// key may write a profile but not read it.
#[derive(Debug, Clone)]
pub struct Customer {
    /// The id.
    pub id: String,
}

#[Object]
impl Customer {
    /// The customer id.
    async fn id(&self) -> &str {
        &self.id
    }

    /// Profile attributes (`{}` without a stored profile).
    async fn attributes(&self, ctx: &Context<'_>) -> Result<Json<Value>> {
        allow(ctx, Access::Customer(&self.id))?;
        let app = ctx.data::<App>()?;
        let profile = app.store().customer(&self.id).await.gql()?;
        Ok(Json(Value::Object(
            profile.map(|p| p.attributes).unwrap_or_default(),
        )))
    }

    /// Every campaign this customer can see, highest priority first: published campaigns
    /// whose audience holds, and any published or ended one they have progress or rewards in.
    /// Progress and status are as of `at` (now when absent).
    async fn offers(&self, ctx: &Context<'_>, at: Option<DateTime<Utc>>) -> Result<Vec<Offer>> {
        allow(ctx, Access::Customer(&self.id))?;
        let app = ctx.data::<App>()?;
        let at = at.unwrap_or_else(Utc::now);
        let offers = app
            .store()
            .customer_offers(&self.id, at, None)
            .await
            .gql()?;
        Ok(offers.into_iter().map(Offer::from).collect())
    }

    /// The customer's latest processed events, newest first, with what each did: why a
    /// reward came or did not.
    async fn events(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 10)] first: i32,
    ) -> Result<Vec<CustomerEvent>> {
        allow(ctx, Access::Customer(&self.id))?;
        let app = ctx.data::<App>()?;
        let limit = page_size(first).extend()?;
        let events = app.store().customer_events(&self.id, limit).await.gql()?;
        Ok(events.iter().map(CustomerEvent::from).collect())
    }

    /// Rewards earned, in issue order; optionally from one campaign. `after` is the `id` of
    /// the last reward of the previous page.
    async fn rewards(
        &self,
        ctx: &Context<'_>,
        #[graphql(default = 20)] first: i32,
        after: Option<String>,
        campaign: Option<String>,
    ) -> Result<Connection<String, Reward>> {
        allow(ctx, Access::Customer(&self.id))?;
        let app = ctx.data::<App>()?;
        let limit = page_size(first).extend()?;
        let after_id = id_cursor(after.as_deref()).extend()?;
        let only = campaign.map(|c| vec![c]);
        let entries = app
            .store()
            .customer_rewards(&self.id, only.as_deref(), after_id, limit + 1)
            .await
            .gql()?;
        Ok(page(entries, limit, after.is_some(), |e| {
            (e.id.to_string(), Reward::from(&e))
        }))
    }
}

/// Who is asking.
#[derive(Debug, Clone, async_graphql::SimpleObject)]
pub struct Viewer {
    /// The API key's name; `open` with authentication off; `customer` for a customer token.
    pub name: String,
    /// What the credentials may do (none for a customer token).
    pub scopes: Vec<Scope>,
    /// The customer a customer token opens.
    pub customer_id: Option<String>,
}

impl Viewer {
    fn of(principal: &Principal) -> Self {
        let (name, scopes, customer_id) = match principal {
            Principal::Open => ("open".to_owned(), Scope::ALL.to_vec(), None),
            Principal::Anonymous => ("anonymous".to_owned(), Vec::new(), None),
            Principal::Key { name, scopes, .. } => (name.clone(), scopes.clone(), None),
            Principal::Customer { id } => ("customer".to_owned(), Vec::new(), Some(id.clone())),
        };
        Viewer {
            name,
            scopes,
            customer_id,
        }
    }
}
