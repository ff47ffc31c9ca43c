//! A GraphQL-over-WebSocket client for tests, speaking either protocol, and waits on
//! conditions.

use crate::common::TestServer;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Both protocols the server speaks.
pub const PROTOCOLS: [&str; 2] = ["graphql-transport-ws", "graphql-ws"];

/// What the server sent.
#[derive(Debug)]
pub enum Frame {
    /// A protocol message.
    Json(Value),
    /// The close frame (code, reason), or `(0, "")` when the socket ended without one.
    Closed(u16, String),
}

impl Frame {
    /// The message, or a panic naming what came instead.
    pub fn json(self) -> Value {
        match self {
            Frame::Json(v) => v,
            other => panic!("expected a message, got {other:?}"),
        }
    }
}

/// One connection.
pub struct Client {
    socket: Socket,
    /// `graphql-transport-ws` or `graphql-ws`.
    pub protocol: &'static str,
}

impl Client {
    /// Connects with `protocol`, with `header` as `Authorization: Bearer ...` if given; the
    /// HTTP status when the upgrade is refused.
    pub async fn connect(
        server: &TestServer,
        protocol: &'static str,
        header: Option<&str>,
    ) -> Result<Client, u16> {
        let url = format!("{}/graphql/ws", server.base.replacen("http", "ws", 1));
        let mut request = url.into_client_request().expect("request");
        request
            .headers_mut()
            .insert("sec-websocket-protocol", protocol.parse().expect("header"));
        if let Some(h) = header {
            request.headers_mut().insert(
                "authorization",
                format!("Bearer {h}").parse().expect("header"),
            );
        }
        // Small client buffers: the memory tests measure the server's, in this same process.
        let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
            .read_buffer_size(4096)
            .write_buffer_size(0);
        match tokio_tungstenite::connect_async_with_config(request, Some(config), true).await {
            Ok((socket, _)) => Ok(Client { socket, protocol }),
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                Err(response.status().as_u16())
            }
            Err(e) => panic!("websocket: {e}"),
        }
    }

    /// Connects and initialises with `credential` (in the header when `in_header`, else in
    /// the `connection_init` payload); panics unless acknowledged.
    pub async fn open(
        server: &TestServer,
        protocol: &'static str,
        credential: &str,
        in_header: bool,
    ) -> Client {
        let header = in_header.then_some(credential);
        let mut client = Client::connect(server, protocol, header)
            .await
            .expect("upgrade");
        let ack = client.init((!in_header).then_some(credential)).await;
        assert_eq!(ack.json()["type"], "connection_ack");
        client
    }

    /// Sends `connection_init` (with `credential` in its payload if given); the answer.
    pub async fn init(&mut self, credential: Option<&str>) -> Frame {
        let payload = match credential {
            Some(c) => json!({"Authorization": format!("Bearer {c}")}),
            None => json!({}),
        };
        self.send(json!({"type": "connection_init", "payload": payload}))
            .await;
        self.next().await
    }

    /// Sends a message.
    pub async fn send(&mut self, message: Value) {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .expect("send");
    }

    /// Sends raw text.
    pub async fn send_text(&mut self, text: String) {
        let _ = self.socket.send(Message::Text(text.into())).await;
    }

    /// Starts operation `id`.
    pub async fn subscribe(&mut self, id: &str, query: &str) {
        let kind = if self.protocol == "graphql-ws" {
            "start"
        } else {
            "subscribe"
        };
        self.send(json!({"id": id, "type": kind, "payload": {"query": query}}))
            .await;
    }

    /// Stops operation `id`.
    pub async fn complete(&mut self, id: &str) {
        let kind = if self.protocol == "graphql-ws" {
            "stop"
        } else {
            "complete"
        };
        self.send(json!({"id": id, "type": kind})).await;
    }

    /// The next message or the close, within 10 s.
    pub async fn next(&mut self) -> Frame {
        self.next_within(Duration::from_secs(10)).await
    }

    /// The next message or the close, within `limit`.
    pub async fn next_within(&mut self, limit: Duration) -> Frame {
        loop {
            let message = tokio::time::timeout(limit, self.socket.next())
                .await
                .expect("a message in time");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Frame::Json(serde_json::from_str(&text).expect("json"));
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(f) => Frame::Closed(f.code.into(), f.reason.to_string()),
                        None => Frame::Closed(0, String::new()),
                    };
                }
                Some(Ok(other)) => panic!("unexpected message {other:?}"),
                Some(Err(_)) | None => return Frame::Closed(0, String::new()),
            }
        }
    }

    /// The `next`/`data` message type of this protocol.
    pub fn next_type(&self) -> &'static str {
        if self.protocol == "graphql-ws" {
            "data"
        } else {
            "next"
        }
    }

    /// Closes the socket.
    pub async fn close(mut self) {
        let _ = self.socket.close(None).await;
    }
}

/// `offerUpdates` for `customer`.
pub fn updates(customer: &str) -> String {
    format!(r#"subscription {{ offerUpdates(customerId: "{customer}") {{ eventId }} }}"#)
}

/// Waits until `condition` holds, checking every 20 ms, for at most `limit`; panics naming
/// `what` otherwise.
pub async fn wait_until<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + limit;
    while !condition().await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "waited {limit:?} for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A gauge from `/metrics`.
/// (`u64::MAX` while the rate limit refuses the read, so that waits read it again.)
pub async fn gauge(server: &TestServer, name: &str) -> u64 {
    let (status, text) = server.get("/metrics").await;
    if status == 429 {
        return u64::MAX;
    }
    assert_eq!(status, 200, "{text}");
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in /metrics"))
}

/// Waits until the server runs `n` subscriptions, `n` of them reading the update feed.
pub async fn wait_running(server: &TestServer, n: u64) {
    wait_until(
        &format!("{n} subscriptions running"),
        Duration::from_secs(10),
        || async move {
            gauge(server, "offerflow_subscriptions").await == n
                && server.app.feed_readers() as u64 == n
        },
    )
    .await;
}

/// A key with `scopes` (GraphQL enum names) and its id.
pub async fn key(server: &TestServer, name: &str, scope: &str) -> (String, String) {
    let created = server
        .data(
            &format!(r#"mutation {{ createApiKey(name: "{name}", scopes: [{scope}]) {{ key apiKey {{ id }} }} }}"#),
            json!({}),
        )
        .await;
    (
        created["createApiKey"]["key"].as_str().unwrap().to_owned(),
        created["createApiKey"]["apiKey"]["id"]
            .as_str()
            .unwrap()
            .to_owned(),
    )
}

/// A customer token for `customer`, valid `seconds`.
pub async fn token(server: &TestServer, customer: &str, seconds: u64) -> String {
    server
        .data(
            &format!(r#"mutation {{ createCustomerToken(customerId: "{customer}", ttlSeconds: {seconds}) {{ token }} }}"#),
            json!({}),
        )
        .await["createCustomerToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The rest of an operation refused or ended with `code`: its error (in a `next`/`data`
/// message), then its completion. Answers the error message.
pub async fn expect_ended(client: &mut Client, id: &str, code: &str) -> String {
    let answer = client.next().await.json();
    assert_eq!(answer["type"], client.next_type(), "{answer}");
    assert_eq!(answer["id"], id, "{answer}");
    let error = &answer["payload"]["errors"][0];
    assert_eq!(error["extensions"]["code"], code, "{answer}");
    if let Some(limit) = error["extensions"]["limit"].as_str() {
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains(limit),
            "the message names {limit}: {answer}"
        );
    }
    let done = client.next().await.json();
    assert_eq!(done, json!({"type": "complete", "id": id}));
    error["message"].as_str().unwrap().to_owned()
}
