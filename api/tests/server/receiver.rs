//! A real HTTP receiver on an ephemeral port for webhook tests: it answers from a script
//! (statuses, `Retry-After`, hanging), records what it received, verifies signatures the
//! way a receiver would (its own HMAC, not the server's code), and counts two attempts of
//! one message at once.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{KeyInit, Mac};
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How the receiver answers one request.
#[derive(Debug, Clone, Copy)]
pub enum Reply {
    /// This status at once.
    Status(u16),
    /// This status with `Retry-After: seconds`.
    RetryAfter(u16, u64),
    /// 200 after this long (longer than the server's timeout: a timeout).
    Slow(Duration),
}

/// One request received.
#[derive(Debug, Clone)]
pub struct Received {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
    pub at: Instant,
}

#[derive(Default)]
struct Inner {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    received: Mutex<Vec<Received>>,
    in_flight: Mutex<HashMap<String, usize>>,
    overlaps: AtomicU64,
}

/// A running receiver.
pub struct Receiver {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    inner: Arc<Inner>,
}

impl Receiver {
    /// A receiver answering `default` once its script is spent.
    pub async fn start(default: Reply) -> Receiver {
        let inner = Arc::new(Inner::default());
        *inner.default.lock().unwrap() = Some(default);
        let app = Router::new()
            .route("/hook", axum::routing::post(hook))
            .with_state(Arc::clone(&inner));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { url, inner }
    }

    /// Answers the next requests with `replies`, in order.
    pub fn script(&self, replies: &[Reply]) {
        self.inner
            .script
            .lock()
            .unwrap()
            .extend(replies.iter().copied());
    }

    /// Answers `reply` from now on (once the script is spent).
    pub fn answer(&self, reply: Reply) {
        *self.inner.default.lock().unwrap() = Some(reply);
    }

    /// Everything received so far.
    pub fn received(&self) -> Vec<Received> {
        self.inner.received.lock().unwrap().clone()
    }

    /// How many times two attempts at one message overlapped.
    pub fn overlaps(&self) -> u64 {
        self.inner.overlaps.load(Ordering::Relaxed)
    }

    /// Waits (at most `within`) until `n` requests were received; answers them.
    pub async fn wait_for(&self, n: usize, within: Duration) -> Vec<Received> {
        until(&format!("{n} requests received"), within, || {
            self.received().len() >= n
        })
        .await;
        self.received()
    }
}

/// Waits (at most `within`) until `done` holds, checking every 20 ms.
pub async fn until(what: &str, within: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + within;
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Whether `r` carries a valid signature by `secret` (Standard Webhooks 1.0), among the
/// space-separated ones.
pub fn signed_by(r: &Received, secret: &str) -> bool {
    let key = STANDARD
        .decode(secret.strip_prefix("whsec_").unwrap())
        .unwrap();
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&key).unwrap();
    mac.update(format!("{}.{}.{}", r.id, r.timestamp, r.body).as_bytes());
    let expected = format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()));
    r.signature.split(' ').any(|s| s == expected)
}

async fn hook(State(inner): State<Arc<Inner>>, headers: HeaderMap, body: Bytes) -> Response {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let received = Received {
        id: header("webhook-id"),
        timestamp: header("webhook-timestamp"),
        signature: header("webhook-signature"),
        body: String::from_utf8_lossy(&body).into_owned(),
        at: Instant::now(),
    };
    let _attempt = InFlight::enter(&inner, received.id.clone());
    inner.received.lock().unwrap().push(received);
    let reply = inner
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or(*inner.default.lock().unwrap())
        .unwrap_or(Reply::Status(200));
    match reply {
        Reply::Status(s) => StatusCode::from_u16(s).unwrap().into_response(),
        Reply::RetryAfter(s, secs) => (
            StatusCode::from_u16(s).unwrap(),
            [("retry-after", secs.to_string())],
        )
            .into_response(),
        Reply::Slow(d) => {
            tokio::time::sleep(d).await;
            StatusCode::OK.into_response()
        }
    }
}

/// One attempt in progress, until the handler ends or is dropped (the client gave up).
struct InFlight {
    inner: Arc<Inner>,
    id: String,
}

impl InFlight {
    fn enter(inner: &Arc<Inner>, id: String) -> InFlight {
        let mut in_flight = inner.in_flight.lock().unwrap();
        let n = in_flight.entry(id.clone()).or_insert(0);
        *n += 1;
        if *n > 1 {
            inner.overlaps.fetch_add(1, Ordering::Relaxed);
        }
        InFlight {
            inner: Arc::clone(inner),
            id,
        }
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(n) = self.inner.in_flight.lock().unwrap().get_mut(&self.id) {
            *n -= 1;
        }
    }
}
