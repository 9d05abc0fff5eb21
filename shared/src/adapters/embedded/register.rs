//! The register's ports in process: licences, their changes, the rollout.

use super::EmbeddedRecords;
use crate::kernel::store::StoreError;
use crate::register::change::ChangeRecord;
use crate::register::licence::Licence;
use crate::register::ports::{RegisterStore, RolloutStore};
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

    async fn import_licences(&self, licences: &[Licence]) -> Result<(), StoreError> {
        let mut state = self.state()?;
        for licence in licences {
            let version = state.licences.get(&licence.number).map_or(0, |l| l.version) + 1;
            let mut stored = licence.clone();
            stored.version = version;
            state.holders.insert(stored.holder_id.clone(), stored.number.clone());
            state.licences.insert(stored.number.clone(), stored);
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
