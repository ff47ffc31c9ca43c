//! One scenario through the storage traits (`engine::ports`), on the memory implementation
//! and on the database (SQLite, and PostgreSQL when configured): the same answers, the same
//! ledger. The seam is real: code written against the traits runs on either.

mod common;

use common::*;
use engine::ports::{MemoryStore, Storage};
use engine::{Prepared, Reward, Status};
use std::fmt::Debug;

const ORDERS: &str = "key: orders\nname: n\naudience: 'customer.tier == \"gold\"'\ngoal: {kind: count, when: 'event.type == \"order\"', target: 2}\nrewards: [{kind: points, amount: 5}]\nlimits: {per_customer: 3, max_rewards: 2}\n";
const ORDERS_V2: &str = "key: orders\nname: n\naudience: 'customer.tier == \"gold\"'\ngoal: {kind: count, when: 'event.type == \"order\"', target: 1}\nrewards: [{kind: points, amount: 7}]\nlimits: {per_customer: 3, max_rewards: 2}\n";
const VISITS: &str = "key: a-visits\nname: n\ngoal: {kind: distinct, when: 'event.type == \"visit\"', value: 'event.page', target: 2}\nrewards: [{kind: badge, amount: 1}]\n";

/// What the scenario saw: each batch's statuses, a result read back, the ledger, a setting.
#[derive(Debug, PartialEq)]
struct Seen {
    statuses: Vec<Vec<Status>>,
    first_result: Option<Vec<String>>,
    ledger: Vec<Reward>,
    versions: Vec<i32>,
    setting: (String, String),
}

async fn scenario<S>(storage: &S) -> Seen
where
    S: Storage,
    S::Failure: Debug,
{
    let mut versions = vec![
        storage.install_campaign(&spec(ORDERS)).await.unwrap(),
        storage.install_campaign(&spec(ORDERS)).await.unwrap(),
        storage.install_campaign(&spec(VISITS)).await.unwrap(),
    ];
    for (id, tier) in [("gold-1", "gold"), ("gold-2", "gold"), ("plain", "bronze")] {
        let attributes = serde_json::json!({ "tier": tier });
        let customer = campaigns::Customer {
            id: id.into(),
            attributes: attributes.as_object().unwrap().clone(),
        };
        storage.upsert_customer(&customer).await.unwrap();
    }
    let at = |minute: u32| format!("2026-12-01T10:{minute:02}:00Z");
    let batches = vec![
        vec![
            event("e1", "gold-1", "order", &at(1)),
            event("e2", "plain", "order", &at(2)),
            event("e3", "gold-1", "order", &at(3)),
            event("e1", "gold-1", "order", &at(1)),
        ],
        vec![
            serde_json::json!({"id": "v1", "customer_id": "plain", "type": "visit", "occurred_at": at(4), "attributes": {"page": "a"}}),
            serde_json::json!({"id": "v2", "customer_id": "plain", "type": "visit", "occurred_at": at(5), "attributes": {"page": "b"}}),
            event("e1", "gold-1", "other", &at(1)),
            serde_json::json!({"id": "", "customer_id": "c", "type": "t", "occurred_at": at(6)}),
        ],
    ];
    let mut statuses = Vec::new();
    for batch in &batches {
        let results = storage.process(&Prepared::new(batch)).await.unwrap();
        statuses.push(results.iter().map(|r| r.status).collect());
    }
    // A new version applies from now on, with the progress and budget the first one left.
    versions.push(storage.install_campaign(&spec(ORDERS_V2)).await.unwrap());
    let later = vec![
        event("e4", "gold-2", "order", &at(7)),
        event("e5", "gold-1", "order", &at(8)),
    ];
    let results = storage.process(&Prepared::new(&later)).await.unwrap();
    statuses.push(results.iter().map(|r| r.status).collect());
    let first_result = storage
        .event_result("e3")
        .await
        .unwrap()
        .map(|r| r.rewards.iter().map(|w| w.campaign.clone()).collect());
    let profile = storage.customer("gold-1").await.unwrap().unwrap();
    assert_eq!(profile.attributes["tier"], "gold");
    let setting = (
        storage.setting_or_insert("k", "first").await.unwrap(),
        storage.setting_or_insert("k", "second").await.unwrap(),
    );
    Seen {
        statuses,
        first_result,
        ledger: storage.ledger().await.unwrap(),
        versions,
        setting,
    }
}

#[tokio::test]
async fn the_database_answers_as_the_memory_store_does() {
    let expected = scenario(&MemoryStore::new()).await;
    // What the scenario means, checked once on the reference.
    use Status::*;
    assert_eq!(
        expected.statuses,
        [
            vec![Processed, Processed, Processed, Duplicate],
            vec![Processed, Processed, Conflict, Rejected],
            vec![Processed, Processed],
        ]
    );
    assert_eq!(expected.versions, [1, 1, 1, 2]);
    assert_eq!(expected.first_result, Some(vec!["orders".to_owned()]));
    let ledger: Vec<_> = expected
        .ledger
        .iter()
        .map(|r| (r.campaign.as_str(), r.event_id.as_str(), r.cycle))
        .collect();
    // The budget of 2 is spent by e3 and e4; e5 gets nothing.
    assert_eq!(
        ledger,
        [
            ("orders", "e3", 1),
            ("a-visits", "v2", 1),
            ("orders", "e4", 1)
        ]
    );
    assert_eq!(expected.setting, ("first".to_owned(), "first".to_owned()));
    for db in databases().await {
        let seen = scenario(&db.store).await;
        assert_eq!(seen, expected, "{}", db.name);
        db.drop_schema().await;
    }
}
