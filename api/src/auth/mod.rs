//! Who may do what: API keys with scopes, customer tokens, and the access each operation
//! needs.
//!
//! Guarantees, and how:
//! - **Secrets are never stored.** A key is `of_<id>_<secret>`; the database keeps its id, name,
//!   scopes and the SHA-256 of the whole key. A key is shown once, when it is created.
//! - **Every operation checks its access.** Resolvers and HTTP handlers call
//!   [`Principal::may`] with the [`Access`] they need, from one table ([`Access::allowed`]), so
//!   the rule for an operation lives in one place.
//! - **Revocation holds.** Verified keys are cached for [`KEY_CACHE_SECONDS`]; revoking a key
//!   clears this node's cache at once, and other nodes stop accepting it within that time.
//!   Credentials held open (WebSocket connections) are a [`Lease`], checked again on every
//!   update, at a token's expiry, at once on a revocation by this node and every
//!   [`KEY_RECHECK_SECONDS`] otherwise.
//! - **Every field checks, wherever it was reached.** A field that reads data beyond what its
//!   parent resolver was allowed to read (a customer's profile, offers and rewards; a
//!   campaign's versions and audit trail) checks the access for it itself, so that a
//!   mutation's answer (`upsertCustomer { offers }`) opens nothing its caller may not read.
//! - **A customer token opens one customer.** It is signed (HMAC-SHA256) with a secret every
//!   node reads from the database, names one customer id and an expiry, and grants only
//!   [`Access::Customer`] for that id.

mod keys;
mod lease;
mod token;

pub use keys::{ApiKey, KEY_CACHE_SECONDS, KEY_RECHECK_SECONDS, Keys, NewKey};
pub use lease::Lease;
pub use token::{CustomerToken, MAX_TOKEN_SECONDS, Tokens};

use crate::error::ApiError;
use serde::Serialize;

/// What a key may do.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, async_graphql::Enum,
)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Everything, keys included.
    Admin,
    /// Campaign authoring: drafts, validation, simulation, publication, lifecycle, audit.
    Author,
    /// Sending events and customer profiles.
    Ingest,
    /// Reading campaigns, customers' offers and rewards, event outcomes; minting customer
    /// tokens; metrics.
    Read,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 4] = [Scope::Admin, Scope::Author, Scope::Ingest, Scope::Read];

    /// The scope as written in keys and commands.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Admin => "admin",
            Scope::Author => "author",
            Scope::Ingest => "ingest",
            Scope::Read => "read",
        }
    }

    /// Reads `admin,read` (commas or spaces), naming an unknown scope.
    pub fn parse_list(text: &str) -> Result<Vec<Scope>, String> {
        let mut scopes = Vec::new();
        for word in text.split([',', ' ']).filter(|w| !w.is_empty()) {
            let scope = Scope::ALL
                .into_iter()
                .find(|s| s.as_str() == word)
                .ok_or_else(|| {
                    format!("unknown scope `{word}`; scopes are admin, author, ingest and read")
                })?;
            if !scopes.contains(&scope) {
                scopes.push(scope);
            }
        }
        if scopes.is_empty() {
            return Err("at least one scope is needed: admin, author, ingest or read".into());
        }
        scopes.sort();
        Ok(scopes)
    }
}

/// What an operation needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access<'a> {
    /// Reading campaigns (list, details, versions).
    Campaigns,
    /// Authoring: create, update, validate, simulate, publish, lifecycle, audit.
    Author,
    /// Sending events and profiles.
    Ingest,
    /// Reading this customer's profile, offers, rewards and updates.
    Customer(&'a str),
    /// Reading event outcomes, minting customer tokens, metrics.
    Read,
    /// Managing API keys.
    Admin,
}

impl Access<'_> {
    /// The scopes that grant this access (`admin` grants everything).
    pub fn allowed(self) -> &'static [Scope] {
        match self {
            Access::Campaigns => &[Scope::Admin, Scope::Author, Scope::Read],
            Access::Author => &[Scope::Admin, Scope::Author],
            Access::Ingest => &[Scope::Admin, Scope::Ingest],
            Access::Customer(_) | Access::Read => &[Scope::Admin, Scope::Read],
            Access::Admin => &[Scope::Admin],
        }
    }
}

/// Who is asking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    /// Authentication is switched off (`auth = false`): everything is allowed.
    Open,
    /// Nobody: no credentials were given.
    Anonymous,
    /// An API key.
    Key {
        /// Its id.
        id: String,
        /// Its name, as the audit log records it.
        name: String,
        /// Its scopes.
        scopes: Vec<Scope>,
    },
    /// A customer token: one customer's own data.
    Customer {
        /// The customer.
        id: String,
    },
}

impl Principal {
    /// Allowed, or the error that says why not.
    pub fn may(&self, access: Access<'_>) -> Result<(), ApiError> {
        let allowed = access.allowed();
        let needs = allowed
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" or ");
        match self {
            Principal::Open => Ok(()),
            Principal::Key { scopes, .. } if scopes.iter().any(|s| allowed.contains(s)) => Ok(()),
            Principal::Key { name, scopes, .. } => Err(ApiError::Forbidden(format!(
                "the API key `{name}` has scopes {}; this operation needs {needs}",
                scopes
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            Principal::Customer { id } => match access {
                Access::Customer(wanted) if wanted == id => Ok(()),
                Access::Customer(_) => Err(ApiError::Forbidden(
                    "a customer token reads only its own customer".into(),
                )),
                _ => Err(ApiError::Forbidden(format!(
                    "a customer token cannot do this; it needs an API key with scope {needs}"
                ))),
            },
            Principal::Anonymous => Err(ApiError::Unauthorized(format!(
                "this operation needs an API key with scope {needs} (Authorization: Bearer <key>)"
            ))),
        }
    }

    /// The name the audit log records.
    pub fn actor(&self) -> String {
        match self {
            Principal::Open => "anonymous (auth off)".into(),
            Principal::Anonymous => "anonymous".into(),
            Principal::Key { name, .. } => name.clone(),
            Principal::Customer { id } => format!("customer:{id}"),
        }
    }

    /// Whom the rate limit counts this request against: the key, the customer, else the
    /// client's address.
    pub fn bucket(&self, address: std::net::IpAddr) -> String {
        match self {
            Principal::Key { id, .. } => format!("key:{id}"),
            Principal::Customer { id } => format!("customer:{id}"),
            Principal::Open | Principal::Anonymous => format!("ip:{address}"),
        }
    }
}

/// Equal byte strings, compared in time that does not depend on where they differ.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    a.ct_eq(b).into()
}

/// Random bytes from the operating system's generator.
pub(crate) fn random<const N: usize>() -> [u8; N] {
    use rand::RngCore;
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_parse_and_name_what_is_wrong() {
        assert_eq!(
            Scope::parse_list("read, admin,read").unwrap(),
            vec![Scope::Admin, Scope::Read]
        );
        assert!(
            Scope::parse_list("reader")
                .unwrap_err()
                .contains("`reader`")
        );
        assert!(Scope::parse_list(" ").is_err());
    }

    #[test]
    fn principals_get_what_their_scopes_grant() {
        let key = |scopes: &[Scope]| Principal::Key {
            id: "k".into(),
            name: "svc".into(),
            scopes: scopes.to_vec(),
        };
        assert!(key(&[Scope::Admin]).may(Access::Admin).is_ok());
        assert!(key(&[Scope::Read]).may(Access::Customer("c1")).is_ok());
        let refused = key(&[Scope::Ingest]).may(Access::Author).unwrap_err();
        assert_eq!(refused.code(), "FORBIDDEN");
        assert!(
            refused.to_string().contains("needs admin or author"),
            "{refused}"
        );
        let me = Principal::Customer { id: "c1".into() };
        assert!(me.may(Access::Customer("c1")).is_ok());
        assert!(me.may(Access::Customer("c2")).is_err());
        assert!(me.may(Access::Campaigns).is_err());
        assert_eq!(
            Principal::Anonymous.may(Access::Read).unwrap_err().code(),
            "UNAUTHORIZED"
        );
        assert!(Principal::Open.may(Access::Admin).is_ok());
        assert!(
            constant_time_eq(b"abc", b"abc")
                && !constant_time_eq(b"abc", b"abd")
                && !constant_time_eq(b"ab", b"abc")
        );
    }
}
