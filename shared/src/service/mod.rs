//! The use cases: authorise the caller, apply the domain rules, persist through the ports. One file per
//! group of use cases; this one holds what every group reaches through (`Services`), `contexts.rs` what each
//! function adds to it (its ports, as plain values).

pub mod applications;
pub mod contexts;
pub mod expiry;
pub mod imports;
pub mod issuance;
pub mod keys;
pub mod licence;
pub mod pass_check;
pub mod pass_staff;
pub mod passes;
pub mod photos;
pub mod quotas;
pub mod refresh;
pub mod register;
pub mod reviews;
pub mod status_lists;
pub mod sweep;
pub mod trust;
pub mod verification;
pub mod views;

use crate::adapters::Records;
use crate::applications::photo::PhotoRules;
use crate::applications::ports::LivenessService;
pub(crate) use crate::error::authorise;
pub use crate::error::ServiceError;
use crate::kernel::cache::{Cached, Staleness};
use crate::kernel::calendar::WorkingCalendar;
pub use crate::kernel::golive::SwitchRequest;
pub(crate) use crate::kernel::input::JsonLinesImport;
pub use crate::kernel::input::{ImportReport, InputError};
use crate::kernel::notice::{Notice, PendingNotice};
use crate::kernel::time::{local_date, Clock};
use crate::register::rollout::Plan;
use crate::truck::rules::TruckRulebook;
pub use applications::{ConfirmLiveness, LivenessSession, OpenApplication};
use chrono::{DateTime, NaiveDate, Utc};
pub use contexts::{
    Administering, Applying, Expiring, Issuing, Notices, PassDesk, PhotoChecking, Ports, Refreshing, Reviewing,
    Showing, Signing, Uploading,
};
pub use register::{CityView, LicenceView, RolloutView};
use std::sync::Arc;

/// Limits on what one request may carry.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_import_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_import_lines: 20_000,
        }
    }
}

/// What every function has, built once per cold start: the records, the clock, the liveness service and the
/// configuration. The ports only some functions have are in their contexts (`contexts.rs`).
#[derive(Clone)]
pub struct Services {
    pub records: Arc<dyn Records>,
    pub clock: Arc<dyn Clock>,
    pub liveness: Arc<dyn LivenessService>,
    /// The similarity (0..=100) at or above which the live face matches the photo on file (R3).
    pub face_match_threshold: f32,
    /// Working days for the review service level (R4).
    pub calendar: WorkingCalendar,
    pub photo_rules: PhotoRules,
    /// What each verifier may see (R9): configuration, not code.
    pub disclosure: crate::verification::disclosure::Disclosure,
    /// The verification keys held in memory, shared by every clone.
    pub trust_cache: Arc<verification::TrustCache>,
    /// How often each verifier organisation may verify: configuration, not code.
    pub quotas: crate::verification::quota::Quotas,
    /// The organisations found over quota in this process, shared by every clone.
    pub spent_quotas: Arc<verification::SpentQuotas>,
    /// Where the verification metrics go (the enumeration alarm reads them).
    pub metrics: Arc<dyn crate::verification::ports::MetricSink>,
    pub limits: Limits,
    /// The signed document's life and which signer may sign it (issue 12).
    pub documents: crate::issuance::document::DocumentPolicy,
    /// How the revocation status lists are laid out and published (issue 12 item 3).
    pub status_lists: crate::issuance::status::StatusListPolicy,
    /// The scheduled jobs' daily signing budget (issue 12): the refresh runs and the status list tokens.
    pub signing_budget: crate::issuance::budget::SigningBudget,
    /// How long what changes rarely (rollout plan, truck rules, trust material) is kept in memory before it is
    /// read again (`EDL_CACHE_SECONDS`); the public reads' `Cache-Control: max-age` follows it.
    pub staleness: Staleness,
    /// The rollout plan and truck rules held in memory, shared by every clone.
    pub caches: Arc<InstanceCaches>,
}

/// What one function instance keeps in memory between requests (the trust material is in `trust_cache`, with the
/// pinned IACA). Each is read whole at most once per [`Services::staleness`] and forgotten after a write through
/// this instance.
#[derive(Default)]
pub struct InstanceCaches {
    /// The shipped plan overlaid with the stored switches (`ROLLOUT`).
    pub rollout: Cached<Plan>,
    /// The shipped truck rules overlaid with the stored changes (`TRUCKRULES`).
    pub truck_rules: Cached<TruckRulebook>,
}

impl Services {
    /// Services over these ports, with the shipped calendar and photo rules.
    pub fn new(records: Arc<dyn Records>, clock: Arc<dyn Clock>, liveness: Arc<dyn LivenessService>) -> Services {
        Services {
            records,
            clock,
            liveness,
            face_match_threshold: applications::DEFAULT_FACE_MATCH_THRESHOLD,
            calendar: WorkingCalendar::shipped(),
            photo_rules: PhotoRules::default(),
            disclosure: crate::verification::disclosure::Disclosure::shipped(),
            trust_cache: Arc::new(verification::TrustCache::default()),
            quotas: crate::verification::quota::Quotas::shipped(),
            spent_quotas: Arc::new(verification::SpentQuotas::default()),
            metrics: Arc::new(crate::adapters::embedded::metrics::EmbeddedMetrics::default()),
            limits: Limits::default(),
            documents: crate::issuance::document::DocumentPolicy::default(),
            status_lists: crate::issuance::status::StatusListPolicy::default(),
            signing_budget: crate::issuance::budget::SigningBudget::default(),
            staleness: Staleness::default(),
            caches: Arc::new(InstanceCaches::default()),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today's date where the licences are (UTC+08:00).
    pub fn today(&self) -> NaiveDate {
        local_date(self.now())
    }

    /// The rollout plan in force (R2): from memory, read again at most once per staleness period.
    pub async fn rollout_plan(&self) -> Result<Arc<Plan>, ServiceError> {
        let records = &self.records;
        self.caches
            .rollout
            .get_or_read(self.now(), self.staleness, || read_rollout_plan(&**records))
            .await
    }

    /// The rollout plan as stored now (what an administrator's switch decides on), kept for the next reads.
    pub(crate) async fn current_rollout_plan(&self) -> Result<Arc<Plan>, ServiceError> {
        let records = &self.records;
        self.caches
            .rollout
            .read_again(self.now(), || read_rollout_plan(&**records))
            .await
    }

    /// Every city's truck rules in force: from memory, read again at most once per staleness period.
    pub async fn truck_rulebook(&self) -> Result<Arc<TruckRulebook>, ServiceError> {
        let records = &self.records;
        self.caches
            .truck_rules
            .get_or_read(self.now(), self.staleness, || read_truck_rulebook(&**records))
            .await
    }

    /// The truck rules as stored now (what an administrator's change decides on), kept for the next reads.
    pub(crate) async fn current_truck_rulebook(&self) -> Result<Arc<TruckRulebook>, ServiceError> {
        let records = &self.records;
        self.caches
            .truck_rules
            .read_again(self.now(), || read_truck_rulebook(&**records))
            .await
    }

    /// A notice to record in the write of the change that warrants it (the notice outbox).
    pub(crate) fn notice(&self, notice: Notice) -> PendingNotice {
        PendingNotice::new(notice, self.now())
    }
}

/// The shipped plan overlaid with the stored waves and cities: two queries of `ROLLOUT` (its change history is not
/// read).
async fn read_rollout_plan(records: &dyn Records) -> Result<Plan, ServiceError> {
    let (waves, cities) = futures::try_join!(records.waves(), records.cities())?;
    Ok(Plan::default_plan().overlaid_with(waves, cities))
}

/// The shipped truck rules overlaid with the stored cities: one query of `TRUCKRULES`.
async fn read_truck_rulebook(records: &dyn Records) -> Result<TruckRulebook, ServiceError> {
    Ok(TruckRulebook::shipped().overlaid_with(records.truck_rules().await?))
}
