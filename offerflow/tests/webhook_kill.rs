//! The real `offerflow serve` killed (SIGKILL) while webhook attempts are in flight, then
//! started again on the same database: every reward is delivered, each with the `webhook-id`
//! and body it had before the kill. On SQLite, and on PostgreSQL when
//! `OFFERFLOW_TEST_POSTGRES_URL` is set.

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const REWARDS: usize = 20;

fn offerflow() -> Command {
    let bin = std::env::var_os("OFFERFLOW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_offerflow")));
    Command::new(bin)
}

/// What the receiver saw: (webhook-id, body, answered 200).
type Seen = Arc<Mutex<Vec<(String, String, bool)>>>;

/// A receiver that hangs (never answers) until `answer` is set, then answers 200.
async fn receiver(seen: Seen, answer: Arc<AtomicBool>) -> String {
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: Bytes| {
            let (seen, answer) = (Arc::clone(&seen), Arc::clone(&answer));
            async move {
                let id = headers["webhook-id"].to_str().unwrap().to_owned();
                let body = String::from_utf8(body.to_vec()).unwrap();
                let ok = answer.load(Ordering::SeqCst);
                seen.lock().unwrap().push((id, body, ok));
                if !ok {
                    std::future::pending::<()>().await;
                }
                StatusCode::OK
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// `offerflow serve` on `database_url`; its base URL, and the admin key it printed if it
/// made one.
fn serve(database_url: &str) -> (Child, String, Option<String>) {
    let mut child = offerflow()
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .env("OFFERFLOW_WEBHOOK_ALLOW_PRIVATE_TARGETS", "true")
        .env("OFFERFLOW_WEBHOOK_TIMEOUT_MS", "1000")
        .env(
            "OFFERFLOW_WEBHOOK_RETRY_SCHEDULE",
            "50ms,50ms,50ms,50ms,50ms,50ms",
        )
        .env("OFFERFLOW_LOG_LEVEL", "warn")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut stderr = std::io::BufReader::new(child.stderr.take().unwrap());
    let (mut key, mut line) = (None, String::new());
    while stderr.read_line(&mut line).unwrap() > 0 {
        if line.trim().starts_with("of_") {
            key = Some(line.trim().to_owned());
        }
        if let Some(at) = line.find("offerflow listening on ") {
            let rest = &line[at + "offerflow listening on ".len()..];
            let base = rest.split_whitespace().next().unwrap().to_owned();
            // Keep reading its logs so that it never blocks on a full pipe.
            std::thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
            return (child, base, key);
        }
        line.clear();
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("offerflow serve did not start");
}

async fn graphql(base: &str, key: &str, query: &str, variables: Value) -> Value {
    let answer: Value = reqwest::Client::new()
        .post(format!("{base}/graphql"))
        .bearer_auth(key)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(answer.get("errors").is_none(), "{answer}");
    answer["data"].clone()
}

async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn killed_mid_delivery(database_url: &str) {
    let seen: Seen = Arc::default();
    let answer = Arc::new(AtomicBool::new(false));
    let url = receiver(Arc::clone(&seen), Arc::clone(&answer)).await;
    let (mut first, base, key) = serve(database_url);
    let key = key.expect("a fresh database prints its admin key");
    let spec = "key: orders\nname: Orders\ngoal: {kind: count, when: 'event.type == \"order\"', target: 1}\nrewards: [{kind: points, amount: 5}]\nlimits: {per_customer: 1000}\n";
    graphql(&base, &key, "mutation($s: String!) { createCampaign(source: $s) { key } publishCampaign(key: \"orders\") { version } }", json!({ "s": spec })).await;
    graphql(
        &base,
        &key,
        "mutation($u: String!) { createWebhookEndpoint(input: {url: $u}) { secret } }",
        json!({ "u": url }),
    )
    .await;
    let events: Vec<Value> = (0..REWARDS)
        .map(|i| json!({"id": format!("e{i}"), "customer_id": "c1", "type": "order", "occurred_at": "2026-12-01T10:00:00Z"}))
        .collect();
    graphql(
        &base,
        &key,
        "mutation($e: [JSON!]!) { ingestEvents(events: $e) { counts { processed } } }",
        json!({ "e": events }),
    )
    .await;
    // Attempts are in flight (the receiver holds them): kill the server now.
    until("attempts in flight", Duration::from_secs(30), || {
        seen.lock().unwrap().len() >= 8
    })
    .await;
    first.kill().unwrap();
    first.wait().unwrap();
    let before: HashMap<String, String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(id, body, _)| (id.clone(), body.clone()))
        .collect();
    answer.store(true, Ordering::SeqCst);
    let (mut second, _, _) = serve(database_url);
    until("every reward delivered", Duration::from_secs(60), || {
        let seen = seen.lock().unwrap();
        let delivered: std::collections::HashSet<&String> = seen
            .iter()
            .filter(|(_, _, ok)| *ok)
            .map(|(id, _, _)| id)
            .collect();
        delivered.len() == REWARDS
    })
    .await;
    second.kill().unwrap();
    second.wait().unwrap();
    let seen = seen.lock().unwrap();
    let mut bodies: HashMap<&String, &String> = HashMap::new();
    for (id, body, _) in seen.iter() {
        let first_body = bodies.entry(id).or_insert(body);
        assert_eq!(*first_body, body, "{id}: the body changed between attempts");
    }
    assert_eq!(bodies.len(), REWARDS, "one webhook id per reward");
    for (id, body) in &before {
        assert_eq!(
            bodies[id], body,
            "{id} was attempted before the kill with another body"
        );
    }
    let events: std::collections::HashSet<String> = bodies
        .values()
        .map(|b| serde_json::from_str::<Value>(b).unwrap()["data"]["event_id"].to_string())
        .collect();
    assert_eq!(events.len(), REWARDS, "every reward's message");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_delivery_delivers_everything_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("o.db").display());
    killed_mid_delivery(&url).await;
    let Ok(base) = std::env::var("OFFERFLOW_TEST_POSTGRES_URL") else {
        eprintln!("OFFERFLOW_TEST_POSTGRES_URL is not set: PostgreSQL is skipped");
        return;
    };
    // A schema of its own (psql creates it; the server migrates it).
    let schema = format!("kill_{}", std::process::id());
    let status = Command::new("psql")
        .args([
            &base,
            "-c",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if !status.is_ok_and(|s| s.success()) {
        eprintln!("psql is not available: the PostgreSQL run is skipped");
        return;
    }
    let sep = if base.contains('?') { '&' } else { '?' };
    killed_mid_delivery(&format!("{base}{sep}options=-c%20search_path%3D{schema}")).await;
    let _ = Command::new("psql")
        .args([
            &base,
            "-c",
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
