//! The applications context's ports in process: applications with their open-application slot, photo claims,
//! the photo review queue.

use super::{queue_page, EmbeddedRecords};
use crate::applications::application::{Application, ApplicationState};
use crate::applications::ports::{ApplicationStore, PhotoClaim, PhotoClaims};
use crate::kernel::notice::PendingNotice;
use crate::kernel::queue::{Page, QueueQuery, ReviewQueue};
use crate::kernel::store::StoreError;
use async_trait::async_trait;

#[async_trait]
impl ApplicationStore for EmbeddedRecords {
    async fn create_application(&self, application: &Application) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if let Some(existing) = state.open_slots.get(&application.licence_number) {
            return Err(StoreError::OpenApplicationExists {
                existing: existing.clone(),
            });
        }
        if state.applications.contains_key(&application.id) {
            return Err(StoreError::AlreadyExists);
        }
        if application.state.is_open() {
            state
                .open_slots
                .insert(application.licence_number.clone(), application.id.clone());
        }
        state.put_application(application);
        Ok(())
    }

    async fn application(&self, id: &str) -> Result<Option<Application>, StoreError> {
        Ok(self.state()?.applications.get(id).cloned())
    }

    async fn update_application_noting(
        &self,
        application: &Application,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.applications.get(&application.id) {
            Some(current) if current.version == expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        if !application.state.is_open() && state.open_slots.get(&application.licence_number) == Some(&application.id) {
            state.open_slots.remove(&application.licence_number);
        }
        state.put_application(application);
        state.note(notices);
        Ok(())
    }
}

#[async_trait]
impl PhotoClaims for EmbeddedRecords {
    async fn claim_photo(
        &self,
        sha256: &str,
        holder_id: &str,
        _application_id: &str,
    ) -> Result<PhotoClaim, StoreError> {
        let mut state = self.state()?;
        match state.photo_owners.get(sha256) {
            Some(owner) if owner != holder_id => Ok(PhotoClaim::HeldByAnotherHolder),
            Some(_) => Ok(PhotoClaim::Granted),
            None => {
                state.photo_owners.insert(sha256.to_string(), holder_id.to_string());
                Ok(PhotoClaim::Granted)
            }
        }
    }
}

#[async_trait]
impl ReviewQueue<Application> for EmbeddedRecords {
    async fn waiting(&self, query: &QueueQuery) -> Result<Page<Application>, StoreError> {
        let state = self.state()?;
        let waiting = state
            .applications
            .values()
            .filter(|a| a.state == ApplicationState::AwaitingReview)
            .filter_map(|a| {
                a.photo
                    .as_ref()
                    .map(|p| (p.due_at, a.id.as_str(), a.overdue_flagged_at.is_some(), a))
            });
        let (items, next) = queue_page(waiting, query)?;
        Ok(Page { items, next })
    }
}
