//! The mechanisms several contexts share, on DynamoDB: the show-code cache (`SHOWCODE#<serial>` or beside its pass),
//! the check logs (`<log>#<holder or serial>` / `<time>#<id>`), and the sparse `expiry` and `refresh` indexes.

use super::truck::pass_pk;
use super::{
    decode, decode_cursor, encode, encode_cursor, n, s, sortable, unavailable, DynamoRecords, EXPIRY_INDEX,
    REFRESH_INDEX,
};
use crate::credential::showcode::CodeKind;
use crate::expiry::{ExpiryIndex, ExpiryPage};
use crate::issuance::document::RefreshIndex;
use crate::kernel::check_log::{unmatched_partition, CheckLog, LoggedCheck};
use crate::kernel::showcode::{CachedShowCode, ShowCodeCache};
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use serde::de::DeserializeOwned;

/// The partition a show code is kept in: a licence's in its own (`SHOWCODE#`), so that the licence function
/// may keep codes and never write a licence; a truck pass's beside the pass, which the pass function writes anyway.
fn code_pk(kind: CodeKind, serial: &str) -> String {
    match kind {
        CodeKind::Licence => format!("SHOWCODE#{serial}"),
        CodeKind::TruckPass => pass_pk(serial),
    }
}

impl DynamoRecords {
    /// Keeps a show code in its partition (`pk`), replacing the previous one.
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
}

#[async_trait]
impl ShowCodeCache for DynamoRecords {
    async fn cached_code(&self, kind: CodeKind, serial: &str) -> Result<Option<CachedShowCode>, StoreError> {
        self.get(code_pk(kind, serial), "SHOWCODE")
            .await?
            .map(decode)
            .transpose()
    }

    async fn keep_code(&self, kind: CodeKind, serial: &str, code: &CachedShowCode) -> Result<(), StoreError> {
        self.put_show_code(code_pk(kind, serial), code).await
    }
}

#[async_trait]
impl<C: LoggedCheck> CheckLog<C> for DynamoRecords {
    async fn record(&self, check: &C) -> Result<(), StoreError> {
        let log = C::LOG;
        let pk = match check.filed_under() {
            Some(subject) => format!("{log}#{subject}"),
            // The day of the check in UTC, as before sharding: the log is an operator's, read by day and shard.
            None => unmatched_partition(log, check.at().date_naive(), check.id()),
        };
        let item = encode(check, pk, format!("{}#{}", sortable(check.at()), check.id()), C::KIND)?;
        // A retried check finds itself stored: recorded once, not an error.
        self.put_if_absent(item).await?;
        Ok(())
    }

    async fn checks_of(&self, subject: &str, limit: usize) -> Result<Vec<C>, StoreError> {
        self.newest_first(format!("{}#{subject}", C::LOG), limit).await
    }
}

#[async_trait]
impl ExpiryIndex for DynamoRecords {
    async fn due_for_expiry(
        &self,
        bucket: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        self.index_page(EXPIRY_INDEX, "expiry", bucket, limit, after).await
    }
}

#[async_trait]
impl RefreshIndex for DynamoRecords {
    async fn due_for_refresh(
        &self,
        bucket: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        self.index_page(REFRESH_INDEX, "refresh", bucket, limit, after).await
    }
}

impl DynamoRecords {
    /// One page of a keys-only day-bucket index (`<prefix>Pk` = bucket), in key order.
    async fn index_page(
        &self,
        index: &str,
        prefix: &str,
        bucket: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        let (pk, sk) = (format!("{prefix}Pk"), format!("{prefix}Sk"));
        let mut request = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression(format!("{pk} = :bucket"))
            .expression_attribute_values(":bucket", s(bucket))
            .limit(i32::try_from(limit.clamp(1, 1000)).unwrap_or(100));
        if let Some(cursor) = &after {
            request =
                request.set_exclusive_start_key(Some(decode_cursor(cursor, &[pk.as_str(), sk.as_str(), "pk", "sk"])?));
        }
        let out = request.send().await.map_err(|e| unavailable("Query", e))?;
        let items = out.items.unwrap_or_default();
        let read = items.len();
        let keys = items
            .into_iter()
            .map(|item| {
                item.get(&sk)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .ok_or_else(|| StoreError::Corrupt(format!("an entry of {bucket} without {sk}")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let next = match out.last_evaluated_key {
            Some(key) if !key.is_empty() => Some(encode_cursor(&key)),
            _ => None,
        };
        Ok(ExpiryPage { keys, next, read })
    }
}
