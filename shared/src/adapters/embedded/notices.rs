//! In-process notices and issuance requests: what the local server lists, and hands to its issuance task.

use crate::applications::application::Application;
use crate::applications::ports::{Issuer, IssuerError};
use crate::kernel::notice::{Notice, Notifier, NotifierError};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use std::sync::Mutex;
use tokio::sync::mpsc::UnboundedSender;

/// Notices kept in memory, newest last.
#[derive(Default)]
pub struct EmbeddedNotices {
    notices: Mutex<Vec<(DateTime<Utc>, Notice)>>,
}

impl EmbeddedNotices {
    pub fn list(&self) -> Vec<(DateTime<Utc>, Notice)> {
        self.notices.lock().map(|n| n.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl Notifier for EmbeddedNotices {
    async fn notify(&self, notice: &Notice) -> Result<(), NotifierError> {
        self.notices
            .lock()
            .map_err(|_| NotifierError::Unavailable("notice list poisoned".into()))?
            .push((Utc::now(), notice.clone()));
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
