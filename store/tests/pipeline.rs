//! The batching pipeline: batches bounded by size and time, results only after commit, order
//! kept per customer.

mod common;

use common::*;
use engine::Status;
use std::sync::atomic::Ordering;
use std::time::Duration;
use store::{Pipeline, PipelineConfig};

const EVERY_THIRD: &str = "key: third\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 3}\nrewards: [{kind: points, amount: 1}]\nlimits: {per_customer: 100}\n";

#[tokio::test]
async fn batches_are_bounded_and_results_follow_commits() {
    for db in databases().await {
        db.store.install_campaign(&spec(EVERY_THIRD)).await.unwrap();
        let config = PipelineConfig {
            max_batch: 4,
            max_wait: Duration::from_millis(20),
            queue: 64,
        };
        let pipeline = std::sync::Arc::new(Pipeline::start(db.store.clone(), config));
        let mut tasks = Vec::new();
        for c in 0..5 {
            let pipeline = std::sync::Arc::clone(&pipeline);
            tasks.push(tokio::spawn(async move {
                let events: Vec<_> = (0..9)
                    .map(|i| {
                        event(
                            &format!("c{c}-e{i}"),
                            &format!("c{c}"),
                            "order",
                            &format!("2026-12-01T10:{i:02}:00Z"),
                        )
                    })
                    .collect();
                pipeline.submit(events).await.unwrap()
            }));
        }
        for task in tasks {
            let results = task.await.unwrap();
            assert_eq!(results.len(), 9);
            assert!(results.iter().all(|r| r.status == Status::Processed));
            // In order per customer: every third event completes a cycle.
            let completed: Vec<usize> = results
                .iter()
                .enumerate()
                .filter(|(_, r)| !r.rewards.is_empty())
                .map(|(i, _)| i)
                .collect();
            assert_eq!(completed, [2, 5, 8], "{}", db.name);
        }
        // Every result was answered after its batch committed: the ledger holds them all.
        assert_eq!(db.store.rewards().await.unwrap().len(), 15);
        let stats = pipeline.stats();
        assert_eq!(stats.events.load(Ordering::Relaxed), 45);
        assert!(stats.largest_batch.load(Ordering::Relaxed) <= 4);
        assert!(stats.batches.load(Ordering::Relaxed) >= 12);
        pipeline.shutdown().await;
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn invalid_events_are_rejected_one_by_one() {
    let db = sqlite_memory().await;
    db.store.install_campaign(&spec(EVERY_THIRD)).await.unwrap();
    let pipeline = Pipeline::start(db.store.clone(), PipelineConfig::default());
    let bad = serde_json::json!({"id": "x", "customer_id": "", "type": "order", "occurred_at": "2026-12-01T10:00:00Z"});
    let results = pipeline
        .submit(vec![
            event("e1", "c", "order", "2026-12-01T10:00:00Z"),
            bad,
            event("e2", "c", "order", "2026-12-01T10:01:00Z"),
        ])
        .await
        .unwrap();
    assert_eq!(results[1].status, Status::Rejected);
    assert_eq!(results[1].error.as_ref().unwrap().field, "customer_id");
    assert_eq!(results[0].status, Status::Processed);
    assert_eq!(results[2].status, Status::Processed);
    pipeline.shutdown().await;
}

#[tokio::test]
async fn shutdown_finishes_what_was_accepted() {
    let db = sqlite_memory().await;
    db.store.install_campaign(&spec(EVERY_THIRD)).await.unwrap();
    let config = PipelineConfig {
        max_batch: 5,
        max_wait: Duration::from_millis(50),
        queue: 100,
    };
    let pipeline = std::sync::Arc::new(Pipeline::start(db.store.clone(), config));
    let submitter = {
        let pipeline = std::sync::Arc::clone(&pipeline);
        tokio::spawn(async move {
            let events = (0..30)
                .map(|i| event(&format!("e{i}"), "c", "order", "2026-12-01T10:00:00Z"))
                .collect();
            pipeline.submit(events).await
        })
    };
    // Shut down while the submitted events are still queued or in flight.
    while pipeline.stats().events.load(Ordering::Relaxed) == 0 {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    pipeline.shutdown().await;
    let results = submitter.await.unwrap().unwrap();
    assert_eq!(results.len(), 30);
    assert_eq!(db.store.rewards().await.unwrap().len(), 10);
    // A stopped pipeline refuses new work with a clear error.
    let refused = pipeline
        .submit(vec![event("late", "c", "order", "2026-12-01T11:00:00Z")])
        .await;
    assert!(matches!(refused, Err(store::Error::Stopped)));
}

#[tokio::test]
async fn a_request_larger_than_the_queue_goes_through_in_order() {
    let db = sqlite_memory().await;
    db.store.install_campaign(&spec(EVERY_THIRD)).await.unwrap();
    // The queue holds 3 events; one caller sends 10, another 2, at once.
    let config = PipelineConfig {
        max_batch: 5,
        max_wait: Duration::from_millis(5),
        queue: 3,
    };
    let pipeline = std::sync::Arc::new(Pipeline::start(db.store.clone(), config));
    let send = |customer: &'static str, n: usize| {
        let pipeline = std::sync::Arc::clone(&pipeline);
        tokio::spawn(async move {
            let events = (0..n)
                .map(|i| {
                    let id = format!("{customer}-{i}");
                    event(&id, customer, "order", &format!("2026-12-01T10:{i:02}:00Z"))
                })
                .collect();
            pipeline.submit(events).await.unwrap()
        })
    };
    let (big, small) = (send("a", 10), send("b", 2));
    let big = big.await.unwrap();
    assert_eq!(small.await.unwrap().len(), 2);
    let ids: Vec<&str> = big.iter().map(|r| r.event_id.as_str()).collect();
    let expected: Vec<String> = (0..10).map(|i| format!("a-{i}")).collect();
    assert_eq!(ids, expected);
    let completed: Vec<usize> = (0..10).filter(|&i| !big[i].rewards.is_empty()).collect();
    assert_eq!(completed, [2, 5, 8]);
    assert!(pipeline.stats().largest_batch.load(Ordering::Relaxed) <= 5);
    pipeline.shutdown().await;
}
