//! Every operation under every scope, a customer token, no credentials and a revoked key:
//! allowed or refused, as the access table in `api::auth` says.

use crate::common::TestServer;
use serde_json::{Value, json};

/// What an operation needs (restated here from the contract, not imported).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    Campaigns,
    Author,
    Ingest,
    Read,
    Admin,
    Customer(&'static str),
}

fn grants(principal: &str, need: Need) -> bool {
    match principal {
        "admin" => true,
        "author" => matches!(need, Need::Campaigns | Need::Author),
        "ingest" => matches!(need, Need::Ingest),
        "read" => matches!(need, Need::Campaigns | Need::Read | Need::Customer(_)),
        "customer c1" => need == Need::Customer("c1"),
        _ => false,
    }
}

/// (name, GraphQL document, what it needs). Documents that would change state use keys that
/// do not exist or invalid input, so an allowed call fails on its input, not on access.
const OPERATIONS: &[(&str, &str, &[Need])] = &[
    (
        "campaigns",
        "{ campaigns { edges { cursor } } }",
        &[Need::Campaigns],
    ),
    (
        "campaign",
        r#"{ campaign(key: "m") { key } }"#,
        &[Need::Campaigns],
    ),
    (
        "campaign.versions",
        r#"{ campaign(key: "m") { versions { version } } }"#,
        &[Need::Campaigns],
    ),
    (
        "campaign.audit",
        r#"{ campaign(key: "m") { audit { action } } }"#,
        &[Need::Campaigns, Need::Author],
    ),
    (
        "customer c1",
        r#"{ customer(id: "c1") { id attributes offers { campaign } rewards { edges { cursor } } } }"#,
        &[Need::Customer("c1")],
    ),
    (
        "customer c2",
        r#"{ customer(id: "c2") { offers { campaign } } }"#,
        &[Need::Customer("c2")],
    ),
    ("event", r#"{ event(id: "e1") { status } }"#, &[Need::Read]),
    (
        "validateCampaign",
        r#"{ validateCampaign(source: "key: m") { valid } }"#,
        &[Need::Author],
    ),
    (
        "simulateCampaign",
        r#"{ simulateCampaign(source: "key: m", events: []) { campaign } }"#,
        &[Need::Author],
    ),
    (
        "auditLog",
        "{ auditLog { edges { cursor } } }",
        &[Need::Author],
    ),
    ("apiKeys", "{ apiKeys { id } }", &[Need::Admin]),
    (
        "createCampaign",
        r#"mutation { createCampaign(source: "key: m") { key } }"#,
        &[Need::Author],
    ),
    (
        "updateCampaign",
        r#"mutation { updateCampaign(key: "nope", source: "key: nope") { key } }"#,
        &[Need::Author],
    ),
    (
        "publishCampaign",
        r#"mutation { publishCampaign(key: "nope") { key } }"#,
        &[Need::Author],
    ),
    (
        "pauseCampaign",
        r#"mutation { pauseCampaign(key: "nope") { key } }"#,
        &[Need::Author],
    ),
    (
        "resumeCampaign",
        r#"mutation { resumeCampaign(key: "nope") { key } }"#,
        &[Need::Author],
    ),
    (
        "endCampaign",
        r#"mutation { endCampaign(key: "nope") { key } }"#,
        &[Need::Author],
    ),
    (
        "archiveCampaign",
        r#"mutation { archiveCampaign(key: "nope") { key } }"#,
        &[Need::Author],
    ),
    (
        "ingestEvents",
        "mutation { ingestEvents(events: []) { counts { processed } } }",
        &[Need::Ingest],
    ),
    (
        "upsertCustomer",
        r#"mutation { upsertCustomer(id: "c1", attributes: {tier: "gold"}) { id } }"#,
        &[Need::Ingest],
    ),
    (
        "createCustomerToken",
        r#"mutation { createCustomerToken(customerId: "c1") { token } }"#,
        &[Need::Read],
    ),
    (
        "createApiKey",
        r#"mutation { createApiKey(name: "", scopes: [READ]) { key } }"#,
        &[Need::Admin],
    ),
    (
        "revokeApiKey",
        r#"mutation { revokeApiKey(id: "nope") { id } }"#,
        &[Need::Admin],
    ),
    (
        "ledger",
        r#"{ ledger(campaign: "m") { edges { cursor } } }"#,
        &[Need::Read],
    ),
    (
        "webhookEndpoints",
        "{ webhookEndpoints { id } }",
        &[Need::Admin],
    ),
    (
        "webhookDeliveries",
        r#"{ webhookDeliveries(endpointId: "0") { edges { cursor } } }"#,
        &[Need::Admin],
    ),
    (
        "createWebhookEndpoint",
        r#"mutation { createWebhookEndpoint(input: {url: "ftp://nope"}) { secret } }"#,
        &[Need::Admin],
    ),
    (
        "updateWebhookEndpoint",
        r#"mutation { updateWebhookEndpoint(id: "0", input: {}) { id } }"#,
        &[Need::Admin],
    ),
    (
        "disableWebhookEndpoint",
        r#"mutation { disableWebhookEndpoint(id: "0") { id } }"#,
        &[Need::Admin],
    ),
    (
        "enableWebhookEndpoint",
        r#"mutation { enableWebhookEndpoint(id: "0") { id } }"#,
        &[Need::Admin],
    ),
    (
        "deleteWebhookEndpoint",
        r#"mutation { deleteWebhookEndpoint(id: "0") { id } }"#,
        &[Need::Admin],
    ),
    (
        "rotateWebhookSecret",
        r#"mutation { rotateWebhookSecret(id: "0") { secret } }"#,
        &[Need::Admin],
    ),
    (
        "redeliverWebhook",
        r#"mutation { redeliverWebhook(id: "0") { id } }"#,
        &[Need::Admin],
    ),
    (
        "recoverWebhookEndpoint",
        r#"mutation { recoverWebhookEndpoint(id: "0", since: "2026-01-01T00:00:00Z") }"#,
        &[Need::Admin],
    ),
];

/// Whether a GraphQL answer (or an HTTP-level refusal) was refused for access.
fn refused(answer: &Value) -> bool {
    if let Some(code) = answer["error"]["code"].as_str() {
        return matches!(code, "UNAUTHORIZED" | "FORBIDDEN");
    }
    answer["errors"].as_array().into_iter().flatten().any(|e| {
        matches!(
            e["extensions"]["code"].as_str(),
            Some("UNAUTHORIZED" | "FORBIDDEN")
        )
    })
}

#[tokio::test]
async fn every_operation_under_every_credential() {
    let server = TestServer::start("sqlite", |_| {}).await;
    // A campaign to read, so that fields under `campaign` are resolved and checked.
    server
        .data(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({"s": "key: m\nname: M\ngoal: {kind: count, when: 'event.type == \"o\"', target: 1}\nrewards: [{kind: points, amount: 1}]\n"}),
        )
        .await;
    let mut credentials: Vec<(&str, Option<String>)> = Vec::new();
    for scope in ["admin", "author", "ingest", "read"] {
        let created = server
            .data(
                &format!(r#"mutation {{ createApiKey(name: "{scope}-key", scopes: [{}]) {{ key apiKey {{ scopes }} }} }}"#, scope.to_uppercase()),
                json!({}),
            )
            .await;
        let key = created["createApiKey"]["key"].as_str().unwrap().to_owned();
        assert!(key.starts_with("of_"));
        credentials.push((scope, Some(key)));
    }
    let token = server
        .data(r#"mutation { createCustomerToken(customerId: "c1", ttlSeconds: 60) { token customerId } }"#, json!({}))
        .await["createCustomerToken"]["token"]
        .as_str()
        .unwrap()
        .to_owned();
    credentials.push(("customer c1", Some(token)));
    credentials.push(("nobody", None));

    let mut wrong = Vec::new();
    for (name, document, needs) in OPERATIONS {
        for (principal, credential) in &credentials {
            let answer = server
                .graphql_as(credential.as_deref(), document, json!({}))
                .await;
            let expected = needs.iter().all(|n| grants(principal, *n));
            if refused(&answer) == expected {
                wrong.push(format!(
                    "{name} as {principal}: expected {}, got {answer}",
                    if expected { "allowed" } else { "refused" }
                ));
            }
        }
    }
    // HTTP routes.
    for (principal, credential) in &credentials {
        let (status, _, body) = server
            .post_as(
                credential.as_deref(),
                "/v1/events",
                "application/json",
                b"[]".to_vec(),
            )
            .await;
        let expected = grants(principal, Need::Ingest);
        if (status == 200) != expected {
            wrong.push(format!(
                "POST /v1/events as {principal}: status {status} {body}"
            ));
        }
        let (status, body) = server.get_as(credential.as_deref(), "/metrics").await;
        if (status == 200) != grants(principal, Need::Read) {
            wrong.push(format!(
                "GET /metrics as {principal}: status {status} {body}"
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // Refusals say why: no credentials, or which scope is missing.
    let (status, _, anonymous) = server
        .post_as(
            None,
            "/graphql",
            "application/json",
            br#"{"query": "{ apiKeys { id } }"}"#.to_vec(),
        )
        .await;
    assert_eq!(status, 401, "{anonymous}");
    assert_eq!(anonymous["error"]["code"], "UNAUTHORIZED");
    let ingest = credentials[2].1.as_deref();
    let forbidden = server
        .graphql_as(ingest, "{ apiKeys { id } }", json!({}))
        .await;
    let message = forbidden["errors"][0]["message"].as_str().unwrap();
    assert!(
        message.contains("`ingest-key` has scopes ingest") && message.contains("needs admin"),
        "{message}"
    );

    // A revoked key, a forged one and a garbage header are refused at the door with 401.
    let read_key = credentials[3].1.clone().unwrap();
    let id = read_key.split('_').nth(1).unwrap().to_owned();
    let revoked = server
        .data(
            &format!(r#"mutation {{ revokeApiKey(id: "{id}") {{ revokedAt }} }}"#),
            json!({}),
        )
        .await;
    assert!(revoked["revokeApiKey"]["revokedAt"].is_string());
    let (status, _, body) = server
        .post_as(
            Some(&read_key),
            "/graphql",
            "application/json",
            br#"{"query": "{ campaigns { edges { cursor } } }"}"#.to_vec(),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("UNAUTHORIZED")),
        "{body}"
    );
    let forged = format!("{}0", &read_key[..read_key.len() - 1]);
    let (status, _, _) = server
        .post_as(
            Some(&forged),
            "/graphql",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, 401);
    let (status, _, _) = server
        .post_as(
            Some("ct1.00.99999999999.00"),
            "/graphql",
            "application/json",
            b"{}".to_vec(),
        )
        .await;
    assert_eq!(status, 401, "a forged customer token");
    let keys = server
        .data("{ apiKeys { name revokedAt } }", json!({}))
        .await;
    let listed: Vec<&str> = keys["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["name"].as_str().unwrap())
        .collect();
    assert_eq!(listed.len(), 5, "{listed:?}");
    server.stop().await;
}

#[tokio::test]
async fn a_fresh_install_creates_one_admin_key_and_auth_can_be_switched_off() {
    let server = TestServer::start("sqlite", |_| {}).await;
    // The harness made an admin key already: nothing more is created.
    assert!(server.app.bootstrap_admin().await.unwrap().is_none());
    server.stop().await;

    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite:{}?mode=rwc", dir.path().join("fresh.db").display());
    let config = api::config::Config {
        database_url: url,
        ..Default::default()
    };
    let app = api::app::App::start(config).await.unwrap();
    let first = app
        .bootstrap_admin()
        .await
        .unwrap()
        .expect("a fresh database gets an admin key");
    assert_eq!(first.key.scopes, vec![api::auth::Scope::Admin]);
    assert!(app.bootstrap_admin().await.unwrap().is_none(), "only once");
    app.shutdown().await;

    let open = TestServer::start("sqlite", |c| c.auth = false).await;
    let answer = open.graphql_as(None, "{ apiKeys { id } }", json!({})).await;
    assert!(answer.get("errors").is_none(), "{answer}");
    open.stop().await;
}
