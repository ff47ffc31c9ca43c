//! The batching pipeline: events from any number of callers are grouped, up to `max_batch`
//! events or `max_wait`, into one transaction each, applied in arrival order (so in order per
//! customer), and each caller hears its events' results only after their batch committed.

use crate::apply::EventResult;
use crate::error::{Error, Result};
use crate::store::Store;
use serde_json::Value;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
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

struct Job {
    event: Value,
    reply: oneshot::Sender<std::result::Result<EventResult, String>>,
}

/// A running pipeline in front of a [`Store`].
#[derive(Debug)]
pub struct Pipeline {
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
        let (sender, receiver) = mpsc::channel(config.queue.max(1));
        let stats = Arc::new(PipelineStats::default());
        let worker = tokio::spawn(run(store, config, receiver, Arc::clone(&stats), observer));
        Pipeline {
            sender: std::sync::Mutex::new(Some(sender)),
            worker: tokio::sync::Mutex::new(Some(worker)),
            stats,
        }
    }

    /// Submits events, in order, and waits for their results (each after its batch commits).
    pub async fn submit(&self, events: Vec<Value>) -> Result<Vec<EventResult>> {
        let sender = self
            .sender
            .lock()
            .map_err(|_| Error::Stopped)?
            .clone()
            .ok_or(Error::Stopped)?;
        let mut replies = Vec::with_capacity(events.len());
        for event in events {
            let (reply, answer) = oneshot::channel();
            sender
                .send(Job { event, reply })
                .await
                .map_err(|_| Error::Stopped)?;
            replies.push(answer);
        }
        drop(sender);
        let mut results = Vec::with_capacity(replies.len());
        for answer in replies {
            match answer.await {
                Ok(Ok(result)) => results.push(result),
                Ok(Err(message)) => {
                    return Err(Error::Db(sea_orm::DbErr::Custom(message)));
                }
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
    while let Some(first) = receiver.recv().await {
        let mut jobs = vec![first];
        let deadline = tokio::time::Instant::now() + config.max_wait;
        while jobs.len() < max_batch {
            match tokio::time::timeout_at(deadline, receiver.recv()).await {
                Ok(Some(job)) => jobs.push(job),
                // The wait is over, or every sender is gone: commit what we have.
                Ok(None) | Err(_) => break,
            }
        }
        let events: Vec<Value> = jobs.iter().map(|j| j.event.clone()).collect();
        let started = std::time::Instant::now();
        let outcome = store.process_batch(&events).await;
        if let Some(observe) = &observer {
            observe(BatchReport {
                events: events.len(),
                elapsed: started.elapsed(),
                committed: outcome.is_ok(),
            });
        }
        match outcome {
            Ok(results) => {
                let n = jobs.len() as u64;
                stats.batches.fetch_add(1, Ordering::Relaxed);
                stats.events.fetch_add(n, Ordering::Relaxed);
                stats.largest_batch.fetch_max(n, Ordering::Relaxed);
                for (job, result) in jobs.into_iter().zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            Err(e) => {
                stats.failed_batches.fetch_add(1, Ordering::Relaxed);
                tracing::error!(error = %e, events = jobs.len(), "a batch failed; nothing of it was kept");
                let message = e.to_string();
                for job in jobs {
                    let _ = job.reply.send(Err(message.clone()));
                }
            }
        }
    }
}
