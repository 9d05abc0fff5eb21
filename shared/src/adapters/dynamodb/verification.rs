//! The verification context's ports on DynamoDB: the trust material (`TRUST` / `<role>#<kid>`), the verifiers'
//! nonces (`NONCE#<nonce>` / `NONCE`) and the quota counters (`QUOTA#<organisation>#<window>#<shard>` / `QUOTA`).

use super::{decode, encode, n, s, unavailable, DynamoRecords};
use crate::kernel::store::StoreError;
use crate::verification::ports::{DrawnNonce, NonceStore, QuotaCounter, QuotaShard, TrustEntry, TrustStore};
use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;

fn nonce_pk(nonce: &str) -> String {
    format!("NONCE#{nonce}")
}

/// One item per shard and window: its own partition, so the shards of one organisation spread.
fn quota_pk(shard: &QuotaShard) -> String {
    format!("QUOTA#{}#{}#{}", shard.organisation, shard.window_start, shard.shard)
}

fn epoch(seconds: i64) -> AttributeValue {
    AttributeValue::N(seconds.to_string())
}

#[async_trait]
impl TrustStore for DynamoRecords {
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
}

#[async_trait]
impl NonceStore for DynamoRecords {
    async fn keep_nonce(&self, nonce: &DrawnNonce) -> Result<(), StoreError> {
        let mut item = encode(nonce, nonce_pk(&nonce.nonce), "NONCE".into(), "nonce")?;
        // Garbage collection only: `take_nonce` checks the expiry itself.
        item.insert("ttl".into(), n(u64::try_from(nonce.expires_at + 3600).unwrap_or(0)));
        if self.put_if_absent(item).await? {
            Ok(())
        } else {
            Err(StoreError::AlreadyExists)
        }
    }

    async fn take_nonce(&self, nonce: &str, verifier_id: &str, now: i64) -> Result<bool, StoreError> {
        // One conditional delete: of two requests with the same nonce, exactly one deletes it.
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(nonce_pk(nonce)))
            .key("sk", s("NONCE"))
            .condition_expression("attribute_exists(pk) AND verifierId = :verifier AND expiresAt >= :now")
            .expression_attribute_values(":verifier", s(verifier_id))
            .expression_attribute_values(":now", epoch(now))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(unavailable("DeleteItem", e)),
        }
    }
}

#[async_trait]
impl QuotaCounter for DynamoRecords {
    async fn count_request(&self, shard: &QuotaShard, limit: u64, expires_at: i64) -> Result<bool, StoreError> {
        // An atomic add, conditional on the shard's count: never more than `limit`, however many race.
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(quota_pk(shard)))
            .key("sk", s("QUOTA"))
            .update_expression("ADD #count :one SET #ttl = if_not_exists(#ttl, :ttl), #kind = :kind")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", "requests")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":limit", n(limit))
            .expression_attribute_values(":ttl", epoch(expires_at))
            .expression_attribute_values(":kind", s("quota"))
            .send()
            .await;
        match result {
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

    async fn count_miss(&self, shard: &QuotaShard, expires_at: i64) -> Result<u64, StoreError> {
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", s(quota_pk(shard)))
            .key("sk", s("QUOTA"))
            .update_expression("ADD #misses :one SET #ttl = if_not_exists(#ttl, :ttl), #kind = :kind")
            .expression_attribute_names("#misses", "misses")
            .expression_attribute_names("#ttl", "ttl")
            .expression_attribute_names("#kind", "kind")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", epoch(expires_at))
            .expression_attribute_values(":kind", s("quota"))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| unavailable("UpdateItem", e))?;
        out.attributes
            .as_ref()
            .and_then(|a| a.get("misses"))
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("{}: no misses count", quota_pk(shard))))
    }
}
