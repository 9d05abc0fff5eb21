//! The verification context's port in process: the trust material.

use super::EmbeddedRecords;
use crate::kernel::store::StoreError;
use crate::verification::ports::{TrustEntry, TrustStore};
use async_trait::async_trait;

#[async_trait]
impl TrustStore for EmbeddedRecords {
    async fn save_trust(&self, entry: &TrustEntry) -> Result<(), StoreError> {
        let key = format!("{:?}#{}", entry.role, entry.kid);
        self.state()?.trust.insert(key, entry.clone());
        Ok(())
    }

    async fn trust(&self) -> Result<Vec<TrustEntry>, StoreError> {
        Ok(self.state()?.trust.values().cloned().collect())
    }
}
