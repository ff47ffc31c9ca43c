//! Offerflow's event sources: events consumed from NATS JetStream (DESIGN §8) by any number of
//! nodes sharing one database, each customer's events applied in the order the stream holds
//! them.
//!
//! **How several nodes share one stream, in order per customer.** The stream is divided into
//! [`NatsConfig::partitions`] partitions by customer (a stable hash of `customer_id`; nothing
//! about the event is needed in its subject). Each partition has a durable pull consumer of its
//! own over the whole stream, `{nats_consumer}-{p}`, and one node at a time consumes it: the
//! node holding the partition's lease in the database (see `store`'s `claim_partitions`). Every
//! node renews its leases, gives back those past its fair share of the live nodes, and takes
//! free or expired ones, so a node that dies has its partitions taken over once their leases
//! lapse, within `nats_ack_wait_ms`. A partition's holder reads every message of the stream,
//! skips those of other partitions, and applies its own in stream order, one batch at a time
//! through the same pipeline as HTTP ingestion. The consumers ack all before the message
//! acked (`AckPolicy::All`): once a batch's own events committed, one ack of its last message
//! acks the batch, skipped messages included, so a crash loses nothing, a redelivery is a
//! `duplicate`, and the ack traffic is one per batch rather than one per message and
//! partition.
//!
//! A node that takes a partition over first moves its consumer back to the first message not
//! yet acknowledged (it recreates the consumer at the ack floor): the messages the previous
//! holder had in flight are then read again, in stream order, before any later one, so a
//! customer's events are never applied out of order, even across a takeover (JetStream 2.9
//! has no pinned consumers to do this for us). Bad messages are acked, counted by reason,
//! logged and republished to `offerflow.rejected` by the holder of partition 0 (or of the
//! customer's partition, when the message names a customer).
//!
//! What a node's source did is counted in `prometheus-client` metrics, which the server
//! registers in its own registry ([`NatsSource::register_metrics`]) to expose at `/metrics`.

use async_nats::jetstream::consumer::{AckPolicy, DeliverPolicy, PullConsumer, pull};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::stream::{Config as StreamConfig, StorageType, Stream};
use async_nats::jetstream::{self, Context, Message};
use async_nats::{Client, HeaderMap};
use campaigns::EventError;
use engine::{EventResult, Status};
use futures_util::StreamExt;
use futures_util::future::BoxFuture;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;
use std::time::Duration;
use store::Store;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// The subject refused messages are republished on (core NATS).
pub const REJECTED_SUBJECT: &str = "offerflow.rejected";
/// The header that carries why a message was refused.
pub const REJECTED_REASON_HEADER: &str = "Offerflow-Rejected-Reason";

/// Why the source could not start.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The NATS server could not be reached.
    #[error("cannot connect to NATS at {url}: {reason}")]
    Connect {
        /// The server's URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// JetStream refused to create or read the stream.
    #[error("cannot open the JetStream stream {stream}: {reason}")]
    Stream {
        /// The stream's name.
        stream: String,
        /// Why.
        reason: String,
    },
}

/// How the node consumes the stream (the `nats_*` settings).
#[derive(Debug, Clone)]
pub struct NatsConfig {
    /// The NATS server (`nats://127.0.0.1:4222`).
    pub url: String,
    /// The stream's name, created if missing (file storage).
    pub stream: String,
    /// The subjects the stream holds (`offerflow.events.>`).
    pub subject: String,
    /// The consumers' name prefix: partition `p` is consumed by `{consumer}-{p}`.
    pub consumer: String,
    /// How long JetStream waits for an ack before it redelivers; also how long a partition's
    /// lease lasts unrenewed.
    pub ack_wait: Duration,
    /// Most events applied in one batch; a partition's holder reads up to `batch` times
    /// `partitions` stream messages at once (about `batch` of them its own).
    pub batch: usize,
    /// How many partitions the stream is divided into; the most nodes that can share it.
    pub partitions: u32,
}

/// Applies events (their JSON forms) and answers each one's result after its batch committed:
/// the server's own ingestion, given by whoever starts the source.
pub type Ingest =
    Arc<dyn Fn(Vec<Value>) -> BoxFuture<'static, Result<Vec<EventResult>, String>> + Send + Sync>;

/// What the source did, for `/metrics`: `prometheus-client` metrics, registered in the node's
/// registry by [`NatsSource::register_metrics`].
#[derive(Debug, Default)]
struct Stats {
    /// Messages applied (processed or duplicate), by this node.
    applied: Counter,
    /// Messages delivered more than once.
    redelivered: Counter,
    /// Messages refused, by reason.
    rejected: Family<[(&'static str, &'static str); 1], Counter>,
    /// Messages not yet delivered or not yet acknowledged, over the partitions this node holds.
    pending: Gauge<u64, AtomicU64>,
    /// Partitions this node holds.
    partitions: Gauge<u64, AtomicU64>,
}

impl Stats {
    fn reject(&self, reason: &'static str) {
        self.rejected.get_or_create(&[("reason", reason)]).inc();
    }

    /// Registers every family but `offerflow_nats_connected` (which needs the client).
    fn register(&self, registry: &mut Registry) {
        registry.register(
            "offerflow_nats_applied",
            "NATS messages applied by this node (processed or duplicate)",
            self.applied.clone(),
        );
        registry.register(
            "offerflow_nats_redelivered",
            "NATS messages this node received more than once",
            self.redelivered.clone(),
        );
        registry.register(
            "offerflow_nats_pending",
            "Messages not yet delivered or acknowledged on the partitions this node holds (consumer lag)",
            self.pending.clone(),
        );
        registry.register(
            "offerflow_nats_partitions",
            "Stream partitions this node consumes",
            self.partitions.clone(),
        );
        registry.register(
            "offerflow_nats_rejected",
            "NATS messages refused, by reason",
            self.rejected.clone(),
        );
    }
}

/// `offerflow_nats_connected`: 1 while the connection to NATS is up, read as it is encoded.
#[derive(Debug)]
struct Connected(Client);

impl EncodeMetric for Connected {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let up = self.0.connection_state() == async_nats::connection::State::Connected;
        encoder.encode_gauge(&u64::from(up))
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Gauge
    }
}

/// A running source.
#[derive(Debug)]
pub struct NatsSource {
    stats: Arc<Stats>,
    stop: watch::Sender<bool>,
    task: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    client: Client,
}

impl NatsSource {
    /// Connects, creates the stream if it is missing, and starts consuming on this node as
    /// `node` (an id unique among the nodes).
    pub async fn start(
        config: NatsConfig,
        store: Store,
        ingest: Ingest,
        node: String,
    ) -> Result<NatsSource, Error> {
        let client = async_nats::ConnectOptions::new()
            .name(format!("offerflow {node}"))
            .retry_on_initial_connect()
            .connect(&config.url)
            .await
            .map_err(|e| Error::Connect {
                url: config.url.clone(),
                reason: e.to_string(),
            })?;
        let js = jetstream::new(client.clone());
        let stream = open_stream(&js, &config).await?;
        let stats = Arc::new(Stats::default());
        let (stop, stopped) = watch::channel(false);
        let shared = Arc::new(Shared {
            config,
            store,
            ingest,
            node,
            client: client.clone(),
            stream,
            stats: Arc::clone(&stats),
        });
        let task = tokio::spawn(coordinate(shared, stopped));
        Ok(NatsSource {
            stats,
            stop,
            task: tokio::sync::Mutex::new(Some(task)),
            client,
        })
    }

    /// Registers the source's families in `registry` (the library adds counters' `_total`):
    /// `offerflow_nats_applied_total`, `offerflow_nats_redelivered_total`,
    /// `offerflow_nats_rejected_total{reason}`, and the gauges `offerflow_nats_pending`,
    /// `offerflow_nats_partitions` and `offerflow_nats_connected`.
    pub fn register_metrics(&self, registry: &mut Registry) {
        self.stats.register(registry);
        registry.register(
            "offerflow_nats_connected",
            "1 while the connection to NATS is up",
            Connected(self.client.clone()),
        );
    }

    /// `Ok(())` while NATS is reachable, or why not.
    pub fn readiness(&self) -> Result<(), String> {
        match self.client.connection_state() {
            async_nats::connection::State::Connected => Ok(()),
            state => Err(format!("NATS is not connected ({state:?})")),
        }
    }

    /// Stops taking messages, finishes and acks the batches in flight, and gives the
    /// partitions back for the other nodes to take at once.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.lock().await.take() {
            let _ = task.await;
        }
        let _ = self.client.flush().await;
    }
}

/// What every task of a source shares.
struct Shared {
    config: NatsConfig,
    store: Store,
    ingest: Ingest,
    node: String,
    client: Client,
    stream: Stream,
    stats: Arc<Stats>,
}

async fn open_stream(js: &Context, config: &NatsConfig) -> Result<Stream, Error> {
    js.get_or_create_stream(StreamConfig {
        name: config.stream.clone(),
        subjects: vec![config.subject.clone()],
        storage: StorageType::File,
        ..Default::default()
    })
    .await
    .map_err(|e| Error::Stream {
        stream: config.stream.clone(),
        reason: e.to_string(),
    })
}

/// The partition of `customer_id`: FNV-1a, the same on every node and every version.
pub fn partition_of(customer_id: &str, partitions: u32) -> u32 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in customer_id.bytes() {
        hash ^= u64::from(b);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    (hash % u64::from(partitions.max(1))) as u32
}

/// Keeps this node's share of the partitions, starts and stops their workers, and measures
/// the lag; on stop, lets the workers finish and gives the partitions back.
async fn coordinate(shared: Arc<Shared>, mut stopped: watch::Receiver<bool>) {
    let ttl = shared.config.ack_wait.mul_f64(0.75);
    let tick = (shared.config.ack_wait / 5).max(Duration::from_millis(100));
    let mut workers: HashMap<u32, (watch::Sender<bool>, JoinHandle<()>)> = HashMap::new();
    loop {
        match claim(&shared, ttl).await {
            Ok(held) => {
                workers.retain(|p, (stop, task)| {
                    let keep = held.contains(p) && !task.is_finished();
                    if !keep {
                        let _ = stop.send(true);
                    }
                    keep
                });
                for p in &held {
                    if !workers.contains_key(p) {
                        let (stop, stopped) = watch::channel(false);
                        let task = tokio::spawn(consume(Arc::clone(&shared), *p, stopped));
                        workers.insert(*p, (stop, task));
                    }
                }
                shared.stats.partitions.set(held.len() as u64);
                measure_lag(&shared, &held).await;
            }
            Err(e) => tracing::warn!(error = %e, "cannot renew the NATS partition leases"),
        }
        tokio::select! {
            _ = stopped.changed() => break,
            () = tokio::time::sleep(tick) => {}
        }
    }
    for (p, (stop, task)) in workers {
        let _ = stop.send(true);
        let _ = task.await;
        if let Err(e) = shared.store.release_partition(&shared.node, p).await {
            tracing::warn!(partition = p, error = %e, "cannot give a NATS partition back");
        }
    }
}

async fn claim(shared: &Shared, ttl: Duration) -> Result<Vec<u32>, store::Error> {
    shared.store.heartbeat(&shared.node, ttl).await?;
    let nodes = shared.store.live_nodes(ttl).await?;
    shared
        .store
        .claim_partitions(&shared.node, shared.config.partitions, nodes, ttl)
        .await
}

async fn measure_lag(shared: &Shared, held: &[u32]) {
    let mut pending = 0u64;
    for p in held {
        let name = consumer_name(&shared.config, *p);
        if let Ok(info) = shared.stream.consumer_info(&name).await {
            pending += info.num_pending + info.num_ack_pending as u64;
        }
    }
    shared.stats.pending.set(pending);
}

fn consumer_name(config: &NatsConfig, p: u32) -> String {
    format!("{}-{p}", config.consumer)
}

/// Partition `p`'s consumer, moved back to its first unacknowledged message (see the module's
/// documentation): what its previous holder had in flight comes first, in stream order.
async fn take_over(shared: &Shared, p: u32) -> Result<PullConsumer, String> {
    let name = consumer_name(&shared.config, p);
    let deliver_policy = match shared.stream.consumer_info(&name).await {
        Ok(info) => {
            let start_sequence = info.ack_floor.stream_sequence + 1;
            shared
                .stream
                .delete_consumer(&name)
                .await
                .map_err(|e| e.to_string())?;
            DeliverPolicy::ByStartSequence { start_sequence }
        }
        Err(_) => DeliverPolicy::All,
    };
    shared
        .stream
        .create_consumer(pull::Config {
            durable_name: Some(name),
            deliver_policy,
            // Acking a message acks every one before it: one ack per batch, once the batch's
            // own events committed, covers the other partitions' messages it skipped.
            ack_policy: AckPolicy::All,
            ack_wait: shared.config.ack_wait,
            // Never given up on: a message waits for the database however long it is down;
            // bad messages are acked, not redelivered.
            max_deliver: -1,
            // What one batch holds, and no more: nothing waits unacked behind a batch.
            max_ack_pending: window(&shared.config) as i64,
            ..Default::default()
        })
        .await
        .map_err(|e| e.to_string())
}

/// How many stream messages a partition's holder reads at once: every consumer reads the
/// whole stream and about one message in `partitions` is its own, so it reads `batch` times
/// `partitions` (at most [`MAX_WINDOW`]) to apply about `batch` events per round, and applies
/// them `batch` at a time.
fn window(config: &NatsConfig) -> usize {
    (config.batch * config.partitions as usize).clamp(config.batch, MAX_WINDOW)
}

/// Most stream messages a partition's holder reads at once.
const MAX_WINDOW: usize = 8_192;

/// Consumes partition `p` until told to stop (or its consumer fails: the coordinator then
/// starts it again).
async fn consume(shared: Arc<Shared>, p: u32, stopped: watch::Receiver<bool>) {
    let consumer = match take_over(&shared, p).await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(partition = p, error = %e, "cannot open the partition's consumer");
            return;
        }
    };
    tracing::info!(partition = p, node = %shared.node, "consuming NATS partition");
    while !*stopped.borrow() {
        let messages = match next_batch(&consumer, window(&shared.config)).await {
            Ok(m) => m,
            Err(e) => {
                tracing::warn!(partition = p, error = %e, "reading the NATS stream failed");
                tokio::time::sleep(Duration::from_millis(500)).await;
                continue;
            }
        };
        if messages.is_empty() {
            continue;
        }
        if !apply(&shared, p, messages, &stopped).await {
            return;
        }
    }
}

/// Up to `max` messages: those already waiting; when none is, the first to arrive within a
/// second and those waiting behind it.
async fn next_batch(consumer: &PullConsumer, max: usize) -> Result<Vec<Message>, String> {
    let mut out = waiting(consumer, max).await?;
    if out.is_empty() {
        let mut first = consumer
            .batch()
            .max_messages(1)
            .expires(Duration::from_secs(1))
            .messages()
            .await
            .map_err(|e| e.to_string())?;
        while let Some(m) = first.next().await {
            out.push(m.map_err(|e| e.to_string())?);
        }
        if !out.is_empty() && max > 1 {
            out.extend(waiting(consumer, max - 1).await?);
        }
    }
    Ok(out)
}

/// Up to `max` messages already waiting, without waiting for more.
async fn waiting(consumer: &PullConsumer, max: usize) -> Result<Vec<Message>, String> {
    let mut out = Vec::new();
    let mut ready = consumer
        .fetch()
        .max_messages(max)
        .messages()
        .await
        .map_err(|e| e.to_string())?;
    while let Some(m) = ready.next().await {
        out.push(m.map_err(|e| e.to_string())?);
    }
    Ok(out)
}

/// A message, read.
enum Read {
    /// An event object naming its customer.
    Event(Value, String),
    /// Not an event: the reason's label, why (the field and the reason), and the id if one
    /// is readable.
    Bad(&'static str, EventError, Option<String>),
}

/// The customer a message names, read without the rest of the event: every partition's holder
/// reads every message, so the other partitions' messages are skipped at this cost only.
/// `None` when there is no valid `customer_id` to read (the message is then read whole).
fn customer_hint(payload: &[u8]) -> Option<std::borrow::Cow<'_, str>> {
    #[derive(serde::Deserialize)]
    struct Head<'a> {
        #[serde(borrow, default)]
        customer_id: Option<std::borrow::Cow<'a, str>>,
    }
    let head: Head<'_> = serde_json::from_slice(payload).ok()?;
    head.customer_id
        .filter(|c| campaigns::check_id("customer_id", c).is_ok())
}

fn read(payload: &[u8]) -> Read {
    let value: Value = match serde_json::from_slice(payload) {
        Ok(v) => v,
        Err(e) => {
            let why = EventError::new("", format!("the message is not JSON: {e}"));
            return Read::Bad("not_json", why, None);
        }
    };
    let Some(object) = value.as_object() else {
        let why = EventError::new("", "the message is not a JSON object");
        return Read::Bad("not_an_object", why, None);
    };
    let id = object
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| campaigns::check_id("id", id).is_ok())
        .map(str::to_owned);
    match object.get("customer_id").and_then(Value::as_str) {
        Some(c) if campaigns::check_id("customer_id", c).is_ok() => {
            let customer = c.to_owned();
            Read::Event(value, customer)
        }
        _ => Read::Bad(
            "invalid",
            EventError::new("customer_id", "a string of 1 to 128 characters is required"),
            id,
        ),
    }
}

/// Applies one batch of partition `p`: skips what belongs to other partitions, applies the
/// rest in order, and once its events committed acks the batch's last message, which (the
/// consumer acks all before it) acks the whole batch. Returns false when the worker must stop
/// (its lease is gone) with the batch unacked, for the next holder.
async fn apply(
    shared: &Shared,
    p: u32,
    messages: Vec<Message>,
    stopped: &watch::Receiver<bool>,
) -> bool {
    let partitions = shared.config.partitions;
    let mut own: Vec<(Message, Value)> = Vec::new();
    let mut last = None;
    for m in messages {
        if m.info().is_ok_and(|i| i.delivered > 1) {
            shared.stats.redelivered.inc();
        }
        let foreign = customer_hint(&m.payload).is_some_and(|c| partition_of(&c, partitions) != p);
        if foreign {
            last = Some(m);
            continue;
        }
        match read(&m.payload) {
            Read::Event(value, customer) if partition_of(&customer, partitions) == p => {
                own.push((m.clone(), value));
            }
            Read::Bad(label, why, id) if p == 0 => {
                reject(shared, &m, label, why, id).await;
            }
            _ => {}
        }
        last = Some(m);
    }
    let Some(last) = last else { return true };
    if own.is_empty() {
        ack(&last).await;
        return true;
    }
    for chunk in own.chunks(shared.config.batch) {
        if !apply_own(shared, p, chunk, stopped).await {
            return false;
        }
    }
    ack(&last).await;
    true
}

/// Applies `chunk`, this partition's events in stream order, retrying until its batch
/// commits; reports what was refused. Returns false when the worker must stop with the chunk
/// unapplied (its lease is gone).
async fn apply_own(
    shared: &Shared,
    p: u32,
    chunk: &[(Message, Value)],
    stopped: &watch::Receiver<bool>,
) -> bool {
    let events: Vec<Value> = chunk.iter().map(|(_, v)| v.clone()).collect();
    let mut wait = Duration::from_millis(100);
    let results = loop {
        match (shared.ingest)(events.clone()).await {
            Ok(results) => break results,
            Err(e) => {
                tracing::warn!(partition = p, error = %e, "applying NATS events failed; trying the same batch again");
                // Keep the batch ours meanwhile; give it up only with the lease.
                for (m, _) in chunk {
                    let _ = m.ack_with(AckKind::Progress).await;
                }
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(5));
                let held = shared.store.holds_partition(&shared.node, p).await;
                if *stopped.borrow() && !matches!(held, Ok(true)) {
                    return false;
                }
            }
        }
    };
    for ((m, _), result) in chunk.iter().zip(&results) {
        match result.status {
            Status::Processed | Status::Duplicate => {
                shared.stats.applied.inc();
            }
            Status::Rejected | Status::Conflict => {
                let (label, reason) = match (&result.status, &result.error) {
                    (Status::Conflict, Some(e)) => ("conflict", e.to_string()),
                    (_, Some(e)) => ("invalid", e.to_string()),
                    (_, None) => ("invalid", "the event was rejected".to_owned()),
                };
                tracing::warn!(partition = p, id = %result.event_id, %reason, "a NATS message was rejected");
                publish_rejection(shared, m, label, &reason).await;
                if let Err(e) = shared.store.record_rejection(result).await {
                    tracing::warn!(error = %e, "cannot record a rejected event");
                }
            }
        }
    }
    true
}

async fn ack(m: &Message) {
    if let Err(e) = m.ack().await {
        // Redelivered later, then a duplicate.
        tracing::debug!(error = %e, "an ack was not sent");
    }
}

/// A message that is not an event: counted, logged, republished, and its rejection recorded
/// when it has an id.
async fn reject(
    shared: &Shared,
    m: &Message,
    label: &'static str,
    why: EventError,
    id: Option<String>,
) {
    let reason = why.to_string();
    tracing::warn!(%reason, subject = %m.subject, "a NATS message is not an event");
    publish_rejection(shared, m, label, &reason).await;
    if let Some(id) = id {
        let result = EventResult::refused(id, Status::Rejected, why);
        if let Err(e) = shared.store.record_rejection(&result).await {
            tracing::warn!(error = %e, "cannot record a rejected event");
        }
    }
}

async fn publish_rejection(shared: &Shared, m: &Message, label: &'static str, reason: &str) {
    shared.stats.reject(label);
    let mut headers = HeaderMap::new();
    // A header value is one line.
    let reason: String = reason
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(1024)
        .collect();
    headers.insert(REJECTED_REASON_HEADER, reason.as_str());
    if let Err(e) = shared
        .client
        .publish_with_headers(REJECTED_SUBJECT, headers, m.payload.clone())
        .await
    {
        tracing::warn!(error = %e, "cannot republish a rejected message");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partitions_are_stable_and_spread() {
        assert_eq!(partition_of("c1", 8), partition_of("c1", 8));
        let mut seen = [0u32; 8];
        for i in 0..8_000 {
            seen[partition_of(&format!("customer-{i}"), 8) as usize] += 1;
        }
        assert!(seen.iter().all(|n| (800..1200).contains(n)), "{seen:?}");
        assert_eq!(partition_of("anything", 1), 0);
    }

    #[test]
    fn figures_keep_their_series_names() {
        let stats = Stats::default();
        stats.applied.inc();
        stats.reject("not_json");
        stats.reject("not_json");
        stats.pending.set(3);
        let mut registry = Registry::default();
        stats.register(&mut registry);
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &registry).unwrap();
        for line in [
            "# TYPE offerflow_nats_applied counter\n",
            "\nofferflow_nats_applied_total 1\n",
            "\nofferflow_nats_redelivered_total 0\n",
            "\nofferflow_nats_rejected_total{reason=\"not_json\"} 2\n",
            "\nofferflow_nats_pending 3\n",
            "\nofferflow_nats_partitions 0\n",
        ] {
            assert!(text.contains(line), "{line:?} in {text}");
        }
        assert!(text.ends_with("\n# EOF\n"), "{text}");
    }

    #[test]
    fn messages_that_are_not_events_say_why() {
        assert!(matches!(read(b"not json"), Read::Bad("not_json", _, None)));
        assert!(matches!(read(b"[1]"), Read::Bad("not_an_object", _, None)));
        assert!(matches!(
            read(br#"{"id": "e1", "customer_id": ""}"#),
            Read::Bad("invalid", _, Some(id)) if id == "e1"
        ));
        assert!(matches!(
            read(br#"{"id": "e1", "customer_id": "c1", "type": "t"}"#),
            Read::Event(_, c) if c == "c1"
        ));
    }

    #[test]
    fn the_customer_hint_reads_only_valid_customer_ids() {
        let hint = |text: &str| customer_hint(text.as_bytes()).map(|c| c.into_owned());
        assert_eq!(
            hint(r#"{"id":"e1","customer_id":"c\u0031","attributes":{"x":[1,{"y":2}]}}"#),
            Some("c1".to_owned())
        );
        // Read whole instead (and refused by partition 0's holder): no hint.
        assert_eq!(hint(r#"{"id":"e1"}"#), None);
        assert_eq!(hint(r#"{"customer_id":7}"#), None);
        assert_eq!(hint(r#"{"customer_id":""}"#), None);
        assert_eq!(
            hint(&format!(r#"{{"customer_id":"{}"}}"#, "x".repeat(129))),
            None
        );
        assert_eq!(hint("[1,2]"), None);
        assert_eq!(hint("not json"), None);
    }
}
