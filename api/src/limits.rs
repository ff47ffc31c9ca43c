//! Per-client rate limiting: a token bucket per API key, customer token or anonymous
//! address, refilled at `rate_limit_per_second` up to `rate_limit_burst`.

use moka::sync::Cache;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// The rate limiter.
#[derive(Debug, Clone)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Cache<String, Arc<Mutex<Bucket>>>,
}

impl RateLimiter {
    /// A limiter allowing `per_second` on average and `burst` at once (0: no limit).
    pub fn new(per_second: u64, burst: u64) -> RateLimiter {
        RateLimiter {
            per_second: per_second as f64,
            burst: burst as f64,
            buckets: Cache::builder()
                .max_capacity(100_000)
                .time_to_idle(Duration::from_secs(600))
                .build(),
        }
    }

    /// Takes one request from `client`'s bucket; `Err(seconds)` to wait when it is empty.
    pub fn check(&self, client: &str, now: Instant) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let bucket = self.buckets.get_with_by_ref(client, || {
            Arc::new(Mutex::new(Bucket {
                tokens: self.burst,
                at: now,
            }))
        });
        let Ok(mut b) = bucket.lock() else {
            return Ok(());
        };
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * self.per_second).min(self.burst);
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            let wait = (1.0 - b.tokens) / self.per_second;
            Err(wait.ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_steady_rate() {
        let limiter = RateLimiter::new(2, 3);
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(limiter.check("k", t0), Ok(()));
        }
        assert_eq!(limiter.check("k", t0), Err(1));
        assert_eq!(limiter.check("other", t0), Ok(()), "buckets are per client");
        let later = t0 + Duration::from_millis(500);
        assert_eq!(limiter.check("k", later), Ok(()), "refilled at 2/s");
        assert_eq!(limiter.check("k", later), Err(1));
        assert_eq!(RateLimiter::new(0, 0).check("k", t0), Ok(()), "0 is off");
    }
}
