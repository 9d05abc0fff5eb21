//! The issuance outbox: an approved application waits in a sparse index until issuance ends it, so that a
//! lost event or a failed issue function is re-driven by the sweep instead of leaving the holder without a licence.

use crate::applications::application::{Application, ApplicationState};
use crate::expiry::ExpiryEntry;
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

/// The outbox's partitions (`ISSUE#<shard>`): a launch day's approvals spread over this many, so that no
/// GSI partition takes more than an eighth of them (see the README's key table).
pub const ISSUE_SHARDS: u32 = 8;

/// How long an approval may wait for its event before the sweep re-drives it: the event normally issues
/// within seconds, and Lambda's own retries of a failed issue (about one and three minutes later) come first.
pub const SWEEP_AFTER_MINUTES: i64 = 5;

/// How many approvals one sweep reads per shard; what is left waits for the next sweep five minutes on.
pub const SWEEP_PAGE: usize = 200;

/// An approved application's place in the outbox: `ISSUE#<shard>` / `<approval time>#<id>`. Only an
/// approved application has one; the issuance transaction rewrites the item as issued, which takes it out.
pub fn issuance_entry(application: &Application) -> Option<ExpiryEntry> {
    (application.state == ApplicationState::Approved).then(|| ExpiryEntry {
        bucket: issue_bucket(shard_of(&application.id)),
        // An approved application changes no more until issued: its last change is the approval.
        key: format!("{}#{}", sortable(application.updated_at), application.id),
    })
}

/// The outbox partition of one shard: `ISSUE#3`.
pub fn issue_bucket(shard: u32) -> String {
    format!("ISSUE#{shard}")
}

/// An application id's shard: a stable hash of its text (`kernel::shard`), so that it never moves between writes.
pub fn shard_of(id: &str) -> u32 {
    crate::kernel::shard::shard_of(id, ISSUE_SHARDS)
}

/// A time that sorts as text in time order (fixed width, UTC), as the index's sort key holds it.
pub fn sortable(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The sort-key bound of a sweep at `now`: approvals strictly before `now - SWEEP_AFTER_MINUTES`.
pub fn approved_before(now: DateTime<Utc>) -> DateTime<Utc> {
    now - Duration::minutes(SWEEP_AFTER_MINUTES)
}

/// The approvals still waiting for issuance, kept in step by every write of an application.
#[async_trait]
pub trait IssuanceOutbox: Send + Sync {
    /// The ids of up to `limit` applications of one shard approved before `before`, oldest first.
    async fn awaiting_issuance(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_are_stable_and_all_used() {
        let id = "0193a1b2-0000-7000-8000-000000000001";
        assert_eq!(shard_of(id), shard_of(id));
        let used: std::collections::BTreeSet<u32> =
            (0..200).map(|_| shard_of(&uuid::Uuid::now_v7().to_string())).collect();
        assert_eq!(used.len(), ISSUE_SHARDS as usize);
        assert_eq!(issue_bucket(3), "ISSUE#3");
    }

    #[test]
    fn the_bound_sorts_before_an_approval_at_the_same_instant() {
        let at = DateTime::parse_from_rfc3339("2026-11-25T02:00:00Z")
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_default();
        let key = format!("{}#some-id", sortable(at));
        assert!(key > sortable(at));
        assert!(key < sortable(at + Duration::microseconds(1)));
    }
}
