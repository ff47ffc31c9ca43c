//! The NATS reward stream (DESIGN §9): with `nats_url` set, every reward is also published to
//! a JetStream subject (`offerflow.rewards` of the stream `OFFERFLOW_REWARDS` by default,
//! created if missing), with the webhook body and `Nats-Msg-Id` = the webhook id.
//!
//! A publish counts as sent only once JetStream acked it (the message is then stored in the
//! stream). Publishes ride the relay's messages, so they are leased, retried on the schedule
//! and logged like a webhook's; a publish repeated after a crash or a lost ack carries the
//! same `Nats-Msg-Id`, and JetStream drops it as a duplicate within the stream's duplicate
//! window (two minutes unless the stream says otherwise).

use async_nats::jetstream::{self, stream::StorageType};
use std::time::Duration;
use tokio::sync::OnceCell;

/// Where rewards are published.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamConfig {
    /// The NATS server (`nats_url`).
    pub url: String,
    /// The JetStream stream, created if missing (`nats_rewards_stream`).
    pub stream: String,
    /// The subject rewards are published to (`nats_rewards_subject`).
    pub subject: String,
}

/// A connection to NATS that publishes rewards.
#[derive(Debug)]
pub struct RewardStream {
    client: async_nats::Client,
    js: jetstream::Context,
    config: StreamConfig,
    /// Set once the stream is known to exist.
    stream_ready: OnceCell<()>,
}

impl RewardStream {
    /// Connects to NATS. A server that is down does not stop the node: the client keeps
    /// connecting, and publishes fail (and are retried) until it is up.
    pub async fn connect(config: StreamConfig) -> crate::Result<RewardStream> {
        let client = async_nats::ConnectOptions::new()
            .retry_on_initial_connect()
            .connect(&config.url)
            .await
            .map_err(|e| crate::Error::Client(format!("NATS at {}: {e}", config.url)))?;
        Ok(RewardStream {
            js: jetstream::new(client.clone()),
            client,
            config,
            stream_ready: OnceCell::new(),
        })
    }

    /// Where it publishes.
    pub fn config(&self) -> &StreamConfig {
        &self.config
    }

    /// Whether the connection to NATS is up, or why not.
    pub fn readiness(&self) -> Result<(), String> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(format!("NATS is not connected ({state:?})")),
        }
    }

    /// Publishes `body` with `Nats-Msg-Id` = `webhook_id` and waits, at most `timeout`, for
    /// JetStream's ack; answers why it was not acked.
    pub async fn publish(
        &self,
        webhook_id: &str,
        body: &str,
        timeout: Duration,
    ) -> Result<(), String> {
        let publish = async {
            self.stream_ready
                .get_or_try_init(|| self.create_stream())
                .await?;
            let mut headers = async_nats::HeaderMap::new();
            headers.insert("Nats-Msg-Id", webhook_id);
            let ack = self
                .js
                .publish_with_headers(self.config.subject.clone(), headers, body.to_owned().into())
                .await
                .map_err(|e| format!("cannot publish to {}: {e}", self.config.subject))?;
            ack.await
                .map(drop)
                .map_err(|e| format!("JetStream did not ack: {e}"))
        };
        tokio::time::timeout(timeout, publish)
            .await
            .unwrap_or_else(|_| Err(format!("timeout: no ack within {timeout:?}")))
    }

    async fn create_stream(&self) -> Result<(), String> {
        self.js
            .get_or_create_stream(jetstream::stream::Config {
                name: self.config.stream.clone(),
                subjects: vec![self.config.subject.clone()],
                storage: StorageType::File,
                ..Default::default()
            })
            .await
            .map(drop)
            .map_err(|e| format!("cannot open the stream {}: {e}", self.config.stream))
    }
}
