//! The batching pipeline: events from any number of callers are grouped, up to `max_batch`
//! events or `max_wait`, into one transaction each, applied in arrival order (so in order per
//! customer), and each caller hears its events' results only after their batch committed.

use crate::Store;
use crate::error::{Error, Result};
use engine::EventResult;
use engine::Prepared;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinHandle;

/// How the pipeline groups events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipelineConfig {
    /// Most events in one transaction.
    pub max_batch: usize,
    /// Longest a batch waits for more events once it has its first.
    pub max_wait: Duration,
    /// Events waiting at most; callers wait for room past it.
    pub queue: usize,
}

impl Default for PipelineConfig {
    fn default() -> Self {
        PipelineConfig {
            max_batch: 500,
            max_wait: Duration::from_millis(5),
            queue: 10_000,
        }
    }
}

/// Counters a person (or `/metrics`) can read.
#[derive(Debug, Default)]
pub struct PipelineStats {
    /// Batches committed.
    pub batches: AtomicU64,
    /// Events in committed batches.
    pub events: AtomicU64,
    /// The largest batch so far.
    pub largest_batch: AtomicU64,
    /// Batches that failed (their callers got the error).
    pub failed_batches: AtomicU64,
}

/// What a batch did, for observers (metrics).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchReport {
    /// Events in the batch.
    pub events: usize,
    /// Time to process and commit it (or to fail).
    pub elapsed: Duration,
    /// Whether it committed.
    pub committed: bool,
}

/// Called after every batch, on the pipeline's task: keep it quick.
pub type BatchObserver = Arc<dyn Fn(BatchReport) + Send + Sync>;

/// One caller's events (at most `max_batch`), read before they reach the worker, and where
/// their results go.
struct Job {
    events: Prepared,
    reply: oneshot::Sender<Result<Vec<EventResult>>>,
    /// The job's room in the queue, one permit per event, given back when a batch takes it.
    _room: OwnedSemaphorePermit,
}

/// A running pipeline in front of a [`Store`].
#[derive(Debug)]
pub struct Pipeline {
    /// Most events in one job: `max_batch`, and never more than the queue holds.
    max_batch: usize,
    /// Room for events in the queue.
    room: Arc<Semaphore>,
    /// `None` once shut down.
    sender: std::sync::Mutex<Option<mpsc::Sender<Job>>>,
    worker: tokio::sync::Mutex<Option<JoinHandle<()>>>,
    stats: Arc<PipelineStats>,
}

impl Pipeline {
    /// Starts the pipeline's worker task on the current tokio runtime.
    pub fn start(store: Store, config: PipelineConfig) -> Pipeline {
        Self::start_observed(store, config, None)
    }

    /// Starts the pipeline, calling `observer` after every batch.
    pub fn start_observed(
        store: Store,
        config: PipelineConfig,
        observer: Option<BatchObserver>,
    ) -> Pipeline {
        // Every job holds at least one event, so the channel never bounds before `room` does.
        let (sender, receiver) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(PipelineStats::default());
        let worker = tokio::spawn(run(store, config, receiver, Arc::clone(&stats), observer));
        Pipeline {
            max_batch: config.max_batch.max(1).min(config.queue.max(1)),
            room: Arc::new(Semaphore::new(config.queue.max(1))),
            sender: std::sync::Mutex::new(Some(sender)),
            worker: tokio::sync::Mutex::new(Some(worker)),
            stats,
        }
    }

    /// Submits events, in order, and waits for their results (each after its batch commits).
    /// The events are read and fingerprinted here, on the caller's task, so that callers do
    /// that work in parallel and the worker only applies and writes.
    pub async fn submit(&self, events: Vec<Value>) -> Result<Vec<EventResult>> {
        let sender = self
            .sender
            .lock()
            .map_err(|_| Error::Stopped)?
            .clone()
            .ok_or(Error::Stopped)?;
        let mut replies = Vec::new();
        for chunk in events.chunks(self.max_batch) {
            let (reply, answer) = oneshot::channel();
            let events = Prepared::new(chunk);
            let n = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
            let room = Arc::clone(&self.room)
                .acquire_many_owned(n)
                .await
                .map_err(|_| Error::Stopped)?;
            sender
                .send(Job {
                    events,
                    reply,
                    _room: room,
                })
                .await
                .map_err(|_| Error::Stopped)?;
            replies.push(answer);
        }
        drop(sender);
        let mut results = Vec::with_capacity(events.len());
        for answer in replies {
            match answer.await {
                Ok(Ok(batch)) => results.extend(batch),
                Ok(Err(e)) => return Err(e),
                Err(_) => return Err(Error::Stopped),
            }
        }
        Ok(results)
    }

    /// The pipeline's counters.
    pub fn stats(&self) -> &PipelineStats {
        &self.stats
    }

    /// Stops taking new submissions, finishes the batch in flight and every event already
    /// submitted, and returns when all of them are committed and answered.
    pub async fn shutdown(&self) {
        if let Ok(mut sender) = self.sender.lock() {
            sender.take();
        }
        if let Some(worker) = self.worker.lock().await.take() {
            let _ = worker.await;
        }
    }
}

async fn run(
    store: Store,
    config: PipelineConfig,
    mut receiver: mpsc::Receiver<Job>,
    stats: Arc<PipelineStats>,
    observer: Option<BatchObserver>,
) {
    let max_batch = config.max_batch.max(1);
    // A job received that did not fit in the batch before: it starts the next one.
    let mut held: Option<Job> = None;
    loop {
        let first = match held.take() {
            Some(job) => job,
            None => match receiver.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        let mut size = first.events.len();
        let mut jobs = vec![first];
        let deadline = tokio::time::Instant::now() + config.max_wait;
        while size < max_batch {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(job)) if size + job.events.len() > max_batch => {
                    held = Some(job);
                    break;
                }
                Ok(Some(job)) => {
                    size += job.events.len();
                    jobs.push(job);
                }
                // The wait is over, or every sender is gone: commit what we have.
                Ok(None) | Err(_) => break,
            }
        }
        let mut events = Prepared::default();
        let mut sizes = Vec::with_capacity(jobs.len());
        let mut replies = Vec::with_capacity(jobs.len());
        for job in jobs {
            sizes.push(job.events.len());
            events.append(job.events);
            replies.push(job.reply);
        }
        let started = std::time::Instant::now();
        let outcome = store.process_prepared(&events).await;
        if let Some(observe) = &observer {
            observe(BatchReport {
                events: size,
                elapsed: started.elapsed(),
                committed: outcome.is_ok(),
            });
        }
        match outcome {
            Ok(results) => {
                let n = size as u64;
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.events.fetch_add(n, Ordering::Relaxed);
                stats.largest_batch.fetch_max(n, Ordering::Relaxed);
                let mut results = results.into_iter();
                for (reply, n) in replies.into_iter().zip(sizes) {
                    let _ = reply.send(Ok(results.by_ref().take(n).collect()));
                }
            }
            Err(e) => {
                stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, events = size, "a batch failed; nothing of it was kept");
                for reply in replies {
                    let _ = reply.send(Err(e.clone()));
                }
            }
        }
    }
}
