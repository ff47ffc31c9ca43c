//! Webhook endpoints (and the NATS reward stream's): created, listed, changed, enabled and
//! disabled, rotated, deleted.

use super::{REWARD_STREAM_OFF, endpoint, ms};
use crate::Store;
use crate::error::{Error, Result};
use chrono::{DateTime, Utc};
use engine::{EndpointInput, EndpointPatch, Transport, WebhookEndpoint};
use entities::{outbox, webhook_attempt, webhook_endpoint, webhook_message};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction,
    DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait,
};

impl Store {
    /// Creates an endpoint signing with `secret`; it receives the rewards issued from now on.
    pub async fn create_webhook_endpoint(
        &self,
        input: &EndpointInput,
        secret: &str,
    ) -> Result<WebhookEndpoint> {
        let txn = self.begin_write().await?;
        let row = Self::insert_endpoint(&txn, input, Transport::Http, secret).await?;
        txn.commit().await?;
        endpoint(row)
    }

    /// Inserts an endpoint that receives the rewards issued from now on: those of outbox rows
    /// after the last one there is.
    async fn insert_endpoint(
        txn: &DatabaseTransaction,
        input: &EndpointInput,
        transport: Transport,
        secret: &str,
    ) -> Result<webhook_endpoint::Model> {
        let now = Utc::now();
        let last: Option<i64> = outbox::Entity::find()
            .select_only()
            .column_as(outbox::Column::Id.max(), "last")
            .into_tuple()
            .one(txn)
            .await?
            .flatten();
        Ok(webhook_endpoint::ActiveModel {
            url: Set(input.url.clone()),
            transport: Set(transport.as_str().to_owned()),
            description: Set(input.description.clone()),
            campaigns: Set(serde_json::to_string(&input.campaigns)?),
            kinds: Set(serde_json::to_string(&input.kinds)?),
            secret: Set(secret.to_owned()),
            previous_secret: Set(None),
            previous_secret_until_ms: Set(None),
            enabled: Set(true),
            disabled_reason: Set(None),
            from_outbox_id: Set(last.unwrap_or(0) + 1),
            created_at: Set(now),
            updated_at: Set(now),
            ..Default::default()
        }
        .insert(txn)
        .await?)
    }

    /// Keeps the NATS reward stream's endpoint in step with this node's `nats_url`: with
    /// `Some(subject)` it exists, publishes to `subject`, and is enabled again if it was only
    /// disabled for [`REWARD_STREAM_OFF`] (an operator's disabling stays); with `None` an
    /// enabled one is disabled for [`REWARD_STREAM_OFF`], so no message waits for a
    /// publisher that is not there. Answers the endpoint, if there is one.
    pub async fn set_reward_stream(
        &self,
        subject: Option<&str>,
    ) -> Result<Option<WebhookEndpoint>> {
        let txn = self.begin_write().await?;
        if txn.get_database_backend() == DbBackend::Postgres {
            // Nodes starting together create one stream endpoint, not one each.
            txn.execute_unprepared(
                "SELECT pg_advisory_xact_lock(hashtext('offerflow_reward_stream'))",
            )
            .await?;
        }
        let existing = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Transport.eq(Transport::Nats.as_str()))
            .order_by_asc(webhook_endpoint::Column::Id)
            .one(&txn)
            .await?;
        let row = match (existing, subject) {
            (None, None) => None,
            (None, Some(subject)) => {
                let input = EndpointInput {
                    url: format!("nats:{subject}"),
                    description: "The NATS reward stream (the nats_url setting)".to_owned(),
                    campaigns: Vec::new(),
                    kinds: Vec::new(),
                };
                Some(Self::insert_endpoint(&txn, &input, Transport::Nats, "").await?)
            }
            (Some(row), subject) => {
                let off = row.disabled_reason.as_deref() == Some(REWARD_STREAM_OFF);
                let url = subject.map(|s| format!("nats:{s}"));
                let (enabled, reason) = match subject {
                    Some(_) if off => (true, None),
                    None if row.enabled => (false, Some(REWARD_STREAM_OFF.to_owned())),
                    _ => (row.enabled, row.disabled_reason.clone()),
                };
                if enabled == row.enabled && url.as_ref().is_none_or(|u| *u == row.url) {
                    Some(row)
                } else {
                    let mut active: webhook_endpoint::ActiveModel = row.into();
                    if let Some(url) = url {
                        active.url = Set(url);
                    }
                    active.enabled = Set(enabled);
                    active.disabled_reason = Set(reason);
                    active.updated_at = Set(Utc::now());
                    Some(active.update(&txn).await?)
                }
            }
        };
        txn.commit().await?;
        row.map(endpoint).transpose()
    }

    /// Endpoint `id`'s row, refused if it is the NATS reward stream, which follows the
    /// `nats_url` setting and is not changed over the API.
    async fn api_endpoint_row(
        &self,
        db: &impl ConnectionTrait,
        id: i64,
    ) -> Result<webhook_endpoint::Model> {
        let row = self.endpoint_row(db, id).await?;
        if row.transport == Transport::Nats.as_str() {
            return Err(Error::conflict(format!(
                "webhook endpoint {id} is the NATS reward stream: it follows the nats_url setting and cannot be changed, rotated or deleted (it can be disabled)"
            )));
        }
        Ok(row)
    }

    /// Every endpoint, oldest first.
    pub async fn webhook_endpoints(&self) -> Result<Vec<WebhookEndpoint>> {
        webhook_endpoint::Entity::find()
            .order_by_asc(webhook_endpoint::Column::Id)
            .all(&self.db)
            .await?
            .into_iter()
            .map(endpoint)
            .collect()
    }

    /// Endpoint `id`, if there is one.
    pub async fn webhook_endpoint(&self, id: i64) -> Result<Option<WebhookEndpoint>> {
        webhook_endpoint::Entity::find_by_id(id)
            .one(&self.db)
            .await?
            .map(endpoint)
            .transpose()
    }

    /// Changes what `patch` gives of endpoint `id`.
    pub async fn update_webhook_endpoint(
        &self,
        id: i64,
        patch: &EndpointPatch,
    ) -> Result<WebhookEndpoint> {
        let row = self.api_endpoint_row(&self.db, id).await?;
        let mut active: webhook_endpoint::ActiveModel = row.into();
        if let Some(url) = &patch.url {
            active.url = Set(url.clone());
        }
        if let Some(description) = &patch.description {
            active.description = Set(description.clone());
        }
        if let Some(campaigns) = &patch.campaigns {
            active.campaigns = Set(serde_json::to_string(campaigns)?);
        }
        if let Some(kinds) = &patch.kinds {
            active.kinds = Set(serde_json::to_string(kinds)?);
        }
        active.updated_at = Set(Utc::now());
        endpoint(active.update(&self.db).await?)
    }

    /// Enables endpoint `id`, or disables it for `reason`. A disabled endpoint is queued no
    /// new messages and its pending ones wait until it is enabled again.
    pub async fn set_webhook_endpoint_enabled(
        &self,
        id: i64,
        disabled_reason: Option<&str>,
    ) -> Result<WebhookEndpoint> {
        let row = self.endpoint_row(&self.db, id).await?;
        let mut active: webhook_endpoint::ActiveModel = row.into();
        active.enabled = Set(disabled_reason.is_none());
        active.disabled_reason = Set(disabled_reason.map(str::to_owned));
        active.updated_at = Set(Utc::now());
        endpoint(active.update(&self.db).await?)
    }

    /// Replaces endpoint `id`'s secret with `secret`; the old one signs too (a second
    /// signature) until `previous_until`.
    pub async fn rotate_webhook_secret(
        &self,
        id: i64,
        secret: &str,
        previous_until: DateTime<Utc>,
    ) -> Result<WebhookEndpoint> {
        let txn = self.begin_write().await?;
        let row = self.api_endpoint_row(&txn, id).await?;
        let previous = row.secret.clone();
        let mut active: webhook_endpoint::ActiveModel = row.into();
        active.secret = Set(secret.to_owned());
        active.previous_secret = Set(Some(previous));
        active.previous_secret_until_ms = Set(Some(ms(previous_until)));
        active.updated_at = Set(Utc::now());
        let row = active.update(&txn).await?;
        txn.commit().await?;
        endpoint(row)
    }

    /// Deletes endpoint `id` with its messages (pending ones are dropped) and their attempts.
    pub async fn delete_webhook_endpoint(&self, id: i64) -> Result<WebhookEndpoint> {
        let txn = self.begin_write().await?;
        let row = self.api_endpoint_row(&txn, id).await?;
        let messages = webhook_message::Entity::find()
            .select_only()
            .column(webhook_message::Column::Id)
            .filter(webhook_message::Column::EndpointId.eq(id));
        webhook_attempt::Entity::delete_many()
            .filter(webhook_attempt::Column::MessageId.in_subquery(messages.into_query()))
            .exec(&txn)
            .await?;
        webhook_message::Entity::delete_many()
            .filter(webhook_message::Column::EndpointId.eq(id))
            .exec(&txn)
            .await?;
        webhook_endpoint::Entity::delete_by_id(id)
            .exec(&txn)
            .await?;
        txn.commit().await?;
        endpoint(row)
    }
}
