//! Notices leaving the service for the holder's (or the fleet's) app: pushed through EventBridge in AWS, listed locally.

use crate::applications::review::RejectionReason;
use async_trait::async_trait;
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
    async fn notify(&self, notice: &Notice) -> Result<(), NotifierError>;
}
