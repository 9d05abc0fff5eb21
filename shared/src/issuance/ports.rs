//! The issuance context's port: issued electronic licences, each holder's current one, issuance in one transaction.

use super::edl::ElectronicLicence;
use crate::applications::application::Application;
use crate::kernel::notice::PendingNotice;
use crate::kernel::store::StoreError;
use async_trait::async_trait;

/// Everything an issuance writes, together.
#[derive(Debug, Clone, PartialEq)]
pub struct Issuance {
    pub licence: ElectronicLicence,
    /// The application, already marked issued, with its version raised.
    pub application: Application,
    pub application_expected_version: u64,
    /// The holder's previous licence, already marked superseded, with its version raised.
    pub superseded: Option<(ElectronicLicence, u64)>,
    /// The holder's notices, pending until delivered (the notice outbox).
    pub notices: Vec<PendingNotice>,
}

/// Issued electronic licences. Writes are conditional on the version read.
#[async_trait]
pub trait LicenceStore: Send + Sync {
    async fn electronic_licence(&self, serial: &str) -> Result<Option<ElectronicLicence>, StoreError>;
    /// The serial of the holder's latest electronic licence (active or not).
    async fn current_serial_of(&self, holder_id: &str) -> Result<Option<String>, StoreError>;
    /// In one transaction: the new licence, the application ended as issued
    /// (its lock released), the holder's pointer moved, the previous licence superseded.
    async fn record_issuance(&self, issuance: &Issuance) -> Result<(), StoreError>;
    /// A status change of an issued licence (stopped, superseded, expired).
    async fn update_electronic_licence(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        self.update_electronic_licence_noting(licence, expected_version, &[])
            .await
    }
    /// As [`LicenceStore::update_electronic_licence`], recording `notices` as pending in the same write.
    async fn update_electronic_licence_noting(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError>;
}
