//! The application for an electronic licence and its state machine (R3, R4, R12).
//!
//! Longer than 600 lines on purpose: every transition of the state machine, with the guard it checks and the
//! history entry it writes, sits beside the others, so that no state can be reached by a path not read here.

use super::photo::{CheckResult, ImageType};
use super::review::{ReviewDecision, Verdict};
use crate::kernel::caller::Actor;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Where the applicant's photo comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhotoSource {
    /// The compliant photo the register already holds (R3).
    OnFile,
    /// A new photo taken with the phone camera (R4).
    Camera,
    /// An ID photo picked from the phone's album (R4).
    Album,
}

/// How the application reached the authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    App,
    /// Opened by a clerk at the vehicle management office (R12).
    Counter,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplicationState {
    /// Photo on file: waiting for the real-person check (R3).
    AwaitingLiveness,
    /// New photo: waiting for the upload (R4).
    AwaitingPhoto,
    /// A photo is in the staff review queue (R4).
    AwaitingReview,
    /// The photo was refused; the applicant may submit another (R4).
    Rejected,
    /// Ready for issuance; the signed licence is made by the issuer.
    Approved,
    /// The electronic licence was issued; the application is over.
    Issued,
    Withdrawn,
    /// Abandoned, ended by the scheduled job.
    Expired,
    /// Ended because an upload was malicious (R15).
    Stopped,
}

impl ApplicationState {
    /// Whether the application still holds the holder's one open-application slot.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Self::AwaitingLiveness | Self::AwaitingPhoto | Self::AwaitingReview | Self::Rejected | Self::Approved
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AwaitingLiveness => "awaiting_liveness",
            Self::AwaitingPhoto => "awaiting_photo",
            Self::AwaitingReview => "awaiting_review",
            Self::Rejected => "rejected",
            Self::Approved => "approved",
            Self::Issued => "issued",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
            Self::Stopped => "stopped",
        }
    }
}

impl fmt::Display for ApplicationState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One recorded step: who, when, what, and from which state to which.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    pub at: DateTime<Utc>,
    pub action: String,
    pub by: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<ApplicationState>,
    pub to: ApplicationState,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// An upload the holder was given a presigned form for, awaiting its object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingUpload {
    pub upload_id: String,
    /// `photos/<application>/<upload>`
    pub key: String,
    pub content_type: ImageType,
    /// Camera or album, as the holder said.
    pub source: PhotoSource,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A photo that passed the automatic checks and waits for (or had) staff review.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoSubmission {
    pub upload_id: String,
    /// The clean copy the checks made (`checked/<application>/<sha256>.jpg`): what reviewers open and the
    /// portrait is made of. (Submissions recorded before clean copies name the upload itself.)
    pub key: String,
    /// The type the holder uploaded.
    pub content_type: ImageType,
    pub source: PhotoSource,
    pub submitted_at: DateTime<Utc>,
    /// One working day after arrival (R4).
    pub due_at: DateTime<Utc>,
    /// The SHA-256 of the bytes at `key`.
    pub sha256: String,
    pub width: u32,
    pub height: u32,
    pub checks: Vec<CheckResult>,
    /// The SHA-256 of the file the holder uploaded, for the record: the upload itself is never read again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_sha256: Option<String>,
}

/// An upload the automatic checks refused, with every failed check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoRefusal {
    pub upload_id: String,
    pub at: DateTime<Utc>,
    pub failures: Vec<CheckResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Application {
    pub id: String,
    pub licence_number: String,
    pub holder_id: String,
    pub city_code: String,
    pub channel: Channel,
    pub photo_source: PhotoSource,
    pub state: ApplicationState,
    pub opened_by: Actor,
    /// The office of a counter application (R12).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(default)]
    pub photo_submissions: u32,
    #[serde(default)]
    pub failed_liveness_checks: u32,
    /// The Face Liveness session the backend created for this application (R3): the only one whose result
    /// confirms it. Cleared when its result is recorded, so a session counts once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_session: Option<String>,
    #[serde(default)]
    pub upload_requests: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_upload: Option<PendingUpload>,
    /// The photo under review, or the last one reviewed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo: Option<PhotoSubmission>,
    /// The photo this one replaced (a rejected earlier submission).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_photo: Option<PhotoSubmission>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_review: Option<ReviewDecision>,
    /// A first reviewer's `malicious` verdict on the photo under review, waiting for a second, different
    /// reviewer (R15, four eyes): one person alone never stops a holder's licence. Boxed: rarely present, and
    /// the application travels by value through every handler's future.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub malicious_report: Option<Box<ReviewDecision>>,
    /// Why the automatic checks refused the last upload, for the app to show.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_refusal: Option<PhotoRefusal>,
    /// Where the approved photo is kept as the licence's portrait (normalised, see
    /// `applications::portrait`), or the register's photo on file for an on-file application.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portrait_key: Option<String>,
    /// The SHA-256 of the portrait's bytes at approval: issuance signs only these bytes (R15).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portrait_sha256: Option<String>,
    /// The holder's device key (P-256, SEC1, base64url) for the mdoc's MSO,
    /// when the app supplied one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_key: Option<String>,
    /// When the scheduled job reported the photo under review as past its
    /// due time, so that it is reported once per submission.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overdue_flagged_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub history: Vec<HistoryEntry>,
    /// Optimistic-locking version; every stored change increments it.
    pub version: u64,
}

/// An action the state machine does not allow from the current state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Cannot {action} an application that is {from}.")]
pub struct IllegalTransition {
    pub action: &'static str,
    pub from: ApplicationState,
}

/// How many failed real-person checks one application tolerates before the
/// holder must withdraw and start again (slows down face-spoofing attempts).
pub const MAX_FAILED_LIVENESS_CHECKS: u32 = 5;

/// How many photos one application may submit (R4 allows resubmission, R15
/// keeps an abuser from filling the review queue).
pub const MAX_PHOTO_SUBMISSIONS: u32 = 10;

/// How many upload forms one application may ask for (each is a presigned
/// grant to write one object; bounded so the record stays small).
pub const MAX_UPLOAD_REQUESTS: u32 = 30;

/// How many days after its last change an application the applicant left
/// (waiting for their liveness check or photo, or rejected) is expired and
/// the holder's slot released.
pub const ABANDONED_AFTER_DAYS: i64 = 30;

/// The facts needed to open an application, checked by the caller beforehand
/// (eligibility, rollout, ownership).
#[derive(Debug, Clone)]
pub struct Opening {
    pub id: String,
    pub licence_number: String,
    pub holder_id: String,
    pub city_code: String,
    pub channel: Channel,
    pub photo_source: PhotoSource,
    pub opened_by: Actor,
    pub office: Option<String>,
    pub at: DateTime<Utc>,
    pub device_key: Option<String>,
    /// The register's photo on file, for an on-file application: bound when the application opens.
    pub portrait: Option<KeptPortrait>,
}

/// A portrait kept in the photo store, and the SHA-256 of its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeptPortrait {
    pub key: String,
    pub sha256: String,
}

impl Application {
    /// A new application. Photo on file waits for the liveness check in the
    /// app; at the counter the clerk has seen the person, so a photo on file is
    /// approved at once (R12); a new photo waits for its upload.
    pub fn open(opening: Opening) -> Application {
        let state = match (opening.photo_source, opening.channel) {
            (PhotoSource::OnFile, Channel::App) => ApplicationState::AwaitingLiveness,
            (PhotoSource::OnFile, Channel::Counter) => ApplicationState::Approved,
            (PhotoSource::Camera | PhotoSource::Album, _) => ApplicationState::AwaitingPhoto,
        };
        let detail = match opening.channel {
            Channel::App => None,
            Channel::Counter => Some(format!(
                "counter application at office {}",
                opening.office.as_deref().unwrap_or("?")
            )),
        };
        // A counter approval is two steps on the record: opened, then
        // approved by the clerk who checked the person.
        let opened_to = match state {
            ApplicationState::Approved => ApplicationState::AwaitingLiveness,
            other => other,
        };
        let mut history = vec![HistoryEntry {
            at: opening.at,
            action: "opened".into(),
            by: opening.opened_by.clone(),
            from: None,
            to: opened_to,
            detail,
        }];
        if state == ApplicationState::Approved {
            history.push(HistoryEntry {
                at: opening.at,
                action: "approved".into(),
                by: opening.opened_by.clone(),
                from: Some(opened_to),
                to: ApplicationState::Approved,
                detail: Some("identity and photo on file confirmed in person at the counter".into()),
            });
        }
        Application {
            id: opening.id,
            licence_number: opening.licence_number,
            holder_id: opening.holder_id,
            city_code: opening.city_code,
            channel: opening.channel,
            photo_source: opening.photo_source,
            state,
            opened_by: opening.opened_by,
            office: opening.office,
            created_at: opening.at,
            updated_at: opening.at,
            photo_submissions: 0,
            failed_liveness_checks: 0,
            liveness_session: None,
            upload_requests: 0,
            pending_upload: None,
            photo: None,
            previous_photo: None,
            last_review: None,
            malicious_report: None,
            last_refusal: None,
            portrait_key: opening.portrait.as_ref().map(|p| p.key.clone()),
            portrait_sha256: opening.portrait.map(|p| p.sha256),
            device_key: opening.device_key,
            overdue_flagged_at: None,
            history,
            version: 1,
        }
    }

    fn step(&mut self, action: &str, by: &Actor, at: DateTime<Utc>, to: ApplicationState, detail: Option<String>) {
        self.history.push(HistoryEntry {
            at,
            action: action.into(),
            by: by.clone(),
            from: Some(self.state),
            to,
            detail,
        });
        self.state = to;
        self.updated_at = at;
    }

    fn require(&self, action: &'static str, allowed: &[ApplicationState]) -> Result<(), IllegalTransition> {
        if allowed.contains(&self.state) {
            Ok(())
        } else {
            Err(IllegalTransition {
                action,
                from: self.state,
            })
        }
    }

    /// A real-person check starts (R3): the session the backend created is recorded, replacing an unused
    /// earlier one, and only its result may confirm the photo on file.
    pub fn start_liveness_session(
        &mut self,
        session_id: String,
        by: &Actor,
        at: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        self.may_start_liveness()?;
        self.liveness_session = Some(session_id);
        self.step(
            "liveness_session_created",
            by,
            at,
            ApplicationState::AwaitingLiveness,
            None,
        );
        Ok(())
    }

    /// Whether a real-person check may start now: asked before a session is created (and paid for).
    pub fn may_start_liveness(&self) -> Result<(), IllegalTransition> {
        self.require("start a real-person check of", &[ApplicationState::AwaitingLiveness])?;
        self.require_attempts_left()
    }

    fn require_attempts_left(&self) -> Result<(), IllegalTransition> {
        if self.failed_liveness_checks >= MAX_FAILED_LIVENESS_CHECKS {
            return Err(IllegalTransition {
                action: "retry the real-person check of (too many failed checks; withdraw and apply again)",
                from: self.state,
            });
        }
        Ok(())
    }

    /// A live person passed the check but their face is not the one on file (R3): a failed attempt, recorded
    /// as such, and the session is spent.
    pub fn record_face_mismatch(
        &mut self,
        by: &Actor,
        at: DateTime<Utc>,
        detail: String,
    ) -> Result<(), IllegalTransition> {
        self.require("confirm the photo on file of", &[ApplicationState::AwaitingLiveness])?;
        self.require_attempts_left()?;
        self.failed_liveness_checks += 1;
        self.liveness_session = None;
        self.step(
            "face_mismatch",
            by,
            at,
            ApplicationState::AwaitingLiveness,
            Some(detail),
        );
        Ok(())
    }

    /// The outcome of a real-person check on a photo-on-file application (R3).
    /// A pass approves at once; a failure is recorded and the application
    /// stays open for another attempt.
    pub fn record_liveness(
        &mut self,
        passed: bool,
        by: &Actor,
        at: DateTime<Utc>,
        detail: String,
    ) -> Result<(), IllegalTransition> {
        self.require("confirm the photo on file of", &[ApplicationState::AwaitingLiveness])?;
        // A session's result counts once, pass or fail.
        self.liveness_session = None;
        if passed {
            self.step("liveness_passed", by, at, ApplicationState::Approved, Some(detail));
        } else {
            self.require_attempts_left()?;
            self.failed_liveness_checks += 1;
            self.step(
                "liveness_failed",
                by,
                at,
                ApplicationState::AwaitingLiveness,
                Some(detail),
            );
        }
        Ok(())
    }

    /// The holder asks for an upload form for a new photo (R4). A newer
    /// form replaces an older one: only the latest upload is accepted.
    pub fn request_upload(&mut self, upload: PendingUpload, by: &Actor) -> Result<(), IllegalTransition> {
        self.require(
            "upload a photo for",
            &[ApplicationState::AwaitingPhoto, ApplicationState::Rejected],
        )?;
        if self.upload_requests >= MAX_UPLOAD_REQUESTS || self.photo_submissions >= MAX_PHOTO_SUBMISSIONS {
            return Err(IllegalTransition {
                action: "upload another photo (the limit of uploads is reached) for",
                from: self.state,
            });
        }
        self.upload_requests += 1;
        let at = upload.requested_at;
        let detail = format!(
            "{} {} from {:?}",
            upload.upload_id,
            upload.content_type.mime(),
            upload.source
        );
        self.pending_upload = Some(upload);
        self.step("upload_requested", by, at, self.state, Some(detail.to_lowercase()));
        Ok(())
    }

    /// Whether `upload_id` is the upload this application waits for.
    pub fn awaits_upload(&self, upload_id: &str) -> bool {
        matches!(self.state, ApplicationState::AwaitingPhoto | ApplicationState::Rejected)
            && self.pending_upload.as_ref().is_some_and(|u| u.upload_id == upload_id)
    }

    /// The automatic checks refused the uploaded photo (R5): the reasons are
    /// recorded and the application stays open for a new upload.
    pub fn refuse_photo(
        &mut self,
        upload_id: &str,
        failures: Vec<CheckResult>,
        by: &Actor,
        at: DateTime<Utc>,
    ) -> Result<(), IllegalTransition> {
        if !self.awaits_upload(upload_id) {
            return Err(IllegalTransition {
                action: "check an upload it is not waiting for on",
                from: self.state,
            });
        }
        self.pending_upload = None;
        let codes: Vec<&str> = failures.iter().map(|f| f.code.as_str()).collect();
        let detail = format!("{upload_id}: {}", codes.join(", "));
        self.last_refusal = Some(PhotoRefusal {
            upload_id: upload_id.to_string(),
            at,
            failures,
        });
        self.step("photo_refused", by, at, self.state, Some(detail));
        Ok(())
    }

    /// A photo passed the automatic checks and enters the review queue
    /// (first upload, or resubmission after a rejection).
    pub fn submit_photo(&mut self, submission: PhotoSubmission, by: &Actor) -> Result<(), IllegalTransition> {
        if !self.awaits_upload(&submission.upload_id) {
            return Err(IllegalTransition {
                action: "submit an upload it is not waiting for to",
                from: self.state,
            });
        }
        if self.photo_submissions >= MAX_PHOTO_SUBMISSIONS {
            return Err(IllegalTransition {
                action: "submit another photo (the limit of submissions is reached) for",
                from: self.state,
            });
        }
        self.photo_submissions += 1;
        let action = if self.state == ApplicationState::Rejected {
            "photo_resubmitted"
        } else {
            "photo_submitted"
        };
        let at = submission.submitted_at;
        let detail = format!("{} due {}", submission.upload_id, submission.due_at.to_rfc3339());
        self.pending_upload = None;
        self.last_refusal = None;
        // A new submission is a new review with its own due time.
        self.overdue_flagged_at = None;
        self.previous_photo = self.photo.take();
        self.photo = Some(submission);
        self.step(action, by, at, ApplicationState::AwaitingReview, Some(detail));
        Ok(())
    }

    /// A reviewer's decision on the photo in the queue: approve, reject with
    /// reasons (the applicant may submit again), or report a malicious upload (R15).
    /// A first `malicious` verdict only records the report: the application stays in the queue until a
    /// second, different reviewer decides. Their `malicious` confirms it and stops the application; their
    /// approval or rejection resolves it as that decision (the report stays in the history).
    /// An approval names where the photo is kept as the portrait, and its digest.
    pub fn decide_review(
        &mut self,
        decision: ReviewDecision,
        portrait: Option<KeptPortrait>,
    ) -> Result<(), IllegalTransition> {
        self.require("decide the review of", &[ApplicationState::AwaitingReview])?;
        if self.reported_by(&decision.by.id) {
            return Err(IllegalTransition {
                action: "decide again, as the reviewer who reported it malicious (a second reviewer decides),",
                from: self.state,
            });
        }
        let reported = self.malicious_report.is_some();
        if decision.verdict == Verdict::Approve {
            self.portrait_key = portrait.as_ref().map(|p| p.key.clone());
            self.portrait_sha256 = portrait.map(|p| p.sha256);
        }
        let (action, to) = match (decision.verdict, reported) {
            (Verdict::Approve, _) => ("approved", ApplicationState::Approved),
            (Verdict::Reject, _) => ("rejected", ApplicationState::Rejected),
            (Verdict::Malicious, false) => ("malicious_reported", ApplicationState::AwaitingReview),
            (Verdict::Malicious, true) => ("stopped_malicious", ApplicationState::Stopped),
        };
        let mut detail: Vec<String> = Vec::new();
        if reported && decision.verdict != Verdict::Malicious {
            detail.push("malicious report not confirmed".into());
        }
        detail.extend(decision.reasons.iter().filter_map(|r| {
            serde_json::to_value(r)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
        }));
        if !decision.note.trim().is_empty() {
            detail.push(decision.note.trim().to_string());
        }
        let (by, at) = (decision.by.clone(), decision.at);
        match (decision.verdict, reported) {
            // The report is not yet a decision: the holder's last decision stays what it was.
            (Verdict::Malicious, false) => self.malicious_report = Some(Box::new(decision)),
            // Confirmed: the report stays beside the confirmation.
            (Verdict::Malicious, true) => self.last_review = Some(decision),
            _ => {
                self.malicious_report = None;
                self.last_review = Some(decision);
            }
        }
        self.step(action, &by, at, to, (!detail.is_empty()).then(|| detail.join("; ")));
        Ok(())
    }

    /// Whether `subject` reported the photo under review as malicious (and so may not be its second reviewer).
    pub fn reported_by(&self, subject: &str) -> bool {
        self.malicious_report.as_ref().is_some_and(|r| r.by.id == subject)
    }

    /// Whether `subject` is the holder of this application or opened it (as a clerk): they never review it.
    pub fn concerns(&self, subject: &str) -> bool {
        self.holder_id == subject || self.opened_by.id == subject
    }

    /// The holder withdraws. An approved application is already on its way to
    /// issuance and can no longer be withdrawn.
    pub fn withdraw(&mut self, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalTransition> {
        // A reported upload waits for its second reviewer: withdrawing must not escape the verdict (R15).
        if self.malicious_report.is_some() {
            return Err(IllegalTransition {
                action: "withdraw (a malicious report on its photo awaits a second reviewer)",
                from: self.state,
            });
        }
        self.require(
            "withdraw",
            &[
                ApplicationState::AwaitingLiveness,
                ApplicationState::AwaitingPhoto,
                ApplicationState::AwaitingReview,
                ApplicationState::Rejected,
            ],
        )?;
        self.step("withdrawn", by, at, ApplicationState::Withdrawn, None);
        Ok(())
    }

    /// The scheduled job ends an abandoned application. One waiting for staff
    /// is never expired: the delay is the authority's, not the applicant's.
    pub fn expire(&mut self, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalTransition> {
        self.require(
            "expire",
            &[
                ApplicationState::AwaitingLiveness,
                ApplicationState::AwaitingPhoto,
                ApplicationState::Rejected,
            ],
        )?;
        self.step("expired", by, at, ApplicationState::Expired, None);
        Ok(())
    }

    /// When the application counts as abandoned, if it is in a state the
    /// applicant must act on: thirty days after its last change.
    pub fn abandoned_at(&self) -> Option<DateTime<Utc>> {
        matches!(
            self.state,
            ApplicationState::AwaitingLiveness | ApplicationState::AwaitingPhoto | ApplicationState::Rejected
        )
        .then(|| self.updated_at + Duration::days(ABANDONED_AFTER_DAYS))
    }

    /// Records that the photo under review passed its due time unreviewed;
    /// false (and nothing changed) when it is not overdue or already reported.
    pub fn flag_overdue(&mut self, at: DateTime<Utc>) -> bool {
        let overdue = self.state == ApplicationState::AwaitingReview
            && self.overdue_flagged_at.is_none()
            && self.photo.as_ref().is_some_and(|p| p.due_at <= at);
        if overdue {
            self.overdue_flagged_at = Some(at);
        }
        overdue
    }

    /// The issuer made the electronic licence; the application is over.
    pub fn mark_issued(&mut self, by: &Actor, at: DateTime<Utc>, serial: &str) -> Result<(), IllegalTransition> {
        self.require("issue", &[ApplicationState::Approved])?;
        self.step(
            "issued",
            by,
            at,
            ApplicationState::Issued,
            Some(format!("licence {serial}")),
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::caller::Role;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    fn holder() -> Actor {
        Actor {
            id: "11010519900307451X".into(),
            role: Role::Holder,
        }
    }

    fn reviewer() -> Actor {
        Actor {
            id: "reviewer-1".into(),
            role: Role::Reviewer,
        }
    }

    fn upload(app: &mut Application, id: &str, t: DateTime<Utc>) -> PhotoSubmission {
        let pending = PendingUpload {
            upload_id: id.into(),
            key: format!("photos/{}/{id}", app.id),
            content_type: ImageType::Jpeg,
            source: PhotoSource::Camera,
            requested_at: t,
            expires_at: t,
        };
        app.request_upload(pending, &holder()).expect("upload form");
        PhotoSubmission {
            upload_id: id.into(),
            key: format!("checked/{}/{id}.jpg", app.id),
            content_type: ImageType::Jpeg,
            source: PhotoSource::Camera,
            submitted_at: t,
            due_at: t,
            sha256: "00".into(),
            width: 360,
            height: 480,
            checks: Vec::new(),
            upload_sha256: None,
        }
    }

    fn failed(code: &str) -> CheckResult {
        CheckResult {
            code: code.into(),
            passed: false,
            message: String::new(),
        }
    }

    fn decision(verdict: Verdict, t: DateTime<Utc>) -> ReviewDecision {
        ReviewDecision {
            verdict,
            reasons: if verdict == Verdict::Reject {
                vec![crate::applications::review::RejectionReason::BackgroundNotWhite]
            } else {
                Vec::new()
            },
            note: "checked".into(),
            by: reviewer(),
            at: t,
            upload_id: String::new(),
        }
    }

    fn opening(source: PhotoSource, channel: Channel) -> Opening {
        let opened_by = match channel {
            Channel::App => holder(),
            Channel::Counter => Actor {
                id: "clerk-110000-1".into(),
                role: Role::Clerk,
            },
        };
        Opening {
            id: "app-1".into(),
            licence_number: "11010519900307451X".into(),
            holder_id: "11010519900307451X".into(),
            city_code: "110000".into(),
            channel,
            photo_source: source,
            opened_by,
            office: (channel == Channel::Counter).then(|| "110000".into()),
            at: at("2026-11-25T09:00:00+08:00"),
            device_key: None,
            portrait: None,
        }
    }

    #[test]
    fn photo_on_file_and_passed_liveness_approves_at_once() {
        let mut app = Application::open(opening(PhotoSource::OnFile, Channel::App));
        assert_eq!(app.state, ApplicationState::AwaitingLiveness);
        app.record_liveness(false, &holder(), at("2026-11-25T09:01:00Z"), "score 12".into())
            .expect("failure recorded");
        assert_eq!(app.state, ApplicationState::AwaitingLiveness);
        assert_eq!(app.failed_liveness_checks, 1);
        app.record_liveness(true, &holder(), at("2026-11-25T09:02:00Z"), "score 99".into())
            .expect("pass");
        assert_eq!(app.state, ApplicationState::Approved);
        assert!(app.state.is_open(), "approved holds the slot until issuance");
        let actions: Vec<_> = app.history.iter().map(|h| h.action.as_str()).collect();
        assert_eq!(actions, ["opened", "liveness_failed", "liveness_passed"]);
    }

    #[test]
    fn new_photo_is_reviewed_and_may_be_resubmitted_after_rejection() {
        let mut app = Application::open(opening(PhotoSource::Camera, Channel::App));
        assert_eq!(app.state, ApplicationState::AwaitingPhoto);
        let t = at("2026-11-25T10:00:00Z");
        let first = upload(&mut app, "a", t);
        // An object for an upload the application is not waiting for is refused.
        let mut stray = first.clone();
        stray.upload_id = "zzz".into();
        assert!(app.submit_photo(stray, &holder()).is_err());
        app.submit_photo(first, &holder()).expect("submit");
        app.decide_review(decision(Verdict::Reject, t), None).expect("reject");
        assert_eq!(app.state, ApplicationState::Rejected);
        let second = upload(&mut app, "b", t);
        app.submit_photo(second, &holder()).expect("resubmit");
        assert_eq!(app.history.last().map(|h| h.action.as_str()), Some("photo_resubmitted"));
        assert_eq!(app.previous_photo.as_ref().map(|p| p.upload_id.as_str()), Some("a"));
        app.decide_review(
            decision(Verdict::Approve, t),
            Some(KeptPortrait {
                key: "portraits/x".into(),
                sha256: "00".into(),
            }),
        )
        .expect("approve");
        assert_eq!(app.state, ApplicationState::Approved);
        app.mark_issued(&reviewer(), t, "EDL-1").expect("issued");
        assert!(!app.state.is_open());
    }

    #[test]
    fn counter_application_with_photo_on_file_is_approved_by_the_clerk() {
        let app = Application::open(opening(PhotoSource::OnFile, Channel::Counter));
        assert_eq!(app.state, ApplicationState::Approved);
        assert_eq!(app.history.len(), 2);
        assert_eq!(app.history[1].by.role, Role::Clerk);
    }

    #[test]
    fn illegal_transitions_are_refused_and_change_nothing() {
        let mut app = Application::open(opening(PhotoSource::Camera, Channel::App));
        let before = app.clone();
        let t = at("2026-11-25T10:00:00Z");
        assert!(app.record_liveness(true, &holder(), t, String::new()).is_err());
        assert!(app
            .decide_review(
                decision(Verdict::Approve, t),
                Some(KeptPortrait {
                    key: "portraits/x".into(),
                    sha256: "00".into()
                })
            )
            .is_err());
        assert!(app.mark_issued(&reviewer(), t, "x").is_err());
        assert_eq!(app, before);
        app.withdraw(&holder(), t).expect("withdraw");
        let err = app.withdraw(&holder(), t).expect_err("twice");
        assert_eq!(err.from, ApplicationState::Withdrawn);
        assert!(app.expire(&holder(), t).is_err());
    }

    #[test]
    fn liveness_failures_are_bounded() {
        let mut app = Application::open(opening(PhotoSource::OnFile, Channel::App));
        let t = at("2026-11-25T10:00:00Z");
        for _ in 0..MAX_FAILED_LIVENESS_CHECKS {
            app.record_liveness(false, &holder(), t, String::new())
                .expect("recorded");
        }
        assert!(app.record_liveness(false, &holder(), t, String::new()).is_err());
        assert_eq!(app.state, ApplicationState::AwaitingLiveness);
    }

    #[test]
    fn approved_cannot_be_withdrawn_or_expired_and_review_is_never_expired() {
        let t = at("2026-11-25T10:00:00Z");
        let mut app = Application::open(opening(PhotoSource::OnFile, Channel::Counter));
        assert!(app.withdraw(&holder(), t).is_err());
        assert!(app.expire(&holder(), t).is_err());
        let mut app = Application::open(opening(PhotoSource::Album, Channel::App));
        let photo = upload(&mut app, "a", t);
        app.submit_photo(photo, &holder()).expect("submit");
        assert!(app.expire(&holder(), t).is_err());
    }

    #[test]
    fn refused_upload_keeps_the_application_open_and_malicious_stops_it() {
        let t = at("2026-11-25T10:00:00Z");
        let mut app = Application::open(opening(PhotoSource::Camera, Channel::App));
        upload(&mut app, "a", t);
        app.refuse_photo("a", vec![failed("background")], &holder(), t)
            .expect("refused");
        assert_eq!(app.state, ApplicationState::AwaitingPhoto);
        assert!(app.pending_upload.is_none());
        // The same object's event again: nothing is waited for any more.
        assert!(app.refuse_photo("a", vec![failed("background")], &holder(), t).is_err());
        let photo = upload(&mut app, "b", t);
        app.submit_photo(photo, &holder()).expect("submit");
        app.decide_review(decision(Verdict::Malicious, t), None)
            .expect("reported");
        assert_eq!(
            app.state,
            ApplicationState::AwaitingReview,
            "one verdict alone stops nothing"
        );
        assert!(
            app.withdraw(&holder(), t).is_err(),
            "a reported upload cannot be withdrawn"
        );
        let before = app.clone();
        assert!(app.decide_review(decision(Verdict::Malicious, t), None).is_err());
        assert!(app.decide_review(decision(Verdict::Reject, t), None).is_err());
        assert_eq!(app, before, "the reporter cannot decide again");
        let mut second = decision(Verdict::Malicious, t);
        second.by.id = "reviewer-2".into();
        app.decide_review(second, None).expect("confirmed");
        assert_eq!(app.state, ApplicationState::Stopped);
        let actions: Vec<_> = app.history.iter().rev().take(2).map(|h| h.action.as_str()).collect();
        assert_eq!(actions, ["stopped_malicious", "malicious_reported"]);
        assert!(!app.state.is_open());
        assert_eq!(app.last_review.as_ref().map(|d| d.verdict), Some(Verdict::Malicious));
    }

    #[test]
    fn a_second_reviewer_may_overrule_a_malicious_report() {
        let t = at("2026-11-25T10:00:00Z");
        let mut app = Application::open(opening(PhotoSource::Camera, Channel::App));
        let photo = upload(&mut app, "a", t);
        app.submit_photo(photo, &holder()).expect("submit");
        app.decide_review(decision(Verdict::Malicious, t), None)
            .expect("reported");
        let mut second = decision(Verdict::Reject, t);
        second.by.id = "reviewer-2".into();
        app.decide_review(second, None).expect("rejected");
        assert_eq!(app.state, ApplicationState::Rejected);
        assert!(app.malicious_report.is_none(), "the report is resolved");
        assert!(app
            .history
            .last()
            .and_then(|h| h.detail.as_deref())
            .is_some_and(|d| d.starts_with("malicious report not confirmed")));
    }
}
