//! `GET /metrics`: one `prometheus-client` [`Registry`] holds every family the node exports
//! and renders them as one OpenMetrics text exposition (ending in `# EOF`).
//!
//! Three kinds of figures join it:
//! - **counted as they happen**: counters and histograms updated by [`Metrics::add`] and
//!   [`Metrics::observe`], by series name (`offerflow_events_total`), as the families table
//!   below declares them. The encoder writes a counter's `_total` suffix itself, so a counter is
//!   registered without it; a histogram named `..._seconds` is registered with the unit
//!   `seconds` (`# UNIT` line), which the encoder appends to its name.
//! - **levels read at each scrape** ([`Levels`]): gauges the `/metrics` handler sets just
//!   before encoding (open WebSocket connections, queued webhook messages, ...).
//! - **figures of other parts**: an event source registers its own families when it is added
//!   as a worker ([`Metrics::register`]), the store's cache counters are read from its atomics
//!   as they are encoded.

use prometheus_client::encoding::text::encode;
use prometheus_client::encoding::{EncodeMetric, MetricEncoder};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Metric, Registry, Unit};
use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Mutex, MutexGuard};

/// The media type of the exposition `GET /metrics` answers.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// How a family counts.
enum Kind {
    Counter,
    /// A histogram, its series made by this constructor (which holds the bucket bounds).
    Histogram(fn() -> Histogram),
}

/// Every family [`Metrics::add`] and [`Metrics::observe`] update: series name, kind, help.
const FAMILIES: &[(&str, Kind, &str)] = &[
    (
        "offerflow_events_total",
        Kind::Counter,
        "Events answered, by outcome.",
    ),
    (
        "offerflow_rewards_issued_total",
        Kind::Counter,
        "Rewards issued, by campaign.",
    ),
    (
        "offerflow_evaluation_errors_total",
        Kind::Counter,
        "Expression evaluations that failed (counted as false), by campaign.",
    ),
    (
        "offerflow_batch_events",
        Kind::Histogram(sizes),
        "Events per committed batch.",
    ),
    (
        "offerflow_batch_seconds",
        Kind::Histogram(seconds),
        "Time to process and commit one batch.",
    ),
    (
        "offerflow_batches_failed_total",
        Kind::Counter,
        "Batches that failed (their events were refused as a whole).",
    ),
    (
        "offerflow_http_requests_total",
        Kind::Counter,
        "HTTP requests, by route and status.",
    ),
    (
        "offerflow_http_request_seconds",
        Kind::Histogram(seconds),
        "HTTP request latency, by route.",
    ),
    (
        "offerflow_refusals_total",
        Kind::Counter,
        "Requests refused, by reason.",
    ),
    (
        "offerflow_webhook_attempts_total",
        Kind::Counter,
        "Reward delivery attempts, by transport (http, nats) and outcome (delivered, retry, failed, lost).",
    ),
    (
        "offerflow_webhook_attempt_seconds",
        Kind::Histogram(seconds),
        "Time one webhook attempt took.",
    ),
    (
        "offerflow_webhook_delivery_seconds",
        Kind::Histogram(delivery_seconds),
        "Time from a reward's commit to its delivery, per endpoint.",
    ),
];

fn seconds() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
    ])
}

/// Commit to delivery: retries reach hours.
fn delivery_seconds() -> Histogram {
    Histogram::new([
        0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0, 3600.0, 86400.0,
    ])
}

fn sizes() -> Histogram {
    Histogram::new([
        1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
    ])
}

/// A series' labels, in the order the caller gave them.
type Labels = Vec<(String, String)>;
type Histograms = Family<Labels, Histogram, fn() -> Histogram>;
/// A gauge of a number of things.
pub type Count = Gauge<u64, AtomicU64>;
/// A gauge of seconds.
pub type Seconds = Gauge<f64, AtomicU64>;
/// A family keyed by one label, such as `status`.
type ByOne<G> = Family<[(&'static str, &'static str); 1], G>;
/// A gauge with no label, kept in a family so that it can be emptied (left out of the
/// exposition) when it cannot be read.
type Unlabelled<G> = Family<[(&'static str, &'static str); 0], G>;

/// Levels read from the service's state, not counted as they happen: the `/metrics` handler
/// sets them just before each encoding.
#[derive(Debug, Default)]
pub struct Levels {
    /// `offerflow_websocket_connections`: WebSocket connections open.
    pub websocket_connections: Count,
    /// `offerflow_subscriptions`: operations running over WebSocket connections.
    pub subscriptions: Count,
    /// `offerflow_batch_largest`: the largest batch committed so far.
    pub batch_largest: Count,
    /// `offerflow_webhook_messages{status}`: webhook messages `pending` or `failed`; empty
    /// while the database cannot be read.
    pub webhook_messages: ByOne<Count>,
    /// `offerflow_webhook_oldest_pending_seconds`: the oldest pending message's age; empty
    /// while the database cannot be read.
    pub webhook_oldest_pending: Unlabelled<Seconds>,
}

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    /// Behind a mutex: workers register their families after the server started.
    registry: Mutex<Registry>,
    counters: HashMap<&'static str, Family<Labels, Counter>>,
    histograms: HashMap<&'static str, Histograms>,
    levels: Levels,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let mut counters = HashMap::new();
        let mut histograms = HashMap::new();
        for (name, kind, help) in FAMILIES {
            match kind {
                Kind::Counter => {
                    let family = Family::<Labels, Counter>::default();
                    register(&mut registry, name, help, family.clone());
                    counters.insert(*name, family);
                }
                Kind::Histogram(constructor) => {
                    let family = Histograms::new_with_constructor(*constructor);
                    register(&mut registry, name, help, family.clone());
                    histograms.insert(*name, family);
                }
            }
        }
        let levels = Levels::default();
        register(
            &mut registry,
            "offerflow_websocket_connections",
            "WebSocket connections open.",
            levels.websocket_connections.clone(),
        );
        register(
            &mut registry,
            "offerflow_subscriptions",
            "Operations running over WebSocket connections.",
            levels.subscriptions.clone(),
        );
        register(
            &mut registry,
            "offerflow_batch_largest",
            "Largest batch committed so far.",
            levels.batch_largest.clone(),
        );
        register(
            &mut registry,
            "offerflow_webhook_messages",
            "Webhook messages waiting or given up, by status.",
            levels.webhook_messages.clone(),
        );
        register(
            &mut registry,
            "offerflow_webhook_oldest_pending_seconds",
            "Age of the oldest pending webhook message.",
            levels.webhook_oldest_pending.clone(),
        );
        Metrics {
            registry: Mutex::new(registry),
            counters,
            histograms,
            levels,
        }
    }
}

/// Registers `metric` as the family whose series are named `name`, following the library's
/// conventions: a counter without its `_total` suffix, a name ending in `_seconds` as its
/// unit; a help without its full stop (the library adds one).
pub fn register(registry: &mut Registry, name: &str, help: &str, metric: impl Metric) {
    let help = help.strip_suffix('.').unwrap_or(help);
    let name = match metric.metric_type() {
        MetricType::Counter => name.strip_suffix("_total").unwrap_or(name),
        _ => name,
    };
    match name.strip_suffix("_seconds") {
        Some(stem) => registry.register_with_unit(stem, help, Unit::Seconds, metric),
        None => registry.register(name, help, metric),
    }
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

impl Metrics {
    /// Adds `by` to a counter (a series appears with its first non-zero addition).
    pub fn add(&self, name: &'static str, pairs: &[(&str, &str)], by: u64) {
        debug_assert!(self.counters.contains_key(name), "no counter {name}");
        if by == 0 {
            return;
        }
        if let Some(family) = self.counters.get(name) {
            family.get_or_create(&labels(pairs)).inc_by(by);
        }
    }

    /// Records one observation in a histogram (seconds, or sizes for `offerflow_batch_events`).
    pub fn observe(&self, name: &'static str, pairs: &[(&str, &str)], value: f64) {
        debug_assert!(self.histograms.contains_key(name), "no histogram {name}");
        if let Some(family) = self.histograms.get(name) {
            family.get_or_create(&labels(pairs)).observe(value);
        }
    }

    /// A counter's value (tests, and people reading the code).
    pub fn get(&self, name: &'static str, pairs: &[(&str, &str)]) -> u64 {
        self.counters
            .get(name)
            .and_then(|family| family.get(&labels(pairs)).map(|c| c.get()))
            .unwrap_or(0)
    }

    /// The levels the `/metrics` handler sets before [`Metrics::render`].
    pub fn levels(&self) -> &Levels {
        &self.levels
    }

    /// Lets `with` register more families (see [`register`]): a worker's, once.
    pub fn register(&self, with: impl FnOnce(&mut Registry)) {
        with(&mut self.registry());
    }

    /// Every family, as one OpenMetrics text exposition ending in `# EOF`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        match encode(&mut out, &self.registry()) {
            Ok(()) => out,
            Err(e) => {
                // Writing to a String does not fail; a metric's own encoding could. A partial
                // body would not be an exposition: an empty one is.
                tracing::error!(error = %e, "cannot encode the metrics");
                "# EOF\n".to_owned()
            }
        }
    }

    fn registry(&self) -> MutexGuard<'_, Registry> {
        self.registry.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// `offerflow_cache_requests_total{cache,result}`: the store's cache lookups, read from its
/// counters as they are encoded.
#[derive(Debug)]
pub struct CacheRequests(pub store::Store);

impl EncodeMetric for CacheRequests {
    fn encode(&self, mut encoder: MetricEncoder) -> Result<(), std::fmt::Error> {
        let c = self.0.cache_stats();
        for (cache, result, counter) in [
            ("compiled", "hit", &c.compiled_hits),
            ("compiled", "miss", &c.compiled_misses),
            ("progress", "hit", &c.progress_hits),
            ("progress", "miss", &c.progress_misses),
            ("view", "hit", &c.view_hits),
            ("view", "miss", &c.view_misses),
        ] {
            let labels = [("cache", cache), ("result", result)];
            ConstCounter::new(counter.load(Relaxed)).encode(encoder.encode_family(&labels)?)?;
        }
        Ok(())
    }

    fn metric_type(&self) -> MetricType {
        MetricType::Counter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let m = Metrics::default();
        m.add("offerflow_events_total", &[("status", "processed")], 3);
        m.add("offerflow_events_total", &[("status", "processed")], 2);
        m.add("offerflow_evaluation_errors_total", &[("campaign", "c")], 0);
        m.observe(
            "offerflow_http_request_seconds",
            &[("route", "graphql")],
            0.003,
        );
        m.observe("offerflow_batch_events", &[], 120.0);
        m.levels()
            .webhook_messages
            .get_or_create(&[("status", "pending")])
            .set(4);
        let text = m.render();
        assert!(
            text.contains("offerflow_events_total{status=\"processed\"} 5\n"),
            "{text}"
        );
        assert!(
            !text.contains("campaign=\"c\""),
            "no series for nothing: {text}"
        );
        assert!(
            text.contains(
                "offerflow_http_request_seconds_bucket{le=\"0.0025\",route=\"graphql\"} 0\n"
            ),
            "{text}"
        );
        assert!(
            text.contains(
                "offerflow_http_request_seconds_bucket{le=\"0.005\",route=\"graphql\"} 1\n"
            )
        );
        assert!(text.contains("offerflow_http_request_seconds_count{route=\"graphql\"} 1\n"));
        assert!(text.contains("# UNIT offerflow_http_request_seconds seconds\n"));
        assert!(
            text.contains("offerflow_batch_events_bucket{le=\"250.0\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("offerflow_batch_events_bucket{le=\"+Inf\"} 1\n"));
        assert!(text.contains("# HELP offerflow_events Events answered, by outcome.\n"));
        assert!(text.contains("# TYPE offerflow_events counter\n"));
        assert!(
            !text.contains("offerflow_refusals"),
            "a family without series is left out: {text}"
        );
        assert!(text.contains("offerflow_webhook_messages{status=\"pending\"} 4\n"));
        assert!(text.ends_with("\n# EOF\n"), "{text}");
        assert_eq!(
            m.get("offerflow_events_total", &[("status", "processed")]),
            5
        );
        assert_eq!(m.get("offerflow_refusals_total", &[("reason", "size")]), 0);
    }

    #[test]
    fn families_registered_later_join_the_exposition() {
        let m = Metrics::default();
        let applied = Counter::<u64>::default();
        applied.inc();
        m.register(|r| register(r, "offerflow_test_applied_total", "Applied.", applied));
        let text = m.render();
        assert!(
            text.contains("# TYPE offerflow_test_applied counter\n"),
            "{text}"
        );
        assert!(
            text.contains("\nofferflow_test_applied_total 1\n"),
            "{text}"
        );
        assert_eq!(text.matches("# EOF").count(), 1);
    }
}
