//! Memory per hot progress state: the resident memory the store's hot cache takes per
//! (customer, campaign) state, by mechanic, allocator overhead included.
//!
//! Each run builds 200,000 customers' cache entries the way the store holds them (campaign
//! key → (version, state), per customer, behind an `Arc`) with states as a customer in the
//! middle of a goal has them, and reads the process's resident set before and after.
//!
//! Run: `cargo bench -p engine --bench state_memory` (Linux: reads /proc/self/statm).

use engine::{CampaignState, Progress};
use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

const CUSTOMERS: usize = 200_000;

/// One customer's entry in the store's hot cache: campaign key → (version, state).
type CustomerProgress = HashMap<String, (i64, CampaignState)>;

/// Resident bytes of this process.
fn resident() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: usize = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

/// A state in the middle of its goal (`i` varies the values).
fn state(mechanic: &str, i: usize) -> CampaignState {
    let t = 1_790_000_000_000_000i64 + i as i64;
    let progress = match mechanic {
        "count" => Progress::Count {
            count: 2,
            window: VecDeque::new(),
        },
        "count within 7d (2 of 3 events)" => Progress::Count {
            count: 0,
            window: VecDeque::from([t, t + 1]),
        },
        "sum" => Progress::Sum {
            sum: 120.5,
            window: VecDeque::new(),
        },
        "distinct (3 values)" => Progress::Distinct {
            values: BTreeMap::from([
                ("s:shoes".to_owned(), t),
                ("s:books".to_owned(), t + 1),
                ("s:toys".to_owned(), t + 2),
            ]),
        },
        "streak" => Progress::Streak {
            streak: 3,
            last_period: Some(739_000),
        },
        _ => Progress::Sequence {
            step: 1,
            started_at: Some(t),
        },
    };
    CampaignState {
        cycle: 1,
        ..CampaignState::new(progress)
    }
}

const MECHANICS: [&str; 6] = [
    "count",
    "count within 7d (2 of 3 events)",
    "sum",
    "distinct (3 values)",
    "streak",
    "sequence",
];

/// Builds the cache for one mechanic with `per` states per customer and prints bytes per state.
/// Each measurement runs in a process of its own, so that memory freed by one is not reused by
/// the next.
fn measure(mechanic: &str, per: usize) {
    let before = resident();
    let cache: Vec<(String, Arc<CustomerProgress>)> = (0..CUSTOMERS)
        .map(|i| {
            let rows = (0..per)
                .map(|k| {
                    (
                        format!("campaign-{}", (i + k) % 50),
                        (1, state(mechanic, i)),
                    )
                })
                .collect();
            (format!("customer-{i}"), Arc::new(rows))
        })
        .collect();
    let grown = resident().saturating_sub(before);
    let per_state = grown as f64 / (CUSTOMERS * per) as f64;
    println!("{mechanic:>32} | {per} | {per_state:>5.0}");
    drop(cache);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let (Some(mechanic), Some(per)) = (args.get(2), args.get(3))
        && args[1] == "--measure"
    {
        measure(mechanic, per.parse().unwrap_or(1));
        return;
    }
    println!(
        "resident bytes per hot progress state, {CUSTOMERS} customers (size_of CampaignState = {} bytes)",
        std::mem::size_of::<CampaignState>()
    );
    println!("{:>32} | states per customer | bytes per state", "mechanic");
    let me = std::env::current_exe().expect("this program's path");
    for mechanic in MECHANICS {
        for per in [1, 5] {
            let out = std::process::Command::new(&me)
                .args(["--measure", mechanic, &per.to_string()])
                .output()
                .expect("runs");
            print!("{}", String::from_utf8_lossy(&out.stdout));
        }
    }
}
