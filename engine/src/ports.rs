//! The storage traits (ports): what the domain needs kept, one small trait per capability,
//! composed into [`Storage`]. The `store` crate implements them on SQLite and PostgreSQL;
//! [`MemoryStore`] implements them in memory, over the [`MemoryProcessor`], as the reference
//! that storage must match (`store/tests/ports.rs` runs one scenario through both).
//!
//! [`MemoryProcessor`]: crate::MemoryProcessor

use crate::apply::{EventResult, Status};
use crate::core::Reward;
use crate::domain::Prepared;
use crate::memory::MemoryProcessor;
use campaigns::{CampaignSpec, CompiledCampaign, Customer};
use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;

/// Campaigns and their published versions.
pub trait CampaignStore {
    /// What storage fails with.
    type Error;
    /// Publishes `spec` as its campaign's latest version (a new version when it differs from
    /// the latest), which processes events from then on; answers the version.
    fn install_campaign(
        &self,
        spec: &CampaignSpec,
    ) -> impl Future<Output = Result<i32, Self::Error>> + Send;
}

/// Customers' profiles.
pub trait CustomerStore {
    /// What storage fails with.
    type Error;
    /// Customer `id`'s profile, if one was stored.
    fn customer(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<Customer>, Self::Error>> + Send;
    /// Stores or replaces a profile.
    fn upsert_customer(
        &self,
        customer: &Customer,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// Processing events exactly once, and what happened to each.
pub trait EventStore {
    /// What storage fails with.
    type Error;
    /// Applies `events` in order, each id at most once (DESIGN §2), and answers each event's
    /// result once it is kept.
    fn process(
        &self,
        events: &Prepared,
    ) -> impl Future<Output = Result<Vec<EventResult>, Self::Error>> + Send;
    /// The result event `id` had, if it was processed.
    fn event_result(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<EventResult>, Self::Error>> + Send;
}

/// The reward ledger.
pub trait LedgerStore {
    /// What storage fails with.
    type Error;
    /// Every reward issued, in issue order.
    fn ledger(&self) -> impl Future<Output = Result<Vec<Reward>, Self::Error>> + Send;
}

/// Settings every node shares (the customer-token secret).
pub trait SettingStore {
    /// What storage fails with.
    type Error;
    /// The setting `key`: the value stored, or `value`, stored now, when there was none.
    fn setting_or_insert(
        &self,
        key: &str,
        value: &str,
    ) -> impl Future<Output = Result<String, Self::Error>> + Send;
}

/// All of storage.
pub trait Storage:
    CampaignStore<Error = Self::Failure>
    + CustomerStore<Error = Self::Failure>
    + EventStore<Error = Self::Failure>
    + LedgerStore<Error = Self::Failure>
    + SettingStore<Error = Self::Failure>
{
    /// The one error of every capability.
    type Failure;
}

impl<T, E> Storage for T
where
    T: CampaignStore<Error = E>
        + CustomerStore<Error = E>
        + EventStore<Error = E>
        + LedgerStore<Error = E>
        + SettingStore<Error = E>,
{
    type Failure = E;
}

/// Storage in memory: the [`MemoryProcessor`] behind a lock, with the campaigns' versions
/// and the settings. Nothing is kept past the process.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
}

#[derive(Debug)]
struct Inner {
    processor: MemoryProcessor,
    /// Campaign key → its published versions, oldest first.
    versions: HashMap<String, Vec<CampaignSpec>>,
    settings: HashMap<String, String>,
}

impl Default for Inner {
    fn default() -> Self {
        Inner {
            processor: MemoryProcessor::new(Vec::new()),
            versions: HashMap::new(),
            settings: HashMap::new(),
        }
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        // A panic while holding the lock leaves plain data behind: go on with it.
        let mut inner = self
            .inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        f(&mut inner)
    }
}

impl CampaignStore for MemoryStore {
    type Error = crate::Error;

    async fn install_campaign(&self, spec: &CampaignSpec) -> Result<i32, Self::Error> {
        let compiled = CompiledCampaign::compile(spec.clone())?;
        Ok(self.with(|inner| {
            let versions = inner.versions.entry(spec.key.clone()).or_default();
            if versions.last() != Some(spec) {
                versions.push(spec.clone());
                inner.processor.install(compiled);
            }
            i32::try_from(versions.len()).unwrap_or(i32::MAX)
        }))
    }
}

impl CustomerStore for MemoryStore {
    type Error = crate::Error;

    async fn customer(&self, id: &str) -> Result<Option<Customer>, Self::Error> {
        Ok(self.with(|inner| inner.processor.customer(id).cloned()))
    }

    async fn upsert_customer(&self, customer: &Customer) -> Result<(), Self::Error> {
        self.with(|inner| inner.processor.upsert_customer(customer.clone()));
        Ok(())
    }
}

impl EventStore for MemoryStore {
    type Error = crate::Error;

    async fn process(&self, events: &Prepared) -> Result<Vec<EventResult>, Self::Error> {
        Ok(self.with(|inner| {
            events
                .events()
                .iter()
                .map(|incoming| match incoming {
                    Ok((event, _)) => EventResult::clone(&inner.processor.process(event)),
                    Err(refused) => EventResult::clone(refused),
                })
                .collect()
        }))
    }

    async fn event_result(&self, id: &str) -> Result<Option<EventResult>, Self::Error> {
        Ok(self.with(|inner| {
            inner
                .processor
                .result(id)
                .filter(|r| r.status == Status::Processed)
                .map(|r| EventResult::clone(&r))
        }))
    }
}

impl LedgerStore for MemoryStore {
    type Error = crate::Error;

    async fn ledger(&self) -> Result<Vec<Reward>, Self::Error> {
        Ok(self.with(|inner| inner.processor.ledger().to_vec()))
    }
}

impl SettingStore for MemoryStore {
    type Error = crate::Error;

    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, Self::Error> {
        Ok(self.with(|inner| {
            inner
                .settings
                .entry(key.to_owned())
                .or_insert_with(|| value.to_owned())
                .clone()
        }))
    }
}
