//! The retry schedule: the n-th delay follows the n-th failed attempt, stretched by up to 20%
//! of jitter; a `Retry-After` on 429 or 503 is waited at least.

use crate::error::{Error, Result};
use std::time::Duration;

/// The default `webhook_retry_schedule`.
pub const DEFAULT_SCHEDULE: &str = "5s,5m,30m,2h,5h,10h,14h,20h,24h";

/// Reads one duration: a whole number and a unit, `ms`, `s`, `m`, `h` or `d` (`50ms`, `5m`).
pub fn parse_duration(text: &str) -> Result<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let bad = |why: &str| Error::Schedule(format!("`{text}` is not a duration: {why}"));
    let n: u64 = number
        .parse()
        .map_err(|_| bad("write a whole number and a unit, as `5s`"))?;
    let unit_ms: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        _ => return Err(bad("the unit is one of ms, s, m, h, d")),
    };
    n.checked_mul(unit_ms)
        .filter(|ms| *ms <= 3650 * 86_400_000)
        .map(Duration::from_millis)
        .ok_or_else(|| bad("at most 3650d"))
}

/// Reads a comma-separated list of durations (`5s,5m,30m`): at least one, at most 50.
pub fn parse_schedule(text: &str) -> Result<Vec<Duration>> {
    let delays = text
        .split(',')
        .map(parse_duration)
        .collect::<Result<Vec<_>>>()?;
    if delays.len() > 50 {
        return Err(Error::Schedule(format!(
            "{} delays; at most 50",
            delays.len()
        )));
    }
    Ok(delays)
}

/// The delay after failed attempt number `failed` (from 1), with `jitter` (0 to 1) of up to
/// 20% added, at least `retry_after`; `None` when the schedule is spent.
pub fn next_delay(
    schedule: &[Duration],
    failed: u32,
    jitter: f64,
    retry_after: Option<Duration>,
) -> Option<Duration> {
    let base = *schedule.get(usize::try_from(failed).ok()?.checked_sub(1)?)?;
    let delay = base.mul_f64(1.0 + 0.2 * jitter.clamp(0.0, 1.0));
    Some(retry_after.map_or(delay, |r| delay.max(r)))
}

/// A `Retry-After` value: seconds, or an HTTP date.
pub fn retry_after(value: &str, now: chrono::DateTime<chrono::Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds.min(86_400)));
    }
    let at = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    (at.with_timezone(&chrono::Utc) - now)
        .to_std()
        .ok()
        .map(|d| d.min(Duration::from_secs(86_400)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_default_and_milliseconds() {
        let s = parse_schedule(DEFAULT_SCHEDULE).unwrap();
        assert_eq!(s.len(), 9);
        assert_eq!(s[0], Duration::from_secs(5));
        assert_eq!(s[8], Duration::from_secs(86_400));
        assert_eq!(
            parse_schedule("50ms, 1s").unwrap(),
            [Duration::from_millis(50), Duration::from_secs(1)]
        );
        assert!(
            parse_schedule("5s,,5m")
                .unwrap_err()
                .to_string()
                .contains("`` is not a duration")
        );
        assert!(
            parse_duration("5y")
                .unwrap_err()
                .to_string()
                .contains("unit")
        );
        assert!(
            parse_duration("9999d")
                .unwrap_err()
                .to_string()
                .contains("3650d")
        );
    }

    #[test]
    fn delays_follow_failures_with_jitter_and_retry_after() {
        let s = [Duration::from_secs(10), Duration::from_secs(100)];
        assert_eq!(next_delay(&s, 1, 0.0, None), Some(Duration::from_secs(10)));
        assert_eq!(next_delay(&s, 2, 1.0, None), Some(Duration::from_secs(120)));
        assert_eq!(next_delay(&s, 3, 0.0, None), None);
        assert_eq!(
            next_delay(&s, 1, 0.5, Some(Duration::from_secs(60))),
            Some(Duration::from_secs(60))
        );
        let now = chrono::Utc::now();
        assert_eq!(retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(retry_after("soon", now), None);
    }
}
