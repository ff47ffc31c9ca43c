//! `offerUpdates` over a real WebSocket (graphql-transport-ws): progress, then the reward.

use crate::common::{TestServer, event, ndjson};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

const CAMPAIGN: &str = r#"
key: two-opens
name: Open the app twice
goal: {kind: count, when: 'event.type == "app.opened"', target: 2}
rewards: [{kind: badge, amount: 1}]
"#;

#[tokio::test]
async fn offer_updates_arrive_over_a_websocket() {
    let server = TestServer::start("sqlite", |_| {}).await;
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
    // The subscription is registered once the server has read the message; give it a moment.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

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
