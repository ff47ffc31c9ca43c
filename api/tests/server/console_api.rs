//! What the console reads that no other client did before: who is asking (`viewer`), a
//! campaign's rewards issued and budget left, and a customer's latest events with outcomes.

use crate::common::{TestServer, event, ndjson};
use api::auth::Scope;
use serde_json::json;

const CAPPED: &str = "key: first-two
name: First two orders win
goal: {kind: count, when: 'event.type == \"order.completed\"', target: 1}
rewards: [{kind: points, amount: 50}]
limits: {per_customer: 1, max_rewards: 2}
";

#[tokio::test]
async fn viewer_names_the_key_and_its_scopes() {
    let server = TestServer::start("sqlite", |_| {}).await;
    let me = server
        .data("{ viewer { name scopes customerId } }", json!({}))
        .await;
    assert_eq!(
        me["viewer"],
        json!({"name": "test-admin", "scopes": ["ADMIN"], "customerId": null})
    );
    let reader = server
        .app
        .keys()
        .create("dashboard", &[Scope::Author, Scope::Read])
        .await
        .unwrap()
        .secret;
    let answer = server
        .graphql_as(Some(&reader), "{ viewer { name scopes } }", json!({}))
        .await;
    assert_eq!(
        answer["data"]["viewer"],
        json!({"name": "dashboard", "scopes": ["AUTHOR", "READ"]})
    );
    let token = server
        .data(
            r#"mutation { createCustomerToken(customerId: "c9") { token } }"#,
            json!({}),
        )
        .await["createCustomerToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let answer = server
        .graphql_as(
            Some(&token),
            "{ viewer { name scopes customerId } }",
            json!({}),
        )
        .await;
    assert_eq!(
        answer["data"]["viewer"],
        json!({"name": "customer", "scopes": [], "customerId": "c9"})
    );
    server.stop().await;
}

#[tokio::test]
async fn campaigns_count_rewards_and_budget_and_customers_show_their_events() {
    let server = TestServer::start("sqlite", |_| {}).await;
    server
        .data(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({"s": CAPPED}),
        )
        .await;
    let totals = "{ campaigns { nodes { key rewardsIssued budgetLeft } } }";
    let before = server.data(totals, json!({})).await;
    assert_eq!(
        before["campaigns"]["nodes"],
        json!([{"key": "first-two", "rewardsIssued": 0, "budgetLeft": null}]),
        "no budget before it is published"
    );
    server
        .data(
            r#"mutation { publishCampaign(key: "first-two") { version } }"#,
            json!({}),
        )
        .await;
    let events: Vec<_> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, c)| {
            event(
                &format!("e{i}"),
                c,
                "order.completed",
                &format!("2026-01-0{}T10:00:00Z", i + 1),
                json!({}),
            )
        })
        .chain([event(
            "bad",
            "c",
            "order.completed",
            "not a time",
            json!({}),
        )])
        .collect();
    let (status, answer) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&events))
        .await;
    assert_eq!(status, 200, "{answer}");
    let after = server.data(totals, json!({})).await;
    assert_eq!(
        after["campaigns"]["nodes"],
        json!([{"key": "first-two", "rewardsIssued": 2, "budgetLeft": 0}])
    );

    // c came third: the budget was spent, and the console can say so.
    let c = server
        .data(
            r#"{ customer(id: "c") { events(first: 5) { processedAt outcome {
                eventId status outcomes { campaign result reason } } } } }"#,
            json!({}),
        )
        .await;
    let list = c["customer"]["events"].as_array().unwrap();
    let e2 = list
        .iter()
        .find(|e| e["outcome"]["eventId"] == "e2")
        .unwrap_or_else(|| panic!("e2 among c's events: {list:?}"));
    assert_eq!(e2["outcome"]["status"], "PROCESSED");
    assert_eq!(
        e2["outcome"]["outcomes"],
        json!([{"campaign": "first-two", "result": "NOT_APPLICABLE", "reason": "BUDGET_EXHAUSTED"}])
    );
    let first = server
        .graphql(
            r#"{ customer(id: "c") { events(first: 0) { processedAt } } }"#,
            json!({}),
        )
        .await;
    assert!(
        first["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("first"),
        "{first}"
    );
    server.stop().await;
}
