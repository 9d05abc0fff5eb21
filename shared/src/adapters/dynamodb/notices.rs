//! The notice outbox on DynamoDB: `NOTICE#<id>` / `NOTICE` items written in the transaction of the change that
//! warrants them, listed by the sparse `issue` index under `NOTICE#<shard>`, deleted when delivered.

use super::{decode, encode, s, unavailable, DynamoRecords, Item};
use crate::kernel::notice::{notice_bucket, sortable, NoticeOutbox, PendingNotice};
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::TransactWriteItem;
use chrono::{DateTime, Utc};

fn notice_pk(id: &str) -> String {
    format!("NOTICE#{id}")
}

fn notice_item(notice: &PendingNotice) -> Result<Item, StoreError> {
    let mut item = encode(notice, notice_pk(&notice.id), "NOTICE".into(), "notice")?;
    item.insert("issuePk".into(), s(notice.bucket()));
    item.insert("issueSk".into(), s(notice.key()));
    Ok(item)
}

impl DynamoRecords {
    /// The transaction items that record `notices` as pending (new ids: never over another notice).
    pub(super) fn notice_puts(&self, notices: &[PendingNotice]) -> Result<Vec<TransactWriteItem>, StoreError> {
        notices
            .iter()
            .map(|n| self.put(notice_item(n)?, "attribute_not_exists(pk)"))
            .collect()
    }
}

#[async_trait]
impl NoticeOutbox for DynamoRecords {
    async fn pending_notices(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingNotice>, StoreError> {
        let due = self
            .due_in_issue_index(notice_bucket(shard), sortable(before), limit)
            .await?;
        // The index holds keys only: each notice is read from the table (gone if delivered meanwhile).
        let mut pending = Vec::with_capacity(due.len());
        for key in &due {
            let Some(pk) = key.get("pk").and_then(|v| v.as_s().ok()) else {
                continue;
            };
            if let Some(item) = self.get(pk.clone(), "NOTICE").await? {
                pending.push(decode(item)?);
            }
        }
        Ok(pending)
    }

    async fn notice_delivered(&self, notice: &PendingNotice) -> Result<(), StoreError> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(notice_pk(&notice.id)))
            .key("sk", s("NOTICE"))
            .send()
            .await
            .map_err(|e| unavailable("DeleteItem", e))?;
        Ok(())
    }
}
