//! The relay: a task in every `offerflow serve` node that turns the outbox into messages and
//! delivers them, outside any batch's transaction.
//!
//! Each turn it dispatches new outbox rows ([`Store::dispatch_outbox`]), then leases due
//! messages ([`Store::claim_webhook_messages`]) and attempts each on a task of its own, at
//! most [`RelayConfig::per_endpoint`] at once per endpoint and [`RelayConfig::max_in_flight`]
//! in all, each bounded by the timeout: a slow or dead endpoint holds back only itself. An
//! endpoint may have a few times `per_endpoint` messages leased, waiting for a slot, so that
//! one claim feeds many attempts; a message whose lease would not outlast its attempt is not
//! attempted but left to expire and be leased again.
//! Finished attempts are recorded together, as many per transaction as finished meanwhile.
//! Ingestion never waits on it; a committed batch only wakes it ([`Relay::wake`]).
//! [`Relay::shutdown`] stops leasing and lets attempts in flight finish; a node killed
//! mid-attempt leaves leases that expire, and the message is attempted again.
//!
//! Messages of the NATS reward stream's endpoint are published with [`RewardStream`]
//! instead of posted; a node without one leaves them to nodes that have one.

use crate::error::{Error, Result};
use crate::schedule::{next_delay, retry_after};
use crate::signature::signature_header;
use crate::stream::RewardStream;
use crate::target::{GuardedResolver, check_literal};
use chrono::Utc;
use engine::{AttemptOutcome, DeliveryAttempt, DueMessage, Transport};
use reqwest::StatusCode;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::Store;
use tokio::sync::{Notify, Semaphore, mpsc, oneshot, watch};
use tokio::task::JoinSet;

/// How the relay works.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Longest an attempt may take (`webhook_timeout_ms`).
    pub timeout: Duration,
    /// Delays after each failed attempt (`webhook_retry_schedule`).
    pub schedule: Vec<Duration>,
    /// Whether private, loopback and link-local targets are allowed.
    pub allow_private: bool,
    /// Most attempts in flight at once per endpoint.
    pub per_endpoint: usize,
    /// Most attempts in flight at once on this node.
    pub max_in_flight: usize,
    /// How often due messages are looked for when nothing wakes the relay.
    pub poll: Duration,
    /// How long dispatched outbox rows and delivered messages are kept (`None`: for ever);
    /// older ones are pruned every [`PRUNE_EVERY`].
    pub retention: Option<Duration>,
}

/// Messages an endpoint may have leased on this node, per attempt it may have in flight: a
/// few wait their turn locally, so that one claim feeds many attempts.
const LEASED_PER_SLOT: usize = 4;

/// Most finished attempts recorded in one transaction.
const RECORD_BATCH: usize = 256;

/// How often the relay prunes the outbox and delivered messages.
pub const PRUNE_EVERY: Duration = Duration::from_secs(600);

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            timeout: Duration::from_secs(15),
            schedule: crate::schedule::parse_schedule(crate::schedule::DEFAULT_SCHEDULE)
                .unwrap_or_default(),
            allow_private: false,
            per_endpoint: 8,
            max_in_flight: 256,
            poll: Duration::from_millis(250),
            retention: Some(Duration::from_secs(7 * 86_400)),
        }
    }
}

/// What one attempt did, for metrics.
#[derive(Debug, Clone)]
pub struct AttemptReport {
    /// How the message travelled: `http` or `nats`.
    pub transport: &'static str,
    /// `delivered`, `retry`, `failed`, or `lost` (the lease moved on meanwhile).
    pub outcome: &'static str,
    /// How long the attempt took.
    pub duration: Duration,
    /// From the reward's commit to this delivery, when it delivered.
    pub latency: Option<Duration>,
}

/// Called after every attempt.
pub type AttemptObserver = Arc<dyn Fn(AttemptReport) + Send + Sync>;

/// The running relay.
#[derive(Debug)]
pub struct Relay {
    wake: Arc<Notify>,
    stop: watch::Sender<bool>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

struct Worker {
    store: Store,
    config: RelayConfig,
    client: reqwest::Client,
    owner: String,
    observer: Option<AttemptObserver>,
    /// Where the NATS reward stream's messages are published, on a node with `nats_url`.
    stream: Option<Arc<RewardStream>>,
    /// Messages leased per endpoint, waiting for a slot or being attempted (not those whose
    /// attempt is being recorded: their lease keeps them meanwhile).
    in_flight: Arc<Mutex<HashMap<i64, usize>>>,
    /// Attempts in flight per endpoint: at most `per_endpoint` permits each.
    slots: Mutex<HashMap<i64, Arc<Semaphore>>>,
    /// Where finished attempts go to be recorded (see [`record`]).
    recorder: mpsc::Sender<Finished>,
    /// Notified when an attempt leaves its endpoint room to lease more.
    room: Notify,
}

/// A finished attempt on its way to the database, and who waits to hear whether it was kept.
struct Finished {
    id: i64,
    attempt: DeliveryAttempt,
    outcome: AttemptOutcome,
    kept: oneshot::Sender<bool>,
}

/// What one attempt decided, before it is recorded.
struct Attempted {
    attempt: DeliveryAttempt,
    outcome: AttemptOutcome,
    duration: Duration,
}

/// Records finished attempts, as many in one transaction as have finished meanwhile: while
/// one transaction commits, the next attempts gather, so a busy relay pays one commit for
/// many deliveries and an idle one records each at once.
///
/// Every [`store::TIDY_EVERY`] settled messages it has the tables tidied
/// ([`Store::tidy_deliveries`]) on a task of its own, one at a time.
async fn record(store: Store, owner: String, mut finished: mpsc::Receiver<Finished>) {
    let mut batch = Vec::with_capacity(RECORD_BATCH);
    let mut settled = 0u64;
    let tidying = Arc::new(AtomicBool::new(false));
    while finished.recv_many(&mut batch, RECORD_BATCH).await > 0 {
        let attempts: Vec<_> = batch
            .iter()
            .map(|f| (f.id, f.attempt.clone(), f.outcome))
            .collect();
        let kept = match store.record_webhook_attempts(&owner, &attempts).await {
            Ok(kept) => kept,
            Err(e) => {
                // Their leases expire and the messages are attempted again.
                tracing::warn!(error = %e, attempts = batch.len(), "cannot record webhook attempts");
                vec![false; batch.len()]
            }
        };
        settled += kept.iter().filter(|k| **k).count() as u64;
        for (f, kept) in batch.drain(..).zip(kept) {
            let _ = f.kept.send(kept);
        }
        if settled >= store::TIDY_EVERY && !tidying.swap(true, Ordering::AcqRel) {
            settled = 0;
            let (store, tidying) = (store.clone(), Arc::clone(&tidying));
            tokio::spawn(async move {
                if let Err(e) = store.tidy_deliveries().await {
                    tracing::warn!(error = %e, "cannot vacuum the webhook messages");
                }
                tidying.store(false, Ordering::Release);
            });
        }
    }
}

/// The HTTP client attempts use: no redirects (a 3xx is a failure, so a redirect cannot
/// reach a private address), no proxy, names resolved to public addresses only unless
/// private targets are allowed.
pub fn client(config: &RelayConfig) -> Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(config.timeout)
        .timeout(config.timeout)
        .user_agent(concat!("Offerflow/", env!("CARGO_PKG_VERSION")));
    if !config.allow_private {
        builder = builder.dns_resolver(Arc::new(GuardedResolver));
    }
    builder.build().map_err(|e| Error::Client(e.to_string()))
}

impl Relay {
    /// Starts the relay over `store`, publishing the NATS reward stream's messages with
    /// `stream` if this node has one.
    pub fn start(
        store: Store,
        config: RelayConfig,
        observer: Option<AttemptObserver>,
        stream: Option<Arc<RewardStream>>,
    ) -> Result<Relay> {
        let owner = format!("{:016x}", rand::random::<u64>());
        let (recorder, finished) = mpsc::channel(RECORD_BATCH * 4);
        tokio::spawn(record(store.clone(), owner.clone(), finished));
        let worker = Worker {
            client: client(&config)?,
            owner,
            recorder,
            store,
            config,
            observer,
            stream,
            in_flight: Arc::default(),
            slots: Mutex::default(),
            room: Notify::new(),
        };
        let wake = Arc::new(Notify::new());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(worker.run(Arc::clone(&wake), stopped));
        Ok(Relay {
            wake,
            stop,
            task: Mutex::new(Some(task)),
        })
    }

    /// Looks for new outbox rows now (a batch with rewards committed).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// What [`Relay::wake`] notifies, for a caller that outlives no relay of its own.
    pub fn waker(&self) -> Arc<Notify> {
        Arc::clone(&self.wake)
    }

    /// Stops leasing messages and waits for the attempts in flight.
    pub async fn shutdown(&self) {
        let _ = self.stop.send(true);
        let task = self
            .task
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

impl Worker {
    /// The lease on a message: the attempt's timeout and a margin for recording it.
    fn lease(&self) -> Duration {
        self.config.timeout * 2 + Duration::from_secs(1)
    }

    async fn run(self, wake: Arc<Notify>, mut stopped: watch::Receiver<bool>) {
        let this = Arc::new(self);
        let mut attempts: JoinSet<()> = JoinSet::new();
        let mut pruned: Option<Instant> = None;
        while !*stopped.borrow() {
            while attempts.try_join_next().is_some() {}
            if pruned.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
                pruned = Some(Instant::now());
                this.prune().await;
            }
            let busy = match this.turn(&mut attempts).await {
                Ok(busy) => busy,
                Err(e) => {
                    tracing::warn!(error = %e, "webhook relay");
                    false
                }
            };
            if busy {
                continue;
            }
            // A finished attempt calls for a turn only once its endpoint has room to lease
            // more; new rewards wake the relay, and the poll finds other endpoints' messages.
            // The poll is one timer for the whole wait, so that attempts finishing all the
            // time cannot put it off. (Attempts in the set are reaped at the top of the loop.)
            let poll = tokio::time::sleep(this.config.poll);
            tokio::pin!(poll);
            loop {
                tokio::select! {
                    _ = wake.notified() => break,
                    () = &mut poll => break,
                    _ = stopped.changed() => break,
                    () = this.room.notified() => {
                        if !this.all_busy() {
                            break;
                        }
                    }
                }
            }
        }
        while attempts.join_next().await.is_some() {}
    }

    /// Deletes what is older than the retention.
    async fn prune(&self) {
        let Some(retention) = self.config.retention else {
            return;
        };
        let before = Utc::now() - chrono::Duration::from_std(retention).unwrap_or_default();
        match self.store.prune_deliveries(before).await {
            Ok((outbox, messages)) if outbox + messages > 0 => {
                tracing::info!(
                    outbox,
                    messages,
                    "pruned delivered rewards' outbox rows and messages"
                );
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot prune the outbox"),
        }
    }

    /// Dispatches the outbox and starts the due attempts there is room for; answers whether
    /// there may be more work at once.
    async fn turn(self: &Arc<Self>, attempts: &mut JoinSet<()>) -> Result<bool> {
        let dispatched = self.store.dispatch_outbox(500).await?;
        let cap = self.cap();
        let (held, room) = {
            let in_flight = self.lock();
            let total: usize = in_flight.values().sum();
            (
                in_flight.clone(),
                self.config.max_in_flight.saturating_sub(total),
            )
        };
        if room == 0 {
            return Ok(false);
        }
        let due = self
            .store
            .claim_webhook_messages(
                &self.owner,
                self.lease(),
                room as u64,
                cap as u64,
                &held,
                self.stream.is_some(),
            )
            .await?;
        let claimed_at = Instant::now();
        let claimed = due.len();
        let mut release = Vec::new();
        for m in due {
            let endpoint = m.message.endpoint_id;
            {
                let mut in_flight = self.lock();
                let n = in_flight.entry(endpoint).or_insert(0);
                if *n >= cap {
                    release.push(m.message.id);
                    continue;
                }
                *n += 1;
            }
            let slot = self.slot(endpoint);
            let this = Arc::clone(self);
            attempts.spawn(async move {
                let mut finished = None;
                if let Ok(_permit) = slot.acquire_owned().await {
                    // Attempted only while the lease outlasts it; otherwise it is left to
                    // expire, and leased again.
                    let left = this.lease().saturating_sub(claimed_at.elapsed());
                    if left > this.config.timeout + Duration::from_secs(1) {
                        finished = Some(this.attempt(&m).await);
                    }
                }
                // The slot and the place among the endpoint's leases are free once the
                // attempt is over: recording it waits with the others (its lease keeps the
                // message from being leased again meanwhile).
                this.leave(endpoint);
                if let Some(finished) = finished {
                    this.keep(&m, finished).await;
                }
            });
        }
        if !release.is_empty() {
            self.store
                .release_webhook_messages(&release, &self.owner)
                .await?;
        }
        Ok(dispatched > 0 || (claimed >= room && release.is_empty()))
    }

    /// Most messages an endpoint may have leased on this node.
    fn cap(&self) -> usize {
        (self.config.per_endpoint * LEASED_PER_SLOT).max(2)
    }

    /// An attempt at one of endpoint `endpoint`'s messages is over (or was not made).
    fn leave(&self, endpoint: i64) {
        {
            let mut in_flight = self.lock();
            if let Some(n) = in_flight.get_mut(&endpoint) {
                *n -= 1;
                if *n == 0 {
                    in_flight.remove(&endpoint);
                }
            }
        }
        self.room.notify_one();
    }

    /// Whether every endpoint with leased messages has more than half its leases in hand.
    fn all_busy(&self) -> bool {
        let cap = self.cap();
        let in_flight = self.lock();
        !in_flight.is_empty() && in_flight.values().all(|n| *n > cap / 2)
    }

    /// Endpoint `endpoint`'s attempt slots.
    fn slot(&self, endpoint: i64) -> Arc<Semaphore> {
        let mut slots = self
            .slots
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Arc::clone(
            slots
                .entry(endpoint)
                .or_insert_with(|| Arc::new(Semaphore::new(self.config.per_endpoint))),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<i64, usize>> {
        self.in_flight
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// One attempt at `due`, and what it decided.
    async fn attempt(&self, due: &DueMessage) -> Attempted {
        let m = &due.message;
        let at = Utc::now();
        let started = Instant::now();
        let answer = match due.transport {
            Transport::Http => self
                .send(due, at.timestamp())
                .await
                .map(|(status, wait)| (Some(status.as_u16()), wait)),
            Transport::Nats => self.publish(m).await.map(|()| (None, None)),
        };
        let duration = started.elapsed();
        let (http_status, error, retry_after) = match &answer {
            Ok((status, retry_after)) => (*status, None, *retry_after),
            Err(e) => (None, Some(e.clone()), None),
        };
        // A 2xx, or JetStream's ack.
        let success = answer
            .as_ref()
            .is_ok_and(|(status, _)| status.is_none_or(|s| (200..300).contains(&s)));
        if http_status == Some(410) {
            let reason = "the endpoint answered 410 Gone";
            if let Err(e) = self
                .store
                .set_webhook_endpoint_enabled(m.endpoint_id, Some(reason))
                .await
            {
                tracing::warn!(error = %e, endpoint = m.endpoint_id, "cannot disable endpoint");
            }
            tracing::warn!(
                endpoint = m.endpoint_id,
                "webhook endpoint disabled: 410 Gone"
            );
        }
        let outcome = if success {
            AttemptOutcome::Delivered
        } else {
            let jitter: f64 = rand::random();
            match next_delay(&self.config.schedule, m.attempts + 1, jitter, retry_after) {
                Some(delay) => AttemptOutcome::Retry(
                    at + chrono::Duration::from_std(delay).unwrap_or(chrono::Duration::MAX),
                ),
                None => AttemptOutcome::Failed,
            }
        };
        let attempt = DeliveryAttempt {
            at,
            http_status,
            error,
            duration_ms: u64::try_from(duration.as_millis()).unwrap_or(u64::MAX),
        };
        Attempted {
            attempt,
            outcome,
            duration,
        }
    }

    /// Records what attempt `attempted` at `due` decided, and reports it.
    async fn keep(&self, due: &DueMessage, attempted: Attempted) {
        let m = &due.message;
        let Attempted {
            attempt,
            outcome,
            duration,
        } = attempted;
        let http_status = attempt.http_status;
        let (kept, heard) = oneshot::channel();
        let finished = Finished {
            id: m.id,
            attempt,
            outcome,
            kept,
        };
        let kept = self.recorder.send(finished).await.is_ok() && heard.await.unwrap_or(false);
        tracing::debug!(message = m.id, webhook_id = %m.webhook_id, ?http_status, ?outcome, "webhook attempt");
        if let Some(observer) = &self.observer {
            let outcome = match (kept, outcome) {
                (false, _) => "lost",
                (true, AttemptOutcome::Delivered) => "delivered",
                (true, AttemptOutcome::Retry(_)) => "retry",
                (true, AttemptOutcome::Failed) => "failed",
            };
            let latency = (outcome == "delivered")
                .then(|| (Utc::now() - m.issued_at).to_std().ok())
                .flatten();
            observer(AttemptReport {
                transport: due.transport.as_str(),
                outcome,
                duration,
                latency,
            });
        }
    }

    /// Publishes the message to the NATS reward stream; answers why JetStream did not ack.
    async fn publish(&self, m: &engine::WebhookMessage) -> std::result::Result<(), String> {
        let Some(stream) = &self.stream else {
            return Err("this node does not publish to NATS (nats_url is not set)".to_owned());
        };
        stream
            .publish(&m.webhook_id, &m.body, self.config.timeout)
            .await
    }

    /// Posts the message; answers the status and any `Retry-After` (on 429 and 503), or why
    /// there was no answer.
    async fn send(
        &self,
        due: &DueMessage,
        timestamp: i64,
    ) -> std::result::Result<(StatusCode, Option<Duration>), String> {
        let m = &due.message;
        let url = reqwest::Url::parse(&due.url).map_err(|e| format!("bad URL: {e}"))?;
        if !self.config.allow_private {
            check_literal(&url).map_err(|e| e.to_string())?;
        }
        let signature = signature_header(&due.secrets, &m.webhook_id, timestamp, &m.body);
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &m.webhook_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(m.body.clone())
            .send()
            .await
            .map_err(describe)?;
        let status = response.status();
        let wait = if matches!(
            status,
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        ) {
            response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| retry_after(v, Utc::now()))
        } else {
            None
        };
        Ok((status, wait))
    }
}

/// A client error, with its causes (reqwest's own message is only the outermost).
fn describe(e: reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection error"
    } else {
        "request error"
    };
    let mut text = kind.to_owned();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
