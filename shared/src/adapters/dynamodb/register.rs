//! The register's ports on DynamoDB: licences (`LICENCE#<number>`), their changes, holders, the rollout (`ROLLOUT`).

use super::{decode, encode, s, sortable, unavailable, DynamoRecords, Item};
use crate::kernel::store::StoreError;
use crate::register::change::ChangeRecord;
use crate::register::import_job::ImportJob;
use crate::register::licence::Licence;
use crate::register::ports::ImportJobStore;
use crate::register::ports::{RegisterStore, RolloutStore};
use crate::register::rollout::{City, Plan, RolloutChange, Wave};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::{Delete, PutRequest, TransactWriteItem, WriteRequest};
use futures::{StreamExt, TryStreamExt};
use std::collections::HashMap;

const ROLLOUT: &str = "ROLLOUT";
/// The partition listing import jobs with work left (one item a job, written and deleted with the job).
const PENDING_IMPORTS: &str = "IMPORT#pending";

fn import_pk(id: &str) -> String {
    format!("IMPORT#{id}")
}

fn pending_sk(job: &ImportJob) -> String {
    format!("{}#{}", sortable(job.started_at), job.id)
}

pub(super) fn licence_pk(number: &str) -> String {
    format!("LICENCE#{number}")
}

impl DynamoRecords {
    /// Writes items with BatchWriteItem, 25 a request and eight requests at a time, until none is left unprocessed.
    async fn write_batches(&self, items: Vec<Item>) -> Result<(), StoreError> {
        let requests: Vec<Vec<WriteRequest>> = items
            .into_iter()
            .map(|item| {
                PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| WriteRequest::builder().put_request(put).build())
                    .map_err(|e| unavailable("PutRequest", e))
            })
            .collect::<Result<Vec<_>, _>>()?
            .chunks(25)
            .map(<[WriteRequest]>::to_vec)
            .collect();
        futures::stream::iter(requests.into_iter().map(|batch| self.write_batch(batch)))
            .buffer_unordered(8)
            .try_collect::<Vec<()>>()
            .await?;
        Ok(())
    }

    async fn write_batch(&self, mut batch: Vec<WriteRequest>) -> Result<(), StoreError> {
        // DynamoDB may leave part of a batch unprocessed under load: send that part again, backing off.
        for attempt in 0..8u32 {
            let out = self
                .client
                .batch_write_item()
                .request_items(self.table.clone(), batch)
                .send()
                .await
                .map_err(|e| unavailable("BatchWriteItem", e))?;
            batch = out
                .unprocessed_items
                .and_then(|mut left| left.remove(&self.table))
                .unwrap_or_default();
            if batch.is_empty() {
                return Ok(());
            }
            tokio::time::sleep(std::time::Duration::from_millis(50 << attempt)).await;
        }
        Err(StoreError::Unavailable(
            "BatchWriteItem: items left unprocessed after retries".into(),
        ))
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
                self.versioned_put_over_shipped(item, expected_version)?,
                self.put(change_item, "attribute_not_exists(pk)")?,
            ],
            |_| None,
        )
        .await
    }
}

#[async_trait]
impl RegisterStore for DynamoRecords {
    async fn licence(&self, number: &str) -> Result<Option<Licence>, StoreError> {
        self.get(licence_pk(number), "LICENCE").await?.map(decode).transpose()
    }

    async fn licence_number_of_holder(&self, holder_id: &str) -> Result<Option<String>, StoreError> {
        let item = self.get(format!("HOLDER#{holder_id}"), "LICENCE").await?;
        Ok(item
            .and_then(|i| i.get("licenceNumber").cloned())
            .and_then(|v| v.as_s().ok().cloned()))
    }

    async fn licences(&self, numbers: &[String]) -> Result<Vec<Licence>, StoreError> {
        let keys = numbers
            .iter()
            .map(|number| HashMap::from([("pk".into(), s(licence_pk(number))), ("sk".into(), s("LICENCE"))]))
            .collect();
        self.batch_get(keys).await?.into_iter().map(decode).collect()
    }

    async fn put_licences(&self, licences: &[Licence]) -> Result<(), StoreError> {
        // Plain batched puts: the caller read each licence and set its version, and a replayed chunk puts the
        // same items again. Each licence and each holder is its own partition.
        let mut items = Vec::with_capacity(licences.len() * 2);
        for licence in licences {
            items.push(encode(
                licence,
                licence_pk(&licence.number),
                "LICENCE".into(),
                "licence",
            )?);
            items.push(HashMap::from([
                ("pk".to_string(), s(format!("HOLDER#{}", licence.holder_id))),
                ("sk".to_string(), s("LICENCE")),
                ("kind".to_string(), s("holder")),
                ("licenceNumber".to_string(), s(&licence.number)),
            ]));
        }
        self.write_batches(items).await
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
}

#[async_trait]
impl RolloutStore for DynamoRecords {
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
}

#[async_trait]
impl ImportJobStore for DynamoRecords {
    async fn create_import_job(&self, job: &ImportJob) -> Result<(), StoreError> {
        let item = encode(job, import_pk(&job.id), "JOB".into(), "import-job")?;
        let pending = HashMap::from([
            ("pk".to_string(), s(PENDING_IMPORTS)),
            ("sk".to_string(), s(pending_sk(job))),
            ("kind".to_string(), s("pending-import")),
            ("jobId".to_string(), s(&job.id)),
        ]);
        self.transact(
            vec![
                self.put(item, "attribute_not_exists(pk)")?,
                self.put(pending, "attribute_not_exists(pk)")?,
            ],
            |index| (index == 0).then_some(StoreError::AlreadyExists),
        )
        .await
    }

    async fn import_job(&self, id: &str) -> Result<Option<ImportJob>, StoreError> {
        self.get(import_pk(id), "JOB").await?.map(decode).transpose()
    }

    async fn save_import_job(&self, job: &ImportJob, expected_version: u64) -> Result<(), StoreError> {
        let item = encode(job, import_pk(&job.id), "JOB".into(), "import-job")?;
        let mut writes = vec![self.versioned_put(item, expected_version)?];
        if !job.is_pending() {
            let delete = Delete::builder()
                .table_name(&self.table)
                .key("pk", s(PENDING_IMPORTS))
                .key("sk", s(pending_sk(job)))
                .build()
                .map_err(|e| unavailable("Delete", e))?;
            writes.push(TransactWriteItem::builder().delete(delete).build());
        }
        self.transact(writes, |_| None).await
    }

    async fn pending_import_jobs(&self) -> Result<Vec<String>, StoreError> {
        Ok(self
            .query_prefix(PENDING_IMPORTS, "")
            .await?
            .into_iter()
            .filter_map(|item| item.get("jobId").and_then(|v| v.as_s().ok()).cloned())
            .collect())
    }
}
