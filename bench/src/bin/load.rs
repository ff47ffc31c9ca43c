//! A load generator for the real server (BENCHMARKS.md).
//!
//! ```text
//! load setup   --url URL --key KEY --customers N SPEC.yaml...   create, publish, profiles
//! load ingest  --url URL --key KEY --customers N --events E --batch B --concurrency C
//! load offers  --url URL --key KEY --customers N --seconds S --concurrency C
//! ```
//! `ingest` posts NDJSON batches to `/v1/events` and checks every event was processed;
//! `offers` asks GraphQL for random customers' offers. Each prints its rate and the request
//! latency's p50, p99 and max.

use offerflow_bench::server::{Server, percentile};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

struct Args {
    url: String,
    key: String,
    customers: u64,
    events: u64,
    batch: u64,
    concurrency: u64,
    seconds: u64,
    files: Vec<String>,
}

fn args() -> (String, Args) {
    let mut it = std::env::args().skip(1);
    let mode = it.next().unwrap_or_default();
    let mut a = Args {
        url: "http://127.0.0.1:8080".into(),
        key: std::env::var("OFFERFLOW_KEY").unwrap_or_default(),
        customers: 10_000,
        events: 100_000,
        batch: 1_000,
        concurrency: 4,
        seconds: 10,
        files: Vec::new(),
    };
    while let Some(flag) = it.next() {
        let mut value = || it.next().expect("a value after the flag");
        match flag.as_str() {
            "--url" => a.url = value(),
            "--key" => a.key = value(),
            "--customers" => a.customers = value().parse().expect("number"),
            "--events" => a.events = value().parse().expect("number"),
            "--batch" => a.batch = value().parse().expect("number"),
            "--concurrency" => a.concurrency = value().parse().expect("number"),
            "--seconds" => a.seconds = value().parse().expect("number"),
            _ => a.files.push(flag),
        }
    }
    (mode, a)
}

fn server(a: &Args) -> Server {
    Server {
        url: a.url.clone(),
        key: a.key.clone(),
    }
}

fn report(what: &str, count: u64, elapsed: Duration, mut latencies: Vec<Duration>) {
    latencies.sort();
    println!(
        "{what}: {count} in {:.2} s = {:.0}/s; request latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} requests)",
        elapsed.as_secs_f64(),
        count as f64 / elapsed.as_secs_f64(),
        percentile(&latencies, 0.5).as_secs_f64() * 1e3,
        percentile(&latencies, 0.99).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        latencies.len()
    );
}

/// Event `i`: customers, types and amounts spread deterministically; time moves forward.
fn event(i: u64, customers: u64) -> Value {
    let types = [
        "order.completed",
        "app.opened",
        "product.viewed",
        "order.completed",
    ];
    let categories = ["shoes", "bags", "hats", "coats", "socks"];
    let start = 1_796_083_200i64; // 2026-12-01T00:00:00Z
    let at = chrono::DateTime::from_timestamp(start + (i as i64) * 2, 0).expect("time");
    let mix = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    json!({
        "id": format!("load-{i}"),
        "customer_id": format!("c{}", mix % customers),
        "type": types[((mix >> 20) % 4) as usize],
        "occurred_at": at.to_rfc3339(),
        "attributes": {"amount": ((mix >> 32) % 80) as i64, "category": categories[((mix >> 40) % 5) as usize]},
    })
}

async fn setup(a: Args) {
    let client = reqwest::Client::new();
    for file in &a.files {
        let source = std::fs::read_to_string(file).expect("spec file");
        let created = server(&a)
            .graphql(
                &client,
                "mutation($s: String!) { createCampaign(source: $s) { key } }",
                json!({"s": source}),
            )
            .await;
        let key = created["data"]["createCampaign"]["key"]
            .as_str()
            .expect("key")
            .to_owned();
        server(&a)
            .graphql(
                &client,
                "mutation($k: String!) { publishCampaign(key: $k) { version } }",
                json!({"k": key}),
            )
            .await;
        eprintln!("published {key}");
    }
    let tiers = ["gold", "silver", "bronze"];
    let started = Instant::now();
    for chunk in (0..a.customers).collect::<Vec<_>>().chunks(25) {
        let mut doc = String::from("mutation {");
        for c in chunk {
            doc.push_str(&format!(" c{c}: upsertCustomer(id: \"c{c}\", attributes: {{tier: \"{}\", country: \"FR\"}}) {{ id }}", tiers[(*c % 3) as usize]));
        }
        doc.push_str(" }");
        server(&a).graphql(&client, &doc, json!({})).await;
    }
    eprintln!(
        "{} profiles in {:.1} s",
        a.customers,
        started.elapsed().as_secs_f64()
    );
}

async fn ingest(a: Args) {
    let a = Arc::new(a);
    let next = Arc::new(AtomicU64::new(0));
    let processed = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..a.concurrency {
        let (a, next, processed) = (Arc::clone(&a), Arc::clone(&next), Arc::clone(&processed));
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            loop {
                let first = next.fetch_add(a.batch, Ordering::Relaxed);
                if first >= a.events {
                    return latencies;
                }
                let last = (first + a.batch).min(a.events);
                let events: Vec<Value> = (first..last).map(|i| event(i, a.customers)).collect();
                let sent = Instant::now();
                let answer = server(&a).post_events(&client, &events).await;
                latencies.push(sent.elapsed());
                let n = answer["counts"]["processed"].as_u64().unwrap_or(0)
                    + answer["counts"]["duplicate"].as_u64().unwrap_or(0);
                assert_eq!(
                    n,
                    last - first,
                    "every event is processed: {}",
                    answer.get("error").unwrap_or(&answer["counts"])
                );
                processed.fetch_add(n, Ordering::Relaxed);
            }
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("task"));
    }
    report(
        "events ingested",
        processed.load(Ordering::Relaxed),
        started.elapsed(),
        latencies,
    );
}

async fn offers(a: Args) {
    let a = Arc::new(a);
    let deadline = Instant::now() + Duration::from_secs(a.seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for worker in 0..a.concurrency {
        let a = Arc::clone(&a);
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut latencies = Vec::new();
            let mut i = worker;
            let query = "query($id: String!) { customer(id: $id) { offers(at: \"2026-12-05T00:00:00Z\") { campaign status progress { current target percent } cyclesLeft missing } } }";
            while Instant::now() < deadline {
                i = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let id = format!("c{}", (i >> 33) % a.customers);
                let sent = Instant::now();
                let response = client
                    .post(format!("{}/graphql", a.url))
                    .bearer_auth(&a.key)
                    .json(&json!({"query": query, "variables": {"id": id}}))
                    .send()
                    .await
                    .expect("request");
                assert!(response.status().is_success(), "{}", response.status());
                let body: Value = response.json().await.expect("json");
                assert!(body.get("errors").is_none(), "{body}");
                latencies.push(sent.elapsed());
            }
            latencies
        }));
    }
    let mut latencies = Vec::new();
    for t in tasks {
        latencies.extend(t.await.expect("task"));
    }
    report(
        "offers queries",
        latencies.len() as u64,
        started.elapsed(),
        latencies,
    );
}

#[tokio::main]
async fn main() {
    let (mode, a) = args();
    match mode.as_str() {
        "setup" => setup(a).await,
        "ingest" => ingest(a).await,
        "offers" => offers(a).await,
        _ => {
            eprintln!(
                "usage: load setup|ingest|offers --url URL --key KEY [options] (see the file's docs)"
            );
            std::process::exit(2);
        }
    }
}
