//! Adapters of the ports: embedded (in-process) ones, and AWS ones behind features.

#[cfg(feature = "dynamodb")]
pub mod aws;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod embedded;
pub mod embedded_notices;
pub mod embedded_photos;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
#[cfg(feature = "kms")]
pub mod kms;
#[cfg(feature = "rekognition")]
pub mod rekognition;
#[cfg(feature = "s3")]
pub mod s3;

use crate::ports::{LivenessCheck, LivenessError, LivenessOutcome};
use async_trait::async_trait;

/// The liveness port where no liveness service is configured: every check
/// is refused as unavailable, so nothing is approved without a real check.
pub struct NoLivenessService;

#[async_trait]
impl LivenessCheck for NoLivenessService {
    async fn check(&self, _session_id: &str, _holder_id: &str) -> Result<LivenessOutcome, LivenessError> {
        Err(LivenessError::Unavailable(
            "no liveness service is configured for this deployment".into(),
        ))
    }
}
