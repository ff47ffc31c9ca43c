//! The campaigns the scenarios run (their specs in `campaigns/`), the customers' profiles, and
//! the in-memory reference.

use super::*;

/// Every mechanic: windows, cycles, an `amount_expr`, an audience, a schedule and two budgets.
/// `capped-order-pairs` needs two orders per completion, so that a spent budget shows in
/// progress (the campaign stops applying), not only in rewards.
pub(super) const MIXED: [&str; 11] = [
    include_str!("campaigns/mixed/orders-3-in-1d.yaml"),
    include_str!("campaigns/mixed/spend-100-in-2d.yaml"),
    include_str!("campaigns/mixed/big-spender.yaml"),
    include_str!("campaigns/mixed/three-categories.yaml"),
    include_str!("campaigns/mixed/open-streak.yaml"),
    include_str!("campaigns/mixed/browse-then-buy.yaml"),
    include_str!("campaigns/mixed/view-pairs.yaml"),
    include_str!("campaigns/mixed/capped-order-pairs.yaml"),
    include_str!("campaigns/mixed/each-order-capped.yaml"),
    include_str!("campaigns/mixed/gold-anything.yaml"),
    include_str!("campaigns/mixed/early-december-views.yaml"),
];

/// Campaigns without budgets that complete often: customers are independent, so any delivery
/// that keeps each customer's order gives a serial run's ledger, up to order across customers.
pub(super) const UNCAPPED: [&str; 6] = [
    include_str!("campaigns/uncapped/every-2-orders.yaml"),
    include_str!("campaigns/uncapped/orders-3-in-1d.yaml"),
    include_str!("campaigns/uncapped/spend-100.yaml"),
    include_str!("campaigns/uncapped/three-categories.yaml"),
    include_str!("campaigns/uncapped/open-streak.yaml"),
    include_str!("campaigns/uncapped/browse-then-buy.yaml"),
];

/// One order each pays, for the first hundred customers.
pub(super) const FIRST_100: &str = include_str!("campaigns/first-100.yaml");

/// The campaigns, sorted by key: the order the database processor runs them in.
pub(super) fn compiled(texts: &[&str]) -> Vec<CompiledCampaign> {
    let mut specs: Vec<_> = texts.iter().map(|t| spec(t)).collect();
    specs.sort_by(|a, b| a.key.cmp(&b.key));
    specs
        .into_iter()
        .map(|s| CompiledCampaign::compile(s).expect("compiles"))
        .collect()
}

/// Every third customer is gold, the next silver, the next has no profile.
pub(super) fn profiles(customers: usize) -> Vec<Customer> {
    (0..customers)
        .filter(|c| c % 3 != 2)
        .map(|c| {
            let tier = if c % 3 == 0 { "gold" } else { "silver" };
            Customer {
                id: customer_name(c),
                attributes: json!({"tier": tier}).as_object().expect("object").clone(),
            }
        })
        .collect()
}

pub(super) fn customer_name(c: usize) -> String {
    format!("c{c}")
}

/// The reference: the in-memory processor on the same campaigns and profiles.
pub(super) fn memory(texts: &[&str], customers: usize) -> MemoryProcessor {
    let mut m = MemoryProcessor::new(compiled(texts));
    for p in profiles(customers) {
        m.upsert_customer(p);
    }
    m
}

/// Installs the campaigns and profiles in a database.
pub(super) async fn install(store: &Store, texts: &[&str], customers: usize) {
    for t in texts {
        store.install_campaign(&spec(t)).await.expect("install");
    }
    for p in profiles(customers) {
        store.upsert_customer(&p).await.expect("profile");
    }
}
