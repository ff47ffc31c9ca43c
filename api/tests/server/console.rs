//! The marketer console in a real Chromium, driven through WebDriver (chromedriver): sign in,
//! write a campaign with an error and see it at its line, fix it, simulate, publish, send
//! events through `POST /v1/events`, find the customer with the reward and progress, pause,
//! read the audit log; a campaign named like markup is shown as text; a key without the
//! author scope sees what it may not do disabled with the reason. (The webhooks page's journey
//! is in `console_webhooks.rs`, on the same browser harness.) Screenshots go to
//! `docs/console/`, which `docs/console.md` shows.
//!
//! Without `chromium` and `chromedriver` the test is skipped with a note, except under `CI`,
//! where it fails (`.ci/run` installs them).

use crate::common::{TestServer, event, ndjson};
use api::auth::Scope;
use api::config::Config;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use serde_json::{Value, json};
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const NAME: &str = "Order 3 times, get 500 points";

/// The spec as typed, with `target: 0` on line 6: the error the marketer sees first.
const BROKEN: &str = "key: three-orders
name: Order 3 times, get 500 points
goal:
  kind: count
  when: 'event.type == \"order.completed\"'
  target: 0
rewards:
  - kind: points
    amount: 500
";

pub(crate) const XSS: &str = "<img src=x onerror=alert(1)>";

/// Three orders of `customer` on January 1st, 2nd and 3rd, with ids `<prefix>1` to `<prefix>3`.
fn orders(prefix: &str, customer: &str) -> Vec<Value> {
    (1..=3)
        .map(|i| {
            let at = format!("2026-01-0{i}T10:00:00Z");
            event(
                &format!("{prefix}{i}"),
                customer,
                "order.completed",
                &at,
                json!({}),
            )
        })
        .collect()
}

/// The first of `names` found on `PATH`.
fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// Whether this run is CI's (`CI` set and not `false`/`0`).
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A port nobody listens on now.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("address").port()
}

/// Starts chromedriver on an ephemeral port and a headless Chromium session through it.
async fn browser(driver: &PathBuf, chromium: &PathBuf) -> (Driver, Client) {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let guard = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1360,1000", "--force-device-scale-factor=1", "--lang=en-US"],
        }),
    );
    // chromedriver answers once it listens: try until it does, for at most 30 s.
    let started = Instant::now();
    loop {
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        match ClientBuilder::new(connector)
            .capabilities(caps.clone())
            .connect(&url)
            .await
        {
            Ok(client) => return (guard, client),
            Err(_) if started.elapsed() < Duration::from_secs(30) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("no WebDriver session at {url}: {e}"),
        }
    }
}

/// The journey's page helpers.
pub(crate) struct Page {
    pub(crate) client: Client,
    pub(crate) shots: PathBuf,
}

impl Page {
    /// Waits (at most 20 s) for the element `css` and answers it.
    pub(crate) async fn wait(&self, css: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("no `{css}` on the page: {e}"))
    }

    /// Waits for an element by XPath (text conditions).
    pub(crate) async fn wait_xpath(&self, xpath: &str) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(Duration::from_secs(20))
            .for_element(Locator::XPath(xpath))
            .await
            .unwrap_or_else(|e| panic!("no `{xpath}` on the page: {e}"))
    }

    pub(crate) async fn click(&self, css: &str) {
        self.wait(css).await.click().await.expect("click");
    }

    /// Replaces the text of the field `css` by typing `text`, as a person would: select all,
    /// delete, type (each key fires the page's `input` listeners, as a keyboard does).
    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let el = self.wait(css).await;
        el.click().await.expect("focus");
        let erase = format!(
            "{}a{}{}",
            char::from(Key::Control),
            char::from(Key::Null),
            char::from(Key::Backspace)
        );
        el.send_keys(&erase).await.expect("erase");
        if !text.is_empty() {
            el.send_keys(text).await.expect("type");
        }
    }

    /// Waits (at most 20 s) until the JavaScript expression `condition` holds on the page, for
    /// what no selector can tell (a field's current value).
    pub(crate) async fn wait_until(&self, condition: &str) {
        let started = Instant::now();
        let script = format!("return Boolean({condition});");
        loop {
            let held = self.client.execute(&script, vec![]).await.expect("script");
            if held == Value::Bool(true) {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "still not true after 20 s: {condition}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub(crate) async fn text(&self, css: &str) -> String {
        self.wait(css).await.text().await.expect("text")
    }

    /// Saves a screenshot of the top of the page as `docs/console/<name>.png`.
    pub(crate) async fn shot(&self, name: &str) {
        self.client
            .execute("window.scrollTo(0, 0);", vec![])
            .await
            .expect("scroll");
        let png = self.client.screenshot().await.expect("screenshot");
        assert!(png.starts_with(b"\x89PNG"), "a PNG");
        std::fs::write(self.shots.join(format!("{name}.png")), png).expect("write screenshot");
    }

    /// Signs out, and in again with a new key named `name` of scope `scope`.
    pub(crate) async fn sign_in_anew(&self, server: &TestServer, name: &str, scope: Scope) {
        let key = server.app.keys().create(name, &[scope]).await.expect("key");
        self.click("#sign-out").await;
        self.type_into("#api-key", &key.secret).await;
        self.click("#sign-in").await;
    }

    /// Fails if the page raised an alert (the markup in a name ran).
    pub(crate) async fn no_alert(&self) {
        if let Ok(text) = self.client.get_alert_text().await {
            panic!("the page raised an alert: {text}");
        }
    }
}

/// One browser test at a time: two Chromiums on a small machine slow each other down past
/// the first page's bound.
static ONE_BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Runs `journey` in a headless Chromium against a server configured by `tune`, closing the
/// browser whatever happens; without `chromium` and `chromedriver` it is skipped (see above).
pub(crate) async fn in_chromium(
    tune: impl FnOnce(&mut Config),
    journey: impl for<'a> FnOnce(&'a TestServer, &'a Page) -> BoxFuture<'a, ()>,
) {
    let driver = which(&["chromedriver"]);
    let chromium = which(&["chromium", "chromium-browser", "google-chrome"]);
    let (Some(driver), Some(chromium)) = (driver, chromium) else {
        assert!(
            !in_ci(),
            "CI needs chromium and chromedriver for the console tests (.ci/run installs them)"
        );
        eprintln!(
            "note: chromium or chromedriver is missing: the console's browser test is skipped \
             (apt-get install chromium chromium-driver)"
        );
        return;
    };
    let _one = ONE_BROWSER.lock().await;
    let server = TestServer::start("sqlite", tune).await;
    let (_driver, client) = browser(&driver, &chromium).await;
    let shots = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/console");
    std::fs::create_dir_all(&shots).expect("screenshot folder");
    let page = Page { client, shots };
    // The browser is closed whatever happens, so that a failing run leaves no Chromium behind.
    let outcome = AssertUnwindSafe(tokio::time::timeout(
        Duration::from_secs(240),
        journey(&server, &page),
    ))
    .catch_unwind()
    .await;
    let _ = page.client.clone().close().await;
    match outcome {
        Ok(finished) => finished.expect("the journey took over 4 minutes"),
        Err(panic) => std::panic::resume_unwind(panic),
    }
    server.stop().await;
}

#[tokio::test]
async fn the_console_journey_in_chromium() {
    in_chromium(|_| {}, |server, page| journey(server, page).boxed()).await;
}

async fn journey(server: &TestServer, page: &Page) {
    // The XSS case's campaign, made through the API as another author would.
    let xss = XSS.replace('\'', "''");
    server
        .data(
            "mutation($s: String!) { createCampaign(source: $s) { key } }",
            json!({"s": format!("key: xss\nname: '{xss}'\ngoal: {{kind: count, when: 'true', target: 1}}\nrewards: [{{kind: badge, amount: 1}}]\n")}),
        )
        .await;

    // Sign in.
    page.client
        .goto(&format!("{}/console", server.base))
        .await
        .expect("open the console");
    page.wait("#api-key").await;
    // The first page is usable within a second of the navigation (the page marks the moment
    // it rendered); the bound is looser here, for a CI machine running other tests at once.
    let ready = page
        .client
        .execute(
            r#"return performance.getEntriesByName("offerflow:ready")[0].startTime;"#,
            vec![],
        )
        .await
        .expect("the ready mark");
    let ready = ready.as_f64().expect("milliseconds");
    eprintln!("the console's first page was usable {ready:.0} ms after navigation");
    assert!(ready < 3000.0, "{ready} ms");
    page.shot("01-sign-in").await;
    page.type_into("#api-key", &server.key).await;
    page.click("#sign-in").await;
    page.wait("#campaigns-table").await;
    assert!(page.text("#who-name").await.contains("test-admin"));

    // Write a campaign with an error: the diagnostic is shown at line 6.
    page.click("#new-campaign").await;
    page.wait(".diag-summary.good").await; // the starter spec checked

    // The form writes the YAML: a sequence of two steps.
    let kind = page.wait("#form-kind").await;
    kind.select_by_value("sequence").await.expect("sequence");
    page.wait_until(r#"document.getElementById("spec-yaml").value.includes("kind: sequence")"#)
        .await;
    for (n, name, when) in [
        (1, "open", r#"event.type == "app.opened""#),
        (2, "order", r#"event.type == "order.completed""#),
    ] {
        page.click("#add-step").await;
        page.type_into(&format!("#form-step-name-{n}"), name).await;
        page.type_into(&format!("#form-step-when-{n}"), when).await;
    }
    page.wait_until(
        r#"document.getElementById("spec-yaml").value.includes("    - name: order\n      when: 'event.type == \"order.completed\"'")"#,
    )
    .await;
    page.wait(".diag-summary.good").await;
    page.type_into("#spec-yaml", BROKEN).await;
    page.wait_xpath(r#"//li[@data-line="6" and contains(., "goal.target")]"#)
        .await;
    page.wait(r#".gutter .ln.error[data-line="6"]"#).await;
    let diagnostic = page.text(r#"li.diagnostic[data-line="6"]"#).await;
    assert!(diagnostic.contains("Line 6, column"), "{diagnostic}");
    assert!(diagnostic.contains("goal.target"), "{diagnostic}");
    page.shot("02-diagnostic").await;

    // Fix it; the form follows the YAML.
    page.type_into("#spec-yaml", &BROKEN.replace("target: 0", "target: 3"))
        .await;
    page.wait(".diag-summary.good").await;
    let target = page.wait("#form-target").await.prop("value").await.unwrap();
    assert_eq!(target.as_deref(), Some("3"));
    let kind = page.wait("#form-kind").await.prop("value").await.unwrap();
    assert_eq!(kind.as_deref(), Some("count"));
    // And the YAML follows the form: 500 points become 700.
    page.type_into("#form-amount", "700").await;
    page.wait_until(r#"document.getElementById("spec-yaml").value.includes("amount: 700")"#)
        .await;
    page.wait(".diag-summary.good").await;
    page.shot("03-author").await;

    // Save the draft.
    page.click("#save-draft").await;
    page.wait_xpath(&format!(r#"//h1[@id="campaign-title" and .="{NAME}"]"#))
        .await;
    page.wait(".facts .badge.draft").await;

    // Simulate: three orders for c1 complete the goal on the third.
    page.click("#tab-simulate").await;
    let lines = String::from_utf8(ndjson(&orders("s", "c1"))).unwrap();
    page.type_into("#sim-events", &lines).await;
    page.click("#simulate").await;
    let summary = page.text("#sim-summary").await;
    assert!(summary.contains("3 processed"), "{summary}");
    assert!(summary.contains("1 reward issued"), "{summary}");
    page.wait_xpath(r#"//table[@id="sim-table"]//td[contains(., "700 points")]"#)
        .await;
    page.wait_xpath(r#"//table[@id="sim-table"]//td[contains(., "2 / 3")]"#)
        .await;
    page.shot("04-simulate").await;
    // Or upload a file: a JSON array this time.
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("events.json");
    let array = Value::Array(orders("u", "c7")[..2].to_vec());
    std::fs::write(&file, array.to_string()).expect("write events");
    page.wait("#sim-file")
        .await
        .send_keys(&file.display().to_string())
        .await
        .expect("upload");
    page.wait_until(r#"document.getElementById("sim-events").value.startsWith("[")"#)
        .await;
    page.click("#simulate").await;
    page.wait_xpath(r#"//p[@id="sim-summary" and starts-with(., "2 processed")]"#)
        .await;
    page.wait_xpath(r#"//table[@id="sim-table"]//td[.="c7"]"#)
        .await;

    // Publish, after a confirmation that says what happens and shows the changes.
    page.click("#action-publish").await;
    page.wait("dialog#confirm[open]").await;
    let body = page.text("#confirm-body").await;
    assert!(body.contains("Version 1 goes live"), "{body}");
    assert!(body.contains("+ name: Order 3 times"), "{body}");
    page.shot("05-publish").await;
    page.click("#confirm-ok").await;
    page.wait(".facts .badge.published").await;

    // A change to the draft, through the form: the running version stays until published,
    // and *Changes to publish* shows the line that would change.
    page.type_into("#form-target", "4").await;
    page.wait_until(r#"document.getElementById("spec-yaml").value.includes("target: 4")"#)
        .await;
    page.wait(".diag-summary.good").await;
    page.click("#save-draft").await;
    page.wait_xpath(r#"//p[@class="facts" and contains(., "draft differs")]"#)
        .await;
    page.click("#tab-changes").await;
    page.wait_xpath(r#"//pre[@class="diff"]/span[@class="del" and contains(., "target: 3")]"#)
        .await;
    page.wait_xpath(r#"//pre[@class="diff"]/span[@class="add" and contains(., "target: 4")]"#)
        .await;
    page.shot("05b-changes").await;

    // Events through the API: c1 orders three times.
    let mut sent = orders("o", "c1");
    sent.push(event(
        "o4",
        "c2",
        "order.completed",
        "2026-01-01T11:00:00Z",
        json!({}),
    ));
    let (status, answer) = server
        .post("/v1/events", "application/x-ndjson", ndjson(&sent))
        .await;
    assert_eq!(status, 200, "{answer}");

    // The customer: the reward, the progress, the events and what they did.
    page.click(r#"nav a[data-section="customer"]"#).await;
    page.type_into("#customer-id", "c1").await;
    page.click("#lookup").await;
    page.wait_xpath(r#"//table[@id="rewards-table"]//td[contains(., "700 points")]"#)
        .await;
    page.wait(r#"#offers-table .badge.completed"#).await;
    page.wait_xpath(r#"//table[@id="events-table"]//td[contains(., "three-orders: completed")]"#)
        .await;
    page.shot("06-customer").await;
    // c2 is on the way, and the console says what is missing.
    page.type_into("#customer-id", "c2").await;
    page.click("#lookup").await;
    page.wait_xpath(r#"//h2[@id="customer-title" and .="Customer c2"]"#)
        .await;
    page.wait_xpath(r#"//table[@id="offers-table"]//td[contains(., "1 / 3")]"#)
        .await;

    // Pause it.
    page.client
        .goto(&format!("{}/console#/campaign/three-orders", server.base))
        .await
        .expect("open the campaign");
    page.click("#action-pause").await;
    let body = page.text("#confirm-body").await;
    assert!(body.contains("Events stop counting"), "{body}");
    // From the keyboard: the dialog takes focus (on Cancel), Escape cancels it.
    let focused = page.client.active_element().await.expect("focus");
    assert_eq!(
        focused.attr("id").await.unwrap().as_deref(),
        Some("confirm-cancel")
    );
    focused
        .send_keys(&char::from(Key::Escape).to_string())
        .await
        .unwrap();
    page.wait("dialog#confirm:not([open])").await;
    page.wait(".facts .badge.published").await;
    page.click("#action-pause").await;
    page.wait("dialog#confirm[open]").await;
    page.click("#confirm-ok").await;
    page.wait(".facts .badge.paused").await;
    page.wait("#action-resume").await;

    // The audit log: who did what.
    page.click("#tab-audit").await;
    page.wait_xpath(r#"//table[@id="audit-table"]//td[.="campaign.pause"]"#)
        .await;
    let audit = page.text("#audit-table").await;
    for action in ["campaign.create", "campaign.publish"] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
    assert!(audit.contains("test-admin"), "{audit}");
    page.shot("07-audit").await;
    // Resume it: events count again.
    page.click("#action-resume").await;
    let body = page.text("#confirm-body").await;
    assert!(body.contains("Events count again"), "{body}");
    page.click("#confirm-ok").await;
    page.wait(".facts .badge.published").await;

    // The list: the markup-named campaign is shown as its characters, and nothing ran.
    page.click(r#"nav a[data-section="campaigns"]"#).await;
    let link = page
        .wait_xpath(r##"//table[@id="campaigns-table"]//a[@href="#/campaign/xss"]"##)
        .await;
    assert_eq!(link.text().await.unwrap(), XSS);
    let images = page
        .client
        .find_all(Locator::Css("#campaigns-table img"))
        .await
        .unwrap();
    assert!(images.is_empty(), "the name became an element");
    page.no_alert().await;
    let status = page.wait("#filter-status").await;
    status.select_by_value("PUBLISHED").await.expect("filter");
    page.wait_xpath(r#"//table[@id="campaigns-table"]/caption[.="1 campaign"]"#)
        .await;
    assert!(page.text("#campaigns-table").await.contains("three-orders"));
    let status = page.wait("#filter-status").await;
    status.select_by_value("").await.expect("no filter");
    page.wait_xpath(r#"//table[@id="campaigns-table"]/caption[.="2 campaigns"]"#)
        .await;
    page.type_into("#search", "three").await;
    page.wait_xpath(r#"//table[@id="campaigns-table"]/caption[.="1 campaign"]"#)
        .await;
    page.type_into("#search", "").await;
    page.wait_xpath(r#"//table[@id="campaigns-table"]/caption[.="2 campaigns"]"#)
        .await;
    page.shot("08-campaigns").await;

    // A key that may only read: authoring is shown disabled, with the reason.
    page.sign_in_anew(server, "dashboard", Scope::Read).await;
    let button = page.wait("#new-campaign").await;
    assert_eq!(
        button.prop("disabled").await.unwrap().as_deref(),
        Some("true")
    );
    let why = page.text("#new-campaign + .why").await;
    assert!(why.contains("Needs scope admin or author"), "{why}");
    // One that may only send events is told why there is no list, rather than an error.
    page.sign_in_anew(server, "checkout", Scope::Ingest).await;
    let why = page.text("#campaign-list .why").await;
    assert!(why.contains("this key has ingest"), "{why}");
    page.no_alert().await;
}

#[tokio::test]
async fn the_console_is_served_with_a_strict_policy() {
    let server = TestServer::start("sqlite", |_| {}).await;
    let client = reqwest::Client::new();
    for path in [
        "/console",
        "/console/",
        "/console/main.js",
        "/console/console.css",
    ] {
        let r = client
            .get(format!("{}{path}", server.base))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{path}");
        let csp = r.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("default-src 'self'"), "{csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("unsafe-inline"), "{csp}");
        assert!(r.headers().contains_key("etag"), "{path}");
    }
    let r = client
        .get(format!("{}/console/main.js", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-type"],
        "text/javascript; charset=utf-8"
    );
    let etag = r.headers()["etag"].clone();
    let again = client
        .get(format!("{}/console/main.js", server.base))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304);
    let missing = client
        .get(format!("{}/console/..%2FCargo.toml", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), 404);
    server.stop().await;
}
