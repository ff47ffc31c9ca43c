//! Reward delivery's domain (DESIGN §9): webhook endpoints with their filters, the message a
//! reward becomes (its body the same on every attempt), and the log of attempts.

use crate::domain::LedgerEntry;
use campaigns::RewardKind;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::Serialize;

/// A webhook endpoint, without its secrets.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookEndpoint {
    /// Its id.
    pub id: i64,
    /// Where messages go: `http(s)://...`, or for the NATS reward stream `nats:` + subject.
    pub url: String,
    /// How messages reach it.
    pub transport: Transport,
    /// Free text.
    pub description: String,
    /// Campaign keys it receives (empty: all).
    pub campaigns: Vec<String>,
    /// Reward kinds it receives (empty: all).
    pub kinds: Vec<RewardKind>,
    /// Whether messages are sent to it.
    pub enabled: bool,
    /// Why it was disabled (by an operator, or by a `410 Gone`).
    pub disabled_reason: Option<String>,
    /// When it was created: it receives the rewards issued from then on.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl WebhookEndpoint {
    /// Whether a reward of `campaign` and `kind` is for this endpoint (its filters alone).
    pub fn matches(&self, campaign: &str, kind: RewardKind) -> bool {
        (self.campaigns.is_empty() || self.campaigns.iter().any(|c| c == campaign))
            && (self.kinds.is_empty() || self.kinds.contains(&kind))
    }
}

/// How an endpoint's messages travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Transport {
    /// A signed `POST` to the endpoint's URL (Standard Webhooks).
    #[default]
    Http,
    /// A publish to the NATS reward stream, acked by JetStream. There is one such endpoint,
    /// managed by the `nats_url` setting, not over the API.
    Nats,
}

impl Transport {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Transport::Http => "http",
            Transport::Nats => "nats",
        }
    }

    /// The transport named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "http" => Some(Transport::Http),
            "nats" => Some(Transport::Nats),
            _ => None,
        }
    }
}

/// What a new endpoint is made of.
#[derive(Debug, Clone, PartialEq)]
pub struct EndpointInput {
    /// Its URL, checked by the caller.
    pub url: String,
    /// Free text.
    pub description: String,
    /// Campaign keys (empty: all).
    pub campaigns: Vec<String>,
    /// Reward kinds (empty: all).
    pub kinds: Vec<RewardKind>,
}

/// A change to an endpoint: each field given replaces the stored one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EndpointPatch {
    /// A new URL, checked by the caller.
    pub url: Option<String>,
    /// New text.
    pub description: Option<String>,
    /// New campaign filter (empty: all).
    pub campaigns: Option<Vec<String>>,
    /// New kind filter (empty: all).
    pub kinds: Option<Vec<RewardKind>>,
}

/// Where a message stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Waiting for its next attempt.
    Pending,
    /// A 2xx answered it.
    Delivered,
    /// Every attempt of the schedule failed (until `redeliverWebhook` or a recovery).
    Failed,
}

impl DeliveryStatus {
    /// The name stored and shown.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The status named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One attempt at a message.
#[derive(Debug, Clone, PartialEq)]
pub struct DeliveryAttempt {
    /// When it started.
    pub at: DateTime<Utc>,
    /// The answer's HTTP status, if there was one.
    pub http_status: Option<u16>,
    /// Why there was no answer (timeout, connection error, refused address).
    pub error: Option<String>,
    /// How long it took, in milliseconds.
    pub duration_ms: u64,
}

/// One reward's message to one endpoint.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookMessage {
    /// Its id (what `redeliverWebhook` takes).
    pub id: i64,
    /// The endpoint.
    pub endpoint_id: i64,
    /// The `webhook-id` header, the same for every endpoint and every attempt.
    pub webhook_id: String,
    /// The body, the same on every attempt.
    pub body: String,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts since it was last queued.
    pub attempts: u32,
    /// When it is tried next, while pending.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the reward was issued.
    pub issued_at: DateTime<Utc>,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// When it was delivered.
    pub delivered_at: Option<DateTime<Utc>>,
}

/// A message a node has leased for one attempt, with what sending it needs.
#[derive(Debug, Clone, PartialEq)]
pub struct DueMessage {
    /// The message.
    pub message: WebhookMessage,
    /// The endpoint's URL (for [`Transport::Nats`], `nats:` + the subject).
    pub url: String,
    /// How the message travels.
    pub transport: Transport,
    /// The secrets that sign it: the current one, then the previous one during a rotation.
    pub secrets: Vec<String>,
}

/// What an attempt decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// A 2xx: done.
    Delivered,
    /// Try again at this time.
    Retry(DateTime<Utc>),
    /// The schedule is spent: failed.
    Failed,
}

/// The reward fields of a message's `data`, in the order of `rewards export`.
#[derive(Debug, Serialize)]
struct MessageData<'a> {
    id: i64,
    campaign: &'a str,
    campaign_version: i32,
    customer_id: &'a str,
    event_id: &'a str,
    cycle: u32,
    reward_index: u32,
    kind: RewardKind,
    amount: serde_json::Number,
    issued_at: String,
}

#[derive(Debug, Serialize)]
struct Message<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    timestamp: String,
    data: MessageData<'a>,
}

/// The webhook id of the reward with ledger id `ledger_id`: one per reward.
pub fn webhook_id(ledger_id: i64) -> String {
    format!("msg_{ledger_id}")
}

/// The body of the `reward.issued` message announcing `entry`, issued by version
/// `campaign_version` of its campaign (DESIGN §9).
pub fn reward_message(entry: &LedgerEntry, campaign_version: i32) -> String {
    let issued_at = entry.issued_at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let r = &entry.reward;
    let message = Message {
        kind: "reward.issued",
        timestamp: issued_at.clone(),
        data: MessageData {
            id: entry.id,
            campaign: &r.campaign,
            campaign_version,
            customer_id: &r.customer_id,
            event_id: &r.event_id,
            cycle: r.cycle,
            reward_index: r.reward_index,
            kind: r.kind,
            amount: r.amount.to_json(),
            issued_at,
        },
    };
    // A struct of strings and numbers always serializes.
    serde_json::to_string(&message).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::Reward;
    use campaigns::Amount;

    #[test]
    fn message_body_as_the_contract_says() {
        let entry = LedgerEntry {
            id: 42,
            reward: Reward {
                campaign: "three-orders".into(),
                customer_id: "c-7".into(),
                event_id: "e3".into(),
                cycle: 1,
                reward_index: 0,
                kind: RewardKind::Points,
                amount: Amount::new(500.0).unwrap(),
                code: None,
            },
            issued_at: "2026-12-01T10:00:00Z".parse().unwrap(),
        };
        assert_eq!(
            reward_message(&entry, 3),
            r#"{"type":"reward.issued","timestamp":"2026-12-01T10:00:00.000000Z","data":{"id":42,"campaign":"three-orders","campaign_version":3,"customer_id":"c-7","event_id":"e3","cycle":1,"reward_index":0,"kind":"points","amount":500,"issued_at":"2026-12-01T10:00:00.000000Z"}}"#
        );
    }

    #[test]
    fn empty_filters_match_everything() {
        let mut e = WebhookEndpoint {
            id: 1,
            url: "https://x".into(),
            transport: Transport::Http,
            description: String::new(),
            campaigns: vec![],
            kinds: vec![],
            enabled: true,
            disabled_reason: None,
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        assert!(e.matches("a", RewardKind::Coupon));
        e.campaigns = vec!["b".into()];
        assert!(!e.matches("a", RewardKind::Coupon));
        e.kinds = vec![RewardKind::Points];
        assert!(e.matches("b", RewardKind::Points));
        assert!(!e.matches("b", RewardKind::Coupon));
    }
}
