//! The issuance context's port on DynamoDB: electronic licences (`EDL#<serial>`), each holder's current one
//! (`HOLDER#<identity>` / `EDL`), issuance as one transaction, and the outbox of approvals still to issue.

use super::applications::application_item;
use super::{decode, encode, s, unavailable, with_expiry, DynamoRecords, Item};
use crate::expiry;
use crate::issuance::document;
use crate::issuance::edl::ElectronicLicence;
use crate::issuance::outbox::{self, IssuanceOutbox};
use crate::issuance::ports::{Issuance, LicenceStore};
use crate::kernel::notice::PendingNotice;
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};

/// The electronic licence's item, in the expiry and refresh indexes while it is active, and in the `issue`
/// index under `STATUS#<shard>` while it has statuses to publish (an application is there under `ISSUE#`;
/// the two never share an item).
fn edl_item(licence: &ElectronicLicence) -> Result<Item, StoreError> {
    let item = encode(licence, format!("EDL#{}", licence.serial), "EDL".into(), "edl")?;
    let mut item = with_expiry(item, expiry::licence_entry(licence));
    if let Some(entry) = document::refresh_entry(licence) {
        item.insert("refreshPk".into(), s(entry.bucket));
        item.insert("refreshSk".into(), s(entry.key));
    }
    if let Some(entry) = crate::issuance::status::status_mark_entry(licence) {
        item.insert("issuePk".into(), s(entry.bucket));
        item.insert("issueSk".into(), s(entry.key));
    }
    Ok(item)
}

#[async_trait]
impl LicenceStore for DynamoRecords {
    async fn electronic_licence(&self, serial: &str) -> Result<Option<ElectronicLicence>, StoreError> {
        self.get(format!("EDL#{serial}"), "EDL").await?.map(decode).transpose()
    }

    async fn current_serial_of(&self, holder_id: &str) -> Result<Option<String>, StoreError> {
        let item = self.get(format!("HOLDER#{holder_id}"), "EDL").await?;
        Ok(item
            .and_then(|i| i.get("serial").cloned())
            .and_then(|v| v.as_s().ok().cloned()))
    }

    async fn record_issuance(&self, issuance: &Issuance) -> Result<(), StoreError> {
        let licence = &issuance.licence;
        let application = &issuance.application;
        let mut items = vec![
            self.put(edl_item(licence)?, "attribute_not_exists(pk)")?,
            self.versioned_put(application_item(application)?, issuance.application_expected_version)?,
        ];
        items.push(self.release_slot(application)?);
        let mut pointer = Item::new();
        pointer.insert("pk".into(), s(format!("HOLDER#{}", licence.holder_id)));
        pointer.insert("sk".into(), s("EDL"));
        pointer.insert("kind".into(), s("holder-edl"));
        pointer.insert("serial".into(), s(&licence.serial));
        let pointer = Put::builder()
            .table_name(&self.table)
            .set_item(Some(pointer))
            .build()
            .map_err(|e| unavailable("Put", e))?;
        items.push(TransactWriteItem::builder().put(pointer).build());
        if let Some((old, expected)) = &issuance.superseded {
            items.push(self.versioned_put(edl_item(old)?, *expected)?);
        }
        items.extend(self.notice_puts(&issuance.notices)?);
        self.transact(items, |index| (index == 0).then_some(StoreError::AlreadyExists))
            .await
    }

    async fn update_electronic_licence_noting(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        let mut items = vec![self.versioned_put(edl_item(licence)?, expected_version)?];
        items.extend(self.notice_puts(notices)?);
        self.transact(items, |_| None).await
    }
}

#[async_trait]
impl IssuanceOutbox for DynamoRecords {
    async fn awaiting_issuance(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let due = self
            .due_in_issue_index(outbox::issue_bucket(shard), outbox::sortable(before), limit)
            .await?;
        Ok(due
            .iter()
            .filter_map(|item| item.get("issueSk").and_then(|v| v.as_s().ok()))
            .filter_map(|key| key.split_once('#').map(|(_, id)| id.to_string()))
            .collect())
    }
}
