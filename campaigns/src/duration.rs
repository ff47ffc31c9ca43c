//! Spec durations: a whole number and a unit, `45s`, `30m`, `36h`, `7d`, `2w`.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// The longest duration a spec may name: ten years, which keeps every sum of a duration and a
/// timestamp far from overflow.
pub const MAX_DURATION_SECONDS: i64 = 10 * 366 * 86_400;

/// A positive span of time written as a whole number and a unit (`s`, `m`, `h`, `d`, `w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SpecDuration {
    amount: u32,
    unit: Unit,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Unit {
    Second,
    Minute,
    Hour,
    Day,
    Week,
}

impl Unit {
    fn seconds(self) -> i64 {
        match self {
            Unit::Second => 1,
            Unit::Minute => 60,
            Unit::Hour => 3_600,
            Unit::Day => 86_400,
            Unit::Week => 604_800,
        }
    }

    fn suffix(self) -> char {
        match self {
            Unit::Second => 's',
            Unit::Minute => 'm',
            Unit::Hour => 'h',
            Unit::Day => 'd',
            Unit::Week => 'w',
        }
    }
}

impl SpecDuration {
    /// The duration in seconds.
    pub fn seconds(&self) -> i64 {
        i64::from(self.amount) * self.unit.seconds()
    }

    /// The duration as a chrono duration.
    pub fn to_chrono(&self) -> chrono::Duration {
        chrono::Duration::seconds(self.seconds())
    }
}

impl FromStr for SpecDuration {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let expected = "expected a whole number and a unit (s, m, h, d, w), like `7d` or `36h`";
        let unit = match s.chars().last() {
            Some('s') => Unit::Second,
            Some('m') => Unit::Minute,
            Some('h') => Unit::Hour,
            Some('d') => Unit::Day,
            Some('w') => Unit::Week,
            _ => return Err(format!("`{s}` is not a duration: {expected}")),
        };
        let digits = &s[..s.len() - 1];
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(format!("`{s}` is not a duration: {expected}"));
        }
        let amount: u32 = digits
            .parse()
            .map_err(|_| format!("`{s}` is too long a duration"))?;
        if amount == 0 {
            return Err(format!("`{s}` must be positive"));
        }
        let d = SpecDuration { amount, unit };
        if d.seconds() > MAX_DURATION_SECONDS {
            return Err(format!("`{s}` is longer than the limit of ten years"));
        }
        Ok(d)
    }
}

impl fmt::Display for SpecDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.amount, self.unit.suffix())
    }
}

impl Serialize for SpecDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SpecDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_unit() {
        for (text, seconds) in [
            ("45s", 45),
            ("30m", 1_800),
            ("36h", 129_600),
            ("7d", 604_800),
            ("2w", 1_209_600),
        ] {
            let d: SpecDuration = text.parse().unwrap();
            assert_eq!(d.seconds(), seconds, "{text}");
            assert_eq!(d.to_string(), text);
        }
    }

    #[test]
    fn refuses_malformed_zero_and_huge() {
        for bad in [
            "",
            "7",
            "d",
            "7x",
            "-1d",
            "1.5h",
            "7 d",
            "0s",
            "99999999999d",
            "600w",
        ] {
            assert!(bad.parse::<SpecDuration>().is_err(), "{bad:?} was accepted");
        }
    }
}
