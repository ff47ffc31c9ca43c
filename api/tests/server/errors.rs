//! Errors as the GraphQL specification and docs/api.md say: a failing non-null field nulls
//! its nearest nullable parent; every refusal of GraphQL itself has a code, and names the
//! argument it is about; numbers fit their types.

use crate::common::{TestServer, backends};
use serde_json::{Value, json};

const FAR: &str = "key: far\nname: Far off\nschedule: {ends_at: 2100-01-01T00:00:00Z}\ngoal: {kind: count, when: 'true', target: 5}\nrewards: [{kind: badge, amount: 1}]\n";

/// `{data, errors}` of `query` sent with `credential`.
async fn answer(server: &TestServer, credential: &str, query: &str, variables: Value) -> Value {
    server.graphql_as(Some(credential), query, variables).await
}

#[tokio::test]
async fn a_failing_non_null_field_nulls_its_nearest_nullable_parent() {
    for backend in backends() {
        a_failing_non_null_field_nulls_its_nearest_nullable_parent_on(backend).await;
    }
}

async fn a_failing_non_null_field_nulls_its_nearest_nullable_parent_on(backend: &str) {
    let server = TestServer::start(backend, |_| {}).await;
    server
        .data(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({"s": FAR}),
        )
        .await;
    let key = server.key.clone();
    let reader = server
        .app
        .keys()
        .create("reader", &[api::auth::Scope::Read])
        .await
        .unwrap()
        .secret;

    // `campaign` is nullable: it becomes null, with the error at the failing field's path.
    let cases = [
        (
            &key,
            r#"{ campaign(key: "far") { key audit(first: 500) { action } } }"#,
            "VALIDATION",
        ),
        (
            &reader,
            r#"{ campaign(key: "far") { key audit { action } } }"#,
            "FORBIDDEN",
        ),
    ];
    for (credential, query, code) in cases {
        let a = answer(&server, credential, query, json!({})).await;
        assert_eq!(a["data"], json!({"campaign": null}), "{query}: {a}");
        assert_eq!(a["errors"][0]["extensions"]["code"], code, "{a}");
        assert_eq!(a["errors"][0]["path"], json!(["campaign", "audit"]), "{a}");
    }
    // `customer` is not nullable: the null reaches `data`.
    for (query, field) in [
        (
            r#"{ customer(id: "c1") { id rewards(first: 0) { edges { cursor } } } }"#,
            "first",
        ),
        (
            r#"{ customer(id: "c1") { id offers(at: "yesterday") { campaign } } }"#,
            "at",
        ),
    ] {
        let a = answer(&server, &key, query, json!({})).await;
        assert_eq!(a["data"], Value::Null, "{query}: {a}");
        assert_eq!(a["errors"][0]["extensions"]["code"], "VALIDATION", "{a}");
        assert_eq!(a["errors"][0]["extensions"]["field"], field, "{a}");
    }
    // A sibling that succeeds keeps its value when the failing field's parent is nullable.
    let a = answer(
        &server,
        &key,
        r#"{ c: campaign(key: "far") { audit(first: 0) { action } } k: campaign(key: "far") { key } }"#,
        json!({}),
    )
    .await;
    assert_eq!(a["data"], json!({"c": null, "k": {"key": "far"}}), "{a}");
    // Mutations run in order; one that fails ends the mutation there, as in graphql-js.
    let a = answer(
        &server,
        &key,
        "mutation($s: String!) { a: pauseCampaign(key: \"nope\") { key } b: createCampaign(source: $s) { key } }",
        json!({"s": FAR.replace("key: far", "key: later")}),
    )
    .await;
    assert_eq!(a["data"], Value::Null, "{a}");
    assert_eq!(a["errors"].as_array().map(Vec::len), Some(1), "{a}");
    let later = server
        .data(r#"{ campaign(key: "later") { key } }"#, json!({}))
        .await;
    assert_eq!(
        later["campaign"],
        Value::Null,
        "the second mutation did not run"
    );
    server.stop().await;
}

#[tokio::test]
async fn graphql_refusals_have_codes_and_name_their_argument() {
    for backend in backends() {
        graphql_refusals_have_codes_and_name_their_argument_on(backend).await;
    }
}

async fn graphql_refusals_have_codes_and_name_their_argument_on(backend: &str) {
    let server = TestServer::start(backend, |_| {}).await;
    let cases = [
        (
            r#"{ customer(id: "c1") { rewards(first: "x") { edges { cursor } } } }"#,
            json!({}),
            Some("first"),
        ),
        (
            r#"{ campaigns(status: NOPE) { edges { cursor } } }"#,
            json!({}),
            Some("status"),
        ),
        (
            r#"query($f: Int!) { customer(id: "c1") { rewards(first: $f) { edges { cursor } } } }"#,
            json!({"f": "x"}),
            Some("first"),
        ),
        (r#"{ campaign(key: "x") { nope } }"#, json!({}), None),
        ("{ campaigns { ", json!({}), None),
    ];
    for (query, variables, field) in cases {
        let e = server.error(query, variables).await;
        assert_eq!(e["extensions"]["code"], "VALIDATION", "{query}: {e}");
        match field {
            Some(f) => assert_eq!(e["extensions"]["field"], f, "{query}: {e}"),
            None => assert!(e["extensions"].get("field").is_none(), "{query}: {e}"),
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn seconds_left_fits_a_campaign_ending_in_2100() {
    for backend in backends() {
        seconds_left_fits_a_campaign_ending_in_2100_on(backend).await;
    }
}

async fn seconds_left_fits_a_campaign_ending_in_2100_on(backend: &str) {
    let server = TestServer::start(backend, |_| {}).await;
    server
        .data(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({"s": FAR}),
        )
        .await;
    server
        .data(
            r#"mutation { publishCampaign(key: "far") { version } }"#,
            json!({}),
        )
        .await;
    let data = server
        .data(
            r#"{ customer(id: "c1") { offers { campaign endsAt secondsLeft } } }"#,
            json!({}),
        )
        .await;
    let offer = &data["customer"]["offers"][0];
    assert_eq!(offer["endsAt"], "2100-01-01T00:00:00+00:00", "{data}");
    let left = offer["secondsLeft"].as_f64().expect("a number");
    let end: chrono::DateTime<chrono::Utc> = "2100-01-01T00:00:00Z".parse().unwrap();
    let expected = (end - chrono::Utc::now()).num_seconds() as f64;
    assert!(left > f64::from(i32::MAX), "{left}");
    assert!((left - expected).abs() < 60.0, "{left} vs {expected}");
    assert_eq!(left.fract(), 0.0, "whole seconds");
    server.stop().await;
}
