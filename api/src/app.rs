//! The running service: the store, the batching pipeline in front of it, the configuration,
//! the feed of committed events that subscriptions read, and the metrics registry that it,
//! the relay and the workers report into ([`crate::metrics`]). GraphQL and HTTP handlers
//! share one [`App`].

use crate::auth::{Keys, NewKey, Scope, Tokens};
use crate::config::Config;
use crate::error::{ApiError, Result};
use crate::limits::RateLimiter;
use crate::metrics::Metrics;
use chrono::{DateTime, Utc};
use engine::{EventResult, Status};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;
use store::{BatchReport, Pipeline, PipelineConfig, Store};
use tokio::sync::broadcast;

/// How many committed events the update feed holds for slow subscribers before they skip.
const FEED_CAPACITY: usize = 4_096;

/// An event that committed, on this node or another: whose it was, when it happened (offers
/// in its update are shown as of then), and what it did.
pub type Committed = store::CommitNotice;

/// Something running beside the server that the server reports on and stops first: an event
/// source. Its families join `/metrics`, its readiness `/readyz`, and it is stopped (finishing
/// its work in flight) before the pipeline.
pub trait Worker: Send + Sync + std::fmt::Debug {
    /// Registers its metric families in the node's registry (once, when it is added; their
    /// names must not be taken already).
    fn register_metrics(&self, registry: &mut prometheus_client::registry::Registry);
    /// `Ok(())`, or why it is not ready.
    fn readiness(&self) -> std::result::Result<(), String>;
    /// Stops it, finishing what it has in flight.
    fn stop(&self) -> futures_util::future::BoxFuture<'_, ()>;
}

/// The service shared by every handler.
#[derive(Debug, Clone)]
pub struct App {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    store: Store,
    pipeline: Pipeline,
    config: Config,
    feed: broadcast::Sender<Arc<Committed>>,
    keys: Keys,
    tokens: Tokens,
    metrics: Arc<Metrics>,
    limiter: RateLimiter,
    /// This process's id among the nodes sharing the database.
    node: String,
    workers: std::sync::Mutex<Vec<Arc<dyn Worker>>>,
    relay: delivery::Relay,
}

impl App {
    /// Connects to the configured database (migrating it) and starts the pipeline.
    pub async fn start(config: Config) -> Result<App> {
        let store = Store::connect(&config.database_url).await?;
        App::with_store(store, config).await
    }

    /// The service over a store already connected.
    pub async fn with_store(store: Store, config: Config) -> Result<App> {
        let metrics = Arc::new(Metrics::default());
        metrics.register(|registry| {
            let caches = crate::metrics::CacheRequests(store.clone());
            let help = "Cache lookups, by cache and result.";
            crate::metrics::register(registry, "offerflow_cache_requests_total", help, caches);
        });
        let stream = reward_stream(&store, &config).await?;
        let relay = start_relay(&store, &config, &metrics, stream)?;
        let observed = Arc::clone(&metrics);
        let wake = relay.waker();
        let observer: store::BatchObserver = Arc::new(move |b: BatchReport| {
            if b.committed {
                wake.notify_one();
                observed.observe("offerflow_batch_events", &[], b.events as f64);
                observed.observe("offerflow_batch_seconds", &[], b.elapsed.as_secs_f64());
            } else {
                observed.add("offerflow_batches_failed_total", &[], 1);
            }
        });
        let pipeline = Pipeline::start_observed(
            store.clone(),
            PipelineConfig {
                max_batch: config.max_batch,
                max_wait: Duration::from_millis(config.batch_wait_ms),
                queue: config.queue,
            },
            Some(observer),
        );
        let (feed, _) = broadcast::channel(FEED_CAPACITY);
        let tokens = Tokens::load(&store).await?;
        let node = node_id();
        // Other nodes' commits, for this node's subscribers (their offers views are dropped as
        // they are heard).
        if let Some(mut heard) = store.listen_commits(node.clone()).await? {
            let feed = feed.clone();
            tokio::spawn(async move {
                while let Some(notices) = heard.recv().await {
                    for notice in notices {
                        let _ = feed.send(Arc::new(notice));
                    }
                }
            });
        }
        Ok(App {
            inner: Arc::new(Inner {
                node,
                workers: std::sync::Mutex::new(Vec::new()),
                keys: Keys::new(store.clone()),
                tokens,
                limiter: RateLimiter::new(config.rate_limit_per_second, config.rate_limit_burst),
                metrics,
                store,
                pipeline,
                config,
                feed,
                relay,
            }),
        })
    }

    /// On a database with no admin key (a fresh install), creates one, to be shown once.
    pub async fn bootstrap_admin(&self) -> Result<Option<NewKey>> {
        if !self.inner.config.auth || self.inner.keys.has_admin().await? {
            return Ok(None);
        }
        Ok(Some(
            self.inner
                .keys
                .create("bootstrap-admin", &[Scope::Admin])
                .await?,
        ))
    }

    /// API keys.
    pub fn keys(&self) -> &Keys {
        &self.inner.keys
    }

    /// Customer tokens.
    pub fn tokens(&self) -> &Tokens {
        &self.inner.tokens
    }

    /// Metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The rate limiter.
    pub fn limiter(&self) -> &RateLimiter {
        &self.inner.limiter
    }

    /// The store.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The pipeline, for its counters.
    pub fn pipeline(&self) -> &Pipeline {
        &self.inner.pipeline
    }

    /// Committed events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Committed>> {
        self.inner.feed.subscribe()
    }

    /// How many readers of committed events (running `offerUpdates` subscriptions) there are.
    pub fn feed_readers(&self) -> usize {
        self.inner.feed.receiver_count()
    }

    /// Processes events (their JSON forms) through the batching pipeline and answers each
    /// one's result once its batch has committed. At most `max_events_per_request` at once.
    pub async fn ingest(&self, events: Vec<Value>) -> Result<Vec<EventResult>> {
        let limit = self.inner.config.max_events_per_request;
        if events.len() > limit {
            return Err(ApiError::LimitExceeded(format!(
                "events: {} events in one request; the limit is {limit} (max_events_per_request)",
                events.len()
            )));
        }
        let whose = |e: &Value| {
            let customer_id = e.get("customer_id")?.as_str()?.to_owned();
            let at = DateTime::parse_from_rfc3339(e.get("occurred_at")?.as_str()?).ok()?;
            Some((customer_id, at.with_timezone(&Utc)))
        };
        let customers: Vec<Option<(String, DateTime<Utc>)>> = events.iter().map(whose).collect();
        let results = self.inner.pipeline.submit(events).await?;
        self.count(&results);
        let shared = self.inner.store.shares_commits();
        if !shared && self.inner.feed.receiver_count() == 0 {
            return Ok(results);
        }
        let mut notices = Vec::new();
        for (whose, result) in customers.into_iter().zip(&results) {
            if let (Some((customer_id, occurred_at)), Status::Processed) = (whose, result.status) {
                let committed = Committed {
                    customer_id,
                    occurred_at,
                    result: result.clone(),
                };
                // Nobody listening is not an error.
                let _ = self.inner.feed.send(Arc::new(committed.clone()));
                if shared && moved(result) {
                    notices.push(committed);
                }
            }
        }
        if !notices.is_empty() {
            // The other nodes hear of it within a moment; ingestion does not wait for that.
            let (store, node) = (self.inner.store.clone(), self.inner.node.clone());
            tokio::spawn(async move {
                if let Err(e) = store.announce(&node, notices).await {
                    tracing::warn!(error = %e, "cannot announce commits to the other nodes");
                }
            });
        }
        Ok(results)
    }

    /// This process's id among the nodes sharing the database.
    pub fn node(&self) -> &str {
        &self.inner.node
    }

    /// Adds a worker: reported in `/metrics` and `/readyz`, stopped before the pipeline.
    pub fn add_worker(&self, worker: Arc<dyn Worker>) {
        self.inner
            .metrics
            .register(|registry| worker.register_metrics(registry));
        if let Ok(mut workers) = self.inner.workers.lock() {
            workers.push(worker);
        }
    }

    /// The workers added.
    pub fn workers(&self) -> Vec<Arc<dyn Worker>> {
        self.inner
            .workers
            .lock()
            .map(|w| w.clone())
            .unwrap_or_default()
    }

    fn count(&self, results: &[EventResult]) {
        let m = &self.inner.metrics;
        let mut by_status = [0u64; 4];
        for r in results {
            let i = match r.status {
                Status::Processed => 0,
                Status::Duplicate => 1,
                Status::Conflict => 2,
                Status::Rejected => 3,
            };
            by_status[i] += 1;
            if r.status != Status::Processed {
                continue;
            }
            for reward in &r.rewards {
                m.add(
                    "offerflow_rewards_issued_total",
                    &[("campaign", &reward.campaign)],
                    1,
                );
            }
            for o in &r.outcomes {
                let n = o.errors.len() as u64;
                m.add(
                    "offerflow_evaluation_errors_total",
                    &[("campaign", &o.campaign)],
                    n,
                );
            }
        }
        for (status, n) in ["processed", "duplicate", "conflict", "rejected"]
            .iter()
            .zip(by_status)
        {
            m.add("offerflow_events_total", &[("status", status)], n);
        }
    }

    /// Stops the workers (finishing their work in flight), then finishes every event already
    /// submitted and stops the pipeline, then the relay (its attempts in flight finish).
    pub async fn shutdown(&self) {
        for worker in self.workers() {
            worker.stop().await;
        }
        self.inner.pipeline.shutdown().await;
        self.inner.relay.shutdown().await;
    }
}

/// Whether an event moved anything a subscriber sees: progress, a completion, a reward.
fn moved(result: &EventResult) -> bool {
    !result.rewards.is_empty()
        || result.outcomes.iter().any(|o| {
            matches!(
                o.outcome,
                engine::Outcome::Progressed | engine::Outcome::Completed { .. }
            )
        })
}

/// A random id for this process: 16 hex digits.
fn node_id() -> String {
    format!("{:016x}", rand::random::<u64>())
}

/// With `nats_url` set, the NATS reward stream (connected, its endpoint in the store);
/// without, its endpoint, if an earlier start made one, disabled.
async fn reward_stream(
    store: &Store,
    config: &Config,
) -> Result<Option<Arc<delivery::RewardStream>>> {
    if config.nats_url.is_empty() {
        store.set_reward_stream(None).await?;
        return Ok(None);
    }
    let stream = delivery::RewardStream::connect(delivery::StreamConfig {
        url: config.nats_url.clone(),
        stream: config.nats_rewards_stream.clone(),
        subject: config.nats_rewards_subject.clone(),
    })
    .await
    .map_err(|e| ApiError::Config(e.to_string()))?;
    store
        .set_reward_stream(Some(&config.nats_rewards_subject))
        .await?;
    Ok(Some(Arc::new(stream)))
}

/// Starts the webhook relay, its attempts counted in `metrics`.
fn start_relay(
    store: &Store,
    config: &Config,
    metrics: &Arc<Metrics>,
    stream: Option<Arc<delivery::RewardStream>>,
) -> Result<delivery::Relay> {
    let observed = Arc::clone(metrics);
    let observer: delivery::AttemptObserver = Arc::new(move |a: delivery::AttemptReport| {
        observed.add(
            "offerflow_webhook_attempts_total",
            &[("transport", a.transport), ("outcome", a.outcome)],
            1,
        );
        observed.observe(
            "offerflow_webhook_attempt_seconds",
            &[],
            a.duration.as_secs_f64(),
        );
        if let Some(latency) = a.latency {
            observed.observe(
                "offerflow_webhook_delivery_seconds",
                &[],
                latency.as_secs_f64(),
            );
        }
    });
    delivery::Relay::start(store.clone(), config.relay()?, Some(observer), stream)
        .map_err(|e| ApiError::Config(e.to_string()))
}
