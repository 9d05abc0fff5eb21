//! The issue function: an `ApplicationApproved` event becomes a KMS-signed electronic licence, exactly once.

use serde::{Deserialize, Serialize};
use shared::service::issuance::IssueOutcome;
use shared::service::{Issuing, ServiceError};

/// The `detail` of an `ApplicationApproved` event.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approved {
    pub application_id: String,
}

#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// A dependency failed (KMS, DynamoDB, S3): EventBridge retries the event,
    /// then sends it to the dead-letter queue. Nothing was written.
    #[error("application {application} could not be issued yet: {source}")]
    Retry { application: String, source: ServiceError },
}

/// Issues the application's licence. Outcomes that retrying cannot change
/// (unknown application, not approved) are logged and answered, not retried.
pub async fn handle(issuing: &Issuing, approved: Approved) -> Result<Option<IssueOutcome>, IssueError> {
    match issuing.issue(&approved.application_id).await {
        Ok(outcome) => Ok(Some(outcome)),
        Err(source @ (ServiceError::Unavailable(_) | ServiceError::Conflict)) => Err(IssueError::Retry {
            application: approved.application_id,
            source,
        }),
        Err(other) => {
            tracing::warn!(application = %approved.application_id, error = %other, "not issued");
            Ok(None)
        }
    }
}
