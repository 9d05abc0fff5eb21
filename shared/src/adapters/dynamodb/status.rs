//! The status lists' port on DynamoDB: a slot per taken entry (`STATUSSLOT#<list>#<idx>` / `SLOT`), a list's
//! shards (`STATUSLIST#<list>` / `SHARD#<shard>`) and its published token (`STATUSTOKEN#<list>` / `TOKEN`).
//!
//! A slot item per entry spreads the claims over as many partitions as there are entries; a list's
//! shards share its partition, which takes a shard write per status change of a document of that list
//! (a few a minute per list for thirty million licences), far from a partition's 1,000 writes a
//! second. The token is apart from the shards so that the function serving it may read tokens only.
//! A licence whose statuses wait to be published is in the sparse `issue` index as `STATUS#<shard>` /
//! `<marked at>#<serial>` (its own item's `issuePk`/`issueSk`, which its publication removes).
//! The scheduled jobs' daily signing counters are one item a local day (`SIGNS#<day>` / `SIGNS`), an attribute
//! per counter raised by conditional adds: at most a few hundred writes a day.

use super::{n, s, unavailable, DynamoRecords, Item};
use crate::issuance::budget::{SignCounter, SigningBudgetStore};
use crate::issuance::outbox::sortable;
use crate::issuance::status::{
    status_mark_bucket, LicenceVersion, PublishedList, StatusEntry, StatusListStore, StatusShard,
};
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::{AttributeValue, ConditionCheck, Put, TransactWriteItem};
use chrono::{DateTime, NaiveDate, Utc};

fn slot_pk(entry: StatusEntry) -> String {
    format!("STATUSSLOT#{}#{}", entry.list, entry.idx)
}

fn list_pk(list: u32) -> String {
    format!("STATUSLIST#{list}")
}

fn shard_sk(shard: u32) -> String {
    format!("SHARD#{shard:04}")
}

fn token_pk(list: u32) -> String {
    format!("STATUSTOKEN#{list}")
}

fn seconds(at: DateTime<Utc>) -> AttributeValue {
    AttributeValue::N(at.timestamp().to_string())
}

fn number<T: std::str::FromStr>(item: &Item, name: &str) -> Result<T, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("status list item without a numeric {name}")))
}

fn bytes(item: &Item, name: &str) -> Result<Vec<u8>, StoreError> {
    item.get(name)
        .and_then(|v| v.as_b().ok())
        .map(|b| b.as_ref().to_vec())
        .ok_or_else(|| StoreError::Corrupt(format!("status list item without its {name}")))
}

fn time(item: &Item, name: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::from_timestamp(number(item, name)?, 0)
        .ok_or_else(|| StoreError::Corrupt(format!("status list item with {name} out of range")))
}

fn shard(item: &Item) -> Result<(u32, StatusShard), StoreError> {
    let index = item
        .get("sk")
        .and_then(|v| v.as_s().ok())
        .and_then(|sk| sk.strip_prefix("SHARD#"))
        .and_then(|n| n.parse().ok())
        .ok_or_else(|| StoreError::Corrupt("a status list shard without its number".into()))?;
    Ok((
        index,
        StatusShard {
            packed: bytes(item, "packed")?,
            version: number(item, "version")?,
        },
    ))
}

#[async_trait]
impl StatusListStore for DynamoRecords {
    async fn claim_status_slot(
        &self,
        entry: StatusEntry,
        serial: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(slot_pk(entry)));
        item.insert("sk".into(), s("SLOT"));
        item.insert("kind".into(), s("status-slot"));
        item.insert("serial".into(), s(serial));
        item.insert("until".into(), seconds(until));
        // Garbage collection only: the condition below frees a slot whose document ended.
        item.insert("ttl".into(), n(u64::try_from(until.timestamp() + 86_400).unwrap_or(0)));
        self.put_when(
            item,
            "attribute_not_exists(pk) OR #until < :now",
            &[("#until", "until")],
            vec![(":now", seconds(now))],
        )
        .await
    }

    async fn status_shard(&self, list: u32, shard_index: u32) -> Result<Option<StatusShard>, StoreError> {
        match self.get(list_pk(list), &shard_sk(shard_index)).await? {
            Some(item) => Ok(Some(shard(&item)?.1)),
            None => Ok(None),
        }
    }

    async fn status_shards(&self, list: u32) -> Result<Vec<(u32, StatusShard)>, StoreError> {
        let items = self.query_prefix(&list_pk(list), "SHARD#").await?;
        items.iter().map(shard).collect()
    }

    async fn put_status_shard(
        &self,
        list: u32,
        shard: u32,
        packed: &[u8],
        expected: u64,
        guard: Option<&LicenceVersion>,
    ) -> Result<(), StoreError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(list_pk(list)));
        item.insert("sk".into(), s(shard_sk(shard)));
        item.insert("kind".into(), s("status-shard"));
        item.insert("packed".into(), AttributeValue::B(Blob::new(packed.to_vec())));
        item.insert("version".into(), n(expected + 1));
        let (condition, values) = if expected == 0 {
            ("attribute_not_exists(pk)", vec![])
        } else {
            ("#version = :expected", vec![(":expected", n(expected))])
        };
        let Some(guard) = guard else {
            let names: &[(&str, &str)] = if expected == 0 { &[] } else { &[("#version", "version")] };
            return match self.put_when(item, condition, names, values).await? {
                true => Ok(()),
                false => Err(StoreError::Conflict),
            };
        };
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if expected != 0 {
            put = put.expression_attribute_names("#version", "version");
        }
        for (placeholder, value) in values {
            put = put.expression_attribute_values(placeholder, value);
        }
        let put = put.build().map_err(|e| unavailable("Put", e))?;
        let check = ConditionCheck::builder()
            .table_name(&self.table)
            .key("pk", s(format!("EDL#{}", guard.serial)))
            .key("sk", s("EDL"))
            .condition_expression("#version = :licence")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":licence", n(guard.version))
            .build()
            .map_err(|e| unavailable("ConditionCheck", e))?;
        self.transact(
            vec![
                TransactWriteItem::builder().put(put).build(),
                TransactWriteItem::builder().condition_check(check).build(),
            ],
            |_| None,
        )
        .await
    }

    async fn published_list(&self, list: u32) -> Result<Option<PublishedList>, StoreError> {
        let Some(item) = self.get(token_pk(list), "TOKEN").await? else {
            return Ok(None);
        };
        let versions = item
            .get("shardVersions")
            .and_then(|v| v.as_l().ok())
            .ok_or_else(|| StoreError::Corrupt("a status list token without its shard versions".into()))?
            .iter()
            .map(|v| v.as_n().ok().and_then(|n| n.parse().ok()))
            .collect::<Option<Vec<u64>>>()
            .ok_or_else(|| StoreError::Corrupt("a status list token's shard versions are not numbers".into()))?;
        Ok(Some(PublishedList {
            list,
            token: bytes(&item, "token")?,
            issued_at: time(&item, "issuedAt")?,
            expires_at: time(&item, "expiresAt")?,
            shard_versions: versions,
        }))
    }

    async fn publish_list(&self, published: &PublishedList) -> Result<(), StoreError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(token_pk(published.list)));
        item.insert("sk".into(), s("TOKEN"));
        item.insert("kind".into(), s("status-token"));
        item.insert("token".into(), AttributeValue::B(Blob::new(published.token.clone())));
        item.insert("issuedAt".into(), seconds(published.issued_at));
        item.insert("expiresAt".into(), seconds(published.expires_at));
        item.insert(
            "shardVersions".into(),
            AttributeValue::L(published.shard_versions.iter().map(|v| n(*v)).collect()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    async fn marked_for_publication(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let due = self
            .due_in_issue_index(status_mark_bucket(shard), sortable(before), limit)
            .await?;
        Ok(due
            .iter()
            .filter_map(|item| item.get("issueSk").and_then(|v| v.as_s().ok()))
            .filter_map(|key| key.rsplit_once('#').map(|(_, serial)| serial.to_string()))
            .collect())
    }

    async fn clear_status_mark(&self, serial: &str, version: u64) -> Result<(), StoreError> {
        let cleared = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(format!("EDL#{serial}")))
            .key("sk", s("EDL"))
            .update_expression("REMOVE statusToPublish, issuePk, issueSk")
            .condition_expression("#version = :version")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":version", n(version))
            .send()
            .await;
        match cleared {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(unavailable("UpdateItem", e)),
        }
    }
}

fn signs_pk(day: NaiveDate) -> String {
    format!("SIGNS#{day}")
}

fn counter_attribute(counter: SignCounter) -> &'static str {
    match counter {
        SignCounter::Refresh => "refreshSigns",
        SignCounter::StatusLists => "statusListSigns",
    }
}

/// The counters are kept a week after their day (for the operator's questions), then expire.
fn signs_ttl(day: NaiveDate) -> AttributeValue {
    let end = crate::kernel::time::local_instant(day, chrono::NaiveTime::MIN) + chrono::Duration::days(8);
    n(u64::try_from(end.timestamp()).unwrap_or(0))
}

#[async_trait]
impl SigningBudgetStore for DynamoRecords {
    async fn take_signs(&self, day: NaiveDate, counter: SignCounter, count: u64, cap: u64) -> Result<bool, StoreError> {
        let Some(room) = cap.checked_sub(count) else {
            return Ok(false);
        };
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(signs_pk(day)))
            .key("sk", s("SIGNS"))
            .update_expression("ADD #counter :count SET #kind = :kind, #ttl = :ttl")
            .condition_expression("attribute_not_exists(#counter) OR #counter <= :room")
            .expression_attribute_names("#counter", counter_attribute(counter))
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_values(":count", n(count))
            .expression_attribute_values(":room", n(room))
            .expression_attribute_values(":kind", s("sign-budget"))
            .expression_attribute_values(":ttl", signs_ttl(day))
            .send()
            .await;
        match taken {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("UpdateItem", e)),
        }
    }

    async fn give_back_signs(&self, day: NaiveDate, counter: SignCounter, count: u64) -> Result<(), StoreError> {
        let back = i64::try_from(count).map_err(|_| StoreError::Corrupt("too many signatures to give back".into()))?;
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(signs_pk(day)))
            .key("sk", s("SIGNS"))
            .update_expression("ADD #counter :back")
            .expression_attribute_names("#counter", counter_attribute(counter))
            .expression_attribute_values(":back", AttributeValue::N((-back).to_string()))
            .send()
            .await
            .map_err(|e| unavailable("UpdateItem", e))?;
        Ok(())
    }

    async fn signs_taken(&self, day: NaiveDate, counter: SignCounter) -> Result<u64, StoreError> {
        let Some(item) = self.get(signs_pk(day), "SIGNS").await? else {
            return Ok(0);
        };
        match item.get(counter_attribute(counter)) {
            None => Ok(0),
            Some(_) => {
                let taken: i64 = number(&item, counter_attribute(counter))?;
                Ok(u64::try_from(taken).unwrap_or(0))
            }
        }
    }
}
