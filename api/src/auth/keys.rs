//! API keys: created (shown once), listed, revoked, and verified with a short cache.

use super::{Principal, Scope, constant_time_eq, random};
use crate::error::{ApiError, Result};
use chrono::{DateTime, Utc};
use engine::StoredKey;
use moka::future::Cache;
use sha2::{Digest, Sha256};
use std::sync::Arc;
use std::time::Duration;
use store::Store;
use tokio::sync::broadcast;

/// How long a verified key is trusted before it is checked against the database again.
pub const KEY_CACHE_SECONDS: u64 = 10;

/// A stored key, without its secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// Public id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Scopes.
    pub scopes: Vec<Scope>,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was revoked, if it was.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A key just created: the only time its secret is known.
#[derive(Debug, Clone)]
pub struct NewKey {
    /// The stored part.
    pub key: ApiKey,
    /// The whole key, to send as `Authorization: Bearer <secret>`.
    pub secret: String,
}

/// How often a credential held open (a WebSocket connection) is checked again. With
/// [`KEY_CACHE_SECONDS`], a key revoked on another node is refused on this one's open
/// connections within `KEY_RECHECK_SECONDS + KEY_CACHE_SECONDS`; revoked on this node, at once.
pub const KEY_RECHECK_SECONDS: u64 = 5;

/// The key store, with its verification cache.
#[derive(Debug, Clone)]
pub struct Keys {
    store: Store,
    /// SHA-256 of a presented key → the principal it proved (or `None`: refused).
    verified: Cache<String, Option<Principal>>,
    /// The id of every key revoked on this node, for credentials held open to check again.
    revocations: Arc<broadcast::Sender<String>>,
}

fn digest(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// A stored key's scopes; a name this server does not know is left out.
fn scopes_of(key: &StoredKey) -> Vec<Scope> {
    Scope::parse_list(&key.scopes.join(",")).unwrap_or_default()
}

fn to_key(stored: StoredKey) -> ApiKey {
    ApiKey {
        scopes: scopes_of(&stored),
        id: stored.id,
        name: stored.name,
        created_at: stored.created_at,
        revoked_at: stored.revoked_at,
    }
}

impl Keys {
    /// Keys kept in `store`'s database.
    pub fn new(store: Store) -> Keys {
        Keys {
            store,
            verified: Cache::builder()
                .max_capacity(10_000)
                .time_to_live(Duration::from_secs(KEY_CACHE_SECONDS))
                .build(),
            revocations: Arc::new(broadcast::Sender::new(64)),
        }
    }

    /// Creates a key named `name` with `scopes`; its secret is in the answer only.
    pub async fn create(&self, name: &str, scopes: &[Scope]) -> Result<NewKey> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > 128 {
            return Err(ApiError::bad("name", "must be 1 to 128 characters"));
        }
        if scopes.is_empty() {
            return Err(ApiError::bad("scopes", "at least one scope is needed"));
        }
        let id = hex::encode(random::<6>());
        let secret = format!("of_{id}_{}", hex::encode(random::<32>()));
        let mut scopes = scopes.to_vec();
        scopes.sort();
        scopes.dedup();
        let now = Utc::now();
        self.store
            .insert_key(&StoredKey {
                id: id.clone(),
                name: name.to_owned(),
                scopes: scopes.iter().map(|s| s.as_str().to_owned()).collect(),
                hash: digest(&secret),
                created_at: now,
                revoked_at: None,
            })
            .await?;
        Ok(NewKey {
            key: ApiKey {
                id,
                name: name.to_owned(),
                scopes,
                created_at: now,
                revoked_at: None,
            },
            secret,
        })
    }

    /// Every key, oldest first, revoked ones included.
    pub async fn list(&self) -> Result<Vec<ApiKey>> {
        Ok(self.store.keys().await?.into_iter().map(to_key).collect())
    }

    /// Revokes key `id`: it is refused from now on (on other nodes within
    /// [`KEY_CACHE_SECONDS`]).
    pub async fn revoke(&self, id: &str) -> Result<ApiKey> {
        let key = self
            .store
            .revoke_key(id, Utc::now())
            .await?
            .map(to_key)
            .ok_or_else(|| ApiError::NotFound(format!("no API key with id `{id}`")))?;
        self.verified.invalidate_all();
        // Nobody listening is fine.
        let _ = self.revocations.send(key.id.clone());
        Ok(key)
    }

    /// The ids of the keys revoked on this node from now on.
    pub fn revocations(&self) -> broadcast::Receiver<String> {
        self.revocations.subscribe()
    }

    /// Whether an admin key that is not revoked exists.
    pub async fn has_admin(&self) -> Result<bool> {
        Ok(self
            .store
            .keys()
            .await?
            .iter()
            .any(|k| k.revoked_at.is_none() && scopes_of(k).contains(&Scope::Admin)))
    }

    /// The principal a presented key proves, or `UNAUTHORIZED`.
    pub async fn verify(&self, presented: &str) -> Result<Principal> {
        let hash = digest(presented);
        let principal = match self.verified.get(&hash).await {
            Some(cached) => cached,
            None => {
                let found = self.lookup(presented, &hash).await?;
                self.verified.insert(hash, found.clone()).await;
                found
            }
        };
        principal.ok_or_else(|| ApiError::Unauthorized("invalid or revoked API key".into()))
    }

    async fn lookup(&self, presented: &str, hash: &str) -> Result<Option<Principal>> {
        let Some(id) = presented
            .strip_prefix("of_")
            .and_then(|rest| rest.split_once('_'))
            .map(|(id, _)| id)
        else {
            return Ok(None);
        };
        Ok(self
            .store
            .key(id)
            .await?
            .filter(|k| {
                k.revoked_at.is_none() && constant_time_eq(k.hash.as_bytes(), hash.as_bytes())
            })
            .map(|r| {
                let key = to_key(r);
                Principal::Key {
                    id: key.id,
                    name: key.name,
                    scopes: key.scopes,
                }
            }))
    }
}
