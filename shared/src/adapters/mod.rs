//! Adapters of the ports: embedded (in-process) ones, and AWS ones behind features.

#[cfg(feature = "dynamodb")]
pub mod aws;
#[cfg(feature = "cloudwatch")]
pub mod cloudwatch;
#[cfg(feature = "dynamodb")]
pub mod dynamodb;
pub mod embedded;
pub mod emf;
#[cfg(feature = "eventbridge")]
pub mod eventbridge;
#[cfg(feature = "kms")]
pub mod kms;
#[cfg(feature = "lambda")]
pub mod lambda;
#[cfg(any(
    feature = "s3",
    feature = "lambda",
    feature = "kms",
    feature = "eventbridge",
    feature = "rekognition",
    feature = "cloudwatch"
))]
pub mod on_first_use;
#[cfg(feature = "rekognition")]
pub mod rekognition;
#[cfg(feature = "s3")]
pub mod s3;

use crate::applications::application::Application;
use crate::applications::ports::{ApplicationStore, LivenessError, LivenessResult, LivenessService, PhotoClaims};
use crate::expiry::ExpiryIndex;
use crate::issuance::budget::SigningBudgetStore;
use crate::issuance::document::RefreshIndex;
use crate::issuance::outbox::IssuanceOutbox;
use crate::issuance::ports::LicenceStore;
use crate::issuance::status::StatusListStore;
use crate::kernel::check_log::CheckLog;
use crate::kernel::notice::NoticeOutbox;
use crate::kernel::queue::ReviewQueue;
use crate::kernel::showcode::ShowCodeCache;
use crate::register::ports::{ImportJobStore, RegisterStore, RolloutStore};
use crate::truck::pass::{PassCheck, TruckPass};
use crate::truck::ports::{PassStore, TruckRulesStore, VehicleStore};
use crate::verification::check::CheckRecord;
use crate::verification::ports::{NonceStore, QuotaCounter, TrustStore};
use async_trait::async_trait;

/// Every records port of every context, as each records store (embedded,
/// DynamoDB) implements them over its one table.
pub trait Records:
    RegisterStore
    + RolloutStore
    + ImportJobStore
    + ApplicationStore
    + PhotoClaims
    + ReviewQueue<Application>
    + LicenceStore
    + ShowCodeCache
    + TrustStore
    + NonceStore
    + QuotaCounter
    + CheckLog<CheckRecord>
    + ExpiryIndex
    + RefreshIndex
    + IssuanceOutbox
    + NoticeOutbox
    + StatusListStore
    + SigningBudgetStore
    + TruckRulesStore
    + VehicleStore
    + PassStore
    + ReviewQueue<TruckPass>
    + CheckLog<PassCheck>
{
}

impl<T> Records for T where
    T: RegisterStore
        + RolloutStore
        + ImportJobStore
        + ApplicationStore
        + PhotoClaims
        + ReviewQueue<Application>
        + LicenceStore
        + ShowCodeCache
        + TrustStore
        + NonceStore
        + QuotaCounter
        + CheckLog<CheckRecord>
        + ExpiryIndex
        + RefreshIndex
        + IssuanceOutbox
        + NoticeOutbox
        + StatusListStore
        + SigningBudgetStore
        + TruckRulesStore
        + VehicleStore
        + PassStore
        + ReviewQueue<TruckPass>
        + CheckLog<PassCheck>
{
}

/// The liveness port where no liveness service is configured: every check
/// is refused as unavailable, so nothing is approved without a real check.
pub struct NoLivenessService;

impl NoLivenessService {
    fn refusal() -> LivenessError {
        LivenessError::Unavailable("no liveness service is configured for this deployment".into())
    }
}

#[async_trait]
impl LivenessService for NoLivenessService {
    async fn create_session(&self, _application_id: &str) -> Result<String, LivenessError> {
        Err(Self::refusal())
    }

    async fn result(&self, _session_id: &str) -> Result<LivenessResult, LivenessError> {
        Err(Self::refusal())
    }

    async fn compare_faces(&self, _reference: &[u8], _photo: &[u8], _threshold: f32) -> Result<f32, LivenessError> {
        Err(Self::refusal())
    }
}
