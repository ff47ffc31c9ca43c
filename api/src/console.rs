//! The marketer console (DESIGN §11): hand-written HTML, CSS and JavaScript modules under
//! `api/console/`, embedded in the binary at build time and served at `/console`.
//!
//! Guarantees, and how:
//! - **Nothing to build, nothing from elsewhere.** The files are served as they are in the
//!   repository (no bundler, no Node.js); every one is listed in [`FILES`], so a file that is
//!   not listed is not served.
//! - **No script but ours.** Every answer carries [`POLICY`]: scripts, styles and connections
//!   from this origin only, no inline script or style, no framing, no plugins.
//! - **Fresh after an upgrade, cheap otherwise.** Each file's `ETag` is the SHA-256 of its
//!   bytes; browsers revalidate (`Cache-Control: no-cache`) and get `304 Not Modified` while
//!   the binary is the same.
//!
//! The console has no credentials of its own: it calls `POST /graphql` with the API key the
//! marketer types, like any client.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use std::sync::LazyLock;

/// The console's Content-Security-Policy.
pub const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
                          img-src 'self' data:; connect-src 'self'; font-src 'self'; \
                          object-src 'none'; base-uri 'none'; form-action 'none'; \
                          frame-ancestors 'none'";

const JS: &str = "text/javascript; charset=utf-8";

/// Every file under `/console/`: name, content type, bytes. `index.html` is also `/console`.
const FILES: &[(&str, &str, &[u8])] = &[
    (
        "index.html",
        "text/html; charset=utf-8",
        include_bytes!("../console/index.html"),
    ),
    (
        "console.css",
        "text/css; charset=utf-8",
        include_bytes!("../console/console.css"),
    ),
    (
        "favicon.svg",
        "image/svg+xml",
        include_bytes!("../console/favicon.svg"),
    ),
    ("main.js", JS, include_bytes!("../console/main.js")),
    ("api.js", JS, include_bytes!("../console/api.js")),
    ("dom.js", JS, include_bytes!("../console/dom.js")),
    ("yaml.js", JS, include_bytes!("../console/yaml.js")),
    ("diff.js", JS, include_bytes!("../console/diff.js")),
    ("editor.js", JS, include_bytes!("../console/editor.js")),
    ("form.js", JS, include_bytes!("../console/form.js")),
    (
        "campaigns.js",
        JS,
        include_bytes!("../console/campaigns.js"),
    ),
    ("author.js", JS, include_bytes!("../console/author.js")),
    ("simulate.js", JS, include_bytes!("../console/simulate.js")),
    ("customer.js", JS, include_bytes!("../console/customer.js")),
    ("webhooks.js", JS, include_bytes!("../console/webhooks.js")),
];

/// Each file's `ETag`, computed once.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    FILES
        .iter()
        .map(|(_, _, bytes)| format!("\"{}\"", &hex::encode(Sha256::digest(bytes))[..20]))
        .collect()
});

/// `GET /console/<name>` (`index.html` for `/console` and `/console/`), or 404.
pub fn file(name: &str, request: &HeaderMap) -> Response {
    let name = if name.is_empty() { "index.html" } else { name };
    let Some(i) = FILES.iter().position(|(n, _, _)| *n == name) else {
        return (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_SECURITY_POLICY, POLICY)],
            "no such file",
        )
            .into_response();
    };
    let (_, content_type, bytes) = FILES[i];
    let etag = &ETAGS[i];
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut response = if fresh {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        ([(header::CONTENT_TYPE, content_type)], bytes).into_response()
    };
    let headers = response.headers_mut();
    let fixed = [
        (header::CONTENT_SECURITY_POLICY, POLICY),
        (header::CACHE_CONTROL, "no-cache"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ];
    for (name, value) in fixed {
        headers.insert(name, HeaderValue::from_static(value));
    }
    if let Ok(value) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_listed_files_with_type_policy_and_etag() {
        let r = file("", &HeaderMap::new());
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(
            r.headers()[header::CONTENT_TYPE],
            "text/html; charset=utf-8"
        );
        assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], POLICY);
        let etag = r.headers()[header::ETAG].clone();
        let mut again = HeaderMap::new();
        again.insert(header::IF_NONE_MATCH, etag);
        assert_eq!(
            file("index.html", &again).status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            file("main.js", &HeaderMap::new()).headers()[header::CONTENT_TYPE],
            JS
        );
        assert_eq!(
            file("../Cargo.toml", &HeaderMap::new()).status(),
            StatusCode::NOT_FOUND
        );
    }

    #[test]
    fn pages_load_nothing_inline_or_from_elsewhere() {
        let markup = [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
        ];
        for (name, _, bytes) in FILES {
            let text = String::from_utf8_lossy(bytes);
            for bad in markup
                .iter()
                .chain(&["eval(", "new Function", "localStorage"])
            {
                assert!(!text.contains(bad), "{name} contains `{bad}`");
            }
            if !name.ends_with(".svg") {
                // (an SVG names its XML namespace with a URL; it loads nothing)
                for bad in ["http://", "https://", "//cdn"] {
                    assert!(!text.contains(bad), "{name} names another origin: `{bad}`");
                }
            }
        }
        let index = String::from_utf8_lossy(FILES[0].2);
        assert!(!index.contains("<script>"), "no inline script");
        assert!(!index.contains("<style"), "no inline style");
        assert!(!index.contains(" style="), "no style attribute");
        let handler = index
            .split(|c: char| c.is_whitespace())
            .any(|word| word.starts_with("on") && word.contains('='));
        assert!(!handler, "no inline event handler");
    }
}
