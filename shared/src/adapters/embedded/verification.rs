//! The verification context's ports in process: the trust material, the verifiers' nonces, the quota counters.

use super::EmbeddedRecords;
use crate::kernel::store::StoreError;
use crate::verification::ports::{DrawnNonce, NonceStore, QuotaCounter, QuotaShard, TrustEntry, TrustStore};
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

#[async_trait]
impl NonceStore for EmbeddedRecords {
    async fn keep_nonce(&self, nonce: &DrawnNonce) -> Result<(), StoreError> {
        let mut state = self.state()?;
        // Expired nonces go as new ones come, as DynamoDB's TTL removes them.
        let now = nonce.expires_at - crate::service::verification::NONCE_SECONDS;
        state.nonces.retain(|_, kept| kept.expires_at >= now);
        if state.nonces.contains_key(&nonce.nonce) {
            return Err(StoreError::AlreadyExists);
        }
        state.nonces.insert(nonce.nonce.clone(), nonce.clone());
        Ok(())
    }

    async fn take_nonce(&self, nonce: &str, verifier_id: &str, now: i64) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let usable = state
            .nonces
            .get(nonce)
            .is_some_and(|kept| kept.verifier_id == verifier_id && kept.expires_at >= now);
        if usable {
            state.nonces.remove(nonce);
        }
        Ok(usable)
    }
}

#[async_trait]
impl QuotaCounter for EmbeddedRecords {
    async fn count_request(&self, shard: &QuotaShard, limit: u64, _expires_at: i64) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        // Windows before this one are over: forget them, as the TTL does in DynamoDB.
        state
            .quota_counts
            .retain(|(_, start, _), _| *start >= shard.window_start);
        let count = state
            .quota_counts
            .entry((shard.organisation.clone(), shard.window_start, shard.shard))
            .or_default();
        if *count >= limit {
            return Ok(false);
        }
        *count += 1;
        Ok(true)
    }

    async fn count_miss(&self, shard: &QuotaShard, _expires_at: i64) -> Result<u64, StoreError> {
        let mut state = self.state()?;
        state
            .quota_misses
            .retain(|(_, start, _), _| *start >= shard.window_start);
        let misses = state
            .quota_misses
            .entry((shard.organisation.clone(), shard.window_start, shard.shard))
            .or_default();
        *misses += 1;
        Ok(*misses)
    }
}
