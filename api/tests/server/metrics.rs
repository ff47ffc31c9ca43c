//! `/metrics` is scraped, and its counters move with the work done; its body is one valid
//! OpenMetrics text exposition, whatever the node has to report.

use crate::common::{TestServer, event, ndjson};
use serde_json::json;
use std::collections::HashSet;

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
    // The encoder names a counter's family without `_total` and its samples with it.
    assert!(
        before.contains("# TYPE offerflow_http_requests counter\n"),
        "{before}"
    );
    check_exposition(&before);

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
    check_exposition(&after);
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

#[tokio::test]
async fn the_body_is_one_openmetrics_exposition() {
    let server = TestServer::start("sqlite", |_| {}).await;
    server.data("{ __typename }", json!({})).await;
    let response = reqwest::Client::new()
        .get(format!("{}/metrics", server.base))
        .bearer_auth(&server.key)
        .send()
        .await
        .expect("metrics");
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        content_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let text = response.text().await.expect("body");
    check_exposition(&text);
    // Every kind of figure is in it: counted, read at the scrape, read from the store.
    for series in [
        "offerflow_http_requests_total{route=\"graphql\",status=\"200\"} 1\n",
        "offerflow_http_request_seconds_count{route=\"graphql\"} 1\n",
        "offerflow_websocket_connections 0\n",
        "offerflow_webhook_messages{status=\"pending\"} 0\n",
        "offerflow_webhook_messages{status=\"failed\"} 0\n",
        "offerflow_webhook_oldest_pending_seconds 0.0\n",
        "offerflow_cache_requests_total{cache=\"view\",result=\"hit\"} 0\n",
    ] {
        assert!(text.contains(series), "{series:?} in {text}");
    }
    assert!(text.contains("# UNIT offerflow_webhook_oldest_pending_seconds seconds\n"));

    // And the checker refuses what is not one exposition.
    for bad in [
        text.clone() + "offerflow_late 1\n",
        text.replace("# EOF\n", ""),
        text.replace("# EOF\n", "# EOF\n# EOF\n"),
        text.replacen(" 1\n", " one\n", 1),
        text.clone() + &text,
    ] {
        let refused = std::panic::catch_unwind(|| check_exposition(&bad));
        assert!(refused.is_err(), "accepted: {bad}");
    }
    server.stop().await;
}

/// Panics unless `text` is one OpenMetrics text exposition: every line a `# HELP`, `# TYPE`
/// or `# UNIT` of the family being described, or a sample of it (a name its type allows,
/// well-formed labels, a number), each family described once, and one `# EOF`, last.
pub fn check_exposition(text: &str) {
    let body = text
        .strip_suffix("# EOF\n")
        .unwrap_or_else(|| panic!("the exposition must end with `# EOF`: {text}"));
    let mut families = HashSet::new();
    let mut current: Option<(String, String)> = None;
    for line in body.lines() {
        if let Some(rest) = line.strip_prefix("# ") {
            let (keyword, rest) = rest.split_once(' ').unwrap_or((rest, ""));
            let (name, value) = rest.split_once(' ').unwrap_or((rest, ""));
            assert!(metric_name(name), "a family name: {line:?}");
            match keyword {
                "HELP" => {
                    assert!(families.insert(name.to_owned()), "described twice: {name}");
                    current = Some((name.to_owned(), String::new()));
                }
                "TYPE" => {
                    let family = current.as_mut().filter(|(n, _)| n == name);
                    let family = family.unwrap_or_else(|| panic!("TYPE without HELP: {line:?}"));
                    assert!(
                        [
                            "counter",
                            "gauge",
                            "histogram",
                            "summary",
                            "info",
                            "stateset",
                            "unknown"
                        ]
                        .contains(&value),
                        "a type: {line:?}"
                    );
                    family.1 = value.to_owned();
                }
                "UNIT" => assert!(
                    current.as_ref().is_some_and(|(n, _)| n == name) && name.ends_with(value),
                    "a unit of the family described, its name's suffix: {line:?}"
                ),
                _ => panic!("not a HELP, TYPE, UNIT or EOF line: {line:?}"),
            }
            continue;
        }
        let (family, kind) = current
            .as_ref()
            .unwrap_or_else(|| panic!("a sample before any family: {line:?}"));
        let (series, value) = line
            .rsplit_once(' ')
            .unwrap_or_else(|| panic!("a sample is `name{{labels}} value`: {line:?}"));
        assert!(
            value.parse::<f64>().is_ok() || ["+Inf", "-Inf", "NaN"].contains(&value),
            "a number: {line:?}"
        );
        let (name, labels) = match series.split_once('{') {
            Some((name, labels)) => (name, Some(labels)),
            None => (series, None),
        };
        let suffixes: &[&str] = match kind.as_str() {
            "counter" => &["_total", "_created"],
            "histogram" => &["_bucket", "_sum", "_count", "_created"],
            "summary" => &["", "_sum", "_count", "_created"],
            _ => &[""],
        };
        assert!(
            suffixes
                .iter()
                .any(|s| name.strip_suffix(s) == Some(family)),
            "a sample of {family} ({kind}): {line:?}"
        );
        if let Some(labels) = labels {
            let labels = labels
                .strip_suffix('}')
                .unwrap_or_else(|| panic!("labels end with `}}`: {line:?}"));
            check_labels(labels, line);
        }
    }
    assert!(!families.is_empty(), "no family: {text}");
}

/// `labels` is `key="value",...` with escaped values.
fn check_labels(labels: &str, line: &str) {
    let mut rest = labels;
    while !rest.is_empty() {
        let (key, after) = rest
            .split_once("=\"")
            .unwrap_or_else(|| panic!("a label is key=\"value\": {line:?}"));
        assert!(
            metric_name(key) && !key.contains(':'),
            "a label name: {line:?}"
        );
        let mut chars = after.char_indices();
        let end = loop {
            match chars.next() {
                Some((_, '\\')) => {
                    let escaped = chars.next().map(|(_, c)| c);
                    assert!(
                        matches!(escaped, Some('\\' | '"' | 'n')),
                        "an escape: {line:?}"
                    );
                }
                Some((i, '"')) => break i,
                Some(_) => {}
                None => panic!("an unterminated label value: {line:?}"),
            }
        };
        rest = &after[end + 1..];
        if !rest.is_empty() {
            rest = rest
                .strip_prefix(',')
                .unwrap_or_else(|| panic!("labels are separated by `,`: {line:?}"));
        }
    }
}

fn metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}
