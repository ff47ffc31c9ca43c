//! The `progress` variable's contents: what expressions see of a customer's state in a
//! campaign. A leaf module, read by the fast path and the interpreter's bindings alike.

/// What `progress` shows: the customer's state in the campaign.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ProgressView {
    /// Qualifying events counted (count goals; 0 otherwise).
    pub count: u64,
    /// Sum of values (sum goals; 0 otherwise).
    pub sum: f64,
    /// How many distinct values (distinct goals; 0 otherwise).
    pub distinct: u64,
    /// Current streak (streak goals; 0 otherwise).
    pub streak: u64,
    /// Steps done (sequence goals; 0 otherwise).
    pub step: u64,
    /// Current cycle, from 1.
    pub cycle: u32,
}
