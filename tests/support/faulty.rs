//! A records store that forwards every port to a real one (embedded, or DynamoDB on the emulator) and fails the
//! operations a test switches off, so that a failure between two writes is injected, not imagined. It also counts
//! the reads of what the instances cache (rollout plan, truck rules, trust), so a test sees when the store is read.

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use shared::adapters::Records;
use shared::applications::application::Application;
use shared::applications::ports::{ApplicationStore, PhotoClaim, PhotoClaims};
use shared::credential::showcode::CodeKind;
use shared::expiry::{ExpiryIndex, ExpiryPage};
use shared::issuance::budget::{SignCounter, SigningBudgetStore};
use shared::issuance::document::RefreshIndex;
use shared::issuance::edl::ElectronicLicence;
use shared::issuance::outbox::IssuanceOutbox;
use shared::issuance::ports::{Issuance, LicenceStore};
use shared::issuance::status::{LicenceVersion, PublishedList, StatusEntry, StatusListStore, StatusShard};
use shared::kernel::check_log::CheckLog;
use shared::kernel::listing::ListQuery;
use shared::kernel::notice::{NoticeOutbox, PendingNotice};
use shared::kernel::queue::{Page, QueueQuery, ReviewQueue};
use shared::kernel::showcode::{CachedShowCode, ShowCodeCache};
use shared::kernel::store::StoreError;
use shared::register::change::ChangeRecord;
use shared::register::import_job::ImportJob;
use shared::register::licence::Licence;
use shared::register::ports::{ImportJobStore, RegisterStore, RolloutStore};
use shared::register::rollout::{City, Plan, RolloutChange, Wave};
use shared::truck::pass::{PassCheck, TruckPass};
use shared::truck::ports::{PassStore, TruckRulesStore, VehicleStore};
use shared::truck::rules::{CityTruckRules, TruckRulebook, TruckRulesChange};
use shared::truck::vehicle::Vehicle;
use shared::verification::check::CheckRecord;
use shared::verification::ports::{DrawnNonce, NonceStore, QuotaCounter, QuotaShard, TrustEntry, TrustStore};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The real store, and the operations (by port method name) that fail while switched off.
pub struct FaultyRecords {
    inner: Arc<dyn Records>,
    failing: Mutex<BTreeSet<&'static str>>,
    /// Operations that fail for one record only (by its key: an application's id), as a throttled item would.
    failing_for: Mutex<BTreeSet<(&'static str, String)>>,
    calls: Mutex<BTreeMap<&'static str, usize>>,
}

impl FaultyRecords {
    pub fn new(inner: Arc<dyn Records>) -> Self {
        FaultyRecords {
            inner,
            failing: Mutex::new(BTreeSet::new()),
            failing_for: Mutex::new(BTreeSet::new()),
            calls: Mutex::new(BTreeMap::new()),
        }
    }

    /// From now on `operation` fails for the record keyed `key` only (so far: `"update_application"`).
    pub fn fail_for(&self, operation: &'static str, key: &str) {
        self.failing_for
            .lock()
            .expect("lock")
            .insert((operation, key.to_string()));
    }

    fn fail_if_for(&self, operation: &'static str, key: &str) -> Result<(), StoreError> {
        self.fail_if(operation)?;
        if self
            .failing_for
            .lock()
            .expect("lock")
            .contains(&(operation, key.to_string()))
        {
            return Err(StoreError::Unavailable(format!(
                "{operation}: injected throttling of one item"
            )));
        }
        Ok(())
    }

    /// How many times `operation` (e.g. `"truck_rules"`) was called, of those counted.
    pub fn calls(&self, operation: &'static str) -> usize {
        self.calls.lock().expect("lock").get(operation).copied().unwrap_or(0)
    }

    /// Every counted call so far, all operations together.
    pub fn counted_calls(&self) -> usize {
        self.calls.lock().expect("lock").values().sum()
    }

    fn count(&self, operation: &'static str) {
        *self.calls.lock().expect("lock").entry(operation).or_insert(0) += 1;
    }

    /// From now on `operation` (e.g. `"put_status_shard"`) fails as the store being unavailable would.
    pub fn fail(&self, operation: &'static str) {
        self.failing.lock().expect("lock").insert(operation);
    }

    /// The store is whole again.
    pub fn heal(&self) {
        self.failing.lock().expect("lock").clear();
        self.failing_for.lock().expect("lock").clear();
    }

    fn fail_if(&self, operation: &'static str) -> Result<(), StoreError> {
        if self.failing.lock().expect("lock").contains(operation) {
            return Err(StoreError::Unavailable(format!("{operation}: injected fault")));
        }
        Ok(())
    }
}

#[async_trait]
impl RegisterStore for FaultyRecords {
    async fn licence(&self, number: &str) -> Result<Option<Licence>, StoreError> {
        <dyn Records as RegisterStore>::licence(&*self.inner, number).await
    }
    async fn licence_number_of_holder(&self, holder_id: &str) -> Result<Option<String>, StoreError> {
        <dyn Records as RegisterStore>::licence_number_of_holder(&*self.inner, holder_id).await
    }
    async fn licences(&self, numbers: &[String]) -> Result<Vec<Licence>, StoreError> {
        <dyn Records as RegisterStore>::licences(&*self.inner, numbers).await
    }
    async fn put_licences(&self, licences: &[Licence]) -> Result<(), StoreError> {
        <dyn Records as RegisterStore>::put_licences(&*self.inner, licences).await
    }
    async fn import_licences(&self, licences: &[Licence]) -> Result<(), StoreError> {
        <dyn Records as RegisterStore>::import_licences(&*self.inner, licences).await
    }
    async fn change_licence(
        &self,
        licence: &Licence,
        expected_version: u64,
        record: &ChangeRecord,
    ) -> Result<(), StoreError> {
        <dyn Records as RegisterStore>::change_licence(&*self.inner, licence, expected_version, record).await
    }
    async fn licence_changes(&self, number: &str) -> Result<Vec<ChangeRecord>, StoreError> {
        <dyn Records as RegisterStore>::licence_changes(&*self.inner, number).await
    }
}

#[async_trait]
impl RolloutStore for FaultyRecords {
    async fn seed_rollout(&self, plan: &Plan) -> Result<(), StoreError> {
        self.count("seed_rollout");
        <dyn Records as RolloutStore>::seed_rollout(&*self.inner, plan).await
    }
    async fn cities(&self) -> Result<Vec<City>, StoreError> {
        self.count("cities");
        <dyn Records as RolloutStore>::cities(&*self.inner).await
    }
    async fn waves(&self) -> Result<Vec<Wave>, StoreError> {
        self.count("waves");
        <dyn Records as RolloutStore>::waves(&*self.inner).await
    }
    async fn city(&self, code: &str) -> Result<Option<City>, StoreError> {
        self.count("city");
        <dyn Records as RolloutStore>::city(&*self.inner, code).await
    }
    async fn wave(&self, id: &str) -> Result<Option<Wave>, StoreError> {
        self.count("wave");
        <dyn Records as RolloutStore>::wave(&*self.inner, id).await
    }
    async fn switch_city(&self, city: &City, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError> {
        <dyn Records as RolloutStore>::switch_city(&*self.inner, city, expected_version, change).await
    }
    async fn switch_wave(&self, wave: &Wave, expected_version: u64, change: &RolloutChange) -> Result<(), StoreError> {
        <dyn Records as RolloutStore>::switch_wave(&*self.inner, wave, expected_version, change).await
    }
    async fn rollout_changes(&self) -> Result<Vec<RolloutChange>, StoreError> {
        <dyn Records as RolloutStore>::rollout_changes(&*self.inner).await
    }
}

#[async_trait]
impl ImportJobStore for FaultyRecords {
    async fn create_import_job(&self, job: &ImportJob) -> Result<(), StoreError> {
        <dyn Records as ImportJobStore>::create_import_job(&*self.inner, job).await
    }
    async fn import_job(&self, id: &str) -> Result<Option<ImportJob>, StoreError> {
        <dyn Records as ImportJobStore>::import_job(&*self.inner, id).await
    }
    async fn save_import_job(&self, job: &ImportJob, expected_version: u64) -> Result<(), StoreError> {
        <dyn Records as ImportJobStore>::save_import_job(&*self.inner, job, expected_version).await
    }
    async fn pending_import_jobs(&self) -> Result<Vec<String>, StoreError> {
        <dyn Records as ImportJobStore>::pending_import_jobs(&*self.inner).await
    }
}

#[async_trait]
impl ApplicationStore for FaultyRecords {
    async fn create_application(&self, application: &Application) -> Result<(), StoreError> {
        <dyn Records as ApplicationStore>::create_application(&*self.inner, application).await
    }
    async fn application(&self, id: &str) -> Result<Option<Application>, StoreError> {
        <dyn Records as ApplicationStore>::application(&*self.inner, id).await
    }
    async fn update_application(&self, application: &Application, expected_version: u64) -> Result<(), StoreError> {
        self.fail_if_for("update_application", &application.id)?;
        <dyn Records as ApplicationStore>::update_application(&*self.inner, application, expected_version).await
    }
    async fn update_application_noting(
        &self,
        application: &Application,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        <dyn Records as ApplicationStore>::update_application_noting(
            &*self.inner,
            application,
            expected_version,
            notices,
        )
        .await
    }
}

#[async_trait]
impl PhotoClaims for FaultyRecords {
    async fn claim_photo(&self, sha256: &str, holder_id: &str, application_id: &str) -> Result<PhotoClaim, StoreError> {
        <dyn Records as PhotoClaims>::claim_photo(&*self.inner, sha256, holder_id, application_id).await
    }
}

#[async_trait]
impl ReviewQueue<Application> for FaultyRecords {
    async fn waiting(&self, query: &QueueQuery) -> Result<Page<Application>, StoreError> {
        <dyn Records as ReviewQueue<Application>>::waiting(&*self.inner, query).await
    }
}

#[async_trait]
impl ReviewQueue<TruckPass> for FaultyRecords {
    async fn waiting(&self, query: &QueueQuery) -> Result<Page<TruckPass>, StoreError> {
        <dyn Records as ReviewQueue<TruckPass>>::waiting(&*self.inner, query).await
    }
}

#[async_trait]
impl LicenceStore for FaultyRecords {
    async fn electronic_licence(&self, serial: &str) -> Result<Option<ElectronicLicence>, StoreError> {
        <dyn Records as LicenceStore>::electronic_licence(&*self.inner, serial).await
    }
    async fn current_serial_of(&self, holder_id: &str) -> Result<Option<String>, StoreError> {
        <dyn Records as LicenceStore>::current_serial_of(&*self.inner, holder_id).await
    }
    async fn record_issuance(&self, issuance: &Issuance) -> Result<(), StoreError> {
        <dyn Records as LicenceStore>::record_issuance(&*self.inner, issuance).await
    }
    async fn update_electronic_licence(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
    ) -> Result<(), StoreError> {
        <dyn Records as LicenceStore>::update_electronic_licence(&*self.inner, licence, expected_version).await
    }
    async fn update_electronic_licence_noting(
        &self,
        licence: &ElectronicLicence,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        <dyn Records as LicenceStore>::update_electronic_licence_noting(
            &*self.inner,
            licence,
            expected_version,
            notices,
        )
        .await
    }
}

#[async_trait]
impl ShowCodeCache for FaultyRecords {
    async fn cached_code(&self, kind: CodeKind, serial: &str) -> Result<Option<CachedShowCode>, StoreError> {
        <dyn Records as ShowCodeCache>::cached_code(&*self.inner, kind, serial).await
    }
    async fn keep_code(&self, kind: CodeKind, serial: &str, code: &CachedShowCode) -> Result<(), StoreError> {
        <dyn Records as ShowCodeCache>::keep_code(&*self.inner, kind, serial, code).await
    }
}

#[async_trait]
impl TrustStore for FaultyRecords {
    async fn save_trust(&self, entry: &TrustEntry) -> Result<(), StoreError> {
        <dyn Records as TrustStore>::save_trust(&*self.inner, entry).await
    }
    async fn trust(&self) -> Result<Vec<TrustEntry>, StoreError> {
        self.count("trust");
        <dyn Records as TrustStore>::trust(&*self.inner).await
    }
}

#[async_trait]
impl NonceStore for FaultyRecords {
    async fn keep_nonce(&self, nonce: &DrawnNonce) -> Result<(), StoreError> {
        <dyn Records as NonceStore>::keep_nonce(&*self.inner, nonce).await
    }
    async fn take_nonce(&self, nonce: &str, verifier_id: &str, now: i64) -> Result<bool, StoreError> {
        <dyn Records as NonceStore>::take_nonce(&*self.inner, nonce, verifier_id, now).await
    }
}

#[async_trait]
impl QuotaCounter for FaultyRecords {
    async fn count_request(&self, shard: &QuotaShard, limit: u64, expires_at: i64) -> Result<bool, StoreError> {
        <dyn Records as QuotaCounter>::count_request(&*self.inner, shard, limit, expires_at).await
    }
    async fn count_miss(&self, shard: &QuotaShard, expires_at: i64) -> Result<u64, StoreError> {
        <dyn Records as QuotaCounter>::count_miss(&*self.inner, shard, expires_at).await
    }
}

#[async_trait]
impl CheckLog<CheckRecord> for FaultyRecords {
    async fn record(&self, check: &CheckRecord) -> Result<(), StoreError> {
        <dyn Records as CheckLog<CheckRecord>>::record(&*self.inner, check).await
    }
    async fn checks_of(&self, subject: &str, limit: usize) -> Result<Vec<CheckRecord>, StoreError> {
        <dyn Records as CheckLog<CheckRecord>>::checks_of(&*self.inner, subject, limit).await
    }
}

#[async_trait]
impl CheckLog<PassCheck> for FaultyRecords {
    async fn record(&self, check: &PassCheck) -> Result<(), StoreError> {
        <dyn Records as CheckLog<PassCheck>>::record(&*self.inner, check).await
    }
    async fn checks_of(&self, subject: &str, limit: usize) -> Result<Vec<PassCheck>, StoreError> {
        <dyn Records as CheckLog<PassCheck>>::checks_of(&*self.inner, subject, limit).await
    }
}

#[async_trait]
impl ExpiryIndex for FaultyRecords {
    async fn due_for_expiry(
        &self,
        bucket: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        <dyn Records as ExpiryIndex>::due_for_expiry(&*self.inner, bucket, limit, after).await
    }
}

#[async_trait]
impl RefreshIndex for FaultyRecords {
    async fn due_for_refresh(
        &self,
        bucket: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError> {
        <dyn Records as RefreshIndex>::due_for_refresh(&*self.inner, bucket, limit, after).await
    }
}

#[async_trait]
impl IssuanceOutbox for FaultyRecords {
    async fn awaiting_issuance(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        <dyn Records as IssuanceOutbox>::awaiting_issuance(&*self.inner, shard, before, limit).await
    }
}

#[async_trait]
impl TruckRulesStore for FaultyRecords {
    async fn seed_truck_rules(&self, rulebook: &TruckRulebook) -> Result<(), StoreError> {
        self.count("seed_truck_rules");
        <dyn Records as TruckRulesStore>::seed_truck_rules(&*self.inner, rulebook).await
    }
    async fn truck_rules(&self) -> Result<Vec<CityTruckRules>, StoreError> {
        self.count("truck_rules");
        <dyn Records as TruckRulesStore>::truck_rules(&*self.inner).await
    }
    async fn truck_rules_of(&self, city: &str) -> Result<Option<CityTruckRules>, StoreError> {
        self.count("truck_rules_of");
        <dyn Records as TruckRulesStore>::truck_rules_of(&*self.inner, city).await
    }
    async fn change_truck_rules(
        &self,
        rules: &CityTruckRules,
        expected_version: u64,
        change: &TruckRulesChange,
    ) -> Result<(), StoreError> {
        <dyn Records as TruckRulesStore>::change_truck_rules(&*self.inner, rules, expected_version, change).await
    }
    async fn truck_rules_changes(&self, city: &str) -> Result<Vec<TruckRulesChange>, StoreError> {
        <dyn Records as TruckRulesStore>::truck_rules_changes(&*self.inner, city).await
    }
}

#[async_trait]
impl VehicleStore for FaultyRecords {
    async fn import_vehicles(&self, vehicles: &[Vehicle]) -> Result<(), StoreError> {
        <dyn Records as VehicleStore>::import_vehicles(&*self.inner, vehicles).await
    }
    async fn vehicle(&self, plate: &str) -> Result<Option<Vehicle>, StoreError> {
        <dyn Records as VehicleStore>::vehicle(&*self.inner, plate).await
    }
}

#[async_trait]
impl PassStore for FaultyRecords {
    async fn passes_of_vehicle(&self, plate: &str) -> Result<(Vec<TruckPass>, u64), StoreError> {
        <dyn Records as PassStore>::passes_of_vehicle(&*self.inner, plate).await
    }
    async fn create_pass(&self, pass: &TruckPass, list_version: u64) -> Result<(), StoreError> {
        <dyn Records as PassStore>::create_pass(&*self.inner, pass, list_version).await
    }
    async fn pass(&self, id: &str) -> Result<Option<TruckPass>, StoreError> {
        <dyn Records as PassStore>::pass(&*self.inner, id).await
    }
    async fn update_pass(&self, pass: &TruckPass, expected_version: u64) -> Result<(), StoreError> {
        <dyn Records as PassStore>::update_pass(&*self.inner, pass, expected_version).await
    }
    async fn update_pass_noting(
        &self,
        pass: &TruckPass,
        expected_version: u64,
        notices: &[PendingNotice],
    ) -> Result<(), StoreError> {
        <dyn Records as PassStore>::update_pass_noting(&*self.inner, pass, expected_version, notices).await
    }
    async fn passes_of_owner(&self, owner_id: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        <dyn Records as PassStore>::passes_of_owner(&*self.inner, owner_id, page).await
    }
    async fn passes_of_fleet(&self, fleet_id: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        <dyn Records as PassStore>::passes_of_fleet(&*self.inner, fleet_id, page).await
    }
    async fn passes_of_plate(&self, plate: &str, page: &ListQuery) -> Result<Vec<TruckPass>, StoreError> {
        <dyn Records as PassStore>::passes_of_plate(&*self.inner, plate, page).await
    }
}

#[async_trait]
impl StatusListStore for FaultyRecords {
    async fn claim_status_slot(
        &self,
        entry: StatusEntry,
        serial: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        <dyn Records as StatusListStore>::claim_status_slot(&*self.inner, entry, serial, until, now).await
    }
    async fn status_shard(&self, list: u32, shard: u32) -> Result<Option<StatusShard>, StoreError> {
        <dyn Records as StatusListStore>::status_shard(&*self.inner, list, shard).await
    }
    async fn status_shards(&self, list: u32) -> Result<Vec<(u32, StatusShard)>, StoreError> {
        <dyn Records as StatusListStore>::status_shards(&*self.inner, list).await
    }
    async fn put_status_shard(
        &self,
        list: u32,
        shard: u32,
        packed: &[u8],
        expected: u64,
        guard: Option<&LicenceVersion>,
    ) -> Result<(), StoreError> {
        self.fail_if("put_status_shard")?;
        <dyn Records as StatusListStore>::put_status_shard(&*self.inner, list, shard, packed, expected, guard).await
    }
    async fn published_list(&self, list: u32) -> Result<Option<PublishedList>, StoreError> {
        <dyn Records as StatusListStore>::published_list(&*self.inner, list).await
    }
    async fn publish_list(&self, published: &PublishedList) -> Result<(), StoreError> {
        <dyn Records as StatusListStore>::publish_list(&*self.inner, published).await
    }
    async fn marked_for_publication(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError> {
        <dyn Records as StatusListStore>::marked_for_publication(&*self.inner, shard, before, limit).await
    }
    async fn clear_status_mark(&self, serial: &str, version: u64) -> Result<(), StoreError> {
        <dyn Records as StatusListStore>::clear_status_mark(&*self.inner, serial, version).await
    }
}

#[async_trait]
impl NoticeOutbox for FaultyRecords {
    async fn pending_notices(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<PendingNotice>, StoreError> {
        <dyn Records as NoticeOutbox>::pending_notices(&*self.inner, shard, before, limit).await
    }
    async fn notice_delivered(&self, notice: &PendingNotice) -> Result<(), StoreError> {
        <dyn Records as NoticeOutbox>::notice_delivered(&*self.inner, notice).await
    }
}

#[async_trait]
impl SigningBudgetStore for FaultyRecords {
    async fn take_signs(&self, day: NaiveDate, counter: SignCounter, count: u64, cap: u64) -> Result<bool, StoreError> {
        <dyn Records as SigningBudgetStore>::take_signs(&*self.inner, day, counter, count, cap).await
    }
    async fn give_back_signs(&self, day: NaiveDate, counter: SignCounter, count: u64) -> Result<(), StoreError> {
        <dyn Records as SigningBudgetStore>::give_back_signs(&*self.inner, day, counter, count).await
    }
    async fn signs_taken(&self, day: NaiveDate, counter: SignCounter) -> Result<u64, StoreError> {
        <dyn Records as SigningBudgetStore>::signs_taken(&*self.inner, day, counter).await
    }
}
