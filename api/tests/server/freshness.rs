//! Offers read from each customer's cached view (profile, progress, rewards), yet show this
//! node's writes as soon as the call that made them returned, and other nodes' writes within
//! `store::VIEW_TTL`.

use crate::common::{TestServer, backends, event, ndjson};
use serde_json::{Value, json};

const ORDERS: &str = r#"
key: two-orders
name: Order twice, get 100 points
schedule: {starts_at: 2026-12-01T00:00:00Z, ends_at: 2027-01-01T00:00:00Z}
audience: 'customer.tier == "gold"'
goal: {kind: count, when: 'event.type == "order.completed"', target: 2}
rewards:
  - {kind: points, amount: 100}
limits: {per_customer: 1}
"#;

const OFFERS: &str = r#"query($id: String!) { customer(id: $id) {
    offers(at: "2026-12-05T00:00:00Z") { campaign status progress { current } rewardsEarned { eventId } }
} }"#;

async fn publish(server: &TestServer) {
    server
        .data(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({"s": ORDERS}),
        )
        .await;
    server
        .data(
            r#"mutation { publishCampaign(key: "two-orders") { version } }"#,
            json!({}),
        )
        .await;
}

/// The customer's offers: `[(campaign, status, current, rewards earned)]`.
async fn offers(server: &TestServer, id: &str) -> Vec<(String, String, f64, usize)> {
    let data = server.data(OFFERS, json!({ "id": id })).await;
    let list = data["customer"]["offers"].as_array().expect("offers");
    list.iter()
        .map(|o| {
            (
                o["campaign"].as_str().unwrap().to_owned(),
                o["status"].as_str().unwrap().to_owned(),
                o["progress"]["current"].as_f64().unwrap(),
                o["rewardsEarned"].as_array().unwrap().len(),
            )
        })
        .collect()
}

fn offer(status: &str, current: f64, rewards: usize) -> Vec<(String, String, f64, usize)> {
    vec![("two-orders".into(), status.into(), current, rewards)]
}

async fn upsert(server: &TestServer, id: &str, tier: &str) {
    server
        .data(
            "mutation($id: String!, $a: JSON!) { upsertCustomer(id: $id, attributes: $a) { id } }",
            json!({"id": id, "a": {"tier": tier}}),
        )
        .await;
}

fn order(id: &str, customer: &str) -> Value {
    event(
        id,
        customer,
        "order.completed",
        "2026-12-02T10:00:00Z",
        json!({}),
    )
}

#[tokio::test]
async fn offers_show_this_nodes_writes_as_soon_as_they_return() {
    for backend in backends() {
        let server = TestServer::start(backend, |_| {}).await;
        publish(&server).await;

        // Each read below follows a write whose call returned; each one would show the view
        // cached by the read before it if the write had not dropped it.
        upsert(&server, "c1", "bronze").await;
        assert_eq!(
            offers(&server, "c1").await,
            [],
            "{backend}: not in the audience"
        );
        upsert(&server, "c1", "gold").await;
        assert_eq!(
            offers(&server, "c1").await,
            offer("AVAILABLE", 0.0, 0),
            "{backend}"
        );

        let (status, answer) = server
            .post(
                "/v1/events",
                "application/x-ndjson",
                ndjson(&[order("e1", "c1")]),
            )
            .await;
        assert_eq!(status, 200, "{backend}: {answer}");
        assert_eq!(
            offers(&server, "c1").await,
            offer("IN_PROGRESS", 1.0, 0),
            "{backend}"
        );

        server
            .data(
                "mutation($e: [JSON!]!) { ingestEvents(events: $e) { counts { processed } } }",
                json!({"e": [order("e2", "c1")]}),
            )
            .await;
        assert_eq!(
            offers(&server, "c1").await,
            offer("COMPLETED", 2.0, 1),
            "{backend}"
        );

        // A profile change that takes the customer out of the audience keeps the offer they
        // have progress in.
        upsert(&server, "c1", "bronze").await;
        assert_eq!(
            offers(&server, "c1").await,
            offer("COMPLETED", 2.0, 1),
            "{backend}"
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn offers_show_another_nodes_writes_within_the_view_ttl() {
    for backend in backends() {
        let server = TestServer::start(backend, |_| {}).await;
        publish(&server).await;
        upsert(&server, "c2", "gold").await;
        assert_eq!(
            offers(&server, "c2").await,
            offer("AVAILABLE", 0.0, 0),
            "{backend}"
        );

        // Another node: its own store on the same database, whose writes this server's
        // caches never hear of.
        let other = store::Store::connect(&server.database_url)
            .await
            .expect("other node");
        let results = other
            .process_batch(&[order("n1", "c2")])
            .await
            .expect("batch");
        assert_eq!(results[0].status, engine::Status::Processed);
        tokio::time::sleep(store::VIEW_TTL + std::time::Duration::from_millis(100)).await;
        assert_eq!(
            offers(&server, "c2").await,
            offer("IN_PROGRESS", 1.0, 0),
            "{backend}"
        );
        server.stop().await;
    }
}
