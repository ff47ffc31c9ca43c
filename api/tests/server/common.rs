//! A server for one test: its own database (an SQLite file, or a PostgreSQL schema when
//! `OFFERFLOW_TEST_POSTGRES_URL` is set) and an ephemeral port.

use api::app::App;
use api::config::Config;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running server.
pub struct TestServer {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The database URL it uses.
    pub database_url: String,
    /// An admin API key, sent by default.
    pub key: String,
    /// The running service, for direct checks.
    pub app: App,
    client: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    handle: Option<JoinHandle<std::io::Result<()>>>,
    schema: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

/// Which databases to run on: SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<&'static str> {
    let mut b = vec!["sqlite"];
    if std::env::var("OFFERFLOW_TEST_POSTGRES_URL").is_ok() {
        b.push("postgres");
    } else {
        eprintln!("OFFERFLOW_TEST_POSTGRES_URL is not set: PostgreSQL is skipped");
    }
    b
}

static NEXT: AtomicU64 = AtomicU64::new(0);

impl TestServer {
    /// A server on a fresh database of `backend`, with `tune` applied to its configuration.
    pub async fn start(backend: &str, tune: impl FnOnce(&mut Config)) -> TestServer {
        let (database_url, schema, dir) = match backend {
            "postgres" => {
                let base = std::env::var("OFFERFLOW_TEST_POSTGRES_URL").expect("postgres url");
                let name = format!(
                    "api_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                );
                let db = sea_orm::Database::connect(&base).await.expect("postgres");
                use sea_orm::ConnectionTrait;
                db.execute_unprepared(&format!(
                    "DROP SCHEMA IF EXISTS {name} CASCADE; CREATE SCHEMA {name}"
                ))
                .await
                .expect("create schema");
                let sep = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{sep}options=-c%20search_path%3D{name}");
                (url, Some((base, name)), None)
            }
            _ => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!(
                    "sqlite:{}?mode=rwc",
                    dir.path().join("offerflow.db").display()
                );
                (url, None, Some(dir))
            }
        };
        let mut config = Config {
            database_url: database_url.clone(),
            ..Config::default()
        };
        tune(&mut config);
        Self::serve(config, schema, dir).await
    }

    async fn serve(
        config: Config,
        schema: Option<(String, String)>,
        dir: Option<tempfile::TempDir>,
    ) -> TestServer {
        let database_url = config.database_url.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        let app = App::start(config).await.expect("app");
        let key = app
            .keys()
            .create("test-admin", &[api::auth::Scope::Admin])
            .await
            .expect("admin key")
            .secret;
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(api::server::serve(listener, app.clone(), async {
            let _ = stopped.await;
        }));
        TestServer {
            base,
            database_url,
            key,
            app,
            client: reqwest::Client::new(),
            stop: Some(stop),
            handle: Some(handle),
            schema,
            _dir: dir,
        }
    }

    /// Another node: a server of its own on the database `database_url` another test server
    /// created (it drops nothing when it stops).
    pub async fn on(database_url: &str) -> TestServer {
        let config = Config {
            database_url: database_url.to_owned(),
            ..Config::default()
        };
        Self::serve(config, None, None).await
    }

    /// Sends a GraphQL operation with the admin key and returns the whole response (`data`
    /// and `errors`).
    pub async fn graphql(&self, query: &str, variables: Value) -> Value {
        self.graphql_as(Some(&self.key), query, variables).await
    }

    /// Sends a GraphQL operation with `credential` (an API key or customer token; `None`:
    /// no Authorization header).
    pub async fn graphql_as(
        &self,
        credential: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        let mut request = self
            .client
            .post(format!("{}/graphql", self.base))
            .json(&json!({ "query": query, "variables": variables }));
        if let Some(c) = credential {
            request = request.bearer_auth(c);
        }
        let response = request.send().await.expect("graphql request");
        response.json().await.expect("graphql response")
    }

    /// Sends a GraphQL operation that must succeed and returns its `data`.
    pub async fn data(&self, query: &str, variables: Value) -> Value {
        let response = self.graphql(query, variables).await;
        assert!(
            response.get("errors").is_none(),
            "unexpected errors: {response:#}"
        );
        response["data"].clone()
    }

    /// Sends a GraphQL operation that must fail and returns its first error.
    pub async fn error(&self, query: &str, variables: Value) -> Value {
        let response = self.graphql(query, variables).await;
        response["errors"][0].clone()
    }

    /// `POST path` with `body`, a content type and the admin key; the status and the JSON
    /// answer.
    pub async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> (u16, Value) {
        let (status, _, value) = self
            .post_as(Some(&self.key), path, content_type, body)
            .await;
        (status, value)
    }

    /// `POST path` with `credential`; the status, the headers and the JSON answer.
    pub async fn post_as(
        &self,
        credential: Option<&str>,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("content-type", content_type)
            .body(body);
        if let Some(c) = credential {
            request = request.bearer_auth(c);
        }
        let response = request.send().await.expect("request");
        let headers = response.headers().clone();
        let status = response.status().as_u16();
        let text = response.text().await.expect("body");
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, value)
    }

    /// `GET path` with the admin key: status and body text.
    pub async fn get(&self, path: &str) -> (u16, String) {
        self.get_as(Some(&self.key), path).await
    }

    /// `GET path` with `credential`: status and body text.
    pub async fn get_as(&self, credential: Option<&str>, path: &str) -> (u16, String) {
        let mut request = self.client.get(format!("{}{path}", self.base));
        if let Some(c) = credential {
            request = request.bearer_auth(c);
        }
        let response = request.send().await.expect("request");
        (
            response.status().as_u16(),
            response.text().await.expect("body"),
        )
    }

    /// Signals shutdown and waits for the server to finish (requests and batches in flight).
    /// Returns the SQLite database's directory, to read it after.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(handle) = self.handle.take() {
            handle.await.expect("server task").expect("server");
        }
        if let Some((base, name)) = self.schema.take() {
            use sea_orm::ConnectionTrait;
            let db = sea_orm::Database::connect(&base).await.expect("postgres");
            db.execute_unprepared(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                .await
                .expect("drop schema");
        }
        self._dir.take()
    }

    /// Signals shutdown without waiting.
    pub fn signal_stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// An event's JSON form.
pub fn event(id: &str, customer: &str, kind: &str, at: &str, attributes: Value) -> Value {
    json!({"id": id, "customer_id": customer, "type": kind, "occurred_at": at, "attributes": attributes})
}

/// Events as NDJSON.
pub fn ndjson(events: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in events {
        out.extend_from_slice(e.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}
