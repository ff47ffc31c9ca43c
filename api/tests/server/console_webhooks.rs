//! The console's webhooks page in a real Chromium, with real receivers on ephemeral ports: an
//! endpoint created (its secret shown once, and the one that signs), a reward delivered after
//! a refusal, redelivered, filtered, the endpoint edited, the log paged, the secret rotated,
//! the endpoint disabled, enabled and recovered, another deleted, markup shown as text, and a
//! key without admin told why it may do nothing. Screenshots go to `docs/console/`.

use crate::common::{TestServer, event, ndjson};
use crate::console::{Page, XSS, in_chromium};
use crate::receiver::{Receiver, Reply, signed_by};
use crate::webhooks::campaign;
use api::auth::Scope;
use fantoccini::Locator;
use futures_util::FutureExt;
use serde_json::{Value, json};
use std::time::Duration;

#[tokio::test]
async fn the_webhooks_page_in_chromium() {
    in_chromium(
        |c| {
            // The receivers listen on 127.0.0.1; a first failure is retried at once.
            c.webhook_allow_private_targets = true;
            c.webhook_retry_schedule = "200ms,200ms".into();
        },
        |server, page| webhooks_journey(server, page).boxed(),
    )
    .await;
}

/// `n` orders of customer `c1` through `POST /v1/events`, ids `<prefix>1`, `<prefix>2`...
async fn send_orders(server: &TestServer, prefix: &str, n: usize) {
    let events: Vec<Value> = (1..=n)
        .map(|i| {
            let id = format!("{prefix}{i}");
            event(&id, "c1", "order", "2026-12-01T10:00:00Z", json!({}))
        })
        .collect();
    let (status, answer) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&events))
        .await;
    assert_eq!(status, 200, "{answer}");
}

/// The secret the page shows now.
async fn shown_secret(page: &Page) -> String {
    let input = page.wait("#webhook-secret").await;
    input.prop("value").await.unwrap().unwrap_or_default()
}

async fn webhooks_journey(server: &TestServer, page: &Page) {
    const WAIT: Duration = Duration::from_secs(30);
    // A campaign that issues 10 points on every order.
    campaign(server, "orders", "points").await;
    // The wallet's receiver answers 503 once, then 200; another admin's endpoint, described
    // with markup, receives everything and tells when a reward went out.
    let wallet = Receiver::start(Reply::Status(200)).await;
    wallet.script(&[Reply::Status(503)]);
    let witness = Receiver::start(Reply::Status(200)).await;
    server
        .data(
            "mutation($i: WebhookEndpointInput!) { createWebhookEndpoint(input: $i) { secret } }",
            json!({ "i": { "url": witness.url, "description": XSS } }),
        )
        .await;

    // Sign in on the webhooks page: the markup is shown as its characters.
    page.client
        .goto(&format!("{}/console#/webhooks", server.base))
        .await
        .expect("open the console");
    page.type_into("#api-key", &server.key).await;
    page.click("#sign-in").await;
    page.wait_xpath(&format!(r#"//table[@id="endpoints-table"]//td[.="{XSS}"]"#))
        .await;
    let images = page
        .client
        .find_all(Locator::Css("#endpoints-table img"))
        .await
        .unwrap();
    assert!(images.is_empty(), "the description became an element");
    page.no_alert().await;

    // Add an endpoint: a refused URL shows the API's reason in the form.
    page.click("#add-endpoint").await;
    page.type_into("#endpoint-url", "ftp://wallet.example/hook")
        .await;
    page.click("#endpoint-save").await;
    let error = page
        .wait_xpath(r#"//p[@id="endpoint-error" and contains(., "must be http or https")]"#)
        .await;
    assert!(error.text().await.unwrap().contains("input.url"));
    let url = page.wait("#endpoint-url").await;
    assert_eq!(
        url.attr("aria-invalid").await.unwrap().as_deref(),
        Some("true")
    );
    page.type_into("#endpoint-url", &wallet.url).await;
    page.type_into("#endpoint-description", "Points wallet")
        .await;
    page.type_into("#endpoint-campaigns", "orders").await;
    page.click("#endpoint-kind-points").await;
    page.click("#endpoint-save").await;
    // The secret, once, with the note.
    let secret = shown_secret(page).await;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let note = page.text("#secret-note").await;
    assert!(note.contains("it is not shown again"), "{note}");
    let row = format!(
        r#"//table[@id="endpoints-table"]//tr[td/a[.="{}"]]"#,
        wallet.url
    );
    let listed = page.wait_xpath(&row).await.text().await.unwrap();
    for shown in ["Points wallet", "orders", "points", "enabled"] {
        assert!(listed.contains(shown), "{shown} in {listed}");
    }
    page.shot("09-webhooks").await;

    // A reward: refused once, delivered on the retry, signed with the secret the page showed.
    send_orders(server, "a", 1).await;
    let got = wallet.wait_for(2, WAIT).await;
    assert!(got.iter().all(|r| signed_by(r, &secret)));
    let webhook_id = got[0].id.clone();

    // The log shows it delivered, after a 503 and a 200.
    page.click("#secret-done").await;
    let open_endpoint = |url: &str| format!(r#"//table[@id="endpoints-table"]//a[.="{url}"]"#);
    page.wait_xpath(&open_endpoint(&wallet.url))
        .await
        .click()
        .await
        .expect("open the endpoint");
    page.wait_xpath(&format!(
        r#"//h1[@id="endpoint-title" and .="{}"]"#,
        wallet.url
    ))
    .await;
    let message = format!(r#"//table[@id="deliveries-table"]//tr[.//code[.="{webhook_id}"]]"#);
    let delivered = format!(
        r#"{message}[.//span[@class="badge delivered"] and .//li[contains(., "HTTP 503")] and .//li[contains(., "HTTP 200")]]"#
    );
    page.wait_xpath(&delivered).await;
    page.shot("10-deliveries").await;

    // Redeliver it, after a confirmation: the same webhook-id arrives again.
    page.click(r#"#deliveries-table button[id^="redeliver-"]"#)
        .await;
    page.wait("dialog#confirm[open]").await;
    let body = page.text("#confirm-body").await;
    assert!(body.contains("same webhook-id"), "{body}");
    page.click("#confirm-ok").await;
    let got = wallet.wait_for(3, WAIT).await;
    assert_eq!(got[2].id, webhook_id);
    page.wait_xpath(&format!(
        r#"{message}[.//span[@class="badge delivered"]]//ol[count(li)=3]"#
    ))
    .await;

    // Filter by status.
    let status = page.wait("#delivery-status").await;
    status.select_by_value("FAILED").await.expect("filter");
    page.wait_xpath(r#"//div[@id="delivery-log"]/p[.="No failed messages."]"#)
        .await;
    let status = page.wait("#delivery-status").await;
    status.select_by_value("").await.expect("no filter");
    page.wait_xpath(&delivered).await;

    // Edit it: the form holds what it has; the change is shown.
    page.click("#endpoint-edit").await;
    let url = page.wait("#endpoint-url").await;
    assert_eq!(url.prop("value").await.unwrap(), Some(wallet.url.clone()));
    let points = page.wait("#endpoint-kind-points").await;
    assert_eq!(
        points.prop("checked").await.unwrap().as_deref(),
        Some("true")
    );
    page.type_into("#endpoint-description", "Points wallet (EU)")
        .await;
    page.click("#endpoint-save").await;
    page.wait_xpath(r#"//dd[@id="endpoint-about" and .="Points wallet (EU)"]"#)
        .await;
    page.wait_xpath(&delivered).await;

    // Twenty more rewards: Refresh shows the newest twenty, Load more the one before them.
    send_orders(server, "b", 20).await;
    wallet.wait_for(23, WAIT).await;
    page.click("#refresh-deliveries").await;
    page.wait_xpath(
        r#"//p[@id="delivery-summary" and .="20 messages shown (more to load): 20 delivered."]"#,
    )
    .await;
    page.click("#more-deliveries").await;
    page.wait_xpath(r#"//p[@id="delivery-summary" and .="21 messages shown: 21 delivered."]"#)
        .await;
    page.wait("#more-deliveries[hidden]").await;
    page.wait_xpath(&delivered).await;

    // Rotate the secret: the new one is shown once.
    page.click("#endpoint-rotate").await;
    page.wait("dialog#confirm[open]").await;
    let body = page.text("#confirm-body").await;
    assert!(body.contains("For 24 hours"), "{body}");
    page.click("#confirm-ok").await;
    page.wait_until(&format!(
        r#"document.getElementById("webhook-secret")?.value.startsWith("whsec_") && document.getElementById("webhook-secret").value !== "{secret}""#
    ))
    .await;
    let rotated = shown_secret(page).await;
    page.click("#secret-done").await;

    // Disable it, with a reason: marked disabled here and in the list.
    page.click("#endpoint-disable").await;
    page.wait("dialog#confirm[open]").await;
    let body = page.text("#confirm-body").await;
    assert!(body.contains("pending messages wait"), "{body}");
    page.type_into("#disable-reason", "wallet maintenance")
        .await;
    page.click("#confirm-ok").await;
    page.wait_xpath(
        r#"//p[@id="endpoint-state" and span[@class="badge disabled"] and contains(., "wallet maintenance")]"#,
    )
    .await;
    page.wait("#endpoint-enable").await;
    page.click(r#"nav a[data-section="webhooks"]"#).await;
    page.wait_xpath(&format!(
        r#"{row}[.//span[@class="badge disabled"] and contains(., "wallet maintenance")]"#
    ))
    .await;

    // A reward while it is disabled is not queued for it (the other endpoint has it); enabled
    // again, Recover since… sends it.
    send_orders(server, "c", 1).await;
    witness.wait_for(22, WAIT).await;
    page.wait_xpath(&open_endpoint(&wallet.url))
        .await
        .click()
        .await
        .expect("open the endpoint");
    page.click("#endpoint-enable").await;
    page.wait("dialog#confirm[open]").await;
    page.click("#confirm-ok").await;
    page.wait("#endpoint-state .badge.enabled").await;
    page.click("#recover").await;
    page.wait("dialog#confirm[open]").await;
    let body = page.text("#confirm-body").await;
    assert!(body.contains("not sent twice"), "{body}");
    page.click("#confirm-ok").await;
    page.wait_xpath(r#"//div[@id="status"]/p[.="1 message queued."]"#)
        .await;
    let got = wallet.wait_for(24, WAIT).await;
    assert!(
        got[..23].iter().all(|r| r.id != got[23].id),
        "a new message"
    );
    assert!(signed_by(&got[23], &rotated), "signed with the new secret");
    page.wait_xpath(&format!(
        r#"//table[@id="deliveries-table"]//tr[.//code[.="{}"] and .//span[@class="badge delivered"]]"#,
        got[23].id
    ))
    .await;

    // Delete the other endpoint, after a confirmation that says what is lost.
    page.click(r#"nav a[data-section="webhooks"]"#).await;
    page.wait_xpath(&open_endpoint(&witness.url))
        .await
        .click()
        .await
        .expect("open the endpoint");
    page.wait_xpath(&format!(r#"//dd[@id="endpoint-about" and .="{XSS}"]"#))
        .await;
    page.no_alert().await;
    page.click("#endpoint-delete").await;
    page.wait("dialog#confirm[open]").await;
    let body = page.text("#confirm-body").await;
    assert!(body.contains("pending messages are dropped"), "{body}");
    page.click("#confirm-ok").await;
    page.wait_xpath(r#"//table[@id="endpoints-table"]/caption[starts-with(., "1 endpoint,")]"#)
        .await;

    // A key without admin sees the page's actions disabled, with the reason.
    page.sign_in_anew(server, "dashboard", Scope::Read).await;
    page.wait("#campaigns-table").await;
    page.click(r#"nav a[data-section="webhooks"]"#).await;
    let button = page.wait("#add-endpoint").await;
    assert_eq!(
        button.prop("disabled").await.unwrap().as_deref(),
        Some("true")
    );
    let why = page.text("#add-endpoint + .why").await;
    assert!(
        why.contains("Needs scope admin; this key has read"),
        "{why}"
    );
    let why = page.text("#endpoint-list .why").await;
    assert!(why.contains("Endpoints cannot be listed"), "{why}");
    page.no_alert().await;
}
