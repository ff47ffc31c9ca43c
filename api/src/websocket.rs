//! GraphQL over WebSocket (`graphql-transport-ws` and the older `graphql-ws`), with the
//! connection's credentials held for its whole life and everything it may hold bounded.
//!
//! async-graphql runs the protocol; this module sits on both sides of it:
//! - **Credentials hold for the connection's life.** The credential that opened the
//!   connection (its `Authorization` header, else the `connection_init` payload) is a
//!   [`Lease`]. Before each update is sent it is checked again, and the connection is watched
//!   for the lease to lapse: at a customer token's expiry, at once when this node revokes
//!   the key, and within `KEY_RECHECK_SECONDS + KEY_CACHE_SECONDS` (15 s) when another node
//!   does. Then every running operation gets an `UNAUTHORIZED` error naming the reason and is
//!   completed, and the socket is closed with code 4401.
//! - **Bounded before the work.** Every `subscribe` message is counted before async-graphql
//!   sees it: per connection (`subscriptions_per_connection`), per API key or customer across
//!   connections (`subscriptions_per_credential`) and per node (`subscriptions_max`); past a
//!   bound the operation is answered with a `LIMIT_EXCEEDED` error and completed, and never
//!   starts. Connections are bounded per credential and per node; messages by
//!   `websocket_max_message_bytes` (code 1009), operation ids by [`MAX_ID_BYTES`]; a
//!   connection that sends no `connection_init`
//!   within [`INIT_SECONDS`] is closed (code 4408), one that reads nothing for
//!   [`SEND_SECONDS`] while the server has a message for it is dropped.
//! - **Released when it ends.** Each count is a [`Slot`] that gives itself back when dropped:
//!   when the operation completes, the client stops it, the server ends it, or the socket
//!   closes (the connection's slots are dropped with it).
//! - **Memory, measured** (tests in `api/tests/server/subscription_limits.rs`): a subscription
//!   holds about 12 KiB with an ordinary selection and about 140 KiB with the densest one a
//!   4 KiB message carries (async-graphql keeps each one's parsed document); a connection a
//!   few KiB more, with a [`BUFFER_BYTES`] read buffer and unbuffered writes.
//! - **Rate limited like requests.** Each operation started takes one request from its
//!   credential's rate limit (`rate_limit_per_second`); past it, `LIMIT_EXCEEDED` as above.

use crate::app::App;
use crate::auth::{Lease, Principal};
use crate::config::Config;
use crate::error::ApiError;
use crate::graphql::OfferflowSchema;
use async_graphql::http::{ClientMessage, WebSocketProtocols as Protocols, WsMessage};
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a connection may wait before its `connection_init`, in seconds.
pub const INIT_SECONDS: u64 = 10;

/// The read buffer of a connection, in bytes.
pub const BUFFER_BYTES: usize = 4 * 1024;

/// The longest operation id accepted, in bytes (ids are kept while their operation runs).
pub const MAX_ID_BYTES: usize = 128;

/// How long a message may wait for the client to read, in seconds, before the connection is
/// dropped (a client that stops reading holds nothing for longer).
pub const SEND_SECONDS: u64 = 30;

/// Refusal messages waiting to be sent on one connection, at most.
const REFUSALS_WAITING: usize = 256;

/// The counts of open connections and running subscriptions, and their bounds.
#[derive(Debug)]
pub struct Registry {
    per_connection: usize,
    per_credential: usize,
    subscriptions_max: usize,
    connections_per_credential: usize,
    connections_max: usize,
    counts: Mutex<Counts>,
}

#[derive(Debug, Default)]
struct Counts {
    connections: usize,
    subscriptions: usize,
    /// By credential (`key:<id>`, `customer:<id>`, `ip:<address>` with auth off).
    by: HashMap<String, Usage>,
}

#[derive(Debug, Default)]
struct Usage {
    connections: usize,
    subscriptions: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A socket, counted for the node.
    Socket,
    /// A connection with credentials, counted for them.
    Connection,
    /// A running operation, counted for its credential and the node.
    Subscription,
}

/// One counted connection or operation; dropping it gives the count back.
#[derive(Debug)]
pub struct Slot {
    registry: Arc<Registry>,
    bucket: String,
    kind: Kind,
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut counts = self.registry.lock();
        match self.kind {
            Kind::Socket => counts.connections -= 1,
            Kind::Subscription => counts.subscriptions -= 1,
            Kind::Connection => {}
        }
        if self.kind == Kind::Socket {
            return;
        }
        if let Some(usage) = counts.by.get_mut(&self.bucket) {
            match self.kind {
                Kind::Connection => usage.connections -= 1,
                _ => usage.subscriptions -= 1,
            }
            if usage.connections == 0 && usage.subscriptions == 0 {
                counts.by.remove(&self.bucket);
            }
        }
    }
}

impl Registry {
    /// Empty, with `config`'s bounds.
    pub fn new(config: &Config) -> Arc<Registry> {
        Arc::new(Registry {
            per_connection: config.subscriptions_per_connection,
            per_credential: config.subscriptions_per_credential,
            subscriptions_max: config.subscriptions_max,
            connections_per_credential: config.websocket_connections_per_credential,
            connections_max: config.websocket_max_connections,
            counts: Mutex::default(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Open WebSocket connections and running subscriptions on this node.
    pub fn open(&self) -> (usize, usize) {
        let counts = self.lock();
        (counts.connections, counts.subscriptions)
    }

    /// A socket, if the node has room for one more.
    pub fn socket(self: &Arc<Self>) -> Result<Slot, ApiError> {
        let mut counts = self.lock();
        if counts.connections >= self.connections_max {
            return Err(ApiError::LimitExceeded(format!(
                "this server has {} WebSocket connections open, its limit \
                 (websocket_max_connections); try again later",
                counts.connections
            )));
        }
        counts.connections += 1;
        Ok(self.slot(String::new(), Kind::Socket))
    }

    /// A connection for the credential `bucket`, if it has room for one more.
    pub fn connection(self: &Arc<Self>, bucket: &str) -> Result<Slot, ApiError> {
        let mut counts = self.lock();
        let usage = counts.by.entry(bucket.to_owned()).or_default();
        if usage.connections >= self.connections_per_credential {
            let open = usage.connections;
            drop(counts);
            return Err(ApiError::LimitExceeded(format!(
                "{open} connections open with this credential \
                 (websocket_connections_per_credential)"
            )));
        }
        usage.connections += 1;
        Ok(self.slot(bucket.to_owned(), Kind::Connection))
    }

    /// A subscription for the credential `bucket` on a connection running `running`, or the
    /// refusal with the setting it met.
    pub fn subscription(
        self: &Arc<Self>,
        bucket: &str,
        running: usize,
    ) -> Result<Slot, (ApiError, &'static str)> {
        let refuse =
            |setting: &'static str, what: String| Err((ApiError::LimitExceeded(what), setting));
        if running >= self.per_connection {
            return refuse(
                "subscriptions_per_connection",
                format!(
                    "this connection runs {running} subscriptions, its limit \
                 (subscriptions_per_connection); complete one first"
                ),
            );
        }
        let mut counts = self.lock();
        if counts.subscriptions >= self.subscriptions_max {
            return refuse(
                "subscriptions_max",
                format!(
                    "this server runs {} subscriptions, its limit (subscriptions_max); try again later",
                    counts.subscriptions
                ),
            );
        }
        let usage = counts.by.entry(bucket.to_owned()).or_default();
        if usage.subscriptions >= self.per_credential {
            let running = usage.subscriptions;
            if usage.connections == 0 {
                counts.by.remove(bucket);
            }
            return refuse(
                "subscriptions_per_credential",
                format!(
                    "this credential runs {running} subscriptions across its connections, its limit \
                 (subscriptions_per_credential); complete one first"
                ),
            );
        }
        usage.subscriptions += 1;
        counts.subscriptions += 1;
        Ok(self.slot(bucket.to_owned(), Kind::Subscription))
    }

    fn slot(self: &Arc<Self>, bucket: String, kind: Kind) -> Slot {
        Slot {
            registry: Arc::clone(self),
            bucket,
            kind,
        }
    }
}

/// The lease a credential (an API key or a customer token) proves, or `UNAUTHORIZED`.
pub async fn lease(app: &App, credential: &str) -> Result<Lease, ApiError> {
    if !app.config().auth {
        return Ok(Lease::open(Principal::Open));
    }
    if credential.starts_with("ct1.") {
        let (principal, expires_at) = app.tokens().check(credential, chrono::Utc::now())?;
        Ok(Lease::token(principal, expires_at))
    } else {
        let principal = app.keys().verify(credential).await?;
        Ok(Lease::key(
            principal,
            app.keys().clone(),
            credential.to_owned(),
        ))
    }
}

/// The protocol a client asks for in `Sec-WebSocket-Protocol` (`graphql-transport-ws` or
/// `graphql-ws`), if it names one this server speaks.
pub fn protocol(headers: &axum::http::HeaderMap) -> Option<Protocols> {
    headers
        .get(axum::http::header::SEC_WEBSOCKET_PROTOCOL)?
        .to_str()
        .ok()?
        .split(',')
        .find_map(|p| p.trim().parse().ok())
}

/// What the upgrade request brought.
pub struct Session {
    /// The service.
    pub app: App,
    /// The schema that runs the operations.
    pub schema: OfferflowSchema,
    /// The counts.
    pub registry: Arc<Registry>,
    /// The protocol agreed.
    pub protocol: Protocols,
    /// The client's address (the credential with auth off).
    pub address: IpAddr,
    /// This socket's place among the node's connections.
    pub socket: Slot,
    /// The credential of the upgrade request's `Authorization` header, and its connection
    /// slot, if it had one.
    pub held: Option<(Lease, Slot)>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("protocol", &self.protocol)
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

/// One connection's state, shared by the input filter, the `connection_init` handler and the
/// loop that sends.
#[derive(Default)]
struct Connection {
    lease: Option<Lease>,
    credential: Option<Slot>,
    /// Running operations by id.
    running: HashMap<String, Slot>,
    /// A message was larger than the limit.
    oversized: bool,
}

type Shared = Arc<Mutex<Connection>>;

fn lock(shared: &Shared) -> MutexGuard<'_, Connection> {
    shared.lock().unwrap_or_else(|p| p.into_inner())
}

/// The `Authorization` of a `connection_init` payload, without `Bearer `.
fn init_credential(payload: &Value) -> Option<String> {
    ["Authorization", "authorization"]
        .iter()
        .find_map(|k| payload.get(*k).and_then(Value::as_str))
        .map(|v| v.trim_start_matches("Bearer ").trim().to_owned())
}

/// An operation's error answer then its completion, in `protocol`'s words; `limit` names
/// the setting a `LIMIT_EXCEEDED` met, as GraphQL's own limits do.
fn refusal(protocol: Protocols, id: &str, error: &ApiError, limit: Option<&str>) -> [String; 2] {
    let next = match protocol {
        Protocols::GraphQLWS => "next",
        Protocols::SubscriptionsTransportWS => "data",
    };
    let mut extensions = json!({"code": error.code()});
    if let Some(limit) = limit {
        extensions["limit"] = json!(limit);
    }
    let payload = json!({"data": null, "errors": [{
        "message": error.to_string(),
        "extensions": extensions,
    }]});
    [
        json!({"type": next, "id": id, "payload": payload}).to_string(),
        json!({"type": "complete", "id": id}).to_string(),
    ]
}

/// A close frame; its reason cut to the 123 bytes a frame holds.
fn close(code: u16, reason: &str) -> Message {
    let mut end = reason.len().min(123);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    Message::Close(Some(CloseFrame {
        code,
        reason: reason[..end].into(),
    }))
}

/// The type of a server message (`{"type":"next",...}`), read without parsing the payload:
/// async-graphql writes the tag first.
fn kind_of(text: &str) -> Option<&str> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    Some(&rest[..rest.find('"')?])
}

/// The `id` of a (small) server message.
fn id_of(text: &str) -> Option<String> {
    let value: Value = serde_json::from_str(text).ok()?;
    Some(value.get("id")?.as_str()?.to_owned())
}

/// Serves one upgraded connection until the client leaves, the server ends it, or its
/// credential lapses.
pub async fn serve(socket: WebSocket, session: Session) {
    let Session {
        app,
        schema,
        registry,
        protocol,
        address,
        socket: _socket,
        held,
    } = session;
    let limit = app.config().websocket_max_message_bytes;
    let shared: Shared = Arc::default();
    let header_lease = held.as_ref().map(|(lease, _)| lease.clone());
    if let Some((lease, slot)) = held {
        let mut c = lock(&shared);
        c.lease = Some(lease);
        c.credential = Some(slot);
    }
    let (mut sink, stream) = socket.split();
    // Refusals the input filter answers itself, sent by the loop below. When this many wait
    // (about 64 KiB), the client's next messages are not read until they are sent.
    let (refused, mut refusals) = mpsc::channel::<String>(REFUSALS_WAITING);

    let input = {
        let shared = Arc::clone(&shared);
        let registry = Arc::clone(&registry);
        let metrics_app = app.clone();
        stream
            .take_while({
                let shared = Arc::clone(&shared);
                move |message| {
                    let ok = message.is_ok();
                    if let Err(e) = message {
                        let text = e.to_string();
                        if text.contains("too long") || text.contains("too big") {
                            lock(&shared).oversized = true;
                        }
                    }
                    futures_util::future::ready(ok)
                }
            })
            .filter_map(move |message| {
                let data = match message {
                    Ok(Message::Text(text)) => text.as_bytes().to_vec(),
                    Ok(Message::Binary(bytes)) => bytes.to_vec(),
                    _ => Vec::new(),
                };
                let parsed = (!data.is_empty()).then(|| ClientMessage::from_bytes(&data));
                let mut answer = None;
                let forward = match &parsed {
                    None => false,
                    Some(Ok(ClientMessage::Start { id, .. })) if id.len() > MAX_ID_BYTES => {
                        let e = ApiError::LimitExceeded(format!(
                            "an operation id is at most {MAX_ID_BYTES} bytes, not {}",
                            id.len()
                        ));
                        let short: String = id.chars().take(MAX_ID_BYTES / 4).collect();
                        answer = Some(refusal(protocol, &short, &e, None));
                        false
                    }
                    Some(Ok(ClientMessage::Start { id, .. })) => {
                        let mut c = lock(&shared);
                        match c.lease.as_ref().map(|l| l.principal().bucket(address)) {
                            // Not initialised: async-graphql closes the connection.
                            None => true,
                            Some(_) if c.running.contains_key(id) => true,
                            Some(bucket) => {
                                // Past a bound first (nothing runs), then the rate limit that
                                // HTTP requests take from: each operation started is one.
                                let started = registry
                                    .subscription(&bucket, c.running.len())
                                    .map_err(|(e, setting)| (e, setting, "subscriptions"))
                                    .and_then(|slot| {
                                        let now = std::time::Instant::now();
                                        match metrics_app.limiter().check(&bucket, now) {
                                            Ok(()) => Ok(slot),
                                            Err(retry) => Err((
                                                ApiError::RateLimited(retry),
                                                "rate_limit_per_second",
                                                "rate_limit",
                                            )),
                                        }
                                    });
                                match started {
                                    Ok(slot) => {
                                        c.running.insert(id.clone(), slot);
                                        true
                                    }
                                    Err((e, setting, reason)) => {
                                        metrics_app.metrics().add(
                                            "offerflow_refusals_total",
                                            &[("reason", reason)],
                                            1,
                                        );
                                        answer = Some(refusal(protocol, id, &e, Some(setting)));
                                        false
                                    }
                                }
                            }
                        }
                    }
                    Some(Ok(ClientMessage::Stop { id })) => {
                        lock(&shared).running.remove(id);
                        true
                    }
                    Some(_) => true,
                };
                let refused = refused.clone();
                async move {
                    // Waiting for room here stops reading the client's messages until the
                    // refusals already waiting are sent: its own backpressure bounds them.
                    for text in answer.into_iter().flatten() {
                        let _ = refused.send(text).await;
                    }
                    parsed.filter(|_| forward)
                }
            })
    };

    let on_init = {
        let shared = Arc::clone(&shared);
        let registry = Arc::clone(&registry);
        let app = app.clone();
        move |payload: Value| async move {
            // The close frame that answers a refused `connection_init` carries only text.
            let refuse = |e: ApiError| async_graphql::Error::new(format!("{}: {e}", e.code()));
            let lease = match (header_lease, init_credential(&payload)) {
                (Some(lease), _) => lease,
                (None, Some(credential)) => lease(&app, &credential).await.map_err(refuse)?,
                (None, None) if !app.config().auth => Lease::open(Principal::Open),
                (None, None) => {
                    return Err(refuse(ApiError::Unauthorized(
                        "credentials needed: the Authorization header, or \
                         {\"Authorization\": \"Bearer ...\"} in connection_init"
                            .into(),
                    )));
                }
            };
            let principal = lease.principal().clone();
            let mut c = lock(&shared);
            if c.credential.is_none() {
                let slot = registry
                    .connection(&principal.bucket(address))
                    .map_err(refuse)?;
                c.credential = Some(slot);
            }
            c.lease = Some(lease);
            let mut data = async_graphql::Data::default();
            data.insert(principal);
            Ok(data)
        }
    };

    let ws = async_graphql::http::WebSocket::from_message_stream(schema, input, protocol)
        .on_connection_init(on_init);
    futures_util::pin_mut!(ws);
    let init_deadline = tokio::time::sleep(Duration::from_secs(INIT_SECONDS));
    tokio::pin!(init_deadline);
    let mut initialised = false;
    let mut lapse: Option<futures_util::future::BoxFuture<'static, ApiError>> = None;
    let mut current: Option<Lease> = None;
    let next_kind = match protocol {
        Protocols::GraphQLWS => "next",
        Protocols::SubscriptionsTransportWS => "data",
    };

    let ended: Option<Message> = loop {
        if lapse.is_none()
            && let Some(lease) = lock(&shared).lease.clone()
        {
            current = Some(lease.clone());
            lapse = Some(Box::pin(async move { lease.lapsed().await }));
        }
        let lapsing = async {
            match lapse.as_mut() {
                Some(l) => l.await,
                None => std::future::pending().await,
            }
        };
        let out = tokio::select! {
            out = ws.next() => out,
            Some(text) = refusals.recv() => Some(WsMessage::Text(text)),
            reason = lapsing => break Some(end_all(&shared, protocol, &reason, &mut sink).await),
            () = &mut init_deadline, if !initialised => {
                break Some(close(4408, "Connection initialisation timeout"));
            }
        };
        let Some(out) = out else {
            if lock(&shared).oversized {
                break Some(close(
                    1009,
                    &format!(
                        "a message is larger than {limit} bytes (websocket_max_message_bytes)"
                    ),
                ));
            }
            break None;
        };
        let text = match out {
            WsMessage::Text(text) => text,
            // A refused `connection_init` (async-graphql answers 1002): 4403, which
            // graphql-transport-ws clients take as final rather than retrying at once.
            WsMessage::Close(1002, reason)
                if reason.starts_with("UNAUTHORIZED:") || reason.starts_with("LIMIT_EXCEEDED:") =>
            {
                break Some(close(4403, &reason));
            }
            WsMessage::Close(code, reason) => break Some(close(code, &reason)),
        };
        let kind = kind_of(&text);
        if kind == Some(next_kind) {
            if let Some(lease) = &current
                && let Err(reason) = lease.check().await
            {
                break Some(end_all(&shared, protocol, &reason, &mut sink).await);
            }
        } else if kind == Some("complete") {
            if let Some(id) = id_of(&text) {
                lock(&shared).running.remove(&id);
            }
        } else if kind == Some("connection_ack") {
            initialised = true;
        }
        if !send(&mut sink, Message::Text(text.into())).await {
            break None;
        }
    };
    if let Some(frame) = ended {
        send(&mut sink, frame).await;
    }
    let _ = sink.close().await;
    // Dropping `ws` ends every operation; dropping `shared`'s slots gives the counts back.
}

/// Sends `message` unless the client has not read for [`SEND_SECONDS`] (or is gone): false
/// then, and the connection ends.
async fn send<S>(sink: &mut S, message: Message) -> bool
where
    S: futures_util::Sink<Message> + Unpin,
{
    let sent = tokio::time::timeout(Duration::from_secs(SEND_SECONDS), sink.send(message)).await;
    matches!(sent, Ok(Ok(())))
}

/// Ends every running operation with `reason` (an `UNAUTHORIZED` error, then its completion)
/// and answers the close frame to send.
async fn end_all<S>(
    shared: &Shared,
    protocol: Protocols,
    reason: &ApiError,
    sink: &mut S,
) -> Message
where
    S: futures_util::Sink<Message> + Unpin,
{
    let running: Vec<String> = lock(shared).running.drain().map(|(id, _)| id).collect();
    for id in running {
        for text in refusal(protocol, &id, reason, None) {
            if !send(sink, Message::Text(text.into())).await {
                break;
            }
        }
    }
    close(4401, &format!("Unauthorized: {reason}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_bounded_and_given_back() {
        let config = Config {
            subscriptions_per_connection: 2,
            subscriptions_per_credential: 3,
            subscriptions_max: 4,
            websocket_connections_per_credential: 1,
            websocket_max_connections: 1,
            ..Config::default()
        };
        let r = Registry::new(&config);
        let socket = r.socket().unwrap();
        assert_eq!(r.socket().unwrap_err().code(), "LIMIT_EXCEEDED");
        let c = r.connection("key:a").unwrap();
        assert!(r.connection("key:a").is_err());
        let a: Vec<Slot> = (0..3)
            .map(|_| r.subscription("key:a", 0).unwrap())
            .collect();
        let (refused, setting) = r.subscription("key:a", 0).unwrap_err();
        assert_eq!(setting, "subscriptions_per_credential");
        assert!(refused.to_string().contains(setting), "{refused}");
        let per_connection = r.subscription("key:b", 2).unwrap_err().1;
        assert_eq!(per_connection, "subscriptions_per_connection");
        let b = r.subscription("key:b", 0).unwrap();
        assert_eq!(
            r.subscription("key:c", 0).unwrap_err().1,
            "subscriptions_max"
        );
        assert_eq!(r.open(), (1, 4));
        drop((a, b, c, socket));
        assert_eq!(r.open(), (0, 0));
        assert!(
            r.lock().by.is_empty(),
            "nothing is kept for a credential that left"
        );
    }

    #[test]
    fn server_messages_are_read_by_their_head() {
        assert_eq!(kind_of(r#"{"type":"complete","id":"7"}"#), Some("complete"));
        assert_eq!(
            kind_of(r#"{"type":"next","id":"a","payload":{}}"#),
            Some("next")
        );
        assert_eq!(
            kind_of(r#"{"type":"connection_ack"}"#),
            Some("connection_ack")
        );
        assert_eq!(
            id_of(r#"{"type":"complete","id":"a\"b"}"#).as_deref(),
            Some("a\"b")
        );
        let Message::Close(Some(frame)) = close(1000, &"é".repeat(100)) else {
            panic!("a close frame")
        };
        assert!(frame.reason.len() <= 123);
    }
}
