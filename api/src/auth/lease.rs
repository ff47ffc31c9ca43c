//! Credentials held open: a WebSocket connection proves who it is once, then lives for hours.
//! A [`Lease`] keeps what is needed to check that proof again: a customer token's expiry, an
//! API key's secret (checked against the cache of verified keys, so against the database at
//! most every [`KEY_CACHE_SECONDS`](super::KEY_CACHE_SECONDS)).
//!
//! [`Lease::check`] answers now; [`Lease::lapsed`] resolves when the credential stops being
//! good: at a token's expiry (a timer), when this node revokes the key (at once), or when a
//! periodic check every [`KEY_RECHECK_SECONDS`] finds it revoked elsewhere.

use super::{KEY_RECHECK_SECONDS, Keys, Principal};
use crate::error::{ApiError, Result};
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// A credential held for the life of a connection.
#[derive(Clone)]
pub struct Lease {
    principal: Principal,
    hold: Hold,
}

#[derive(Clone)]
enum Hold {
    /// Authentication is off: nothing to lapse.
    Always,
    /// A customer token, good until its expiry.
    Token { expires_at: DateTime<Utc> },
    /// An API key, good until it is revoked.
    Key { keys: Box<Keys>, secret: String },
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("principal", &self.principal)
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// Authentication is off: a lease that never lapses.
    pub fn open(principal: Principal) -> Lease {
        Lease {
            principal,
            hold: Hold::Always,
        }
    }

    /// A customer token good until `expires_at`.
    pub fn token(principal: Principal, expires_at: DateTime<Utc>) -> Lease {
        Lease {
            principal,
            hold: Hold::Token { expires_at },
        }
    }

    /// An API key, `secret` as presented, that proved `principal`.
    pub fn key(principal: Principal, keys: Keys, secret: String) -> Lease {
        Lease {
            principal,
            hold: Hold::Key {
                keys: Box::new(keys),
                secret,
            },
        }
    }

    /// Who the credential proved.
    pub fn principal(&self) -> &Principal {
        &self.principal
    }

    /// Still good, or the `UNAUTHORIZED` error that says why not. A key whose check fails for
    /// another reason (the database is down) is kept: only a refusal ends a lease.
    pub async fn check(&self) -> Result<()> {
        match &self.hold {
            Hold::Always => Ok(()),
            Hold::Token { expires_at } => {
                if Utc::now() >= *expires_at {
                    Err(ApiError::Unauthorized(format!(
                        "the customer token expired at {}; connect again with a new one",
                        expires_at.to_rfc3339()
                    )))
                } else {
                    Ok(())
                }
            }
            Hold::Key { keys, secret } => match keys.verify(secret).await {
                Ok(_) => Ok(()),
                Err(ApiError::Unauthorized(_)) => Err(ApiError::Unauthorized(format!(
                    "the API key `{}` was revoked",
                    match &self.principal {
                        Principal::Key { name, .. } => name.as_str(),
                        _ => "?",
                    }
                ))),
                Err(e) => {
                    tracing::warn!(error = %e, "checking a held API key failed; kept for now");
                    Ok(())
                }
            },
        }
    }

    /// Resolves, with the reason, once the credential is no longer good: at a token's expiry;
    /// for a key, at once when this node revokes it and otherwise within
    /// `KEY_RECHECK_SECONDS + KEY_CACHE_SECONDS` of its revocation. Never, with auth off.
    pub async fn lapsed(&self) -> ApiError {
        match &self.hold {
            Hold::Always => std::future::pending().await,
            Hold::Token { expires_at } => loop {
                let left = (*expires_at - Utc::now()).to_std().unwrap_or_default();
                tokio::time::sleep(left).await;
                if let Err(e) = self.check().await {
                    return e;
                }
                // Woken early (clock adjustments): wait for the rest.
                tokio::time::sleep(Duration::from_millis(10)).await;
            },
            Hold::Key { keys, .. } => {
                let mine = match &self.principal {
                    Principal::Key { id, .. } => id.as_str(),
                    _ => "",
                };
                let mut revocations = keys.revocations();
                let mut every = tokio::time::interval(Duration::from_secs(KEY_RECHECK_SECONDS));
                every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                every.tick().await;
                loop {
                    // Only this key's revocation (or missed notices) is checked at once, so
                    // that revoking one key does not send every connection to the database.
                    let due = tokio::select! {
                        revoked = revocations.recv() => match revoked {
                            Ok(id) => id == mine,
                            Err(RecvError::Lagged(_)) => true,
                            Err(RecvError::Closed) => {
                                every.tick().await;
                                true
                            }
                        },
                        _ = every.tick() => true,
                    };
                    if due && let Err(e) = self.check().await {
                        return e;
                    }
                }
            }
        }
    }
}
