//! The register's ports on DynamoDB: licences (`LICENCE#<number>`), their changes, holders, the rollout (`ROLLOUT`).

use super::{decode, encode, n, s, sortable, unavailable, DynamoRecords, Item};
use crate::kernel::store::StoreError;
use crate::register::change::ChangeRecord;
use crate::register::licence::Licence;
use crate::register::ports::{RegisterStore, RolloutStore};
use crate::register::rollout::{City, Plan, RolloutChange, Wave};
use async_trait::async_trait;
use std::collections::HashMap;

const ROLLOUT: &str = "ROLLOUT";

pub(super) fn licence_pk(number: &str) -> String {
    format!("LICENCE#{number}")
}

impl DynamoRecords {
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
        // An import states the whole record: a line without a photo on file leaves none, as a put would.
        let remove = if licence.photo_sha256.is_none() {
            names.insert("#photo".into(), "photoSha256".into());
            " REMOVE #photo"
        } else {
            ""
        };
        self.client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(licence_pk(&licence.number)))
            .key("sk", s("LICENCE"))
            .update_expression(format!("SET {}{remove} ADD #version :one", sets.join(", ")))
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
