//! The DynamoDB adapter of `Records`: one table, conditional writes, transactions where two items change together.
//!
//! Keys (`pk`, `sk`):
//! - `LICENCE#<number>` / `LICENCE`: the paper licence; `CHANGE#<at>#<version>`: its changes;
//!   `OPEN_APPLICATION`: the lock that allows one open application per licence.
//! - `HOLDER#<identity>` / `LICENCE`: which licence a holder has.
//! - `APP#<id>` / `APP`: an application with its history.
//! - `ROLLOUT` / `CITY#<code>`, `WAVE#<id>`, `CHANGE#<at>#<id>`: the staged rollout.
//! - `PHOTO#<sha256>` / `PHOTO`: which holder submitted these image bytes (R15).
//! - `EDL#<serial>` / `EDL`: an issued electronic licence; `SHOWCODE`: its current show code.
//! - `HOLDER#<identity>` / `EDL`: the serial of the holder's latest electronic licence.
//! - `TRUST` / `<role>#<kid>`: certificates and the keys behind them.
//! - `CHECKS#<holder>` / `<at>#<id>`: who verified the holder's licences (R15);
//!   `CHECKS#unmatched#<day>` for codes that named no known licence.
//!
//! - `TRUCKRULES` / `CITY#<code>`: a city's truck rules; `CHANGE#<code>#<at>#<id>`: their changes.
//! - `VEHICLE#<plate>` / `VEHICLE`: the vehicle register; `PASSES`: the version of the
//!   vehicle's pass list (every new pass is conditional on it); `PASS#<created>#<id>`: a copy
//!   of each of its passes.
//! - `PASS#<id>` / `PASS`: a truck pass; `SHOWCODE`: its current show code.
//! - `PASSCHECKS#<id>` / `<at>#<check id>`: a pass's verifications, in a partition of their
//!   own so that the verify function may write checks and never a pass;
//!   `PASSCHECKS#unmatched#<day>` for credentials that did not verify.
//! - `OWNER#<identity>` and `FLEET#<fleet>` / `PASS#<created>#<id>`: copies of the passes
//!   of an owner's and a fleet's vehicles, written in the same transaction as the pass.
//!
//! The sparse index `queue` (`queuePk`, `queueSk`) holds an application only
//! while it waits for review: `REVIEW` / `<due time>#<id>`; a truck pass
//! likewise as `PASSREVIEW` / `<due time>#<id>`.
//!
//! The sparse index `expiry` (`expiryPk`, `expirySk`, keys only) holds what the
//! scheduled job will end, by local day: an active electronic licence as
//! `EDL#<last valid day>` / `<serial>`, an application the applicant must act
//! on as `APP#<day it counts as abandoned>` / `<id>`, a pending or active
//! truck pass as `PASS#<last valid day>` / `<id>` (see `expiry`).

use crate::applications::application::Application;
use crate::applications::application::ApplicationState;
use crate::expiry::{self, ExpiryEntry, ExpiryKind};
use crate::issuance::edl::ElectronicLicence;
use crate::ports::{
    CachedShowCode, ExpiryPage, Issuance, PassQueuePage, PassRecords, PhotoClaim, QueuePage, QueueQuery, Records,
    RolloutChange, StoreError, TrustEntry,
};
use crate::register::change::ChangeRecord;
use crate::register::licence::Licence;
use crate::register::rollout::{City, Plan, Wave};
use crate::truck::pass::{PassCheck, PassStatus, TruckPass};
use crate::truck::rules::{CityTruckRules, TruckRulebook, TruckRulesChange};
use crate::truck::vehicle::Vehicle;
use crate::verification::check::CheckRecord;
use async_trait::async_trait;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, Delete, GlobalSecondaryIndex, KeySchemaElement, KeyType,
    Projection, ProjectionType, Put, ScalarAttributeType, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use futures::{StreamExt, TryStreamExt};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashMap;

type Item = HashMap<String, AttributeValue>;

/// Attributes the adapter adds around a domain record; removed before decoding.
const KEY_ATTRIBUTES: [&str; 8] = ["pk", "sk", "kind", "ttl", "queuePk", "queueSk", "expiryPk", "expirySk"];

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
    let key = item.get("pk").and_then(|v| v.as_s().ok()).cloned().unwrap_or_default();
    for attribute in KEY_ATTRIBUTES {
        item.remove(attribute);
    }
    serde_dynamo::aws_sdk_dynamodb_1::from_item(item).map_err(|e| StoreError::Corrupt(format!("{key}: {e}")))
}

/// A time that sorts as text in time order (fixed width, UTC).
fn sortable(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn licence_pk(number: &str) -> String {
    format!("LICENCE#{number}")
}

fn app_pk(id: &str) -> String {
    format!("APP#{id}")
}

const ROLLOUT: &str = "ROLLOUT";
const QUEUE_INDEX: &str = "queue";
const REVIEW_QUEUE: &str = "REVIEW";
const EXPIRY_INDEX: &str = "expiry";
const PASS_REVIEW_QUEUE: &str = "PASSREVIEW";
const TRUCK_RULES: &str = "TRUCKRULES";

/// Puts the record in the expiry index when it has an entry. Every write
/// replaces the whole item, so a record without one leaves the index.
fn with_expiry(mut item: Item, entry: Option<ExpiryEntry>) -> Item {
    if let Some(entry) = entry {
        item.insert("expiryPk".into(), s(entry.bucket));
        item.insert("expirySk".into(), s(entry.key));
    }
    item
}

/// The application's item, with its place in the review queue while it
/// waits for review, and in the expiry index while the applicant must act.
fn application_item(application: &Application) -> Result<Item, StoreError> {
    let mut item = encode(application, app_pk(&application.id), "APP".into(), "application")?;
    if let (ApplicationState::AwaitingReview, Some(photo)) = (application.state, application.photo.as_ref()) {
        item.insert("queuePk".into(), s(REVIEW_QUEUE));
        item.insert(
            "queueSk".into(),
            s(format!("{}#{}", sortable(photo.due_at), application.id)),
        );
    }
    Ok(with_expiry(item, expiry::application_entry(application)))
}

fn pass_pk(id: &str) -> String {
    format!("PASS#{id}")
}

fn vehicle_pk(plate: &str) -> String {
    format!("VEHICLE#{plate}")
}

/// The sort key of a pass's copies: newest last, so a backwards query lists newest first.
fn pass_copy_sk(pass: &TruckPass) -> String {
    format!("PASS#{}#{}", sortable(pass.created_at), pass.id)
}

/// The pass's item, in the review queue while pending and in the expiry
/// index while it is pending or active.
fn pass_item(pass: &TruckPass) -> Result<Item, StoreError> {
    let mut item = encode(pass, pass_pk(&pass.id), "PASS".into(), "pass")?;
    if let (PassStatus::PendingReview, Some(due)) = (&pass.status, pass.review_due_at) {
        item.insert("queuePk".into(), s(PASS_REVIEW_QUEUE));
        item.insert("queueSk".into(), s(format!("{}#{}", sortable(due), pass.id)));
    }
    Ok(with_expiry(item, expiry::pass_entry(pass)))
}

/// The copies of a pass under its vehicle, its owner and its fleet.
fn pass_copies(pass: &TruckPass) -> Result<Vec<Item>, StoreError> {
    let sk = pass_copy_sk(pass);
    let mut copies = vec![
        encode(pass, vehicle_pk(&pass.plate), sk.clone(), "pass-copy")?,
        encode(pass, format!("OWNER#{}", pass.owner_id), sk.clone(), "pass-copy")?,
    ];
    if let Some(fleet) = &pass.fleet_id {
        copies.push(encode(pass, format!("FLEET#{fleet}"), sk, "pass-copy")?);
    }
    Ok(copies)
}

/// The electronic licence's item, in the expiry index while it is active.
fn edl_item(licence: &ElectronicLicence) -> Result<Item, StoreError> {
    let item = encode(licence, format!("EDL#{}", licence.serial), "EDL".into(), "edl")?;
    Ok(with_expiry(item, expiry::licence_entry(licence)))
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
            .key_schema(key("pk", KeyType::Hash)?)
            .key_schema(key("sk", KeyType::Range)?)
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(QUEUE_INDEX)
                    .key_schema(key("queuePk", KeyType::Hash)?)
                    .key_schema(key("queueSk", KeyType::Range)?)
                    .projection(Projection::builder().projection_type(ProjectionType::All).build())
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

    /// Deletes the application's open-application lock: only our own; a
    /// missing one is already released.
    fn release_slot(&self, application: &Application) -> Result<TransactWriteItem, StoreError> {
        let delete = Delete::builder()
            .table_name(&self.table)
            .key("pk", s(licence_pk(&application.licence_number)))
            .key("sk", s("OPEN_APPLICATION"))
            .condition_expression("attribute_not_exists(pk) OR applicationId = :id")
            .expression_attribute_values(":id", s(&application.id))
            .build()
            .map_err(|e| unavailable("Delete", e))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
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

    /// Creates or replaces a licence, raising its version, without a read first.
    async fn upsert_licence(&self, licence: &Licence) -> Result<(), StoreError> {
        let item = encode(licence, licence_pk(&licence.number), "LICENCE".into(), "licence")?;
        let mut names = HashMap::new();
        let mut values = HashMap::new();
        let mut sets = Vec::new();
        for (index, (name, value)) in item.into_iter().enumerate() {
            if name == "pk" || name == "sk" || name == "version" {
                continue;
            }
            names.insert(format!("#a{index}"), name);
            values.insert(format!(":v{index}"), value);
            sets.push(format!("#a{index} = :v{index}"));
        }
        names.insert("#version".into(), "version".into());
        values.insert(":one".into(), n(1));
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(licence_pk(&licence.number)))
            .key("sk", s("LICENCE"))
            .update_expression(format!("SET {} ADD #version :one", sets.join(", ")))
            .set_expression_attribute_names(Some(names))
            .set_expression_attribute_values(Some(values))
            .send()
            .await
            .map_err(|e| unavailable("UpdateItem", e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("HOLDER#{}", licence.holder_id)))
            .item("sk", s("LICENCE"))
            .item("kind", s("holder"))
            .item("licenceNumber", s(&licence.number))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    /// Seeds: each item written unless one is stored already, eight at a time.
    async fn put_all_if_absent(&self, items: Vec<Item>) -> Result<(), StoreError> {
        futures::stream::iter(items.into_iter().map(|i| self.put_if_absent(i)))
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn put_if_absent(&self, item: Item) -> Result<(), StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }
}

#[async_trait]
impl Records for DynamoRecords {
    async fn licence(&self, number: &str) -> Result<Option<Licence>, StoreError> {
        self.get(licence_pk(number), "LICENCE").await?.map(decode).transpose()
    }

    async fn licence_number_of_holder(&self, holder_id: &str) -> Result<Option<String>, StoreError> {
        let item = self.get(format!("HOLDER#{holder_id}"), "LICENCE").await?;
        Ok(item
            .and_then(|i| i.get("licenceNumber").cloned())
            .and_then(|v| v.as_s().ok().cloned()))
    }

    async fn import_licences(&self, licences: &[Licence]) -> Result<(), StoreError> {
        // One conditional-free upsert per licence, sixteen at a time: a large
        // import finishes well inside a Lambda's time and within DynamoDB's
        // per-partition limits (each licence is its own partition).
        for chunk in licences.chunks(16) {
            futures::future::try_join_all(chunk.iter().map(|l| self.upsert_licence(l))).await?;
        }
        Ok(())
    }

    async fn change_licence(
        &self,
        licence: &Licence,
        expected_version: u64,
        record: &ChangeRecord,
    ) -> Result<(), StoreError> {
        let licence_item = encode(licence, licence_pk(&licence.number), "LICENCE".into(), "licence")?;
        let change_item = encode(
            record,
            licence_pk(&licence.number),
            format!("CHANGE#{}#{:020}", sortable(record.at), record.version),
            "licence-change",
        )?;
        self.transact(
            vec![
                self.versioned_put(licence_item, expected_version)?,
                self.put(change_item, "attribute_not_exists(pk)")?,
            ],
            |_| None,
        )
        .await
    }

    async fn licence_changes(&self, number: &str) -> Result<Vec<ChangeRecord>, StoreError> {
        self.query_prefix(&licence_pk(number), "CHANGE#")
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn create_application(&self, application: &Application) -> Result<(), StoreError> {
        let app_item = application_item(application)?;
        let mut items = Vec::with_capacity(2);
        if application.state.is_open() {
            let mut slot = Item::new();
            slot.insert("pk".into(), s(licence_pk(&application.licence_number)));
            slot.insert("sk".into(), s("OPEN_APPLICATION"));
            slot.insert("kind".into(), s("open-application"));
            slot.insert("applicationId".into(), s(&application.id));
            items.push(self.put(slot, "attribute_not_exists(pk)")?);
        }
        items.push(self.put(app_item, "attribute_not_exists(pk)")?);
        let slot_index_taken = application.state.is_open();
        let outcome = self
            .transact(items, |index| {
                if slot_index_taken && index == 0 {
                    Some(StoreError::OpenApplicationExists {
                        existing: String::new(),
                    })
                } else {
                    Some(StoreError::AlreadyExists)
                }
            })
            .await;
        match outcome {
            Err(StoreError::OpenApplicationExists { .. }) => {
                // Name the application that holds the slot, so the client can continue it.
                let slot = self
                    .get(licence_pk(&application.licence_number), "OPEN_APPLICATION")
                    .await?;
                let existing = slot
                    .and_then(|i| i.get("applicationId").cloned())
                    .and_then(|v| v.as_s().ok().cloned())
                    .unwrap_or_default();
                Err(StoreError::OpenApplicationExists { existing })
            }
            other => other,
        }
    }

    async fn application(&self, id: &str) -> Result<Option<Application>, StoreError> {
        self.get(app_pk(id), "APP").await?.map(decode).transpose()
    }

    async fn update_application(&self, application: &Application, expected_version: u64) -> Result<(), StoreError> {
        let item = application_item(application)?;
        let mut items = vec![self.versioned_put(item, expected_version)?];
        if !application.state.is_open() {
            items.push(self.release_slot(application)?);
        }
        self.transact(items, |_| None).await
    }

    async fn seed_rollout(&self, plan: &Plan) -> Result<(), StoreError> {
        let mut items = Vec::new();
        for wave in &plan.waves {
            let wave = Wave {
                version: 1,
                ..wave.clone()
            };
            items.push(encode(&wave, ROLLOUT.into(), format!("WAVE#{}", wave.id), "wave")?);
        }
        for city in &plan.cities {
            let city = City {
                version: 1,
                ..city.clone()
            };
            items.push(encode(&city, ROLLOUT.into(), format!("CITY#{}", city.code), "city")?);
        }
        self.put_all_if_absent(items).await
    }

    async fn cities(&self) -> Result<Vec<City>, StoreError> {
        self.query_prefix(ROLLOUT, "CITY#")
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn waves(&self) -> Result<Vec<Wave>, StoreError> {
        self.query_prefix(ROLLOUT, "WAVE#")
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn city(&self, code: &str) -> Result<Option<City>, StoreError> {
        self.get(ROLLOUT.into(), &format!("CITY#{code}"))
            .await?
            .map(decode)
            .transpose()
    }

    async fn wave(&self, id: &str) -> Result<Option<Wave>, StoreError> {
        self.get(ROLLOUT.into(), &format!("WAVE#{id}"))
            .await?
            .map(decode)
            .transpose()
    }

    async fn switch_city(&self, city: &City, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError> {
        let item = encode(city, ROLLOUT.into(), format!("CITY#{}", city.code), "city")?;
        self.switch(item, expected_version, change).await
    }

    async fn switch_wave(&self, wave: &Wave, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError> {
        let item = encode(wave, ROLLOUT.into(), format!("WAVE#{}", wave.id), "wave")?;
        self.switch(item, expected_version, change).await
    }

    async fn rollout_changes(&self) -> Result<Vec<RolloutChange>, StoreError> {
        self.query_prefix(ROLLOUT, "CHANGE#")
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn claim_photo(&self, sha256: &str, holder_id: &str, application_id: &str) -> Result<PhotoClaim, StoreError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(format!("PHOTO#{sha256}")))
            .item("sk", s("PHOTO"))
            .item("kind", s("photo-claim"))
            .item("holderId", s(holder_id))
            .item("applicationId", s(application_id))
            .condition_expression("attribute_not_exists(pk) OR holderId = :holder")
            .expression_attribute_values(":holder", s(holder_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(PhotoClaim::Granted),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(PhotoClaim::HeldByAnotherHolder)
            }
            Err(e) => Err(unavailable("PutItem", e)),
        }
    }

    async fn review_queue(&self, query: &QueueQuery) -> Result<QueuePage, StoreError> {
        let (items, next) = self.queue_page(REVIEW_QUEUE, query).await?;
        Ok(QueuePage { items, next })
    }

    async fn save_trust(&self, entry: &TrustEntry) -> Result<(), StoreError> {
        let item = encode(
            entry,
            "TRUST".into(),
            format!("{:?}#{}", entry.role, entry.kid),
            "trust",
        )?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    async fn trust(&self) -> Result<Vec<TrustEntry>, StoreError> {
        self.query_prefix("TRUST", "").await?.into_iter().map(decode).collect()
    }

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
        self.transact(items, |index| (index == 0).then_some(StoreError::AlreadyExists))
            .await
    }

    async fn update_electronic_licence(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.transact(vec![self.versioned_put(edl_item(licence)?, expected_version)?], |_| {
            None
        })
        .await
    }

    async fn cached_show_code(&self, serial: &str) -> Result<Option<CachedShowCode>, StoreError> {
        self.get(format!("EDL#{serial}"), "SHOWCODE")
            .await?
            .map(decode)
            .transpose()
    }

    async fn cache_show_code(&self, serial: &str, code: &CachedShowCode) -> Result<(), StoreError> {
        self.put_show_code(format!("EDL#{serial}"), code).await
    }

    async fn record_check(&self, check: &CheckRecord) -> Result<(), StoreError> {
        let pk = match &check.holder_id {
            Some(holder) => format!("CHECKS#{holder}"),
            None => format!("CHECKS#unmatched#{}", check.at.format("%Y-%m-%d")),
        };
        let item = encode(check, pk, format!("{}#{}", sortable(check.at), check.id), "check")?;
        self.put_if_absent(item).await
    }

    async fn checks_of(&self, holder_id: &str, limit: usize) -> Result<Vec<CheckRecord>, StoreError> {
        self.newest_first(format!("CHECKS#{holder_id}"), limit).await
    }

    async fn due_for_expiry(
        &self,
        kind: ExpiryKind,
        day: NaiveDate,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(EXPIRY_INDEX)
            .key_condition_expression("expiryPk = :bucket")
            .expression_attribute_values(":bucket", s(kind.bucket(day)))
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(100));
        if let Some(cursor) = &after {
            request =
                request.set_exclusive_start_key(Some(decode_cursor(cursor, &["expiryPk", "expirySk", "pk", "sk"])?));
        }
        let out = request.send().await.map_err(|e| unavailable("Query", e))?;
        let items = out.items.unwrap_or_default();
        let read = items.len();
        let keys = items
            .into_iter()
            .map(|item| {
                item.get("expirySk")
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .ok_or_else(|| StoreError::Corrupt(format!("an {kind} expiry entry without expirySk")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(encode_cursor(&key)),
            _ => None,
        };
        Ok(ExpiryPage { keys, next, read })
    }
}

#[async_trait]
impl PassRecords for DynamoRecords {
    async fn seed_truck_rules(&self, rulebook: &TruckRulebook) -> Result<(), StoreError> {
        let mut items = Vec::new();
        for city in &rulebook.cities {
            let city = CityTruckRules {
                version: 1,
                ..city.clone()
            };
            items.push(encode(
                &city,
                TRUCK_RULES.into(),
                format!("CITY#{}", city.city),
                "truck-rules",
            )?);
        }
        self.put_all_if_absent(items).await
    }

    async fn truck_rules(&self) -> Result<Vec<CityTruckRules>, StoreError> {
        self.query_prefix(TRUCK_RULES, "CITY#")
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn truck_rules_of(&self, city: &str) -> Result<Option<CityTruckRules>, StoreError> {
        self.get(TRUCK_RULES.into(), &format!("CITY#{city}"))
            .await?
            .map(decode)
            .transpose()
    }

    async fn change_truck_rules(
        &self,
        rules: &CityTruckRules,
        expected_version: u64,
        change: &TruckRulesChange,
    ) -> Result<(), StoreError> {
        let item = encode(rules, TRUCK_RULES.into(), format!("CITY#{}", rules.city), "truck-rules")?;
        let change_item = encode(
            change,
            TRUCK_RULES.into(),
            format!(
                "CHANGE#{}#{}#{}",
                change.city,
                sortable(change.at),
                uuid::Uuid::now_v7()
            ),
            "truck-rules-change",
        )?;
        self.transact(
            vec![
                self.versioned_put(item, expected_version)?,
                self.put(change_item, "attribute_not_exists(pk)")?,
            ],
            |_| None,
        )
        .await
    }

    async fn truck_rules_changes(&self, city: &str) -> Result<Vec<TruckRulesChange>, StoreError> {
        self.query_prefix(TRUCK_RULES, &format!("CHANGE#{city}#"))
            .await?
            .into_iter()
            .map(decode)
            .collect()
    }

    async fn import_vehicles(&self, vehicles: &[Vehicle]) -> Result<(), StoreError> {
        for chunk in vehicles.chunks(16) {
            futures::future::try_join_all(chunk.iter().map(|vehicle| async move {
                let item = encode(vehicle, vehicle_pk(&vehicle.plate), "VEHICLE".into(), "vehicle")?;
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .send()
                    .await
                    .map_err(|e| unavailable("PutItem", e))
                    .map(|_| ())
            }))
            .await?;
        }
        Ok(())
    }

    async fn vehicle(&self, plate: &str) -> Result<Option<Vehicle>, StoreError> {
        self.get(vehicle_pk(plate), "VEHICLE").await?.map(decode).transpose()
    }

    async fn passes_of_vehicle(&self, plate: &str) -> Result<(Vec<TruckPass>, u64), StoreError> {
        // One consistent query of the vehicle's partition reads the list's
        // version together with the passes it counts.
        let mut version = 0;
        let mut passes = Vec::new();
        for item in self.query_prefix(&vehicle_pk(plate), "").await? {
            match item.get("sk").and_then(|v| v.as_s().ok()).map(String::as_str) {
                Some("PASSES") => {
                    version = item
                        .get("listVersion")
                        .and_then(|v| v.as_n().ok())
                        .and_then(|n| n.parse().ok())
                        .ok_or_else(|| StoreError::Corrupt(format!("{}: listVersion", vehicle_pk(plate))))?;
                }
                Some(sk) if sk.starts_with("PASS#") => passes.push(decode(item)?),
                _ => {}
            }
        }
        passes.reverse();
        Ok((passes, version))
    }

    async fn create_pass(&self, pass: &TruckPass, list_version: u64) -> Result<(), StoreError> {
        let mut list = Item::new();
        list.insert("pk".into(), s(vehicle_pk(&pass.plate)));
        list.insert("sk".into(), s("PASSES"));
        list.insert("kind".into(), s("pass-list"));
        list.insert("listVersion".into(), n(list_version + 1));
        let list = if list_version == 0 {
            self.put(list, "attribute_not_exists(pk)")?
        } else {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(list))
                .condition_expression("listVersion = :expected")
                .expression_attribute_values(":expected", n(list_version))
                .build()
                .map_err(|e| unavailable("Put", e))?;
            TransactWriteItem::builder().put(put).build()
        };
        let mut items = vec![self.put(pass_item(pass)?, "attribute_not_exists(pk)")?, list];
        for copy in pass_copies(pass)? {
            items.push(self.put(copy, "attribute_not_exists(pk)")?);
        }
        self.transact(items, |index| (index == 0).then_some(StoreError::AlreadyExists))
            .await
    }

    async fn pass(&self, id: &str) -> Result<Option<TruckPass>, StoreError> {
        self.get(pass_pk(id), "PASS").await?.map(decode).transpose()
    }

    async fn update_pass(&self, pass: &TruckPass, expected_version: u64) -> Result<(), StoreError> {
        let mut items = vec![self.versioned_put(pass_item(pass)?, expected_version)?];
        for copy in pass_copies(pass)? {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(copy))
                .build()
                .map_err(|e| unavailable("Put", e))?;
            items.push(TransactWriteItem::builder().put(put).build());
        }
        self.transact(items, |_| None).await
    }

    async fn passes_of_owner(&self, owner_id: &str) -> Result<Vec<TruckPass>, StoreError> {
        let mut passes: Vec<TruckPass> = self
            .query_prefix(&format!("OWNER#{owner_id}"), "PASS#")
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<_, _>>()?;
        passes.reverse();
        Ok(passes)
    }

    async fn passes_of_fleet(&self, fleet_id: &str) -> Result<Vec<TruckPass>, StoreError> {
        let mut passes: Vec<TruckPass> = self
            .query_prefix(&format!("FLEET#{fleet_id}"), "PASS#")
            .await?
            .into_iter()
            .map(decode)
            .collect::<Result<_, _>>()?;
        passes.reverse();
        Ok(passes)
    }

    async fn pass_review_queue(&self, query: &QueueQuery) -> Result<PassQueuePage, StoreError> {
        let (items, next) = self.queue_page(PASS_REVIEW_QUEUE, query).await?;
        Ok(PassQueuePage { items, next })
    }

    async fn cached_pass_code(&self, serial: &str) -> Result<Option<CachedShowCode>, StoreError> {
        self.get(pass_pk(serial), "SHOWCODE").await?.map(decode).transpose()
    }

    async fn cache_pass_code(&self, serial: &str, code: &CachedShowCode) -> Result<(), StoreError> {
        self.put_show_code(pass_pk(serial), code).await
    }

    async fn record_pass_check(&self, check: &PassCheck) -> Result<(), StoreError> {
        let pk = match &check.serial {
            Some(serial) => format!("PASSCHECKS#{serial}"),
            None => format!("PASSCHECKS#unmatched#{}", check.at.format("%Y-%m-%d")),
        };
        self.put_if_absent(encode(
            check,
            pk,
            format!("{}#{}", sortable(check.at), check.id),
            "pass-check",
        )?)
        .await
    }

    async fn pass_checks(&self, serial: &str, limit: usize) -> Result<Vec<PassCheck>, StoreError> {
        self.newest_first(format!("PASSCHECKS#{serial}"), limit).await
    }
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

impl DynamoRecords {
    /// Keeps a show code beside its credential (`pk`), replacing the previous one.
    async fn put_show_code(&self, pk: String, code: &CachedShowCode) -> Result<(), StoreError> {
        let mut item = encode(code, pk, "SHOWCODE".into(), "show-code")?;
        // Garbage collection only: the code itself says when it expires.
        item.insert("ttl".into(), n(u64::try_from(code.expires_at + 86_400).unwrap_or(0)));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable("PutItem", e))?;
        Ok(())
    }

    /// The newest `limit` items of a partition whose sort keys begin with their time.
    async fn newest_first<T: DeserializeOwned>(&self, pk: String, limit: usize) -> Result<Vec<T>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(pk))
            .scan_index_forward(false)
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(100))
            .send()
            .await
            .map_err(|e| unavailable("Query", e))?;
        out.items.unwrap_or_default().into_iter().map(decode).collect()
    }

    /// One page of a review queue of the sparse `queue` index, earliest due first.
    async fn queue_page<T: DeserializeOwned>(
        &self,
        queue: &str,
        query: &QueueQuery,
    ) -> Result<(Vec<T>, Option<String>), StoreError> {
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(QUEUE_INDEX)
            .expression_attribute_values(":queue", s(queue))
            .limit(i32::try_from(query.limit.clamp(1, 100)).unwrap_or(100));
        request = match query.due_before {
            Some(bound) => request
                .key_condition_expression("queuePk = :queue AND queueSk < :bound")
                .expression_attribute_values(":bound", s(sortable(bound))),
            None => request.key_condition_expression("queuePk = :queue"),
        };
        if let Some(cursor) = &query.after {
            request =
                request.set_exclusive_start_key(Some(decode_cursor(cursor, &["pk", "queuePk", "queueSk", "sk"])?));
        }
        let out = request.send().await.map_err(|e| unavailable("Query", e))?;
        let items = out
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<Result<_, _>>()?;
        let next = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(encode_cursor(&key)),
            _ => None,
        };
        Ok((items, next))
    }

    async fn switch(&self, item: Item, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError> {
        let change_item = encode(
            change,
            ROLLOUT.into(),
            format!("CHANGE#{}#{}", sortable(change.at), uuid::Uuid::now_v7()),
            "rollout-change",
        )?;
        self.transact(
            vec![
                self.versioned_put(item, expected_version)?,
                self.put(change_item, "attribute_not_exists(pk)")?,
            ],
            |_| None,
        )
        .await
    }
}
