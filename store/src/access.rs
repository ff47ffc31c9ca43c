//! API keys (stored hashed) and server settings shared by every node (the customer-token
//! signing secret).

use crate::Store;
use crate::error::Result;
use chrono::{DateTime, Utc};
use engine::StoredKey;
use entities::{api_key, setting};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

fn stored(row: api_key::Model) -> StoredKey {
    StoredKey {
        id: row.id,
        name: row.name,
        scopes: row
            .scopes
            .split(',')
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
            .collect(),
        hash: row.hash,
        created_at: row.created_at,
        revoked_at: row.revoked_at,
    }
}

impl Store {
    /// Stores a new key.
    pub async fn insert_key(&self, key: &StoredKey) -> Result<()> {
        api_key::Entity::insert(api_key::ActiveModel {
            id: Set(key.id.clone()),
            name: Set(key.name.clone()),
            scopes: Set(key.scopes.join(",")),
            hash: Set(key.hash.clone()),
            created_at: Set(key.created_at),
            revoked_at: Set(key.revoked_at),
        })
        .exec_without_returning(&self.db)
        .await?;
        Ok(())
    }

    /// Every key, oldest first, revoked ones included.
    pub async fn keys(&self) -> Result<Vec<StoredKey>> {
        let rows = api_key::Entity::find()
            .order_by_asc(api_key::Column::CreatedAt)
            .order_by_asc(api_key::Column::Id)
            .all(&self.db)
            .await?;
        Ok(rows.into_iter().map(stored).collect())
    }

    /// Key `id`, if there is one.
    pub async fn key(&self, id: &str) -> Result<Option<StoredKey>> {
        let row = api_key::Entity::find_by_id(id.to_owned())
            .one(&self.db)
            .await?;
        Ok(row.map(stored))
    }

    /// Revokes key `id` at `at` unless it was revoked before (one conditional update, so the
    /// first revocation's time stays); the key as it now is, or `None` when there is no such
    /// key.
    pub async fn revoke_key(&self, id: &str, at: DateTime<Utc>) -> Result<Option<StoredKey>> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, Expr::value(Some(at)))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&self.db)
            .await?;
        self.key(id).await
    }

    /// The setting `key`: the value stored, or `value`, stored now, when there was none. The
    /// first node to ask decides, every other reads what it stored.
    pub async fn setting_or_insert(&self, key: &str, value: &str) -> Result<String> {
        setting::Entity::insert(setting::ActiveModel {
            key: Set(key.to_owned()),
            value: Set(value.to_owned()),
        })
        .on_conflict(
            OnConflict::column(setting::Column::Key)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(&self.db)
        .await?;
        let row = setting::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?;
        Ok(row.map_or_else(|| value.to_owned(), |r| r.value))
    }
}
