//! author → validate (with an error) → simulate → publish → ingest (with duplicates and a bad
//! event) → offers → rewards → pause → offers again, on every backend.

use crate::common::{TestServer, backends, event, ndjson};
use serde_json::{Value, json};

const ORDERS: &str = r#"
key: three-orders
name: Order 3 times in a week, get 500 points
schedule: {starts_at: 2026-12-01T00:00:00Z, ends_at: 2027-01-01T00:00:00Z}
audience: 'customer.tier in ["gold", "silver"]'
goal:
  kind: count
  when: 'event.type == "order.completed" && event.amount >= 25'
  target: 3
  within: 7d
rewards:
  - {kind: points, amount: 500}
limits: {per_customer: 1}
priority: 10
"#;

const CREATE_SOURCE: &str = "mutation($source: String!) { createCampaign(source: $source) { key status version hasUnpublishedChanges } }";
const CREATE_TYPED: &str =
    "mutation($input: CampaignInput!) { createCampaign(input: $input) { key status goalKind } }";
const OFFERS: &str = r#"query($id: String!, $at: DateTime) { customer(id: $id) { offers(at: $at) {
    campaign status cycle cyclesLeft missing secondsLeft
    progress { kind current target percent stepsDone stepNames nextStep windowSeconds }
    rewardsEarned { campaign eventId cycle kind amount }
} } }"#;

/// Field `field` of every item of the JSON list `list`.
fn strings<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    let items = list.as_array().expect("a list");
    items
        .iter()
        .map(|i| i[field].as_str().expect("a string"))
        .collect()
}

#[tokio::test]
async fn the_whole_journey_over_http() {
    for backend in backends() {
        journey(backend).await;
    }
}

async fn journey(backend: &str) {
    let server = TestServer::start(backend, |_| {}).await;

    // Validate: an error, with its path, line and column in the source text.
    let broken = ORDERS
        .replace("target: 3", "target: 0")
        .replace("event.amount >= 25'", "event.amount >= '");
    let v = server
        .data(
            "query($s: String!) { validateCampaign(source: $s) { valid diagnostics { path code message line column } } }",
            json!({"s": broken}),
        )
        .await;
    let v = &v["validateCampaign"];
    assert_eq!(v["valid"], false, "{backend}");
    let paths = strings(&v["diagnostics"], "path");
    assert!(paths.contains(&"goal.target"), "{backend}: {v:#}");
    assert!(paths.contains(&"goal.when"), "{backend}: {v:#}");
    let target = v["diagnostics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["path"] == "goal.target")
        .unwrap();
    assert_eq!(target["line"], 9, "{backend}: {target}");
    assert!(target["column"].as_u64().unwrap() > 0);

    // A broken spec is refused by create as well, with the diagnostics in extensions.
    let refused = server.error(CREATE_SOURCE, json!({"source": broken})).await;
    assert_eq!(refused["extensions"]["code"], "VALIDATION", "{refused}");
    assert!(
        refused["extensions"]["diagnostics"]
            .as_array()
            .unwrap()
            .len()
            >= 2
    );

    // Author: one campaign as source text, one as typed input.
    let created = server.data(CREATE_SOURCE, json!({"source": ORDERS})).await;
    assert_eq!(
        created["createCampaign"],
        json!({"key": "three-orders", "status": "DRAFT", "version": 0, "hasUnpublishedChanges": true})
    );
    let typed = json!({
        "key": "browse-then-buy", "name": "Open, view shoes, order",
        "goal": {"kind": "SEQUENCE", "within": "1h", "steps": [
            {"name": "open the app", "when": "event.type == \"app.opened\""},
            {"name": "view shoes", "when": "event.type == \"product.viewed\" && event.category == \"shoes\""},
            {"name": "order", "when": "event.type == \"order.completed\""}
        ]},
        "rewards": [{"kind": "BADGE", "amount": 1, "code": "shoe-explorer"}]
    });
    let created = server.data(CREATE_TYPED, json!({"input": typed})).await;
    assert_eq!(created["createCampaign"]["goalKind"], "SEQUENCE");
    let again = server.error(CREATE_SOURCE, json!({"source": ORDERS})).await;
    assert_eq!(again["extensions"]["code"], "CONFLICT", "{again}");
    // Typed input with a field its goal kind does not take is refused by name.
    let mut wrong = typed.clone();
    wrong["key"] = json!("wrong");
    wrong["goal"]["period"] = json!("DAY");
    let wrong = server.error(CREATE_TYPED, json!({"input": wrong})).await;
    assert_eq!(wrong["extensions"]["code"], "VALIDATION");
    assert_eq!(
        wrong["extensions"]["diagnostics"][0]["path"], "goal.period",
        "{wrong}"
    );

    // Simulate the stored draft: outcomes, progress after each event, rewards; nothing stored.
    let sim_events = [
        event(
            "s1",
            "sim",
            "order.completed",
            "2026-12-01T10:00:00Z",
            json!({"amount": 30}),
        ),
        event(
            "s2",
            "sim",
            "order.completed",
            "2026-12-02T10:00:00Z",
            json!({"amount": 10}),
        ),
        event(
            "s3",
            "sim",
            "order.completed",
            "2026-12-03T10:00:00Z",
            json!({"amount": 40}),
        ),
        event(
            "s3",
            "sim",
            "order.completed",
            "2026-12-03T10:00:00Z",
            json!({"amount": 40}),
        ),
        json!({"id": "s4", "customer_id": "sim", "type": "order.completed"}),
        event(
            "s5",
            "sim",
            "order.completed",
            "2026-12-04T10:00:00Z",
            json!({"amount": 25}),
        ),
    ];
    let sim = server
        .data(
            r#"query($events: [JSON!]!, $customers: [CustomerInput!]!) {
                simulateCampaign(key: "three-orders", events: $events, customers: $customers) {
                    campaign counts { processed duplicate conflict rejected }
                    events { customerId status cycle result { eventId status error { field reason } }
                             progress { current target percent } }
                    rewards { customerId eventId cycle kind amount id issuedAt }
                } }"#,
            json!({"events": sim_events, "customers": [{"id": "sim", "attributes": {"tier": "gold"}}]}),
        )
        .await;
    let sim = &sim["simulateCampaign"];
    assert_eq!(
        sim["counts"],
        json!({"processed": 4, "duplicate": 1, "conflict": 0, "rejected": 1})
    );
    let currents: Vec<Value> = sim["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["progress"]["current"].clone())
        .collect();
    assert_eq!(
        currents,
        vec![
            json!(1.0),
            json!(1.0),
            json!(2.0),
            json!(2.0),
            Value::Null,
            json!(3.0)
        ]
    );
    assert_eq!(sim["events"][5]["status"], "COMPLETED");
    assert_eq!(sim["events"][4]["result"]["error"]["field"], "occurred_at");
    assert_eq!(
        sim["rewards"],
        json!([{"customerId": "sim", "eventId": "s5", "cycle": 1, "kind": "POINTS", "amount": 500.0, "id": null, "issuedAt": null}])
    );
    let untouched = server
        .data(r#"{ event(id: "s1") { status } customer(id: "sim") { rewards { edges { cursor } } } }"#, json!({}))
        .await;
    assert_eq!(
        untouched["event"],
        Value::Null,
        "a simulation stores nothing"
    );
    assert_eq!(untouched["customer"]["rewards"]["edges"], json!([]));

    // Publish: version 1, running; publishing again changes nothing.
    for _ in 0..2 {
        let p = server
            .data(r#"mutation { publishCampaign(key: "three-orders") { status version hasUnpublishedChanges } }"#, json!({}))
            .await;
        assert_eq!(
            p["publishCampaign"],
            json!({"status": "PUBLISHED", "version": 1, "hasUnpublishedChanges": false})
        );
    }
    server
        .data(
            r#"mutation { publishCampaign(key: "browse-then-buy") { version } }"#,
            json!({}),
        )
        .await;
    let profile = server
        .data(
            r#"mutation { upsertCustomer(id: "c1", attributes: {tier: "gold"}) { id attributes } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        profile["upsertCustomer"]["attributes"],
        json!({"tier": "gold"})
    );

    // Ingest over HTTP (NDJSON): a duplicate, a line that is not JSON, an invalid event.
    let e1 = event(
        "e1",
        "c1",
        "order.completed",
        "2026-12-01T10:00:00Z",
        json!({"amount": 30}),
    );
    let e2 = event(
        "e2",
        "c1",
        "order.completed",
        "2026-12-02T10:00:00Z",
        json!({"amount": 26.5}),
    );
    let open = event("o1", "c1", "app.opened", "2026-12-02T11:00:00Z", json!({}));
    let mut body = ndjson(&[e1.clone(), e2.clone(), e1.clone()]);
    body.extend_from_slice(b"{not json\n");
    body.extend_from_slice(&ndjson(&[
        json!({"id": "bad", "customer_id": "c1", "type": "order.completed", "occurred_at": "yesterday"}),
        open,
    ]));
    let (status, answer) = server
        .post("/v1/events", "application/x-ndjson", body)
        .await;
    assert_eq!(status, 200, "{backend}: {answer}");
    assert_eq!(
        answer["counts"],
        json!({"processed": 3, "duplicate": 1, "conflict": 0, "rejected": 2}),
        "{backend}: {answer:#}"
    );
    let statuses = strings(&answer["results"], "status");
    assert_eq!(
        statuses,
        [
            "processed",
            "processed",
            "duplicate",
            "rejected",
            "rejected",
            "processed"
        ]
    );
    assert!(
        answer["results"][3]["error"]["reason"]
            .as_str()
            .unwrap()
            .contains("line 4")
    );
    assert_eq!(answer["results"][4]["error"]["field"], "occurred_at");

    // Ingest through GraphQL: the third order completes; e2 with other content conflicts.
    let e3 = event(
        "e3",
        "c1",
        "order.completed",
        "2026-12-03T09:00:00Z",
        json!({"amount": 99}),
    );
    let mut e2_changed = e2.clone();
    e2_changed["attributes"]["amount"] = json!(27);
    let ingested = server
        .data(
            r#"mutation($events: [JSON!]!) { ingestEvents(events: $events) {
                counts { processed duplicate conflict rejected }
                results { eventId status error { field reason }
                          outcomes { campaign result reason cycle } rewards { campaign cycle amount } } } }"#,
            json!({"events": [e3, e2_changed]}),
        )
        .await;
    let ingested = &ingested["ingestEvents"];
    assert_eq!(
        ingested["counts"],
        json!({"processed": 1, "duplicate": 0, "conflict": 1, "rejected": 0})
    );
    let completed = ingested["results"][0]["outcomes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|o| o["campaign"] == "three-orders")
        .unwrap()
        .clone();
    assert_eq!(
        completed,
        json!({"campaign": "three-orders", "result": "COMPLETED", "reason": null, "cycle": 1})
    );
    assert_eq!(
        ingested["results"][0]["rewards"],
        json!([{"campaign": "three-orders", "cycle": 1, "amount": 500.0}])
    );
    assert_eq!(ingested["results"][1]["error"]["field"], "id");

    // An event's outcome by id.
    let outcome = server
        .data(
            r#"{ event(id: "e3") { eventId status rewards { amount } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(
        outcome["event"],
        json!({"eventId": "e3", "status": "PROCESSED", "rewards": [{"amount": 500.0}]})
    );

    // Offers, as of Dec 3 noon.
    let at = "2026-12-03T12:00:00Z";
    let offers = server.data(OFFERS, json!({"id": "c1", "at": at})).await;
    let offers = offers["customer"]["offers"].as_array().unwrap().clone();
    assert_eq!(offers.len(), 2, "{offers:#?}");
    assert_eq!(
        offers[0]["campaign"], "three-orders",
        "higher priority first"
    );
    assert_eq!(offers[0]["status"], "COMPLETED");
    assert_eq!(offers[0]["cyclesLeft"], 0);
    assert_eq!(offers[0]["missing"], Value::Null);
    assert_eq!(offers[0]["progress"]["percent"], 100.0);
    assert_eq!(offers[0]["secondsLeft"], 28.0 * 86_400.0 + 12.0 * 3_600.0);
    assert_eq!(
        offers[0]["rewardsEarned"],
        json!([{"campaign": "three-orders", "eventId": "e3", "cycle": 1, "kind": "POINTS", "amount": 500.0}])
    );
    // The app open of Dec 2 11:00 is step 1 of the sequence; its 1h window is over at noon
    // on Dec 3, so it shows no steps.
    assert_eq!(offers[1]["campaign"], "browse-then-buy");
    assert_eq!(offers[1]["status"], "AVAILABLE");
    assert_eq!(offers[1]["progress"]["stepsDone"], 0);
    assert_eq!(offers[1]["progress"]["nextStep"], "open the app");
    assert_eq!(offers[1]["progress"]["windowSeconds"], 3600);
    let during = server
        .data(OFFERS, json!({"id": "c1", "at": "2026-12-02T11:30:00Z"}))
        .await;
    let seq = &during["customer"]["offers"][1];
    assert_eq!(seq["status"], "IN_PROGRESS");
    assert_eq!(seq["progress"]["stepsDone"], 1);
    assert_eq!(
        seq["progress"]["stepNames"],
        json!(["open the app", "view shoes", "order"])
    );
    assert_eq!(
        seq["missing"],
        "next step: view shoes (1 of 3 done) within 1h"
    );

    // A customer outside the audience sees only the campaign without one.
    let outsider = server.data(OFFERS, json!({"id": "nobody", "at": at})).await;
    let keys = strings(&outsider["customer"]["offers"], "campaign");
    assert_eq!(keys, ["browse-then-buy"]);

    // Rewards, paginated by cursor.
    let more = [
        event("o2", "c1", "app.opened", "2026-12-04T10:00:00Z", json!({})),
        event(
            "v2",
            "c1",
            "product.viewed",
            "2026-12-04T10:10:00Z",
            json!({"category": "shoes"}),
        ),
        event(
            "b2",
            "c1",
            "order.completed",
            "2026-12-04T10:20:00Z",
            json!({"amount": 5}),
        ),
    ];
    let (status, answer) = server
        .post(
            "/v1/events",
            "application/json",
            serde_json::to_vec(&more).unwrap(),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(answer["counts"]["processed"], 3);
    const REWARDS: &str = r#"query($after: String) { customer(id: "c1") { rewards(first: 1, after: $after) {
        edges { cursor node { campaign eventId } } pageInfo { hasNextPage endCursor } } } }"#;
    let page1 = server.data(REWARDS, json!({"after": null})).await;
    let page1 = &page1["customer"]["rewards"];
    assert_eq!(page1["edges"][0]["node"]["campaign"], "three-orders");
    assert_eq!(page1["pageInfo"]["hasNextPage"], true);
    let cursor = page1["pageInfo"]["endCursor"].clone();
    let page2 = server.data(REWARDS, json!({"after": cursor})).await;
    let page2 = &page2["customer"]["rewards"];
    assert_eq!(
        page2["edges"][0]["node"],
        json!({"campaign": "browse-then-buy", "eventId": "b2"})
    );
    assert_eq!(page2["pageInfo"]["hasNextPage"], false);

    // Pause: the campaign stops processing and leaves the offers; illegal moves are refused.
    let paused = server
        .data(
            r#"mutation { pauseCampaign(key: "browse-then-buy") { status } }"#,
            json!({}),
        )
        .await;
    assert_eq!(paused["pauseCampaign"]["status"], "PAUSED");
    let offers = server.data(OFFERS, json!({"id": "c1", "at": at})).await;
    let keys = strings(&offers["customer"]["offers"], "campaign");
    assert_eq!(keys, ["three-orders"]);
    let ignored = server
        .data(
            r#"mutation($events: [JSON!]!) { ingestEvents(events: $events) { results { outcomes { campaign } } } }"#,
            json!({"events": [event("o3", "c1", "app.opened", "2026-12-05T10:00:00Z", json!({}))]}),
        )
        .await;
    assert_eq!(
        ignored["ingestEvents"]["results"][0]["outcomes"],
        json!([]),
        "paused campaigns ignore events"
    );
    for (mutation, key) in [
        ("pauseCampaign", "browse-then-buy"),
        ("resumeCampaign", "three-orders"),
        ("archiveCampaign", "three-orders"),
    ] {
        let e = server
            .error(
                &format!(r#"mutation {{ {mutation}(key: "{key}") {{ status }} }}"#),
                json!({}),
            )
            .await;
        assert_eq!(e["extensions"]["code"], "CONFLICT", "{mutation}: {e}");
        assert!(e["message"].as_str().unwrap().contains("cannot"), "{e}");
    }
    let missing = server
        .error(
            r#"mutation { pauseCampaign(key: "nope") { status } }"#,
            json!({}),
        )
        .await;
    assert_eq!(missing["extensions"]["code"], "NOT_FOUND");

    // Update and republish: a new immutable version; the first is unchanged.
    let updated = ORDERS.replace("target: 3", "target: 4");
    let u = server
        .data(
            r#"mutation($s: String!) { updateCampaign(key: "three-orders", source: $s) { version hasUnpublishedChanges } }"#,
            json!({"s": updated}),
        )
        .await;
    assert_eq!(
        u["updateCampaign"],
        json!({"version": 1, "hasUnpublishedChanges": true})
    );
    server
        .data(
            r#"mutation { publishCampaign(key: "three-orders") { version } }"#,
            json!({}),
        )
        .await;
    let c = server
        .data(
            r#"{ campaign(key: "three-orders") { version versions { version spec } audit { action actor details } } }"#,
            json!({}),
        )
        .await;
    let c = &c["campaign"];
    assert_eq!(c["version"], 2);
    assert_eq!(c["versions"][0]["spec"]["goal"]["target"], 3);
    assert_eq!(c["versions"][1]["spec"]["goal"]["target"], 4);
    let actions = strings(&c["audit"], "action");
    assert_eq!(
        actions,
        [
            "campaign.publish",
            "campaign.update",
            "campaign.publish",
            "campaign.create"
        ]
    );
    assert_eq!(c["audit"][0]["actor"], "test-admin");
    assert_eq!(
        c["audit"][1]["details"]["changes"],
        json!([{"path": "goal.target", "before": 3, "after": 4}])
    );

    // Resumed, it counts again; ended, it stays in the offers of customers with progress in it,
    // expired, and leaves everyone else's.
    server
        .data(
            r#"mutation { resumeCampaign(key: "browse-then-buy") { status } }"#,
            json!({}),
        )
        .await;
    let started = server
        .data(
            r#"mutation($events: [JSON!]!) { ingestEvents(events: $events) { counts { processed } } }"#,
            json!({"events": [event("o4", "c2", "app.opened", "2026-12-05T10:00:00Z", json!({}))]}),
        )
        .await;
    assert_eq!(started["ingestEvents"]["counts"]["processed"], 1);
    server
        .data(
            r#"mutation { endCampaign(key: "browse-then-buy") { status } }"#,
            json!({}),
        )
        .await;
    let at_open = "2026-12-05T10:30:00Z";
    let c2 = server
        .data(OFFERS, json!({"id": "c2", "at": at_open}))
        .await;
    let c2: Vec<(Value, Value)> = c2["customer"]["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| (o["campaign"].clone(), o["status"].clone()))
        .collect();
    assert_eq!(
        c2,
        vec![(json!("browse-then-buy"), json!("EXPIRED"))],
        "{backend}"
    );
    let c3 = server
        .data(OFFERS, json!({"id": "c3", "at": at_open}))
        .await;
    assert_eq!(c3["customer"]["offers"], json!([]), "{backend}");
    let archived = server
        .data(
            r#"mutation { archiveCampaign(key: "browse-then-buy") { status } }"#,
            json!({}),
        )
        .await;
    assert_eq!(archived["archiveCampaign"]["status"], "ARCHIVED");
    let list = server
        .data(
            r#"{ all: campaigns(first: 1) { edges { node { key } } pageInfo { hasNextPage endCursor } }
                 archived: campaigns(status: ARCHIVED) { edges { node { key } } } }"#,
            json!({}),
        )
        .await;
    assert_eq!(list["all"]["edges"][0]["node"]["key"], "browse-then-buy");
    assert_eq!(list["all"]["pageInfo"]["hasNextPage"], true);
    assert_eq!(
        list["archived"]["edges"],
        json!([{"node": {"key": "browse-then-buy"}}])
    );

    server.stop().await;
}

#[tokio::test]
async fn simulation_of_typed_input_shows_budgets_running_out() {
    let server = TestServer::start("sqlite", |_| {}).await;
    let input = json!({
        "key": "first-order", "name": "First order, first served",
        "goal": {"kind": "COUNT", "when": "event.type == \"order.completed\"", "target": 1.0},
        "rewards": [{"kind": "COUPON", "amountExpr": "event.amount / 10", "code": "WELCOME"}],
        "limits": {"perCustomer": 1, "maxRewards": 1}
    });
    let events = [
        event(
            "a1",
            "a",
            "order.completed",
            "2026-12-01T10:00:00Z",
            json!({"amount": 30}),
        ),
        event(
            "b1",
            "b",
            "order.completed",
            "2026-12-01T11:00:00Z",
            json!({"amount": 50}),
        ),
    ];
    let sim = server
        .data(
            r#"query($input: CampaignInput!, $events: [JSON!]!) { simulateCampaign(input: $input, events: $events) {
                events { customerId status result { outcomes { result reason } } }
                rewards { customerId kind amount } } }"#,
            json!({"input": input, "events": events}),
        )
        .await;
    let sim = &sim["simulateCampaign"];
    assert_eq!(
        sim["rewards"],
        json!([{"customerId": "a", "kind": "COUPON", "amount": 3.0}])
    );
    assert_eq!(sim["events"][0]["status"], "COMPLETED");
    assert_eq!(sim["events"][1]["status"], "BUDGET_EXHAUSTED");
    assert_eq!(
        sim["events"][1]["result"]["outcomes"][0],
        json!({"result": "NOT_APPLICABLE", "reason": "BUDGET_EXHAUSTED"})
    );
    let both = server
        .error(
            r#"query($input: CampaignInput!) { simulateCampaign(input: $input, source: "key: x", events: []) { campaign } }"#,
            json!({"input": input}),
        )
        .await;
    assert_eq!(both["extensions"]["code"], "VALIDATION");
    assert_eq!(both["extensions"]["field"], "source");
    server.stop().await;
}
