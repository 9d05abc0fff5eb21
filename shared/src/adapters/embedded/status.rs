//! The status lists' port in process: slots, shards and published tokens, each write under the one lock; and the
//! scheduled jobs' daily signing counters.

use super::EmbeddedRecords;
use crate::issuance::budget::{SignCounter, SigningBudgetStore};
use crate::issuance::outbox::sortable;
use crate::issuance::status::{
    status_mark_bucket, LicenceVersion, PublishedList, StatusEntry, StatusListStore, StatusShard,
};
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};

#[async_trait]
impl StatusListStore for EmbeddedRecords {
    async fn claim_status_slot(
        &self,
        entry: StatusEntry,
        serial: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        match state.status_slots.get(&entry) {
            Some((_, held_until)) if *held_until >= now => Ok(false),
            _ => {
                state.status_slots.insert(entry, (serial.to_string(), until));
                Ok(true)
            }
        }
    }

    async fn status_shard(&self, list: u32, shard: u32) -> Result<Option<StatusShard>, StoreError> {
        Ok(self.state()?.status_shards.get(&(list, shard)).cloned())
    }

    async fn status_shards(&self, list: u32) -> Result<Vec<(u32, StatusShard)>, StoreError> {
        let state = self.state()?;
        let mut shards: Vec<(u32, StatusShard)> = state
            .status_shards
            .iter()
            .filter(|((l, _), _)| *l == list)
            .map(|((_, shard), stored)| (*shard, stored.clone()))
            .collect();
        shards.sort_by_key(|(shard, _)| *shard);
        Ok(shards)
    }

    async fn put_status_shard(
        &self,
        list: u32,
        shard: u32,
        packed: &[u8],
        expected: u64,
        guard: Option<&LicenceVersion>,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(guard) = guard {
            let version = state.electronic_licences.get(&guard.serial).map(|l| l.version);
            if version != Some(guard.version) {
                return Err(StoreError::Conflict);
            }
        }
        let current = state.status_shards.get(&(list, shard)).map_or(0, |s| s.version);
        if current != expected {
            return Err(StoreError::Conflict);
        }
        state.status_shards.insert(
            (list, shard),
            StatusShard {
                packed: packed.to_vec(),
                version: expected + 1,
            },
        );
        Ok(())
    }

    async fn published_list(&self, list: u32) -> Result<Option<PublishedList>, StoreError> {
        Ok(self.state()?.published_lists.get(&list).cloned())
    }

    async fn publish_list(&self, published: &PublishedList) -> Result<(), StoreError> {
        self.state()?.published_lists.insert(published.list, published.clone());
        Ok(())
    }

    async fn marked_for_publication(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let state = self.state()?;
        let (bucket, bound) = (status_mark_bucket(shard), sortable(before));
        Ok(state
            .status_marks
            .iter()
            .filter(|e| e.bucket == bucket && e.key < bound)
            .take(limit)
            .filter_map(|e| e.key.rsplit_once('#').map(|(_, serial)| serial.to_string()))
            .collect())
    }

    async fn clear_status_mark(&self, serial: &str, version: u64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let Some(current) = state.electronic_licences.get(serial) else {
            return Ok(());
        };
        if current.version != version {
            return Err(StoreError::Conflict);
        }
        let mut cleared = current.clone();
        cleared.status_to_publish = None;
        state.put_electronic_licence(&cleared);
        Ok(())
    }
}

#[async_trait]
impl SigningBudgetStore for EmbeddedRecords {
    async fn take_signs(&self, day: NaiveDate, counter: SignCounter, count: u64, cap: u64) -> Result<bool, StoreError> {
        let mut state = self.state()?;
        let taken = state.signs.entry((day, counter)).or_insert(0);
        if taken.saturating_add(count) > cap {
            return Ok(false);
        }
        *taken += count;
        Ok(true)
    }

    async fn give_back_signs(&self, day: NaiveDate, counter: SignCounter, count: u64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let taken = state.signs.entry((day, counter)).or_insert(0);
        *taken = taken.saturating_sub(count);
        Ok(())
    }

    async fn signs_taken(&self, day: NaiveDate, counter: SignCounter) -> Result<u64, StoreError> {
        Ok(self.state()?.signs.get(&(day, counter)).copied().unwrap_or(0))
    }
}
