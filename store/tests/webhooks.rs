//! Reward delivery's storage on SQLite and PostgreSQL: the outbox becomes one message per
//! reward and matching endpoint, a leased message is attempted by one holder only, and a
//! lost lease's result is not kept.

mod common;

use common::*;
use engine::{
    AttemptOutcome, DeliveryAttempt, DeliveryStatus, EndpointInput, EndpointPatch, Transport,
};
use std::collections::HashMap;
use std::time::Duration;
use store::REWARD_STREAM_OFF;

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
            .claim_webhook_messages("a", lease, 1, 1, &HashMap::new(), false)
            .await
            .unwrap();
        let b = store
            .claim_webhook_messages("b", lease, 10, 10, &HashMap::new(), false)
            .await
            .unwrap();
        assert_eq!((a.len(), b.len()), (1, 1));
        assert_ne!(a[0].message.id, b[0].message.id);
        assert!(
            store
                .claim_webhook_messages("c", lease, 10, 10, &HashMap::new(), false)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(a[0].secrets, ["whsec_AAAA"]);
        // Only the holder keeps its result.
        let id = a[0].message.id;
        let kept = store
            .record_webhook_attempts("b", &[(id, attempt(200), AttemptOutcome::Delivered)])
            .await
            .unwrap()[0];
        assert!(!kept);
        let kept = store
            .record_webhook_attempts("a", &[(id, attempt(200), AttemptOutcome::Delivered)])
            .await
            .unwrap()[0];
        assert!(kept);
        // An expired lease lets another holder take the message, with the same id and body.
        let other = b[0].message.clone();
        store
            .release_webhook_messages(&[other.id], "b")
            .await
            .unwrap();
        let again = store
            .claim_webhook_messages(
                "c",
                Duration::from_millis(1),
                10,
                10,
                &HashMap::new(),
                false,
            )
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
                .claim_webhook_messages("d", lease, 10, 10, &HashMap::new(), false)
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
        // The one pending message is the oldest.
        assert_eq!(stats.oldest_pending, Some(other.created_at));
        let delivered = store
            .webhook_messages(ep.id, Some(DeliveryStatus::Delivered), None, 10)
            .await
            .unwrap();
        assert_eq!(delivered.len(), 1);
        assert_eq!(store.webhook_attempts(id).await.unwrap().len(), 1);
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn the_reward_stream_follows_nats_url_and_only_publishing_nodes_lease_its_messages() {
    for db in databases().await {
        let store = &db.store;
        assert!(store.set_reward_stream(None).await.unwrap().is_none());
        // Two nodes starting together make one stream endpoint.
        let (a, b) = tokio::join!(
            store.set_reward_stream(Some("offerflow.rewards")),
            store.set_reward_stream(Some("offerflow.rewards")),
        );
        let (a, b) = (a.unwrap().unwrap(), b.unwrap().unwrap());
        assert_eq!(a.id, b.id);
        assert_eq!(store.webhook_endpoints().await.unwrap().len(), 1);
        assert_eq!(
            (a.transport, a.url.as_str(), a.enabled),
            (Transport::Nats, "nats:offerflow.rewards", true)
        );
        store.install_campaign(&spec(ORDERS)).await.unwrap();
        store
            .process_batch(&[event("e1", "c", "order", "2026-12-01T10:00:00Z")])
            .await
            .unwrap();
        while store.dispatch_outbox(10).await.unwrap() > 0 {}
        let lease = Duration::from_secs(60);
        let without = store
            .claim_webhook_messages("http-only", lease, 10, 10, &HashMap::new(), false)
            .await
            .unwrap();
        assert!(without.is_empty(), "a node without NATS leased {without:?}");
        let with = store
            .claim_webhook_messages("nats", lease, 10, 10, &HashMap::new(), true)
            .await
            .unwrap();
        assert_eq!(with.len(), 1);
        assert_eq!(with[0].transport, Transport::Nats);
        // Not changed over the API.
        let refused = store.delete_webhook_endpoint(a.id).await.unwrap_err();
        assert!(
            refused.to_string().contains("NATS reward stream"),
            "{refused}"
        );
        let patch = EndpointPatch {
            description: Some("x".into()),
            ..EndpointPatch::default()
        };
        assert!(store.update_webhook_endpoint(a.id, &patch).await.is_err());
        // A start without nats_url disables it; one with it enables it again, on its subject.
        let off = store.set_reward_stream(None).await.unwrap().unwrap();
        assert!(!off.enabled);
        assert_eq!(off.disabled_reason.as_deref(), Some(REWARD_STREAM_OFF));
        let on = store
            .set_reward_stream(Some("rewards.b"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (on.id, on.enabled, on.url.as_str()),
            (a.id, true, "nats:rewards.b")
        );
        // An operator's disabling stays.
        store
            .set_webhook_endpoint_enabled(a.id, Some("paused by ops"))
            .await
            .unwrap();
        let kept = store
            .set_reward_stream(Some("rewards.b"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(kept.disabled_reason.as_deref(), Some("paused by ops"));
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn pruning_drops_only_dispatched_rows_and_delivered_messages_older_than_the_retention() {
    for db in databases().await {
        let store = &db.store;
        store.install_campaign(&spec(ORDERS)).await.unwrap();
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
        while store.dispatch_outbox(10).await.unwrap() > 0 {}
        let due = store
            .claim_webhook_messages("a", Duration::from_secs(60), 10, 10, &HashMap::new(), false)
            .await
            .unwrap();
        assert_eq!(due.len(), 2);
        let (delivered, failing) = (due[0].message.id, due[1].message.id);
        let later = chrono::Utc::now() + chrono::Duration::hours(1);
        // Both attempts recorded in one transaction, each kept by its lease holder.
        let kept = store
            .record_webhook_attempts(
                "a",
                &[
                    (delivered, attempt(200), AttemptOutcome::Delivered),
                    (failing, attempt(500), AttemptOutcome::Retry(later)),
                ],
            )
            .await
            .unwrap();
        assert_eq!(kept, [true, true]);
        // A reward not dispatched yet.
        store
            .process_batch(&[event("e3", "c", "order", "2026-12-01T10:00:02Z")])
            .await
            .unwrap();
        // Nothing is older than a retention that started before it all.
        let before_all = chrono::Utc::now() - chrono::Duration::hours(1);
        assert_eq!(store.prune_deliveries(before_all).await.unwrap(), (0, 0));
        let now = chrono::Utc::now() + chrono::Duration::seconds(1);
        assert_eq!(store.prune_deliveries(now).await.unwrap(), (2, 1));
        // The pending message and its attempt stay; the delivered one's attempts went.
        let left = store.webhook_messages(ep.id, None, None, 10).await.unwrap();
        assert_eq!(left.iter().map(|m| m.id).collect::<Vec<_>>(), [failing]);
        assert_eq!(store.webhook_attempts(failing).await.unwrap().len(), 1);
        assert!(store.webhook_attempts(delivered).await.unwrap().is_empty());
        // The undispatched row was kept, and still becomes a message.
        assert_eq!(store.dispatch_outbox(10).await.unwrap(), 1);
        assert_eq!(
            store
                .webhook_messages(ep.id, None, None, 10)
                .await
                .unwrap()
                .len(),
            2
        );
        // The ledger is never pruned.
        assert_eq!(store.rewards().await.unwrap().len(), 3);
        db.drop_schema().await;
    }
}

/// Endpoints at `urls`, and five rewards issued and queued for each of them.
async fn five_rewards_queued_for<const N: usize>(
    store: &store::Store,
    urls: [&str; N],
) -> [engine::WebhookEndpoint; N] {
    store.install_campaign(&spec(ORDERS)).await.unwrap();
    let mut endpoints = Vec::new();
    for url in urls {
        let ep = store
            .create_webhook_endpoint(&input(url), "whsec_AAAA")
            .await
            .unwrap();
        endpoints.push(ep);
    }
    let events: Vec<_> = (0..5)
        .map(|i| event(&format!("e{i}"), "c", "order", "2026-12-01T10:00:00Z"))
        .collect();
    store.process_batch(&events).await.unwrap();
    while store.dispatch_outbox(10).await.unwrap() > 0 {}
    endpoints.try_into().unwrap()
}

#[tokio::test]
async fn attempts_recorded_together_settle_each_message_by_its_outcome_and_lease() {
    for db in databases().await {
        let store = &db.store;
        let [ep] = five_rewards_queued_for(store, ["http://x/hook"]).await;
        let lease = Duration::from_secs(60);
        let mine = store
            .claim_webhook_messages("a", lease, 4, 4, &HashMap::new(), false)
            .await
            .unwrap();
        let theirs = store
            .claim_webhook_messages("b", lease, 4, 4, &HashMap::new(), false)
            .await
            .unwrap();
        assert_eq!((mine.len(), theirs.len()), (4, 1));
        let ids: Vec<i64> = mine.iter().map(|d| d.message.id).collect();
        let foreign = theirs[0].message.id;
        // Retried at once: due again as soon as it is recorded.
        let later = chrono::Utc::now();
        let kept = store
            .record_webhook_attempts(
                "a",
                &[
                    (ids[0], attempt(200), AttemptOutcome::Delivered),
                    (ids[1], attempt(503), AttemptOutcome::Retry(later)),
                    (ids[2], attempt(500), AttemptOutcome::Failed),
                    (ids[3], attempt(204), AttemptOutcome::Delivered),
                    // Leased by "b": not kept, and "b"'s lease stays.
                    (foreign, attempt(200), AttemptOutcome::Delivered),
                    // The same message twice: the first one let go of the lease.
                    (ids[0], attempt(200), AttemptOutcome::Delivered),
                ],
            )
            .await
            .unwrap();
        assert_eq!(kept, [true, true, true, true, false, false]);
        let all = store.webhook_messages(ep.id, None, None, 10).await.unwrap();
        let by_id = |id: i64| all.iter().find(|m| m.id == id).unwrap().clone();
        for (id, status) in [
            (ids[0], DeliveryStatus::Delivered),
            (ids[1], DeliveryStatus::Pending),
            (ids[2], DeliveryStatus::Failed),
            (ids[3], DeliveryStatus::Delivered),
            (foreign, DeliveryStatus::Pending),
        ] {
            let m = by_id(id);
            assert_eq!(m.status, status, "message {id}");
            let attempts = store.webhook_attempts(id).await.unwrap();
            assert_eq!(attempts.len(), usize::from(id != foreign), "message {id}");
            assert_eq!(m.attempts, u32::from(id != foreign), "message {id}");
            assert_eq!(
                m.delivered_at.is_some(),
                status == DeliveryStatus::Delivered
            );
        }
        assert_eq!(
            store.webhook_attempts(ids[1]).await.unwrap()[0].http_status,
            Some(503)
        );
        let retry = by_id(ids[1]).next_attempt_at.unwrap();
        assert_eq!(retry.timestamp_millis(), later.timestamp_millis());
        // "b" still holds its message: its own result is kept.
        let kept = store
            .record_webhook_attempts("b", &[(foreign, attempt(200), AttemptOutcome::Delivered)])
            .await
            .unwrap();
        assert_eq!(kept, [true]);
        let stats = store.delivery_stats().await.unwrap();
        assert_eq!((stats.pending, stats.failed), (1, 1));
        assert_eq!(stats.oldest_pending, Some(by_id(ids[1]).created_at));
        // The retried message's lease was let go: it alone is due, and leased again.
        let again = store
            .claim_webhook_messages("c", lease, 10, 10, &HashMap::new(), false)
            .await
            .unwrap();
        assert_eq!(
            again.iter().map(|d| d.message.id).collect::<Vec<_>>(),
            [ids[1]]
        );
        assert_eq!(again[0].message.attempts, 1);
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn a_claim_leases_each_endpoint_up_to_its_room_oldest_first() {
    for db in databases().await {
        let store = &db.store;
        let [a, b] = five_rewards_queued_for(store, ["http://a/hook", "http://b/hook"]).await;
        let lease = Duration::from_secs(60);
        let endpoints = |due: &[engine::DueMessage]| {
            let mut ids: Vec<i64> = due.iter().map(|d| d.message.endpoint_id).collect();
            ids.sort_unstable();
            ids
        };
        // "x" already holds two of a's messages: a has room for one more, b for three.
        let held = HashMap::from([(a.id, 2)]);
        let due = store
            .claim_webhook_messages("x", lease, 10, 3, &held, false)
            .await
            .unwrap();
        assert_eq!(endpoints(&due), [a.id, b.id, b.id, b.id]);
        // Each endpoint's oldest first.
        let a_messages = store.webhook_messages(a.id, None, None, 10).await.unwrap();
        let oldest = a_messages.iter().map(|m| m.id).min().unwrap();
        assert_eq!(
            due.iter()
                .find(|d| d.message.endpoint_id == a.id)
                .unwrap()
                .message
                .id,
            oldest
        );
        // The total bounds the claim; the endpoint with the most room comes first.
        let held = HashMap::from([(a.id, 1), (b.id, 3)]);
        let due = store
            .claim_webhook_messages("x", lease, 2, 5, &held, false)
            .await
            .unwrap();
        assert_eq!(endpoints(&due), [a.id, a.id]);
        // An endpoint without room is not read at all.
        let held = HashMap::from([(a.id, 5), (b.id, 4)]);
        let due = store
            .claim_webhook_messages("x", lease, 10, 5, &held, false)
            .await
            .unwrap();
        assert_eq!(endpoints(&due), [b.id]);
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn tidying_vacuums_and_analyses_the_relay_tables_on_postgres() {
    for db in databases().await {
        let store = &db.store;
        store.install_campaign(&spec(ORDERS)).await.unwrap();
        store
            .create_webhook_endpoint(&input("http://x/hook"), "whsec_AAAA")
            .await
            .unwrap();
        store
            .process_batch(&[event("e1", "c", "order", "2026-12-01T10:00:00Z")])
            .await
            .unwrap();
        while store.dispatch_outbox(10).await.unwrap() > 0 {}
        store.tidy_deliveries().await.unwrap();
        if let Some(schema) = &db.schema {
            use sea_orm::{ConnectionTrait, Database, Statement};
            let admin = Database::connect(&db.url).await.unwrap();
            let query = Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT count(*) FROM pg_stat_user_tables WHERE schemaname = $1 \
                 AND relname IN ('webhook_messages', 'outbox') \
                 AND last_vacuum IS NOT NULL AND last_analyze IS NOT NULL",
                [schema.clone().into()],
            );
            let deadline = std::time::Instant::now() + Duration::from_secs(10);
            loop {
                let row = admin.query_one_raw(query.clone()).await.unwrap().unwrap();
                if row.try_get_by_index::<i64>(0).unwrap() == 2 {
                    break;
                }
                assert!(std::time::Instant::now() < deadline, "never vacuumed");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        db.drop_schema().await;
    }
}
