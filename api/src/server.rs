//! The HTTP server (axum): GraphQL at `/graphql` (POST; GraphiQL on GET), subscriptions over
//! WebSocket at `/graphql/ws`, `POST /v1/events` for producers, `/healthz`, `/readyz` and
//! `/metrics` (OpenMetrics text, [`crate::metrics`]); the marketer console at `/console`
//! ([`crate::console`]).
//!
//! Every request but the health checks passes one gate first: its credentials are read (an
//! API key or a customer token as `Authorization: Bearer ...`; bad ones get 401), its
//! client's rate limit is taken (429 with `Retry-After` when spent), and its latency and
//! status are counted. Each handler then checks the access its operation needs.

use crate::app::App;
use crate::auth::{Access, Principal};
use crate::error::ApiError;
use crate::graphql::{self, Limit, OfferflowSchema};
use crate::websocket;
use async_graphql_axum::GraphQLResponse;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{
    ConnectInfo, DefaultBodyLimit, Extension, Path, Request, State, WebSocketUpgrade,
};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use campaigns::EventError;
use engine::{EventResult, Status};
use serde_json::{Value, json};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;
use tokio::net::TcpListener;

#[derive(Clone)]
struct Shared {
    app: App,
    schema: OfferflowSchema,
    sockets: Arc<websocket::Registry>,
}

/// Every route, serving `app`.
pub fn router(app: App) -> Router {
    let limit = app.config().max_body_bytes;
    let shared = Shared {
        schema: graphql::schema(app.clone()),
        sockets: websocket::Registry::new(app.config()),
        app,
    };
    Router::new()
        .route("/graphql", get(graphiql).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/graphql/assets/{name}", get(graphiql_asset))
        .route("/console", get(console_index))
        .route("/console/", get(console_index))
        .route("/console/{*name}", get(console_file))
        .route("/v1/events", post(events))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(limit))
        .layer(middleware::from_fn_with_state(shared.clone(), gate))
        .with_state(shared)
}

/// The metrics label of a path.
fn route(path: &str) -> &'static str {
    match path {
        "/graphql" => "graphql",
        "/graphql/ws" => "graphql_ws",
        p if p.starts_with("/graphql/assets/") => "graphiql",
        p if p == "/console" || p.starts_with("/console/") => "console",
        "/v1/events" => "events",
        "/metrics" => "metrics",
        "/healthz" => "healthz",
        "/readyz" => "readyz",
        _ => "other",
    }
}

/// Credentials, rate limit, and request metrics, before any handler.
async fn gate(
    State(shared): State<Shared>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    mut request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = route(request.uri().path());
    let response = match admit(&shared.app, route, request.headers(), client).await {
        Ok(principal) => {
            request.extensions_mut().insert(principal);
            next.run(request).await
        }
        Err(e) => {
            let reason = if matches!(e, ApiError::RateLimited(_)) {
                "rate_limit"
            } else {
                "credentials"
            };
            shared
                .app
                .metrics()
                .add("offerflow_refusals_total", &[("reason", reason)], 1);
            e.into_response()
        }
    };
    let m = shared.app.metrics();
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE
        && response.extensions().get::<Counted>().is_none()
    {
        m.add("offerflow_refusals_total", &[("reason", "size")], 1);
    }
    let status = response.status().as_u16().to_string();
    m.add(
        "offerflow_http_requests_total",
        &[("route", route), ("status", &status)],
        1,
    );
    let elapsed = started.elapsed().as_secs_f64();
    m.observe(
        "offerflow_http_request_seconds",
        &[("route", route)],
        elapsed,
    );
    tracing::debug!(route, status = %status, ms = elapsed * 1e3, "request");
    response
}

/// Marks a response whose refusal its handler counted already, by its own reason.
#[derive(Debug, Clone, Copy)]
struct Counted;

/// A refusal the handler counts by its typed cause, as an HTTP answer.
fn refused(app: &App, reason: &'static str, error: ApiError) -> Response {
    app.metrics()
        .add("offerflow_refusals_total", &[("reason", reason)], 1);
    let mut response = error.into_response();
    response.extensions_mut().insert(Counted);
    response
}

/// Who the request is from, once its rate limit is taken.
async fn admit(
    app: &App,
    route: &str,
    headers: &HeaderMap,
    client: SocketAddr,
) -> Result<Principal, ApiError> {
    if matches!(route, "healthz" | "readyz") {
        return Ok(Principal::Anonymous);
    }
    let principal = principal(app, headers).await?;
    app.limiter()
        .check(&principal.bucket(client.ip()), Instant::now())
        .map_err(ApiError::RateLimited)?;
    Ok(principal)
}

/// The principal of a request's `Authorization` header.
async fn principal(app: &App, headers: &HeaderMap) -> Result<Principal, ApiError> {
    if !app.config().auth {
        return Ok(Principal::Open);
    }
    match bearer(headers)? {
        Some(token) => credential(app, token).await,
        None => Ok(Principal::Anonymous),
    }
}

/// The credential of a request's `Authorization: Bearer ...` header, if it has one.
fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(None);
    };
    let text = value
        .to_str()
        .map_err(|_| ApiError::Unauthorized("the Authorization header is not text".into()))?;
    let token = text
        .strip_prefix("Bearer ")
        .or_else(|| text.strip_prefix("bearer "))
        .ok_or_else(|| {
            ApiError::Unauthorized("use `Authorization: Bearer <API key or customer token>`".into())
        })?;
    Ok(Some(token.trim()))
}

/// The principal a credential proves: a customer token (`ct1.`) or an API key.
pub async fn credential(app: &App, token: &str) -> Result<Principal, ApiError> {
    if !app.config().auth {
        return Ok(Principal::Open);
    }
    if token.starts_with("ct1.") {
        app.tokens().verify(token, chrono::Utc::now())
    } else {
        app.keys().verify(token).await
    }
}

/// Serves `app` on `listener` until `shutdown` completes; then stops taking connections,
/// lets requests in flight finish, and finishes the pipeline's batch in flight.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let routes = router(app.clone()).into_make_service_with_connect_info::<SocketAddr>();
    let served = axum::serve(listener, routes)
        .with_graceful_shutdown(shutdown)
        .await;
    app.shutdown().await;
    served
}

/// GraphiQL's page, with no credentials needed: it is the same for everyone, and the
/// requests it makes carry the credentials typed into it.
async fn graphiql() -> Response {
    graphql::graphiql::page()
}

/// GraphiQL's scripts and styles, from the binary.
async fn graphiql_asset(Path(name): Path<String>) -> Response {
    graphql::graphiql::asset(&name)
}

/// The console's page, with no credentials needed (it asks for an API key itself).
async fn console_index(headers: HeaderMap) -> Response {
    crate::console::file("index.html", &headers)
}

/// The console's scripts, styles and images, from the binary.
async fn console_file(Path(name): Path<String>, headers: HeaderMap) -> Response {
    crate::console::file(&name, &headers)
}

/// A body the size limit refused, or that could not be read.
fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::LimitExceeded(format!("body: {}", rejection.body_text()))
    } else {
        ApiError::bad("body", rejection.body_text())
    }
}

/// `POST /graphql`. Refused before anything is parsed: a request without credentials (401,
/// when auth is on), a body nested deeper than variables may be (413, `graphql_max_nesting`
/// plus the request's own wrapping) or holding more than `graphql_max_json_values` values
/// (413); then a batch of more than `graphql_max_batch` operations (413). The rest of the limits apply per operation, in the schema ([`graphql`]).
async fn graphql_post(
    State(shared): State<Shared>,
    Extension(principal): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let app = &shared.app;
    if principal == Principal::Anonymous {
        let error = ApiError::Unauthorized(
            "POST /graphql needs credentials: `Authorization: Bearer <API key or customer token>`"
                .into(),
        );
        return refused(app, "credentials", error);
    }
    let body = match body {
        Ok(b) => b,
        Err(r) => return body_error(r).into_response(),
    };
    // `[{"variables": {"name": value}}]`: three levels before a variable's value.
    let config = app.config();
    let json = graphql::json_scan(&body);
    if json.nesting > config.graphql_max_nesting + 3 {
        let error = ApiError::LimitExceeded(format!(
            "body: the JSON nests {} deep; variables may nest lists and objects {} deep \
             (graphql_max_nesting)",
            json.nesting, config.graphql_max_nesting
        ));
        return refused(app, Limit::Nesting.reason(), error);
    }
    if json.values > config.graphql_max_json_values {
        let error = ApiError::LimitExceeded(format!(
            "body: {} JSON values; the limit is {} (graphql_max_json_values)",
            json.values, config.graphql_max_json_values
        ));
        return refused(app, Limit::JsonValues.reason(), error);
    }
    let mut request: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let error = ApiError::bad("body", format!("not a GraphQL request: {e}"));
            return error.into_response();
        }
    };
    let limit = app.config().graphql_max_batch;
    if let async_graphql::BatchRequest::Batch(list) = &request
        && list.len() > limit
    {
        let error = ApiError::LimitExceeded(format!(
            "body: {} operations in one batch; the limit is {limit} (graphql_max_batch)",
            list.len()
        ));
        return refused(app, Limit::Batch.reason(), error);
    }
    request = request.data(principal);
    let response = shared.schema.execute_batch(request).await;
    count_refusals(app, &response);
    GraphQLResponse::from(response).into_response()
}

/// Counts the GraphQL limits and access checks that refused an operation, by their typed
/// cause: the [`Limit`] a refusal carries as its source, or its access code.
fn count_refusals(app: &App, response: &async_graphql::BatchResponse) {
    let responses: Vec<&async_graphql::Response> = match response {
        async_graphql::BatchResponse::Single(r) => vec![r],
        async_graphql::BatchResponse::Batch(rs) => rs.iter().collect(),
    };
    for r in responses {
        for e in &r.errors {
            let reason = if let Some(limit) = e.source::<Limit>() {
                limit.reason()
            } else {
                let code = e.extensions.as_ref().and_then(|x| x.get("code"));
                match code {
                    Some(async_graphql::Value::String(c))
                        if c == "UNAUTHORIZED" || c == "FORBIDDEN" =>
                    {
                        "access"
                    }
                    _ => continue,
                }
            };
            app.metrics()
                .add("offerflow_refusals_total", &[("reason", reason)], 1);
        }
    }
}

/// Subscriptions (and any operation) over WebSocket, served by [`websocket::serve`].
/// Credentials come with the upgrade request's `Authorization` header or, for browsers that
/// cannot set it, in the `connection_init` payload as `{"Authorization": "Bearer ..."}`; they
/// are held, and checked, for the connection's whole life. A connection past the node's or
/// the credential's limit is refused here with 429.
async fn graphql_ws(
    State(shared): State<Shared>,
    Extension(principal): Extension<Principal>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let Some(protocol) = websocket::protocol(&headers) else {
        let e = ApiError::bad(
            "Sec-WebSocket-Protocol",
            "ask for graphql-transport-ws or graphql-ws",
        );
        return e.into_response();
    };
    let refused = |e: ApiError| {
        let m = shared.app.metrics();
        m.add("offerflow_refusals_total", &[("reason", "websocket")], 1);
        (StatusCode::TOO_MANY_REQUESTS, e.into_response()).into_response()
    };
    let socket = match shared.sockets.socket() {
        Ok(slot) => slot,
        Err(e) => return refused(e),
    };
    let held = match (&principal, bearer(&headers)) {
        (Principal::Anonymous, _) => None,
        (Principal::Open, _) => Some(crate::auth::Lease::open(Principal::Open)),
        (_, Ok(Some(token))) => match websocket::lease(&shared.app, token).await {
            Ok(lease) => Some(lease),
            Err(e) => return e.into_response(),
        },
        (_, _) => None,
    };
    let held = match held {
        Some(lease) => match shared.sockets.connection(&principal.bucket(client.ip())) {
            Ok(slot) => Some((lease, slot)),
            Err(e) => return refused(e),
        },
        None => None,
    };
    let limit = shared.app.config().websocket_max_message_bytes;
    let session = websocket::Session {
        app: shared.app.clone(),
        schema: shared.schema.clone(),
        registry: Arc::clone(&shared.sockets),
        protocol,
        address: client.ip(),
        socket,
        held,
    };
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .max_message_size(limit)
        .max_frame_size(limit)
        // The default 128 KiB buffers each way would be most of an idle connection's memory;
        // every message is flushed as it is sent.
        .read_buffer_size(websocket::BUFFER_BYTES)
        .write_buffer_size(0)
        .on_upgrade(move |socket| websocket::serve(socket, session))
}

/// `GET /metrics`: one OpenMetrics text exposition of the node's registry ([`crate::metrics`]),
/// its levels read from the service's state first; needs scope read (or admin).
async fn metrics(
    State(shared): State<Shared>,
    Extension(principal): Extension<Principal>,
) -> Response {
    if let Err(e) = principal.may(Access::Read) {
        return e.into_response();
    }
    use std::sync::atomic::Ordering::Relaxed;
    let app = &shared.app;
    let levels = app.metrics().levels();
    let (sockets, subscriptions) = shared.sockets.open();
    levels.websocket_connections.set(sockets as u64);
    levels.subscriptions.set(subscriptions as u64);
    let largest = app.pipeline().stats().largest_batch.load(Relaxed);
    levels.batch_largest.set(largest);
    match app.store().delivery_stats().await {
        Ok(d) => {
            let age = d
                .oldest_pending
                .map_or(0.0, |t| (chrono::Utc::now() - t).as_seconds_f64().max(0.0));
            let messages = &levels.webhook_messages;
            messages
                .get_or_create(&[("status", "pending")])
                .set(d.pending);
            messages
                .get_or_create(&[("status", "failed")])
                .set(d.failed);
            levels.webhook_oldest_pending.get_or_create(&[]).set(age);
        }
        Err(e) => {
            // Left out rather than left stale.
            levels.webhook_messages.clear();
            levels.webhook_oldest_pending.clear();
            tracing::warn!(error = %e, "cannot read webhook delivery counts for metrics");
        }
    }
    let text = app.metrics().render();
    ([(header::CONTENT_TYPE, crate::metrics::CONTENT_TYPE)], text).into_response()
}

/// `POST /v1/events`: a JSON array of events, or NDJSON (one event per line). Answers each
/// event's outcome, in order, after its batch committed: `{"results": [...], "counts": {...}}`.
/// A line that is not JSON is rejected by itself, naming its line.
async fn events(
    State(shared): State<Shared>,
    Extension(principal): Extension<Principal>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    if let Err(e) = principal.may(Access::Ingest) {
        return e.into_response();
    }
    let body = match body {
        Ok(b) => b,
        Err(r) => return body_error(r).into_response(),
    };
    // Counted before parsing: a body of small numbers would parse to forty times its size.
    let limit = shared.app.config().max_json_values_per_request;
    let values = graphql::json_scan(&body).values;
    if values > limit {
        let error = ApiError::LimitExceeded(format!(
            "body: {values} JSON values; the limit is {limit} (max_json_values_per_request)"
        ));
        return refused(&shared.app, "json_values", error);
    }
    match ingest_body(&shared.app, &body).await {
        Ok(results) => {
            let mut counts = Counts::default();
            for r in &results {
                *match r.status {
                    Status::Processed => &mut counts.processed,
                    Status::Duplicate => &mut counts.duplicate,
                    Status::Conflict => &mut counts.conflict,
                    Status::Rejected => &mut counts.rejected,
                } += 1;
            }
            // Serialized straight from the results, without an intermediate JSON tree.
            Json(Ingested {
                results: &results,
                counts,
            })
            .into_response()
        }
        Err(e) => e.into_response(),
    }
}

/// The answer to `POST /v1/events`.
#[derive(serde::Serialize)]
struct Ingested<'a> {
    results: &'a [EventResult],
    counts: Counts,
}

/// Events by status.
#[derive(Default, serde::Serialize)]
struct Counts {
    processed: u64,
    duplicate: u64,
    conflict: u64,
    rejected: u64,
}

/// Reads the body's events, sends the readable ones through the pipeline, and answers every
/// one in order.
async fn ingest_body(app: &App, body: &[u8]) -> Result<Vec<EventResult>, ApiError> {
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    let parsed: Vec<Result<Value, Box<EventResult>>> = if first == Some(&b'[') {
        let list: Vec<Value> = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad("body", format!("not a JSON array of events: {e}")))?;
        list.into_iter().map(Ok).collect()
    } else {
        let text = std::str::from_utf8(body)
            .map_err(|e| ApiError::bad("body", format!("not UTF-8 text: {e}")))?;
        text.lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(i, line)| {
                serde_json::from_str::<Value>(line).map_err(|e| {
                    let error = EventError {
                        field: String::new(),
                        reason: format!("line {}: not valid JSON: {e}", i + 1),
                    };
                    Box::new(EventResult::refused(String::new(), Status::Rejected, error))
                })
            })
            .collect()
    };
    let limit = app.config().max_events_per_request;
    if parsed.len() > limit {
        return Err(ApiError::LimitExceeded(format!(
            "events: {} events in one request; the limit is {limit} (max_events_per_request)",
            parsed.len()
        )));
    }
    // The readable events go to the pipeline; each unreadable line keeps its place.
    let mut readable = Vec::with_capacity(parsed.len());
    let places: Vec<Option<Box<EventResult>>> = parsed
        .into_iter()
        .map(|p| match p {
            Ok(value) => {
                readable.push(value);
                None
            }
            Err(refused) => Some(refused),
        })
        .collect();
    let mut processed = app.ingest(readable).await?.into_iter();
    Ok(places
        .into_iter()
        .map(|place| match place {
            None => processed
                .next()
                .unwrap_or_else(|| unreachable!("the pipeline answers every event it is given")),
            Some(refused) => *refused,
        })
        .collect())
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and has every migration applied.
async fn readyz(State(shared): State<Shared>) -> Response {
    let workers = shared.app.workers();
    let ready = match shared.app.store().readiness().await {
        Ok(()) => workers.iter().try_for_each(|w| w.readiness()),
        Err(reason) => Err(reason),
    };
    match ready {
        Ok(()) => Json(json!({"ready": true})).into_response(),
        Err(reason) => {
            let body = json!({"ready": false, "reason": reason});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
