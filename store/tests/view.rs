//! A customer's view (`Store::customer_view`): read in one statement, it holds what the three
//! separate reads hold, and this store's writes drop it once they commit.

mod common;

use campaigns::Customer;
use common::*;
use engine::{CustomerView, Status, VIEW_REWARDS};
use store::Store;

const ORDERS: &str = "key: orders\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 1}\nrewards: [{kind: points, amount: 10}, {kind: coupon, amount: 1, code: SAVE}]\nlimits: {per_customer: 3}\n";
const VISITS: &str = "key: visits\nname: n\ngoal: {kind: count, when: 'event.type == \"visit\"', target: 5}\nrewards: [{kind: points, amount: 1}]\n";

/// The view as the separate reads give it.
async fn separately(store: &Store, id: &str) -> CustomerView {
    CustomerView {
        profile: store.customer(id).await.unwrap(),
        states: store.customer_states(id).await.unwrap(),
        rewards: store
            .customer_rewards(id, None, None, VIEW_REWARDS)
            .await
            .unwrap(),
    }
}

fn profile(id: &str, tier: &str) -> Customer {
    let attributes = serde_json::json!({"tier": tier, "age": 30, "tags": ["a"]});
    Customer {
        id: id.into(),
        attributes: attributes.as_object().unwrap().clone(),
    }
}

#[tokio::test]
async fn the_view_holds_what_the_separate_reads_hold() {
    for db in databases().await {
        let store = &db.store;
        store.install_campaign(&spec(ORDERS)).await.unwrap();
        store.install_campaign(&spec(VISITS)).await.unwrap();
        let empty = store.customer_view("nobody").await.unwrap();
        assert_eq!(*empty, CustomerView::default());
        assert!(empty.all_rewards());

        store.upsert_customer(&profile("c", "gold")).await.unwrap();
        let events = [
            event("e1", "c", "order", "2026-12-01T10:00:00Z"),
            event("e2", "c", "visit", "2026-12-01T11:00:00Z"),
            event("e3", "c", "order", "2026-12-02T10:00:00Z"),
            event("e4", "other", "order", "2026-12-02T10:00:00Z"),
        ];
        let results = store.process_batch(&events).await.unwrap();
        assert!(results.iter().all(|r| r.status == Status::Processed));
        let view = store.customer_view("c").await.unwrap();
        assert_eq!(*view, separately(store, "c").await);
        assert_eq!(view.profile, Some(profile("c", "gold")));
        assert_eq!(view.states.len(), 2);
        assert_eq!(view.rewards.len(), 4, "two completions of two rewards each");
        assert!(view.rewards.windows(2).all(|w| w[0].id < w[1].id));
        assert_eq!(view.rewards[1].reward.code.as_deref(), Some("SAVE"));
        assert!(view.rewards.iter().all(|r| r.reward.customer_id == "c"));
        db.drop_schema().await;
    }
}

#[tokio::test]
async fn this_stores_writes_drop_the_view() {
    for db in databases().await {
        let store = &db.store;
        store.install_campaign(&spec(ORDERS)).await.unwrap();
        store
            .upsert_customer(&profile("c", "silver"))
            .await
            .unwrap();
        let before = store.customer_view("c").await.unwrap();
        assert!(before.states.is_empty());

        let results = store
            .process_batch(&[event("e1", "c", "order", "2026-12-01T10:00:00Z")])
            .await
            .unwrap();
        assert_eq!(results[0].status, Status::Processed);
        let after = store.customer_view("c").await.unwrap();
        assert_eq!(after.states.len(), 1, "the batch dropped the view");
        assert_eq!(after.rewards.len(), 2);

        store.upsert_customer(&profile("c", "gold")).await.unwrap();
        let after = store.customer_view("c").await.unwrap();
        assert_eq!(
            after.profile,
            Some(profile("c", "gold")),
            "the upsert dropped it"
        );
        assert_eq!(*after, separately(store, "c").await);
        db.drop_schema().await;
    }
}
