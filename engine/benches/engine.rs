//! Events per second through the in-memory processor: 50 campaigns over 10 event types and
//! 10,000 customers (issue 3's benchmark).
//!
//! Run: `cargo bench -p engine --bench engine`. It runs with the allocator the `offerflow`
//! binary uses (mimalloc); remove the `#[global_allocator]` below to measure the system's.

use campaigns::{CompiledCampaign, Event};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use engine::MemoryProcessor;
use serde_json::json;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CUSTOMERS: u64 = 10_000;
const TYPES: u64 = 10;
const EVENTS: usize = 100_000;

/// 50 campaigns, five of each mechanic-ish shape, spread over the 10 event types.
fn campaigns() -> Vec<CompiledCampaign> {
    (0..50)
        .map(|i| {
            let t = i % TYPES;
            let next = (i + 1) % TYPES;
            let goal = match i % 5 {
                0 => format!("{{kind: count, when: 'event.type == \"t{t}\" && event.amount >= 25', target: 3, within: 7d}}"),
                1 => format!("{{kind: sum, when: 'event.type == \"t{t}\"', value: 'event.amount', target: 500}}"),
                2 => format!("{{kind: distinct, when: 'event.type == \"t{t}\"', value: 'event.category', target: 4, within: 14d}}"),
                3 => format!("{{kind: streak, period: day, when: 'event.type == \"t{t}\"', target: 3}}"),
                _ => format!("{{kind: sequence, within: 1h, steps: [{{name: a, when: 'event.type == \"t{t}\"'}}, {{name: b, when: 'event.type == \"t{next}\"'}}]}}"),
            };
            let yaml = format!(
                "key: c{i}\nname: campaign {i}\nschedule: {{timezone: Europe/Paris}}\ngoal: {goal}\nrewards: [{{kind: points, amount: 10}}]\nlimits: {{per_customer: 5}}\n"
            );
            CompiledCampaign::compile(campaigns::parse(&yaml).expect("valid")).expect("compiles")
        })
        .collect()
}

/// A deterministic stream: random customers and types, time moving forward.
fn events() -> Vec<Event> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let start = chrono::DateTime::parse_from_rfc3339("2026-12-01T00:00:00Z")
        .expect("time")
        .timestamp();
    (0..EVENTS)
        .map(|i| {
            let at = chrono::DateTime::from_timestamp(start + (i as i64) * 30, 0).expect("time");
            let value = json!({
                "id": format!("e{i}"),
                "customer_id": format!("c{}", next() % CUSTOMERS),
                "type": format!("t{}", next() % TYPES),
                "occurred_at": at.to_rfc3339(),
                "attributes": {"amount": (next() % 100) as i64, "category": format!("k{}", next() % 8)},
            });
            Event::from_json(&value).expect("valid event")
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let campaigns = campaigns();
    let events = events();
    let mut group = c.benchmark_group("memory_processor");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS as u64));
    group.bench_function("50_campaigns_10_types_10k_customers", |b| {
        b.iter_batched(
            || MemoryProcessor::new(campaigns.clone()),
            |mut p| {
                for e in &events {
                    p.process(e);
                }
                p
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
