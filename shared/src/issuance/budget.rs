//! The daily signing budget of the scheduled jobs (issue 12): the document refresh runs and the status list
//! token signs share one count per local day, taken before signing, so that KMS's ECC signing quota (shared by
//! the whole account and region) keeps room for what holders ask for on demand.
//!
//! The day's budget is split in two counters of one item: the status lists' part is reserved (the most their
//! job can sign in a day: every list, every run), the refresh takes the rest. Each counter is raised by a
//! conditional add that holds only while it stays within its part, so two overlapping runs cannot exceed the
//! day's budget, and the two parts add up to it. A refresh run takes at most what is left of the refresh's part
//! divided by the runs left today, so the day's signatures are spread over its runs, not spent in the first hour.

use crate::kernel::store::StoreError;
use crate::kernel::time::local_date;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Timelike, Utc};

/// The day's budget when none is configured: 2.16 million signatures, 20 % above the need of 30 million
/// licences (see the README's measures).
pub const DEFAULT_SIGNS_PER_DAY: u64 = 2_160_000;
/// The refresh's runs a day in the deployed stack (`template.yaml`: hourly).
pub const REFRESH_RUNS_PER_DAY: u32 = 24;

/// Which of the day's two counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SignCounter {
    /// The document refresh's signatures.
    Refresh,
    /// The status list tokens' signatures.
    StatusLists,
}

/// The day's signing budget and how the scheduled jobs share it; configuration, not code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningBudget {
    /// Signatures the scheduled jobs may ask for in one local day (UTC+8), together.
    pub signs_per_day: u64,
    /// The refresh's runs in a day, evenly spaced from local midnight (24: hourly).
    pub refresh_runs_per_day: u32,
    /// The status list job's runs in a day (288: every five minutes).
    pub status_list_runs_per_day: u32,
}

impl Default for SigningBudget {
    fn default() -> Self {
        SigningBudget {
            signs_per_day: DEFAULT_SIGNS_PER_DAY,
            refresh_runs_per_day: REFRESH_RUNS_PER_DAY,
            status_list_runs_per_day: u32::try_from(24 * 60 / super::status::JOB_MINUTES).unwrap_or(288),
        }
    }
}

impl SigningBudget {
    /// The status lists' part: the most their job can sign in a day (each of `lists` every run), never more
    /// than the whole budget.
    pub fn status_list_part(&self, lists: u32) -> u64 {
        (u64::from(lists) * u64::from(self.status_list_runs_per_day)).min(self.signs_per_day)
    }

    /// The refresh's part: the rest of the day's budget.
    pub fn refresh_part(&self, lists: u32) -> u64 {
        self.signs_per_day - self.status_list_part(lists)
    }

    /// The refresh runs left in the local day at `now`, this one included (at least 1).
    pub fn refresh_runs_left(&self, now: DateTime<Utc>) -> u64 {
        let runs = u64::from(self.refresh_runs_per_day.max(1));
        let local = now.with_timezone(&crate::kernel::time::local_offset());
        let second = u64::from(local.num_seconds_from_midnight());
        let done = second * runs / 86_400;
        runs.saturating_sub(done).max(1)
    }

    /// What one refresh run at `now` may sign, when `taken` of the refresh's part is spent today: what is left
    /// divided by the runs left, rounded up (the last run of the day may take all that is left).
    pub fn refresh_allowance(&self, lists: u32, taken: u64, now: DateTime<Utc>) -> u64 {
        let left = self.refresh_part(lists).saturating_sub(taken);
        left.div_ceil(self.refresh_runs_left(now))
    }
}

/// The local day whose count a signature at `at` is taken from.
pub fn budget_day(at: DateTime<Utc>) -> NaiveDate {
    local_date(at)
}

/// The day's counters.
#[async_trait]
pub trait SigningBudgetStore: Send + Sync {
    /// Adds `count` to the day's counter if it stays at most `cap`; whether it was added.
    async fn take_signs(&self, day: NaiveDate, counter: SignCounter, count: u64, cap: u64) -> Result<bool, StoreError>;
    /// Gives back signatures taken and not made (unconditional).
    async fn give_back_signs(&self, day: NaiveDate, counter: SignCounter, count: u64) -> Result<(), StoreError>;
    /// What the day's counter holds (0 before the first take).
    async fn signs_taken(&self, day: NaiveDate, counter: SignCounter) -> Result<u64, StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(text).expect("time").with_timezone(&Utc)
    }

    #[test]
    fn the_default_keeps_two_point_one_six_million_a_day_with_the_status_lists_part_reserved() {
        let budget = SigningBudget::default();
        assert_eq!(budget.signs_per_day, 2_160_000);
        assert_eq!(budget.status_list_runs_per_day, 288);
        assert_eq!(budget.status_list_part(128), 36_864);
        assert_eq!(budget.refresh_part(128), 2_160_000 - 36_864);
        let tiny = SigningBudget {
            signs_per_day: 10,
            ..budget
        };
        assert_eq!((tiny.status_list_part(128), tiny.refresh_part(128)), (10, 0));
    }

    #[test]
    fn a_run_takes_what_is_left_over_the_runs_left_in_the_local_day() {
        let budget = SigningBudget {
            signs_per_day: 2_400 + 8,
            refresh_runs_per_day: 24,
            status_list_runs_per_day: 4,
        };
        // 00:45 local is the first of 24 runs; 23:45 the last.
        assert_eq!(budget.refresh_runs_left(at("2026-12-05T00:45:00+08:00")), 24);
        assert_eq!(budget.refresh_runs_left(at("2026-12-05T12:45:00+08:00")), 12);
        assert_eq!(budget.refresh_runs_left(at("2026-12-05T23:45:00+08:00")), 1);
        assert_eq!(budget.refresh_allowance(2, 0, at("2026-12-05T00:45:00+08:00")), 100);
        assert_eq!(budget.refresh_allowance(2, 2_300, at("2026-12-05T22:45:00+08:00")), 50);
        assert_eq!(budget.refresh_allowance(2, 2_300, at("2026-12-05T23:45:00+08:00")), 100);
        assert_eq!(budget.refresh_allowance(2, 2_400, at("2026-12-05T23:45:00+08:00")), 0);
        // Spent evenly, the day's runs add up to its part and no more.
        let mut taken = 0;
        for hour in 0..24 {
            let now = at("2026-12-05T00:45:00+08:00") + chrono::Duration::hours(hour);
            taken += budget.refresh_allowance(2, taken, now);
        }
        assert_eq!(taken, 2_400);
        assert_eq!(
            budget_day(at("2026-12-05T23:59:00+08:00")),
            budget_day(at("2026-12-05T00:00:00+08:00"))
        );
    }
}
