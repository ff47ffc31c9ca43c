//! What the load generators share: GraphQL calls to the server under test, percentiles.

use serde_json::{Value, json};
use std::time::Duration;

/// The server under test: its base URL and an API key.
#[derive(Debug, Clone)]
pub struct Server {
    /// `http://127.0.0.1:8080`.
    pub url: String,
    /// A key with the scopes the run needs.
    pub key: String,
}

impl Server {
    /// Sends a GraphQL operation; panics on an error, so that a run never measures refusals.
    pub async fn graphql(&self, client: &reqwest::Client, query: &str, variables: Value) -> Value {
        let answer: Value = client
            .post(format!("{}/graphql", self.url))
            .bearer_auth(&self.key)
            .json(&json!({"query": query, "variables": variables}))
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json");
        assert!(answer.get("errors").is_none(), "{answer}");
        answer
    }

    /// Posts `events` (values serialised one per line) to `/v1/events`; answers the body.
    pub async fn post_events(&self, client: &reqwest::Client, events: &[Value]) -> Value {
        let mut body = Vec::with_capacity(events.len() * 200);
        for e in events {
            body.extend_from_slice(e.to_string().as_bytes());
            body.push(b'\n');
        }
        client
            .post(format!("{}/v1/events", self.url))
            .bearer_auth(&self.key)
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("json")
    }
}

/// The `p` quantile (0 to 1) of `sorted`, or zero when it is empty.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}
