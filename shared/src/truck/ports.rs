//! The truck pass's ports: each city's rules, the vehicle register, and the passes.

use super::pass::TruckPass;
use super::rules::{CityTruckRules, TruckRulebook, TruckRulesChange};
use super::vehicle::Vehicle;
use crate::kernel::listing::ListQuery;
use crate::kernel::notice::PendingNotice;
use crate::kernel::store::StoreError;
use async_trait::async_trait;

/// Each city's truck rules and their changes.
#[async_trait]
pub trait TruckRulesStore: Send + Sync {
    /// Writes the rulebook's cities that are not stored yet; never overwrites an administrator's change. No
    /// function needs it (the shipped rules stand for the cities not stored): tests and local tools.
    async fn seed_truck_rules(&self, rulebook: &TruckRulebook) -> Result<(), StoreError>;
    async fn truck_rules(&self) -> Result<Vec<CityTruckRules>, StoreError>;
    async fn truck_rules_of(&self, city: &str) -> Result<Option<CityTruckRules>, StoreError>;
    /// Stores the city's rules (version `expected_version + 1`) and the change record together. A shipped city
    /// need not be stored: at `SHIPPED_VERSION` the write also succeeds when it is not.
    async fn change_truck_rules(
        &self,
        rules: &CityTruckRules,
        expected_version: u64,
        change: &TruckRulesChange,
    ) -> Result<(), StoreError>;
    /// The city's rule changes, oldest first.
    async fn truck_rules_changes(&self, city: &str) -> Result<Vec<TruckRulesChange>, StoreError>;
}

/// The vehicle register.
#[async_trait]
pub trait VehicleStore: Send + Sync {
    /// Creates or replaces vehicles from the register.
    async fn import_vehicles(&self, vehicles: &[Vehicle]) -> Result<(), StoreError>;
    async fn vehicle(&self, plate: &str) -> Result<Option<Vehicle>, StoreError>;
}

/// Truck passes, listed by vehicle, owner and fleet.
#[async_trait]
pub trait PassStore: Send + Sync {
    /// The vehicle's passes and the version of its pass list, which [`PassStore::create_pass`] is conditional on:
    /// what a new application is checked against for overlap. Bounded: a pass's copies expire (TTL) a year after
    /// its last day (`PASS_COPY_RETENTION_DAYS`), long after it could overlap anything.
    async fn passes_of_vehicle(&self, plate: &str) -> Result<(Vec<TruckPass>, u64), StoreError>;
    /// Stores a new pass if the vehicle's pass list is still at
    /// `list_version` (so two applications checked against the same passes
    /// cannot both be stored, and overlap stays impossible); `Conflict` otherwise.
    async fn create_pass(&self, pass: &TruckPass, list_version: u64) -> Result<(), StoreError>;
    async fn pass(&self, id: &str) -> Result<Option<TruckPass>, StoreError>;
    /// Stores `pass` (whose version is `expected_version + 1`).
    async fn update_pass(&self, pass: &TruckPass, expected_version: u64) -> Result<(), StoreError> {
        self.update_pass_noting(pass, expected_version, &[]).await
    }
    /// As [`PassStore::update_pass`], recording `notices` as pending in the same write.
    async fn update_pass_noting(
        &self,
        pass: &TruckPass,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError>;
    /// At most `page.limit` passes of vehicles the owner owned when each was applied for, newest first, after
    /// `page.after` (by creation time, then id).
    async fn passes_of_owner(&self, owner_id: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError>;
    /// At most `page.limit` passes of the fleet's vehicles, newest first, after `page.after`.
    async fn passes_of_fleet(&self, fleet_id: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError>;
    /// At most `page.limit` passes of the vehicle, newest first, after `page.after` (a list, not the apply check).
    async fn passes_of_plate(&self, plate: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError>;
}
