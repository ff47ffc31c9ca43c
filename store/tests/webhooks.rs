//! Reward delivery's storage on SQLite and PostgreSQL: the outbox becomes one message per
//! reward and matching endpoint, a leased message is attempted by one holder only, and a
//! lost lease's result is not kept.

mod common;

use common::*;
use engine::{AttemptOutcome, DeliveryAttempt, DeliveryStatus, EndpointInput};
use std::time::Duration;

const ORDERS: &str = "key: orders\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 1}\nrewards: [{kind: points, amount: 10}]\nlimits: {per_customer: 100}\n";

fn input(url: &str) -> EndpointInput {
    EndpointInput {
        url: url.into(),
        description: String::new(),
        campaigns: vec![],
        kinds: vec![],
    }
}

fn attempt(status: u16) -> DeliveryAttempt {
    DeliveryAttempt {
        at: chrono::Utc::now(),
        http_status: Some(status),
        error: None,
        duration_ms: 1,
    }
}

#[tokio::test]
async fn one_lease_holder_per_message_and_rewards_only_while_an_endpoint_exists() {
    for db in databases().await {
        let store = &db.store;
        store.install_campaign(&spec(ORDERS)).await.unwrap();
        store
            .process_batch(&[event("e0", "c", "order", "2026-12-01T10:00:00Z")])
            .await
            .unwrap();
        let ep = store
            .create_webhook_endpoint(&input("http://x/hook"), "whsec_AAAA")
            .await
            .unwrap();
        store
            .process_batch(&[
                event("e1", "c", "order", "2026-12-01T10:00:00Z"),
                event("e2", "c", "order", "2026-12-01T10:00:01Z"),
            ])
            .await
            .unwrap();
        while store.dispatch_outbox(1).await.unwrap() > 0 {}
        // The reward issued before the endpoint existed is not queued for it.
        let queued = store.webhook_messages(ep.id, None, None, 10).await.unwrap();
        assert_eq!(queued.len(), 2);
        let lease = Duration::from_secs(60);
        let a = store
            .claim_webhook_messages("a", lease, 1, &[])
            .await
            .unwrap();
        let b = store
            .claim_webhook_messages("b", lease, 10, &[])
            .await
            .unwrap();
        assert_eq!((a.len(), b.len()), (1, 1));
        assert_ne!(a[0].message.id, b[0].message.id);
        assert!(
            store
                .claim_webhook_messages("c", lease, 10, &[])
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(a[0].secrets, ["whsec_AAAA"]);
        // Only the holder keeps its result.
        let id = a[0].message.id;
        let kept = store
            .record_webhook_attempt(id, "b", &attempt(200), AttemptOutcome::Delivered)
            .await
            .unwrap();
        assert!(!kept);
        let kept = store
            .record_webhook_attempt(id, "a", &attempt(200), AttemptOutcome::Delivered)
            .await
            .unwrap();
        assert!(kept);
        // An expired lease lets another holder take the message, with the same id and body.
        let other = b[0].message.clone();
        store
            .release_webhook_messages(&[other.id], "b")
            .await
            .unwrap();
        let again = store
            .claim_webhook_messages("c", Duration::from_millis(1), 10, &[])
            .await
            .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(
            (&again[0].message.webhook_id, &again[0].message.body),
            (&other.webhook_id, &other.body)
        );
        // Once "c"'s lease expires (it never answered), "d" takes the message.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        loop {
            let d = store
                .claim_webhook_messages("d", lease, 10, &[])
                .await
                .unwrap();
            if d.len() == 1 {
                assert_eq!(d[0].message.id, other.id);
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the lease never expired"
            );
            tokio::task::yield_now().await;
        }
        let stats = store.delivery_stats().await.unwrap();
        assert_eq!((stats.pending, stats.failed), (1, 0));
        let delivered = store
            .webhook_messages(ep.id, Some(DeliveryStatus::Delivered), None, 10)
            .await
            .unwrap();
        assert_eq!(delivered.len(), 1);
        assert_eq!(store.webhook_attempts(id).await.unwrap().len(), 1);
        db.drop_schema().await;
    }
}
