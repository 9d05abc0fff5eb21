//! Which records the scheduled expiry job will end, and the day bucket each one waits in.

use crate::applications::application::Application;
use crate::issuance::edl::ElectronicLicence;
use crate::kernel::shard::shard_of;
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

/// Each kind's day bucket is split this many ways (`APP#<day>#<shard>`), the shard drawn from the record's key.
/// A launch day writes its applications' entries at about 333 a second into one day's bucket (the README's key
/// table): eight shards take about 42 each, a twentieth of a GSI partition's 1,000 writes a second, so the profile
/// may grow twentyfold before one shard throttles; a run pays one more small query per shard and day.
pub const EXPIRY_SHARDS: u32 = 8;

impl ExpiryKind {
    /// The bucket prefix, which is also how the stores name the kind.
    pub fn prefix(self) -> &'static str {
        match self {
            ExpiryKind::ElectronicLicence => "EDL",
            ExpiryKind::Application => "APP",
            ExpiryKind::TruckPass => "PASS",
        }
    }

    /// One shard of a local day's bucket: `EDL#2026-11-25#3`.
    pub fn bucket(self, day: NaiveDate, shard: u32) -> String {
        format!("{}#{shard}", self.legacy_bucket(day))
    }

    /// The day's bucket as entries were written before the buckets were sharded: `EDL#2026-11-25`. A record
    /// written then stays there until it is written again, so a run still reads it.
    pub fn legacy_bucket(self, day: NaiveDate) -> String {
        format!("{}#{}", self.prefix(), day.format("%Y-%m-%d"))
    }

    /// Where the record keyed `key` waits for `day`: its shard never changes, so a rewrite replaces its entry.
    pub fn bucket_of(self, day: NaiveDate, key: &str) -> String {
        self.bucket(day, shard_of(key, EXPIRY_SHARDS))
    }

    /// Every bucket a run reads for one day: each shard, then the unsharded bucket.
    pub fn day_buckets(self, day: NaiveDate) -> Vec<String> {
        (0..EXPIRY_SHARDS)
            .map(|shard| self.bucket(day, shard))
            .chain(std::iter::once(self.legacy_bucket(day)))
            .collect()
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
        bucket: ExpiryKind::ElectronicLicence.bucket_of(local_date(licence.valid_until), &licence.serial),
        key: licence.serial.clone(),
    })
}

/// An application the applicant must act on waits in the bucket of the day
/// it counts as abandoned; one waiting for staff, or ended, is out of the index.
pub fn application_entry(application: &Application) -> Option<ExpiryEntry> {
    application.abandoned_at().map(|at| ExpiryEntry {
        bucket: ExpiryKind::Application.bucket_of(local_date(at), &application.id),
        key: application.id.clone(),
    })
}

/// A pending or active truck pass waits in the bucket of its last valid
/// day; once it ended in any way it is out of the index.
pub fn pass_entry(pass: &TruckPass) -> Option<ExpiryEntry> {
    pass.status.is_live().then(|| ExpiryEntry {
        bucket: ExpiryKind::TruckPass.bucket_of(pass.valid_to, &pass.id),
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
    /// The keys (serials or application ids) in one bucket (one shard of a
    /// day, `ExpiryKind::day_buckets`), in key order, read from an index that
    /// holds only records still to end, so a run reads what is due and nothing else.
    async fn due_for_expiry(&self, bucket: &str, limit: usize, after: Option<String>)
        -> Result<ExpiryPage, StoreError>;
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
        assert_eq!(ExpiryKind::ElectronicLicence.bucket(day, 3), "EDL#2026-11-25#3");
        assert_eq!(ExpiryKind::Application.legacy_bucket(day), "APP#2026-11-25");
    }

    #[test]
    fn a_day_is_read_in_every_shard_and_the_unsharded_bucket() {
        let day: NaiveDate = "2026-11-25".parse().expect("date");
        let buckets = ExpiryKind::TruckPass.day_buckets(day);
        assert_eq!(buckets.len(), EXPIRY_SHARDS as usize + 1);
        assert_eq!(buckets.first().map(String::as_str), Some("PASS#2026-11-25#0"));
        assert_eq!(buckets.last().map(String::as_str), Some("PASS#2026-11-25"));
        let bucket = ExpiryKind::Application.bucket_of(day, "0193a1f2-7c4e-7d2a-9b1e-2f3c4d5e6f70");
        assert_eq!(
            bucket,
            ExpiryKind::Application.bucket_of(day, "0193a1f2-7c4e-7d2a-9b1e-2f3c4d5e6f70")
        );
        assert!(ExpiryKind::Application.day_buckets(day).contains(&bucket), "{bucket}");
    }

    #[test]
    fn a_run_reads_the_ended_days_oldest_first() {
        let today: NaiveDate = "2026-11-26".parse().expect("date");
        let days: Vec<String> = due_days(today, 3).iter().map(|d| d.to_string()).collect();
        assert_eq!(days, ["2026-11-23", "2026-11-24", "2026-11-25"]);
    }
}
