//! The truck pass's ports on DynamoDB: city rules (`TRUCKRULES`), vehicles (`VEHICLE#<plate>`), passes
//! (`PASS#<id>`) with their copies under vehicle, owner and fleet, and the pass review queue (`PASSREVIEW#<shard>`).

use super::{decode, encode, n, s, sortable, unavailable, with_expiry, DynamoRecords, Item};
use crate::expiry;
use crate::kernel::listing::ListQuery;
use crate::kernel::notice::PendingNotice;
use crate::kernel::queue::{queue_partition, queue_position, Page, QueueQuery, ReviewQueue};
use crate::kernel::store::StoreError;
use crate::truck::pass::{PassStatus, TruckPass};
use crate::truck::ports::{PassStore, TruckRulesStore, VehicleStore};
use crate::truck::rules::{CityTruckRules, TruckRulebook, TruckRulesChange};
use crate::truck::vehicle::Vehicle;
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

const PASS_REVIEW_QUEUE: &str = "PASSREVIEW";
const TRUCK_RULES: &str = "TRUCKRULES";

pub(super) fn pass_pk(id: &str) -> String {
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
        item.insert("queuePk".into(), s(queue_partition(PASS_REVIEW_QUEUE, &pass.id, false)));
        item.insert("queueSk".into(), s(queue_position(due, &pass.id)));
    }
    Ok(with_expiry(item, expiry::pass_entry(pass)))
}

/// The copies of a pass under its vehicle, its owner and its fleet, removed by the table's TTL a year after the
/// pass's last day (so those partitions stay bounded).
fn pass_copies(pass: &TruckPass) -> Result<Vec<Item>, StoreError> {
    let sk = pass_copy_sk(pass);
    let mut copies = vec![
        encode(pass, vehicle_pk(&pass.plate), sk.clone(), "pass-copy")?,
        encode(pass, owner_pk(&pass.owner_id), sk.clone(), "pass-copy")?,
    ];
    if let Some(fleet) = &pass.fleet_id {
        copies.push(encode(pass, fleet_pk(fleet), sk, "pass-copy")?);
    }
    let ttl = u64::try_from(pass.copies_expire_at().timestamp()).unwrap_or(0);
    for copy in &mut copies {
        copy.insert("ttl".into(), n(ttl));
    }
    Ok(copies)
}

fn owner_pk(owner_id: &str) -> String {
    format!("OWNER#{owner_id}")
}

fn fleet_pk(fleet_id: &str) -> String {
    format!("FLEET#{fleet_id}")
}

impl DynamoRecords {
    /// One page of the pass copies under `pk`, newest first: a backwards query of at most `page.limit` items from
    /// after the page's position (`ExclusiveStartKey`), never the partition whole.
    async fn pass_copies_page(&self, pk: String, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        let mut start = page.after.as_ref().map(|after| {
            Item::from([
                ("pk".to_string(), s(&pk)),
                ("sk".to_string(), s(format!("PASS#{}#{}", sortable(after.at), after.id))),
            ])
        });
        let mut passes = Vec::new();
        // A page ends early only at DynamoDB's 1 MB per response; then it is continued, up to the limit.
        while passes.len() < page.limit {
            let out = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND begins_with(sk, :copy)")
                .expression_attribute_values(":pk", s(&pk))
                .expression_attribute_values(":copy", s("PASS#"))
                .scan_index_forward(false)
                .limit(i32::try_from(page.limit - passes.len()).unwrap_or(i32::MAX))
                .set_exclusive_start_key(start.take())
                .consistent_read(true)
                .send()
                .await
                .map_err(|e| unavailable("Query", e))?;
            for item in out.items().iter().cloned() {
                passes.push(decode(item)?);
            }
            match out.last_evaluated_key() {
                Some(key) if passes.len() < page.limit => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(passes)
    }
}

#[async_trait]
impl TruckRulesStore for DynamoRecords {
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
                self.versioned_put_over_shipped(item, expected_version)?,
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
}

#[async_trait]
impl VehicleStore for DynamoRecords {
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
}

#[async_trait]
impl PassStore for DynamoRecords {
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

    async fn update_pass_noting(
        &self,
        pass: &TruckPass,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        let mut items = vec![self.versioned_put(pass_item(pass)?, expected_version)?];
        items.extend(self.notice_puts(notices)?);
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

    async fn passes_of_owner(&self, owner_id: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        self.pass_copies_page(owner_pk(owner_id), page).await
    }

    async fn passes_of_fleet(&self, fleet_id: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        self.pass_copies_page(fleet_pk(fleet_id), page).await
    }

    async fn passes_of_plate(&self, plate: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        self.pass_copies_page(vehicle_pk(plate), page).await
    }
}

#[async_trait]
impl ReviewQueue<TruckPass> for DynamoRecords {
    async fn waiting(&self, query: &QueueQuery) -> Result<Page<TruckPass>, StoreError> {
        let (items, next) = self.queue_page(PASS_REVIEW_QUEUE, query).await?;
        Ok(Page { items, next })
    }
}
