//! What the database holds, compared with the reference; the all-or-nothing check.

use super::*;

pub(super) type Row = (String, String, i32, i32, String, String);
pub(super) type States = Vec<(String, String, CampaignState)>;

pub(super) fn sorted_states(mut states: States) -> States {
    states.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    states
}

pub(super) async fn db_ledger(store: &Store) -> Vec<Row> {
    ledger_of(&store.rewards().await.expect("rewards"))
}

pub(super) async fn db_states(store: &Store) -> States {
    sorted_states(store.states().await.expect("states"))
}

pub(super) fn mem_states(m: &MemoryProcessor) -> States {
    sorted_states(
        m.states()
            .map(|(c, k, s)| (c.to_owned(), k.to_owned(), s.clone()))
            .collect(),
    )
}

/// Budget taken per campaign.
pub(super) async fn db_budgets(store: &Store) -> BTreeMap<String, i64> {
    entities::budget::Entity::find()
        .all(store.connection())
        .await
        .expect("budgets")
        .into_iter()
        .map(|b| (b.campaign, b.taken))
        .collect()
}

pub(super) fn mem_budgets(m: &MemoryProcessor) -> BTreeMap<String, i64> {
    m.campaigns()
        .iter()
        .map(|c| {
            let key = c.spec().key.clone();
            let taken = i64::try_from(m.budget_taken(&key)).expect("small");
            (key, taken)
        })
        .collect()
}

/// Asserts two lists equal, naming the first difference rather than printing both whole.
#[track_caller]
pub(super) fn assert_same<T: PartialEq + std::fmt::Debug>(got: &[T], want: &[T], label: &str) {
    if got == want {
        return;
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(g, w)| g != w)
        .unwrap_or(got.len().min(want.len()));
    panic!(
        "{label}: {} entries, {} expected; first difference at {at}:\n got: {:?}\nwant: {:?}",
        got.len(),
        want.len(),
        got.get(at),
        want.get(at)
    );
}

/// Sorted, for runs whose order across customers is free.
pub(super) fn sorted(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort();
    rows
}

/// No partial batch is visible: the rewards the inbox says its events issued are exactly the
/// ledger, and every ledger row has its outbox row. Returns the processed event ids.
pub(super) async fn check_all_or_nothing(store: &Store, label: &str) -> BTreeSet<String> {
    let inbox = entities::inbox::Entity::find()
        .all(store.connection())
        .await
        .expect("inbox");
    let mut promised = BTreeSet::new();
    let mut ids = BTreeSet::new();
    for row in inbox {
        let result: EventResult = serde_json::from_str(&row.result).expect("a stored result");
        assert_eq!(
            result.status,
            Status::Processed,
            "{label}: {}",
            row.event_id
        );
        assert_eq!(result.event_id, row.event_id, "{label}");
        for r in &result.rewards {
            let identity = (
                r.campaign.clone(),
                r.customer_id.clone(),
                i32::try_from(r.cycle).expect("small"),
                i32::try_from(r.reward_index).expect("small"),
                r.event_id.clone(),
            );
            assert!(
                promised.insert(identity),
                "{label}: a reward promised twice"
            );
        }
        ids.insert(row.event_id);
    }
    let ledger = store.rewards().await.expect("rewards");
    let issued: BTreeSet<_> = ledger
        .iter()
        .map(|r| {
            (
                r.reward.campaign.clone(),
                r.reward.customer_id.clone(),
                i32::try_from(r.reward.cycle).unwrap(),
                i32::try_from(r.reward.reward_index).unwrap(),
                r.reward.event_id.clone(),
            )
        })
        .collect();
    assert_eq!(issued.len(), ledger.len(), "{label}: a reward issued twice");
    assert_eq!(
        issued, promised,
        "{label}: the ledger and the inbox disagree"
    );
    let outbox: Vec<_> = entities::outbox::Entity::find()
        .all(store.connection())
        .await
        .expect("outbox")
        .into_iter()
        .map(|o| (o.campaign, o.customer_id, o.cycle, o.reward_index))
        .collect();
    let announced: BTreeSet<_> = outbox.iter().cloned().collect();
    let identities: BTreeSet<_> = ledger
        .iter()
        .map(|r| {
            (
                r.reward.campaign.clone(),
                r.reward.customer_id.clone(),
                i32::try_from(r.reward.cycle).unwrap(),
                i32::try_from(r.reward.reward_index).unwrap(),
            )
        })
        .collect();
    assert_eq!(
        announced.len(),
        outbox.len(),
        "{label}: a reward announced twice"
    );
    assert_eq!(announced, identities, "{label}: one outbox row per reward");
    ids
}

/// Processes `batches` one after the other.
pub(super) async fn ingest(store: &Store, batches: &[Vec<Value>]) -> Vec<EventResult> {
    let mut results = Vec::new();
    for b in batches {
        results.extend(store.process_batch(b).await.expect("batch"));
    }
    results
}
