//! The scheduled expiry job: ends lapsed licences, abandoned applications and lapsed truck passes, flags overdue reviews; idempotent and resumable.

use super::{ServiceError, Services};
use crate::applications::application::Application;
use crate::expiry::{self, ExpiryKind};
use crate::kernel::caller::Actor;
use crate::kernel::caller::Role;
use crate::kernel::queue::{QueueQuery, ReviewQueue};
use crate::kernel::store::StoreError;
use crate::kernel::time::local_date;
use crate::kernel::versioned::{retry_on_conflict, ATTEMPTS};
use chrono::{DateTime, NaiveDate, Utc};
use futures::{StreamExt, TryStreamExt};
use serde::Serialize;
use std::time::Instant;

/// How many ended days a run goes back over, so that missed runs are made up.
pub const CATCH_UP_DAYS: u32 = 7;

/// Entries read per page; each page is finished before the deadline is
/// looked at again, so a page must fit well inside the deadline's margin.
pub const DEFAULT_PAGE: usize = 100;

/// Records of one page worked on at once: each is its own item and its own
/// conditional write, so they do not contend; bounded to stay gentle on the table.
const CONCURRENCY: usize = 8;

#[derive(Debug, Clone)]
pub struct ExpiryOptions {
    pub page_size: usize,
    pub catch_up_days: u32,
}

impl Default for ExpiryOptions {
    fn default() -> Self {
        ExpiryOptions {
            page_size: DEFAULT_PAGE,
            catch_up_days: CATCH_UP_DAYS,
        }
    }
}

/// What one run did. A run that stopped early (`complete: false`) is
/// continued by the next one: whatever it finished has left the indexes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExpiryReport {
    pub at: DateTime<Utc>,
    /// The ended days whose buckets this run read, oldest first.
    pub days: Vec<NaiveDate>,
    pub licences_expired: usize,
    pub applications_expired: usize,
    /// Truck passes whose last day ended (pending ones never reviewed included).
    pub passes_expired: usize,
    /// Reviews reported past their due time by this run (each is reported once).
    pub reviews_overdue: usize,
    /// Entries read from the expiry index: the work, proportional to what is
    /// due, never to the size of the table.
    pub items_read: usize,
    /// Overdue entries read from the review queue. A reported one stays in the
    /// reviewers' work list but leaves the partitions this pass reads, so a
    /// rerun reads only what became overdue since, and what it left.
    pub reviews_read: usize,
    /// Records that kept changing under the job, or whose write the store
    /// refused (throttled), left for the next run.
    pub left_for_next_run: usize,
    pub complete: bool,
}

/// What happened to one record.
enum Outcome {
    Ended,
    /// Not due, already ended, or gone: nothing to do.
    Unchanged,
    /// Changed by someone else on every attempt.
    Busy,
}

/// When to stop asking for pages: once the deadline has passed, but never
/// before a page with work in it was done, so that every run makes progress
/// (empty buckets cost one small query each).
struct Budget {
    deadline: Option<Instant>,
    worked: bool,
}

impl Budget {
    fn may_fetch(&self) -> bool {
        !self.worked || self.deadline.is_none_or(|d| Instant::now() < d)
    }

    fn record(&mut self, entries: usize) {
        self.worked |= entries > 0;
    }
}

fn scheduler() -> Actor {
    Actor {
        id: "expiry-job".into(),
        role: Role::Scheduler,
    }
}

impl Services {
    /// Runs the expiry job: licences whose last valid day has ended,
    /// applications abandoned for `ABANDONED_AFTER_DAYS`, truck passes whose
    /// last day has ended, then reviews past
    /// their due time. Stops asking for more work once `deadline` has passed
    /// (the caller leaves its own margin) and reports `complete: false`.
    pub async fn run_expiry(
        &self,
        deadline: Option<Instant>,
        options: &ExpiryOptions,
    ) -> Result<ExpiryReport, ServiceError> {
        let now = self.now();
        let days = expiry::due_days(local_date(now), options.catch_up_days);
        let mut report = ExpiryReport {
            at: now,
            days: days.clone(),
            licences_expired: 0,
            applications_expired: 0,
            passes_expired: 0,
            reviews_overdue: 0,
            items_read: 0,
            reviews_read: 0,
            left_for_next_run: 0,
            complete: false,
        };
        let mut budget = Budget {
            deadline,
            worked: false,
        };
        let page_size = options.page_size.max(1);
        let complete = self
            .expire_due(
                ExpiryKind::ElectronicLicence,
                &days,
                now,
                page_size,
                &mut budget,
                &mut report,
            )
            .await?
            && self
                .expire_due(ExpiryKind::Application, &days, now, page_size, &mut budget, &mut report)
                .await?
            && self
                .expire_due(ExpiryKind::TruckPass, &days, now, page_size, &mut budget, &mut report)
                .await?
            && self
                .flag_overdue_reviews(now, page_size, &mut budget, &mut report)
                .await?;
        report.complete = complete && report.left_for_next_run == 0;
        tracing::info!(
            licences_expired = report.licences_expired,
            applications_expired = report.applications_expired,
            passes_expired = report.passes_expired,
            reviews_overdue = report.reviews_overdue,
            items_read = report.items_read,
            reviews_read = report.reviews_read,
            left_for_next_run = report.left_for_next_run,
            complete = report.complete,
            "expiry run finished"
        );
        Ok(report)
    }

    /// Works through the day buckets of one kind; false when the deadline stopped it.
    async fn expire_due(
        &self,
        kind: ExpiryKind,
        days: &[NaiveDate],
        now: DateTime<Utc>,
        page_size: usize,
        budget: &mut Budget,
        report: &mut ExpiryReport,
    ) -> Result<bool, ServiceError> {
        // Each day in every shard of its bucket, then its unsharded bucket; each is read from its start, as
        // what an earlier run finished has left the index.
        for bucket in days.iter().flat_map(|day| kind.day_buckets(*day)) {
            let mut after = None;
            loop {
                if !budget.may_fetch() {
                    return Ok(false);
                }
                let page = self.records.due_for_expiry(&bucket, page_size, after.take()).await?;
                report.items_read += page.read;
                budget.record(page.keys.len());
                // Owned keys, so that the run's future is Send wherever it is spawned.
                let outcomes: Vec<Outcome> = futures::stream::iter(page.keys.into_iter().map(|key| async move {
                    match kind {
                        ExpiryKind::ElectronicLicence => self.expire_licence(&key, now).await,
                        ExpiryKind::Application => self.expire_application(&key, now).await,
                        ExpiryKind::TruckPass => self.expire_pass(&key, now).await,
                    }
                }))
                .buffer_unordered(CONCURRENCY)
                .try_collect()
                .await?;
                for outcome in outcomes {
                    match (outcome, kind) {
                        (Outcome::Ended, ExpiryKind::ElectronicLicence) => report.licences_expired += 1,
                        (Outcome::Ended, ExpiryKind::Application) => report.applications_expired += 1,
                        (Outcome::Ended, ExpiryKind::TruckPass) => report.passes_expired += 1,
                        (Outcome::Busy, _) => report.left_for_next_run += 1,
                        (Outcome::Unchanged, _) => {}
                    }
                }
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
            }
        }
        Ok(true)
    }

    async fn expire_licence(&self, serial: &str, now: DateTime<Utc>) -> Result<Outcome, ServiceError> {
        // Superseded or stopped meanwhile: read again and decide again.
        let outcome = retry_on_conflict(ATTEMPTS, || async {
            // Read consistently: the index may lag behind the record.
            let Some(mut licence) = self.records.electronic_licence(serial).await? else {
                return Ok(Outcome::Unchanged);
            };
            let expected = licence.version;
            if !licence.expire(now) {
                return Ok(Outcome::Unchanged);
            }
            licence.mark_status_to_publish(now);
            licence.version = expected + 1;
            self.records.update_electronic_licence(&licence, expected).await?;
            tracing::info!(serial = %serial, "electronic licence expired");
            self.publish_statuses_after_write(serial).await;
            Ok(Outcome::Ended)
        })
        .await;
        busy_when_kept_changing(
            outcome,
            || tracing::warn!(serial = %serial, "electronic licence kept changing; left for the next run"),
        )
    }

    async fn expire_application(&self, id: &str, now: DateTime<Utc>) -> Result<Outcome, ServiceError> {
        let outcome = retry_on_conflict(ATTEMPTS, || async {
            let Some(mut application) = self.records.application(id).await? else {
                return Ok(Outcome::Unchanged);
            };
            // The applicant may have acted since the index was read.
            if application.abandoned_at().is_none_or(|at| at > now) {
                return Ok(Outcome::Unchanged);
            }
            let expected = application.version;
            if application.expire(&scheduler(), now).is_err() {
                return Ok(Outcome::Unchanged);
            }
            application.version = expected + 1;
            // Ending the application releases the holder's slot in the same write.
            self.records.update_application(&application, expected).await?;
            tracing::info!(application = %id, "abandoned application expired");
            Ok(Outcome::Ended)
        })
        .await;
        busy_when_kept_changing(
            outcome,
            || tracing::warn!(application = %id, "application kept changing; left for the next run"),
        )
    }

    async fn expire_pass(&self, id: &str, now: DateTime<Utc>) -> Result<Outcome, ServiceError> {
        match self
            .change_pass(id, |pass| pass.expire(now).map_err(ServiceError::from))
            .await
        {
            Ok(_) => {
                tracing::info!(pass = %id, "truck pass expired");
                Ok(Outcome::Ended)
            }
            // Gone, revoked or withdrawn meanwhile, or not yet past its last day.
            Err(ServiceError::NotFound { .. } | ServiceError::IllegalPassTransition { .. }) => Ok(Outcome::Unchanged),
            Err(ServiceError::Conflict) => {
                tracing::warn!(pass = %id, "truck pass kept changing; left for the next run");
                Ok(Outcome::Busy)
            }
            Err(e) => Err(e),
        }
    }

    /// Reports each review past its due time once; false when the deadline stopped it. Reads only the overdue
    /// reviews not reported yet (a reported one leaves that range), so a run continues where the last one stopped;
    /// a review whose write fails is left for the next run, and the others are reported.
    async fn flag_overdue_reviews(
        &self,
        now: DateTime<Utc>,
        page_size: usize,
        budget: &mut Budget,
        report: &mut ExpiryReport,
    ) -> Result<bool, ServiceError> {
        let mut after = None;
        loop {
            if !budget.may_fetch() {
                return Ok(false);
            }
            let page = ReviewQueue::<Application>::waiting(
                &*self.records,
                &QueueQuery {
                    limit: page_size.min(super::reviews::MAX_PAGE),
                    after: after.take(),
                    due_before: Some(now),
                    unreported_only: true,
                },
            )
            .await?;
            report.reviews_read += page.items.len();
            budget.record(page.items.len());
            let outcomes: Vec<Outcome> =
                futures::stream::iter(page.items.into_iter().map(|a| self.flag_overdue(a, now)))
                    .buffer_unordered(CONCURRENCY)
                    .try_collect()
                    .await?;
            for outcome in outcomes {
                match outcome {
                    Outcome::Ended => report.reviews_overdue += 1,
                    Outcome::Busy => report.left_for_next_run += 1,
                    Outcome::Unchanged => {}
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(true),
            }
        }
    }

    async fn flag_overdue(&self, application: Application, now: DateTime<Utc>) -> Result<Outcome, ServiceError> {
        let id = application.id.clone();
        // The first attempt uses the queue's copy; a retry reads again, as a reviewer may have decided it meanwhile.
        let first = std::sync::Mutex::new(Some(application));
        let (first, id_ref) = (&first, &id);
        let outcome = retry_on_conflict(ATTEMPTS, move || async move {
            let taken = first.lock().ok().and_then(|mut f| f.take());
            let mut application = match taken {
                Some(application) => application,
                None => match self.records.application(id_ref).await? {
                    Some(fresh) => fresh,
                    None => return Ok(Outcome::Unchanged),
                },
            };
            let expected = application.version;
            if !application.flag_overdue(now) {
                return Ok(Outcome::Unchanged);
            }
            application.version = expected + 1;
            self.records.update_application(&application, expected).await?;
            let due = application
                .photo
                .as_ref()
                .map(|p| p.due_at.to_rfc3339())
                .unwrap_or_default();
            tracing::warn!(application = %application.id, due = %due, "review past its due time");
            Ok(Outcome::Ended)
        })
        .await;
        match outcome {
            // One throttled write does not stop the pass: the review stays unreported, where the next run reads it.
            Err(StoreError::Unavailable(reason)) => {
                tracing::warn!(application = %id, reason = %reason, "review not reported; left for the next run");
                Ok(Outcome::Busy)
            }
            other => busy_when_kept_changing(
                other,
                || tracing::warn!(application = %id, "review kept changing; left for the next run"),
            ),
        }
    }
}

/// A record that kept changing through every attempt is left for the next run (counted, not failed).
fn busy_when_kept_changing(outcome: Result<Outcome, StoreError>, warn: impl FnOnce()) -> Result<Outcome, ServiceError> {
    match outcome {
        Err(StoreError::Conflict) => {
            warn();
            Ok(Outcome::Busy)
        }
        other => other.map_err(ServiceError::from),
    }
}
