//! What each reader is shown of an application or a truck pass: a view made for the holder, another for staff, never the record.
//!
//! The stored `Application` carries what the service needs to run (its version, storage keys and digests of
//! photos and portraits, the device key, counters, the first reviewer of a malicious report): none of it is an
//! answer. A holder sees their application's progress and the reasons given to them, with staff named only by
//! their role; clerks and reviewers also see the licence and holder it is for and who acted.

use crate::applications::application::{
    Application, ApplicationState, Channel, HistoryEntry, PendingUpload, PhotoRefusal, PhotoSource, PhotoSubmission,
};
use crate::applications::photo::{CheckResult, ImageType};
use crate::applications::review::{RejectionReason, ReviewDecision, Verdict};
use crate::kernel::caller::{Actor, Caller, Role};
use crate::truck::clock::TimeWindow;
use crate::truck::pass::{PassCheck, PassEvent, PassStatus, TruckPass};
use crate::truck::vehicle::{EmissionStandard, VehicleType};
use crate::verification::check::CheckRecord;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

/// Who reads an application or a pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reader {
    /// The holder it is for (whatever other roles they have); for a pass, its owner or the fleet manager
    /// acting for its fleet.
    Holder,
    /// A clerk of the office, a reviewer, an administrator.
    Staff,
}

impl Reader {
    /// The holder reading their own application gets the holder's view; anyone else the access policy let
    /// through is staff.
    pub fn of(caller: &Caller, application: &Application) -> Reader {
        if caller.has(Role::Holder) && caller.id == application.holder_id {
            Reader::Holder
        } else {
            Reader::Staff
        }
    }
}

/// Who acted, as a reader may see it: staff see the login id, a holder the role alone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActorView {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub role: Role,
}

impl ActorView {
    fn of(actor: &Actor, reader: Reader) -> ActorView {
        ActorView {
            id: (reader == Reader::Staff).then(|| actor.id.clone()),
            role: actor.role,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub at: DateTime<Utc>,
    pub action: String,
    pub by: ActorView,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub from: Option<ApplicationState>,
    pub to: ApplicationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// The upload form the application waits for (its object's key stays internal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingUploadView {
    pub upload_id: String,
    pub content_type: ImageType,
    pub source: PhotoSource,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The photo under review, or the last one reviewed, without where or under which digest it is kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PhotoView {
    pub upload_id: String,
    pub source: PhotoSource,
    pub submitted_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub width: u32,
    pub height: u32,
    pub checks: Vec<CheckResult>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewView {
    pub verdict: Verdict,
    pub reasons: Vec<RejectionReason>,
    pub note: String,
    pub by: ActorView,
    pub at: DateTime<Utc>,
}

/// An application as one reader is shown it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationView {
    pub id: String,
    pub licence_number: String,
    /// Staff only: the holder's identity number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub holder_id: Option<String>,
    pub city_code: String,
    pub channel: Channel,
    pub photo_source: PhotoSource,
    pub state: ApplicationState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_upload: Option<PendingUploadView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub photo: Option<PhotoView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_refusal: Option<PhotoRefusal>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_review: Option<ReviewView>,
    pub history: Vec<HistoryView>,
}

impl ApplicationView {
    pub fn of(application: &Application, reader: Reader) -> ApplicationView {
        let pending = |u: &PendingUpload| PendingUploadView {
            upload_id: u.upload_id.clone(),
            content_type: u.content_type,
            source: u.source,
            requested_at: u.requested_at,
            expires_at: u.expires_at,
        };
        let photo = |p: &PhotoSubmission| PhotoView {
            upload_id: p.upload_id.clone(),
            source: p.source,
            submitted_at: p.submitted_at,
            due_at: p.due_at,
            width: p.width,
            height: p.height,
            checks: p.checks.clone(),
        };
        let review = |r: &ReviewDecision| ReviewView {
            verdict: r.verdict,
            reasons: r.reasons.clone(),
            note: r.note.clone(),
            by: ActorView::of(&r.by, reader),
            at: r.at,
        };
        let step = |h: &HistoryEntry| HistoryView {
            at: h.at,
            action: h.action.clone(),
            by: ActorView::of(&h.by, reader),
            from: h.from,
            to: h.to,
            detail: h.detail.clone(),
        };
        ApplicationView {
            id: application.id.clone(),
            licence_number: application.licence_number.clone(),
            holder_id: (reader == Reader::Staff).then(|| application.holder_id.clone()),
            city_code: application.city_code.clone(),
            channel: application.channel,
            photo_source: application.photo_source,
            state: application.state,
            office: application.office.clone(),
            created_at: application.created_at,
            updated_at: application.updated_at,
            pending_upload: application.pending_upload.as_ref().map(pending),
            photo: application.photo.as_ref().map(photo),
            last_refusal: application.last_refusal.clone(),
            last_review: application.last_review.as_ref().map(review),
            history: application.history.iter().map(step).collect(),
        }
    }

    /// The view `caller` is given of `application`.
    pub fn for_caller(application: &Application, caller: &Caller) -> ApplicationView {
        ApplicationView::of(application, Reader::of(caller, application))
    }
}

/// One verification of the holder's licence as the holder sees it (R8, R15): which organisation, in which
/// role, why, when and with what result; not the officer's or employee's login id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HolderCheckView {
    pub id: String,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub role: Role,
    pub purpose: String,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<CheckRecord> for HolderCheckView {
    fn from(check: CheckRecord) -> Self {
        HolderCheckView {
            id: check.id,
            at: check.at,
            organisation: check.organisation,
            role: check.role,
            purpose: check.purpose,
            method: check.method,
            serial: check.serial,
            valid: check.valid,
            reason: check.reason,
        }
    }
}

/// One check of a truck pass as its owner or fleet sees it (R13, R15): which organisation, where, when and
/// with what answer; not the officer's login id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassCheckView {
    pub id: String,
    pub at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub method: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub zone: String,
    pub moment: DateTime<Utc>,
    pub valid: bool,
    pub allowed: bool,
    pub reason: String,
}

impl From<PassCheck> for PassCheckView {
    fn from(check: PassCheck) -> Self {
        PassCheckView {
            id: check.id,
            at: check.at,
            organisation: check.organisation,
            method: check.method,
            serial: check.serial,
            zone: check.zone,
            moment: check.moment,
            valid: check.valid,
            allowed: check.allowed,
            reason: check.reason,
        }
    }
}

/// Where a pass is in its life, as a reader sees it: who rejected, revoked or withdrew it by role alone for its
/// owner and fleet, with the login id for staff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum PassStatusView {
    PendingReview,
    Active,
    Rejected {
        at: DateTime<Utc>,
        reason: String,
        by: ActorView,
    },
    Revoked {
        at: DateTime<Utc>,
        reason: String,
        by: ActorView,
    },
    Withdrawn {
        at: DateTime<Utc>,
        by: ActorView,
    },
    Expired {
        at: DateTime<Utc>,
    },
}

impl PassStatusView {
    pub fn of(status: &PassStatus, reader: Reader) -> PassStatusView {
        match status {
            PassStatus::PendingReview => PassStatusView::PendingReview,
            PassStatus::Active => PassStatusView::Active,
            PassStatus::Rejected { at, reason, by } => PassStatusView::Rejected {
                at: *at,
                reason: reason.clone(),
                by: ActorView::of(by, reader),
            },
            PassStatus::Revoked { at, reason, by } => PassStatusView::Revoked {
                at: *at,
                reason: reason.clone(),
                by: ActorView::of(by, reader),
            },
            PassStatus::Withdrawn { at, by } => PassStatusView::Withdrawn {
                at: *at,
                by: ActorView::of(by, reader),
            },
            PassStatus::Expired { at } => PassStatusView::Expired { at: *at },
        }
    }
}

/// One step of a pass's life as a reader sees it; `by` is absent for the scheduled job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassEventView {
    pub at: DateTime<Utc>,
    pub action: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<ActorView>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A truck pass as one reader is shown it (R13): its terms, status, signed document and history, without the
/// version the store keeps it under; its owner and fleet see who acted by role only, staff also by login id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PassView {
    pub id: String,
    pub serial: String,
    pub plate: String,
    pub vehicle_type: VehicleType,
    pub emission: EmissionStandard,
    pub city: String,
    pub pass_type: String,
    pub zones: Vec<String>,
    pub valid_from: NaiveDate,
    /// Inclusive.
    pub valid_to: NaiveDate,
    pub windows: Vec<TimeWindow>,
    pub owner_id: String,
    pub fleet_id: Option<String>,
    pub rules_version: u64,
    pub status: PassStatusView,
    pub issued_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub review_due_at: Option<DateTime<Utc>>,
    /// The signed credential (an mdoc `IssuerSigned`, base64) once the pass is active; lists leave it out.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    pub created_at: DateTime<Utc>,
    pub history: Vec<PassEventView>,
}

impl PassView {
    pub fn of(pass: &TruckPass, reader: Reader) -> PassView {
        let step = |e: &PassEvent| PassEventView {
            at: e.at,
            action: e.action.clone(),
            by: e.by.as_ref().map(|by| ActorView::of(by, reader)),
            detail: e.detail.clone(),
        };
        PassView {
            id: pass.id.clone(),
            serial: pass.serial.clone(),
            plate: pass.plate.clone(),
            vehicle_type: pass.vehicle_type,
            emission: pass.emission,
            city: pass.city.clone(),
            pass_type: pass.pass_type.clone(),
            zones: pass.zones.clone(),
            valid_from: pass.valid_from,
            valid_to: pass.valid_to,
            windows: pass.windows.clone(),
            owner_id: pass.owner_id.clone(),
            fleet_id: pass.fleet_id.clone(),
            rules_version: pass.rules_version,
            status: PassStatusView::of(&pass.status, reader),
            issued_at: pass.issued_at,
            review_due_at: pass.review_due_at,
            document: pass.document.clone(),
            created_at: pass.created_at,
            history: pass.history.iter().map(step).collect(),
        }
    }

    /// The same view without the signed document: what a list shows (read one pass for its document).
    pub fn listed(mut self) -> PassView {
        self.document = None;
        self
    }
}
