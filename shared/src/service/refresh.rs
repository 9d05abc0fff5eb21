//! Re-signing a licence's short-lived document without the holder (issue 12): on `GET /licence`
//! near its end, and by the scheduled refresh through the day-bucketed index within the day's signing budget.

use super::{Refreshing, ServiceError, Signing};
use crate::issuance::budget::{budget_day, SignCounter};
use crate::issuance::document::{refresh_bucket, refresh_days, REFRESH_SHARDS};
use crate::issuance::edl::ElectronicLicence;
use crate::kernel::store::StoreError;
use crate::kernel::time::local_date;
use crate::kernel::versioned::ATTEMPTS;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveDate, Utc};
use futures::StreamExt;
use serde::Serialize;
use std::time::Instant;

/// Documents signed at once.
const CONCURRENCY: usize = 8;
/// The job's signing rate when none is configured: 40 % of KMS's default quota for ECC signing
/// (300 requests/s, shared by the whole account and region with issuance and show codes).
pub const DEFAULT_SIGNS_PER_SECOND: u32 = 120;

/// How one run pages and paces; what it may sign comes from the day's budget (`Services::signing_budget`).
#[derive(Debug, Clone)]
pub struct RefreshOptions {
    pub page_size: usize,
    /// The most signatures a second, on average since the run started; none: as fast as the signer answers.
    pub signs_per_second: Option<u32>,
}

impl Default for RefreshOptions {
    fn default() -> Self {
        RefreshOptions {
            page_size: 100,
            signs_per_second: Some(DEFAULT_SIGNS_PER_SECOND),
        }
    }
}

/// What one refresh run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshReport {
    pub at: DateTime<Utc>,
    pub days: Vec<NaiveDate>,
    /// Index entries read: proportional to what is due, never to the table.
    pub items_read: usize,
    /// Documents signed again and stored.
    pub refreshed: usize,
    /// Signatures asked of the signer (refreshed, plus any lost to a concurrent stop).
    pub signs: usize,
    /// What this run could sign: what is left of the day's refresh budget divided by the runs left today.
    pub allowance: u64,
    /// Whether the run stopped at its allowance (or the day's budget), leaving the rest for the next run.
    pub budget_reached: bool,
    /// Why signing stopped, when the signer failed or no signer may sign: every document stays as it was.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_unavailable: Option<String>,
    pub complete: bool,
}

/// Who asks for a refresh, which decides when a document is due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefreshCause {
    /// The scheduled job: due from the day of its bucket in the refresh index.
    Schedule,
    /// `GET /licence`: due within the policy's window of the document's end.
    Showing,
}

/// What happened to one licence.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// A new document was stored.
    Refreshed(Box<ElectronicLicence>),
    /// Not active, not due, or gone: the record as it is (none when gone).
    Unchanged(Option<Box<ElectronicLicence>>),
}

impl Signing {
    /// Signs the licence's document again and stores it with a write conditional on the version
    /// read: same serial, holder, audit trail and status; new signature, validity and salts. A
    /// licence stopped or superseded meanwhile keeps that state (the new document is dropped); a
    /// signer failure writes nothing. `cause` decides, on the record as read, whether to sign.
    /// Also answers how many signatures it asked for (0 or 1).
    pub async fn refresh_document(
        &self,
        serial: &str,
        cause: RefreshCause,
    ) -> Result<(RefreshOutcome, usize), ServiceError> {
        let Some(edl) = self.records.electronic_licence(serial).await? else {
            return Ok((RefreshOutcome::Unchanged(None), 0));
        };
        let now = self.now();
        let due = match cause {
            RefreshCause::Schedule => self.documents.refresh_due(&edl, now),
            RefreshCause::Showing => self.documents.show_refresh_due(&edl, now),
        };
        if !edl.is_active() || !due {
            return Ok((RefreshOutcome::Unchanged(Some(Box::new(edl))), 0));
        }
        let licence = self
            .records
            .licence(&edl.licence_number)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "licence",
                id: edl.licence_number.clone(),
            })?;
        let device_key = match self.records.application(&edl.application_id).await? {
            Some(application) => application.device_key,
            None => None,
        };
        let document_end = self
            .documents
            .document_end(now, edl.valid_until, super::issuance::random_u32());
        if document_end <= now {
            return Ok((RefreshOutcome::Unchanged(Some(Box::new(edl))), 0));
        }
        // The portrait the current document carries, approved once: a refresh re-signs it, never reads S3.
        let portrait = STANDARD
            .decode(&edl.issuer_signed)
            .ok()
            .and_then(|issuer_signed| crate::credential::mdoc::portrait_of(&issuer_signed));
        let document = self
            .sign_licence_document(
                &licence,
                serial,
                portrait.as_deref(),
                device_key.as_deref(),
                document_end,
            )
            .await?;
        // The signature is made once; a concurrent change is read again and the document
        // applied to the fresh record, unless it is no longer active.
        let mut current = edl;
        for _ in 0..ATTEMPTS {
            if !current.is_active() {
                return Ok((RefreshOutcome::Unchanged(Some(Box::new(current))), 1));
            }
            if current.document_valid_until >= document.valid_until {
                // Another refresh got there first with a document that lasts as long.
                return Ok((RefreshOutcome::Unchanged(Some(Box::new(current))), 1));
            }
            let expected = current.version;
            let mut next = current.clone();
            next.kid = document.kid.clone();
            next.document_signed_at = document.signed_at;
            next.document_valid_until = document.valid_until;
            next.issuer_signed = document.issuer_signed.clone();
            next.portrait_span = document.portrait_span;
            // The replaced document's entry stays taken and reads invalid until that document ends;
            // entries of documents that ended are dropped (their slots free themselves).
            next.retired_entries.retain(|retired| retired.until >= now);
            if let Some(old) = current.status_entry {
                next.retired_entries.push(crate::issuance::status::RetiredEntry {
                    list: old.list,
                    idx: old.idx,
                    until: current.document_valid_until,
                });
            }
            next.status_entry = Some(document.status_entry);
            next.mark_status_to_publish(now);
            next.refreshes += 1;
            next.version = expected + 1;
            match self.records.update_electronic_licence(&next, expected).await {
                Ok(()) => {
                    tracing::info!(serial = %serial, kid = %next.kid, until = %next.document_valid_until, "document refreshed");
                    self.publish_statuses_after_write(serial).await;
                    return Ok((RefreshOutcome::Refreshed(Box::new(next)), 1));
                }
                Err(StoreError::Conflict) => {
                    match self.records.electronic_licence(serial).await? {
                        Some(fresh) => current = fresh,
                        None => return Ok((RefreshOutcome::Unchanged(None), 1)),
                    };
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ServiceError::Conflict)
    }
}

impl Refreshing {
    /// The scheduled refresh: reads the refresh index's buckets from `REFRESH_LOOKBACK_DAYS` ago
    /// to today (every shard), re-signs each due document, and stops at its allowance (what is left
    /// of the day's refresh budget over the runs left today), at the deadline, or at the first signer
    /// failure, leaving the rest where it is for the next run. Each page's signatures are taken from
    /// the day's counter before signing (a conditional add, so overlapping runs cannot exceed it) and
    /// those not made are given back.
    pub async fn run_refresh(
        &self,
        deadline: Option<Instant>,
        options: &RefreshOptions,
    ) -> Result<RefreshReport, ServiceError> {
        let now = self.now();
        let today = local_date(now);
        let days = refresh_days(today);
        let (budget, lists) = (&self.signing_budget, self.status_lists.lists);
        let budget_day = budget_day(now);
        let part = budget.refresh_part(lists);
        let taken = self.records.signs_taken(budget_day, SignCounter::Refresh).await?;
        let allowance = budget.refresh_allowance(lists, taken, now);
        let mut report = RefreshReport {
            at: now,
            days: days.clone(),
            items_read: 0,
            refreshed: 0,
            signs: 0,
            allowance,
            budget_reached: false,
            signer_unavailable: None,
            complete: false,
        };
        let page_size = options.page_size.max(1);
        let started = Instant::now();
        'buckets: for day in &days {
            for shard in 0..REFRESH_SHARDS {
                let bucket = refresh_bucket(*day, shard);
                let mut after = None;
                loop {
                    // Paced: never ahead of the rate on average since the start (a page at most in a burst).
                    if let Some(rate) = options.signs_per_second.filter(|r| *r > 0) {
                        let due = std::time::Duration::from_secs_f64(report.signs as f64 / f64::from(rate));
                        if let Some(wait) = due.checked_sub(started.elapsed()) {
                            tokio::time::sleep(wait).await;
                        }
                    }
                    if deadline.is_some_and(|d| Instant::now() >= d) {
                        break 'buckets;
                    }
                    let left = usize::try_from(allowance)
                        .unwrap_or(usize::MAX)
                        .saturating_sub(report.signs);
                    if left == 0 {
                        report.budget_reached = true;
                        break 'buckets;
                    }
                    // Never more serials than the allowance has signatures left.
                    let mut page = self
                        .records
                        .due_for_refresh(&bucket, page_size.min(left), after.take())
                        .await?;
                    report.items_read += page.read;
                    // The page's signatures taken from the day's count first; an overlapping run may have left
                    // fewer than the page, which then signs what is left.
                    let granted = self.take_refresh_signs(budget_day, page.keys.len(), part).await?;
                    if granted < page.keys.len() {
                        page.keys.truncate(granted);
                        page.next = None;
                        report.budget_reached = true;
                    }
                    let outcomes: Vec<Result<(RefreshOutcome, usize), ServiceError>> = futures::stream::iter(
                        page.keys
                            .into_iter()
                            .map(|serial| async move { self.refresh_document(&serial, RefreshCause::Schedule).await }),
                    )
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await;
                    let outcomes_signed: usize = outcomes
                        .iter()
                        .map(|o| match o {
                            Ok((_, signs)) => *signs,
                            Err(ServiceError::Unavailable(_)) => 1,
                            Err(_) => 0,
                        })
                        .sum();
                    // Documents not due after all, or gone: their signatures go back to the day's count.
                    let unused = granted.saturating_sub(outcomes_signed);
                    if unused > 0 {
                        self.records
                            .give_back_signs(budget_day, SignCounter::Refresh, unused as u64)
                            .await?;
                    }
                    for outcome in outcomes {
                        match outcome {
                            Ok((outcome, signs)) => {
                                report.signs += signs;
                                if matches!(outcome, RefreshOutcome::Refreshed(_)) {
                                    report.refreshed += 1;
                                }
                            }
                            // A signer that fails or may not sign: stop; every document stays.
                            Err(ServiceError::Unavailable(why)) => {
                                report.signs += 1;
                                report.signer_unavailable.get_or_insert(why);
                            }
                            Err(ServiceError::Conflict) => {}
                            Err(e) => return Err(e),
                        }
                    }
                    if report.signer_unavailable.is_some() || report.budget_reached {
                        break 'buckets;
                    }
                    match page.next {
                        Some(next) => after = Some(next),
                        None => break,
                    }
                }
            }
            if *day == today {
                report.complete = true;
            }
        }
        report.complete &= !report.budget_reached && report.signer_unavailable.is_none();
        match &report.signer_unavailable {
            Some(why) => tracing::error!(
                refreshed = report.refreshed,
                error = %why,
                "refresh run stopped: no document could be signed; documents left as they were"
            ),
            None => tracing::info!(
                refreshed = report.refreshed,
                signs = report.signs,
                items_read = report.items_read,
                budget_reached = report.budget_reached,
                complete = report.complete,
                "refresh run finished"
            ),
        }
        Ok(report)
    }

    /// Takes up to `wanted` signatures from the day's refresh count, which may reach `part`: all of them, or,
    /// when an overlapping run took some meanwhile, what is left. How many were taken.
    async fn take_refresh_signs(&self, day: NaiveDate, wanted: usize, part: u64) -> Result<usize, ServiceError> {
        if wanted == 0 {
            return Ok(0);
        }
        let mut want = wanted as u64;
        for _ in 0..ATTEMPTS {
            if self.records.take_signs(day, SignCounter::Refresh, want, part).await? {
                return Ok(usize::try_from(want).unwrap_or(0));
            }
            let left = part.saturating_sub(self.records.signs_taken(day, SignCounter::Refresh).await?);
            if left == 0 {
                return Ok(0);
            }
            want = want.min(left);
        }
        Ok(0)
    }
}
