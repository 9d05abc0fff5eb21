//! The mechanisms several contexts share, in process: the show-code cache, the check logs, the expiry and refresh indexes.

use super::EmbeddedRecords;
use crate::credential::showcode::CodeKind;
use crate::expiry::{ExpiryEntry, ExpiryIndex, ExpiryPage};
use crate::issuance::document::RefreshIndex;
use crate::kernel::check_log::{CheckLog, LoggedCheck};
use crate::kernel::showcode::{CachedShowCode, ShowCodeCache};
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::collections::BTreeSet;
use std::ops::Bound;

#[async_trait]
impl ShowCodeCache for EmbeddedRecords {
    async fn cached_code(&self, kind: CodeKind, serial: &str) -> Result<Option<CachedShowCode>, StoreError> {
        Ok(self
            .state()?
            .show_codes
            .get(&(kind.claim(), serial.to_string()))
            .cloned())
    }

    async fn keep_code(&self, kind: CodeKind, serial: &str, code: &CachedShowCode) -> Result<(), StoreError> {
        self.state()?
            .show_codes
            .insert((kind.claim(), serial.to_string()), code.clone());
        Ok(())
    }
}

#[async_trait]
impl<C: LoggedCheck> CheckLog<C> for EmbeddedRecords {
    async fn record(&self, check: &C) -> Result<(), StoreError> {
        // Kept as stored records are, so that both stores read back what they were given.
        let stored =
            serde_json::to_string(check).map_err(|e| StoreError::Corrupt(format!("cannot encode a check: {e}")))?;
        let subject = check.filed_under().unwrap_or_default().to_string();
        self.state()?.checks.entry((C::LOG, subject)).or_default().push(stored);
        Ok(())
    }

    async fn checks_of(&self, subject: &str, limit: usize) -> Result<Vec<C>, StoreError> {
        let state = self.state()?;
        let Some(checks) = state.checks.get(&(C::LOG, subject.to_string())) else {
            return Ok(Vec::new());
        };
        checks
            .iter()
            .rev()
            .take(limit)
            .map(|c| serde_json::from_str(c).map_err(|e| StoreError::Corrupt(format!("a check: {e}"))))
            .collect()
    }
}

/// One page of an ordered index's bucket, from after the cursor (the last key, base64).
fn bucket_page(
    index: &BTreeSet<ExpiryEntry>,
    bucket: &str,
    limit: usize,
    after: Option<String>,
) -> Result<ExpiryPage, StoreError> {
    let start = match after {
        Some(cursor) => {
            let key = URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or(StoreError::BadCursor)?;
            Bound::Excluded(ExpiryEntry {
                bucket: bucket.to_string(),
                key,
            })
        }
        None => Bound::Included(ExpiryEntry {
            bucket: bucket.to_string(),
            key: String::new(),
        }),
    };
    let limit = limit.max(1);
    // Reads the bucket's entries only (a range of the ordered index). As
    // DynamoDB does, a full page has a cursor even when nothing follows.
    let keys: Vec<String> = index
        .range((start, Bound::Unbounded))
        .take_while(|entry| entry.bucket == bucket)
        .take(limit)
        .map(|entry| entry.key.clone())
        .collect();
    let read = keys.len();
    let next = if keys.len() == limit {
        keys.last().map(|k| URL_SAFE_NO_PAD.encode(k))
    } else {
        None
    };
    Ok(ExpiryPage { keys, next, read })
}

#[async_trait]
impl ExpiryIndex for EmbeddedRecords {
    async fn due_for_expiry(
        &self,
        bucket: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        bucket_page(&self.state()?.expiry, bucket, limit, after)
    }
}

#[async_trait]
impl RefreshIndex for EmbeddedRecords {
    async fn due_for_refresh(
        &self,
        bucket: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        bucket_page(&self.state()?.refresh, bucket, limit, after)
    }
}
