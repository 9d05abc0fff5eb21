//! The register's ports: the licence register and the rollout's cities and waves.

use super::change::ChangeRecord;
use super::licence::Licence;
use super::rollout::{City, Plan, RolloutChange, Wave};
use crate::kernel::store::StoreError;
use async_trait::async_trait;

/// The paper licences as the authority feeds them, and their changes.
#[async_trait]
pub trait RegisterStore: Send + Sync {
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
}

/// The rollout's cities and waves (R2), and their switches.
#[async_trait]
pub trait RolloutStore: Send + Sync {
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
