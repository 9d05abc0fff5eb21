//! The signed document's own, short life: how long a document is valid, when it is re-signed, which signer may sign it.

use super::edl::ElectronicLicence;
use crate::expiry::{ExpiryEntry, ExpiryPage};
use crate::kernel::store::StoreError;
use crate::kernel::time::local_date;
use async_trait::async_trait;
use chrono::{DateTime, Duration, NaiveDate, Utc};

/// A signed document is valid for at most this many days (as multipaz does): a stolen or
/// copied document dies within weeks, and a signer's certificate can be rotated in weeks.
pub const DOCUMENT_DAYS: i64 = 30;
/// Each document is valid for up to this many days less than `DOCUMENT_DAYS`, drawn at random,
/// so that documents signed on one day (launch day) come due for refresh over a week, not on one day.
pub const JITTER_DAYS: i64 = 7;
/// The scheduled refresh re-signs a document this many days before its end.
pub const REFRESH_AHEAD_DAYS: i64 = 10;
/// `GET /licence` hands out a fresh document when the current one ends within this many days
/// (the scheduled refresh normally got there first).
pub const SHOW_WINDOW_DAYS: i64 = 3;
/// A document signer signs only while its certificate outlives the document by this many days.
pub const SIGNER_MARGIN_DAYS: i64 = 7;
/// The refresh index's day buckets are split this many ways (`REFRESH#<day>#<shard>`), so that
/// no GSI partition takes more than half of a day's entries (see the README).
pub const REFRESH_SHARDS: u32 = 2;
/// How many days a refresh run goes back over for what an earlier run left (at its budget, or
/// when the signer failed); a document left there still has `REFRESH_AHEAD_DAYS -
/// REFRESH_LOOKBACK_DAYS` days of validity, the show window, in which `GET /licence` re-signs it.
pub const REFRESH_LOOKBACK_DAYS: i64 = REFRESH_AHEAD_DAYS - SHOW_WINDOW_DAYS;

/// The document life, configurable per deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentPolicy {
    pub period: Duration,
    pub jitter: Duration,
    pub show_window: Duration,
    pub signer_margin: Duration,
}

impl Default for DocumentPolicy {
    fn default() -> Self {
        DocumentPolicy {
            period: Duration::days(DOCUMENT_DAYS),
            jitter: Duration::days(JITTER_DAYS),
            show_window: Duration::days(SHOW_WINDOW_DAYS),
            signer_margin: Duration::days(SIGNER_MARGIN_DAYS),
        }
    }
}

impl DocumentPolicy {
    /// The end of a document signed at `now`: the period less a random part of the jitter
    /// (`random` is uniform), never after the electronic licence's own end.
    pub fn document_end(&self, now: DateTime<Utc>, licence_end: DateTime<Utc>, random: u32) -> DateTime<Utc> {
        let jitter = self.jitter.num_seconds().max(0);
        let less = if jitter == 0 {
            0
        } else {
            i64::from(random) % (jitter + 1)
        };
        (now + self.period - Duration::seconds(less)).min(licence_end)
    }

    /// The latest a signer's certificate may end and still sign a document now: the longest
    /// document plus the margin.
    pub fn signer_must_outlive(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + self.period + self.signer_margin
    }

    /// Whether the document is due for the scheduled refresh at `now`: from the start of the
    /// local day of its bucket in the refresh index.
    pub fn refresh_due(&self, licence: &ElectronicLicence, now: DateTime<Utc>) -> bool {
        local_date(licence.document_valid_until - Duration::days(REFRESH_AHEAD_DAYS)) <= local_date(now)
            && licence.document_valid_until < licence.valid_until
    }

    /// Whether `GET /licence` should hand out a fresh document instead of the current one.
    pub fn show_refresh_due(&self, licence: &ElectronicLicence, now: DateTime<Utc>) -> bool {
        licence.document_valid_until - self.show_window <= now && licence.document_valid_until < licence.valid_until
    }
}

/// An active licence's place in the refresh index: the day its document comes due, in a shard
/// drawn from its serial. None when it is not active, or its document already lasts to the
/// licence's end (nothing to re-sign).
pub fn refresh_entry(licence: &ElectronicLicence) -> Option<ExpiryEntry> {
    (licence.is_active() && licence.document_valid_until < licence.valid_until).then(|| ExpiryEntry {
        bucket: refresh_bucket(
            local_date(licence.document_valid_until - Duration::days(REFRESH_AHEAD_DAYS)),
            shard_of(&licence.serial),
        ),
        key: licence.serial.clone(),
    })
}

/// The refresh index's bucket of one local day and shard: `REFRESH#2026-11-25#3`.
pub fn refresh_bucket(day: NaiveDate, shard: u32) -> String {
    format!("REFRESH#{}#{shard}", day.format("%Y-%m-%d"))
}

/// A serial's shard: a stable hash of its digits (`kernel::shard`), so that it never moves between writes.
pub fn shard_of(serial: &str) -> u32 {
    crate::kernel::shard::shard_of(serial, REFRESH_SHARDS)
}

/// The days a refresh run reads, oldest first: today's bucket and the ones before it that an
/// earlier run may have left at its budget.
pub fn refresh_days(today: NaiveDate) -> Vec<NaiveDate> {
    (0..=REFRESH_LOOKBACK_DAYS)
        .rev()
        .filter_map(|back| today.checked_sub_signed(Duration::days(back)))
        .collect()
}

/// The sparse index of documents to re-sign, kept in step by every write of an electronic licence.
#[async_trait]
pub trait RefreshIndex: Send + Sync {
    /// The serials in one bucket (`refresh_bucket`), in key order.
    async fn due_for_refresh(
        &self,
        bucket: &str,
        limit: usize,
        after: Option<String>,
    ) -> Result<ExpiryPage, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn a_document_lasts_weeks_jittered_and_never_past_the_licence() {
        let policy = DocumentPolicy::default();
        let now = at("2026-11-25T02:00:00Z");
        let far = at("2032-06-18T15:59:59Z");
        assert_eq!(policy.document_end(now, far, 0), now + Duration::days(30));
        let seven = u32::try_from(Duration::days(7).num_seconds()).expect("fits");
        assert_eq!(policy.document_end(now, far, seven), now + Duration::days(23));
        let ends: std::collections::BTreeSet<NaiveDate> = (0..1000u32)
            .map(|i| local_date(policy.document_end(now, far, i.wrapping_mul(2_654_435_761))))
            .collect();
        assert!(ends.len() >= 7, "spread over the week: {ends:?}");
        let soon = at("2026-12-01T15:59:59Z");
        assert_eq!(policy.document_end(now, soon, 0), soon);
    }

    #[test]
    fn shards_are_stable_and_all_used() {
        assert_eq!(shard_of("11000026112500001234"), shard_of("11000026112500001234"));
        let used: std::collections::BTreeSet<u32> =
            (0..100).map(|i| shard_of(&format!("110000261125{i:08}"))).collect();
        assert_eq!(used.len(), REFRESH_SHARDS as usize);
        let day: NaiveDate = "2026-11-25".parse().expect("date");
        assert_eq!(refresh_bucket(day, 3), "REFRESH#2026-11-25#3");
        assert_eq!(refresh_days(day).len(), 8);
        assert_eq!(refresh_days(day).last(), Some(&day));
    }
}
