//! The in-process records store: the local server's and the fast tests' adapter of `Records`.

use crate::applications::application::Application;
use crate::applications::application::ApplicationState;
use crate::expiry::{self, ExpiryEntry, ExpiryKind};
use crate::issuance::edl::ElectronicLicence;
use crate::ports::{
    CachedShowCode, ExpiryPage, Issuance, PassQueuePage, PassRecords, PhotoClaim, QueuePage, QueueQuery, Records,
    RolloutChange, StoreError, TrustEntry,
};
use crate::register::change::ChangeRecord;
use crate::register::licence::Licence;
use crate::register::rollout::{City, Plan, Wave};
use crate::truck::pass::{PassCheck, PassStatus, TruckPass};
use crate::truck::rules::{CityTruckRules, TruckRulebook, TruckRulesChange};
use crate::truck::vehicle::Vehicle;
use crate::verification::check::CheckRecord;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::NaiveDate;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
struct State {
    licences: HashMap<String, Licence>,
    holders: HashMap<String, String>,
    changes: HashMap<String, Vec<ChangeRecord>>,
    applications: HashMap<String, Application>,
    /// licence number -> id of its open application (the per-holder lock).
    open_slots: HashMap<String, String>,
    cities: BTreeMap<String, City>,
    waves: BTreeMap<String, Wave>,
    rollout_changes: Vec<RolloutChange>,
    /// sha256 -> holder id (R15).
    photo_owners: HashMap<String, String>,
    trust: BTreeMap<String, TrustEntry>,
    electronic_licences: HashMap<String, ElectronicLicence>,
    /// holder id -> serial of their latest electronic licence.
    holder_licences: HashMap<String, String>,
    show_codes: HashMap<String, CachedShowCode>,
    /// holder id (or "" for unmatched) -> checks, oldest first.
    checks: HashMap<String, Vec<CheckRecord>>,
    /// The expiry index, as in DynamoDB: only records still to end, by day
    /// bucket then key, kept in step by every write of a licence, application or pass.
    expiry: BTreeSet<ExpiryEntry>,
    truck_rules: BTreeMap<String, CityTruckRules>,
    truck_rules_changes: Vec<TruckRulesChange>,
    vehicles: HashMap<String, Vehicle>,
    passes: HashMap<String, TruckPass>,
    /// plate -> version of its pass list (raised by every new pass).
    pass_lists: HashMap<String, u64>,
    /// pass serial -> its current show code.
    pass_codes: HashMap<String, CachedShowCode>,
    /// pass serial (or "" for unmatched) -> checks, oldest first.
    pass_checks: HashMap<String, Vec<PassCheck>>,
}

impl State {
    fn reindex(&mut self, before: Option<ExpiryEntry>, after: Option<ExpiryEntry>) {
        if before == after {
            return;
        }
        if let Some(entry) = before {
            self.expiry.remove(&entry);
        }
        if let Some(entry) = after {
            self.expiry.insert(entry);
        }
    }

    /// Stores an application and moves its expiry entry with it.
    fn put_application(&mut self, application: &Application) {
        let before = self
            .applications
            .get(&application.id)
            .and_then(expiry::application_entry);
        self.reindex(before, expiry::application_entry(application));
        self.applications.insert(application.id.clone(), application.clone());
    }

    /// Stores a pass and moves its expiry entry with it.
    fn put_pass(&mut self, pass: &TruckPass) {
        let before = self.passes.get(&pass.id).and_then(expiry::pass_entry);
        self.reindex(before, expiry::pass_entry(pass));
        self.passes.insert(pass.id.clone(), pass.clone());
    }

    /// Passes matching `keep`, newest first.
    fn passes_where(&self, keep: impl Fn(&TruckPass) -> bool) -> Vec<TruckPass> {
        let mut passes: Vec<TruckPass> = self.passes.values().filter(|p| keep(p)).cloned().collect();
        passes.sort_by(|a, b| (b.created_at, &b.id).cmp(&(a.created_at, &a.id)));
        passes
    }

    /// Stores an electronic licence and moves its expiry entry with it.
    fn put_electronic_licence(&mut self, licence: &ElectronicLicence) {
        let before = self
            .electronic_licences
            .get(&licence.serial)
            .and_then(expiry::licence_entry);
        self.reindex(before, expiry::licence_entry(licence));
        self.electronic_licences.insert(licence.serial.clone(), licence.clone());
    }
}

/// Every operation takes one lock, so each behaves as one transaction.
#[derive(Default)]
pub struct EmbeddedRecords {
    state: Mutex<State>,
}

impl EmbeddedRecords {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        self.state
            .lock()
            .map_err(|_| StoreError::Unavailable("embedded store poisoned by an earlier panic".into()))
    }
}

#[async_trait]
impl Records for EmbeddedRecords {
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

    async fn update_application(&self, application: &Application, expected_version: u64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.applications.get(&application.id) {
            Some(current) if current.version == expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        if !application.state.is_open() && state.open_slots.get(&application.licence_number) == Some(&application.id) {
            state.open_slots.remove(&application.licence_number);
        }
        state.put_application(application);
        Ok(())
    }

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

    async fn review_queue(&self, query: &QueueQuery) -> Result<QueuePage, StoreError> {
        let state = self.state()?;
        let waiting = state
            .applications
            .values()
            .filter(|a| a.state == ApplicationState::AwaitingReview)
            .filter_map(|a| a.photo.as_ref().map(|p| (p.due_at, a.id.as_str(), a)));
        let (items, next) = queue_page(waiting, query)?;
        Ok(QueuePage { items, next })
    }

    async fn save_trust(&self, entry: &TrustEntry) -> Result<(), StoreError> {
        let key = format!("{:?}#{}", entry.role, entry.kid);
        self.state()?.trust.insert(key, entry.clone());
        Ok(())
    }

    async fn trust(&self) -> Result<Vec<TrustEntry>, StoreError> {
        Ok(self.state()?.trust.values().cloned().collect())
    }

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
        Ok(())
    }

    async fn update_electronic_licence(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.electronic_licences.get(&licence.serial) {
            Some(current) if current.version == expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        state.put_electronic_licence(licence);
        Ok(())
    }

    async fn cached_show_code(&self, serial: &str) -> Result<Option<CachedShowCode>, StoreError> {
        Ok(self.state()?.show_codes.get(serial).cloned())
    }

    async fn cache_show_code(&self, serial: &str, code: &CachedShowCode) -> Result<(), StoreError> {
        self.state()?.show_codes.insert(serial.to_string(), code.clone());
        Ok(())
    }

    async fn record_check(&self, check: &CheckRecord) -> Result<(), StoreError> {
        let holder = check.holder_id.clone().unwrap_or_default();
        self.state()?.checks.entry(holder).or_default().push(check.clone());
        Ok(())
    }

    async fn checks_of(&self, holder_id: &str, limit: usize) -> Result<Vec<CheckRecord>, StoreError> {
        let state = self.state()?;
        Ok(state
            .checks
            .get(holder_id)
            .map(|c| c.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }

    async fn due_for_expiry(
        &self,
        kind: ExpiryKind,
        day: NaiveDate,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        let bucket = kind.bucket(day);
        let start = match after {
            Some(cursor) => {
                let key = URL_SAFE_NO_PAD
                    .decode(cursor)
                    .ok()
                    .and_then(|b| String::from_utf8(b).ok())
                    .ok_or(StoreError::BadCursor)?;
                Bound::Excluded(ExpiryEntry {
                    bucket: bucket.clone(),
                    key,
                })
            }
            None => Bound::Included(ExpiryEntry {
                bucket: bucket.clone(),
                key: String::new(),
            }),
        };
        let state = self.state()?;
        let limit = limit.max(1);
        // Reads the bucket's entries only (a range of the ordered index). As
        // DynamoDB does, a full page has a cursor even when nothing follows.
        let keys: Vec<String> = state
            .expiry
            .range((start, Bound::Unbounded))
            .take_while(|entry| entry.bucket == bucket)
            .take(limit)
            .map(|entry| entry.key.clone())
            .collect();
        let read = keys.len();
        let next = if keys.len() == limit {
            keys.last().map(|k| URL_SAFE_NO_PAD.encode(k))
        } else {
            None
        };
        Ok(ExpiryPage { keys, next, read })
    }
}

#[async_trait]
impl PassRecords for EmbeddedRecords {
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

    async fn update_pass(&self, pass: &TruckPass, expected_version: u64) -> Result<(), StoreError> {
        let mut state = self.state()?;
        match state.passes.get(&pass.id) {
            Some(stored) if stored.version == expected_version => {}
            _ => return Err(StoreError::Conflict),
        }
        state.put_pass(pass);
        Ok(())
    }

    async fn passes_of_owner(&self, owner_id: &str) -> Result<Vec<TruckPass>, StoreError> {
        Ok(self.state()?.passes_where(|p| p.owner_id == owner_id))
    }

    async fn passes_of_fleet(&self, fleet_id: &str) -> Result<Vec<TruckPass>, StoreError> {
        Ok(self.state()?.passes_where(|p| p.fleet_id.as_deref() == Some(fleet_id)))
    }

    async fn pass_review_queue(&self, query: &QueueQuery) -> Result<PassQueuePage, StoreError> {
        let state = self.state()?;
        let waiting = state
            .passes
            .values()
            .filter(|p| p.status == PassStatus::PendingReview)
            .filter_map(|p| p.review_due_at.map(|due| (due, p.id.as_str(), p)));
        let (items, next) = queue_page(waiting, query)?;
        Ok(PassQueuePage { items, next })
    }

    async fn cached_pass_code(&self, serial: &str) -> Result<Option<CachedShowCode>, StoreError> {
        Ok(self.state()?.pass_codes.get(serial).cloned())
    }

    async fn cache_pass_code(&self, serial: &str, code: &CachedShowCode) -> Result<(), StoreError> {
        self.state()?.pass_codes.insert(serial.to_string(), code.clone());
        Ok(())
    }

    async fn record_pass_check(&self, check: &PassCheck) -> Result<(), StoreError> {
        let key = check.serial.clone().unwrap_or_default();
        self.state()?.pass_checks.entry(key).or_default().push(check.clone());
        Ok(())
    }

    async fn pass_checks(&self, serial: &str, limit: usize) -> Result<Vec<PassCheck>, StoreError> {
        let state = self.state()?;
        Ok(state
            .pass_checks
            .get(serial)
            .map(|checks| checks.iter().rev().take(limit).cloned().collect())
            .unwrap_or_default())
    }
}

/// One page of a review queue, earliest due first, as the `queue` index
/// pages it: items due before `query.due_before` only, after the cursor.
fn queue_page<'a, T: Clone + 'a>(
    waiting: impl Iterator<Item = (chrono::DateTime<chrono::Utc>, &'a str, &'a T)>,
    query: &QueueQuery,
) -> Result<(Vec<T>, Option<String>), StoreError> {
    let after = match &query.after {
        Some(cursor) => Some(
            URL_SAFE_NO_PAD
                .decode(cursor)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .filter(|p| {
                    p.split_once('#')
                        .is_some_and(|(due, _)| chrono::DateTime::parse_from_rfc3339(due).is_ok())
                })
                .ok_or(StoreError::BadCursor)?,
        ),
        None => None,
    };
    let mut page: Vec<(String, &T)> = waiting
        .filter(|(due, _, _)| query.due_before.is_none_or(|bound| *due < bound))
        .map(|(due, id, item)| (queue_position(due, id), item))
        .filter(|(position, _)| after.as_ref().is_none_or(|after| position > after))
        .collect();
    page.sort_by(|a, b| a.0.cmp(&b.0));
    let more = page.len() > query.limit;
    page.truncate(query.limit);
    let next = if more {
        page.last().map(|(p, _)| URL_SAFE_NO_PAD.encode(p))
    } else {
        None
    };
    Ok((page.into_iter().map(|(_, item)| item.clone()).collect(), next))
}

/// A queue item's place: due time, then id, as sortable text.
fn queue_position(due: chrono::DateTime<chrono::Utc>, id: &str) -> String {
    format!("{}#{id}", due.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}
