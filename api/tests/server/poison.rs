//! Text the database cannot store (NUL, U+0000, which PostgreSQL refuses in text) is refused
//! per field, on SQLite and PostgreSQL alike, and never fails anyone else's events.

use crate::common::*;
use serde_json::json;

#[tokio::test]
async fn nul_characters_are_refused_per_event_and_per_argument() {
    for backend in backends() {
        let server = TestServer::start(backend, |_| {}).await;
        let at = "2026-12-01T10:00:00Z";
        let events = [
            event("fine-1", "c1", "order", at, json!({})),
            event("bad\u{0}id", "c1", "order", at, json!({})),
            event("fine-2", "c\u{0}1", "order", at, json!({})),
            event("fine-3", "c1", "ord\u{0}er", at, json!({})),
            // Inside attributes it is only JSON text: stored escaped, and accepted.
            event("fine-4", "c1", "order", at, json!({"note": "a\u{0}b"})),
        ];
        let (status, answer) = server
            .post("/v1/events", "application/x-ndjson", ndjson(&events))
            .await;
        assert_eq!(status, 200, "{backend}: {answer}");
        let results = answer["results"].as_array().unwrap();
        let statuses: Vec<_> = results
            .iter()
            .map(|r| r["status"].as_str().unwrap())
            .collect();
        assert_eq!(
            statuses,
            ["processed", "rejected", "rejected", "rejected", "processed"],
            "{backend}: {answer}"
        );
        let fields: Vec<_> = results[1..4]
            .iter()
            .map(|r| r["error"]["field"].as_str().unwrap())
            .collect();
        assert_eq!(fields, ["id", "customer_id", "type"], "{backend}");

        for (query, field) in [
            (
                r#"mutation { upsertCustomer(id: "c\u0000", attributes: {}) { id } }"#,
                "id",
            ),
            (r#"{ customer(id: "c\u0000") { id } }"#, "id"),
            (r#"{ event(id: "e\u0000") { status } }"#, "id"),
            (
                r#"mutation { createCustomerToken(customerId: "c\u0000") { token } }"#,
                "customerId",
            ),
        ] {
            let error = server.error(query, json!({})).await;
            assert_eq!(
                error["extensions"]["code"], "VALIDATION",
                "{backend} {query}: {error}"
            );
            assert_eq!(
                error["extensions"]["field"], field,
                "{backend} {query}: {error}"
            );
            assert!(
                error["message"].as_str().unwrap().contains("NUL"),
                "{backend} {query}: {error}"
            );
        }
        // The server took everything else, and answers on.
        let data = server
            .data(r#"{ event(id: "fine-4") { status } }"#, json!({}))
            .await;
        assert_eq!(data["event"]["status"], "PROCESSED", "{backend}: {data}");
        server.stop().await;
    }
}
