//! In-process notices and issuance requests: what the local server lists, and hands to its issuance task; and the
//! notice outbox of the embedded records.

use super::EmbeddedRecords;
use crate::applications::application::Application;
use crate::applications::ports::{Issuer, IssuerError};
use crate::kernel::notice::{sortable, Notice, NoticeOutbox, Notifier, NotifierError, PendingNotice};
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// Notices kept in memory, newest last, each delivery listed (a re-delivery repeats its id, as EventBridge may).
#[derive(Default)]
pub struct EmbeddedNotices {
    notices: Mutex<Vec<(DateTime<Utc>, PendingNotice)>>,
}

impl EmbeddedNotices {
    pub fn list(&self) -> Vec<(DateTime<Utc>, Notice)> {
        self.delivered()
            .into_iter()
            .map(|(at, pending)| (at, pending.notice))
            .collect()
    }

    /// Every delivery with its notice id.
    pub fn delivered(&self) -> Vec<(DateTime<Utc>, PendingNotice)> {
        self.notices.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Notifier for EmbeddedNotices {
    async fn notify(&self, notice: &PendingNotice) -> Result<(), NotifierError> {
        self.notices
            .lock()
            .map_err(|_| NotifierError::Unavailable("notice list poisoned".into()))?
            .push((Utc::now(), notice.clone()));
        Ok(())
    }
}

#[async_trait]
impl NoticeOutbox for EmbeddedRecords {
    async fn pending_notices(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingNotice>, StoreError> {
        let state = self.state()?;
        let bucket = crate::kernel::notice::notice_bucket(shard);
        let bound = sortable(before);
        let mut pending: Vec<&PendingNotice> = state
            .notices
            .values()
            .filter(|n| n.bucket() == bucket && n.key() < bound)
            .collect();
        pending.sort_by_key(|n| n.key());
        Ok(pending.into_iter().take(limit).cloned().collect())
    }

    async fn notice_delivered(&self, notice: &PendingNotice) -> Result<(), StoreError> {
        self.state()?.notices.remove(&notice.id);
        Ok(())
    }
}

/// Hands approved applications to a background issuance task, as the
/// EventBridge rule hands them to the issue function.
pub struct ChannelIssuer {
    pub sender: UnboundedSender<String>,
}

#[async_trait]
impl Issuer for ChannelIssuer {
    async fn request_issuance(&self, application: &Application) -> Result<(), IssuerError> {
        self.sender
            .send(application.id.clone())
            .map_err(|_| IssuerError::Failed("the issuance task has stopped".into()))
    }
}
