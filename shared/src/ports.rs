//! The ports through which the domain reaches the world: records, clock, liveness, issuer.

use crate::domain::application::{Actor, Application};
use crate::domain::change::ChangeRecord;
use crate::domain::licence::Licence;
use crate::domain::rollout::{City, Plan, Wave};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record changed since it was read (optimistic locking); read and try again.
    #[error("the record changed since it was read")]
    Conflict,
    /// The licence already has an open application (the per-holder lock).
    #[error("the licence already has an open application {existing}")]
    OpenApplicationExists { existing: String },
    #[error("the record already exists")]
    AlreadyExists,
    #[error("the records store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
}

/// A switch of a city or wave, kept as the rollout's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutChange {
    /// `city:<code>` or `wave:<id>`.
    pub target: String,
    pub at: DateTime<Utc>,
    pub by: Actor,
    pub go_live_before: Option<DateTime<Utc>>,
    pub go_live_after: Option<DateTime<Utc>>,
}

/// Every record the service keeps. Writes that change state are conditional
/// on the version read (`expected_version`), and where two records change
/// together they change in one transaction.
#[async_trait]
pub trait Records: Send + Sync {
    async fn licence(&self, number: &str) -> Result<Option<Licence>, StoreError>;
    /// The number of the licence whose holder has this identity number.
    async fn licence_number_of_holder(&self, holder_id: &str) -> Result<Option<String>, StoreError>;
    /// Creates or replaces licences from the register (each one's version goes up).
    async fn import_licences(&self, licences: &[Licence]) -> Result<(), StoreError>;
    /// Stores `licence` (whose version is `expected_version + 1`) and its change record together.
    async fn change_licence(
        &self,
        licence: &Licence,
        expected_version: u64,
        record: &ChangeRecord,
    ) -> Result<(), StoreError>;
    /// The licence's change history, oldest first.
    async fn licence_changes(&self, number: &str) -> Result<Vec<ChangeRecord>, StoreError>;

    /// Stores a new application and takes its licence's open-application slot,
    /// atomically; fails with `OpenApplicationExists` when the slot is taken.
    async fn create_application(&self, application: &Application) -> Result<(), StoreError>;
    async fn application(&self, id: &str) -> Result<Option<Application>, StoreError>;
    /// Stores `application` (whose version is `expected_version + 1`); when it
    /// is no longer open, releases the slot in the same transaction.
    async fn update_application(&self, application: &Application, expected_version: u64) -> Result<(), StoreError>;

    /// Writes the plan's cities and waves that are not stored yet; never
    /// overwrites an administrator's switch.
    async fn seed_rollout(&self, plan: &Plan) -> Result<(), StoreError>;
    async fn cities(&self) -> Result<Vec<City>, StoreError>;
    async fn waves(&self) -> Result<Vec<Wave>, StoreError>;
    async fn city(&self, code: &str) -> Result<Option<City>, StoreError>;
    async fn wave(&self, id: &str) -> Result<Option<Wave>, StoreError>;
    /// Stores the city (version `expected_version + 1`) and the change record together.
    async fn switch_city(&self, city: &City, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError>;
    async fn switch_wave(&self, wave: &Wave, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError>;
    /// The rollout's change history, oldest first.
    async fn rollout_changes(&self) -> Result<Vec<RolloutChange>, StoreError>;
}

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The result of a real-person (liveness) check the app ran with the holder.
#[derive(Debug, Clone, PartialEq)]
pub struct LivenessOutcome {
    pub passed: bool,
    /// 0..=100, as the checking service reports it.
    pub confidence: f32,
    /// The check's own identifier, for the record.
    pub reference: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LivenessError {
    /// The session is unknown, forged, expired or belongs to someone else.
    #[error("the liveness session is not valid: {0}")]
    InvalidSession(String),
    #[error("the liveness service is unavailable: {0}")]
    Unavailable(String),
}

/// Checks the outcome of a liveness session the holder's app ran (R3).
#[async_trait]
pub trait LivenessCheck: Send + Sync {
    async fn check(&self, session_id: &str, holder_id: &str) -> Result<LivenessOutcome, LivenessError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IssuerError {
    #[error("issuance failed: {0}")]
    Failed(String),
}

/// Makes the signed electronic licence for an approved application. The
/// application stays `approved` (and retryable) until the issuer has
/// recorded the licence and ended it.
#[async_trait]
pub trait Issuer: Send + Sync {
    async fn issue(&self, application: &Application) -> Result<(), IssuerError>;
}
