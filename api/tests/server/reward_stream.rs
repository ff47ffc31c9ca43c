//! The NATS reward stream (DESIGN §9): with `nats_url` set, every reward is also published to
//! JetStream with the webhook body and `Nats-Msg-Id` = the webhook id, counted as sent once
//! acked, logged as an endpoint of its own, and deduplicated by JetStream when sent again.
//!
//! Needs `OFFERFLOW_TEST_NATS_URL` (`.ci/run` sets it); skipped without it, failed under CI.

use crate::common::{TestServer, backends};
use crate::webhooks::{campaign, deliveries, orders, wait_status};
use async_nats::jetstream;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const WAIT: Duration = Duration::from_secs(30);

/// The test NATS server, or `None` (skipped) outside CI.
fn nats_url() -> Option<String> {
    match std::env::var("OFFERFLOW_TEST_NATS_URL") {
        Ok(url) => Some(url),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("CI must set OFFERFLOW_TEST_NATS_URL")
        }
        Err(_) => {
            eprintln!("OFFERFLOW_TEST_NATS_URL is not set: skipped");
            None
        }
    }
}

/// The messages of `stream`, in order, as (`Nats-Msg-Id`, body).
async fn stream_messages(js: &jetstream::Context, stream: &str) -> Vec<(String, Value)> {
    let Ok(mut s) = js.get_stream(stream).await else {
        return Vec::new();
    };
    let state = s.info().await.expect("stream info").state.clone();
    let mut messages = Vec::new();
    for seq in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let m = s.get_raw_message(seq).await.expect("message");
        let id = m
            .headers
            .get("Nats-Msg-Id")
            .map(|v| v.as_str().to_owned())
            .unwrap_or_default();
        messages.push((id, serde_json::from_slice(&m.payload).expect("JSON body")));
    }
    messages
}

/// Waits until `stream` holds `n` messages; answers them.
async fn wait_messages(js: &jetstream::Context, stream: &str, n: usize) -> Vec<(String, Value)> {
    let deadline = Instant::now() + WAIT;
    loop {
        let messages = stream_messages(js, stream).await;
        if messages.len() >= n {
            return messages;
        }
        assert!(
            Instant::now() < deadline,
            "waiting for {n} messages in {stream}: {messages:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn every_reward_is_published_once_with_its_webhook_id() {
    let Some(url) = nats_url() else { return };
    let js = jetstream::new(async_nats::connect(&url).await.expect("NATS"));
    for backend in backends() {
        let tag = format!("{}_{:08x}", std::process::id(), rand::random::<u32>());
        let (stream, subject) = (
            format!("OFFERFLOW_REWARDS_TEST_{tag}"),
            format!("offerflow.test.{tag}.rewards"),
        );
        let server = TestServer::start(backend, |c| {
            c.nats_url = url.clone();
            c.nats_rewards_stream = stream.clone();
            c.nats_rewards_subject = subject.clone();
            c.webhook_retry_schedule = "50ms,50ms".into();
        })
        .await;
        // The stream is an endpoint of its own, listed with its transport.
        let listed = server
            .data(
                "{ webhookEndpoints { id url transport enabled } }",
                json!({}),
            )
            .await;
        let endpoints = listed["webhookEndpoints"].as_array().unwrap();
        assert_eq!(endpoints.len(), 1, "{backend}: {endpoints:?}");
        assert_eq!(endpoints[0]["transport"], "NATS");
        assert_eq!(endpoints[0]["url"], format!("nats:{subject}"));
        let id = endpoints[0]["id"].as_str().unwrap().to_owned();

        campaign(&server, "orders", "points").await;
        orders(&server, "e", "c1", 3).await;
        let messages = wait_messages(&js, &stream, 3).await;
        let delivered = wait_status(&server, &id, 3, "DELIVERED").await;
        let ledger = server.app.store().rewards().await.unwrap();
        assert_eq!(ledger.len(), 3);
        for (entry, (msg_id, body)) in ledger.iter().zip(&messages) {
            assert_eq!(*msg_id, format!("msg_{}", entry.id), "{backend}");
            assert_eq!(body["type"], "reward.issued");
            assert_eq!(body["data"]["id"], entry.id);
            assert_eq!(body["data"]["customer_id"], "c1");
            // The same body the log keeps, and a webhook would carry.
            let logged = delivered
                .iter()
                .find(|d| d["webhookId"] == msg_id.as_str())
                .expect("logged");
            let logged_body: Value =
                serde_json::from_str(logged["body"].as_str().unwrap()).unwrap();
            assert_eq!(logged_body, *body);
            let attempts = logged["attempts"].as_array().unwrap();
            assert_eq!(attempts.len(), 1, "{attempts:?}");
            assert!(attempts[0]["error"].is_null() && attempts[0]["httpStatus"].is_null());
        }

        // Sent again, the message carries the same Nats-Msg-Id: JetStream keeps one copy.
        let again = delivered[0]["id"].as_str().unwrap().to_owned();
        server
            .data(
                "mutation($id: ID!) { redeliverWebhook(id: $id) { status } }",
                json!({ "id": again }),
            )
            .await;
        let deadline = Instant::now() + WAIT;
        loop {
            let list = deliveries(&server, &id).await;
            let m = list.iter().find(|d| d["id"] == again.as_str()).unwrap();
            if m["status"] == "DELIVERED" && m["attempts"].as_array().unwrap().len() == 2 {
                break;
            }
            assert!(Instant::now() < deadline, "{m}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(stream_messages(&js, &stream).await.len(), 3, "{backend}");

        // It follows nats_url: not changed, rotated or deleted over the API.
        for mutation in [
            "mutation($id: ID!) { updateWebhookEndpoint(id: $id, input: {description: \"x\"}) { id } }",
            "mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }",
            "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { id } }",
        ] {
            let error = server.error(mutation, json!({ "id": id })).await;
            assert!(
                error["message"]
                    .as_str()
                    .unwrap()
                    .contains("NATS reward stream"),
                "{backend}: {error}"
            );
        }
        let (_, metrics) = server.get("/metrics").await;
        assert!(
            metrics.contains(
                "offerflow_webhook_attempts_total{transport=\"nats\",outcome=\"delivered\"} 4"
            ),
            "{metrics}"
        );
        server.stop().await;
        js.delete_stream(&stream).await.expect("delete stream");
    }
}

#[tokio::test]
async fn a_publish_counts_as_sent_only_once_jetstream_acked_it() {
    let Some(url) = nats_url() else { return };
    let js = jetstream::new(async_nats::connect(&url).await.expect("NATS"));
    let tag = format!("{}_{:08x}", std::process::id(), rand::random::<u32>());
    let (stream, subject) = (
        format!("OFFERFLOW_REWARDS_UNACKED_{tag}"),
        format!("offerflow.test.{tag}.unacked"),
    );
    // A stream of that name exists, but does not hold the subject: no publish is acked.
    js.create_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![format!("offerflow.test.{tag}.other")],
        ..Default::default()
    })
    .await
    .expect("stream");
    let server = TestServer::start("sqlite", |c| {
        c.nats_url = url.clone();
        c.nats_rewards_stream = stream.clone();
        c.nats_rewards_subject = subject.clone();
        c.webhook_retry_schedule = "50ms".into();
        c.webhook_timeout_ms = 1_000;
    })
    .await;
    let listed = server.data("{ webhookEndpoints { id } }", json!({})).await;
    let id = listed["webhookEndpoints"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    campaign(&server, "orders", "points").await;
    orders(&server, "e", "c1", 1).await;
    let failed = wait_status(&server, &id, 1, "FAILED").await;
    let attempts = failed[0]["attempts"].as_array().unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(
        attempts.iter().all(|a| a["error"].is_string()),
        "{attempts:?}"
    );
    assert!(stream_messages(&js, &stream).await.is_empty());
    // Once the stream holds the subject, sending again is acked, and only then delivered.
    js.update_stream(jetstream::stream::Config {
        name: stream.clone(),
        subjects: vec![subject.clone()],
        ..Default::default()
    })
    .await
    .expect("update stream");
    server
        .data(
            "mutation($id: ID!) { redeliverWebhook(id: $id) { status } }",
            json!({ "id": failed[0]["id"] }),
        )
        .await;
    wait_status(&server, &id, 1, "DELIVERED").await;
    let messages = wait_messages(&js, &stream, 1).await;
    assert_eq!(messages[0].0, failed[0]["webhookId"].as_str().unwrap());
    server.stop().await;
    js.delete_stream(&stream).await.expect("delete stream");
}
