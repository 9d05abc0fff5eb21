//! The outbox sweep: every five minutes, approvals that the event has not turned into a licence within
//! `SWEEP_AFTER_MINUTES` are re-driven, and notices still pending after as long are delivered again, both read
//! from the outbox index (never a scan of the table).

use super::{ServiceError, Services};
use crate::applications::application::ApplicationState;
use crate::issuance::outbox::{self, ISSUE_SHARDS, SWEEP_PAGE};
use crate::kernel::notice::NOTICE_SHARDS;
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Serialize;

/// Approvals re-driven at once: each is its own application and its own conditional write.
const CONCURRENCY: usize = 8;

/// What one sweep did. Re-driving is idempotent: issuance is conditional on the application still being
/// approved, so a sweep racing a late event (or another sweep) makes at most one licence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    pub at: DateTime<Utc>,
    /// Approvals before this instant were due for re-driving.
    pub approved_before: DateTime<Utc>,
    /// Entries read from the outbox index.
    pub read: usize,
    /// Handed to the issuer again (an event to the issue function).
    pub redriven: usize,
    /// Issued by the sweep itself (where it runs with the signer and no issuer).
    pub issued: usize,
    /// Found issued already (the index lags the table for a moment): nothing done.
    pub already_done: usize,
    /// Re-driving failed; they stay in the outbox for the next sweep.
    pub failed: usize,
    /// Pending notices read from the notice outbox (recorded before `approved_before`).
    pub notices_read: usize,
    /// Delivered by the sweep (under their first id: a consumer that had them already drops the repeat).
    pub notices_delivered: usize,
    /// Delivery failed again; they stay pending for the next sweep.
    pub notices_failed: usize,
    /// False when a shard had more than a page waiting: the next sweep continues.
    pub complete: bool,
}

impl SweepReport {
    /// Re-drives and re-deliveries that failed: what the `SweepFailures` metric counts and its alarm watches.
    pub fn failures(&self) -> usize {
        self.failed + self.notices_failed
    }
}

enum Redrive {
    Redriven,
    Issued,
    AlreadyDone,
    Failed,
}

impl Services {
    /// Re-drives every approval older than `SWEEP_AFTER_MINUTES`: through the issuer when one is
    /// configured (the same path as the approval's own event, with its retries and on-failure queue),
    /// otherwise by issuing here. Fails only when the outbox cannot be read.
    pub async fn sweep_approvals(&self) -> Result<SweepReport, ServiceError> {
        if self.issuer.is_none() && self.signer.is_none() {
            return Err(ServiceError::Unavailable(
                "the sweep needs an issuer (EVENT_BUS_NAME) or a signer to re-drive approvals".into(),
            ));
        }
        let at = self.now();
        let approved_before = outbox::approved_before(at);
        let mut report = SweepReport {
            at,
            approved_before,
            read: 0,
            redriven: 0,
            issued: 0,
            already_done: 0,
            failed: 0,
            notices_read: 0,
            notices_delivered: 0,
            notices_failed: 0,
            complete: true,
        };
        for shard in 0..ISSUE_SHARDS {
            let ids = self
                .records
                .awaiting_issuance(shard, approved_before, SWEEP_PAGE)
                .await?;
            report.read += ids.len();
            report.complete &= ids.len() < SWEEP_PAGE;
            // Owned ids, so that the sweep's future is Send wherever it is spawned.
            let outcomes: Vec<Redrive> =
                futures::stream::iter(ids.into_iter().map(|id| async move { self.redrive(&id).await }))
                    .buffer_unordered(CONCURRENCY)
                    .collect()
                    .await;
            for outcome in outcomes {
                match outcome {
                    Redrive::Redriven => report.redriven += 1,
                    Redrive::Issued => report.issued += 1,
                    Redrive::AlreadyDone => report.already_done += 1,
                    Redrive::Failed => report.failed += 1,
                }
            }
        }
        if report.read > 0 {
            tracing::warn!(
                read = report.read,
                redriven = report.redriven,
                issued = report.issued,
                failed = report.failed,
                "approvals re-driven by the sweep"
            );
        }
        self.sweep_notices(&mut report).await?;
        Ok(report)
    }

    /// Delivers again the notices still pending since before the sweep's bound; each delivered one leaves the
    /// outbox. Without a notifier (no event bus) they wait for a sweep that has one.
    async fn sweep_notices(&self, report: &mut SweepReport) -> Result<(), ServiceError> {
        if self.notifier.is_none() {
            return Ok(());
        }
        for shard in 0..NOTICE_SHARDS {
            let pending = self
                .records
                .pending_notices(shard, report.approved_before, SWEEP_PAGE)
                .await?;
            report.notices_read += pending.len();
            report.complete &= pending.len() < SWEEP_PAGE;
            let outcomes: Vec<bool> = futures::stream::iter(
                pending
                    .into_iter()
                    .map(|notice| async move { self.deliver(std::slice::from_ref(&notice)).await }),
            )
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
            for delivered in outcomes {
                if delivered {
                    report.notices_delivered += 1;
                } else {
                    report.notices_failed += 1;
                }
            }
        }
        if report.notices_read > 0 {
            tracing::warn!(
                read = report.notices_read,
                delivered = report.notices_delivered,
                failed = report.notices_failed,
                "notices delivered again by the sweep"
            );
        }
        Ok(())
    }

    async fn redrive(&self, id: &str) -> Redrive {
        // The index is read eventually consistent: the application itself says whether a licence is still owed.
        let application = match self.records.application(id).await {
            Ok(Some(a)) if a.state == ApplicationState::Approved => a,
            Ok(_) => return Redrive::AlreadyDone,
            Err(e) => {
                tracing::warn!(application = %id, error = %e, "sweep: the application could not be read");
                return Redrive::Failed;
            }
        };
        if let Some(issuer) = &self.issuer {
            return match issuer.request_issuance(&application).await {
                Ok(()) => Redrive::Redriven,
                Err(e) => {
                    tracing::warn!(application = %id, error = %e, "sweep: issuance request failed");
                    Redrive::Failed
                }
            };
        }
        match self.issue(id).await {
            Ok(super::issuance::IssueOutcome::Issued { .. }) => Redrive::Issued,
            Ok(super::issuance::IssueOutcome::AlreadyIssued { .. }) => Redrive::AlreadyDone,
            Err(e) => {
                tracing::warn!(application = %id, error = %e, "sweep: issuance failed");
                Redrive::Failed
            }
        }
    }
}
