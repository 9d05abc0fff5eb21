//! The DynamoDB adapter of every context's records ports: one table, conditional writes, transactions
//! where two items change together.
//!
//! Keys (`pk`, `sk`):
//! - `LICENCE#<number>` / `LICENCE`: the paper licence; `CHANGE#<at>#<version>`: its changes.
//! - `OPENAPP#<number>` / `OPEN_APPLICATION`: the lock that allows one open application per
//!   licence, in a partition of its own so that the functions that take and release it may
//!   never write the licence (least privilege by partition, `template.yaml`).
//! - `HOLDER#<identity>` / `LICENCE`: which licence a holder has.
//! - `APP#<id>` / `APP`: an application with its history.
//! - `ROLLOUT` / `CITY#<code>`, `WAVE#<id>`, `CHANGE#<at>#<id>`: the staged rollout.
//! - `PHOTO#<sha256>` / `PHOTO`: which holder submitted these image bytes (R15).
//! - `EDL#<serial>` / `EDL`: an issued electronic licence.
//! - `SHOWCODE#<serial>` / `SHOWCODE`: its current show code, apart from the licence so that
//!   the licence function may keep codes and never write a licence.
//! - `HOLDER#<identity>` / `EDL`: the serial of the holder's latest electronic licence.
//! - `TRUST` / `<role>#<kid>`: certificates and the keys behind them.
//! - `NONCE#<nonce>` / `NONCE`: a verifier's drawn nonce until it is consumed (a conditional delete).
//! - `QUOTA#<organisation>#<window start>#<shard>` / `QUOTA`: one shard of an organisation's
//!   verification count in one window (conditional atomic adds).
//! - `STATUSSLOT#<list>#<idx>` / `SLOT`: a status list entry taken by a document until it ends;
//!   `STATUSLIST#<list>` / `SHARD#<shard>`: a list's statuses, 2^16 entries a shard, versioned;
//!   `STATUSTOKEN#<list>` / `TOKEN`: its published, signed token (see `crate::issuance::status`).
//! - `SIGNS#<local day>` / `SIGNS`: the scheduled jobs' signatures that day, a counter each for the refresh
//!   and the status lists (see `crate::issuance::budget`).
//! - `CHECKS#<holder>` / `<at>#<id>`: who verified the holder's licences (R15);
//!   `CHECKS#unmatched#<day>#<shard>` for codes that named no known licence (eight shards by check id).
//!
//! - `TRUCKRULES` / `CITY#<code>`: a city's truck rules; `CHANGE#<code>#<at>#<id>`: their changes.
//! - `VEHICLE#<plate>` / `VEHICLE`: the vehicle register; `PASSES`: the version of the
//!   vehicle's pass list (every new pass is conditional on it); `PASS#<created>#<id>`: a copy
//!   of each of its passes.
//! - `PASS#<id>` / `PASS`: a truck pass; `SHOWCODE`: its current show code.
//! - `NOTICE#<id>` / `NOTICE`: a notice to a holder or fleet not yet delivered (the notice outbox).
//! - `PASSCHECKS#<id>` / `<at>#<check id>`: a pass's verifications, in a partition of their
//!   own so that the verify function may write checks and never a pass;
//!   `PASSCHECKS#unmatched#<day>#<shard>` for credentials that did not verify.
//! - `OWNER#<identity>` and `FLEET#<fleet>` / `PASS#<created>#<id>`: copies of the passes
//!   of an owner's and a fleet's vehicles, written in the same transaction as the pass, read a page at a time;
//!   they (and the vehicle's copies) expire by TTL a year after the pass's last day.
//!
//! The sparse index `queue` (`queuePk`, `queueSk`, keys only) holds an application only while it waits for
//! review, in one of four shards: `REVIEW#<shard>` / `<due time>#<id>`, or `REVIEW#reported#<shard>` once the
//! expiry job reported it overdue; a truck pass likewise as `PASSREVIEW#<shard>` / `<due time>#<id>`. A page
//! merges the shards (and the unsharded `REVIEW`, `PASSREVIEW` of entries written before), then reads the listed
//! items whole (see `crate::kernel::queue`).
//!
//! The sparse index `expiry` (`expiryPk`, `expirySk`, keys only) holds what the
//! scheduled job will end, by local day: an active electronic licence as
//! `EDL#<last valid day>` / `<serial>`, an application the applicant must act
//! on as `APP#<day it counts as abandoned>` / `<id>`, a pending or active
//! truck pass as `PASS#<last valid day>` / `<id>`, each day in one of eight
//! shards by key (`APP#<day>#<shard>`; the unsharded `APP#<day>` of entries
//! written before is still read, see `crate::expiry`).
//!
//! The sparse index `refresh` (`refreshPk`, `refreshSk`, keys only) holds an active electronic
//! licence by the local day its signed document comes due for re-signing, in one of a few shards:
//! `REFRESH#<day>#<shard>` / `<serial>` (see `crate::issuance::document`).
//!
//! The sparse index `issue` (`issuePk`, `issueSk`, keys only) is the issuance outbox: an approved
//! application, written there by the approval itself and taken out by the issuance transaction, as
//! `ISSUE#<shard>` / `<approval time>#<id>` in one of eight shards (see `crate::issuance::outbox`).
//! It is the notice outbox too: a notice item `NOTICE#<id>` / `NOTICE`, written in the transaction of the
//! change that warrants it and deleted on delivery, is there as `NOTICE#<shard>` / `<time>#<id>`
//! (see `crate::kernel::notice`); and an electronic licence whose status list flip is not done yet, as
//! `STATUS#<shard>` / `<marked at>#<serial>` (see `crate::issuance::status::status_mark_entry`).
//!
//! The contexts' ports are implemented one file each; this file holds the
//! table, the item encoding and the conditional writes they share.

mod applications;
mod issuance;
mod notices;
mod register;
mod shared;
mod status;
mod truck;
mod verification;

use crate::expiry::ExpiryEntry;
use crate::kernel::queue::{self as kernel_queue, QueueQuery, ShardPage};
use crate::kernel::store::StoreError;
use crate::kernel::versioned::SHIPPED_VERSION;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    KeysAndAttributes, Projection, ProjectionType, Put, ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// Attributes the adapter adds around a domain record; removed before decoding.
const KEY_ATTRIBUTES: [&str; 12] = [
    "pk",
    "sk",
    "kind",
    "ttl",
    "queuePk",
    "queueSk",
    "expiryPk",
    "expirySk",
    "refreshPk",
    "refreshSk",
    "issuePk",
    "issueSk",
];

const QUEUE_INDEX: &str = "queue";
const EXPIRY_INDEX: &str = "expiry";
const REFRESH_INDEX: &str = "refresh";
const ISSUE_INDEX: &str = "issue";

#[derive(Clone)]
pub struct DynamoRecords {
    client: Client,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: u64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn unavailable<E: std::error::Error + 'static>(operation: &str, e: E) -> StoreError {
    StoreError::Unavailable(format!("{operation}: {}", DisplayErrorContext(e)))
}

fn encode<T: Serialize>(record: &T, pk: String, sk: String, kind: &str) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::aws_sdk_dynamodb_1::to_item(record)
        .map_err(|e| StoreError::Corrupt(format!("cannot encode {kind}: {e}")))?;
    item.insert("pk".into(), s(pk));
    item.insert("sk".into(), s(sk));
    item.insert("kind".into(), s(kind));
    Ok(item)
}

fn decode<T: DeserializeOwned>(mut item: Item) -> Result<T, StoreError> {
    // The error names the item's kind, not its key: keys hold identity numbers (`HOLDER#<id>`), and the
    // error reaches the logs.
    let kind = item
        .get("kind")
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default();
    for attribute in KEY_ATTRIBUTES {
        item.remove(attribute);
    }
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item)
        .map_err(|e| StoreError::Corrupt(format!("a stored {kind} item: {}", without_values(&e.to_string()))))
}

/// A decoding error without the values it quotes (`invalid type: string "…"`), which may be a name or an
/// identity number.
fn without_values(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut open: Option<char> = None;
    for c in message.chars() {
        match open {
            Some(quote) if c == quote => {
                out.push('…');
                out.push(c);
                open = None;
            }
            Some(_) => {}
            None => {
                out.push(c);
                if c == '"' || c == '`' {
                    open = Some(c);
                }
            }
        }
    }
    out
}

/// A time that sorts as text in time order (fixed width, UTC).
fn sortable(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// Puts the record in the expiry index when it has an entry. Every write
/// replaces the whole item, so a record without one leaves the index.
fn with_expiry(mut item: Item, entry: Option<ExpiryEntry>) -> Item {
    if let Some(entry) = entry {
        item.insert("expiryPk".into(), s(entry.bucket));
        item.insert("expirySk".into(), s(entry.key));
    }
    item
}

impl DynamoRecords {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoRecords {
            client,
            table: table.into(),
        }
    }

    /// Creates the table as `template.yaml` declares it (for tests and the
    /// local server pointed at an emulator) and waits until it is active.
    pub async fn create_table(client: &Client, table: &str) -> Result<(), StoreError> {
        let attribute = |name: &str| {
            AttributeDefinition::builder()
                .attribute_name(name)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| unavailable("CreateTable", e))
        };
        let key = |name: &str, kind: KeyType| {
            KeySchemaElement::builder()
                .attribute_name(name)
                .key_type(kind)
                .build()
                .map_err(|e| unavailable("CreateTable", e))
        };
        let created = client
            .create_table()
            .table_name(table)
            .billing_mode(BillingMode::PayPerRequest)
            .attribute_definitions(attribute("pk")?)
            .attribute_definitions(attribute("sk")?)
            .attribute_definitions(attribute("queuePk")?)
            .attribute_definitions(attribute("queueSk")?)
            .attribute_definitions(attribute("expiryPk")?)
            .attribute_definitions(attribute("expirySk")?)
            .attribute_definitions(attribute("refreshPk")?)
            .attribute_definitions(attribute("refreshSk")?)
            .attribute_definitions(attribute("issuePk")?)
            .attribute_definitions(attribute("issueSk")?)
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(QUEUE_INDEX)
                    .key_schema(key("queuePk", KeyType::Hash)?)
                    .key_schema(key("queueSk", KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                    .build()
                    .map_err(|e| unavailable("CreateTable", e))?,
            )
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(EXPIRY_INDEX)
                    .key_schema(key("expiryPk", KeyType::Hash)?)
                    .key_schema(key("expirySk", KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                    .build()
                    .map_err(|e| unavailable("CreateTable", e))?,
            )
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(REFRESH_INDEX)
                    .key_schema(key("refreshPk", KeyType::Hash)?)
                    .key_schema(key("refreshSk", KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                    .build()
                    .map_err(|e| unavailable("CreateTable", e))?,
            )
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(ISSUE_INDEX)
                    .key_schema(key("issuePk", KeyType::Hash)?)
                    .key_schema(key("issueSk", KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::KeysOnly).build())
                    .build()
                    .map_err(|e| unavailable("CreateTable", e))?,
            )
            .send()
            .await;
        if let Err(e) = created {
            if e.as_service_error().and_then(|e| e.code()) != Some("ResourceInUseException") {
                return Err(unavailable("CreateTable", e));
            }
        }
        for _ in 0..100 {
            let described = client
                .describe_table()
                .table_name(table)
                .send()
                .await
                .map_err(|e| unavailable("DescribeTable", e))?;
            let active = described
                .table()
                .and_then(|t| t.table_status())
                .is_some_and(|s| s.as_str() == "ACTIVE");
            if active {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        Err(StoreError::Unavailable(format!("table {table} did not become active")))
    }

    async fn get(&self, pk: String, sk: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(pk))
            .key("sk", s(sk))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| unavailable("GetItem", e))?;
        Ok(out.item)
    }

    /// Every item of a partition whose sort key starts with `prefix`, following pages.
    async fn query_prefix(&self, pk: &str, prefix: &str) -> Result<Vec<Item>, StoreError> {
        let mut query = self
            .client
            .query()
            .table_name(&self.table)
            .expression_attribute_values(":pk", s(pk))
            .consistent_read(true);
        // DynamoDB refuses an empty key value: the whole partition has no prefix condition.
        query = if prefix.is_empty() {
            query.key_condition_expression("pk = :pk")
        } else {
            query
                .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                .expression_attribute_values(":prefix", s(prefix))
        };
        let pages = query.into_paginator().items().send();
        pages
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| unavailable("Query", e))
    }

    fn put(&self, item: Item, condition: &str) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition)
            .build()
            .map_err(|e| unavailable("Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A put conditional on the stored version (`#version = :expected`).
    fn versioned_put(&self, item: Item, expected_version: u64) -> Result<TransactWriteItem, StoreError> {
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("#version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(expected_version))
            .build()
            .map_err(|e| unavailable("Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// As [`DynamoRecords::versioned_put`], for a record the product ships: at [`SHIPPED_VERSION`] it may also be
    /// not stored yet (the shipped one, which nothing seeds).
    fn versioned_put_over_shipped(&self, item: Item, expected_version: u64) -> Result<TransactWriteItem, StoreError> {
        if expected_version != SHIPPED_VERSION {
            return self.versioned_put(item, expected_version);
        }
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR #version = :expected")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":expected", n(expected_version))
            .build()
            .map_err(|e| unavailable("Put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// Runs a transaction; a failed condition on any item is a `Conflict`
    /// unless `on_condition` says what it means for that item's index.
    async fn transact(
        &self,
        items: Vec<TransactWriteItem>,
        on_condition: impl Fn(usize) -> Option<StoreError>,
    ) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(SdkError::ServiceError(service)) => match service.err() {
                TransactWriteItemsError::TransactionCanceledException(cancelled) => {
                    let reasons = cancelled.cancellation_reasons();
                    for (index, reason) in reasons.iter().enumerate() {
                        if reason.code() == Some("ConditionalCheckFailed") {
                            return Err(on_condition(index).unwrap_or(StoreError::Conflict));
                        }
                    }
                    // Cancelled by a concurrent transaction on the same items:
                    // the caller's view is stale in the same way as a failed condition.
                    if reasons.iter().any(|r| r.code() == Some("TransactionConflict")) || reasons.is_empty() {
                        return Err(StoreError::Conflict);
                    }
                    Err(StoreError::Unavailable(format!(
                        "TransactWriteItems cancelled: {}",
                        reasons.iter().filter_map(|r| r.code()).collect::<Vec<_>>().join(",")
                    )))
                }
                other => Err(StoreError::Unavailable(format!(
                    "TransactWriteItems: {}",
                    DisplayErrorContext(other)
                ))),
            },
            Err(e) => Err(unavailable("TransactWriteItems", e)),
        }
    }

    /// Seeds: each item written unless one is stored already, eight at a time.
    async fn put_all_if_absent(&self, items: Vec<Item>) -> Result<(), StoreError> {
        futures::stream::iter(items.into_iter().map(|i| self.put_if_absent(i)))
            .buffer_unordered(8)
            .try_collect::<Vec<bool>>()
            .await?;
        Ok(())
    }

    /// Writes `item` unless one with its key is stored already; whether it was written.
    async fn put_if_absent(&self, item: Item) -> Result<bool, StoreError> {
        self.put_when(item, "attribute_not_exists(pk)", &[], Vec::new()).await
    }

    /// A single conditional put: `Ok(false)` when its condition failed.
    async fn put_when(
        &self,
        item: Item,
        condition: &str,
        names: &[(&str, &str)],
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<bool, StoreError> {
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        for (placeholder, name) in names {
            put = put.expression_attribute_names(*placeholder, *name);
        }
        for (placeholder, value) in values {
            put = put.expression_attribute_values(placeholder, value);
        }
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }

    /// One page of a review queue of the sparse `queue` index, earliest due first: every partition of the queue
    /// (`kernel::queue::queue_partitions`) queried from the cursor's position, merged by position, then the listed
    /// items read whole from the table, as the index holds keys only. A listed item no longer at that place (decided,
    /// or moved while the index caught up) is left out; the cursor still moves past its position.
    async fn queue_page<T: DeserializeOwned>(
        &self,
        queue: &str,
        query: &QueueQuery,
    ) -> Result<(Vec<T>, Option<String>), StoreError> {
        let after = query.after.as_deref().map(kernel_queue::decode_cursor).transpose()?;
        let bound = query.due_before.map(sortable);
        let limit = query.limit.clamp(1, 100);
        let partitions = kernel_queue::queue_partitions(queue, query.unreported_only);
        // The partitions at once (nine at most); the futures are made before any is awaited.
        let shards: Vec<ShardPage<Item>> = futures::future::try_join_all(
            partitions
                .iter()
                .map(|partition| self.queue_shard(partition, after.as_deref(), bound.as_deref(), limit))
                .collect::<Vec<_>>(),
        )
        .await?;
        let (listed, next) = kernel_queue::merge_shards(shards, limit);
        let keys: Vec<Item> = listed
            .iter()
            .filter_map(|(_, entry)| {
                Some(Item::from([
                    ("pk".to_string(), entry.get("pk")?.clone()),
                    ("sk".to_string(), entry.get("sk")?.clone()),
                ]))
            })
            .collect();
        let mut whole: HashMap<(String, String), Item> = self
            .batch_get(keys)
            .await?
            .into_iter()
            .filter_map(|item| Some(((text(&item, "pk")?, text(&item, "sk")?), item)))
            .collect();
        let mut items = Vec::with_capacity(listed.len());
        for (position, entry) in listed {
            let (Some(pk), Some(sk)) = (text(&entry, "pk"), text(&entry, "sk")) else {
                continue;
            };
            let Some(item) = whole.remove(&(pk, sk)) else {
                continue;
            };
            let still_waiting = text(&item, "queueSk").as_deref() == Some(position.as_str())
                && text(&item, "queuePk").is_some_and(|p| partitions.contains(&p));
            if still_waiting {
                items.push(decode(item)?);
            }
        }
        Ok((items, next))
    }

    /// One partition's entries after the cursor's position (and before the bound), up to a page and one.
    async fn queue_shard(
        &self,
        partition: &str,
        after: Option<&str>,
        bound: Option<&str>,
        limit: usize,
    ) -> Result<ShardPage<Item>, StoreError> {
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(QUEUE_INDEX)
            .expression_attribute_values(":queue", s(partition))
            // One more than a page: the cursor's own entry may be the first.
            .limit(i32::try_from(limit + 1).unwrap_or(101));
        let request = match (after, bound) {
            // Nothing lies after the cursor and before the bound.
            (Some(after), Some(bound)) if after >= bound => {
                return Ok(ShardPage {
                    entries: Vec::new(),
                    more: false,
                })
            }
            (Some(after), Some(bound)) => request
                .key_condition_expression("queuePk = :queue AND queueSk BETWEEN :after AND :bound")
                .expression_attribute_values(":after", s(after))
                .expression_attribute_values(":bound", s(bound)),
            (Some(after), None) => request
                .key_condition_expression("queuePk = :queue AND queueSk > :after")
                .expression_attribute_values(":after", s(after)),
            (None, Some(bound)) => request
                .key_condition_expression("queuePk = :queue AND queueSk < :bound")
                .expression_attribute_values(":bound", s(bound)),
            (None, None) => request.key_condition_expression("queuePk = :queue"),
        };
        let out = request.send().await.map_err(|e| unavailable("Query", e))?;
        let more = out.last_evaluated_key.is_some_and(|key| !key.is_empty());
        let entries = out
            .items
            .unwrap_or_default()
            .into_iter()
            .filter_map(|entry| Some((text(&entry, "queueSk")?, entry)))
            .filter(|(position, _)| {
                after.is_none_or(|after| position.as_str() > after)
                    && bound.is_none_or(|bound| position.as_str() < bound)
            })
            .collect();
        Ok(ShardPage { entries, more })
    }

    /// The keys the sparse `issue` index holds under `bucket` with a sort key before `before` (what is due there:
    /// approvals awaiting issuance, status marks, notices), at most `limit` (1 to 1,000), oldest first.
    pub(super) async fn due_in_issue_index(
        &self,
        bucket: String,
        before: String,
        limit: usize,
    ) -> Result<Vec<Item>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(ISSUE_INDEX)
            .key_condition_expression("issuePk = :bucket AND issueSk < :before")
            .expression_attribute_values(":bucket", s(bucket))
            .expression_attribute_values(":before", s(before))
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(1000))
            .send()
            .await
            .map_err(|e| unavailable("Query", e))?;
        Ok(out.items.unwrap_or_default())
    }

    /// The items of `keys` (`pk`, `sk`), read consistently with BatchGetItem, 100 a request, in no order; missing
    /// ones are left out.
    pub(super) async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            let mut wanted = KeysAndAttributes::builder()
                .set_keys(Some(chunk.to_vec()))
                .consistent_read(true)
                .build()
                .map_err(|e| unavailable("KeysAndAttributes", e))?;
            // DynamoDB may leave part of a batch unprocessed under load: ask for that part again, backing off.
            for attempt in 0..8u32 {
                let out = self
                    .client
                    .batch_get_item()
                    .request_items(self.table.clone(), wanted)
                    .send()
                    .await
                    .map_err(|e| unavailable("BatchGetItem", e))?;
                found.extend(
                    out.responses
                        .and_then(|mut r| r.remove(&self.table))
                        .unwrap_or_default(),
                );
                match out.unprocessed_keys.and_then(|mut left| left.remove(&self.table)) {
                    Some(left) if !left.keys().is_empty() => wanted = left,
                    _ => break,
                }
                if attempt == 7 {
                    return Err(StoreError::Unavailable(
                        "BatchGetItem: keys left unprocessed after retries".into(),
                    ));
                }
                tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
            }
        }
        Ok(found)
    }
}

/// A string attribute of an item.
fn text(item: &Item, name: &str) -> Option<String> {
    item.get(name).and_then(|v| v.as_s().ok()).cloned()
}

/// A page's last key as an opaque cursor (its string attributes, as JSON, base64url).
fn encode_cursor(key: &Item) -> String {
    let plain: std::collections::BTreeMap<&str, &str> = key
        .iter()
        .filter_map(|(k, v)| v.as_s().ok().map(|v| (k.as_str(), v.as_str())))
        .collect();
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(&plain).unwrap_or_default())
}

/// A cursor back to a last key, which must name exactly the `expected` attributes (the index's and the table's keys).
fn decode_cursor(cursor: &str, expected: &[&str]) -> Result<Item, StoreError> {
    let bytes = URL_SAFE_NO_PAD.decode(cursor).map_err(|_| StoreError::BadCursor)?;
    let plain: std::collections::BTreeMap<String, String> =
        serde_json::from_slice(&bytes).map_err(|_| StoreError::BadCursor)?;
    if plain.len() != expected.len() || !expected.iter().all(|k| plain.contains_key(*k)) {
        return Err(StoreError::BadCursor);
    }
    Ok(plain.into_iter().map(|(k, v)| (k, s(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_that_does_not_decode_names_its_kind_not_its_key_or_values() {
        let mut item = Item::new();
        item.insert("pk".into(), s("HOLDER#11010519900307451X"));
        item.insert("sk".into(), s("HOLDER"));
        item.insert("kind".into(), s("holder"));
        item.insert("count".into(), s("张伟"));
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Counted {
            count: u64,
        }
        let error = decode::<Counted>(item).expect_err("a string is no count").to_string();
        assert!(error.contains("holder"), "{error}");
        assert!(
            !error.contains("HOLDER#") && !error.contains("11010519900307451X"),
            "{error}"
        );
        assert!(!error.contains("张伟"), "{error}");
        assert_eq!(
            without_values(r#"invalid type: string "x", expected `u64`"#),
            r#"invalid type: string "…", expected `…`"#
        );
    }
}
