//! Documents built to exhaust the server (issue 13): fragment bombs, values and selections
//! nested thousands deep, deep variables, sent anonymously and with a key. Each must be
//! refused with `LIMIT_EXCEEDED` naming its limit before the work it would cause, leave the
//! process answering, and keep its memory bounded: the process's peak resident memory
//! (`VmHWM`, this server runs in the test's process) may grow by at most [`MEMORY_BOUND`]
//! over a whole test; unbounded, the first bomb alone takes gigabytes and aborts.

use crate::common::{TestServer, backends};
use serde_json::{Value, json};

/// Growth allowed to the process's peak resident memory over one test.
const MEMORY_BOUND: u64 = 256 * 1024 * 1024;

/// The process's peak resident memory, in bytes.
fn peak_memory() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmHWM");
    kb * 1024
}

/// `POST /graphql` of `body` with the admin key: status and JSON answer.
async fn post(server: &TestServer, body: &Value) -> (u16, Value) {
    let bytes = serde_json::to_vec(body).unwrap();
    server.post("/graphql", "application/json", bytes).await
}

/// The server still answers a small query.
async fn alive(server: &TestServer) {
    let data = server.data("{ __typename }", json!({})).await;
    assert_eq!(data["__typename"], "Query");
}

/// Sends `query` and checks it is refused by `limit` (`LIMIT_EXCEEDED`), then that the server
/// still answers.
async fn refused_by(server: &TestServer, query: &str, variables: Value, limit: &str) {
    let (status, answer) = post(server, &json!({"query": query, "variables": variables})).await;
    assert_eq!(status, 200, "{answer}");
    let e = &answer["errors"][0];
    assert_eq!(e["extensions"]["code"], "LIMIT_EXCEEDED", "{limit}: {e}");
    assert_eq!(e["extensions"]["limit"], limit, "{e}");
    assert!(e["message"].as_str().unwrap().contains(limit), "{e}");
    assert!(answer["data"].is_null(), "nothing ran: {answer}");
    alive(server).await;
}

/// Fragments `{prefix}0..={levels}` on `on`, each spreading the one before `times` times
/// (with `wrap` around each spread: `{}` for none), the last spread by `operation`.
fn bomb(levels: usize, times: usize, on: &str, wrap: &str, operation: &str) -> String {
    let mut text = operation.replace("LAST", &format!("...F{levels}"));
    text.push_str(&format!(" fragment F0 on {on} {{ __typename }}"));
    for i in 1..=levels {
        let spreads: String = (0..times)
            .map(|k| {
                wrap.replace("{}", &format!("...F{}", i - 1))
                    .replace("K", &k.to_string())
            })
            .collect::<Vec<_>>()
            .join(" ");
        text.push_str(&format!(" fragment F{i} on {on} {{ {spreads} }}"));
    }
    text
}

#[tokio::test]
async fn fragment_bombs_are_refused_before_they_expand() {
    for backend in backends() {
        fragment_bombs_are_refused_before_they_expand_on(backend).await;
    }
}

async fn fragment_bombs_are_refused_before_they_expand_on(backend: &str) {
    let server = TestServer::start(backend, |_| {}).await;
    let before = peak_memory();

    // The reported bomb: 27 fragments, each spreading the one before twice (~1 KB, 2^27).
    let reported = bomb(27, 2, "Query", "{}", "{ LAST }");
    assert!(reported.len() < 1_500, "{}", reported.len());
    refused_by(&server, &reported, json!({}), "graphql_max_selections").await;
    // Deeper than the recursion limit: refused before it is even measured in full.
    let deeper = bomb(60, 2, "Query", "{}", "{ LAST }");
    refused_by(&server, &deeper, json!({}), "graphql_max_recursion").await;
    // Wider: each fragment spreads the one before eight times.
    let wide = bomb(12, 8, "Query", "{}", "{ LAST }");
    refused_by(&server, &wide, json!({}), "graphql_max_selections").await;
    // Spreads inside inline fragments.
    let inline = bomb(14, 2, "Query", "... on Query { {} }", "{ LAST }");
    refused_by(&server, &inline, json!({}), "graphql_max_selections").await;
    // Spreads inside aliased fields, under an aliased field of the operation.
    let aliased = bomb(
        12,
        2,
        "__Type",
        "aK: ofType { {} }",
        r#"{ t: __type(name: "Query") { LAST } }"#,
    )
    .replace(
        "fragment F0 on __Type { __typename }",
        "fragment F0 on __Type { name }",
    );
    refused_by(&server, &aliased, json!({}), "graphql_max_selections").await;
    let aliased_flat = bomb(
        20,
        2,
        "__Type",
        "{}",
        r#"{ a: __type(name: "Query") { LAST } b: __type(name: "Query") { LAST } }"#,
    );
    refused_by(&server, &aliased_flat, json!({}), "graphql_max_selections").await;
    // Aliases inside a fragment count once per spread.
    let aliases: String = (0..10).map(|i| format!("a{i}: __typename ")).collect();
    let spread_aliases = format!("{{ ...A ...A ...A ...A }} fragment A on Query {{ {aliases} }}");
    refused_by(&server, &spread_aliases, json!({}), "graphql_max_aliases").await;
    // Many small fragments, each spread once.
    let mut many = String::from("{ ");
    let mut defs = String::new();
    for i in 0..300 {
        many.push_str(&format!("...M{i} "));
        defs.push_str(&format!(
            " fragment M{i} on Query {{ {} }}",
            "__typename ".repeat(40)
        ));
    }
    many.push('}');
    refused_by(
        &server,
        &(many + &defs),
        json!({}),
        "graphql_max_selections",
    )
    .await;
    // So many that the text alone is past the token limit: never parsed.
    let mut huge = String::from("{ ");
    for i in 0..5_000 {
        huge.push_str(&format!("...H{i} "));
    }
    huge.push('}');
    for i in 0..5_000 {
        huge.push_str(&format!(" fragment H{i} on Query {{ __typename }}"));
    }
    refused_by(&server, &huge, json!({}), "graphql_max_tokens").await;
    // Over a batch, every operation is refused by itself.
    let (status, answer) = post(
        &server,
        &json!([{"query": reported}, {"query": "{ __typename }"}]),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer[0]["errors"][0]["extensions"]["code"],
        "LIMIT_EXCEEDED"
    );
    assert_eq!(answer[1]["data"]["__typename"], "Query");

    // Cycles: refused as invalid, whatever the path.
    for cyclic in [
        "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "{ ...A } fragment A on Query { ... on Query { ...A } }",
        "{ __typename } fragment A on Query { ...A }",
    ] {
        let e = server.error(cyclic, json!({})).await;
        assert_eq!(e["extensions"]["code"], "VALIDATION", "{cyclic}: {e}");
        assert!(
            e["message"].as_str().unwrap().contains("spreads itself"),
            "{e}"
        );
        alive(&server).await;
    }

    // A bomb small enough is within every limit and answered.
    let small = bomb(5, 2, "Query", "{}", "{ LAST }");
    assert_eq!(server.data(&small, json!({})).await["__typename"], "Query");

    // Anonymous callers are refused at the door, bombs or not.
    let (status, _, answer) = server
        .post_as(
            None,
            "/graphql",
            "application/json",
            serde_json::to_vec(&json!({"query": reported})).unwrap(),
        )
        .await;
    assert_eq!(status, 401, "{answer}");

    let grown = peak_memory().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "peak memory grew by {grown} bytes");
    let (_, metrics) = server.get("/metrics").await;
    for reason in ["selections", "recursion", "aliases", "tokens"] {
        let series = format!("offerflow_refusals_total{{reason=\"graphql_{reason}\"}}");
        assert!(metrics.contains(&series), "{series}: {metrics}");
    }
    server.stop().await;
}

#[tokio::test]
async fn deep_values_selections_and_variables_are_refused_before_parsing() {
    for backend in backends() {
        deep_values_selections_and_variables_are_refused_before_parsing_on(backend).await;
    }
}

async fn deep_values_selections_and_variables_are_refused_before_parsing_on(backend: &str) {
    let server = TestServer::start(backend, |_| {}).await;
    let before = peak_memory();
    let list = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
    let object = |n: usize| format!("{}1{}", "{a: ".repeat(n), "}".repeat(n));

    // Values in the query text: lists and objects, 2,000 deep (the reported abort) and
    // 200,000 deep; brackets in a string do not count.
    for value in [list(2_000), object(2_000), list(200_000)] {
        let query = format!("{{ customer(id: {value}) {{ id }} }}");
        refused_by(&server, &query, json!({}), "graphql_max_nesting").await;
    }
    let quoted = format!(r#"{{ __type(name: "{}") {{ name }} }}"#, "[{".repeat(5_000));
    let data = server.data(&quoted, json!({})).await;
    assert!(data["__type"].is_null(), "{data}");
    // Selection sets 5,000 deep, and in a fragment.
    let selections = format!("{}{}", "{ a ".repeat(5_000), "}".repeat(5_000));
    refused_by(&server, &selections, json!({}), "graphql_max_nesting").await;
    let fragment = format!("{{ ...F }} fragment F on Query {{ {} }}", list(3_000));
    refused_by(&server, &fragment, json!({}), "graphql_max_nesting").await;
    // At the limit, the value goes through the parser and validation, which answer.
    let at_limit = format!("{{ customer(id: {}) {{ id }} }}", list(60));
    let e = server.error(&at_limit, json!({})).await;
    assert!(e["message"].as_str().unwrap().contains("id"), "{e}");
    alive(&server).await;

    // Variables: one level deeper than the limit, refused by the schema; deeper than the
    // limit and the request's own wrapping, refused with the body before it is parsed (as
    // the JSON parser would past 128 levels).
    let deep_json = |n: usize| -> Value {
        let mut v = json!(1);
        for _ in 0..n {
            v = json!([v]);
        }
        v
    };
    let query = "query($id: String!) { customer(id: $id) { id } }";
    refused_by(
        &server,
        query,
        json!({"id": deep_json(65)}),
        "graphql_max_nesting",
    )
    .await;
    let deep_object = (0..65).fold(json!(1), |v, _| json!({"a": v}));
    refused_by(
        &server,
        query,
        json!({"id": deep_object}),
        "graphql_max_nesting",
    )
    .await;
    for depth in [100, 50_000] {
        let body = format!(
            r#"{{"query": "{{ __typename }}", "variables": {{"id": {}}}}}"#,
            list(depth)
        );
        let (status, answer) = server
            .post("/graphql", "application/json", body.into_bytes())
            .await;
        assert_eq!(status, 413, "{answer}");
        assert_eq!(answer["error"]["code"], "LIMIT_EXCEEDED");
        assert!(
            answer["error"]["message"]
                .as_str()
                .unwrap()
                .contains("graphql_max_nesting"),
            "{answer}"
        );
        alive(&server).await;
    }
    // Within the limit, a deep JSON variable is taken as it is.
    let e = server.error(query, json!({"id": deep_json(60)})).await;
    assert_ne!(e["extensions"]["code"], "LIMIT_EXCEEDED", "{e}");
    alive(&server).await;

    // Over a WebSocket: the same limit for variables; JSON deeper than the socket's parser
    // takes (128) ends that connection only.
    for (depth, refused) in [(65, true), (60, false), (5_000, true)] {
        let messages = over_websocket(
            &server,
            json!({"query": query, "variables": {"id": deep_json(depth)}}),
        )
        .await;
        let all = Value::Array(messages.clone()).to_string();
        let limit = all.contains("graphql_max_nesting");
        if depth > 128 {
            assert!(!all.contains("\"data\""), "{depth}: {all}");
        } else {
            assert_eq!(limit, refused, "{depth}: {all}");
        }
        alive(&server).await;
    }

    let grown = peak_memory().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "peak memory grew by {grown} bytes");
    server.stop().await;
}

#[tokio::test]
async fn many_small_values_are_refused_before_parsing() {
    for backend in backends() {
        many_small_values_are_refused_before_parsing_on(backend).await;
    }
}

/// Parsed, a JSON value takes about 100 bytes: a body of 7.5 MB of `0,` (under the body limit)
/// would take about 370 MB, past [`MEMORY_BOUND`].
async fn many_small_values_are_refused_before_parsing_on(backend: &str) {
    let server = TestServer::start(backend, |_| {}).await;
    let before = peak_memory();
    let body = |values: usize| {
        let zeros = vec!["0"; values].join(",");
        format!(r#"{{"query": "{{ __typename }}", "variables": {{"v": [{zeros}]}}}}"#)
    };
    let big = body(3_900_000);
    assert!(big.len() < 8 * 1024 * 1024);
    let (status, answer) = server
        .post("/graphql", "application/json", big.into_bytes())
        .await;
    assert_eq!(status, 413, "{answer}");
    assert_eq!(answer["error"]["code"], "LIMIT_EXCEEDED");
    let message = answer["error"]["message"].as_str().unwrap();
    assert!(message.contains("graphql_max_json_values"), "{answer}");
    alive(&server).await;
    // Within the limit: parsed and answered.
    let (status, answer) = server
        .post("/graphql", "application/json", body(400_000).into_bytes())
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["data"]["__typename"], "Query");
    let grown = peak_memory().saturating_sub(before);
    assert!(grown < MEMORY_BOUND, "peak memory grew by {grown} bytes");
    let (_, metrics) = server.get("/metrics").await;
    assert_eq!(count(&metrics, "graphql_json_values"), 1, "{metrics}");
    server.stop().await;
}

#[tokio::test]
async fn event_bodies_of_many_small_values_are_refused_before_parsing() {
    for backend in backends() {
        let server = TestServer::start(backend, |_| {}).await;
        let before = peak_memory();
        let event = |values: usize| {
            let zeros = vec!["0"; values].join(",");
            format!(
                r#"{{"id":"e","customer_id":"c","type":"t","occurred_at":"2026-12-01T10:00:00Z","attributes":{{"l":[{zeros}]}}}}"#
            )
        };
        // The same 7.5 MB as one JSON array and as NDJSON: refused unparsed.
        for (kind, body) in [
            ("application/json", format!("[{}]", event(3_900_000))),
            ("application/x-ndjson", format!("{}\n", event(3_900_000))),
        ] {
            assert!(body.len() < 8 * 1024 * 1024);
            let (status, answer) = server.post("/v1/events", kind, body.into_bytes()).await;
            assert_eq!(status, 413, "{backend} {kind}: {answer}");
            assert_eq!(answer["error"]["code"], "LIMIT_EXCEEDED");
            let message = answer["error"]["message"].as_str().unwrap();
            assert!(message.contains("max_json_values_per_request"), "{answer}");
        }
        alive(&server).await;
        // Within the limit, the body is read; the event itself is past its 64 KiB of
        // attributes, and rejected alone, naming the field.
        let (status, answer) = server
            .post(
                "/v1/events",
                "application/x-ndjson",
                format!("{}\n", event(100_000)).into_bytes(),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["results"][0]["status"], "rejected", "{answer}");
        assert_eq!(answer["results"][0]["error"]["field"], "attributes");
        let grown = peak_memory().saturating_sub(before);
        assert!(grown < MEMORY_BOUND, "peak memory grew by {grown} bytes");
        let (_, metrics) = server.get("/metrics").await;
        assert_eq!(count(&metrics, "json_values"), 2, "{metrics}");
        server.stop().await;
    }
}

/// Every message answering one `subscribe` of `payload` over a new WebSocket with the admin
/// key, until it completes, fails, or the socket closes.
async fn over_websocket(server: &TestServer, payload: Value) -> Vec<Value> {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let url = format!("{}/graphql/ws", server.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    let init = json!({"type": "connection_init", "payload": {"Authorization": format!("Bearer {}", server.key)}});
    socket.send(send(init)).await.unwrap();
    socket
        .send(send(
            json!({"id": "1", "type": "subscribe", "payload": payload}),
        ))
        .await
        .ok();
    let mut seen = Vec::new();
    let deadline = std::time::Duration::from_secs(10);
    while let Ok(Some(Ok(message))) = tokio::time::timeout(deadline, socket.next()).await {
        match message {
            Message::Text(text) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                let done = matches!(v["type"].as_str(), Some("complete" | "error"));
                seen.push(v);
                if done {
                    break;
                }
            }
            Message::Close(frame) => {
                seen.push(json!({"type": "close", "reason": format!("{frame:?}")}));
                break;
            }
            _ => {}
        }
    }
    seen
}

#[tokio::test]
async fn every_limit_answers_limit_exceeded_naming_its_setting() {
    for backend in backends() {
        every_limit_answers_limit_exceeded_naming_its_setting_on(backend).await;
    }
}

async fn every_limit_answers_limit_exceeded_naming_its_setting_on(backend: &str) {
    let server = TestServer::start(backend, |c| {
        c.graphql_max_complexity = 20;
    })
    .await;
    let mut deep = String::from("name");
    for _ in 0..20 {
        deep = format!("ofType {{ {deep} }}");
    }
    let depth = format!(r#"{{ __type(name: "Query") {{ {deep} }} }}"#);
    refused_by(&server, &depth, json!({}), "graphql_max_depth").await;
    let complex = r#"{ __schema { types { name kind description
        fields { name description args { name description type { name kind } }
                 type { name kind ofType { name kind } } }
        inputFields { name } interfaces { name } enumValues { name } possibleTypes { name } } } }"#;
    refused_by(&server, complex, json!({}), "graphql_max_complexity").await;
    let aliases: String = (0..31).map(|i| format!("a{i}: __typename ")).collect();
    refused_by(
        &server,
        &format!("{{ {aliases} }}"),
        json!({}),
        "graphql_max_aliases",
    )
    .await;
    let directives = format!("{{ __typename {} }}", "@skip(if: false) ".repeat(9));
    refused_by(&server, &directives, json!({}), "graphql_max_directives").await;
    let mut recursion = String::from("__typename");
    for _ in 0..40 {
        recursion = format!("... on Query {{ {recursion} }}");
    }
    refused_by(
        &server,
        &format!("{{ {recursion} }}"),
        json!({}),
        "graphql_max_recursion",
    )
    .await;

    // Counted by their cause, not by words in messages: a spec refused for its YAML
    // anchors says "aliases" and is not a GraphQL alias refusal.
    let (_, metrics) = server.get("/metrics").await;
    let aliases_before = count(&metrics, "graphql_aliases");
    let anchored = "key: k\nname: &n n\ngoal: {kind: count, when: 'true', target: 1}\nrewards: [{kind: badge, amount: 1}]\nother: *n\n";
    let e = server
        .error(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({"s": anchored}),
        )
        .await;
    assert!(e["message"].as_str().unwrap().contains("aliases"), "{e}");
    let (_, metrics) = server.get("/metrics").await;
    assert_eq!(count(&metrics, "graphql_aliases"), aliases_before);
    for reason in ["depth", "complexity", "directives", "recursion"] {
        assert_eq!(
            count(&metrics, &format!("graphql_{reason}")),
            1,
            "{reason}: {metrics}"
        );
    }
    server.stop().await;
}

/// `offerflow_refusals_total{reason}` in a metrics text.
fn count(metrics: &str, reason: &str) -> u64 {
    let series = format!("offerflow_refusals_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(&series)?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn introspection_needs_credentials() {
    for backend in backends() {
        introspection_needs_credentials_on(backend).await;
    }
}

async fn introspection_needs_credentials_on(backend: &str) {
    use futures_util::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;

    let server = TestServer::start(backend, |_| {}).await;
    let schema = r#"{"query": "{ __schema { types { name } } }"}"#;
    let (status, _, answer) = server
        .post_as(None, "/graphql", "application/json", schema.into())
        .await;
    assert_eq!(status, 401, "{answer}");
    assert_eq!(answer["error"]["code"], "UNAUTHORIZED");
    let (status, _, answer) = server
        .post_as(
            Some(&server.key),
            "/graphql",
            "application/json",
            schema.into(),
        )
        .await;
    assert_eq!(status, 200);
    assert!(answer.to_string().contains("CampaignInput"), "{answer}");
    // The query GraphiQL 3.8 sends (graphql-js `getIntrospectionQuery`) is within every limit.
    let data = server.data(GRAPHIQL_INTROSPECTION, json!({})).await;
    assert!(
        data["__schema"]["types"].as_array().unwrap().len() > 20,
        "{data}"
    );

    // Over a WebSocket without credentials: refused, whether at the connection or the query.
    let url = format!("{}/graphql/ws", server.base.replacen("http", "ws", 1));
    let mut request = url.into_client_request().unwrap();
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().unwrap(),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let send = |v: Value| Message::Text(v.to_string().into());
    socket
        .send(send(json!({"type": "connection_init", "payload": {}})))
        .await
        .unwrap();
    let mut seen = Vec::new();
    socket
        .send(send(json!({"id": "1", "type": "subscribe", "payload": {"query": "{ __schema { types { name } } }"}})))
        .await
        .ok();
    let deadline = std::time::Duration::from_secs(10);
    while let Ok(Some(Ok(message))) = tokio::time::timeout(deadline, socket.next()).await {
        match message {
            Message::Text(text) => {
                let v: Value = serde_json::from_str(&text).unwrap();
                let done = matches!(v["type"].as_str(), Some("complete" | "error"));
                seen.push(v);
                if done {
                    break;
                }
            }
            Message::Close(_) => break,
            _ => {}
        }
    }
    let all = Value::Array(seen.clone()).to_string();
    assert!(
        !all.contains("CampaignInput"),
        "the schema was read anonymously: {all}"
    );
    // Refused with UNAUTHORIZED, unless the connection itself was refused.
    if let Some(answer) = seen
        .iter()
        .find(|m| m["id"] == "1" && m["type"] != "complete")
    {
        let errors = match answer["type"].as_str() {
            Some("error") => &answer["payload"],
            _ => &answer["payload"]["errors"],
        };
        assert_eq!(errors[0]["extensions"]["code"], "UNAUTHORIZED", "{all}");
    }
    alive(&server).await;
    server.stop().await;
}

/// GraphiQL's introspection query (graphql-js 16 `getIntrospectionQuery` with descriptions and
/// input value deprecation, as GraphiQL 3.8 asks).
const GRAPHIQL_INTROSPECTION: &str = "query IntrospectionQuery {
  __schema {
    queryType { name } mutationType { name } subscriptionType { name }
    types { ...FullType }
    directives { name description locations args(includeDeprecated: true) { ...InputValue } }
  }
}
fragment FullType on __Type {
  kind name description
  fields(includeDeprecated: true) {
    name description args(includeDeprecated: true) { ...InputValue }
    type { ...TypeRef } isDeprecated deprecationReason
  }
  inputFields(includeDeprecated: true) { ...InputValue }
  interfaces { ...TypeRef }
  enumValues(includeDeprecated: true) { name description isDeprecated deprecationReason }
  possibleTypes { ...TypeRef }
}
fragment InputValue on __InputValue {
  name description type { ...TypeRef } defaultValue isDeprecated deprecationReason
}
fragment TypeRef on __Type { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name ofType { kind name }}}}}}}}} }";
