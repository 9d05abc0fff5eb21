//! The in-process records store: the local server's and the fast tests' adapter of every context's records ports.
//!
//! Every operation takes one lock, so each behaves as one transaction; the
//! contexts' ports are implemented one file each over the one state.

mod applications;
mod issuance;
pub mod metrics;
pub mod notices;
/// The embedded photo store serves its links from the local server's development routes.
#[cfg(any(test, feature = "dev"))]
pub mod photos;
mod register;
mod shared;
mod status;
mod truck;
mod verification;

use crate::applications::application::Application;
use crate::expiry::{self, ExpiryEntry};
use crate::issuance::edl::ElectronicLicence;
use crate::issuance::outbox;
use crate::kernel::queue::{self, QueueQuery};
use crate::kernel::showcode::CachedShowCode;
use crate::kernel::store::StoreError;
use crate::register::change::ChangeRecord;
use crate::register::licence::Licence;
use crate::register::rollout::{City, RolloutChange, Wave};
use crate::truck::pass::TruckPass;
use crate::truck::rules::{CityTruckRules, TruckRulesChange};
use crate::truck::vehicle::Vehicle;
use crate::verification::ports::TrustEntry;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};
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
    /// (credential kind, serial) -> its current show code.
    show_codes: HashMap<(&'static str, String), CachedShowCode>,
    /// (log, holder or pass serial, "" for unmatched) -> checks as stored (their JSON text), oldest first.
    checks: HashMap<(&'static str, String), Vec<String>>,
    /// The expiry index, as in DynamoDB: only records still to end, by day
    /// bucket then key, kept in step by every write of a licence, application or pass.
    expiry: BTreeSet<ExpiryEntry>,
    /// The refresh index, as in DynamoDB: active licences by the day their document comes due.
    refresh: BTreeSet<ExpiryEntry>,
    /// The issuance outbox, as in DynamoDB: approved applications by shard, then approval time.
    outbox: BTreeSet<ExpiryEntry>,
    /// The notice outbox: notices recorded with their changes and not yet delivered, by id.
    notices: BTreeMap<String, crate::kernel::notice::PendingNotice>,
    truck_rules: BTreeMap<String, CityTruckRules>,
    truck_rules_changes: Vec<TruckRulesChange>,
    vehicles: HashMap<String, Vehicle>,
    passes: HashMap<String, TruckPass>,
    /// plate -> version of its pass list (raised by every new pass).
    pass_lists: HashMap<String, u64>,
    /// The verifiers' drawn nonces, until consumed.
    nonces: HashMap<String, crate::verification::ports::DrawnNonce>,
    /// (organisation, window start, shard) -> requests counted.
    quota_counts: HashMap<(String, i64, u32), u64>,
    /// (organisation, window start, shard) -> misses counted.
    quota_misses: HashMap<(String, i64, u32), u64>,
    /// Status list slots taken: entry -> (serial, until).
    status_slots: HashMap<crate::issuance::status::StatusEntry, (String, DateTime<Utc>)>,
    /// (list, shard) -> its packed statuses and version.
    status_shards: HashMap<(u32, u32), crate::issuance::status::StatusShard>,
    /// list -> its published token.
    published_lists: HashMap<u32, crate::issuance::status::PublishedList>,
    import_jobs: HashMap<String, crate::register::import_job::ImportJob>,
    /// Jobs with work left: (started at, id).
    pending_imports: BTreeSet<(DateTime<Utc>, String)>,
    /// The licences with statuses to publish, as the `issue` index holds them in DynamoDB (`STATUS#<shard>`).
    status_marks: BTreeSet<ExpiryEntry>,
    /// (local day, counter) -> signatures taken by the scheduled jobs.
    signs: HashMap<(NaiveDate, crate::issuance::budget::SignCounter), u64>,
}

impl State {
    /// Records notices as pending, inside the write that warrants them.
    fn note(&mut self, notices: &[crate::kernel::notice::PendingNotice]) {
        for notice in notices {
            self.notices.insert(notice.id.clone(), notice.clone());
        }
    }

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

    /// Stores an application and moves its expiry and outbox entries with it.
    fn put_application(&mut self, application: &Application) {
        let before = self
            .applications
            .get(&application.id)
            .and_then(expiry::application_entry);
        self.reindex(before, expiry::application_entry(application));
        let before = self.applications.get(&application.id).and_then(outbox::issuance_entry);
        let after = outbox::issuance_entry(application);
        if before != after {
            if let Some(entry) = before {
                self.outbox.remove(&entry);
            }
            if let Some(entry) = after {
                self.outbox.insert(entry);
            }
        }
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

    /// Stores an electronic licence and moves its expiry, refresh and status mark entries with it.
    fn put_electronic_licence(&mut self, licence: &ElectronicLicence) {
        let before = self
            .electronic_licences
            .get(&licence.serial)
            .and_then(expiry::licence_entry);
        self.reindex(before, expiry::licence_entry(licence));
        let before = self
            .electronic_licences
            .get(&licence.serial)
            .and_then(crate::issuance::document::refresh_entry);
        let after = crate::issuance::document::refresh_entry(licence);
        if before != after {
            if let Some(entry) = before {
                self.refresh.remove(&entry);
            }
            if let Some(entry) = after {
                self.refresh.insert(entry);
            }
        }
        let before = self
            .electronic_licences
            .get(&licence.serial)
            .and_then(crate::issuance::status::status_mark_entry);
        if let Some(entry) = before {
            self.status_marks.remove(&entry);
        }
        if let Some(entry) = crate::issuance::status::status_mark_entry(licence) {
            self.status_marks.insert(entry);
        }
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

/// One page of a review queue, earliest due first, as the sharded `queue` index
/// pages it: items due before `query.due_before` only (and not yet reported
/// overdue, when asked), after the cursor's position.
fn queue_page<'a, T: Clone + 'a>(
    waiting: impl Iterator<Item = (DateTime<Utc>, &'a str, bool, &'a T)>,
    query: &QueueQuery,
) -> Result<(Vec<T>, Option<String>), StoreError> {
    let after = query.after.as_deref().map(queue::decode_cursor).transpose()?;
    let mut page: Vec<(String, &T)> = waiting
        .filter(|(due, _, reported, _)| {
            query.due_before.is_none_or(|bound| *due < bound) && !(query.unreported_only && *reported)
        })
        .map(|(due, id, _, item)| (queue::queue_position(due, id), item))
        .filter(|(position, _)| after.as_ref().is_none_or(|after| position > after))
        .collect();
    page.sort_by(|a, b| a.0.cmp(&b.0));
    let more = page.len() > query.limit;
    page.truncate(query.limit);
    let next = if more {
        page.last().map(|(p, _)| queue::encode_cursor(p))
    } else {
        None
    };
    Ok((page.into_iter().map(|(_, item)| item.clone()).collect(), next))
}
