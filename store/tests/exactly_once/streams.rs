//! Event streams: random items, their JSON, deliveries with duplicates, batches, partitions.

use super::*;

/// December (and the schedule's bounds), and just before New York's DST changes.
pub(super) const BASES: [&str; 3] = [
    "2026-11-30T20:00:00Z",
    "2026-03-07T00:00:00Z",
    "2026-10-31T00:00:00Z",
];
/// How many ways [`Item::Invalid`] has of being invalid.
pub(super) const INVALID_KINDS: usize = 7;

/// One entry of a stream, before it becomes JSON.
#[derive(Debug, Clone)]
pub(super) enum Item {
    /// A new event of `customer`, `gap` (an index in [`GAPS`]) after their previous one.
    Fresh {
        customer: usize,
        kind: usize,
        gap: usize,
        amount: i64,
        category: usize,
        extra: bool,
    },
    /// An earlier event again, unchanged: a duplicate (`back` picks which).
    Again(usize),
    /// An earlier event's id with other content: a conflict.
    Changed(usize),
    /// An invalid event, in one of [`INVALID_KINDS`] ways.
    Invalid(usize),
}

/// The stream's JSON. Each customer has a clock of their own, so their events are in time
/// order and close enough together for windows and sequences to complete.
pub(super) fn materialize(items: &[Item], base: usize) -> Vec<Value> {
    let start = parse_time(BASES[base % BASES.len()]);
    let mut clocks: HashMap<usize, i64> = HashMap::new();
    let mut fresh: Vec<Value> = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let id = format!("e{i}");
        match *item {
            Item::Fresh {
                customer,
                kind,
                gap,
                amount,
                category,
                extra,
            } => {
                let clock = clocks
                    .entry(customer)
                    .or_insert(start + (customer as i64 % 24) * HOUR);
                *clock += GAPS[gap % GAPS.len()];
                let kind = TYPES[kind % TYPES.len()];
                let e = event_json(
                    &id,
                    &customer_name(customer),
                    kind,
                    *clock,
                    (kind == "order" || extra).then_some(amount),
                    (kind == "view" || extra).then_some(CATEGORIES[category % CATEGORIES.len()]),
                );
                fresh.push(e.clone());
                out.push(e);
            }
            Item::Again(back) | Item::Changed(back) if !fresh.is_empty() => {
                let mut e = fresh[fresh.len() - 1 - back % fresh.len()].clone();
                if matches!(item, Item::Changed(_)) {
                    e["attributes"]["amount"] = json!(999);
                }
                out.push(e);
            }
            Item::Again(_) | Item::Changed(_) => {}
            Item::Invalid(how) => {
                let mut e = json!({"id": id, "customer_id": "c0", "type": "order",
                    "occurred_at": time(start), "attributes": {"amount": 50}});
                match how % INVALID_KINDS {
                    0 => e["occurred_at"] = json!("later"),
                    1 => {
                        e.as_object_mut().expect("object").remove("customer_id");
                    }
                    2 => e["attributes"]["type"] = json!("order"),
                    3 => e["channel"] = json!("web"),
                    4 => e["id"] = json!("x".repeat(129)),
                    5 => e["attributes"] = json!([1, 2]),
                    // The next item's id: refused now, so not remembered for later.
                    _ => {
                        e["id"] = json!(format!("e{}", i + 1));
                        e["type"] = json!(7);
                    }
                }
                out.push(e);
            }
        }
    }
    out
}

/// `n` items over `customers` customers: mostly fresh events, with some duplicates, conflicts
/// and invalid events when `noise`.
pub(super) fn random_items(rng: &mut StdRng, n: usize, customers: usize, noise: bool) -> Vec<Item> {
    (0..n)
        .map(|_| match rng.random_range(0..40) {
            0..=2 if noise => Item::Again(rng.random_range(0..50)),
            3 if noise => Item::Changed(rng.random_range(0..50)),
            4 if noise => Item::Invalid(rng.random_range(0..INVALID_KINDS)),
            _ => Item::Fresh {
                customer: rng.random_range(0..customers),
                kind: rng.random_range(0..TYPES.len()),
                // Mostly short gaps, so that sequences and windows complete.
                gap: if rng.random_bool(0.7) {
                    rng.random_range(0..5)
                } else {
                    rng.random_range(0..GAPS.len())
                },
                amount: rng.random_range(1..60),
                category: rng.random_range(0..CATEGORIES.len()),
                extra: rng.random_bool(0.2),
            },
        })
        .collect()
}

pub(super) fn customer_of(e: &Value) -> &str {
    e["customer_id"].as_str().unwrap_or_default()
}

/// Each event `copies` times, shuffled, except that each customer's events are first delivered
/// in stream order (a duplicate may come any time after the first delivery).
pub(super) fn deliveries(events: &[Value], copies: usize, rng: &mut StdRng) -> Vec<Value> {
    let mut by_customer: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (i, e) in events.iter().enumerate() {
        by_customer.entry(customer_of(e)).or_default().push(i);
    }
    let mut slots: Vec<&str> = Vec::with_capacity(events.len() * copies);
    let mut queues: HashMap<&str, VecDeque<usize>> = HashMap::new();
    for (&c, indices) in &by_customer {
        slots.extend(std::iter::repeat_n(c, indices.len() * copies));
        let mut labels: Vec<usize> = (0..indices.len())
            .flat_map(|i| std::iter::repeat_n(i, copies))
            .collect();
        labels.shuffle(rng);
        // Renaming labels in order of first appearance keeps the multiset and orders the
        // first deliveries.
        let mut rename: HashMap<usize, usize> = HashMap::new();
        let queue = labels
            .into_iter()
            .map(|l| {
                let next = rename.len();
                indices[*rename.entry(l).or_insert(next)]
            })
            .collect();
        queues.insert(c, queue);
    }
    slots.shuffle(rng);
    slots
        .into_iter()
        .map(|c| {
            let i = queues
                .get_mut(c)
                .and_then(VecDeque::pop_front)
                .expect("one per slot");
            events[i].clone()
        })
        .collect()
}

/// Splits `events` into batches of `min..=max` events.
pub(super) fn batches(
    events: &[Value],
    min: usize,
    max: usize,
    rng: &mut StdRng,
) -> Vec<Vec<Value>> {
    let mut out = Vec::new();
    let mut rest = events;
    while !rest.is_empty() {
        let n = rng.random_range(min..=max).min(rest.len());
        out.push(rest[..n].to_vec());
        rest = &rest[n..];
    }
    out
}

/// The stream split into `parts` by customer, each part keeping its events' order.
pub(super) fn partition(events: &[Value], parts: usize) -> Vec<Vec<Value>> {
    let mut out = vec![Vec::new(); parts];
    for e in events {
        let c: usize = customer_of(e)
            .trim_start_matches('c')
            .parse()
            .unwrap_or_default();
        out[c % parts].push(e.clone());
    }
    out
}
