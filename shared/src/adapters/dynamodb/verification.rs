//! The verification context's port on DynamoDB: the trust material (`TRUST` / `<role>#<kid>`).

use super::{decode, encode, unavailable, DynamoRecords};
use crate::kernel::store::StoreError;
use crate::verification::ports::{TrustEntry, TrustStore};
use async_trait::async_trait;

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
