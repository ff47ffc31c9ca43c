//! A customer's state in one campaign: compact, versioned, and bounded.
//!
//! Only what the mechanic needs is kept: a counter, a sum, a set of values, a streak or a
//! step, plus the window history for goals with `within`. Times are microseconds since the
//! Unix epoch.
//!
//! Size bound: a state holds at most `target - 1` window entries for `count` (the target is at
//! most 10,000 with a window), at most `target - 1` values for `distinct` (at most 10,000, each
//! at most [`MAX_DISTINCT_VALUE_BYTES`]), at most [`MAX_SUM_WINDOW`] entries for a windowed
//! `sum`, and a few integers otherwise.

use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, VecDeque};

/// The schema version written into every state; a reader refuses other versions.
pub const STATE_VERSION: u8 = 1;
/// Longest value a `distinct` goal remembers, in bytes.
pub const MAX_DISTINCT_VALUE_BYTES: usize = 256;
/// Most entries a windowed `sum` remembers; past it the oldest are forgotten.
pub const MAX_SUM_WINDOW: usize = 10_000;

/// One customer's state in one campaign.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CampaignState {
    /// Schema version ([`STATE_VERSION`]).
    pub v: u8,
    /// The current cycle, from 1.
    pub cycle: u32,
    /// Whether every cycle this customer may complete is done.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub finished: bool,
    /// The mechanic's progress in the current cycle.
    pub progress: Progress,
}

impl CampaignState {
    /// Reads a stored state, refusing any schema version but [`STATE_VERSION`].
    pub fn from_json(text: &str) -> crate::Result<Self> {
        #[derive(Deserialize)]
        struct Version {
            v: u8,
        }
        let Version { v } = serde_json::from_str(text)?;
        if v != STATE_VERSION {
            return Err(crate::Error::StateVersion {
                found: v,
                expected: STATE_VERSION,
            });
        }
        Ok(serde_json::from_str(text)?)
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| unreachable!("a state always serializes"))
    }

    /// A fresh state in cycle 1.
    pub fn new(progress: Progress) -> Self {
        Self {
            v: STATE_VERSION,
            cycle: 1,
            finished: false,
            progress,
        }
    }
}

/// Progress in the current cycle, by mechanic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Progress {
    /// Qualifying events counted; with a window, their times (oldest first).
    Count {
        /// Events counted (without a window).
        #[serde(default, skip_serializing_if = "is_zero")]
        count: u64,
        /// Times of the events in the window (with a window).
        #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
        window: VecDeque<i64>,
    },
    /// Values summed; with a window, each value with its time.
    Sum {
        /// The running sum (without a window).
        #[serde(default, skip_serializing_if = "is_zero_f64")]
        sum: f64,
        /// (time, value) of the events in the window (with a window).
        #[serde(default, skip_serializing_if = "VecDeque::is_empty")]
        window: VecDeque<(i64, f64)>,
    },
    /// Distinct values, each with the last time it was seen (used with a window).
    Distinct {
        /// value key → last time seen.
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        values: BTreeMap<String, i64>,
    },
    /// The current streak and the period it last grew in.
    Streak {
        /// Consecutive periods.
        #[serde(default, skip_serializing_if = "is_zero")]
        streak: u64,
        /// Index of the last period with a qualifying event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        last_period: Option<i64>,
    },
    /// Steps done, and when the first was.
    Sequence {
        /// Steps done.
        #[serde(default, skip_serializing_if = "is_zero")]
        step: u64,
        /// Time of the first step's event.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        started_at: Option<i64>,
    },
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

fn is_zero_f64(x: &f64) -> bool {
    *x == 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_compactly_with_its_version() {
        let state = CampaignState::new(Progress::Count {
            count: 2,
            window: VecDeque::new(),
        });
        let json = serde_json::to_string(&state).unwrap();
        assert_eq!(
            json,
            r#"{"v":1,"cycle":1,"progress":{"kind":"count","count":2}}"#
        );
        assert_eq!(CampaignState::from_json(&json).unwrap(), state);
        assert_eq!(state.to_json(), json);
        let fresh = CampaignState::new(Progress::Sequence {
            step: 0,
            started_at: None,
        });
        assert_eq!(
            serde_json::to_string(&fresh).unwrap(),
            r#"{"v":1,"cycle":1,"progress":{"kind":"sequence"}}"#
        );
    }

    #[test]
    fn refuses_other_versions_and_garbage() {
        let future = r#"{"v":2,"cycle":1,"progress":{"kind":"count"}}"#;
        assert!(matches!(
            CampaignState::from_json(future),
            Err(crate::Error::StateVersion {
                found: 2,
                expected: 1
            })
        ));
        assert!(matches!(
            CampaignState::from_json("{}"),
            Err(crate::Error::StateFormat(_))
        ));
    }
}
