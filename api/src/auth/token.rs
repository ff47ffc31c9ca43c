//! Customer tokens: `ct1.<customer id, hex>.<expiry, Unix seconds>.<HMAC-SHA256, hex>`, signed
//! with a secret kept in the database so that every node checks every node's tokens.

use super::{Principal, hex, random, same};
use crate::error::{ApiError, Result};
use chrono::{DateTime, Utc};
use entities::setting;
use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, EntityTrait};
use sha2::{Digest, Sha256};
use store::Store;

/// The longest a customer token may live, in seconds (one day).
pub const MAX_TOKEN_SECONDS: i64 = 86_400;
const SECRET_SETTING: &str = "customer_token_secret";

/// A minted token.
#[derive(Debug, Clone)]
pub struct CustomerToken {
    /// The token, to send as `Authorization: Bearer <token>`.
    pub token: String,
    /// The customer it opens.
    pub customer_id: String,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// Mints and checks customer tokens.
#[derive(Clone)]
pub struct Tokens {
    secret: Vec<u8>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens { .. }")
    }
}

/// HMAC-SHA256 (RFC 2104).
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut block = [0u8; 64];
    if key.len() > block.len() {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let mut inner = Sha256::new();
    inner.update(block.map(|b| b ^ 0x36));
    inner.update(message);
    let mut outer = Sha256::new();
    outer.update(block.map(|b| b ^ 0x5c));
    outer.update(inner.finalize());
    outer.finalize().into()
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

impl Tokens {
    /// The signer, with the database's secret (created by the first node that needs it).
    pub async fn load(store: &Store) -> Result<Tokens> {
        let db = store.connection();
        setting::Entity::insert(setting::ActiveModel {
            key: Set(SECRET_SETTING.to_owned()),
            value: Set(hex(&random::<32>())),
        })
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(db)
        .await
        .map_err(store::Error::from)?;
        let row = setting::Entity::find_by_id(SECRET_SETTING.to_owned())
            .one(db)
            .await
            .map_err(store::Error::from)?
            .ok_or_else(|| ApiError::Internal("the token secret vanished".into()))?;
        Ok(Tokens::with_secret(row.value.into_bytes()))
    }

    /// A signer with a given secret (tests).
    pub fn with_secret(secret: Vec<u8>) -> Tokens {
        Tokens { secret }
    }

    /// A token for `customer_id`, valid for `seconds` from `now`.
    pub fn mint(
        &self,
        customer_id: &str,
        seconds: i64,
        now: DateTime<Utc>,
    ) -> Result<CustomerToken> {
        campaigns::check_id("customerId", customer_id)
            .map_err(|e| ApiError::bad(e.field, e.reason))?;
        if !(1..=MAX_TOKEN_SECONDS).contains(&seconds) {
            return Err(ApiError::bad(
                "ttlSeconds",
                format!("must be between 1 and {MAX_TOKEN_SECONDS}, not {seconds}"),
            ));
        }
        let expires_at = now + chrono::Duration::seconds(seconds);
        let body = format!(
            "ct1.{}.{}",
            hex(customer_id.as_bytes()),
            expires_at.timestamp()
        );
        let mac = hex(&hmac(&self.secret, body.as_bytes()));
        Ok(CustomerToken {
            token: format!("{body}.{mac}"),
            customer_id: customer_id.to_owned(),
            expires_at,
        })
    }

    /// The customer a token opens at `now`, or `UNAUTHORIZED`.
    pub fn verify(&self, token: &str, now: DateTime<Utc>) -> Result<Principal> {
        self.check(token, now).map(|(principal, _)| principal)
    }

    /// The customer a token opens at `now` and when it stops opening it, or `UNAUTHORIZED`.
    pub fn check(&self, token: &str, now: DateTime<Utc>) -> Result<(Principal, DateTime<Utc>)> {
        let refused = || ApiError::Unauthorized("invalid or expired customer token".into());
        let (body, mac) = token.rsplit_once('.').ok_or_else(refused)?;
        let expected = hex(&hmac(&self.secret, body.as_bytes()));
        if !same(mac.as_bytes(), expected.as_bytes()) {
            return Err(refused());
        }
        let mut parts = body.split('.');
        let (Some("ct1"), Some(id), Some(expiry), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(refused());
        };
        let expiry: i64 = expiry.parse().map_err(|_| refused())?;
        if now.timestamp() >= expiry {
            return Err(refused());
        }
        let id = unhex(id)
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(refused)?;
        let expires_at = DateTime::from_timestamp(expiry, 0).ok_or_else(refused)?;
        Ok((Principal::Customer { id }, expires_at))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_matches_rfc_4231() {
        let mac = hmac(b"Jefe", b"what do ya want for nothing?");
        assert_eq!(
            hex(&mac),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn tokens_open_one_customer_until_they_expire() {
        let tokens = Tokens::with_secret(b"secret".to_vec());
        let now: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let t = tokens.mint("c-7", 60, now).unwrap();
        assert_eq!(
            tokens.verify(&t.token, now).unwrap(),
            Principal::Customer { id: "c-7".into() }
        );
        assert_eq!(tokens.check(&t.token, now).unwrap().1, t.expires_at);
        let later = now + chrono::Duration::seconds(60);
        assert!(tokens.verify(&t.token, later).is_err(), "expired");
        let other = Tokens::with_secret(b"other".to_vec());
        assert!(other.verify(&t.token, now).is_err(), "another secret");
        let forged = t.token.replacen(&hex(b"c-7"), &hex(b"c-8"), 1);
        assert!(tokens.verify(&forged, now).is_err(), "another customer");
        assert!(tokens.verify("garbage", now).is_err());
        assert!(tokens.mint("c", 0, now).is_err());
        assert!(tokens.mint("c", MAX_TOKEN_SECONDS + 1, now).is_err());
    }
}
