//! The staff review queue (R4, R15): list oldest first, open one with its photo, decide.

use super::applications::hand_to_issuer;
use super::views::ApplicationView;
use super::{authorise, photos::photo_store_error, InputError, Reviewing, ServiceError};
use crate::applications::application::{
    Application, ApplicationState, Channel, HistoryEntry, KeptPortrait, PhotoSource, PhotoSubmission,
};
use crate::applications::photo::CheckResult;
use crate::applications::portrait;
use crate::applications::ports::PhotoStoreError;
use crate::applications::review::{self, RejectionReason, ReviewDecision, Verdict};
use crate::kernel::access::Action;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::queue::ReviewQueue;
use crate::register::licence::Sex;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// How long a reviewer's photo link works.
pub const VIEW_LINK_MINUTES: i64 = 5;

pub use crate::kernel::queue::{QueueRequest, ReviewPage, DEFAULT_PAGE, MAX_PAGE};

/// `POST /reviews/{id}/decision`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DecisionRequest {
    pub verdict: Verdict,
    #[serde(default)]
    pub reasons: Vec<RejectionReason>,
    #[serde(default)]
    pub note: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueItem {
    /// The review's id is its application's id.
    pub id: String,
    pub state: ApplicationState,
    pub channel: Channel,
    pub source: PhotoSource,
    pub submitted_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub overdue: bool,
    /// The holder submitted before and was refused.
    pub resubmission: bool,
    /// A first reviewer reported the upload malicious: a second, different reviewer confirms or overrules it.
    pub awaiting_confirmation: bool,
    pub checks: Vec<CheckResult>,
}

/// What a reviewer needs to compare the photo with the person on record.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HolderSummary {
    pub name: String,
    pub sex: Sex,
    pub birth_date: NaiveDate,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewItem {
    #[serde(flatten)]
    pub item: QueueItem,
    pub photo_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_photo_url: Option<String>,
    pub links_expire_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder: Option<HolderSummary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_review: Option<ReviewDecision>,
    /// The first reviewer's malicious verdict awaiting confirmation, with its note.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub malicious_report: Option<ReviewDecision>,
    pub history: Vec<HistoryEntry>,
    pub version: u64,
}

fn queue_item(application: &Application, now: DateTime<Utc>) -> Option<QueueItem> {
    let photo = application.photo.as_ref()?;
    Some(QueueItem {
        id: application.id.clone(),
        state: application.state,
        channel: application.channel,
        source: photo.source,
        submitted_at: photo.submitted_at,
        due_at: photo.due_at,
        overdue: application.state == ApplicationState::AwaitingReview && photo.due_at <= now,
        resubmission: application.photo_submissions > 1,
        awaiting_confirmation: application.state == ApplicationState::AwaitingReview
            && application.malicious_report.is_some(),
        checks: photo.checks.clone(),
    })
}

impl Reviewing {
    /// R15: the approved photo is exactly the clean copy the automatic checks made (its bytes' SHA-256), made
    /// into the licence's portrait once, here; issuance signs the portrait bound by its own digest.
    async fn keep_portrait(
        &self,
        licence_number: &str,
        application_id: &str,
        photo: &PhotoSubmission,
    ) -> Result<KeptPortrait, ServiceError> {
        let store = &self.photos;
        let changed = || {
            ServiceError::PhotoChanged(
                "The photo in storage is not the one the automatic checks passed (it was replaced after the \
                 checks); it cannot be approved. Reject it, or stop it as malicious."
                    .into(),
            )
        };
        let bytes = match store.read(&photo.key, portrait::MAX_CLEAN_BYTES).await {
            Ok(bytes) => bytes,
            Err(PhotoStoreError::NotFound(_) | PhotoStoreError::TooLarge { .. }) => return Err(changed()),
            Err(e) => return Err(photo_store_error(e)),
        };
        if portrait::sha256_hex(&bytes) != photo.sha256 {
            tracing::warn!(application = %application_id, "approval refused: the photo changed after its checks");
            return Err(changed());
        }
        let normalised = portrait::normalise(&bytes, &self.photo_rules).map_err(|e| {
            ServiceError::Unavailable(format!("the checked photo could not be made into a portrait: {e}"))
        })?;
        let key = format!("portraits/{licence_number}/{application_id}-{}.jpg", photo.upload_id);
        store
            .put_portrait(&key, &normalised.jpeg)
            .await
            .map_err(photo_store_error)?;
        Ok(KeptPortrait {
            key,
            sha256: normalised.sha256,
        })
    }

    pub async fn review_queue(
        &self,
        caller: &Caller,
        request: QueueRequest,
    ) -> Result<ReviewPage<QueueItem>, ServiceError> {
        // The administrator watches the backlog against its deadline (R4); only reviewers open and decide.
        authorise(caller, Action::ReviewQueue)?;
        let now = self.now();
        let page = ReviewQueue::<Application>::waiting(&*self.records, &request.query(now)?).await?;
        Ok(ReviewPage {
            at: now,
            items: page.items.iter().filter_map(|a| queue_item(a, now)).collect(),
            next: page.next,
        })
    }

    pub async fn review_item(&self, caller: &Caller, id: &str) -> Result<ReviewItem, ServiceError> {
        authorise(caller, Action::OpenReview)?;
        let not_found = || ServiceError::NotFound {
            what: "review",
            id: id.into(),
        };
        let application = self.records.application(id).await?.ok_or_else(not_found)?;
        let now = self.now();
        let item = queue_item(&application, now).ok_or_else(not_found)?;
        let store = &self.photos;
        let expires = now + Duration::minutes(VIEW_LINK_MINUTES);
        let photo_key = application.photo.as_ref().map(|p| p.key.clone()).unwrap_or_default();
        let photo_url = store.view_link(&photo_key, expires).await.map_err(photo_store_error)?;
        let previous_photo_url = match &application.previous_photo {
            Some(previous) => Some(
                store
                    .view_link(&previous.key, expires)
                    .await
                    .map_err(photo_store_error)?,
            ),
            None => None,
        };
        let holder = self
            .records
            .licence(&application.licence_number)
            .await?
            .map(|l| HolderSummary {
                name: l.name,
                sex: l.sex,
                birth_date: l.birth_date,
            });
        Ok(ReviewItem {
            item,
            photo_url,
            previous_photo_url,
            links_expire_at: expires,
            holder,
            last_review: application.last_review.clone(),
            malicious_report: application.malicious_report.as_deref().cloned(),
            history: application.history.clone(),
            version: application.version,
        })
    }

    /// Approve, reject with reasons, or report a malicious upload. Of two
    /// reviewers deciding at once, one decision stands and the other gets 409.
    /// R15: no reviewer decides an application they hold or opened, and a malicious verdict stops the
    /// holder's licence only when a second, different reviewer confirms it.
    pub async fn decide_review(
        &self,
        caller: &Caller,
        id: &str,
        request: DecisionRequest,
    ) -> Result<ApplicationView, ServiceError> {
        authorise(caller, Action::DecideReview)?;
        review::validate(request.verdict, &request.reasons, &request.note).map_err(|e| ServiceError::Invalid {
            detail: e.to_string(),
            errors: vec![InputError {
                line: None,
                field: "reasons".into(),
                message: e.to_string(),
            }],
        })?;
        let mut application = self
            .records
            .application(id)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "review",
                id: id.into(),
            })?;
        let photo = application.photo.clone().ok_or_else(|| ServiceError::NotFound {
            what: "review",
            id: id.into(),
        })?;
        if application.concerns(&caller.id) {
            tracing::warn!(application = %id, "review of a reviewer's own application refused");
            return Err(ServiceError::OwnApplication { id: id.into() });
        }
        if application.state != ApplicationState::AwaitingReview {
            return Err(crate::applications::application::IllegalTransition {
                action: "decide the review of",
                from: application.state,
            }
            .into());
        }
        if application.reported_by(&caller.id) {
            return Err(ServiceError::SecondReviewerRequired { id: id.into() });
        }
        let confirms_report = application.malicious_report.is_some();
        let mut reasons = request.reasons.clone();
        reasons.dedup();
        let decision_reasons = reasons.clone();
        let decision = ReviewDecision {
            verdict: request.verdict,
            reasons,
            note: request.note.trim().to_string(),
            by: caller.actor(Role::Reviewer),
            at: self.now(),
            upload_id: photo.upload_id.clone(),
        };
        // The portrait is made and stored before the approval is recorded, so that an approved application
        // always has its portrait; one left behind by a lost race is overwritten by the next approval of the
        // same upload.
        let portrait = if request.verdict == Verdict::Approve {
            Some(
                self.keep_portrait(&application.licence_number, &application.id, &photo)
                    .await?,
            )
        } else {
            None
        };
        application.decide_review(decision, portrait)?;
        // A rejection owes the holder its reasons: the notice is recorded with the decision.
        let notices: Vec<crate::kernel::notice::PendingNotice> = (request.verdict == Verdict::Reject)
            .then(|| {
                self.notice(crate::kernel::notice::Notice::PhotoRejected {
                    holder_id: application.holder_id.clone(),
                    application_id: application.id.clone(),
                    reasons: decision_reasons,
                })
            })
            .into_iter()
            .collect();
        let application = self.store_transition_noting(application, &notices).await?;
        tracing::info!(application = %id, verdict = ?request.verdict, by = %caller.id, "review decided");
        match request.verdict {
            Verdict::Approve => hand_to_issuer(&*self.issuer, &application).await,
            Verdict::Reject => {
                self.notices.deliver(&*self.records, &notices).await;
            }
            // The first report waits for its second reviewer; nothing is stopped yet.
            Verdict::Malicious if !confirms_report => {}
            Verdict::Malicious => {
                self.stop_electronic_licence(
                    &application.holder_id,
                    &format!(
                        "malicious upload in application {}: {}",
                        application.id,
                        request.note.trim()
                    ),
                    caller.actor(Role::Reviewer),
                )
                .await?
            }
        }
        Ok(ApplicationView::for_caller(&application, caller))
    }
}
