//! The truck pass's ports in process: city rules, vehicles, passes and their review queue.

use super::{queue_page, EmbeddedRecords};
use crate::kernel::listing::ListQuery;
use crate::kernel::notice::PendingNotice;
use crate::kernel::queue::{Page, QueueQuery, ReviewQueue};
use crate::kernel::store::StoreError;
use crate::kernel::versioned::SHIPPED_VERSION;
use crate::truck::pass::{PassStatus, TruckPass};
use crate::truck::ports::{PassStore, TruckRulesStore, VehicleStore};
use crate::truck::rules::{CityTruckRules, TruckRulebook, TruckRulesChange};
use crate::truck::vehicle::Vehicle;
use async_trait::async_trait;

#[async_trait]
impl TruckRulesStore for EmbeddedRecords {
    async fn seed_truck_rules(&self, rulebook: &TruckRulebook) -> Result<(), StoreError> {
        let mut state = self.state()?;
        for city in &rulebook.cities {
            state
                .truck_rules
                .entry(city.city.clone())
                .or_insert_with(|| CityTruckRules {
                    version: 1,
                    ..city.clone()
                });
        }
        Ok(())
    }

    async fn truck_rules(&self) -> Result<Vec<CityTruckRules>, StoreError> {
        Ok(self.state()?.truck_rules.values().cloned().collect())
    }

    async fn truck_rules_of(&self, city: &str) -> Result<Option<CityTruckRules>, StoreError> {
        Ok(self.state()?.truck_rules.get(city).cloned())
    }

    async fn change_truck_rules(
        &self,
        rules: &CityTruckRules,
        expected_version: u64,
        change: &TruckRulesChange,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.truck_rules.get(&rules.city) {
            Some(stored) if stored.version == expected_version => {}
            None if expected_version == SHIPPED_VERSION => {}
            _ => return Err(StoreError::Conflict),
        }
        state.truck_rules.insert(rules.city.clone(), rules.clone());
        state.truck_rules_changes.push(change.clone());
        Ok(())
    }

    async fn truck_rules_changes(&self, city: &str) -> Result<Vec<TruckRulesChange>, StoreError> {
        Ok(self
            .state()?
            .truck_rules_changes
            .iter()
            .filter(|c| c.city == city)
            .cloned()
            .collect())
    }
}

#[async_trait]
impl VehicleStore for EmbeddedRecords {
    async fn import_vehicles(&self, vehicles: &[Vehicle]) -> Result<(), StoreError> {
        let mut state = self.state()?;
        for vehicle in vehicles {
            state.vehicles.insert(vehicle.plate.clone(), vehicle.clone());
        }
        Ok(())
    }

    async fn vehicle(&self, plate: &str) -> Result<Option<Vehicle>, StoreError> {
        Ok(self.state()?.vehicles.get(plate).cloned())
    }
}

#[async_trait]
impl PassStore for EmbeddedRecords {
    async fn passes_of_vehicle(&self, plate: &str) -> Result<(Vec<TruckPass>, u64), StoreError> {
        let state = self.state()?;
        let version = state.pass_lists.get(plate).copied().unwrap_or(0);
        Ok((state.passes_where(|p| p.plate == plate), version))
    }

    async fn create_pass(&self, pass: &TruckPass, list_version: u64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        if state.passes.contains_key(&pass.id) {
            return Err(StoreError::AlreadyExists);
        }
        if state.pass_lists.get(&pass.plate).copied().unwrap_or(0) != list_version {
            return Err(StoreError::Conflict);
        }
        state.pass_lists.insert(pass.plate.clone(), list_version + 1);
        state.put_pass(pass);
        Ok(())
    }

    async fn pass(&self, id: &str) -> Result<Option<TruckPass>, StoreError> {
        Ok(self.state()?.passes.get(id).cloned())
    }

    async fn update_pass_noting(
        &self,
        pass: &TruckPass,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.passes.get(&pass.id) {
            Some(stored) if stored.version == expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        state.put_pass(pass);
        state.note(notices);
        Ok(())
    }

    async fn passes_of_owner(&self, owner_id: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        Ok(paged(self.state()?.passes_where(|p| p.owner_id == owner_id), page))
    }

    async fn passes_of_fleet(&self, fleet_id: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        Ok(paged(
            self.state()?.passes_where(|p| p.fleet_id.as_deref() == Some(fleet_id)),
            page,
        ))
    }

    async fn passes_of_plate(&self, plate: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        Ok(paged(self.state()?.passes_where(|p| p.plate == plate), page))
    }
}

#[async_trait]
impl ReviewQueue<TruckPass> for EmbeddedRecords {
    async fn waiting(&self, query: &QueueQuery) -> Result<Page<TruckPass>, StoreError> {
        let state = self.state()?;
        let waiting = state
            .passes
            .values()
            .filter(|p| p.status == PassStatus::PendingReview)
            // No job reports a pass overdue.
            .filter_map(|p| p.review_due_at.map(|due| (due, p.id.as_str(), false, p)));
        let (items, next) = queue_page(waiting, query)?;
        Ok(Page { items, next })
    }
}

/// One page of passes listed newest first: those after the page's position, at most its limit.
fn paged(newest_first: Vec<TruckPass>, page: &ListQuery) -> Vec<TruckPass> {
    newest_first
        .into_iter()
        .filter(|p| {
            page.after
                .as_ref()
                .is_none_or(|after| after.precedes(p.created_at, &p.id))
        })
        .take(page.limit)
        .collect()
}
