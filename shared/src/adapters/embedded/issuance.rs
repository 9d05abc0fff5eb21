//! The issuance context's ports in process: electronic licences, issuance as one locked write, the outbox.

use super::EmbeddedRecords;
use crate::issuance::edl::ElectronicLicence;
use crate::issuance::outbox::{self, IssuanceOutbox};
use crate::issuance::ports::{Issuance, LicenceStore};
use crate::kernel::notice::PendingNotice;
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[async_trait]
impl LicenceStore for EmbeddedRecords {
    async fn electronic_licence(&self, serial: &str) -> Result<Option<ElectronicLicence>, StoreError> {
        Ok(self.state()?.electronic_licences.get(serial).cloned())
    }

    async fn current_serial_of(&self, holder_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state()?.holder_licences.get(holder_id).cloned())
    }

    async fn record_issuance(&self, issuance: &Issuance) -> Result<(), StoreError> {
        let mut state = self.state()?;
        let application = &issuance.application;
        match state.applications.get(&application.id) {
            Some(current) if current.version == issuance.application_expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        if state.electronic_licences.contains_key(&issuance.licence.serial) {
            return Err(StoreError::AlreadyExists);
        }
        if let Some((old, expected)) = &issuance.superseded {
            match state.electronic_licences.get(&old.serial) {
                Some(current) if current.version == *expected => {}
                _ => return Err(StoreError::Conflict),
            }
        }
        if let Some((old, _)) = &issuance.superseded {
            state.put_electronic_licence(old);
        }
        let licence = &issuance.licence;
        state.put_electronic_licence(licence);
        state
            .holder_licences
            .insert(licence.holder_id.clone(), licence.serial.clone());
        if state.open_slots.get(&application.licence_number) == Some(&application.id) {
            state.open_slots.remove(&application.licence_number);
        }
        state.put_application(application);
        state.note(&issuance.notices);
        Ok(())
    }

    async fn update_electronic_licence_noting(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.electronic_licences.get(&licence.serial) {
            Some(current) if current.version == expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        state.put_electronic_licence(licence);
        state.note(notices);
        Ok(())
    }
}

#[async_trait]
impl IssuanceOutbox for EmbeddedRecords {
    async fn awaiting_issuance(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        let state = self.state()?;
        let bucket = outbox::issue_bucket(shard);
        let bound = outbox::sortable(before);
        Ok(state
            .outbox
            .iter()
            .filter(|e| e.bucket == bucket && e.key < bound)
            .take(limit)
            .filter_map(|e| e.key.split_once('#').map(|(_, id)| id.to_string()))
            .collect())
    }
}
