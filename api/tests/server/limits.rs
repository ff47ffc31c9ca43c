//! Bounds: body size, events per request, page sizes, batched GraphQL; health and GraphiQL;
//! graceful shutdown that finishes the batch in flight.

use crate::common::{TestServer, event, ndjson};
use serde_json::json;

#[tokio::test]
async fn oversized_requests_are_refused_and_nothing_is_lost() {
    let server = TestServer::start("sqlite", |c| {
        c.max_body_bytes = 64 * 1024;
        c.max_events_per_request = 50;
    })
    .await;
    let big = vec![b'x'; 64 * 1024 + 1];
    let (status, answer) = server.post("/v1/events", "application/x-ndjson", big).await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "LIMIT_EXCEEDED");
    let huge_query = format!(
        "{{ campaigns {{ edges {{ cursor }} }} }} #{}",
        "x".repeat(70_000)
    );
    let (status, _) = server
        .post(
            "/graphql",
            "application/json",
            serde_json::to_vec(&json!({"query": huge_query})).unwrap(),
        )
        .await;
    assert_eq!(status, 413);

    let events: Vec<_> = (0..51)
        .map(|i| {
            event(
                &format!("e{i}"),
                "c1",
                "t",
                "2026-12-01T10:00:00Z",
                json!({}),
            )
        })
        .collect();
    let (status, answer) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&events))
        .await;
    assert_eq!(status, 413);
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap()
            .contains("51 events"),
        "{answer}"
    );
    let e = server
        .error(
            "mutation($e: [JSON!]!) { ingestEvents(events: $e) { counts { processed } } }",
            json!({"e": events}),
        )
        .await;
    assert_eq!(e["extensions"]["code"], "LIMIT_EXCEEDED", "{e}");
    // Nothing of a refused request was kept; the limit itself is accepted.
    let (status, answer) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&events[..50]))
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["counts"]["processed"], 50, "{answer}");

    let (status, answer) = server
        .post("/v1/events", "application/json", b"[{\"id\": 1},".to_vec())
        .await;
    assert_eq!(status, 400);
    assert_eq!(answer["error"]["field"], "body", "{answer}");

    let e = server
        .error(
            r#"{ customer(id: "c1") { rewards(first: 1000) { edges { cursor } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(e["extensions"]["code"], "VALIDATION");
    assert_eq!(e["extensions"]["field"], "first");
    let e = server
        .error(
            r#"{ customer(id: "c1") { rewards(after: "zzz") { edges { cursor } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(e["extensions"]["field"], "after", "{e}");

    let batch: Vec<_> = (0..11)
        .map(|_| json!({"query": "{ campaigns { edges { cursor } } }"}))
        .collect();
    let (status, answer) = server
        .post(
            "/graphql",
            "application/json",
            serde_json::to_vec(&batch).unwrap(),
        )
        .await;
    assert_eq!(status, 413, "{answer}");
    let (status, answer) = server
        .post(
            "/graphql",
            "application/json",
            serde_json::to_vec(&batch[..2]).unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer.as_array().map(Vec::len),
        Some(2),
        "a small batch is answered"
    );

    let mut deep = String::from("__typename");
    for _ in 0..6 {
        deep = format!("fields {{ type {{ ofType {{ {deep} }} }} }}");
    }
    let deep = format!("{{ __type(name: \"Query\") {{ {deep} }} }}");
    let e = server.error(&deep, json!({})).await;
    assert_eq!(e["extensions"]["code"], "LIMIT_EXCEEDED", "{e}");
    assert_eq!(e["extensions"]["limit"], "graphql_max_depth", "{e}");
    assert!(e["message"].as_str().unwrap().contains("deep"), "{e}");

    server.stop().await;
}

#[tokio::test]
async fn health_readiness_and_graphiql() {
    let server = TestServer::start("sqlite", |_| {}).await;
    assert_eq!(server.get("/healthz").await, (200, "ok".to_owned()));
    let (status, body) = server.get("/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"ready\":true"));
    // GraphiQL: the page and every file it loads come from this server, without credentials,
    // and its policy lets the browser load nothing from anywhere else.
    let response = reqwest::get(format!("{}/graphql", server.base))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let policy = response.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(policy.contains("default-src 'self'") && policy.contains("script-src 'self'"));
    let page = response.text().await.unwrap();
    assert!(page.contains("GraphiQL"), "{page}");
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("//unpkg"));
    let files: Vec<&str> = page
        .split(['"', '\''])
        .filter(|s| s.starts_with("/graphql/assets/"))
        .collect();
    assert_eq!(files.len(), 6, "{files:?}");
    for file in files.iter().chain(&["/graphql/assets/LICENSE-graphiql"]) {
        let (status, body) = server.get_as(None, file).await;
        assert_eq!(status, 200, "{file}");
        assert!(!body.is_empty(), "{file}");
    }
    let (status, script) = server.get_as(None, "/graphql/assets/graphiql.min.js").await;
    assert_eq!(status, 200);
    assert!(script.len() > 1_000_000 && script.contains("GraphiQL"));
    assert_eq!(server.get_as(None, "/graphql/assets/nope.js").await.0, 404);
    server.stop().await;
}

#[tokio::test]
async fn shutdown_finishes_the_batch_in_flight() {
    // A long batch wait keeps the request's events waiting in the pipeline when the shutdown
    // signal arrives; they must still commit and be answered.
    let mut server = TestServer::start("sqlite", |c| {
        c.batch_wait_ms = 1_500;
        c.max_batch = 10_000;
    })
    .await;
    let events: Vec<_> = (0..200)
        .map(|i| {
            event(
                &format!("e{i}"),
                &format!("c{}", i % 7),
                "t",
                "2026-12-01T10:00:00Z",
                json!({}),
            )
        })
        .collect();
    let client = reqwest::Client::new();
    let url = format!("{}/v1/events", server.base);
    let key = server.key.clone();
    let request = tokio::spawn(async move {
        let r = client
            .post(url)
            .bearer_auth(key)
            .header("content-type", "application/x-ndjson")
            .body(ndjson(&events))
            .send()
            .await
            .expect("request");
        (
            r.status().as_u16(),
            r.json::<serde_json::Value>().await.expect("json"),
        )
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    server.signal_stop();
    let (status, answer) = request.await.expect("request task");
    assert_eq!(status, 200);
    assert_eq!(answer["counts"]["processed"], 200, "{answer}");
    let url = server.database_url.clone();
    let _dir = server.stop().await;
    let store = store::Store::connect(&url).await.expect("reopen");
    let kept = store.event_result("e199").await.expect("read");
    assert!(kept.is_some(), "the batch in flight was committed");
}

/// A query fifty levels deep.
fn deep_query() -> String {
    let mut deep = String::from("name");
    for _ in 0..49 {
        deep = format!("ofType {{ {deep} }}");
    }
    format!("{{ __type(name: \"Query\") {{ {deep} }} }}")
}

#[tokio::test]
async fn deep_queries_many_aliases_and_introspection() {
    let server = TestServer::start("sqlite", |_| {}).await;
    // Fifty levels deep: refused before it runs.
    let e = server.error(&deep_query(), json!({})).await;
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("nested too deep") || message.contains("recursion"),
        "{e}"
    );
    // A thousand aliases: refused, naming the limit; thirty are fine.
    let many: String = (0..1000).map(|i| format!("a{i}: __typename ")).collect();
    let e = server.error(&format!("{{ {many} }}"), json!({})).await;
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("1000 aliases; the limit is 30"),
        "{e}"
    );
    let few: String = (0..30).map(|i| format!("a{i}: __typename ")).collect();
    let ok = server.data(&format!("{{ {few} }}"), json!({})).await;
    assert_eq!(ok["a29"], "Query");
    server.stop().await;

    let closed = TestServer::start("sqlite", |c| c.graphql_introspection = false).await;
    let answer = closed
        .graphql("{ __schema { types { name } } }", json!({}))
        .await;
    assert!(
        answer["data"]["__schema"].is_null() || answer.get("errors").is_some(),
        "introspection is off: {answer}"
    );
    assert!(!answer.to_string().contains("CampaignInput"), "{answer}");
    let data = closed
        .data("{ campaigns { edges { cursor } } }", json!({}))
        .await;
    assert_eq!(data["campaigns"]["edges"], json!([]));
    closed.stop().await;
}

#[tokio::test]
async fn an_over_rate_client_gets_429_with_retry_after() {
    let server = TestServer::start("sqlite", |c| {
        c.rate_limit_per_second = 1;
        c.rate_limit_burst = 3;
    })
    .await;
    let other = server
        .app
        .keys()
        .create("other", &[api::auth::Scope::Read])
        .await
        .unwrap()
        .secret;
    let query = br#"{"query": "{ campaigns { edges { cursor } } }"}"#;
    let mut statuses = Vec::new();
    let mut limited = None;
    for _ in 0..5 {
        let (status, headers, body) = server
            .post_as(
                Some(&server.key),
                "/graphql",
                "application/json",
                query.to_vec(),
            )
            .await;
        statuses.push(status);
        if status == 429 {
            limited = Some((headers, body));
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let (headers, body) = limited.unwrap();
    let retry: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=2).contains(&retry), "{retry}");
    assert_eq!(body["error"]["code"], "LIMIT_EXCEEDED", "{body}");
    // Another key has its own bucket.
    let (status, _, _) = server
        .post_as(Some(&other), "/graphql", "application/json", query.to_vec())
        .await;
    assert_eq!(status, 200);
    server.stop().await;
}

#[tokio::test]
async fn a_repeated_query_meets_every_check_again() {
    // The second sending of each text reuses its parsed document: the limits, validation
    // and parse errors must answer as they did the first time.
    let server = TestServer::start("sqlite", |_| {}).await;
    let deep = deep_query();
    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    let aliases = format!("{{ {aliases} }}");
    for round in 0..2 {
        let e = server.error(&deep, json!({})).await;
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("nested too deep") || message.contains("recursion"),
            "round {round}: {e}"
        );
        let e = server.error(&aliases, json!({})).await;
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("31 aliases"), "round {round}: {e}");
        let e = server.error("{ campaigns { nope } }", json!({})).await;
        let message = e["message"].as_str().unwrap();
        assert!(message.contains("nope"), "round {round}: {e}");
        let e = server.error("{ campaigns { ", json!({})).await;
        assert!(e["message"].is_string(), "round {round}: {e}");
        let query = "query($id: String!) { customer(id: $id) { id } }";
        let e = server.error(query, json!({})).await;
        assert!(
            e["message"].is_string(),
            "round {round}: a variable is missing: {e}"
        );
        let data = server.data(query, json!({"id": format!("c{round}")})).await;
        assert_eq!(data["customer"]["id"], format!("c{round}"));
    }
    server.stop().await;
}
