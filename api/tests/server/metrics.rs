//! `/metrics` is scraped, and its counters move with the work done.

use crate::common::{TestServer, event, ndjson};
use serde_json::json;

const NESTED: &str = "key: nested-maps\nname: n\ngoal:\n  kind: count\n  when: 'size([0,1,2,3,4,5,6,7,8,9].map(a, [0,1,2,3,4,5,6,7,8,9].map(b, [0,1,2,3,4,5,6,7,8,9].map(c, [0,1,2,3,4,5,6,7,8,9].map(d, [0,1,2,3,4,5,6,7,8,9].map(e, [0,1,2,3,4,5,6,7,8,9].map(f, [0,1,2,3,4,5,6,7,8,9].map(g, a)))))))) == 10'\n  target: 1\nrewards: [{kind: badge, amount: 1}]\n";
const ONE: &str = "key: one-order\nname: n\ngoal: {kind: count, when: 'event.type == \"order\"', target: 1}\nrewards: [{kind: points, amount: 5}]\n";

/// The value of the series line `series` (name and labels), 0 when absent.
fn value(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

#[tokio::test]
async fn counters_move_with_the_work() {
    let server = TestServer::start("sqlite", |c| c.max_events_per_request = 10).await;
    for spec in [NESTED, ONE] {
        let created = server
            .data(
                "mutation($s: String!) { createCampaign(source: $s) { key } }",
                json!({"s": spec}),
            )
            .await;
        let key = created["createCampaign"]["key"]
            .as_str()
            .unwrap()
            .to_owned();
        server
            .data(
                &format!(r#"mutation {{ publishCampaign(key: "{key}") {{ version }} }}"#),
                json!({}),
            )
            .await;
    }
    let (status, before) = server.get("/metrics").await;
    assert_eq!(status, 200);
    assert!(
        before.contains("# TYPE offerflow_events_total counter"),
        "{before}"
    );

    let events = [
        event("e1", "c1", "order", "2026-12-01T10:00:00Z", json!({})),
        event("e2", "c2", "order", "2026-12-01T10:00:00Z", json!({})),
        event("e1", "c1", "order", "2026-12-01T10:00:00Z", json!({})),
    ];
    let (status, _) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&events))
        .await;
    assert_eq!(status, 200);
    let too_many: Vec<_> = (0..11)
        .map(|i| {
            event(
                &format!("x{i}"),
                "c",
                "t",
                "2026-12-01T10:00:00Z",
                json!({}),
            )
        })
        .collect();
    let (status, _) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&too_many))
        .await;
    assert_eq!(status, 413);
    let (status, _, _) = server
        .post_as(None, "/v1/events", "application/json", b"[]".to_vec())
        .await;
    assert_eq!(status, 401);
    server.data("{ __typename }", json!({})).await;

    let (_, after) = server.get("/metrics").await;
    let moved = |series: &str| value(&after, series) - value(&before, series);
    assert_eq!(
        moved("offerflow_events_total{status=\"processed\"}"),
        2.0,
        "{after}"
    );
    assert_eq!(moved("offerflow_events_total{status=\"duplicate\"}"), 1.0);
    assert_eq!(
        moved("offerflow_rewards_issued_total{campaign=\"one-order\"}"),
        2.0
    );
    assert_eq!(
        moved("offerflow_evaluation_errors_total{campaign=\"nested-maps\"}"),
        2.0,
        "{after}"
    );
    assert!(moved("offerflow_batch_events_count") >= 1.0);
    assert!(moved("offerflow_batch_seconds_sum") > 0.0);
    assert_eq!(
        moved("offerflow_http_requests_total{route=\"events\",status=\"200\"}"),
        1.0
    );
    assert_eq!(moved("offerflow_refusals_total{reason=\"size\"}"), 1.0);
    assert_eq!(
        moved("offerflow_refusals_total{reason=\"access\"}")
            + moved("offerflow_http_requests_total{route=\"events\",status=\"401\"}"),
        1.0
    );
    assert_eq!(
        moved("offerflow_http_request_seconds_count{route=\"graphql\"}"),
        1.0,
        "one GraphQL request between the two scrapes: {after}"
    );
    assert!(
        value(
            &after,
            "offerflow_cache_requests_total{cache=\"compiled\",result=\"miss\"}"
        ) >= 2.0,
        "{after}"
    );
    assert!(
        value(
            &after,
            "offerflow_cache_requests_total{cache=\"progress\",result=\"miss\"}"
        ) >= 2.0
    );
    server.stop().await;
}
