//! The register's ports in process: licences, their changes, the rollout.

use super::EmbeddedRecords;
use crate::kernel::store::StoreError;
use crate::kernel::versioned::SHIPPED_VERSION;
use crate::register::change::ChangeRecord;
use crate::register::import_job::ImportJob;
use crate::register::licence::Licence;
use crate::register::ports::{ImportJobStore, RegisterStore, RolloutStore};
use crate::register::rollout::{City, Plan, RolloutChange, Wave};
use async_trait::async_trait;

#[async_trait]
impl RegisterStore for EmbeddedRecords {
    async fn licence(&self, number: &str) -> Result<Option<Licence>, StoreError> {
        Ok(self.state()?.licences.get(number).cloned())
    }

    async fn licence_number_of_holder(&self, holder_id: &str) -> Result<Option<String>, StoreError> {
        Ok(self.state()?.holders.get(holder_id).cloned())
    }

    async fn licences(&self, numbers: &[String]) -> Result<Vec<Licence>, StoreError> {
        let state = self.state()?;
        Ok(numbers.iter().filter_map(|n| state.licences.get(n).cloned()).collect())
    }

    async fn put_licences(&self, licences: &[Licence]) -> Result<(), StoreError> {
        let mut state = self.state()?;
        for licence in licences {
            state.holders.insert(licence.holder_id.clone(), licence.number.clone());
            state.licences.insert(licence.number.clone(), licence.clone());
        }
        Ok(())
    }

    async fn change_licence(
        &self,
        licence: &Licence,
        expected_version: u64,
        record: &ChangeRecord,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.licences.get(&licence.number) {
            Some(current) if current.version == expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        state.licences.insert(licence.number.clone(), licence.clone());
        state.holders.insert(licence.holder_id.clone(), licence.number.clone());
        state
            .changes
            .entry(licence.number.clone())
            .or_default()
            .push(record.clone());
        Ok(())
    }

    async fn licence_changes(&self, number: &str) -> Result<Vec<ChangeRecord>, StoreError> {
        Ok(self.state()?.changes.get(number).cloned().unwrap_or_default())
    }
}

#[async_trait]
impl RolloutStore for EmbeddedRecords {
    async fn seed_rollout(&self, plan: &Plan) -> Result<(), StoreError> {
        let mut state = self.state()?;
        for wave in &plan.waves {
            state.waves.entry(wave.id.clone()).or_insert_with(|| Wave {
                version: 1,
                ..wave.clone()
            });
        }
        for city in &plan.cities {
            state.cities.entry(city.code.clone()).or_insert_with(|| City {
                version: 1,
                ..city.clone()
            });
        }
        Ok(())
    }

    async fn cities(&self) -> Result<Vec<City>, StoreError> {
        Ok(self.state()?.cities.values().cloned().collect())
    }

    async fn waves(&self) -> Result<Vec<Wave>, StoreError> {
        Ok(self.state()?.waves.values().cloned().collect())
    }

    async fn city(&self, code: &str) -> Result<Option<City>, StoreError> {
        Ok(self.state()?.cities.get(code).cloned())
    }

    async fn wave(&self, id: &str) -> Result<Option<Wave>, StoreError> {
        Ok(self.state()?.waves.get(id).cloned())
    }

    async fn switch_city(&self, city: &City, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.cities.get(&city.code) {
            Some(current) if current.version == expected_version => {}
            None if expected_version == SHIPPED_VERSION => {}
            _ => return Err(StoreError::Conflict),
        }
        state.cities.insert(city.code.clone(), city.clone());
        state.rollout_changes.push(change.clone());
        Ok(())
    }

    async fn switch_wave(&self, wave: &Wave, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.waves.get(&wave.id) {
            Some(current) if current.version == expected_version => {}
            None if expected_version == SHIPPED_VERSION => {}
            _ => return Err(StoreError::Conflict),
        }
        state.waves.insert(wave.id.clone(), wave.clone());
        state.rollout_changes.push(change.clone());
        Ok(())
    }

    async fn rollout_changes(&self) -> Result<Vec<RolloutChange>, StoreError> {
        Ok(self.state()?.rollout_changes.clone())
    }
}

#[async_trait]
impl ImportJobStore for EmbeddedRecords {
    async fn create_import_job(&self, job: &ImportJob) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.import_jobs.contains_key(&job.id) {
            return Err(StoreError::AlreadyExists);
        }
        state.import_jobs.insert(job.id.clone(), job.clone());
        state.pending_imports.insert((job.started_at, job.id.clone()));
        Ok(())
    }

    async fn import_job(&self, id: &str) -> Result<Option<ImportJob>, StoreError> {
        Ok(self.state()?.import_jobs.get(id).cloned())
    }

    async fn save_import_job(&self, job: &ImportJob, expected_version: u64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.import_jobs.get(&job.id) {
            Some(current) if current.version == expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        if !job.is_pending() {
            state.pending_imports.remove(&(job.started_at, job.id.clone()));
        }
        state.import_jobs.insert(job.id.clone(), job.clone());
        Ok(())
    }

    async fn pending_import_jobs(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.state()?.pending_imports.iter().map(|(_, id)| id.clone()).collect())
    }
}
