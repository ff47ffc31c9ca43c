//! Campaign authoring: editable drafts, immutable published versions, the lifecycle, and the
//! audit log.
//!
//! Guarantees, and how:
//! - **Published versions never change.** `campaign_versions` rows are only ever inserted;
//!   publishing a changed draft inserts the next version, publishing an unchanged one is a no-op.
//! - **Every change is audited.** A change and its audit entry (who, when, what changed) commit
//!   in the same transaction, so there is no change without its entry and no entry without its
//!   change.
//! - **Only legal transitions happen.** Each [`Transition`] names the statuses it applies to;
//!   the status is read and written in one transaction, and any other is refused with a
//!   [`Error::Conflict`] that names the status found and the ones allowed.
//!
//! Only `published` campaigns process events; `paused`, `ended` and `archived` ones keep their
//! customers' progress and ledger but ignore new events.

use super::Store;
use crate::error::{Error, Result};
use campaigns::{CampaignSpec, CompiledCampaign};
use chrono::{DateTime, Utc};
use engine::{AuditEntry, CampaignRecord, CampaignStatus, CampaignVersion, Transition};
use entities::{audit_log, budget, campaign, campaign_version};
use sea_orm::sea_query::OnConflict;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbErr, EntityTrait,
    QueryFilter, QueryOrder, QuerySelect, SqlErr, TransactionTrait,
};
use serde_json::{Value, json};

impl Store {
    /// Creates a campaign as a draft. Refused if the key is taken.
    pub async fn create_campaign(
        &self,
        spec: &CampaignSpec,
        actor: &str,
    ) -> Result<CampaignRecord> {
        spec.validate()?;
        let now = Utc::now();
        let txn = self.db.begin().await?;
        if campaign::Entity::find_by_id(spec.key.clone())
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(taken(&spec.key));
        }
        let row = campaign::ActiveModel {
            key: Set(spec.key.clone()),
            name: Set(spec.name.clone()),
            status: Set(CampaignStatus::Draft.as_str().to_owned()),
            draft: Set(serde_json::to_string(spec)?),
            version: Set(0),
            created_at: Set(now),
            updated_at: Set(now),
        };
        campaign::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
            .map_err(|e| match e.sql_err() {
                Some(SqlErr::UniqueConstraintViolation(_)) => taken(&spec.key),
                _ => Error::from(e),
            })?;
        audit(
            &txn,
            actor,
            "campaign.create",
            &spec.key,
            json!({ "spec": spec }),
        )
        .await?;
        txn.commit().await?;
        self.offers.invalidate_all();
        self.campaign(&spec.key)
            .await?
            .ok_or_else(|| not_found(&spec.key))
    }

    /// Replaces a campaign's draft. The published version, if any, is untouched until the
    /// next [`Store::publish_campaign`]. Refused for ended and archived campaigns.
    pub async fn update_campaign(
        &self,
        key: &str,
        spec: &CampaignSpec,
        actor: &str,
    ) -> Result<CampaignRecord> {
        spec.validate()?;
        if spec.key != key {
            return Err(Error::spec(campaigns::Diagnostics(vec![
                campaigns::Diagnostic::new(
                    "key",
                    campaigns::Code::InvalidValue,
                    format!(
                        "is `{}`, but the campaign being updated is `{key}`; a campaign's key cannot change",
                        spec.key
                    ),
                ),
            ])));
        }
        let txn = self.db.begin().await?;
        let row = find(&txn, key).await?;
        let status = CampaignStatus::parse(&row.status)?;
        if !status.editable() {
            return Err(Error::conflict(format!(
                "cannot update campaign `{key}`: it is {status}; only draft, published and paused campaigns can be changed"
            )));
        }
        let before: Value = serde_json::from_str(&row.draft)?;
        let after = serde_json::to_value(spec)?;
        let mut changes = Vec::new();
        diff("", &before, &after, &mut changes);
        if !changes.is_empty() {
            let mut active: campaign::ActiveModel = row.into();
            active.name = Set(spec.name.clone());
            active.draft = Set(serde_json::to_string(spec)?);
            active.updated_at = Set(Utc::now());
            campaign::Entity::update(active).exec(&txn).await?;
            audit(
                &txn,
                actor,
                "campaign.update",
                key,
                json!({ "changes": changes }),
            )
            .await?;
        }
        txn.commit().await?;
        self.offers.invalidate_all();
        self.campaign(key).await?.ok_or_else(|| not_found(key))
    }

    /// Publishes the draft as the next immutable version (nothing happens when it equals the
    /// latest version). A draft campaign becomes published; a paused one stays paused.
    pub async fn publish_campaign(&self, key: &str, actor: &str) -> Result<CampaignRecord> {
        let txn = self.db.begin().await?;
        let row = find(&txn, key).await?;
        let status = CampaignStatus::parse(&row.status)?;
        if !status.editable() {
            return Err(Error::conflict(format!(
                "cannot publish campaign `{key}`: it is {status}; only draft, published and paused campaigns can be published"
            )));
        }
        let draft: CampaignSpec = serde_json::from_str(&row.draft)?;
        CompiledCampaign::compile(draft.clone())?;
        let latest = latest_spec(&txn, key, row.version).await?;
        if latest.as_ref() == Some(&draft) {
            txn.commit().await?;
            return self.campaign(key).await?.ok_or_else(|| not_found(key));
        }
        let version = row.version + 1;
        let now = Utc::now();
        insert_version(&txn, &draft, version, now).await?;
        put_budget(&txn, &draft).await?;
        let next = match status {
            CampaignStatus::Draft => CampaignStatus::Published,
            other => other,
        };
        let mut active: campaign::ActiveModel = row.into();
        active.version = Set(version);
        active.status = Set(next.as_str().to_owned());
        active.updated_at = Set(now);
        campaign::Entity::update(active).exec(&txn).await?;
        let details = json!({ "version": version, "from": status, "to": next });
        audit(&txn, actor, "campaign.publish", key, details).await?;
        txn.commit().await?;
        self.offers.invalidate_all();
        self.campaign(key).await?.ok_or_else(|| not_found(key))
    }

    /// Pauses, resumes, ends or archives a campaign, refusing transitions its status does not
    /// allow.
    pub async fn transition(
        &self,
        key: &str,
        transition: Transition,
        actor: &str,
    ) -> Result<CampaignRecord> {
        let txn = self.db.begin().await?;
        let row = find(&txn, key).await?;
        let status = CampaignStatus::parse(&row.status)?;
        let allowed = transition.from();
        if !allowed.contains(&status) {
            let names: Vec<&str> = allowed.iter().map(|s| s.as_str()).collect();
            return Err(Error::conflict(format!(
                "cannot {} campaign `{key}`: it is {status}; {} applies to {} campaigns",
                transition.name(),
                transition.name(),
                names.join(" or ")
            )));
        }
        let to = transition.to();
        let mut active: campaign::ActiveModel = row.into();
        active.status = Set(to.as_str().to_owned());
        active.updated_at = Set(Utc::now());
        campaign::Entity::update(active).exec(&txn).await?;
        let action = format!("campaign.{}", transition.name());
        audit(
            &txn,
            actor,
            &action,
            key,
            json!({ "from": status, "to": to }),
        )
        .await?;
        txn.commit().await?;
        self.offers.invalidate_all();
        self.campaign(key).await?.ok_or_else(|| not_found(key))
    }

    /// One campaign.
    pub async fn campaign(&self, key: &str) -> Result<Option<CampaignRecord>> {
        match campaign::Entity::find_by_id(key.to_owned())
            .one(&self.db)
            .await?
        {
            Some(row) => Ok(Some(record(&self.db, row).await?)),
            None => Ok(None),
        }
    }

    /// Campaigns in key order, after `after`, at most `limit`, optionally of one status.
    pub async fn campaigns(
        &self,
        status: Option<CampaignStatus>,
        after: Option<&str>,
        limit: u64,
    ) -> Result<Vec<CampaignRecord>> {
        let mut query = campaign::Entity::find().order_by_asc(campaign::Column::Key);
        if let Some(s) = status {
            query = query.filter(campaign::Column::Status.eq(s.as_str()));
        }
        if let Some(a) = after {
            query = query.filter(campaign::Column::Key.gt(a));
        }
        let rows = query.limit(limit).all(&self.db).await?;
        let mut records = Vec::with_capacity(rows.len());
        for row in rows {
            records.push(record(&self.db, row).await?);
        }
        Ok(records)
    }

    /// Every published version of a campaign, oldest first.
    pub async fn campaign_versions(&self, key: &str) -> Result<Vec<CampaignVersion>> {
        let rows = campaign_version::Entity::find()
            .filter(campaign_version::Column::Key.eq(key))
            .order_by_asc(campaign_version::Column::Version)
            .all(&self.db)
            .await?;
        rows.into_iter()
            .map(|r| {
                Ok(CampaignVersion {
                    version: r.version,
                    spec: serde_json::from_str(&r.spec)?,
                    published_at: r.published_at,
                })
            })
            .collect()
    }

    /// Audit entries, newest first: of one campaign or of all, before entry `before`, at most
    /// `limit`.
    pub async fn audit_log(
        &self,
        campaign: Option<&str>,
        before: Option<i64>,
        limit: u64,
    ) -> Result<Vec<AuditEntry>> {
        let mut query = audit_log::Entity::find().order_by_desc(audit_log::Column::Id);
        if let Some(c) = campaign {
            query = query.filter(audit_log::Column::Campaign.eq(c));
        }
        if let Some(b) = before {
            query = query.filter(audit_log::Column::Id.lt(b));
        }
        let rows = query.limit(limit).all(&self.db).await?;
        rows.into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: r.id,
                    at: r.at,
                    actor: r.actor,
                    action: r.action,
                    campaign: r.campaign,
                    details: serde_json::from_str(&r.details)?,
                })
            })
            .collect()
    }
}

fn taken(key: &str) -> Error {
    Error::conflict(format!(
        "campaign `{key}` already exists; change its draft with updateCampaign"
    ))
}

fn not_found(key: &str) -> Error {
    Error::not_found(format!("no campaign with key `{key}`"))
}

async fn find(txn: &DatabaseTransaction, key: &str) -> Result<campaign::Model> {
    campaign::Entity::find_by_id(key.to_owned())
        .one(txn)
        .await?
        .ok_or_else(|| not_found(key))
}

async fn latest_spec(
    db: &impl ConnectionTrait,
    key: &str,
    version: i32,
) -> Result<Option<CampaignSpec>> {
    if version == 0 {
        return Ok(None);
    }
    let row = campaign_version::Entity::find_by_id((key.to_owned(), version))
        .one(db)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("{key} v{version}")))?;
    Ok(Some(serde_json::from_str(&row.spec)?))
}

async fn record(db: &impl ConnectionTrait, row: campaign::Model) -> Result<CampaignRecord> {
    Ok(CampaignRecord {
        status: CampaignStatus::parse(&row.status)?,
        draft: serde_json::from_str(&row.draft)?,
        published: latest_spec(db, &row.key, row.version).await?,
        version: row.version,
        created_at: row.created_at,
        updated_at: row.updated_at,
    })
}

/// Inserts a published version; versions are never updated.
pub(super) async fn insert_version(
    txn: &DatabaseTransaction,
    spec: &CampaignSpec,
    version: i32,
    at: DateTime<Utc>,
) -> Result<()> {
    campaign_version::Entity::insert(campaign_version::ActiveModel {
        key: Set(spec.key.clone()),
        version: Set(version),
        spec: Set(serde_json::to_string(spec)?),
        published_at: Set(at),
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Creates the campaign's budget row, or moves its cap to the spec's `max_rewards`; what was
/// taken stays.
pub(super) async fn put_budget(txn: &DatabaseTransaction, spec: &CampaignSpec) -> Result<()> {
    let max = spec
        .limits
        .max_rewards
        .map(|m| i64::try_from(m).unwrap_or(i64::MAX));
    budget::Entity::insert(budget::ActiveModel {
        campaign: Set(spec.key.clone()),
        taken: Set(0),
        max: Set(max),
    })
    .on_conflict(
        OnConflict::column(budget::Column::Campaign)
            .update_column(budget::Column::Max)
            .to_owned(),
    )
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// Appends an audit entry in the caller's transaction.
pub(super) async fn audit(
    txn: &DatabaseTransaction,
    actor: &str,
    action: &str,
    campaign: &str,
    details: Value,
) -> Result<()> {
    audit_log::Entity::insert(audit_log::ActiveModel {
        at: Set(Utc::now()),
        actor: Set(actor.to_owned()),
        action: Set(action.to_owned()),
        campaign: Set(Some(campaign.to_owned())),
        details: Set(details.to_string()),
        ..Default::default()
    })
    .exec_without_returning(txn)
    .await?;
    Ok(())
}

/// The fields that differ between two spec documents, each with its path and its values
/// before and after (`null` where absent). Objects are compared field by field; anything else
/// (lists included) as a whole.
fn diff(path: &str, before: &Value, after: &Value, out: &mut Vec<Value>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for k in keys {
                let child = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                let null = Value::Null;
                diff(
                    &child,
                    b.get(k).unwrap_or(&null),
                    a.get(k).unwrap_or(&null),
                    out,
                );
            }
        }
        _ if before != after => {
            out.push(json!({ "path": path, "before": before, "after": after }));
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diff_names_each_changed_field() {
        let before = json!({"name": "a", "goal": {"kind": "count", "target": 3}, "rewards": [1]});
        let after = json!({"name": "a", "goal": {"kind": "count", "target": 5, "within": "7d"}, "rewards": [2]});
        let mut out = Vec::new();
        diff("", &before, &after, &mut out);
        assert_eq!(
            out,
            vec![
                json!({"path": "goal.target", "before": 3, "after": 5}),
                json!({"path": "goal.within", "before": null, "after": "7d"}),
                json!({"path": "rewards", "before": [1], "after": [2]}),
            ]
        );
        let mut none = Vec::new();
        diff("", &before, &before, &mut none);
        assert!(none.is_empty());
    }

    #[test]
    fn transitions_name_their_statuses() {
        use CampaignStatus::*;
        let table = [
            (Transition::Pause, Published, Paused),
            (Transition::Resume, Paused, Published),
            (Transition::End, Paused, Ended),
            (Transition::Archive, Ended, Archived),
        ];
        for (t, from, to) in table {
            assert!(t.from().contains(&from), "{t:?}");
            assert_eq!(t.to(), to);
        }
        assert!(!Transition::Resume.from().contains(&Published));
        assert!(!Transition::Archive.from().contains(&Published));
        for s in CampaignStatus::ALL {
            assert_eq!(CampaignStatus::parse(s.as_str()).unwrap(), s);
        }
    }
}
