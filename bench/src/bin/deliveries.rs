//! The reward delivery benchmark (BENCHMARKS.md): webhooks from a running `offerflow serve`
//! (started with `webhook_allow_private_targets = true`) to a receiver in this process.
//!
//! ```text
//! deliveries --url URL --key KEY [--events N] [--rate R] [--seconds S] [--concurrency C]
//! ```
//! 1. **Ceiling**: this process's own client posts N signed-size bodies to the receiver with
//!    C connections (the relay's concurrency per endpoint): the most this machine moves
//!    through one endpoint's HTTP path, with no database.
//! 2. **Throughput**: a campaign that issues one reward per event; N events ingested as fast
//!    as `/v1/events` takes them; deliveries/s from the first delivery to the Nth.
//! 3. **Latency**: R rewards/s, steady, for S seconds (R/100 events every 10 ms); for every
//!    delivery, the receiver's clock minus the reward's `issued_at` (stamped before its
//!    batch commits, so a little over commit→delivery); p50, p99, max.
//!
//! Every webhook id must arrive; duplicates (at least once) are counted and printed.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, Utc};
use offerflow_bench::server::{Server, percentile};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    key: String,
    events: u64,
    rate: u64,
    seconds: u64,
    concurrency: usize,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        key: std::env::var("OFFERFLOW_KEY").unwrap_or_default(),
        events: 50_000,
        rate: 1_000,
        seconds: 30,
        concurrency: 8,
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--url" => a.url = value(),
            "--key" => a.key = value(),
            "--events" => a.events = value().parse().expect("number"),
            "--rate" => a.rate = value().parse().expect("number"),
            "--seconds" => a.seconds = value().parse().expect("number"),
            "--concurrency" => a.concurrency = value().parse().expect("number"),
            other => panic!("unknown flag {other}"),
        }
    }
    a
}

/// One delivery as the receiver saw it.
struct Arrival {
    at: Instant,
    wall: DateTime<Utc>,
    issued_at: Option<DateTime<Utc>>,
}

/// What the receiver got, by webhook id (every arrival of each).
#[derive(Default)]
struct Received {
    by_id: HashMap<String, Vec<Arrival>>,
    total: u64,
}

type Shared = Arc<Mutex<Received>>;

async fn receive(State(seen): State<Shared>, headers: HeaderMap, body: String) -> StatusCode {
    let (at, wall) = (Instant::now(), Utc::now());
    let id = headers
        .get("webhook-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none")
        .to_owned();
    let issued_at = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|b| b["data"]["issued_at"].as_str().map(str::to_owned))
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut seen = seen.lock().unwrap();
    seen.total += 1;
    seen.by_id.entry(id).or_default().push(Arrival {
        at,
        wall,
        issued_at,
    });
    StatusCode::NO_CONTENT
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// Posts events `ids` (one reward each) in one NDJSON request.
async fn send(client: &reqwest::Client, server: &Server, prefix: &str, ids: std::ops::Range<u64>) {
    let events: Vec<Value> = ids
        .clone()
        .map(|i| {
            json!({
                "id": format!("{prefix}-{i}"),
                "customer_id": format!("c{}", i % 10_000),
                "type": "order.completed",
                "occurred_at": "2026-12-01T10:00:00Z",
                "attributes": {"amount": 10},
            })
        })
        .collect();
    let answer = server.post_events(client, &events).await;
    assert_eq!(
        answer["counts"]["processed"].as_u64(),
        Some(ids.end - ids.start),
        "{answer}"
    );
}

/// Waits until `n` distinct ids arrived with `prefix` in their events; answers the
/// arrivals' count (with duplicates).
async fn wait_for(seen: &Shared, n: usize, deadline: Duration) -> u64 {
    let until = Instant::now() + deadline;
    loop {
        let (distinct, total) = {
            let s = seen.lock().unwrap();
            (s.by_id.len(), s.total)
        };
        if distinct >= n {
            return total;
        }
        assert!(
            Instant::now() < until,
            "only {distinct} of {n} rewards were delivered within {deadline:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The machine's ceiling: this process's client to the receiver, no database.
async fn ceiling(receiver: &str, a: &Args) {
    let body = Arc::new(
        json!({"type": "reward.issued", "timestamp": "2026-12-01T10:00:00.000000Z", "data": {
            "id": 1, "campaign": "bench-deliveries", "campaign_version": 1, "customer_id": "c1",
            "event_id": "e1", "cycle": 1, "reward_index": 0, "kind": "points", "amount": 10,
            "issued_at": "2026-12-01T10:00:00.000000Z"}})
        .to_string(),
    );
    let client = reqwest::Client::new();
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (client, next, body, url, n) = (
            client.clone(),
            Arc::clone(&next),
            Arc::clone(&body),
            receiver.to_owned(),
            a.events,
        );
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    return;
                }
                let status = client
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("webhook-id", format!("ceiling_{i}"))
                    .header("webhook-timestamp", "1796119200")
                    .header(
                        "webhook-signature",
                        "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
                    )
                    .body(body.as_str().to_owned())
                    .send()
                    .await
                    .expect("post")
                    .status();
                assert!(status.is_success());
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let elapsed = started.elapsed();
    println!(
        "ceiling: {} posts to the receiver over {} connections in {:.2} s = {:.0}/s",
        a.events,
        a.concurrency,
        elapsed.as_secs_f64(),
        a.events as f64 / elapsed.as_secs_f64()
    );
}

#[tokio::main]
async fn main() {
    let a = args();
    let seen: Shared = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let receiver = format!("http://{}/hook", listener.local_addr().expect("address"));
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(Arc::clone(&seen));
    tokio::spawn(async move { axum::serve(listener, app).await.expect("receiver") });

    ceiling(&receiver, &a).await;
    *seen.lock().unwrap() = Received::default();

    let client = reqwest::Client::new();
    let server = Server {
        url: a.url.clone(),
        key: a.key.clone(),
    };
    let spec = "key: bench-deliveries\nname: One reward per order\ngoal: {kind: count, when: 'event.type == \"order.completed\"', target: 1}\nrewards: [{kind: points, amount: 10}]\nlimits: {per_customer: 1000}\n";
    server
        .graphql(
            &client,
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({ "s": spec }),
        )
        .await;
    server
        .graphql(
            &client,
            "mutation { publishCampaign(key: \"bench-deliveries\") { version } }",
            json!({}),
        )
        .await;
    server.graphql(&client, "mutation($u: String!) { createWebhookEndpoint(input: {url: $u, description: \"bench\"}) { secret } }",
        json!({ "u": receiver }),
    )
    .await;

    // Throughput: N rewards as fast as ingestion takes them.
    let n = a.events;
    let started = Instant::now();
    let batch = 1_000;
    let mut sends = Vec::new();
    for first in (0..n).step_by(batch as usize) {
        sends.push((first, (first + batch).min(n)));
    }
    let sends = Arc::new(Mutex::new(sends));
    let a = Arc::new(a);
    let mut tasks = Vec::new();
    for _ in 0..4 {
        let (client, sends, server) = (client.clone(), Arc::clone(&sends), server.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let Some((first, last)) = sends.lock().unwrap().pop() else {
                    return;
                };
                send(&client, &server, "t", first..last).await;
            }
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let ingested = started.elapsed();
    let total = wait_for(&seen, n as usize, Duration::from_secs(600)).await;
    let (first, last) = {
        let s = seen.lock().unwrap();
        let times = s.by_id.values().map(|v| v[0].at);
        (times.clone().min().expect("one"), times.max().expect("one"))
    };
    let span = last - first;
    println!(
        "throughput: {n} rewards ingested in {:.2} s; delivered from the first to the last in {:.2} s = {:.0} deliveries/s ({} arrivals, {} duplicates)",
        ingested.as_secs_f64(),
        span.as_secs_f64(),
        n as f64 / span.as_secs_f64(),
        total,
        total - n,
    );

    // Latency: a steady rate.
    *seen.lock().unwrap() = Received::default();
    let per_tick = (a.rate / 100).max(1);
    let ticks = a.seconds * 100;
    let mut interval = tokio::time::interval(Duration::from_millis(10));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut posts = tokio::task::JoinSet::new();
    for tick in 0..ticks {
        interval.tick().await;
        let (client, server) = (client.clone(), server.clone());
        posts.spawn(async move {
            send(
                &client,
                &server,
                "s",
                tick * per_tick..(tick + 1) * per_tick,
            )
            .await;
        });
    }
    while let Some(r) = posts.join_next().await {
        r.expect("post");
    }
    let sent = ticks * per_tick;
    let total = wait_for(&seen, sent as usize, Duration::from_secs(600)).await;
    let mut latencies: Vec<Duration> = {
        let s = seen.lock().unwrap();
        s.by_id
            .values()
            .filter_map(|v| {
                let issued = v[0].issued_at?;
                (v[0].wall - issued).to_std().ok()
            })
            .collect()
    };
    latencies.sort();
    println!(
        "latency at {} rewards/s for {} s: issued→delivered p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} rewards, {} duplicates)",
        per_tick * 100,
        a.seconds,
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.99)),
        ms(latencies.last().copied().unwrap_or_default()),
        latencies.len(),
        total - sent,
    );
}
