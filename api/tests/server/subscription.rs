//! `offerUpdates` over a real WebSocket (graphql-transport-ws): progress, then the reward;
//! and credentials held for a connection's whole life: a revoked key or an expired customer
//! token ends its subscriptions and its connection, over both protocols, whether the
//! credential came in the upgrade's header or in `connection_init`.

use crate::common::{TestServer, event, ndjson};
use crate::ws::{Client, PROTOCOLS, expect_ended, key, token, updates, wait_running, wait_until};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const CAMPAIGN: &str = r#"
key: two-opens
name: Open the app twice
goal: {kind: count, when: 'event.type == "app.opened"', target: 2}
rewards: [{kind: badge, amount: 1}]
"#;

/// Creates and publishes [`CAMPAIGN`].
async fn publish_two_opens(server: &TestServer) {
    server
        .data(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({"s": CAMPAIGN}),
        )
        .await;
    server
        .data(
            r#"mutation { publishCampaign(key: "two-opens") { version } }"#,
            json!({}),
        )
        .await;
}

#[tokio::test]
async fn offer_updates_arrive_over_a_websocket() {
    let server = TestServer::start("sqlite", |_| {}).await;
    publish_two_opens(&server).await;

    let url = format!("{}/graphql/ws", server.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    // A client app's way in: a customer token, given in the connection_init payload.
    let token = server
        .data(
            r#"mutation { createCustomerToken(customerId: "c9", ttlSeconds: 600) { token } }"#,
            json!({}),
        )
        .await["createCustomerToken"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("websocket");
    let send = |v: Value| Message::Text(v.to_string().into());
    socket
        .send(send(json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {token}")}})))
        .await
        .expect("init");
    assert_eq!(next(&mut socket).await["type"], "connection_ack");
    socket
        .send(send(json!({"id": "1", "type": "subscribe", "payload": {"query":
            r#"subscription { offerUpdates(customerId: "c9") { customerId eventId
                offers { campaign status progress { current target } } rewards { campaign kind amount } } }"#}})))
        .await
        .expect("subscribe");
    // Events sent once the subscription reads the update feed reach it.
    crate::ws::wait_running(&server, 1).await;

    let first_events = [
        event(
            "x1",
            "someone-else",
            "app.opened",
            "2026-12-01T10:00:00Z",
            json!({}),
        ),
        event("a1", "c9", "app.opened", "2026-12-01T10:00:00Z", json!({})),
    ];
    let (status, _) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&first_events))
        .await;
    assert_eq!(status, 200);

    let first = next(&mut socket).await;
    assert_eq!(first["type"], "next", "{first}");
    let update = &first["payload"]["data"]["offerUpdates"];
    assert_eq!(
        update["eventId"], "a1",
        "other customers' events are not pushed"
    );
    assert_eq!(update["offers"][0]["status"], "IN_PROGRESS");
    assert_eq!(update["offers"][0]["progress"]["current"], 1.0);
    let second_event = [event(
        "a2",
        "c9",
        "app.opened",
        "2026-12-01T11:00:00Z",
        json!({}),
    )];
    let (status, _) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&second_event))
        .await;
    assert_eq!(status, 200);
    let second = next(&mut socket).await;
    let update = &second["payload"]["data"]["offerUpdates"];
    assert_eq!(update["eventId"], "a2");
    assert_eq!(update["offers"][0]["status"], "COMPLETED");
    assert_eq!(
        update["rewards"],
        json!([{"campaign": "two-opens", "kind": "BADGE", "amount": 1.0}])
    );
    // The token opens c9 only.
    socket
        .send(send(
            json!({"id": "2", "type": "subscribe", "payload": {"query":
            r#"subscription { offerUpdates(customerId: "c8") { eventId } }"#}}),
        ))
        .await
        .expect("subscribe");
    let refused = next(&mut socket).await;
    assert_eq!(refused["id"], "2");
    assert_eq!(refused["payload"]["data"], Value::Null, "{refused}");
    assert_eq!(
        refused["payload"]["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{refused}"
    );
    socket.close(None).await.ok();
    server.stop().await;
}

async fn next<S>(socket: &mut S) -> Value
where
    S: futures_util::Stream<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin,
{
    loop {
        let message = tokio::time::timeout(std::time::Duration::from_secs(10), socket.next())
            .await
            .expect("a message within 10 s")
            .expect("an open socket")
            .expect("a message");
        match message {
            Message::Text(text) => return serde_json::from_str(&text).expect("json"),
            Message::Ping(_) | Message::Pong(_) => continue,
            other => panic!("unexpected message {other:?}"),
        }
    }
}

/// Waits for the close that follows the end of every operation: code 4401, naming `why`.
async fn expect_closed(client: &mut Client, why: &str) {
    match client.next().await {
        crate::ws::Frame::Closed(code, reason) => {
            assert_eq!(code, 4401, "{reason}");
            assert!(reason.contains(why), "{reason}");
        }
        other => panic!("expected the close, got {other:?}"),
    }
}

#[tokio::test]
async fn a_revoked_key_ends_its_subscriptions_at_once() {
    for backend in crate::common::backends() {
        let server = TestServer::start(backend, |_| {}).await;
        // Another key's connection, which no revocation here touches.
        let (other, _) = key(&server, "bystander", "READ").await;
        let mut bystander = Client::open(&server, "graphql-transport-ws", &other, false).await;
        bystander.subscribe("z", &updates("c1")).await;
        wait_running(&server, 1).await;
        for protocol in PROTOCOLS {
            for in_header in [true, false] {
                let name = format!("app-{protocol}-{in_header}");
                let (secret, id) = key(&server, &name, "READ").await;
                let mut client = Client::open(&server, protocol, &secret, in_header).await;
                client.subscribe("a", &updates("c1")).await;
                client.subscribe("b", &updates("c2")).await;
                wait_running(&server, 3).await;
                server
                    .data(
                        &format!(r#"mutation {{ revokeApiKey(id: "{id}") {{ id }} }}"#),
                        json!({}),
                    )
                    .await;
                // Both operations end with the reason, in either order, then the socket closes.
                let mut ended = Vec::new();
                for _ in 0..2 {
                    let answer = client.next().await.json();
                    assert_eq!(answer["type"], client.next_type(), "{answer}");
                    let error = &answer["payload"]["errors"][0];
                    assert_eq!(error["extensions"]["code"], "UNAUTHORIZED", "{answer}");
                    let message = error["message"].as_str().unwrap();
                    assert!(
                        message.contains(&format!("`{name}` was revoked")),
                        "{message}"
                    );
                    let done = client.next().await.json();
                    assert_eq!(done["type"], "complete");
                    assert_eq!(done["id"], answer["id"]);
                    ended.push(answer["id"].as_str().unwrap().to_owned());
                }
                ended.sort();
                assert_eq!(ended, ["a", "b"], "{protocol}, header {in_header}");
                expect_closed(&mut client, "revoked").await;
                wait_running(&server, 1).await;
            }
        }
        // The bystander still runs: stopping its operation is answered.
        bystander.complete("z").await;
        assert_eq!(
            bystander.next().await.json(),
            json!({"type": "complete", "id": "z"})
        );
        wait_running(&server, 0).await;
        server.stop().await;
    }
}

#[tokio::test]
async fn an_expired_token_ends_its_subscriptions_at_its_expiry() {
    let server = TestServer::start("sqlite", |_| {}).await;
    // Every protocol, the token in the header or in connection_init, all at once.
    let mut clients = Vec::new();
    for protocol in PROTOCOLS {
        for in_header in [true, false] {
            let customer = format!("c-{protocol}-{in_header}");
            let token = token(&server, &customer, 3).await;
            let mut client = Client::open(&server, protocol, &token, in_header).await;
            client.subscribe("1", &updates(&customer)).await;
            clients.push(client);
        }
    }
    wait_running(&server, clients.len() as u64).await;
    for client in &mut clients {
        let message = expect_ended(client, "1", "UNAUTHORIZED").await;
        assert!(message.contains("customer token expired"), "{message}");
        expect_closed(client, "expired").await;
    }
    wait_running(&server, 0).await;
    server.stop().await;
}

#[tokio::test]
async fn a_key_revoked_by_another_node_ends_subscriptions_within_the_bound() {
    for backend in crate::common::backends() {
        let server = TestServer::start(backend, |_| {}).await;
        let (secret, id) = key(&server, "elsewhere", "READ").await;
        let mut client = Client::open(&server, "graphql-transport-ws", &secret, false).await;
        client.subscribe("1", &updates("c1")).await;
        wait_running(&server, 1).await;
        // Another node: its own service on the same database.
        let config = api::config::Config {
            database_url: server.database_url.clone(),
            ..Default::default()
        };
        let other = api::app::App::start(config).await.expect("another node");
        other.keys().revoke(&id).await.expect("revoke");
        let bound = api::auth::KEY_RECHECK_SECONDS + api::auth::KEY_CACHE_SECONDS;
        let started = std::time::Instant::now();
        let answer = client
            .next_within(Duration::from_secs(bound + 5))
            .await
            .json();
        assert!(
            started.elapsed() <= Duration::from_secs(bound + 1),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(
            answer["payload"]["errors"][0]["extensions"]["code"], "UNAUTHORIZED",
            "{answer}"
        );
        assert_eq!(client.next().await.json()["type"], "complete");
        expect_closed(&mut client, "revoked").await;
        wait_until("the count released", Duration::from_secs(5), || async {
            crate::ws::gauge(&server, "offerflow_subscriptions").await == 0
        })
        .await;
        other.shutdown().await;
        server.stop().await;
    }
}

/// Nodes on one PostgreSQL database hear each other's commits (`LISTEN`/`NOTIFY`): a
/// subscriber on one node receives the update for an event ingested through another, within
/// a second, and the other node's offers view is fresh at once.
#[tokio::test]
async fn a_subscriber_hears_events_ingested_by_another_node() {
    if std::env::var("OFFERFLOW_TEST_POSTGRES_URL").is_err() {
        eprintln!("OFFERFLOW_TEST_POSTGRES_URL is not set: the cross-node test is skipped");
        return;
    }
    let server = TestServer::start("postgres", |_| {}).await;
    publish_two_opens(&server).await;
    // The subscriber's node has read the customer's offers first (its view is cached).
    let offers = r#"{ customer(id: "c7") { offers(at: "2026-12-01T12:00:00Z") { campaign progress { current } } } }"#;
    let before = server.data(offers, json!({})).await;
    assert_eq!(
        before["customer"]["offers"][0]["progress"]["current"], 0.0,
        "{before}"
    );
    let (secret, _) = key(&server, "watcher", "READ").await;
    let mut client = Client::open(&server, "graphql-transport-ws", &secret, false).await;
    client
        .subscribe(
            "1",
            r#"subscription { offerUpdates(customerId: "c7") { eventId rewards { campaign } } }"#,
        )
        .await;
    wait_running(&server, 1).await;

    // Another node, on the same database, serving HTTP of its own.
    let other = TestServer::on(&server.database_url).await;
    let events = [
        event("x1", "c7", "app.opened", "2026-12-01T10:00:00Z", json!({})),
        event("x2", "c7", "app.opened", "2026-12-01T11:00:00Z", json!({})),
    ];
    let (status, _) = other
        .post("/v1/events", "application/x-ndjson", ndjson(&events[..1]))
        .await;
    assert_eq!(status, 200);
    let started = std::time::Instant::now();
    let first = client.next_within(Duration::from_secs(5)).await.json();
    assert_eq!(
        first["payload"]["data"]["offerUpdates"]["eventId"], "x1",
        "{first}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // The subscriber's node sees the progress at once, though its view was cached.
    let after = server.data(offers, json!({})).await;
    assert_eq!(
        after["customer"]["offers"][0]["progress"]["current"], 1.0,
        "{after}"
    );
    let (status, _) = other
        .post("/v1/events", "application/x-ndjson", ndjson(&events[1..]))
        .await;
    assert_eq!(status, 200);
    let second = client.next_within(Duration::from_secs(5)).await.json();
    assert_eq!(
        second["payload"]["data"]["offerUpdates"]["eventId"], "x2",
        "{second}"
    );
    assert_eq!(
        second["payload"]["data"]["offerUpdates"]["rewards"][0]["campaign"], "two-opens",
        "{second}"
    );
    client.close().await;
    other.stop().await;
    server.stop().await;
}
