//! The ports through which the domain reaches the world: records, photos, signer, clock, liveness, issuer, notifier.

use crate::applications::application::Application;
use crate::applications::photo::ImageType;
use crate::expiry::ExpiryKind;
use crate::issuance::edl::ElectronicLicence;
use crate::kernel::caller::Actor;
use crate::kernel::Colour;
use crate::register::change::ChangeRecord;
use crate::register::licence::Licence;
use crate::register::rollout::{City, Plan, Wave};
use crate::truck::pass::{PassCheck, TruckPass};
use crate::truck::rules::{CityTruckRules, TruckRulebook, TruckRulesChange};
use crate::truck::vehicle::Vehicle;
use crate::verification::check::CheckRecord;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
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
    /// A paging cursor this store did not issue.
    #[error("the cursor is not one this service issued")]
    BadCursor,
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
/// together they change in one transaction. The truck pass's records are
/// grouped apart in [`PassRecords`].
#[async_trait]
pub trait Records: PassRecords + Send + Sync {
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

    /// Records that these exact image bytes belong to `holder_id` (R15). The
    /// same holder may use them again; another holder may not.
    async fn claim_photo(&self, sha256: &str, holder_id: &str, application_id: &str) -> Result<PhotoClaim, StoreError>;
    /// Applications waiting for review, earliest due first (which is also
    /// oldest first: the due time grows with the arrival time).
    async fn review_queue(&self, query: &QueueQuery) -> Result<QueuePage, StoreError>;

    /// Certificates and the keys behind them (IACA root, document signers).
    async fn save_trust(&self, entry: &TrustEntry) -> Result<(), StoreError>;
    async fn trust(&self) -> Result<Vec<TrustEntry>, StoreError>;

    async fn electronic_licence(&self, serial: &str) -> Result<Option<ElectronicLicence>, StoreError>;
    /// The serial of the holder's latest electronic licence (active or not).
    async fn current_serial_of(&self, holder_id: &str) -> Result<Option<String>, StoreError>;
    /// In one transaction: the new licence, the application ended as issued
    /// (its lock released), the holder's pointer moved, the previous licence superseded.
    async fn record_issuance(&self, issuance: &Issuance) -> Result<(), StoreError>;
    /// A status change of an issued licence (stopped, superseded).
    async fn update_electronic_licence(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
    ) -> Result<(), StoreError>;
    async fn cached_show_code(&self, serial: &str) -> Result<Option<CachedShowCode>, StoreError>;
    async fn cache_show_code(&self, serial: &str, code: &CachedShowCode) -> Result<(), StoreError>;

    /// Records a verification (R15): under its holder when the licence is
    /// known, under the day's unmatched checks otherwise.
    async fn record_check(&self, check: &CheckRecord) -> Result<(), StoreError>;
    /// A holder's checks, newest first.
    async fn checks_of(&self, holder_id: &str, limit: usize) -> Result<Vec<CheckRecord>, StoreError>;

    /// The keys (serials or application ids) in one day's expiry bucket, in
    /// key order, read from an index that holds only records still to end
    /// (see `expiry`), so a run reads what is due and nothing else.
    async fn due_for_expiry(
        &self,
        kind: ExpiryKind,
        day: NaiveDate,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError>;
}

/// The truck city-access pass's records (R13): each city's rules, the
/// vehicle register, passes and their checks.
#[async_trait]
pub trait PassRecords: Send + Sync {
    /// Writes the rulebook's cities that are not stored yet; never overwrites
    /// an administrator's change.
    async fn seed_truck_rules(&self, rulebook: &TruckRulebook) -> Result<(), StoreError>;
    async fn truck_rules(&self) -> Result<Vec<CityTruckRules>, StoreError>;
    async fn truck_rules_of(&self, city: &str) -> Result<Option<CityTruckRules>, StoreError>;
    /// Stores the city's rules (version `expected_version + 1`) and the change record together.
    async fn change_truck_rules(
        &self,
        rules: &CityTruckRules,
        expected_version: u64,
        change: &TruckRulesChange,
    ) -> Result<(), StoreError>;
    /// The city's rule changes, oldest first.
    async fn truck_rules_changes(&self, city: &str) -> Result<Vec<TruckRulesChange>, StoreError>;

    /// Creates or replaces vehicles from the register.
    async fn import_vehicles(&self, vehicles: &[Vehicle]) -> Result<(), StoreError>;
    async fn vehicle(&self, plate: &str) -> Result<Option<Vehicle>, StoreError>;

    /// The vehicle's passes and the version of its pass list, which
    /// [`PassRecords::create_pass`] is conditional on.
    async fn passes_of_vehicle(&self, plate: &str) -> Result<(Vec<TruckPass>, u64), StoreError>;
    /// Stores a new pass if the vehicle's pass list is still at
    /// `list_version` (so two applications checked against the same passes
    /// cannot both be stored, and overlap stays impossible); `Conflict` otherwise.
    async fn create_pass(&self, pass: &TruckPass, list_version: u64) -> Result<(), StoreError>;
    async fn pass(&self, id: &str) -> Result<Option<TruckPass>, StoreError>;
    /// Stores `pass` (whose version is `expected_version + 1`).
    async fn update_pass(&self, pass: &TruckPass, expected_version: u64) -> Result<(), StoreError>;
    /// Passes of vehicles the owner owned when each was applied for, newest first.
    async fn passes_of_owner(&self, owner_id: &str) -> Result<Vec<TruckPass>, StoreError>;
    /// Passes of the fleet's vehicles, newest first.
    async fn passes_of_fleet(&self, fleet_id: &str) -> Result<Vec<TruckPass>, StoreError>;
    /// Passes waiting for staff review, earliest due first.
    async fn pass_review_queue(&self, query: &QueueQuery) -> Result<PassQueuePage, StoreError>;
    /// The pass's current show code, kept for reuse as a licence's is.
    async fn cached_pass_code(&self, serial: &str) -> Result<Option<CachedShowCode>, StoreError>;
    async fn cache_pass_code(&self, serial: &str, code: &CachedShowCode) -> Result<(), StoreError>;

    /// Records a verification of a pass: under the serial its verified
    /// credential named (the caller sets `serial` only then), under the
    /// day's unmatched pass checks otherwise.
    async fn record_pass_check(&self, check: &PassCheck) -> Result<(), StoreError>;
    /// The pass's checks, newest first.
    async fn pass_checks(&self, serial: &str, limit: usize) -> Result<Vec<PassCheck>, StoreError>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct PassQueuePage {
    pub items: Vec<TruckPass>,
    /// Opaque cursor for the next page; none on the last page.
    pub next: Option<String>,
}

/// One page of an expiry bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryPage {
    pub keys: Vec<String>,
    /// Opaque cursor for the next page; none on the last page.
    pub next: Option<String>,
    /// How many index entries the store read for this page.
    pub read: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustRole {
    Iaca,
    DocumentSigner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustStatus {
    /// Signs new documents (document signers) or anchors the chain (IACA).
    Active,
    /// No longer signs, still verifies what it signed.
    Retired,
}

/// A certificate and the signing key behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustEntry {
    pub kid: String,
    pub role: TrustRole,
    /// The signer's key id (a KMS key id or ARN, or a local key name).
    pub key_id: String,
    /// DER, base64.
    pub certificate: String,
    pub status: TrustStatus,
    pub created_at: DateTime<Utc>,
}

/// Everything an issuance writes, together.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuance {
    pub licence: ElectronicLicence,
    /// The application, already marked issued, with its version raised.
    pub application: Application,
    pub application_expected_version: u64,
    /// The holder's previous licence, already marked superseded, with its version raised.
    pub superseded: Option<(ElectronicLicence, u64)>,
}

/// A show code kept for reuse until shortly before it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedShowCode {
    pub code: String,
    pub colour: Colour,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Events leaving the service: requests for issuance and notices to holders.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "PascalCase", rename_all_fields = "camelCase")]
pub enum Notice {
    /// A success notice pushed to the holder's app (R3, R4).
    LicenceIssued {
        holder_id: String,
        serial: String,
        application_id: String,
    },
    /// The photo was refused with reasons the app can show (R4).
    PhotoRejected { holder_id: String, application_id: String },
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

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoClaim {
    /// First use, or the same holder again.
    Granted,
    /// Another holder already submitted these bytes.
    HeldByAnotherHolder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueQuery {
    pub limit: usize,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Only items due before this time (the overdue ones, when it is now).
    pub due_before: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct QueuePage {
    pub items: Vec<Application>,
    /// Opaque cursor for the next page; none on the last page.
    pub next: Option<String>,
}

/// What the holder's app needs to send one photo straight to storage: a
/// form (`POST` with `fields`, the file last) or a `PUT` with `headers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadForm {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub fields: std::collections::BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub headers: std::collections::BTreeMap<String, String>,
}

/// The one object an upload form allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    pub key: String,
    pub content_type: ImageType,
    pub min_bytes: usize,
    pub max_bytes: usize,
    pub expires_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhotoStoreError {
    #[error("no object {0}")]
    NotFound(String),
    #[error("object {key} is larger than {limit} bytes")]
    TooLarge { key: String, limit: usize },
    #[error("the photo store is unavailable: {0}")]
    Unavailable(String),
}

/// Where photos live: uploaded by the holder's app directly, read by the
/// checks, shown to reviewers through short-lived links, kept as portraits.
#[async_trait]
pub trait PhotoStore: Send + Sync {
    /// A short-lived form that lets the app upload exactly `grant`'s object.
    async fn upload_form(&self, grant: &UploadGrant) -> Result<UploadForm, PhotoStoreError>;
    /// The object's bytes, refusing (without reading it all) one over `max_bytes`.
    async fn read(&self, key: &str, max_bytes: usize) -> Result<Vec<u8>, PhotoStoreError>;
    /// A link that shows the object until `expires_at`.
    async fn view_link(&self, key: &str, expires_at: DateTime<Utc>) -> Result<String, PhotoStoreError>;
    /// Copies an approved upload to where portraits are kept for good
    /// (uploads themselves expire by the bucket's lifecycle rule).
    async fn keep(&self, key: &str, portrait_key: &str) -> Result<(), PhotoStoreError>;
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

/// Hands an approved application to issuance (an EventBridge event to the
/// issue function in AWS; a background task locally). The application stays
/// `approved` (and retryable) until issuance has recorded the licence and ended it.
#[async_trait]
pub trait Issuer: Send + Sync {
    async fn request_issuance(&self, application: &Application) -> Result<(), IssuerError>;
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The key exists but may not sign (disabled, pending deletion).
    #[error("the signing key {0} is disabled")]
    Disabled(String),
    #[error("there is no signing key {0}")]
    UnknownKey(String),
    #[error("the signer is unavailable: {0}")]
    Unavailable(String),
    #[error("the signer returned a malformed answer: {0}")]
    Malformed(String),
}

/// ES256 (ECDSA P-256 with SHA-256) signing with keys held elsewhere: in
/// KMS in AWS, in memory locally. The caller hashes; the key never leaves.
#[async_trait]
pub trait Signer: Send + Sync {
    /// Signs a SHA-256 digest the caller computed; the raw 64-byte r||s
    /// signature COSE expects, with S normalised to the lower half of the order.
    async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError>;
    /// The key's public point, SEC1 uncompressed (0x04 || x || y).
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError>;
}
