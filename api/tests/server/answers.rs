//! A mutation's answer opens nothing its caller may not read: for every mutation that answers
//! an object, under every key scope, each nested field is answered only if the caller may read
//! it (`upsertCustomer { offers }` with an `ingest` key is refused, as `customer(id)` is).

use crate::common::TestServer;
use serde_json::{Value, json};

/// What reading or calling something needs (restated from the contract, not imported).
#[derive(Debug, Clone, Copy, PartialEq)]
enum Need {
    Campaigns,
    Author,
    Ingest,
    Read,
    Admin,
    /// Customer c1's data.
    Customer,
}

fn grants(scopes: &[&str], need: Need) -> bool {
    scopes.iter().any(|scope| match *scope {
        "admin" => true,
        "author" => matches!(need, Need::Campaigns | Need::Author),
        "ingest" => need == Need::Ingest,
        "read" => matches!(need, Need::Campaigns | Need::Read | Need::Customer),
        "customer c1" => need == Need::Customer,
        _ => false,
    })
}

const SPEC: &str = "key: KEY\nname: N\ngoal: {kind: count, when: 'event.type == \"o\"', target: 2}\nrewards: [{kind: points, amount: 1}]\n";

/// (mutation, document, what calling it needs, nested fields with what reading each needs).
/// `KEY` is replaced by a fresh campaign key, `N` by a fresh number; the answer under test is
/// aliased `m`, and `SEL` is replaced by one nested field at a time.
/// One mutation's row.
type Row = (
    &'static str,
    &'static str,
    Vec<Need>,
    Vec<(&'static str, Need)>,
);

fn table() -> Vec<Row> {
    let campaign_fields = vec![
        ("draft", Need::Campaigns),
        ("versions { version }", Need::Campaigns),
        ("audit { action }", Need::Author),
    ];
    let create = r#"c: createCampaign(source: $s) { key }"#;
    let doc = |rest: &str| -> &'static str {
        Box::leak(format!("mutation($s: String!) {{ {rest} }}").into_boxed_str())
    };
    let author = vec![Need::Author];
    vec![
        (
            "createCampaign",
            doc("m: createCampaign(source: $s) { key SEL }"),
            author.clone(),
            campaign_fields.clone(),
        ),
        (
            "updateCampaign",
            doc(&format!(
                r#"{create} m: updateCampaign(key: "KEY", source: $s) {{ key SEL }}"#
            )),
            author.clone(),
            campaign_fields.clone(),
        ),
        (
            "publishCampaign",
            doc(&format!(
                r#"{create} m: publishCampaign(key: "KEY") {{ key SEL }}"#
            )),
            author.clone(),
            campaign_fields.clone(),
        ),
        (
            "pauseCampaign",
            doc(&format!(
                r#"{create} p: publishCampaign(key: "KEY") {{ key }} m: pauseCampaign(key: "KEY") {{ key SEL }}"#
            )),
            author.clone(),
            campaign_fields.clone(),
        ),
        (
            "resumeCampaign",
            doc(&format!(
                r#"{create} p: publishCampaign(key: "KEY") {{ key }} q: pauseCampaign(key: "KEY") {{ key }} m: resumeCampaign(key: "KEY") {{ key SEL }}"#
            )),
            author.clone(),
            campaign_fields.clone(),
        ),
        (
            "endCampaign",
            doc(&format!(
                r#"{create} p: publishCampaign(key: "KEY") {{ key }} m: endCampaign(key: "KEY") {{ key SEL }}"#
            )),
            author.clone(),
            campaign_fields.clone(),
        ),
        (
            "archiveCampaign",
            doc(&format!(
                r#"{create} m: archiveCampaign(key: "KEY") {{ key SEL }}"#
            )),
            author,
            campaign_fields,
        ),
        (
            "ingestEvents",
            r#"mutation { m: ingestEvents(events: [{id: "eN", customer_id: "c1", type: "o", occurred_at: "2026-12-01T10:00:00Z"}]) { SEL } }"#,
            vec![Need::Ingest],
            // An event's outcome, rewards included, is the answer to the one who sent it.
            vec![
                ("counts { processed }", Need::Ingest),
                (
                    "results { eventId outcomes { campaign result } rewards { kind amount } }",
                    Need::Ingest,
                ),
            ],
        ),
        (
            "upsertCustomer",
            r#"mutation { m: upsertCustomer(id: "c1", attributes: {tier: "gold"}) { id SEL } }"#,
            vec![Need::Ingest],
            vec![
                ("attributes", Need::Customer),
                ("offers { campaign status }", Need::Customer),
                ("rewards { edges { node { kind } } }", Need::Customer),
            ],
        ),
        (
            "createCustomerToken",
            r#"mutation { m: createCustomerToken(customerId: "c1") { SEL } }"#,
            vec![Need::Read],
            vec![("token", Need::Read), ("expiresAt", Need::Read)],
        ),
        (
            "createApiKey",
            r#"mutation { m: createApiKey(name: "kN", scopes: [READ]) { SEL } }"#,
            vec![Need::Admin],
            vec![("key", Need::Admin), ("apiKey { id scopes }", Need::Admin)],
        ),
    ]
}

/// The errors of `answer` with `code`.
fn codes(answer: &Value) -> Vec<(String, Vec<Value>)> {
    answer["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["extensions"]["code"].as_str().unwrap_or("").to_owned(),
                e["path"].as_array().cloned().unwrap_or_default(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_mutations_answer_opens_only_what_its_caller_may_read() {
    let server = TestServer::start("sqlite", |_| {}).await;
    // A published campaign and a reward for c1, so that allowed reads have something to show.
    let spec = SPEC.replace("KEY", "live");
    server
        .data(
            r#"mutation($s: String!) { createCampaign(source: $s) { key } publishCampaign(key: "live") { key } }"#,
            json!({"s": spec}),
        )
        .await;
    let mut credentials: Vec<(Vec<&str>, String)> = Vec::new();
    for scopes in [
        vec!["admin"],
        vec!["author"],
        vec!["ingest"],
        vec!["read"],
        vec!["ingest", "read"],
    ] {
        let list = scopes.iter().map(|s| s.to_uppercase()).collect::<Vec<_>>();
        let created = server
            .data(
                &format!(
                    r#"mutation {{ createApiKey(name: "{}", scopes: [{}]) {{ key }} }}"#,
                    scopes.join("+"),
                    list.join(", ")
                ),
                json!({}),
            )
            .await;
        let key = created["createApiKey"]["key"].as_str().unwrap().to_owned();
        credentials.push((scopes, key));
    }
    let token = crate::ws::token(&server, "c1", 600).await;
    credentials.push((vec!["customer c1"], token));

    let mut n = 0;
    let mut wrong = Vec::new();
    let mut checked = 0;
    for (mutation, document, needs, fields) in table() {
        for (scopes, key) in &credentials {
            let may_call = needs.iter().all(|need| grants(scopes, *need));
            for (field, need) in &fields {
                n += 1;
                let campaign = format!("k{n}");
                let text = document
                    .replace("SEL", field)
                    .replace("KEY", &campaign)
                    .replace("eN", &format!("e{n}"))
                    .replace("kN", &format!("k{n}"));
                let variables = if text.contains("$s") {
                    json!({"s": SPEC.replace("KEY", &campaign)})
                } else {
                    json!({})
                };
                let answer = server.graphql_as(Some(key), &text, variables).await;
                let errors = codes(&answer);
                let who = scopes.join("+");
                if !may_call {
                    if !errors.iter().any(|(code, _)| code == "FORBIDDEN") {
                        wrong.push(format!("{mutation} as {who}: not refused: {answer}"));
                    }
                    continue;
                }
                checked += 1;
                let name = field.split_whitespace().next().unwrap();
                let value = &answer["data"]["m"][name];
                if grants(scopes, *need) {
                    if !errors.is_empty() || value.is_null() {
                        wrong.push(format!(
                            "{mutation} {{ {field} }} as {who}: expected the field, got {answer}"
                        ));
                    }
                } else {
                    let refused = errors.iter().any(|(code, path)| {
                        code == "FORBIDDEN"
                            && path.first() == Some(&json!("m"))
                            && path.get(1) == Some(&json!(name))
                    });
                    if !refused || !value.is_null() {
                        wrong.push(format!(
                            "{mutation} {{ {field} }} as {who}: expected FORBIDDEN at m.{name} and no value, got {answer}"
                        ));
                    }
                }
            }
        }
    }
    assert!(checked > 30, "only {checked} fields were checked");
    assert!(
        wrong.is_empty(),
        "{} wrong:\n{}",
        wrong.len(),
        wrong.join("\n")
    );

    // The instance of the report: an `ingest` key writes a profile but reads nothing of it.
    let ingest = &credentials[2].1;
    let answer = server
        .graphql_as(
            Some(ingest),
            r#"mutation { upsertCustomer(id: "c1", attributes: {tier: "gold"}) { offers { campaign } rewards { edges { cursor } } } }"#,
            json!({}),
        )
        .await;
    assert!(!answer.to_string().contains("live"), "{answer}");
    let refused: Vec<_> = codes(&answer)
        .into_iter()
        .filter(|(code, _)| code == "FORBIDDEN")
        .collect();
    assert!(!refused.is_empty(), "{answer}");
    server.stop().await;
}

/// Mutations answered with nothing nested beyond what calling them needs, so not in the table.
const WITHOUT_ROWS: &[(&str, &str)] = &[
    (
        "revokeApiKey",
        "answers the revoked key's scalar fields, to an admin",
    ),
    (
        "createWebhookEndpoint",
        "answers the endpoint and its secret, to an admin",
    ),
    ("updateWebhookEndpoint", "answers the endpoint, to an admin"),
    (
        "disableWebhookEndpoint",
        "answers the endpoint, to an admin",
    ),
    ("enableWebhookEndpoint", "answers the endpoint, to an admin"),
    ("deleteWebhookEndpoint", "answers the endpoint, to an admin"),
    (
        "rotateWebhookSecret",
        "answers the endpoint and its secret, to an admin",
    ),
    (
        "redeliverWebhook",
        "answers the delivery and its attempts, to an admin",
    ),
    ("recoverWebhookEndpoint", "answers a number, to an admin"),
];

#[test]
fn the_table_has_a_row_for_every_mutation() {
    // A mutation added to the schema without a row here fails this test: its answer's nested
    // fields would go unchecked under other scopes.
    let sdl = api::graphql::sdl();
    let block = sdl
        .split("type Mutation {")
        .nth(1)
        .and_then(|rest| rest.split("\n}").next())
        .expect("a Mutation type");
    let mut in_description = false;
    let mut mutations = Vec::new();
    for line in block.lines().map(str::trim) {
        if line.starts_with(r#"""""#) {
            let one_line = line.len() > 3 && line.ends_with(r#"""""#);
            if !one_line {
                in_description = !in_description;
            }
            continue;
        }
        if in_description {
            continue;
        }
        if let Some(name) = line.split(['(', ':']).next().filter(|n| !n.is_empty()) {
            mutations.push(name.to_owned());
        }
    }
    assert!(
        mutations.len() >= 12 && mutations.contains(&"upsertCustomer".to_owned()),
        "{mutations:?}"
    );
    let rows: Vec<&str> = table().iter().map(|row| row.0).collect();
    let missing: Vec<&String> = mutations
        .iter()
        .filter(|m| !rows.contains(&m.as_str()) && !WITHOUT_ROWS.iter().any(|(n, _)| n == m))
        .collect();
    assert!(missing.is_empty(), "mutations without a row: {missing:?}");
}
