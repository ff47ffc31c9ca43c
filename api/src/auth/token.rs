//! Customer tokens: `ct1.<customer id, hex>.<expiry, Unix seconds>.<HMAC-SHA256, hex>`, signed
//! with a secret kept in the database so that every node checks every node's tokens.

use super::{Principal, constant_time_eq, random};
use crate::error::{ApiError, Result};
use chrono::{DateTime, Utc};
use hmac::{KeyInit, Mac};
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

/// HMAC-SHA256 (RFC 2104) of `message` under `key`.
fn hmac(key: &[u8], message: &[u8]) -> [u8; 32] {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    mac.finalize().into_bytes().into()
}

impl Tokens {
    /// The signer, with the database's secret (created by the first node that needs it).
    pub async fn load(store: &Store) -> Result<Tokens> {
        let secret = store
            .setting_or_insert(SECRET_SETTING, &hex::encode(random::<32>()))
            .await?;
        Ok(Tokens::with_secret(secret.into_bytes()))
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
        campaigns::check_id("customerId", customer_id).map_err(ApiError::from)?;
        if !(1..=MAX_TOKEN_SECONDS).contains(&seconds) {
            return Err(ApiError::bad(
                "ttlSeconds",
                format!("must be between 1 and {MAX_TOKEN_SECONDS}, not {seconds}"),
            ));
        }
        let expires_at = now + chrono::Duration::seconds(seconds);
        let body = format!(
            "ct1.{}.{}",
            hex::encode(customer_id),
            expires_at.timestamp()
        );
        let mac = hex::encode(hmac(&self.secret, body.as_bytes()));
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
        let expected = hex::encode(hmac(&self.secret, body.as_bytes()));
        if !constant_time_eq(mac.as_bytes(), expected.as_bytes()) {
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
        let id = hex::decode(id)
            .ok()
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
            hex::encode(mac),
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
        let forged = t
            .token
            .replacen(&hex::encode(b"c-7"), &hex::encode(b"c-8"), 1);
        assert!(tokens.verify(&forged, now).is_err(), "another customer");
        assert!(tokens.verify("garbage", now).is_err());
        assert!(tokens.mint("c", 0, now).is_err());
        assert!(tokens.mint("c", MAX_TOKEN_SECONDS + 1, now).is_err());
    }
}
