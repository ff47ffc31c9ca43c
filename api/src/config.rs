//! The server's configuration, from one loader: defaults, then an optional TOML file, then
//! `OFFERFLOW_*` environment variables, then command-line flags; then [`Config::validate`].
//!
//! Every setting has the same name in the file, in the environment (upper-cased, prefixed
//! with `OFFERFLOW_`) and, for the few that have one, as a flag (`--database-url`).
//!
//! Why not `figment`, made for layered configuration: it was weighed, and the layering it
//! would take over is some thirty lines here ([`Config::load`]: serde values merged key by
//! key). What it would not give is what users get from this loader: an environment variable
//! refused by its own name (the message starts with `OFFERFLOW_MAX_BATCH`; figment names the
//! key and "environment variable(s)" only), list-like values such as `webhook_retry_schedule`
//! read the same in the file and the environment (figment's environment provider parses
//! values as TOML-like data), and the warning that names the nearest setting for a mistyped
//! `OFFERFLOW_*` variable ([`Config::unknown_variables`]), which needs the list of known keys
//! either way. So the loader stays, with its tests.

use crate::error::ApiError;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::net::SocketAddr;
use std::path::Path;

/// Every setting of `offerflow serve`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port the HTTP server listens on.
    pub listen: SocketAddr,
    /// The database: `sqlite:offerflow.db?mode=rwc` (embedded), `postgres://user@host/db`.
    pub database_url: String,
    /// Most events committed in one transaction.
    pub max_batch: usize,
    /// Longest a batch waits for more events once it has one, in milliseconds.
    pub batch_wait_ms: u64,
    /// Events waiting for a batch at most; submitters wait for room past it.
    pub queue: usize,
    /// Largest HTTP request body, in bytes (larger ones get 413).
    pub max_body_bytes: usize,
    /// Most events in one `ingestEvents` call or `POST /v1/events` request.
    pub max_events_per_request: usize,
    /// Most JSON values (keys, strings, numbers, lists, objects) in one `POST /v1/events`
    /// body, counted before it is parsed: parsed JSON takes about a hundred bytes per value.
    pub max_json_values_per_request: usize,
    /// Most events in one `simulateCampaign` call.
    pub max_simulation_events: usize,
    /// Deepest GraphQL query accepted.
    pub graphql_max_depth: usize,
    /// Highest GraphQL query complexity accepted (each field counts 1, lists by their size).
    pub graphql_max_complexity: usize,
    /// Deepest nesting of selection sets (a field's selections, a fragment spread, an inline
    /// fragment each count one level).
    pub graphql_max_recursion: usize,
    /// Deepest nesting of brackets (`{`, `[`, `(`) in a GraphQL query text, and of lists and
    /// objects in a variable's value; checked before parsing.
    pub graphql_max_nesting: usize,
    /// Most tokens in a GraphQL query text (names, values, punctuation); checked before
    /// parsing, so a parsed document's size is bounded.
    pub graphql_max_tokens: usize,
    /// Most selections in a GraphQL document with every fragment spread expanded.
    pub graphql_max_selections: usize,
    /// Most JSON values (keys, strings, numbers, lists, objects) in a `POST /graphql` body;
    /// checked before it is parsed (parsed, each takes about 100 bytes).
    pub graphql_max_json_values: usize,
    /// Most directives in one GraphQL field.
    pub graphql_max_directives: usize,
    /// Most aliases in one GraphQL document.
    pub graphql_max_aliases: usize,
    /// Most operations in one batched GraphQL request.
    pub graphql_max_batch: usize,
    /// Whether the schema can be introspected (GraphiQL needs it).
    pub graphql_introspection: bool,
    /// Largest WebSocket message a client may send, in bytes (larger: the connection is
    /// closed with code 1009).
    pub websocket_max_message_bytes: usize,
    /// Most WebSocket connections open at once on this node.
    pub websocket_max_connections: usize,
    /// Most WebSocket connections one API key or customer open at once on this node.
    pub websocket_connections_per_credential: usize,
    /// Most operations (subscriptions) running at once on one WebSocket connection.
    pub subscriptions_per_connection: usize,
    /// Most subscriptions one API key or customer runs at once on this node, across
    /// connections.
    pub subscriptions_per_credential: usize,
    /// Most subscriptions running at once on this node.
    pub subscriptions_max: usize,
    /// Whether requests need credentials (an API key or a customer token). Off only for local
    /// experiments: every request is then allowed everything.
    pub auth: bool,
    /// Requests per second each API key, customer token or anonymous client may make on
    /// average (0: no limit).
    pub rate_limit_per_second: u64,
    /// Requests each of them may make in a burst.
    pub rate_limit_burst: u64,
    /// Log lines as `text` or `json`.
    pub log_format: LogFormat,
    /// Log filter, in `RUST_LOG` syntax (`info`, `offerflow=debug,sqlx=warn`).
    pub log_level: String,
    /// The NATS server events are consumed from (`nats://127.0.0.1:4222`); empty: none.
    pub nats_url: String,
    /// The JetStream stream of events, created if missing.
    pub nats_stream: String,
    /// The subjects that stream holds; an event may be published on any of them.
    pub nats_subject: String,
    /// The prefix of the durable consumers' names: partition `p` is `{nats_consumer}-{p}`.
    pub nats_consumer: String,
    /// How long JetStream waits for an ack before it redelivers a message, in milliseconds;
    /// also how long a node's hold on a partition lasts unrenewed.
    pub nats_ack_wait_ms: u64,
    /// Most events applied in one batch, per partition (a holder reads up to this times
    /// `nats_partitions` stream messages at once).
    pub nats_batch: usize,
    /// How many partitions the stream is divided into (by customer): the most nodes that
    /// consume it at once. Every node of a deployment must use the same number.
    pub nats_partitions: u32,
    /// The JetStream stream rewards are published to when `nats_url` is set, created if
    /// missing.
    pub nats_rewards_stream: String,
    /// The subject rewards are published on (one subject, no wildcards).
    pub nats_rewards_subject: String,
    /// Whether webhook endpoints may be private, loopback or link-local addresses.
    pub webhook_allow_private_targets: bool,
    /// Longest a webhook attempt may take, in milliseconds.
    pub webhook_timeout_ms: u64,
    /// Delays between webhook attempts, comma-separated (`5s,5m,30m`; units ms, s, m, h,
    /// d): the n-th delay follows the n-th failed attempt.
    pub webhook_retry_schedule: String,
    /// Most webhook attempts in flight at once per endpoint on this node.
    pub webhook_concurrency_per_endpoint: usize,
    /// How long dispatched outbox rows and delivered messages are kept (`7d`; `0s`: never
    /// pruned). Also how far back `recoverWebhookEndpoint` reaches.
    pub outbox_retention: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// For people.
    Text,
    /// One JSON object per line, for log pipelines.
    Json,
}

/// The embedded database a fresh install uses.
pub const DEFAULT_DATABASE_URL: &str = "sqlite:offerflow.db?mode=rwc";

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            database_url: DEFAULT_DATABASE_URL.to_owned(),
            max_batch: 500,
            batch_wait_ms: 5,
            queue: 10_000,
            max_body_bytes: 8 * 1024 * 1024,
            max_events_per_request: 10_000,
            max_json_values_per_request: 500_000,
            max_simulation_events: 10_000,
            graphql_max_depth: 16,
            graphql_max_complexity: 5_000,
            graphql_max_recursion: 32,
            graphql_max_nesting: 64,
            graphql_max_tokens: 20_000,
            graphql_max_selections: 10_000,
            graphql_max_json_values: 500_000,
            graphql_max_directives: 8,
            graphql_max_aliases: 30,
            graphql_max_batch: 10,
            graphql_introspection: true,
            websocket_max_message_bytes: 4 * 1024,
            websocket_max_connections: 10_000,
            websocket_connections_per_credential: 8,
            subscriptions_per_connection: 16,
            subscriptions_per_credential: 64,
            subscriptions_max: 5_000,
            auth: true,
            rate_limit_per_second: 100,
            rate_limit_burst: 200,
            log_format: LogFormat::Text,
            log_level: "info".to_owned(),
            nats_url: String::new(),
            nats_stream: "OFFERFLOW_EVENTS".to_owned(),
            nats_subject: "offerflow.events.>".to_owned(),
            nats_consumer: "offerflow".to_owned(),
            nats_ack_wait_ms: 30_000,
            nats_batch: 256,
            nats_partitions: 16,
            nats_rewards_stream: "OFFERFLOW_REWARDS".to_owned(),
            nats_rewards_subject: "offerflow.rewards".to_owned(),
            webhook_allow_private_targets: false,
            webhook_timeout_ms: 15_000,
            webhook_retry_schedule: delivery::schedule::DEFAULT_SCHEDULE.to_owned(),
            webhook_concurrency_per_endpoint: 8,
            outbox_retention: "7d".to_owned(),
        }
    }
}

/// Settings given on the command line; `None` leaves the value from the layers below.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--database-url`.
    pub database_url: Option<String>,
}

impl Config {
    /// Loads the configuration: defaults, then `file` (TOML) if given, then the `OFFERFLOW_*`
    /// variables in `env`, then `flags`; then validates it.
    pub fn load(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
        flags: &Flags,
    ) -> Result<Config, ApiError> {
        let Value::Object(mut settings) = to_value(&Config::default())? else {
            unreachable!("a config is an object")
        };
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| ApiError::Config(format!("cannot read {}: {e}", path.display())))?;
            let table: toml::Table = toml::from_str(&text)
                .map_err(|e| ApiError::Config(format!("{}: {e}", path.display())))?;
            for (key, value) in table {
                if !settings.contains_key(&key) {
                    return Err(ApiError::Config(format!(
                        "{}: unknown setting `{key}`",
                        path.display()
                    )));
                }
                let value =
                    serde_json::to_value(value).map_err(|e| ApiError::Config(e.to_string()))?;
                settings.insert(key, value);
            }
        }
        for (name, raw) in env {
            let Some(key) = name.strip_prefix("OFFERFLOW_") else {
                continue;
            };
            let key = key.to_ascii_lowercase();
            let Some(default) = settings.get(&key) else {
                continue; // other OFFERFLOW_ variables (OFFERFLOW_CONFIG, test settings)
            };
            let value = typed(default, &raw).ok_or_else(|| {
                ApiError::Config(format!("{name}: `{raw}` is not a valid value for {key}"))
            })?;
            settings.insert(key, value);
        }
        let mut set = |key: &str, v: &Option<String>| {
            if let Some(v) = v {
                settings.insert(key.to_owned(), Value::String(v.clone()));
            }
        };
        set("listen", &flags.listen);
        set("database_url", &flags.database_url);
        let config = from_map(settings)?;
        config.validate()?;
        Ok(config)
    }

    /// Warnings for `OFFERFLOW_*` variables in `env` that name no setting (a typo would
    /// otherwise be ignored without a word), each naming the nearest setting. Variables read
    /// elsewhere (`OFFERFLOW_CONFIG`, the test suite's, the README's `OFFERFLOW_KEY`) are known.
    pub fn unknown_variables(env: impl IntoIterator<Item = (String, String)>) -> Vec<String> {
        const OTHERS: [&str; 5] = ["CONFIG", "KEY", "BIN", "TEST_POSTGRES_URL", "TEST_NATS_URL"];
        let Ok(Value::Object(settings)) = to_value(&Config::default()) else {
            return Vec::new();
        };
        let mut warnings = Vec::new();
        for (name, _) in env {
            let Some(key) = name.strip_prefix("OFFERFLOW_") else {
                continue;
            };
            if OTHERS.contains(&key) || settings.contains_key(&key.to_ascii_lowercase()) {
                continue;
            }
            let nearest = settings
                .keys()
                .map(|s| (strsim::jaro_winkler(&key.to_ascii_lowercase(), s), s))
                .max_by(|a, b| a.0.total_cmp(&b.0))
                .filter(|(score, _)| *score > 0.8)
                .map(|(_, s)| format!("; did you mean OFFERFLOW_{}?", s.to_ascii_uppercase()))
                .unwrap_or_default();
            warnings.push(format!("{name} is not a setting and is ignored{nearest}"));
        }
        warnings.sort();
        warnings
    }

    /// Checks every setting's range.
    pub fn validate(&self) -> Result<(), ApiError> {
        let positive = [
            ("max_batch", self.max_batch),
            ("queue", self.queue),
            ("max_body_bytes", self.max_body_bytes),
            ("max_events_per_request", self.max_events_per_request),
            (
                "max_json_values_per_request",
                self.max_json_values_per_request,
            ),
            ("max_simulation_events", self.max_simulation_events),
            ("graphql_max_depth", self.graphql_max_depth),
            ("graphql_max_complexity", self.graphql_max_complexity),
            ("graphql_max_recursion", self.graphql_max_recursion),
            ("graphql_max_nesting", self.graphql_max_nesting),
            ("graphql_max_tokens", self.graphql_max_tokens),
            ("graphql_max_selections", self.graphql_max_selections),
            ("graphql_max_json_values", self.graphql_max_json_values),
            ("graphql_max_directives", self.graphql_max_directives),
            ("graphql_max_aliases", self.graphql_max_aliases),
            ("graphql_max_batch", self.graphql_max_batch),
            (
                "websocket_max_message_bytes",
                self.websocket_max_message_bytes,
            ),
            ("websocket_max_connections", self.websocket_max_connections),
            (
                "websocket_connections_per_credential",
                self.websocket_connections_per_credential,
            ),
            (
                "subscriptions_per_connection",
                self.subscriptions_per_connection,
            ),
            (
                "subscriptions_per_credential",
                self.subscriptions_per_credential,
            ),
            ("subscriptions_max", self.subscriptions_max),
            (
                "webhook_concurrency_per_endpoint",
                self.webhook_concurrency_per_endpoint,
            ),
        ];
        for (name, value) in positive {
            if value == 0 {
                return Err(ApiError::Config(format!("{name} must be at least 1")));
            }
        }
        if self.max_batch > 10_000 {
            return Err(ApiError::Config("max_batch must be at most 10000".into()));
        }
        // Each level is a frame in the parser and validation; serde_json refuses JSON deeper
        // than 128 levels, a request's own wrapping included.
        for (name, value, most) in [
            ("graphql_max_recursion", self.graphql_max_recursion, 128),
            ("graphql_max_nesting", self.graphql_max_nesting, 100),
        ] {
            if value > most {
                return Err(ApiError::Config(format!("{name} must be at most {most}")));
            }
        }
        if self.batch_wait_ms > 10_000 {
            return Err(ApiError::Config(
                "batch_wait_ms must be at most 10000".into(),
            ));
        }
        if self.rate_limit_per_second > 0 && self.rate_limit_burst == 0 {
            return Err(ApiError::Config(
                "rate_limit_burst must be at least 1 when rate_limit_per_second is set".into(),
            ));
        }
        if !(1_000..=3_600_000).contains(&self.nats_ack_wait_ms) {
            return Err(ApiError::Config(
                "nats_ack_wait_ms must be between 1000 and 3600000".into(),
            ));
        }
        if self.nats_batch == 0 || self.nats_batch > self.max_events_per_request {
            return Err(ApiError::Config(
                "nats_batch must be between 1 and max_events_per_request".into(),
            ));
        }
        if !(1..=1024).contains(&self.nats_partitions) {
            return Err(ApiError::Config(
                "nats_partitions must be between 1 and 1024".into(),
            ));
        }
        for (name, value) in [
            ("nats_stream", &self.nats_stream),
            ("nats_subject", &self.nats_subject),
            ("nats_consumer", &self.nats_consumer),
            ("nats_rewards_stream", &self.nats_rewards_stream),
            ("nats_rewards_subject", &self.nats_rewards_subject),
        ] {
            if value.trim().is_empty() || value.contains(char::is_whitespace) {
                return Err(ApiError::Config(format!(
                    "{name} must be a name without spaces"
                )));
            }
        }
        if self.nats_rewards_subject.contains(['*', '>']) {
            return Err(ApiError::Config(
                "nats_rewards_subject must be one subject, without wildcards".into(),
            ));
        }
        if self.nats_rewards_stream == self.nats_stream {
            return Err(ApiError::Config(
                "nats_rewards_stream must differ from nats_stream".into(),
            ));
        }
        if subject_matches(&self.nats_subject, &self.nats_rewards_subject) {
            return Err(ApiError::Config(format!(
                "nats_rewards_subject {} is among the event subjects nats_subject {} (JetStream keeps a subject in one stream): choose subjects apart",
                self.nats_rewards_subject, self.nats_subject
            )));
        }
        if self.database_url.trim().is_empty() {
            return Err(ApiError::Config("database_url must not be empty".into()));
        }
        if !(1..=300_000).contains(&self.webhook_timeout_ms) {
            return Err(ApiError::Config(
                "webhook_timeout_ms must be between 1 and 300000".into(),
            ));
        }
        self.retry_schedule()?;
        self.retention()?;
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| ApiError::Config(format!("log_level: {e}")))?;
        Ok(())
    }
}

impl Config {
    /// `webhook_retry_schedule`, read.
    pub fn retry_schedule(&self) -> Result<Vec<std::time::Duration>, ApiError> {
        delivery::schedule::parse_schedule(&self.webhook_retry_schedule)
            .map_err(|e| ApiError::Config(format!("webhook_retry_schedule: {e}")))
    }

    /// `outbox_retention`, read (`None`: kept for ever).
    pub fn retention(&self) -> Result<Option<std::time::Duration>, ApiError> {
        let d = delivery::schedule::parse_duration(&self.outbox_retention)
            .map_err(|e| ApiError::Config(format!("outbox_retention: {e}")))?;
        Ok((!d.is_zero()).then_some(d))
    }

    /// The relay's settings.
    pub fn relay(&self) -> Result<delivery::RelayConfig, ApiError> {
        Ok(delivery::RelayConfig {
            timeout: std::time::Duration::from_millis(self.webhook_timeout_ms),
            schedule: self.retry_schedule()?,
            allow_private: self.webhook_allow_private_targets,
            per_endpoint: self.webhook_concurrency_per_endpoint,
            retention: self.retention()?,
            ..delivery::RelayConfig::default()
        })
    }
}

/// Whether the NATS subject `pattern` (tokens split by `.`, `*` one token, `>` the rest)
/// covers `subject`.
fn subject_matches(pattern: &str, subject: &str) -> bool {
    let mut tokens = subject.split('.');
    for p in pattern.split('.') {
        match (p, tokens.next()) {
            (">", Some(_)) => return true,
            ("*", Some(_)) => {}
            (p, Some(t)) if p == t => {}
            _ => return false,
        }
    }
    tokens.next().is_none()
}

fn to_value(config: &Config) -> Result<Value, ApiError> {
    serde_json::to_value(config).map_err(|e| ApiError::Config(e.to_string()))
}

fn from_map(settings: Map<String, Value>) -> Result<Config, ApiError> {
    serde_json::from_value(Value::Object(settings)).map_err(|e| ApiError::Config(e.to_string()))
}

/// `raw` read as the same JSON type as the setting's default.
fn typed(default: &Value, raw: &str) -> Option<Value> {
    match default {
        Value::Number(_) => raw.trim().parse::<u64>().ok().map(Value::from),
        Value::Bool(_) => raw.trim().parse::<bool>().ok().map(Value::Bool),
        _ => Some(Value::String(raw.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn unknown_variables_are_named_with_the_nearest_setting() {
        let warnings = Config::unknown_variables(env(&[
            ("OFFERFLOW_MAX_BATCHES", "10"),
            ("OFFERFLOW_MAX_BATCH", "10"),
            ("OFFERFLOW_CONFIG", "x.toml"),
            ("OFFERFLOW_KEY", "of_x"),
            ("OFFERFLOW_ZZZ", "1"),
            ("PATH", "/bin"),
        ]));
        assert_eq!(
            warnings,
            [
                "OFFERFLOW_MAX_BATCHES is not a setting and is ignored; did you mean OFFERFLOW_MAX_BATCH?",
                "OFFERFLOW_ZZZ is not a setting and is ignored",
            ]
        );
    }

    #[test]
    fn defaults_file_env_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("offerflow.toml");
        std::fs::write(
            &file,
            "max_batch = 100\nlisten = \"0.0.0.0:9000\"\nlog_format = \"json\"\n",
        )
        .unwrap();
        let config = Config::load(
            Some(&file),
            env(&[
                ("OFFERFLOW_MAX_BATCH", "200"),
                ("OFFERFLOW_DATABASE_URL", "sqlite::memory:"),
                ("OFFERFLOW_CONFIG", "ignored"),
                ("HOME", "/root"),
            ]),
            &Flags {
                listen: Some("127.0.0.1:0".into()),
                database_url: None,
            },
        )
        .unwrap();
        assert_eq!(config.max_batch, 200, "env beats the file");
        assert_eq!(
            config.listen.to_string(),
            "127.0.0.1:0",
            "flags beat the file"
        );
        assert_eq!(config.database_url, "sqlite::memory:");
        assert_eq!(
            config.log_format,
            LogFormat::Json,
            "the file beats defaults"
        );
        assert_eq!(config.queue, Config::default().queue);
    }

    #[test]
    fn names_the_bad_setting() {
        let bad = Config::load(
            None,
            env(&[("OFFERFLOW_MAX_BATCH", "many")]),
            &Flags::default(),
        );
        assert!(bad.unwrap_err().to_string().contains("OFFERFLOW_MAX_BATCH"));
        let zero = Config::load(None, env(&[("OFFERFLOW_QUEUE", "0")]), &Flags::default());
        assert!(
            zero.unwrap_err()
                .to_string()
                .contains("queue must be at least 1")
        );
        let listen = Config::load(
            None,
            Vec::new(),
            &Flags {
                listen: Some("nowhere".into()),
                database_url: None,
            },
        );
        assert!(listen.unwrap_err().to_string().contains("socket address"));
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(&file, "max_batchs = 3\n").unwrap();
        let unknown = Config::load(Some(&file), Vec::new(), &Flags::default());
        assert!(
            unknown
                .unwrap_err()
                .to_string()
                .contains("unknown setting `max_batchs`")
        );
        assert_eq!(
            Config::load(None, Vec::new(), &Flags::default()).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn the_reward_subject_stays_out_of_the_event_streams() {
        assert!(subject_matches("offerflow.events.>", "offerflow.events.a"));
        assert!(subject_matches("offerflow.*", "offerflow.rewards"));
        assert!(subject_matches("offerflow.rewards", "offerflow.rewards"));
        assert!(!subject_matches("offerflow.events.>", "offerflow.rewards"));
        assert!(!subject_matches("offerflow.*", "offerflow.rewards.x"));
        assert!(!subject_matches("offerflow.events.>", "offerflow.events"));
        let load = |pairs: &[(&str, &str)]| Config::load(None, env(pairs), &Flags::default());
        let overlap = load(&[("OFFERFLOW_NATS_SUBJECT", "offerflow.>")]).unwrap_err();
        assert!(
            overlap.to_string().contains("nats_rewards_subject"),
            "{overlap}"
        );
        let wildcard = load(&[("OFFERFLOW_NATS_REWARDS_SUBJECT", "rewards.*")]).unwrap_err();
        assert!(
            wildcard.to_string().contains("without wildcards"),
            "{wildcard}"
        );
        let same = load(&[("OFFERFLOW_NATS_REWARDS_STREAM", "OFFERFLOW_EVENTS")]).unwrap_err();
        assert!(same.to_string().contains("must differ"), "{same}");
    }
}
