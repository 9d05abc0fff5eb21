//! The register's ports: the licence register and the rollout's cities and waves.

use super::change::ChangeRecord;
use super::import_job::ImportJob;
use super::licence::Licence;
use super::rollout::{City, Plan, RolloutChange, Wave};
use crate::applications::ports::UploadForm;
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

/// The paper licences as the authority feeds them, and their changes.
#[async_trait]
pub trait RegisterStore: Send + Sync {
    async fn licence(&self, number: &str) -> Result<Option<Licence>, StoreError>;
    /// The number of the licence whose holder has this identity number.
    async fn licence_number_of_holder(&self, holder_id: &str) -> Result<Option<String>, StoreError>;
    /// The stored licences among `numbers` (read consistently; those not in the register are left out).
    async fn licences(&self, numbers: &[String]) -> Result<Vec<Licence>, StoreError>;
    /// Writes licences from the register exactly as given (their versions set by the caller), with their
    /// holders' index. A replayed write of the same licences stores the same items again.
    async fn put_licences(&self, licences: &[Licence]) -> Result<(), StoreError>;
    /// Creates or replaces licences from the register, each one's version one above the stored one (seeding and
    /// tests; the import use cases skip identical lines, `Services::write_register_lines`).
    async fn import_licences(&self, licences: &[Licence]) -> Result<(), StoreError> {
        for chunk in licences.chunks(100) {
            let numbers: Vec<String> = chunk.iter().map(|l| l.number.clone()).collect();
            let stored: std::collections::HashMap<String, u64> = self
                .licences(&numbers)
                .await?
                .into_iter()
                .map(|l| (l.number, l.version))
                .collect();
            let next: Vec<Licence> = chunk
                .iter()
                .map(|l| Licence {
                    version: stored.get(&l.number).copied().unwrap_or(0) + 1,
                    photo_image: None,
                    ..l.clone()
                })
                .collect();
            self.put_licences(&next).await?;
        }
        Ok(())
    }
    /// Stores `licence` (whose version is `expected_version + 1`) and its change record together.
    async fn change_licence(
        &self,
        licence: &Licence,
        expected_version: u64,
        record: &ChangeRecord,
    ) -> Result<(), StoreError>;
    /// The licence's change history, oldest first.
    async fn licence_changes(&self, number: &str) -> Result<Vec<ChangeRecord>, StoreError>;
}

/// The rollout's cities and waves (R2), and their switches.
#[async_trait]
pub trait RolloutStore: Send + Sync {
    /// Writes the plan's cities and waves that are not stored yet; never overwrites an administrator's switch. No
    /// function needs it (the shipped plan stands for what is not stored): tests and local tools.
    async fn seed_rollout(&self, plan: &Plan) -> Result<(), StoreError>;
    async fn cities(&self) -> Result<Vec<City>, StoreError>;
    async fn waves(&self) -> Result<Vec<Wave>, StoreError>;
    async fn city(&self, code: &str) -> Result<Option<City>, StoreError>;
    async fn wave(&self, id: &str) -> Result<Option<Wave>, StoreError>;
    /// Stores the city (version `expected_version + 1`) and the change record together. A city or wave of the
    /// shipped plan need not be stored: at `SHIPPED_VERSION` the write also succeeds when it is not.
    async fn switch_city(&self, city: &City, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError>;
    async fn switch_wave(&self, wave: &Wave, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError>;
    /// The rollout's change history, oldest first.
    async fn rollout_changes(&self) -> Result<Vec<RolloutChange>, StoreError>;
}

/// Large imports' jobs (`IMPORT#<id>`), and the list of those with work left.
#[async_trait]
pub trait ImportJobStore: Send + Sync {
    /// Stores a new job and lists it as pending; `AlreadyExists` when its id (its idempotency key) is taken.
    async fn create_import_job(&self, job: &ImportJob) -> Result<(), StoreError>;
    async fn import_job(&self, id: &str) -> Result<Option<ImportJob>, StoreError>;
    /// Stores `job` (whose version is `expected_version + 1`); takes it off the pending list once it is done.
    async fn save_import_job(&self, job: &ImportJob, expected_version: u64) -> Result<(), StoreError>;
    /// The ids of jobs with work left, oldest first.
    async fn pending_import_jobs(&self) -> Result<Vec<String>, StoreError>;
}

/// An uploaded register file as stored: its size and the tag that changes whenever it is replaced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredFile {
    pub size: u64,
    pub tag: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileStoreError {
    #[error("no file {0}")]
    NotFound(String),
    /// The file is no longer the one the job started reading.
    #[error("the file {0} was replaced")]
    Replaced(String),
    #[error("the file store is unavailable: {0}")]
    Unavailable(String),
}

/// Where administrators upload register files for a large import, and where its reports are kept (in the
/// private photo bucket under `imports/`).
#[async_trait]
pub trait RegisterFiles: Send + Sync {
    /// A short-lived form for uploading exactly `key`, at most `max_bytes`, as JSON Lines.
    async fn file_upload_form(
        &self,
        key: &str,
        max_bytes: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadForm, FileStoreError>;
    /// The file's size and tag, or `None` before it is uploaded.
    async fn stored_file(&self, key: &str) -> Result<Option<StoredFile>, FileStoreError>;
    /// Up to `length` bytes from `offset` of the file as tagged `tag` (`Replaced` if it is not that file now).
    async fn read_file_range(&self, key: &str, tag: &str, offset: u64, length: u64) -> Result<Vec<u8>, FileStoreError>;
    /// Stores a report object (JSON).
    async fn put_report(&self, key: &str, json: &[u8]) -> Result<(), FileStoreError>;
}
