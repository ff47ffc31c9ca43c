//! The database processor on SQLite (always) and PostgreSQL (when configured): the same
//! semantics as the in-memory processor, made durable and exactly-once.

mod common;

use common::*;
use engine::{Outcome, Status};

const ORDERS: &str = "key: orders\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 2}\nrewards: [{kind: points, amount: 10}, {kind: badge, amount: 1}]\nlimits: {per_customer: 2}\n";

#[tokio::test]
async fn duplicates_conflicts_rejects_and_rewards() {
    for db in databases().await {
        let store = &db.store;
        assert_eq!(store.install_campaign(&spec(ORDERS)).await.unwrap(), 1);
        assert_eq!(
            store.install_campaign(&spec(ORDERS)).await.unwrap(),
            1,
            "same spec, same version"
        );
        let e1 = event("e1", "c", "order", "2026-12-01T10:00:00Z");
        let mut e1_changed = e1.clone();
        e1_changed["attributes"] = serde_json::json!({"amount": 2});
        let e2 = event("e2", "c", "order", "2026-12-01T11:00:00Z");
        let bad = serde_json::json!({"id": "e3", "customer_id": "c", "type": "order", "occurred_at": "later"});
        let results = store
            .process_batch(&[e1.clone(), e1.clone(), e1_changed, bad, e2])
            .await
            .unwrap();
        let statuses: Vec<Status> = results.iter().map(|r| r.status).collect();
        assert_eq!(
            statuses,
            [
                Status::Processed,
                Status::Duplicate,
                Status::Conflict,
                Status::Rejected,
                Status::Processed
            ],
            "{}",
            db.name
        );
        assert_eq!(results[1].outcomes, results[0].outcomes);
        assert_eq!(results[3].error.as_ref().unwrap().field, "occurred_at");
        assert!(matches!(
            results[4].outcomes[0].outcome,
            Outcome::Completed { cycle: 1 }
        ));
        // A later batch still knows e1, and repeats its first outcome.
        let again = store.process_batch(&[e1]).await.unwrap();
        assert_eq!(again[0].status, Status::Duplicate);
        assert_eq!(again[0].outcomes, results[0].outcomes);
        let ledger = store.rewards().await.unwrap();
        assert_eq!(ledger.len(), 2, "{}", db.name);
        assert_eq!(
            (
                ledger[0].reward.cycle,
                ledger[0].reward.reward_index,
                ledger[0].reward.event_id.as_str()
            ),
            (1, 0, "e2")
        );
        assert_eq!(ledger[1].reward.reward_index, 1);
        let state = store.state("c", "orders").await.unwrap().unwrap();
        assert_eq!(state.cycle, 2);
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn budgets_stop_at_the_cap() {
    let capped = "key: capped\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 1}\nrewards: [{kind: points, amount: 1}]\nlimits: {per_customer: 2, max_rewards: 3}\n";
    for db in databases().await {
        db.store.install_campaign(&spec(capped)).await.unwrap();
        let events: Vec<_> = ["a", "a", "a", "b", "c"]
            .iter()
            .enumerate()
            .map(|(i, c)| {
                event(
                    &format!("e{i}"),
                    c,
                    "order",
                    &format!("2026-12-01T10:0{i}:00Z"),
                )
            })
            .collect();
        // One event per batch and all in one batch must agree.
        for (j, e) in events.iter().enumerate().take(2) {
            let r = db
                .store
                .process_batch(std::slice::from_ref(e))
                .await
                .unwrap();
            assert_eq!(r[0].status, Status::Processed, "{j}");
        }
        db.store.process_batch(&events[2..]).await.unwrap();
        let got: Vec<(String, u32)> = db
            .store
            .rewards()
            .await
            .unwrap()
            .into_iter()
            .map(|r| (r.reward.customer_id, r.reward.cycle))
            .collect();
        assert_eq!(
            got,
            [("a".into(), 1), ("a".into(), 2), ("b".into(), 1)],
            "{}",
            db.name
        );
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn customers_and_audiences() {
    let gold = "key: gold\nname: n\naudience: 'has(customer.tier) && customer.tier == \"gold\"'\ngoal: {kind: count, when: 'true', target: 1}\nrewards: [{kind: points, amount: 1}]\n";
    for db in databases().await {
        db.store.install_campaign(&spec(gold)).await.unwrap();
        let profile = |id: &str, tier: &str| campaigns::Customer {
            id: id.into(),
            attributes: serde_json::json!({"tier": tier})
                .as_object()
                .unwrap()
                .clone(),
        };
        db.store
            .upsert_customer(&profile("g", "silver"))
            .await
            .unwrap();
        db.store
            .upsert_customer(&profile("g", "gold"))
            .await
            .unwrap();
        db.store
            .upsert_customer(&profile("s", "silver"))
            .await
            .unwrap();
        db.store
            .process_batch(&[
                event("e1", "g", "x", "2026-12-01T10:00:00Z"),
                event("e2", "s", "x", "2026-12-01T10:00:00Z"),
            ])
            .await
            .unwrap();
        let ledger = db.store.rewards().await.unwrap();
        assert_eq!(ledger.len(), 1, "{}", db.name);
        assert_eq!(ledger[0].reward.customer_id, "g");
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn a_stale_cache_never_overrules_the_database() {
    let three = "key: three\nname: n\ngoal: {kind: count, when: 'true', target: 3}\nrewards: [{kind: points, amount: 1}]\n";
    for db in shared_databases().await {
        db.store.install_campaign(&spec(three)).await.unwrap();
        let other = db.reconnect().await;
        // `db.store` caches c's progress at version 1; `other` then moves it to version 2.
        db.store
            .process_batch(&[event("e1", "c", "x", "2026-12-01T10:00:00Z")])
            .await
            .unwrap();
        other
            .process_batch(&[event("e2", "c", "x", "2026-12-01T10:01:00Z")])
            .await
            .unwrap();
        // The stale entry fails the version check, is reloaded, and the third event completes.
        let r = db
            .store
            .process_batch(&[event("e3", "c", "x", "2026-12-01T10:02:00Z")])
            .await
            .unwrap();
        assert!(
            matches!(r[0].outcomes[0].outcome, Outcome::Completed { cycle: 1 }),
            "{}: {r:?}",
            db.name
        );
        assert_eq!(db.store.rewards().await.unwrap().len(), 1);
        db.drop_schema().await;
    }
}
