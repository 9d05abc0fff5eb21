//! Which records the scheduled expiry job will end, and the day bucket each one waits in.

use crate::applications::application::Application;
use crate::issuance::edl::ElectronicLicence;
use crate::kernel::store::StoreError;
use crate::kernel::time::local_date;
use crate::truck::pass::TruckPass;
use async_trait::async_trait;
use chrono::NaiveDate;
use std::fmt;

/// What the expiry index holds: the kinds of record that end by time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ExpiryKind {
    /// Active electronic licences, keyed by serial, bucketed by their last valid day.
    ElectronicLicence,
    /// Applications the applicant must act on, keyed by id, bucketed by the
    /// day they count as abandoned.
    Application,
    /// Truck passes still pending or active, keyed by id, bucketed by their last valid day.
    TruckPass,
}

impl ExpiryKind {
    /// The bucket prefix, which is also how the stores name the kind.
    pub fn prefix(self) -> &'static str {
        match self {
            ExpiryKind::ElectronicLicence => "EDL",
            ExpiryKind::Application => "APP",
            ExpiryKind::TruckPass => "PASS",
        }
    }

    /// The bucket of one local day: `EDL#2026-11-25`.
    pub fn bucket(self, day: NaiveDate) -> String {
        format!("{}#{}", self.prefix(), day.format("%Y-%m-%d"))
    }
}

impl fmt::Display for ExpiryKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.prefix())
    }
}

/// A record's place in the expiry index: its day's bucket and its key.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExpiryEntry {
    pub bucket: String,
    pub key: String,
}

/// An active licence waits in the bucket of its last valid day (its
/// `valid_until`, 23:59:59 local); any other status is out of the index.
pub fn licence_entry(licence: &ElectronicLicence) -> Option<ExpiryEntry> {
    licence.is_active().then(|| ExpiryEntry {
        bucket: ExpiryKind::ElectronicLicence.bucket(local_date(licence.valid_until)),
        key: licence.serial.clone(),
    })
}

/// An application the applicant must act on waits in the bucket of the day
/// it counts as abandoned; one waiting for staff, or ended, is out of the index.
pub fn application_entry(application: &Application) -> Option<ExpiryEntry> {
    application.abandoned_at().map(|at| ExpiryEntry {
        bucket: ExpiryKind::Application.bucket(local_date(at)),
        key: application.id.clone(),
    })
}

/// A pending or active truck pass waits in the bucket of its last valid
/// day; once it ended in any way it is out of the index.
pub fn pass_entry(pass: &TruckPass) -> Option<ExpiryEntry> {
    pass.status.is_live().then(|| ExpiryEntry {
        bucket: ExpiryKind::TruckPass.bucket(pass.valid_to),
        key: pass.id.clone(),
    })
}

/// The buckets a run reads, oldest first: those whose day has ended (every
/// record in them is due by then), going back `catch_up_days` so that a
/// missed run is made up. Reading only ended days means a record waits at
/// most a day past its time, and no run reads a record that is not yet due.
pub fn due_days(today: NaiveDate, catch_up_days: u32) -> Vec<NaiveDate> {
    (1..=i64::from(catch_up_days.max(1)))
        .rev()
        .filter_map(|back| today.checked_sub_signed(chrono::Duration::days(back)))
        .collect()
}

/// One page of an expiry bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpiryPage {
    pub keys: Vec<String>,
    /// Opaque cursor for the next page; none on the last page.
    pub next: Option<String>,
    /// How many index entries the store read for this page.
    pub read: usize,
}

/// The index of what ends by time, kept in step by every write of a
/// licence, an application or a pass.
#[async_trait]
pub trait ExpiryIndex: Send + Sync {
    /// The keys (serials or application ids) in one day's expiry bucket, in
    /// key order, read from an index that holds only records still to end,
    /// so a run reads what is due and nothing else.
    async fn due_for_expiry(
        &self,
        kind: ExpiryKind,
        day: NaiveDate,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_local_days() {
        use chrono::{DateTime, Utc};
        let at: DateTime<Utc> = "2026-11-25T15:59:59Z".parse().expect("time");
        assert_eq!(local_date(at).to_string(), "2026-11-25", "23:59:59 local");
        let at: DateTime<Utc> = "2026-11-25T16:00:00Z".parse().expect("time");
        assert_eq!(local_date(at).to_string(), "2026-11-26");
        let day: NaiveDate = "2026-11-25".parse().expect("date");
        assert_eq!(ExpiryKind::ElectronicLicence.bucket(day), "EDL#2026-11-25");
        assert_eq!(ExpiryKind::Application.bucket(day), "APP#2026-11-25");
    }

    #[test]
    fn a_run_reads_the_ended_days_oldest_first() {
        let today: NaiveDate = "2026-11-26".parse().expect("date");
        let days: Vec<String> = due_days(today, 3).iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-11-23", "2026-11-24", "2026-11-25"]);
    }
}
