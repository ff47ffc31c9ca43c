//! The HTTP server (axum): GraphQL at `/graphql` (POST; GraphiQL on GET), subscriptions over
//! WebSocket at `/graphql/ws`, `POST /v1/events` for producers, `/healthz` and `/readyz`.

use crate::app::App;
use crate::error::ApiError;
use crate::graphql::{self, Actor, OfferflowSchema};
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, State, WebSocketUpgrade};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use campaigns::EventError;
use engine::{EventResult, Status};
use serde_json::{Value, json};
use std::future::Future;
use tokio::net::TcpListener;

/// Most operations in one batched GraphQL request.
pub const MAX_GRAPHQL_BATCH: usize = 10;

#[derive(Clone)]
struct Shared {
    app: App,
    schema: OfferflowSchema,
}

/// Every route, serving `app`.
pub fn router(app: App) -> Router {
    let limit = app.config().max_body_bytes;
    let shared = Shared {
        schema: graphql::schema(app.clone()),
        app,
    };
    Router::new()
        .route("/graphql", get(graphiql).post(graphql_post))
        .route("/graphql/ws", get(graphql_ws))
        .route("/v1/events", post(events))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .layer(DefaultBodyLimit::max(limit))
        .with_state(shared)
}

/// Serves `app` on `listener` until `shutdown` completes; then stops taking connections,
/// lets requests in flight finish, and finishes the pipeline's batch in flight.
pub async fn serve(
    listener: TcpListener,
    app: App,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let served = axum::serve(listener, router(app.clone()))
        .with_graceful_shutdown(shutdown)
        .await;
    app.shutdown().await;
    served
}

async fn graphiql() -> Html<String> {
    Html(
        GraphiQLSource::build()
            .endpoint("/graphql")
            .subscription_endpoint("/graphql/ws")
            .finish(),
    )
}

/// A body the size limit refused, or that could not be read.
fn body_error(rejection: BytesRejection) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::LimitExceeded(format!("body: {}", rejection.body_text()))
    } else {
        ApiError::bad("body", rejection.body_text())
    }
}

async fn graphql_post(
    State(shared): State<Shared>,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => return body_error(r).into_response(),
    };
    let request: async_graphql::BatchRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            let error = ApiError::bad("body", format!("not a GraphQL request: {e}"));
            return error.into_response();
        }
    };
    if let async_graphql::BatchRequest::Batch(list) = &request
        && list.len() > MAX_GRAPHQL_BATCH
    {
        return ApiError::LimitExceeded(format!(
            "body: {} operations in one batch; the limit is {MAX_GRAPHQL_BATCH}",
            list.len()
        ))
        .into_response();
    }
    let request = request.data(Actor("api".to_owned()));
    GraphQLResponse::from(shared.schema.execute_batch(request).await).into_response()
}

async fn graphql_ws(
    State(shared): State<Shared>,
    protocol: GraphQLProtocol,
    upgrade: WebSocketUpgrade,
) -> Response {
    upgrade
        .protocols(async_graphql::http::ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            GraphQLWebSocket::new(socket, shared.schema.clone(), protocol).serve()
        })
}

/// `POST /v1/events`: a JSON array of events, or NDJSON (one event per line). Answers each
/// event's outcome, in order, after its batch committed: `{"results": [...], "counts": {...}}`.
/// A line that is not JSON is rejected by itself, naming its line.
async fn events(State(shared): State<Shared>, body: Result<Bytes, BytesRejection>) -> Response {
    let body = match body {
        Ok(b) => b,
        Err(r) => return body_error(r).into_response(),
    };
    match ingest_body(&shared.app, &body).await {
        Ok(results) => {
            let mut counts = json!({"processed": 0, "duplicate": 0, "conflict": 0, "rejected": 0});
            for r in &results {
                let key = match r.status {
                    Status::Processed => "processed",
                    Status::Duplicate => "duplicate",
                    Status::Conflict => "conflict",
                    Status::Rejected => "rejected",
                };
                counts[key] = json!(counts[key].as_u64().unwrap_or(0) + 1);
            }
            Json(json!({ "results": results, "counts": counts })).into_response()
        }
        Err(e) => e.into_response(),
    }
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
    let readable: Vec<Value> = parsed
        .iter()
        .filter_map(|p| p.as_ref().ok().cloned())
        .collect();
    let mut processed = app.ingest(readable).await?.into_iter();
    Ok(parsed
        .into_iter()
        .map(|p| match p {
            Ok(_) => processed
                .next()
                .unwrap_or_else(|| unreachable!("the pipeline answers every event it is given")),
            Err(refused) => *refused,
        })
        .collect())
}

async fn healthz() -> &'static str {
    "ok"
}

/// Ready when the database answers and has every migration applied.
async fn readyz(State(shared): State<Shared>) -> Response {
    use entities::MigratorTrait;
    let db = shared.app.store().connection();
    if let Err(e) = db.ping().await {
        let body = json!({"ready": false, "reason": format!("database unreachable: {e}")});
        return (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response();
    }
    match entities::Migrator::get_pending_migrations(db).await {
        Ok(pending) if pending.is_empty() => Json(json!({"ready": true})).into_response(),
        Ok(pending) => {
            let body =
                json!({"ready": false, "reason": format!("{} migrations pending", pending.len())});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
        Err(e) => {
            let body = json!({"ready": false, "reason": format!("cannot read migrations: {e}")});
            (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
        }
    }
}
