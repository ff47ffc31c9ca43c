//! Events from NATS JetStream (DESIGN §8), through real `offerflow serve` processes on one
//! PostgreSQL schema and one stream: three nodes share the stream, one is killed with SIGKILL
//! mid-stream, part of the stream is published again, and the ledger is what a serial run
//! gives (a sequence in every customer's order, a budget reached exactly); messages that are
//! not events are acked, reported and republished with their reason.
//!
//! Needs `OFFERFLOW_TEST_POSTGRES_URL` and `OFFERFLOW_TEST_NATS_URL` (`.ci/run` sets both);
//! skipped without them, and failing under `CI` without them.

use async_nats::jetstream;
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

fn bin() -> PathBuf {
    std::env::var_os("OFFERFLOW_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_offerflow")))
}

/// The PostgreSQL and NATS URLs, or `None` (with a note) when they are not configured.
fn services() -> Option<(String, String)> {
    let pg = std::env::var("OFFERFLOW_TEST_POSTGRES_URL").ok();
    let nats = std::env::var("OFFERFLOW_TEST_NATS_URL").ok();
    match (pg, nats) {
        (Some(pg), Some(nats)) => Some((pg, nats)),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("CI must set OFFERFLOW_TEST_POSTGRES_URL and OFFERFLOW_TEST_NATS_URL")
        }
        _ => {
            eprintln!("OFFERFLOW_TEST_POSTGRES_URL or OFFERFLOW_TEST_NATS_URL is not set: skipped");
            None
        }
    }
}

static NEXT: AtomicU64 = AtomicU64::new(0);

/// One test's deployment: a schema, a stream, and its nodes.
struct Deployment {
    pg: String,
    nats: String,
    schema: String,
    stream: String,
    subject: String,
    database_url: String,
    nodes: Vec<Node>,
    key: String,
    ack_wait_ms: u64,
}

struct Node {
    child: Child,
    base: String,
}

impl Deployment {
    fn new(pg: String, nats: String, ack_wait_ms: u64) -> Deployment {
        let tag = format!(
            "{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let schema = format!("nats_{tag}");
        psql(
            &pg,
            &format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}"),
        );
        let sep = if pg.contains('?') { '&' } else { '?' };
        let database_url = format!("{pg}{sep}options=-c%20search_path%3D{schema}");
        Deployment {
            pg,
            nats,
            stream: format!("TEST_EVENTS_{tag}"),
            subject: format!("test.events.{tag}.>"),
            schema,
            database_url,
            nodes: Vec::new(),
            key: String::new(),
            ack_wait_ms,
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("OFFERFLOW_DATABASE_URL", self.database_url.clone()),
            ("OFFERFLOW_NATS_URL", self.nats.clone()),
            ("OFFERFLOW_NATS_STREAM", self.stream.clone()),
            ("OFFERFLOW_NATS_SUBJECT", self.subject.clone()),
            ("OFFERFLOW_NATS_ACK_WAIT_MS", self.ack_wait_ms.to_string()),
            ("OFFERFLOW_NATS_PARTITIONS", "6".into()),
            ("OFFERFLOW_NATS_BATCH", "50".into()),
            ("OFFERFLOW_RATE_LIMIT_PER_SECOND", "0".into()),
        ]
    }

    /// Starts a node and waits until it listens; the first one's admin key is kept.
    fn start_node(&mut self) {
        let mut child = Command::new(bin())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .envs(self.env())
            .env("RUST_LOG", "warn,sources=info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("offerflow serve");
        let stderr = child.stderr.take().expect("stderr");
        let (sender, receiver) = std::sync::mpsc::channel::<String>();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let _ = sender.send(line);
            }
        });
        let deadline = Instant::now() + Duration::from_secs(60);
        let base = loop {
            let line = receiver
                .recv_timeout(deadline.saturating_duration_since(Instant::now()))
                .expect("the node starts");
            let line = line.trim().to_owned();
            if line.starts_with("of_") && self.key.is_empty() {
                self.key = line.clone();
            }
            if let Some(rest) = line.strip_prefix("offerflow listening on http://") {
                let address = rest.split_whitespace().next().expect("address");
                break format!("http://{address}");
            }
        };
        // Keep reading, so that the node never blocks on a full pipe.
        std::thread::spawn(move || while receiver.recv().is_ok() {});
        self.nodes.push(Node { child, base });
    }

    async fn graphql(&self, query: &str, variables: Value) -> Value {
        let answer: Value = reqwest::Client::new()
            .post(format!("{}/graphql", self.nodes[0].base))
            .bearer_auth(&self.key)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("graphql")
            .json()
            .await
            .expect("json");
        assert!(answer.get("errors").is_none(), "{answer}");
        answer["data"].clone()
    }

    async fn publish_campaign(&self, source: &str) {
        let created = self
            .graphql(
                "mutation($s: String!) { createCampaign(source: $s) { key } }",
                json!({"s": source}),
            )
            .await;
        let key = created["createCampaign"]["key"]
            .as_str()
            .expect("key")
            .to_owned();
        self.graphql(
            "mutation($k: String!) { publishCampaign(key: $k) { version } }",
            json!({"k": key}),
        )
        .await;
    }

    /// The ledger, through `offerflow rewards export`.
    fn ledger(&self) -> Vec<Value> {
        let out = Command::new(bin())
            .args(["rewards", "export", "--database-url", &self.database_url])
            .output()
            .expect("rewards export");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON line"))
            .collect()
    }

    /// `offerflow events publish` of `lines`.
    fn publish_file(&self, lines: &[String]) {
        assert!(!lines.is_empty());
        let mut file = tempfile::NamedTempFile::new().expect("file");
        for l in lines {
            writeln!(file, "{l}").expect("write");
        }
        let out = Command::new(bin())
            .args(["events", "publish"])
            .arg(file.path())
            .envs(self.env())
            .output()
            .expect("events publish");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(
            said.contains(&format!("published {} messages", lines.len())),
            "{said}"
        );
    }

    async fn metric(&self, node: usize, name: &str) -> u64 {
        let text = reqwest::Client::new()
            .get(format!("{}/metrics", self.nodes[node].base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("metrics")
            .text()
            .await
            .expect("text");
        // One OpenMetrics exposition: the source's families inside it, nothing after `# EOF`.
        assert!(
            text.ends_with("\n# EOF\n") && text.matches("# EOF").count() == 1,
            "{text}"
        );
        text.lines()
            .filter(|l| l.starts_with(name))
            .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    fn kill(&mut self, i: usize) {
        let node = &mut self.nodes[i];
        // SIGKILL: nothing of the node's own shutdown runs.
        node.child.kill().expect("kill");
        let _ = node.child.wait();
    }
}

impl Drop for Deployment {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            let _ = n.child.kill();
            let _ = n.child.wait();
        }
        psql(
            &self.pg,
            &format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema),
        );
        let (nats, stream) = (self.nats.clone(), self.stream.clone());
        // The stream goes too; a failure to delete it only leaves a test stream behind.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().ok()?;
            runtime.block_on(async {
                let client = async_nats::connect(&nats).await.ok()?;
                jetstream::new(client).delete_stream(&stream).await.ok()
            })
        })
        .join();
    }
}

fn psql(url: &str, sql: &str) {
    let status = Command::new("psql")
        .args([url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql])
        .env("PGOPTIONS", "--client-min-messages=warning")
        .stdout(Stdio::null())
        .status()
        .expect("psql");
    assert!(status.success(), "psql: {sql}");
}

/// The one value `sql` answers.
fn psql_value(url: &str, sql: &str) -> String {
    let out = Command::new("psql")
        .args([url, "-tA", "-c", sql])
        .output()
        .expect("psql");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Waits until `condition` holds, checking every 100 ms, for at most `limit`.
async fn wait_until<F, Fut>(what: &str, limit: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !condition().await {
        assert!(Instant::now() < deadline, "waited {limit:?} for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

const ORDERS: &str = r#"
key: two-orders
name: Two orders, three times over
goal: {kind: count, when: 'event.type == "order"', target: 2}
rewards: [{kind: points, amount: 100}]
limits: {per_customer: 3}
"#;

const STEPS: &str = r#"
key: steps
name: Browse, add to cart, buy, in that order
goal:
  kind: sequence
  steps:
    - {name: browse, when: 'event.type == "step.a"'}
    - {name: cart, when: 'event.type == "step.b"'}
    - {name: buy, when: 'event.type == "step.c"'}
rewards: [{kind: badge, amount: 1}]
"#;

const BUDGET: &str = r#"
key: first-25
name: The first 25 bonus claims
goal: {kind: count, when: 'event.type == "bonus"', target: 1}
rewards: [{kind: coupon, amount: 5}]
limits: {max_rewards: 25}
"#;

/// Each customer's events, in their order: a sequence interleaved with four orders and a
/// bonus claim. Customers are interleaved with each other.
fn stream(customers: usize) -> Vec<String> {
    let kinds = [
        "step.a", "order", "step.b", "order", "bonus", "order", "step.c", "order",
    ];
    let mut lines = Vec::new();
    for (k, kind) in kinds.iter().enumerate() {
        for c in 0..customers {
            let at = format!("2026-12-01T10:{:02}:{:02}Z", k, c % 60);
            lines.push(
                json!({"id": format!("c{c}-{k}"), "customer_id": format!("c{c}"), "type": kind,
                    "occurred_at": at})
                .to_string(),
            );
        }
    }
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_one_killed_give_the_serial_ledger() {
    let Some((pg, nats)) = services() else { return };
    let mut d = Deployment::new(pg, nats, 3_000);
    for _ in 0..3 {
        d.start_node();
    }
    for source in [ORDERS, STEPS, BUDGET] {
        d.publish_campaign(source).await;
    }
    let customers = 150;
    let lines = stream(customers);
    let (first, second) = lines.split_at(lines.len() / 2);
    d.publish_file(first);
    // Mid-stream: once some rewards are issued, node 1 dies; the rest of the stream comes
    // after, so node 1's partitions are taken over with work left in them, and each
    // customer's last sequence step is applied by another node than the first ones.
    wait_until("the first rewards", Duration::from_secs(60), || async {
        !d.ledger().is_empty()
    })
    .await;
    d.kill(1);
    d.publish_file(second);
    // Part of the stream again, as a producer retrying without a message id would send it
    // (JetStream's own duplicate window does not drop these).
    let client = async_nats::connect(&d.nats).await.expect("nats");
    let js = jetstream::new(client);
    let subject = d.subject.replace('>', "again");
    for line in &lines[..lines.len() / 3] {
        js.publish(subject.clone(), line.clone().into())
            .await
            .expect("publish")
            .await
            .expect("stored");
    }
    // Everything is applied: the two survivors take node 1's partitions over.
    let expected = customers * 2 + customers + 25;
    wait_until("the whole ledger", Duration::from_secs(120), || async {
        d.ledger().len() >= expected
    })
    .await;
    wait_until("no lag", Duration::from_secs(60), || async {
        d.metric(0, "offerflow_nats_pending").await + d.metric(2, "offerflow_nats_pending").await
            == 0
    })
    .await;
    let ledger = d.ledger();
    let mut by_campaign: BTreeMap<String, BTreeSet<(String, u64)>> = BTreeMap::new();
    for r in &ledger {
        let key = (
            r["customer_id"].as_str().expect("customer").to_owned(),
            r["cycle"].as_u64().expect("cycle"),
        );
        let fresh = by_campaign
            .entry(r["campaign"].as_str().expect("campaign").to_owned())
            .or_default()
            .insert(key);
        assert!(fresh, "a reward issued twice: {r}");
    }
    // What a serial run gives: two completions of two-orders for everyone (four orders), the
    // sequence completed by everyone (its steps applied in order, across nodes), and the
    // budget reached exactly.
    assert_eq!(ledger.len(), expected, "{by_campaign:?}");
    for c in 0..customers {
        let who = format!("c{c}");
        for cycle in [1, 2] {
            assert!(
                by_campaign["two-orders"].contains(&(who.clone(), cycle)),
                "{who}"
            );
        }
        assert!(
            by_campaign["steps"].contains(&(who.clone(), 1)),
            "{who}: steps"
        );
    }
    assert_eq!(by_campaign["first-25"].len(), 25);
    // The survivors took every partition over. A node that took more than its fair share
    // gives the rest back on its next round and the other takes them on its own, so the sum
    // is waited for rather than read once.
    wait_until("every partition held", Duration::from_secs(30), || async {
        d.metric(0, "offerflow_nats_partitions").await
            + d.metric(2, "offerflow_nats_partitions").await
            == 6
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_that_are_not_events_are_acked_reported_and_republished() {
    let Some((pg, nats)) = services() else { return };
    let mut d = Deployment::new(pg, nats, 2_000);
    d.start_node();
    d.publish_campaign(ORDERS).await;
    let client = async_nats::connect(&d.nats).await.expect("nats");
    let mut rejected = client
        .subscribe(sources::REJECTED_SUBJECT)
        .await
        .expect("subscribe");
    client.flush().await.expect("flush");
    let good = json!({"id": "g1", "customer_id": "c1", "type": "order",
        "occurred_at": "2026-12-01T10:00:00Z"})
    .to_string();
    let conflict = json!({"id": "g1", "customer_id": "c1", "type": "order",
        "occurred_at": "2026-12-01T11:00:00Z"})
    .to_string();
    let lines = [
        good,
        "not json at all".to_owned(),
        "[1, 2]".to_owned(),
        json!({"id": "bad-1", "customer_id": "c1", "type": "order"}).to_string(),
        json!({"id": "bad-2", "customer_id": ""}).to_string(),
        conflict,
    ];
    d.publish_file(&lines[..5]);
    // The conflicting resend of g1, without a message id (with one, JetStream's duplicate
    // window would drop it before any node saw it).
    let js = jetstream::new(client.clone());
    js.publish(d.subject.replace('>', "resent"), lines[5].clone().into())
        .await
        .expect("publish")
        .await
        .expect("stored");
    let mut reasons = BTreeMap::new();
    for _ in 0..5 {
        let m = tokio::time::timeout(Duration::from_secs(30), rejected.next())
            .await
            .expect("a rejection in time")
            .expect("a message");
        let reason = m
            .headers
            .as_ref()
            .and_then(|h| h.get(sources::REJECTED_REASON_HEADER))
            .map(|v| v.to_string())
            .expect("a reason header");
        reasons.insert(String::from_utf8_lossy(&m.payload).to_string(), reason);
    }
    assert!(
        reasons["not json at all"].contains("not JSON"),
        "{reasons:?}"
    );
    assert!(
        reasons["[1, 2]"].contains("not a JSON object"),
        "{reasons:?}"
    );
    assert!(reasons[&lines[3]].contains("occurred_at"), "{reasons:?}");
    assert!(reasons[&lines[4]].contains("customer_id"), "{reasons:?}");
    assert!(
        reasons[&lines[5]].contains("already processed with different content"),
        "{reasons:?}"
    );
    // Counted by reason, and nothing left to redeliver.
    wait_until("the counts", Duration::from_secs(10), || async {
        d.metric(0, "offerflow_nats_rejected_total").await == 5
            && d.metric(0, "offerflow_nats_pending").await == 0
    })
    .await;
    // `event(id)` answers a rejected id; the conflicting resend keeps the first outcome.
    let answer = d
        .graphql(
            r#"{ bad: event(id: "bad-1") { status error { field } } g1: event(id: "g1") { status } }"#,
            json!({}),
        )
        .await;
    assert_eq!(answer["bad"]["status"], "REJECTED", "{answer}");
    assert_eq!(answer["bad"]["error"]["field"], "occurred_at", "{answer}");
    assert_eq!(answer["g1"]["status"], "PROCESSED", "{answer}");
}

/// A redelivery storm: the database stalls for longer than the ack wait, so JetStream sends
/// every message in flight again while its first delivery is still being applied. No reward is
/// issued twice, and everything is applied.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redelivery_storm_issues_no_reward_twice() {
    let Some((pg, nats)) = services() else { return };
    let mut d = Deployment::new(pg, nats, 1_000);
    d.start_node();
    d.start_node();
    d.publish_campaign(ORDERS).await;
    d.publish_campaign(STEPS).await;
    let customers = 100;
    let lines = stream(customers);
    // The database stalls: the inbox is locked for three seconds, three ack waits.
    let locked = format!(
        "BEGIN; LOCK TABLE {}.inbox IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(3); COMMIT;",
        d.schema
    );
    let pg = d.pg.clone();
    let stall = std::thread::spawn(move || psql(&pg, &locked));
    let held = format!(
        "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation \
         JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = '{}' \
         AND c.relname = 'inbox' AND l.mode = 'AccessExclusiveLock' AND l.granted",
        d.schema
    );
    wait_until("the inbox locked", Duration::from_secs(10), || async {
        psql_value(&d.pg, &held) == "1"
    })
    .await;
    d.publish_file(&lines);
    stall.join().expect("the stall");
    let expected = customers * 2 + customers;
    wait_until("the whole ledger", Duration::from_secs(120), || async {
        d.ledger().len() >= expected
            && d.metric(0, "offerflow_nats_pending").await
                + d.metric(1, "offerflow_nats_pending").await
                == 0
    })
    .await;
    let redelivered = d.metric(0, "offerflow_nats_redelivered_total").await
        + d.metric(1, "offerflow_nats_redelivered_total").await;
    assert!(
        redelivered > 0,
        "no message was redelivered: the storm did not happen"
    );
    let ledger = d.ledger();
    let keys: BTreeSet<String> = ledger
        .iter()
        .map(|r| format!("{}/{}/{}", r["campaign"], r["customer_id"], r["cycle"]))
        .collect();
    assert_eq!(keys.len(), ledger.len(), "a reward issued twice");
    assert_eq!(ledger.len(), expected);
}
