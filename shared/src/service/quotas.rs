//! The verifiers' quotas and metrics (R9, R15): each request counted against its organisation's sharded counter
//! for the window, refused once every shard is full, and the verification metric the enumeration alarm reads.

use super::{ServiceError, Services};
use crate::kernel::caller::Caller;
use crate::verification::metrics;
use crate::verification::ports::QuotaShard;
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Mutex;

/// How long a quota counter is kept after its window ends (garbage collection only).
const QUOTA_KEPT_SECONDS: i64 = 3600;

/// The organisations this process found over their quota, with the end of that window: refused again without
/// a write until it ends (otherwise every refused request would cost one conditional write per shard).
#[derive(Default)]
pub struct SpentQuotas {
    inner: Mutex<HashMap<String, i64>>,
}

impl SpentQuotas {
    fn until(&self, organisation: &str, now: i64) -> Option<i64> {
        let inner = self.inner.lock().ok()?;
        inner.get(organisation).copied().filter(|end| *end > now)
    }

    fn remember(&self, organisation: String, window_end: i64, now: i64) {
        if let Ok(mut inner) = self.inner.lock() {
            inner.retain(|_, end| *end > now);
            inner.insert(organisation, window_end);
        }
    }
}

/// Where a request was counted against its organisation's quota.
pub(super) struct CountedRequest {
    shard: QuotaShard,
    expires_at: i64,
}

impl Services {
    /// The verification metric of one attempt; a miss is also counted on the shard the request was counted
    /// on, and the organisation's misses in this window estimated from it (its count times the shards: the
    /// shards are picked at random).
    pub(super) async fn measure(
        &self,
        caller: &Caller,
        counted: &CountedRequest,
        reason: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), ServiceError> {
        let miss = metrics::is_miss(reason);
        let window_misses = if miss {
            let shard_misses = self.records.count_miss(&counted.shard, counted.expires_at).await?;
            Some(shard_misses.saturating_mul(u64::from(self.quotas.shards.max(1))))
        } else {
            None
        };
        self.metrics
            .verification(&metric_organisation(caller), miss, window_misses, now);
        Ok(())
    }

    /// Counts one request against the caller's organisation's quota for the current window; refused (429)
    /// when every shard of its counter is full. See `verification::quota` for the sharding.
    pub(super) async fn spend_quota(&self, caller: &Caller) -> Result<CountedRequest, ServiceError> {
        let organisation = match &caller.organisation {
            Some(organisation) => organisation.clone(),
            // A verifier without an organisation is an organisation of its own.
            None => format!("subject:{}", caller.id),
        };
        let requests = self.quotas.requests_of(&organisation);
        let now = self.now().timestamp();
        if let Some(window_end) = self.spent_quotas.until(&organisation, now) {
            return Err(ServiceError::QuotaExceeded {
                requests,
                retry_after_seconds: window_end - now,
            });
        }
        let (window_start, window_end) = self.quotas.window(now);
        let shards = self.quotas.shards.max(1);
        // A random first shard spreads one organisation's writes over its shards' partitions.
        let first = u32::from(uuid::Uuid::new_v4().as_bytes()[0]) % shards;
        for step in 0..shards {
            let shard = (first + step) % shards;
            let limit = self.quotas.shard_limit(requests, shard);
            if limit == 0 {
                continue;
            }
            let key = QuotaShard {
                organisation: organisation.clone(),
                window_start,
                shard,
            };
            let expires_at = window_end + QUOTA_KEPT_SECONDS;
            if self.records.count_request(&key, limit, expires_at).await? {
                return Ok(CountedRequest { shard: key, expires_at });
            }
        }
        self.spent_quotas.remember(organisation, window_end, now);
        Err(ServiceError::QuotaExceeded {
            requests,
            retry_after_seconds: window_end - now,
        })
    }
}

/// The organisation a verification metric is counted under (never the verifier's subject: no names in metrics).
fn metric_organisation(caller: &Caller) -> String {
    caller
        .organisation
        .clone()
        .unwrap_or_else(|| metrics::NO_ORGANISATION.to_string())
}
