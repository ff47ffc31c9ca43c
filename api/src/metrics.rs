//! Counters and histograms for `GET /metrics`, in the Prometheus text format (0.0.4). No
//! external registry: a few maps behind mutexes, written once per request or batch.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

/// Every series this server exports: name, type, help.
const FAMILIES: &[(&str, &str, &str)] = &[
    (
        "offerflow_events_total",
        "counter",
        "Events answered, by outcome.",
    ),
    (
        "offerflow_rewards_issued_total",
        "counter",
        "Rewards issued, by campaign.",
    ),
    (
        "offerflow_evaluation_errors_total",
        "counter",
        "Expression evaluations that failed (counted as false), by campaign.",
    ),
    (
        "offerflow_batch_events",
        "histogram",
        "Events per committed batch.",
    ),
    (
        "offerflow_batch_seconds",
        "histogram",
        "Time to process and commit one batch.",
    ),
    (
        "offerflow_batches_failed_total",
        "counter",
        "Batches that failed (their events were refused as a whole).",
    ),
    (
        "offerflow_http_requests_total",
        "counter",
        "HTTP requests, by route and status.",
    ),
    (
        "offerflow_http_request_seconds",
        "histogram",
        "HTTP request latency, by route.",
    ),
    (
        "offerflow_refusals_total",
        "counter",
        "Requests refused, by reason.",
    ),
    (
        "offerflow_webhook_attempts_total",
        "counter",
        "Reward delivery attempts, by transport (http, nats) and outcome (delivered, retry, failed, lost).",
    ),
    (
        "offerflow_webhook_attempt_seconds",
        "histogram",
        "Time one webhook attempt took.",
    ),
    (
        "offerflow_webhook_delivery_seconds",
        "histogram",
        "Time from a reward's commit to its delivery, per endpoint.",
    ),
];

const SECONDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];
/// Commit to delivery: retries reach hours.
const DELIVERY_SECONDS: &[f64] = &[
    0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0, 30.0, 300.0, 3600.0, 86400.0,
];
const SIZES: &[f64] = &[
    1.0, 10.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0, 10000.0,
];

/// A series' labels, rendered once: `{route="graphql",status="200"}`.
type Labels = String;

#[derive(Debug, Clone)]
struct Histogram {
    bounds: &'static [f64],
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// The server's metrics.
#[derive(Debug, Default)]
pub struct Metrics {
    counters: Mutex<BTreeMap<(&'static str, Labels), u64>>,
    histograms: Mutex<BTreeMap<(&'static str, Labels), Histogram>>,
}

fn labels(pairs: &[(&str, &str)]) -> Labels {
    if pairs.is_empty() {
        return String::new();
    }
    let inner: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            let v = v
                .replace('\\', "\\\\")
                .replace('"', "\\\"")
                .replace('\n', "\\n");
            format!("{k}=\"{v}\"")
        })
        .collect();
    format!("{{{}}}", inner.join(","))
}

impl Metrics {
    /// Adds `by` to a counter.
    pub fn add(&self, name: &'static str, pairs: &[(&str, &str)], by: u64) {
        if by == 0 {
            return;
        }
        if let Ok(mut counters) = self.counters.lock() {
            *counters.entry((name, labels(pairs))).or_default() += by;
        }
    }

    /// Records one observation in a histogram (seconds, or sizes for `offerflow_batch_events`).
    pub fn observe(&self, name: &'static str, pairs: &[(&str, &str)], value: f64) {
        let bounds = match name {
            "offerflow_batch_events" => SIZES,
            "offerflow_webhook_delivery_seconds" => DELIVERY_SECONDS,
            _ => SECONDS,
        };
        if let Ok(mut histograms) = self.histograms.lock() {
            let h = histograms
                .entry((name, labels(pairs)))
                .or_insert_with(|| Histogram {
                    bounds,
                    counts: vec![0; bounds.len()],
                    sum: 0.0,
                    count: 0,
                });
            for (i, bound) in h.bounds.iter().enumerate() {
                if value <= *bound {
                    h.counts[i] += 1;
                }
            }
            h.sum += value;
            h.count += 1;
        }
    }

    /// A counter's value (tests, and people reading the code).
    pub fn get(&self, name: &'static str, pairs: &[(&str, &str)]) -> u64 {
        self.counters
            .lock()
            .ok()
            .and_then(|c| c.get(&(name, labels(pairs))).copied())
            .unwrap_or(0)
    }

    /// Every series, in the Prometheus text format.
    pub fn render(&self) -> String {
        let counters = self.counters.lock().map(|c| c.clone()).unwrap_or_default();
        let histograms = self
            .histograms
            .lock()
            .map(|h| h.clone())
            .unwrap_or_default();
        let mut out = String::new();
        for (family, kind, help) in FAMILIES {
            let _ = writeln!(out, "# HELP {family} {help}\n# TYPE {family} {kind}");
            for ((name, l), value) in counters.range((*family, String::new())..) {
                if name != family {
                    break;
                }
                let _ = writeln!(out, "{name}{l} {value}");
            }
            for ((name, l), h) in histograms.range((*family, String::new())..) {
                if name != family {
                    break;
                }
                let inner = l.trim_start_matches('{').trim_end_matches('}');
                let sep = if inner.is_empty() { "" } else { "," };
                for (bound, count) in h.bounds.iter().zip(&h.counts) {
                    let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"{bound}\"}} {count}");
                }
                let _ = writeln!(out, "{name}_bucket{{{inner}{sep}le=\"+Inf\"}} {}", h.count);
                let _ = writeln!(out, "{name}_sum{l} {}", h.sum);
                let _ = writeln!(out, "{name}_count{l} {}", h.count);
            }
        }
        out
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
        m.observe(
            "offerflow_http_request_seconds",
            &[("route", "graphql")],
            0.003,
        );
        m.observe("offerflow_batch_events", &[], 120.0);
        let text = m.render();
        assert!(
            text.contains("offerflow_events_total{status=\"processed\"} 5\n"),
            "{text}"
        );
        assert!(text.contains(
            "offerflow_http_request_seconds_bucket{route=\"graphql\",le=\"0.0025\"} 0\n"
        ));
        assert!(
            text.contains(
                "offerflow_http_request_seconds_bucket{route=\"graphql\",le=\"0.005\"} 1\n"
            )
        );
        assert!(text.contains("offerflow_http_request_seconds_count{route=\"graphql\"} 1\n"));
        assert!(
            text.contains("offerflow_batch_events_bucket{le=\"250\"} 1\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE offerflow_refusals_total counter"));
        assert_eq!(
            m.get("offerflow_events_total", &[("status", "processed")]),
            5
        );
    }
}
