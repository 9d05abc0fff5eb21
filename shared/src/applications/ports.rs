//! The applications context's ports: applications, photo ownership, the photo store, the liveness service, issuance requests.

use super::application::Application;
use super::photo::ImageType;
use crate::kernel::notice::PendingNotice;
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Applications, each with its history; one open application per licence.
/// Writes are conditional on the version read (`expected_version`).
#[async_trait]
pub trait ApplicationStore: Send + Sync {
    /// Stores a new application and takes its licence's open-application slot,
    /// atomically; fails with `OpenApplicationExists` when the slot is taken.
    async fn create_application(&self, application: &Application) -> Result<(), StoreError>;
    async fn application(&self, id: &str) -> Result<Option<Application>, StoreError>;
    /// Stores `application` (whose version is `expected_version + 1`); when it
    /// is no longer open, releases the slot in the same transaction.
    async fn update_application(&self, application: &Application, expected_version: u64) -> Result<(), StoreError> {
        self.update_application_noting(application, expected_version, &[]).await
    }
    /// As [`ApplicationStore::update_application`], recording `notices` as pending in the same write.
    async fn update_application_noting(
        &self,
        application: &Application,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoClaim {
    /// First use, or the same holder again.
    Granted,
    /// Another holder already submitted these bytes.
    HeldByAnotherHolder,
}

/// Which holder submitted which image bytes (R15).
#[async_trait]
pub trait PhotoClaims: Send + Sync {
    /// Records that these exact image bytes belong to `holder_id`. The same
    /// holder may use them again; another holder may not.
    async fn claim_photo(&self, sha256: &str, holder_id: &str, application_id: &str) -> Result<PhotoClaim, StoreError>;
}

/// What the holder's app needs to send one photo straight to storage: a
/// form (`POST` with `fields`, the file last) or a `PUT` with `headers`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadForm {
    pub method: String,
    pub url: String,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
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

/// Where photos live: uploaded by the holder's app directly and read once by the checks; the clean copies
/// the checks make, shown to reviewers through short-lived links; and the normalised portraits made of
/// approved clean copies and of the register's photos on file.
#[async_trait]
pub trait PhotoStore: Send + Sync {
    /// A short-lived form that lets the app upload exactly `grant`'s object.
    async fn upload_form(&self, grant: &UploadGrant) -> Result<UploadForm, PhotoStoreError>;
    /// The object's bytes, refusing (without reading it all) one over `max_bytes`.
    async fn read(&self, key: &str, max_bytes: usize) -> Result<Vec<u8>, PhotoStoreError>;
    /// A link that shows the object until `expires_at`.
    async fn view_link(&self, key: &str, expires_at: DateTime<Utc>) -> Result<String, PhotoStoreError>;
    /// Stores a normalised portrait (a JPEG) where portraits are kept for good
    /// (uploads themselves expire by the bucket's lifecycle rule).
    async fn put_portrait(&self, key: &str, jpeg: &[u8]) -> Result<(), PhotoStoreError>;
    /// Stores the clean copy of a checked photo (`checked/<application>/<sha256>.jpg`) once: the key names
    /// the bytes' digest, so an object already there is this same copy and is left as it is.
    async fn put_checked(&self, key: &str, jpeg: &[u8]) -> Result<(), PhotoStoreError>;
}

/// The result of a finished real-person (liveness) session the backend created for an application.
#[derive(Debug, Clone, PartialEq)]
pub struct LivenessResult {
    pub passed: bool,
    /// 0..=100, as the checking service reports it.
    pub confidence: f32,
    /// The session's reference image (a frame of the live face), to compare with the photo on file; present
    /// when the session succeeded.
    pub reference_image: Option<Vec<u8>>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LivenessError {
    /// The session is unknown, unfinished, expired or not readable.
    #[error("the liveness session is not valid: {0}")]
    InvalidSession(String),
    #[error("the liveness service is unavailable: {0}")]
    Unavailable(String),
}

/// The real-person check of R3, bound to an application: the backend creates the session the app runs, reads
/// its result, and compares the live face with the photo on file.
#[async_trait]
pub trait LivenessService: Send + Sync {
    /// A new session for this application; its id goes to the app's liveness detector and is recorded on the
    /// application.
    async fn create_session(&self, application_id: &str) -> Result<String, LivenessError>;
    /// The judged result of a session this service created.
    async fn result(&self, session_id: &str) -> Result<LivenessResult, LivenessError>;
    /// How alike (0..=100) the face in `reference` is to the face in `photo`; 0 when no face matches at or above
    /// `threshold` (or either image holds no face).
    async fn compare_faces(&self, reference: &[u8], photo: &[u8], threshold: f32) -> Result<f32, LivenessError>;
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
