//! Notices leaving the service for the holder's (or the fleet's) app: pushed through EventBridge in AWS, listed locally.

use crate::applications::review::RejectionReason;
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Events leaving the service: notices to holders and fleets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "PascalCase", rename_all_fields = "camelCase")]
pub enum Notice {
    /// A success notice pushed to the holder's app (R3, R4).
    LicenceIssued {
        holder_id: String,
        serial: String,
        application_id: String,
    },
    /// The photo was refused with reasons the app can show (R4), as their stable codes.
    PhotoRejected {
        holder_id: String,
        application_id: String,
        reasons: Vec<RejectionReason>,
    },
    /// The electronic licence is no longer valid; the holder applies again (R11).
    LicenceSuperseded {
        holder_id: String,
        serial: String,
        reason: String,
    },
    /// Staff or an administrator decided a truck pass: `approved`, `rejected`
    /// or `revoked`; the owner's and the fleet's apps read the pass for why.
    PassDecided {
        owner_id: String,
        fleet_id: Option<String>,
        serial: String,
        state: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifierError {
    #[error("the notifier is unavailable: {0}")]
    Unavailable(String),
}

/// Pushes notices to holders (through EventBridge in AWS, into a list locally).
#[async_trait]
pub trait Notifier: Send + Sync {
    async fn notify(&self, notice: &PendingNotice) -> Result<(), NotifierError>;
}

/// A notice recorded in the same write as the change that warrants it, until it is delivered: a push that
/// fails (EventBridge throttles, the function dies) leaves it pending and the five-minute sweep delivers it.
/// Its `id` travels in the event (`noticeId`): delivery is at least once, so a consumer drops a repeat by it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingNotice {
    pub id: String,
    /// When the change was recorded: the sweep re-delivers notices older than a few minutes.
    pub at: DateTime<Utc>,
    pub notice: Notice,
}

/// The notice outbox's partitions (`NOTICE#<shard>` in the `issue` index), as the issuance outbox's.
pub const NOTICE_SHARDS: u32 = 8;

impl PendingNotice {
    /// A new notice with a fresh time-ordered id.
    pub fn new(notice: Notice, at: DateTime<Utc>) -> PendingNotice {
        PendingNotice {
            id: uuid::Uuid::now_v7().to_string(),
            at,
            notice,
        }
    }

    /// The outbox partition of this notice: `NOTICE#<shard>`, a stable hash of its id, so that it never moves.
    pub fn bucket(&self) -> String {
        notice_bucket(super::shard::shard_of(&self.id, NOTICE_SHARDS))
    }

    /// Its place in the partition: `<time>#<id>`, oldest first.
    pub fn key(&self) -> String {
        format!("{}#{}", sortable(self.at), self.id)
    }

    /// The event's detail: the notice's fields, its `type`, and the `noticeId` a consumer deduplicates by.
    pub fn detail(&self) -> Result<serde_json::Value, NotifierError> {
        let mut detail = serde_json::to_value(&self.notice).map_err(|e| NotifierError::Unavailable(e.to_string()))?;
        if let Some(fields) = detail.as_object_mut() {
            fields.insert("noticeId".into(), serde_json::Value::String(self.id.clone()));
        }
        Ok(detail)
    }
}

/// The outbox partition of one shard: `NOTICE#3`.
pub fn notice_bucket(shard: u32) -> String {
    format!("NOTICE#{shard}")
}

/// The sort-key bound of notices recorded before `before`.
pub fn sortable(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The notices still to deliver, written with the changes that warrant them and removed on delivery.
#[async_trait]
pub trait NoticeOutbox: Send + Sync {
    /// Up to `limit` notices of one shard recorded before `before`, oldest first.
    async fn pending_notices(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingNotice>, StoreError>;

    /// The notice was delivered: it leaves the outbox (a missing one is already gone).
    async fn notice_delivered(&self, notice: &PendingNotice) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_detail_carries_the_stable_id_and_the_shard_never_moves() {
        let notice = PendingNotice::new(
            Notice::LicenceIssued {
                holder_id: "h".into(),
                serial: "s".into(),
                application_id: "a".into(),
            },
            Utc::now(),
        );
        let detail = notice.detail().unwrap_or_default();
        assert_eq!(detail["noticeId"], serde_json::json!(notice.id));
        assert_eq!(detail["type"], "LicenceIssued");
        assert_eq!(notice.bucket(), notice.clone().bucket());
        let used: std::collections::BTreeSet<String> = (0..200)
            .map(|_| PendingNotice::new(notice.notice.clone(), Utc::now()).bucket())
            .collect();
        assert_eq!(used.len(), NOTICE_SHARDS as usize);
    }
}
