//! [`Store`] as the engine's storage traits ([`engine::ports`]): each a thin call to the
//! method that does the work.

use crate::Store;
use crate::error::Error;
use campaigns::{CampaignSpec, Customer};
use engine::ports::{CampaignStore, CustomerStore, EventStore, LedgerStore, SettingStore};
use engine::{EventResult, Prepared, Reward};

impl CampaignStore for Store {
    type Error = Error;

    async fn install_campaign(&self, spec: &CampaignSpec) -> Result<i32, Error> {
        Store::install_campaign(self, spec).await
    }
}

impl CustomerStore for Store {
    type Error = Error;

    async fn customer(&self, id: &str) -> Result<Option<Customer>, Error> {
        Store::customer(self, id).await
    }

    async fn upsert_customer(&self, customer: &Customer) -> Result<(), Error> {
        Store::upsert_customer(self, customer).await
    }
}

impl EventStore for Store {
    type Error = Error;

    async fn process(&self, events: &Prepared) -> Result<Vec<EventResult>, Error> {
        self.process_prepared(events).await
    }

    async fn event_result(&self, id: &str) -> Result<Option<EventResult>, Error> {
        Store::event_result(self, id).await
    }
}

impl LedgerStore for Store {
    type Error = Error;

    async fn ledger(&self) -> Result<Vec<Reward>, Error> {
        Ok(self
            .rewards()
            .await?
            .into_iter()
            .map(|e| e.reward)
            .collect())
    }
}

impl SettingStore for Store {
    type Error = Error;

    async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String, Error> {
        Store::setting_or_insert(self, key, value).await
    }
}
