//! GraphQL output types: each wraps a domain value and converts at this edge.

pub use super::outcomes::{CustomerEvent, EventCounts, EventOutcome, IngestResult};
use crate::error::EngineResultExt;
use async_graphql::{ComplexObject, Enum, Json, SimpleObject};
use campaigns::{CampaignSpec, Diagnostic as SpecDiagnostic};
use chrono::{DateTime, Utc};
use engine::CustomerOffer;
use engine::{
    AuditEntry as DomainAudit, CampaignRecord, LedgerEntry, OfferProgress as DomainProgress,
};

/// A campaign's lifecycle status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum CampaignStatus {
    /// Being written; never published.
    Draft,
    /// Running: its latest version processes events.
    Published,
    /// Stopped for now: ignores events until resumed.
    Paused,
    /// Over for good: ignores events; history stays.
    Ended,
    /// Put away.
    Archived,
}

impl From<engine::CampaignStatus> for CampaignStatus {
    fn from(s: engine::CampaignStatus) -> Self {
        match s {
            engine::CampaignStatus::Draft => CampaignStatus::Draft,
            engine::CampaignStatus::Published => CampaignStatus::Published,
            engine::CampaignStatus::Paused => CampaignStatus::Paused,
            engine::CampaignStatus::Ended => CampaignStatus::Ended,
            engine::CampaignStatus::Archived => CampaignStatus::Archived,
        }
    }
}

impl From<CampaignStatus> for engine::CampaignStatus {
    fn from(s: CampaignStatus) -> Self {
        match s {
            CampaignStatus::Draft => engine::CampaignStatus::Draft,
            CampaignStatus::Published => engine::CampaignStatus::Published,
            CampaignStatus::Paused => engine::CampaignStatus::Paused,
            CampaignStatus::Ended => engine::CampaignStatus::Ended,
            CampaignStatus::Archived => engine::CampaignStatus::Archived,
        }
    }
}

/// A goal's mechanic.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum GoalKind {
    /// +1 per qualifying event.
    Count,
    /// Adds a value per qualifying event.
    Sum,
    /// Collects distinct values.
    Distinct,
    /// Consecutive days or weeks.
    Streak,
    /// Steps in order.
    Sequence,
}

impl GoalKind {
    /// The kind as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            GoalKind::Count => "count",
            GoalKind::Sum => "sum",
            GoalKind::Distinct => "distinct",
            GoalKind::Streak => "streak",
            GoalKind::Sequence => "sequence",
        }
    }

    /// The API's name for a spec's goal kind (every kind has one).
    fn of(kind: campaigns::GoalKind) -> Self {
        match kind {
            campaigns::GoalKind::Count => GoalKind::Count,
            campaigns::GoalKind::Sum => GoalKind::Sum,
            campaigns::GoalKind::Distinct => GoalKind::Distinct,
            campaigns::GoalKind::Streak => GoalKind::Streak,
            campaigns::GoalKind::Sequence => GoalKind::Sequence,
        }
    }
}

/// A streak's period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum StreakPeriod {
    /// Calendar days in the schedule's timezone.
    Day,
    /// ISO weeks, Monday first.
    Week,
}

/// A reward's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum RewardKind {
    /// Loyalty points.
    Points,
    /// A coupon.
    Coupon,
    /// A badge.
    Badge,
    /// A discount.
    Discount,
    /// Anything else.
    Custom,
}

impl From<campaigns::RewardKind> for RewardKind {
    fn from(k: campaigns::RewardKind) -> Self {
        match k {
            campaigns::RewardKind::Points => RewardKind::Points,
            campaigns::RewardKind::Coupon => RewardKind::Coupon,
            campaigns::RewardKind::Badge => RewardKind::Badge,
            campaigns::RewardKind::Discount => RewardKind::Discount,
            campaigns::RewardKind::Custom => RewardKind::Custom,
        }
    }
}

impl RewardKind {
    /// The kind as written in specs.
    pub fn as_str(self) -> &'static str {
        match self {
            RewardKind::Points => "points",
            RewardKind::Coupon => "coupon",
            RewardKind::Badge => "badge",
            RewardKind::Discount => "discount",
            RewardKind::Custom => "custom",
        }
    }
}

/// A campaign: its draft, status and latest published version.
#[derive(Debug, Clone, SimpleObject)]
#[graphql(complex)]
pub struct Campaign {
    /// Unique key.
    pub key: String,
    /// The draft's name.
    pub name: String,
    /// The draft's description.
    pub description: Option<String>,
    /// Lifecycle status.
    pub status: CampaignStatus,
    /// The latest published version; 0 before the first.
    pub version: i32,
    /// Whether the draft differs from the latest published version.
    pub has_unpublished_changes: bool,
    /// The draft, as a spec document (DESIGN §4).
    pub draft: Json<serde_json::Value>,
    /// The latest published version's spec, if any.
    pub published: Option<Json<serde_json::Value>>,
    /// The draft's goal mechanic.
    pub goal_kind: GoalKind,
    /// The draft's priority.
    pub priority: i32,
    /// The draft's schedule start.
    pub starts_at: Option<DateTime<Utc>>,
    /// The draft's schedule end.
    pub ends_at: Option<DateTime<Utc>>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

#[ComplexObject]
impl Campaign {
    /// Every published version, oldest first.
    async fn versions(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Vec<CampaignVersion>> {
        super::access::allow(ctx, crate::auth::Access::Campaigns)?;
        let app = ctx.data::<crate::app::App>()?;
        let versions = app.store().campaign_versions(&self.key).await.gql()?;
        Ok(versions
            .into_iter()
            .map(|v| CampaignVersion {
                version: v.version,
                spec: Json(spec_json(&v.spec)),
                published_at: v.published_at,
            })
            .collect())
    }

    /// Its audit trail, newest first.
    async fn audit(
        &self,
        ctx: &async_graphql::Context<'_>,
        #[graphql(default = 50, validator(minimum = 1, maximum = 100))] first: i32,
    ) -> async_graphql::Result<Vec<AuditEntry>> {
        super::access::allow(ctx, crate::auth::Access::Author)?;
        let app = ctx.data::<crate::app::App>()?;
        let entries = app
            .store()
            .audit_log(Some(&self.key), None, first as u64)
            .await
            .gql()?;
        Ok(entries.into_iter().map(AuditEntry::from).collect())
    }

    /// Rewards issued so far, all customers and cycles (at most 2^31 - 1).
    async fn rewards_issued(&self, ctx: &async_graphql::Context<'_>) -> async_graphql::Result<i32> {
        let totals = self.totals(ctx).await?;
        Ok(i32::try_from(totals.rewards_issued).unwrap_or(i32::MAX))
    }

    /// Completions left before `maxRewards` is reached; absent when it has no cap.
    async fn budget_left(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<Option<i32>> {
        let totals = self.totals(ctx).await?;
        Ok(totals
            .budget_left()
            .map(|l| i32::try_from(l).unwrap_or(i32::MAX)))
    }
}

impl Campaign {
    /// Its rewards issued and budget.
    async fn totals(
        &self,
        ctx: &async_graphql::Context<'_>,
    ) -> async_graphql::Result<store::CampaignTotals> {
        super::access::allow(ctx, crate::auth::Access::Campaigns)?;
        let app = ctx.data::<crate::app::App>()?;
        app.store().campaign_totals(&self.key).await.gql()
    }
}

/// A spec as a JSON document.
pub fn spec_json(spec: &CampaignSpec) -> serde_json::Value {
    serde_json::to_value(spec).unwrap_or_default()
}

impl From<CampaignRecord> for Campaign {
    fn from(r: CampaignRecord) -> Self {
        let has_unpublished_changes = r.has_unpublished_changes();
        let d = &r.draft;
        Campaign {
            key: d.key.clone(),
            name: d.name.clone(),
            description: d.description.clone(),
            status: r.status.into(),
            version: r.version,
            has_unpublished_changes,
            draft: Json(spec_json(d)),
            published: r.published.as_ref().map(|p| Json(spec_json(p))),
            goal_kind: GoalKind::of(d.goal.kind()),
            priority: d.priority,
            starts_at: d.schedule.starts_at,
            ends_at: d.schedule.ends_at,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

/// One published, immutable version of a campaign.
#[derive(Debug, Clone, SimpleObject)]
pub struct CampaignVersion {
    /// The version, from 1.
    pub version: i32,
    /// Its spec.
    pub spec: Json<serde_json::Value>,
    /// When it was published.
    pub published_at: DateTime<Utc>,
}

/// One audited change: who, when, what.
#[derive(Debug, Clone, SimpleObject)]
pub struct AuditEntry {
    /// The entry's id (a cursor for `auditLog`).
    pub id: String,
    /// When.
    pub at: DateTime<Utc>,
    /// Who.
    pub actor: String,
    /// What: `campaign.create`, `campaign.update`, `campaign.publish`, `campaign.pause`...
    pub action: String,
    /// The campaign concerned.
    pub campaign: Option<String>,
    /// What changed: the created spec, the updated fields with their values before and
    /// after, the version published, the statuses before and after.
    pub details: Json<serde_json::Value>,
}

impl From<DomainAudit> for AuditEntry {
    fn from(a: DomainAudit) -> Self {
        AuditEntry {
            id: a.id.to_string(),
            at: a.at,
            actor: a.actor,
            action: a.action,
            campaign: a.campaign,
            details: Json(a.details),
        }
    }
}

/// One problem in a campaign spec.
#[derive(Debug, Clone, SimpleObject)]
pub struct Diagnostic {
    /// Where in the spec: `goal.steps[1].when`; empty for the document itself.
    pub path: String,
    /// The kind of problem: `syntax`, `missing_field`, `unknown_field`, `invalid_type`,
    /// `invalid_value`, `cel`.
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// Line in the source text (from 1), when the spec was given as text.
    pub line: Option<u32>,
    /// Column in the source text (from 1), when the spec was given as text.
    pub column: Option<u32>,
    /// For CEL problems: the line inside the expression.
    pub expression_line: Option<u32>,
    /// For CEL problems: the column inside the expression.
    pub expression_column: Option<u32>,
}

impl From<SpecDiagnostic> for Diagnostic {
    fn from(d: SpecDiagnostic) -> Self {
        let code = serde_json::to_value(d.code)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Diagnostic {
            path: d.path,
            code,
            message: d.message,
            line: d.position.map(|p| p.line),
            column: d.position.map(|p| p.column),
            expression_line: d.expression_position.map(|p| p.line),
            expression_column: d.expression_position.map(|p| p.column),
        }
    }
}

/// The answer of `validateCampaign`.
#[derive(Debug, Clone, SimpleObject)]
pub struct ValidationResult {
    /// Whether the spec is valid.
    pub valid: bool,
    /// Every problem found (empty when valid).
    pub diagnostics: Vec<Diagnostic>,
    /// The spec as it will be stored, when valid.
    pub spec: Option<Json<serde_json::Value>>,
}

/// A reward: in the ledger, or issued by a simulation.
#[derive(Debug, Clone, SimpleObject)]
pub struct Reward {
    /// Ledger id (a cursor); absent for simulated rewards.
    pub id: Option<String>,
    /// Campaign key.
    pub campaign: String,
    /// Who earned it.
    pub customer_id: String,
    /// The completing event.
    pub event_id: String,
    /// The cycle completed, from 1.
    pub cycle: i64,
    /// Index in the campaign's `rewards`.
    pub reward_index: i64,
    /// Kind.
    pub kind: RewardKind,
    /// Amount.
    pub amount: f64,
    /// Code for the fulfilling system, if the spec gives one.
    pub code: Option<String>,
    /// When it was issued; absent for simulated rewards.
    pub issued_at: Option<DateTime<Utc>>,
}

impl From<&engine::Reward> for Reward {
    fn from(r: &engine::Reward) -> Self {
        Reward {
            id: None,
            campaign: r.campaign.clone(),
            customer_id: r.customer_id.clone(),
            event_id: r.event_id.clone(),
            cycle: i64::from(r.cycle),
            reward_index: i64::from(r.reward_index),
            kind: r.kind.into(),
            amount: r.amount.get(),
            code: r.code.clone(),
            issued_at: None,
        }
    }
}

impl From<&LedgerEntry> for Reward {
    fn from(e: &LedgerEntry) -> Self {
        Reward {
            id: Some(e.id.to_string()),
            issued_at: Some(e.issued_at),
            ..Reward::from(&e.reward)
        }
    }
}

/// Where a customer stands with a campaign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
pub enum OfferStatus {
    /// Open, with no progress in the current cycle.
    Available,
    /// Some progress in the current cycle.
    InProgress,
    /// Every cycle they may complete is done.
    Completed,
    /// The campaign is over (its schedule ended, or it was ended).
    Expired,
    /// Its `maxRewards` completions were issued.
    BudgetExhausted,
}

impl From<engine::OfferStatus> for OfferStatus {
    fn from(s: engine::OfferStatus) -> Self {
        match s {
            engine::OfferStatus::Available => OfferStatus::Available,
            engine::OfferStatus::InProgress => OfferStatus::InProgress,
            engine::OfferStatus::Completed => OfferStatus::Completed,
            engine::OfferStatus::Expired => OfferStatus::Expired,
            engine::OfferStatus::BudgetExhausted => OfferStatus::BudgetExhausted,
        }
    }
}

/// Progress toward a goal in the current cycle.
#[derive(Debug, Clone, SimpleObject)]
pub struct OfferProgress {
    /// The mechanic.
    pub kind: GoalKind,
    /// Where the customer is: events counted, sum, distinct values, streak, steps done.
    pub current: f64,
    /// Where the goal is.
    pub target: f64,
    /// `current / target` in percent, 0 to 100.
    pub percent: f64,
    /// The current streak, for streak goals.
    pub streak: Option<i64>,
    /// The streak's period, for streak goals.
    pub period: Option<StreakPeriod>,
    /// How many distinct values so far, for distinct goals.
    pub distinct_values: Option<i64>,
    /// Steps done, for sequence goals.
    pub steps_done: Option<i64>,
    /// Every step's name in order, for sequence goals.
    pub step_names: Vec<String>,
    /// The next step's name, for sequence goals.
    pub next_step: Option<String>,
    /// The rolling window in seconds, for goals with `within`.
    pub window_seconds: Option<i64>,
}

impl From<DomainProgress> for OfferProgress {
    fn from(p: DomainProgress) -> Self {
        let kind = GoalKind::of(p.kind);
        let whole = Some(p.current as i64);
        OfferProgress {
            kind,
            current: p.current,
            target: p.target,
            percent: p.percent,
            streak: whole.filter(|_| kind == GoalKind::Streak),
            period: p.period.map(|x| {
                if x == "week" {
                    StreakPeriod::Week
                } else {
                    StreakPeriod::Day
                }
            }),
            distinct_values: whole.filter(|_| kind == GoalKind::Distinct),
            steps_done: whole.filter(|_| kind == GoalKind::Sequence),
            step_names: p.step_names,
            next_step: p.next_step,
            window_seconds: p.window_seconds,
        }
    }
}

/// What completing a campaign earns.
#[derive(Debug, Clone, SimpleObject)]
pub struct RewardOffer {
    /// Kind.
    pub kind: RewardKind,
    /// The fixed amount (absent when it is computed by `amountExpr`).
    pub amount: Option<f64>,
    /// The CEL expression that computes the amount on completion.
    pub amount_expr: Option<String>,
    /// Text for the customer.
    pub description: Option<String>,
}

/// A campaign as one customer sees it.
#[derive(Debug, Clone, SimpleObject)]
pub struct Offer {
    /// Campaign key.
    pub campaign: String,
    /// Campaign name.
    pub name: String,
    /// Campaign description.
    pub description: Option<String>,
    /// Higher first.
    pub priority: i32,
    /// Where the customer stands.
    pub status: OfferStatus,
    /// Progress in the current cycle.
    pub progress: OfferProgress,
    /// The current cycle, from 1.
    pub cycle: i64,
    /// Cycles completed.
    pub cycles_completed: i64,
    /// Cycles the customer may still complete.
    pub cycles_left: i64,
    /// Cycles a customer may complete in all.
    pub per_customer: i64,
    /// What completing a cycle earns.
    pub rewards: Vec<RewardOffer>,
    /// What the customer earned from it, in issue order.
    pub rewards_earned: Vec<Reward>,
    /// When the campaign starts counting events.
    pub starts_at: Option<DateTime<Utc>>,
    /// When it stops.
    pub ends_at: Option<DateTime<Utc>>,
    /// Whole seconds until it stops (`endsAt`), if it has an end not yet reached. A `Float`,
    /// not an `Int`: GraphQL's `Int` is 32-bit and stops at about 68 years (a campaign ending
    /// in 2100 is further off); a `Float` holds every whole second exactly up to 2^53.
    pub seconds_left: Option<f64>,
    /// What is still missing to complete the current cycle, for a person.
    pub missing: Option<String>,
}

impl From<CustomerOffer> for Offer {
    fn from(c: CustomerOffer) -> Self {
        let spec = c.campaign.spec();
        Offer {
            campaign: spec.key.clone(),
            name: spec.name.clone(),
            description: spec.description.clone(),
            priority: spec.priority,
            status: c.offer.status.into(),
            progress: c.offer.progress.into(),
            cycle: i64::from(c.offer.cycle),
            cycles_completed: i64::from(c.offer.cycles_completed),
            cycles_left: i64::from(c.offer.cycles_left),
            per_customer: i64::from(spec.limits.per_customer),
            rewards: spec
                .rewards
                .iter()
                .map(|r| RewardOffer {
                    kind: r.kind.into(),
                    amount: r.amount.map(|a| a.get()),
                    amount_expr: r.amount_expr.clone(),
                    description: r.description.clone(),
                })
                .collect(),
            rewards_earned: c.rewards.iter().map(Reward::from).collect(),
            starts_at: spec.schedule.starts_at,
            ends_at: spec.schedule.ends_at,
            seconds_left: c.offer.seconds_left.map(|s| s as f64),
            missing: c.offer.missing,
        }
    }
}

/// An API key (its secret is shown only when it is created).
#[derive(Debug, Clone, SimpleObject)]
pub struct ApiKey {
    /// Public id: the part of the key after `of_` and before the secret.
    pub id: String,
    /// Name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<crate::auth::Scope>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

impl From<crate::auth::ApiKey> for ApiKey {
    fn from(k: crate::auth::ApiKey) -> Self {
        ApiKey {
            id: k.id,
            name: k.name,
            scopes: k.scopes,
            created_at: k.created_at,
            revoked_at: k.revoked_at,
        }
    }
}

/// A key just created.
#[derive(Debug, Clone, SimpleObject)]
pub struct CreatedApiKey {
    /// The whole key, to send as `Authorization: Bearer <key>`. Shown this once only.
    pub key: String,
    /// The stored part.
    pub api_key: ApiKey,
}

/// A token that lets a client app read one customer's offers, rewards and updates.
#[derive(Debug, Clone, SimpleObject)]
pub struct CustomerToken {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    /// The customer it opens.
    pub customer_id: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}
