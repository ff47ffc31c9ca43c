//! Reward delivery (DESIGN §9) through the real server and a real receiver on an ephemeral
//! port, on SQLite and PostgreSQL: signed messages, retries after failures and timeouts,
//! `Retry-After`, 410, disabled and deleted endpoints, filters, rotation, redelivery and
//! recovery, private targets, and two nodes sharing one database.

use crate::common::{TestServer, backends, event};
use crate::receiver::{Receiver, Reply, signed_by};
use serde_json::{Value, json};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(30);

/// A published campaign `key` that issues `kind` 10 on every `order` event.
pub(crate) async fn campaign(server: &TestServer, key: &str, kind: &str) {
    let source = format!(
        "key: {key}\nname: {key}\ngoal: {{kind: count, when: 'event.type == \"order\"', target: 1}}\nrewards: [{{kind: {kind}, amount: 10}}]\nlimits: {{per_customer: 1000}}\n"
    );
    server
        .data(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({ "s": source }),
        )
        .await;
    server
        .data(
            "mutation($k: String!) { publishCampaign(key: $k) { version } }",
            json!({ "k": key }),
        )
        .await;
}

/// Sends `n` orders by `customer`, ids prefixed `prefix`.
pub(crate) async fn orders(server: &TestServer, prefix: &str, customer: &str, n: usize) {
    let events: Vec<Value> = (0..n)
        .map(|i| {
            event(
                &format!("{prefix}-{i}"),
                customer,
                "order",
                "2026-12-01T10:00:00Z",
                json!({}),
            )
        })
        .collect();
    let answer = server
        .data(
            "mutation($e: [JSON!]!) { ingestEvents(events: $e) { counts { processed } } }",
            json!({ "e": events }),
        )
        .await;
    assert_eq!(answer["ingestEvents"]["counts"]["processed"], n);
}

/// Creates an endpoint; answers its id and secret.
async fn endpoint(server: &TestServer, url: &str, extra: Value) -> (String, String) {
    let mut input = json!({ "url": url, "description": "test" });
    if let (Value::Object(i), Value::Object(e)) = (&mut input, extra) {
        i.extend(e);
    }
    let created = server
        .data(
            "mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { endpoint { id url enabled } secret } }",
            json!({ "i": input }),
        )
        .await;
    let c = &created["createWebhookEndpoint"];
    assert_eq!(c["endpoint"]["url"], url);
    assert_eq!(c["endpoint"]["enabled"], true);
    let secret = c["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{secret}");
    (c["endpoint"]["id"].as_str().unwrap().to_owned(), secret)
}

/// An endpoint's deliveries, newest first.
pub(crate) async fn deliveries(server: &TestServer, id: &str) -> Vec<Value> {
    let d = server
        .data(
            "query($id: ID!) { webhookDeliveries(endpointId: $id, first: 100) { edges { node { id webhookId body status nextAttemptAt attempts { httpStatus error durationMs } } } } }",
            json!({ "id": id }),
        )
        .await;
    d["webhookDeliveries"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

/// Waits until every delivery of endpoint `id` has `status`, and there are `n`.
pub(crate) async fn wait_status(
    server: &TestServer,
    id: &str,
    n: usize,
    status: &str,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let list = deliveries(server, id).await;
        if list.len() == n && list.iter().all(|d| d["status"] == status) {
            return list;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "waiting for {n} {status} deliveries: {list:#?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn fast(c: &mut api::config::Config) {
    c.webhook_allow_private_targets = true;
    c.webhook_retry_schedule = "50ms,50ms,50ms".into();
    c.webhook_timeout_ms = 2_000;
}

#[tokio::test]
async fn failures_then_success_signed_with_one_id_and_body() {
    for backend in backends() {
        let server = TestServer::start(backend, fast).await;
        campaign(&server, "orders", "points").await;
        let receiver = Receiver::start(Reply::Status(200)).await;
        receiver.script(&[Reply::Status(500), Reply::Status(502)]);
        let (id, secret) = endpoint(&server, &receiver.url, json!({})).await;
        orders(&server, "e", "c1", 1).await;
        let list = wait_status(&server, &id, 1, "DELIVERED").await;
        let got = receiver.received();
        assert_eq!(got.len(), 3, "{backend}");
        assert!(got.iter().all(|r| signed_by(r, &secret)), "{backend}");
        assert!(
            got.iter()
                .all(|r| r.id == got[0].id && r.body == got[0].body)
        );
        assert_eq!(list[0]["webhookId"], got[0].id.as_str());
        let statuses: Vec<&Value> = list[0]["attempts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| &a["httpStatus"])
            .collect();
        assert_eq!(statuses, [&json!(500), &json!(502), &json!(200)]);
        // The body as the contract says, with the ledger's id.
        let body: Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(body["type"], "reward.issued");
        let data = &body["data"];
        for (field, value) in [
            ("campaign", json!("orders")),
            ("campaign_version", json!(1)),
            ("customer_id", json!("c1")),
            ("event_id", json!("e-0")),
            ("cycle", json!(1)),
            ("reward_index", json!(0)),
            ("kind", json!("points")),
            ("amount", json!(10)),
        ] {
            assert_eq!(data[field], value, "{backend}: data.{field}");
        }
        assert_eq!(body["timestamp"], data["issued_at"]);
        let ledger = server.app.store().rewards().await.unwrap();
        assert_eq!(data["id"], ledger[0].id);
        assert_eq!(got[0].id, format!("msg_{}", ledger[0].id));
        // Metrics: attempts by outcome, commit-to-delivery latency, nothing left pending.
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let (_, text) = server.get("/metrics").await;
            if text.contains(
                "offerflow_webhook_attempts_total{transport=\"http\",outcome=\"delivered\"} 1",
            ) {
                assert!(text.contains(
                    "offerflow_webhook_attempts_total{transport=\"http\",outcome=\"retry\"} 2"
                ));
                assert!(
                    text.contains("offerflow_webhook_delivery_seconds_count 1"),
                    "{text}"
                );
                assert!(text.contains("offerflow_webhook_messages{status=\"pending\"} 0"));
                assert!(text.contains("offerflow_webhook_oldest_pending_seconds 0"));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "{text}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        server.stop().await;
    }
}

#[tokio::test]
async fn timeouts_fail_after_the_schedule_and_redelivery_sends_again() {
    for backend in backends() {
        let server = TestServer::start(backend, |c| {
            fast(c);
            c.webhook_timeout_ms = 200;
            c.webhook_retry_schedule = "50ms".into();
        })
        .await;
        campaign(&server, "orders", "points").await;
        let receiver = Receiver::start(Reply::Slow(Duration::from_secs(5))).await;
        let (id, secret) = endpoint(&server, &receiver.url, json!({})).await;
        orders(&server, "e", "c1", 1).await;
        let list = wait_status(&server, &id, 1, "FAILED").await;
        let attempts = list[0]["attempts"].as_array().unwrap();
        assert_eq!(attempts.len(), 2, "{backend}: {attempts:?}");
        for a in attempts {
            assert!(a["httpStatus"].is_null());
            assert!(a["error"].as_str().unwrap().contains("timeout"), "{a}");
        }
        assert!(list[0]["nextAttemptAt"].is_null());
        receiver.answer(Reply::Status(204));
        let again = server
            .data(
                "mutation($id: ID!) { redeliverWebhook(id: $id) { status } }",
                json!({ "id": list[0]["id"] }),
            )
            .await;
        assert_eq!(again["redeliverWebhook"]["status"], "PENDING");
        wait_status(&server, &id, 1, "DELIVERED").await;
        let got = receiver.received();
        assert_eq!(got.len(), 3);
        assert!(
            got.iter()
                .all(|r| signed_by(r, &secret) && r.id == got[0].id)
        );
        server.stop().await;
    }
}

#[tokio::test]
async fn retry_after_is_waited_and_410_disables_the_endpoint() {
    for backend in backends() {
        let server = TestServer::start(backend, fast).await;
        campaign(&server, "orders", "points").await;
        let receiver = Receiver::start(Reply::Status(200)).await;
        receiver.script(&[Reply::RetryAfter(429, 1)]);
        let (id, _) = endpoint(&server, &receiver.url, json!({})).await;
        orders(&server, "e", "c1", 1).await;
        wait_status(&server, &id, 1, "DELIVERED").await;
        let got = receiver.received();
        assert_eq!(got.len(), 2);
        let waited = got[1].at - got[0].at;
        assert!(
            waited >= Duration::from_millis(950),
            "{backend}: {waited:?}"
        );

        let gone = Receiver::start(Reply::Status(410)).await;
        let (gone_id, _) = endpoint(&server, &gone.url, json!({})).await;
        orders(&server, "f", "c1", 1).await;
        gone.wait_for(1, WAIT).await;
        let deadline = std::time::Instant::now() + WAIT;
        loop {
            let all = server
                .data(
                    "{ webhookEndpoints { id enabled disabledReason } }",
                    json!({}),
                )
                .await;
            let e = all["webhookEndpoints"]
                .as_array()
                .unwrap()
                .iter()
                .find(|e| e["id"] == gone_id.as_str())
                .cloned()
                .unwrap();
            if e["enabled"] == false {
                assert!(e["disabledReason"].as_str().unwrap().contains("410"));
                break;
            }
            assert!(std::time::Instant::now() < deadline, "not disabled: {e}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Nothing more reaches it, while the other endpoint gets the next reward.
        orders(&server, "g", "c1", 1).await;
        wait_status(&server, &id, 3, "DELIVERED").await;
        assert_eq!(gone.received().len(), 1, "{backend}");
        server.stop().await;
    }
}

#[tokio::test]
async fn disabled_and_deleted_endpoints_get_nothing_more_and_filters_hold() {
    for backend in backends() {
        let server = TestServer::start(backend, fast).await;
        campaign(&server, "orders", "points").await;
        campaign(&server, "coupons", "coupon").await;
        let witness = Receiver::start(Reply::Status(200)).await;
        let disabled = Receiver::start(Reply::Status(200)).await;
        let deleted = Receiver::start(Reply::Status(200)).await;
        let coupons = Receiver::start(Reply::Status(200)).await;
        let (witness_id, _) = endpoint(&server, &witness.url, json!({})).await;
        let (disabled_id, _) = endpoint(&server, &disabled.url, json!({})).await;
        let (deleted_id, _) = endpoint(&server, &deleted.url, json!({})).await;
        endpoint(&server, &coupons.url, json!({ "kinds": ["COUPON"] })).await;
        let by_campaign = Receiver::start(Reply::Status(200)).await;
        endpoint(
            &server,
            &by_campaign.url,
            json!({ "campaigns": ["orders"] }),
        )
        .await;
        orders(&server, "a", "c1", 1).await;
        // Each order completes both campaigns: two rewards.
        wait_status(&server, &witness_id, 2, "DELIVERED").await;
        disabled.wait_for(2, WAIT).await;
        deleted.wait_for(2, WAIT).await;
        coupons.wait_for(1, WAIT).await;
        by_campaign.wait_for(1, WAIT).await;
        server
            .data(
                "mutation($id: ID!) { disableWebhookEndpoint(id: $id) { enabled } }",
                json!({ "id": disabled_id }),
            )
            .await;
        let gone = server
            .data(
                "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { id } }",
                json!({ "id": deleted_id }),
            )
            .await;
        assert_eq!(gone["deleteWebhookEndpoint"]["id"], deleted_id.as_str());
        orders(&server, "b", "c1", 2).await;
        wait_status(&server, &witness_id, 6, "DELIVERED").await;
        assert_eq!(disabled.received().len(), 2, "{backend}");
        assert_eq!(deleted.received().len(), 2, "{backend}");
        let coupon_bodies: Vec<Value> = coupons
            .wait_for(3, WAIT)
            .await
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect();
        assert!(coupon_bodies.iter().all(|b| b["data"]["kind"] == "coupon"));
        let campaign_bodies: Vec<Value> = by_campaign
            .wait_for(3, WAIT)
            .await
            .iter()
            .map(|r| serde_json::from_str(&r.body).unwrap())
            .collect();
        assert!(
            campaign_bodies
                .iter()
                .all(|b| b["data"]["campaign"] == "orders")
        );
        // A deleted endpoint is gone; its log too.
        let err = server
            .error(
                "query($id: ID!) { webhookDeliveries(endpointId: $id) { edges { cursor } } }",
                json!({ "id": deleted_id }),
            )
            .await;
        assert_eq!(err["extensions"]["code"], "NOT_FOUND");
        // Recovery sends the disabled endpoint what it missed, once enabled.
        server
            .data(
                "mutation($id: ID!) { enableWebhookEndpoint(id: $id) { enabled } }",
                json!({ "id": disabled_id }),
            )
            .await;
        let recovered = server
            .data(
                "mutation($id: ID!) { recoverWebhookEndpoint(id: $id, since: \"2000-01-01T00:00:00Z\") }",
                json!({ "id": disabled_id }),
            )
            .await;
        assert_eq!(recovered["recoverWebhookEndpoint"], 4, "{backend}");
        wait_status(&server, &disabled_id, 6, "DELIVERED").await;
        server.stop().await;
    }
}

#[tokio::test]
async fn a_rotated_secret_signs_with_both_and_private_targets_are_refused() {
    for backend in backends() {
        let server = TestServer::start(backend, fast).await;
        campaign(&server, "orders", "points").await;
        let receiver = Receiver::start(Reply::Status(200)).await;
        let (id, old) = endpoint(&server, &receiver.url, json!({})).await;
        let rotated = server
            .data(
                "mutation($id: ID!) { rotateWebhookSecret(id: $id) { endpoint { id } secret } }",
                json!({ "id": id }),
            )
            .await;
        let new = rotated["rotateWebhookSecret"]["secret"].as_str().unwrap();
        assert_ne!(new, old);
        orders(&server, "e", "c1", 1).await;
        let got = receiver.wait_for(1, WAIT).await;
        assert_eq!(got[0].signature.split(' ').count(), 2);
        assert!(signed_by(&got[0], &old) && signed_by(&got[0], new));
        server.stop().await;
    }
    let server = TestServer::start("sqlite", |_| {}).await;
    for url in [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest",
        "http://[::1]/",
        "http://10.0.0.8/",
    ] {
        let err = server
            .error(
                "mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
                json!({ "i": { "url": url } }),
            )
            .await;
        assert_eq!(err["extensions"]["code"], "VALIDATION", "{url}: {err}");
        assert_eq!(err["extensions"]["field"], "input.url", "{url}");
        assert!(
            err["message"].as_str().unwrap().contains("private"),
            "{err}"
        );
    }
    let err = server
        .error(
            "mutation { createWebhookEndpoint(input: {url: \"ftp://example.com\"}) { secret } }",
            json!({}),
        )
        .await;
    assert!(err["message"].as_str().unwrap().contains("http or https"));
    let err = server
        .error(
            "mutation { createWebhookEndpoint(input: {url: \"https://example.com\", campaigns: [\"Bad Key\"]}) { secret } }",
            json!({}),
        )
        .await;
    assert_eq!(err["extensions"]["field"], "input.campaigns[0]");
    server.stop().await;
}

/// Two nodes on one PostgreSQL database share the messages, and never attempt one at the
/// same time: the receiver is slow and fails half the time, so every message is retried.
#[tokio::test]
async fn two_nodes_never_attempt_one_message_at_once() {
    if !backends().contains(&"postgres") {
        return;
    }
    let server = TestServer::start("postgres", fast).await;
    let mut config = server.app.config().clone();
    config.listen = "127.0.0.1:0".parse().unwrap();
    let second = api::app::App::start(config).await.expect("second node");
    campaign(&server, "orders", "points").await;
    let receiver = Receiver::start(Reply::Slow(Duration::from_millis(100))).await;
    receiver.script(&[Reply::Status(500); 20]);
    let (id, _) = endpoint(&server, &receiver.url, json!({})).await;
    orders(&server, "e", "c1", 40).await;
    wait_status(&server, &id, 40, "DELIVERED").await;
    assert_eq!(
        receiver.overlaps(),
        0,
        "one message attempted twice at once"
    );
    let ids: std::collections::HashSet<String> =
        receiver.received().into_iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 40);
    second.shutdown().await;
    server.stop().await;
}

#[tokio::test]
async fn the_ledger_pages_by_campaign_and_time() {
    for backend in backends() {
        let server = TestServer::start(backend, |_| {}).await;
        campaign(&server, "orders", "points").await;
        campaign(&server, "coupons", "coupon").await;
        orders(&server, "e", "c1", 3).await;
        orders(&server, "f", "c2", 2).await;
        let query = "query($c: String, $from: DateTime, $to: DateTime, $after: String) { ledger(campaign: $c, from: $from, to: $to, first: 2, after: $after) { edges { cursor node { id campaign customerId eventId cycle rewardIndex kind amount issuedAt } } pageInfo { hasNextPage } } }";
        let mut after = Value::Null;
        let mut seen = Vec::new();
        loop {
            let page = server
                .data(query, json!({ "c": "orders", "after": after }))
                .await;
            let edges = page["ledger"]["edges"].as_array().unwrap().clone();
            for e in &edges {
                assert_eq!(e["node"]["campaign"], "orders");
                assert_eq!(e["node"]["kind"], "POINTS");
                seen.push(e["node"]["eventId"].as_str().unwrap().to_owned());
            }
            if page["ledger"]["pageInfo"]["hasNextPage"] != true {
                break;
            }
            after = edges.last().unwrap()["cursor"].clone();
        }
        assert_eq!(seen, ["e-0", "e-1", "e-2", "f-0", "f-1"], "{backend}");
        let all = server.app.store().rewards().await.unwrap();
        assert_eq!(all.len(), 10);
        let later = server
            .data(query, json!({ "from": "2100-01-01T00:00:00Z" }))
            .await;
        assert_eq!(later["ledger"]["edges"], json!([]));
        let earlier = server
            .data(query, json!({ "to": "2100-01-01T00:00:00Z" }))
            .await;
        assert_eq!(earlier["ledger"]["edges"].as_array().unwrap().len(), 2);
        server.stop().await;
    }
}
