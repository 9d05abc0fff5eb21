//! The use cases' one error type: every context's use cases fail with it; the HTTP edge (`http.rs`) maps each
//! to its problem document and status.

use crate::applications::application::IllegalTransition;
use crate::kernel::access::{self, Action};
use crate::kernel::caller::{Caller, Role};
use crate::kernel::input::{InputError, InvalidInput};
use crate::kernel::store::StoreError;
use crate::kernel::versioned::Conflicting;
use crate::register::eligibility::Refusal;
use crate::truck::pass::IllegalPassTransition;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ServiceError {
    #[error("no verified caller")]
    Unauthenticated,
    #[error("{0}")]
    Forbidden(String),
    #[error("The {what} {id} was not found.")]
    NotFound { what: &'static str, id: String },
    #[error("{detail}")]
    Invalid { detail: String, errors: Vec<InputError> },
    #[error("The body is larger than the {limit} bytes this call accepts.")]
    TooLarge { limit: usize },
    #[error("The body must be sent as {expected} (Content-Type header); it was sent as {got}.")]
    UnsupportedMediaType { expected: &'static str, got: String },
    #[error("the licence is not eligible for an electronic licence")]
    Ineligible { reasons: Vec<Refusal> },
    #[error("Electronic licences are not open in {name} ({city}) yet")]
    CityNotLive {
        city: String,
        name: String,
        opens_at: Option<DateTime<Utc>>,
    },
    #[error("there is no compliant photo on file for this licence")]
    NoPhotoOnFile,
    /// The photo in storage is not the one that was checked (replaced after the checks or the approval).
    #[error("{0}")]
    PhotoChanged(String),
    #[error("the licence already has an open application")]
    OpenApplicationExists { existing: String },
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    /// A reviewer asked to decide an application they hold or opened (R15: no one reviews their own).
    #[error("You cannot decide the review of application {id}: it is your own (you hold it or opened it).")]
    OwnApplication { id: String },
    /// The reviewer who reported an upload malicious tried to decide it again (R15: four eyes).
    #[error("You reported application {id} as malicious; a second, different reviewer must confirm or overrule it.")]
    SecondReviewerRequired { id: String },
    #[error("the record changed while this request was processed")]
    Conflict,
    /// An import job's file already arrived (it is running or done): no second upload.
    #[error("Import job {id} already has its file ({state:?}); start a new job with a new key for another file.")]
    ImportHasFile {
        id: String,
        state: crate::register::import_job::ImportState,
    },
    #[error("the real-person check did not pass")]
    LivenessFailed { confidence: f32 },
    /// A live person passed the check, but not the face of the photo on file (R3).
    #[error("The face in the real-person check does not match the photo on file (similarity {similarity:.1}, {threshold:.1} needed).")]
    FaceMismatch { similarity: f32, threshold: f32 },
    #[error("The liveness session was refused: {0}.")]
    LivenessSessionInvalid(String),
    #[error("A service this request needs is unavailable: {0}")]
    Unavailable(String),
    #[error("The electronic licence {serial} is no longer valid.")]
    LicenceNotActive { serial: String },
    #[error("the city refuses the truck pass")]
    PassRefused {
        reasons: Vec<crate::truck::request::Refusal>,
    },
    #[error("Vehicle {plate} is neither yours nor in your fleet.")]
    NotYourVehicle { plate: String },
    #[error("Truck pass {serial} is {status}, not active.")]
    PassNotActive { serial: String, status: &'static str },
    #[error("Truck pass {serial} starts on {valid_from} (China time); its code is shown from that day.")]
    PassNotStarted {
        serial: String,
        valid_from: chrono::NaiveDate,
    },
    #[error("{detail}")]
    IllegalPassTransition { detail: String, state: &'static str },
    /// A way of presenting a credential this verifier may not use (a relying party's bare serial).
    #[error("{detail}")]
    PresentationNotAllowed { method: &'static str, detail: String },
    #[error("Your organisation has used its {requests} verifications for this window; retry in {retry_after_seconds} seconds.")]
    QuotaExceeded { requests: u64, retry_after_seconds: i64 },
}

impl From<StoreError> for ServiceError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict => ServiceError::Conflict,
            StoreError::OpenApplicationExists { existing } => ServiceError::OpenApplicationExists { existing },
            StoreError::AlreadyExists => ServiceError::Conflict,
            StoreError::Unavailable(m) => ServiceError::Unavailable(m),
            StoreError::Corrupt(m) => ServiceError::Unavailable(format!("stored record unreadable: {m}")),
            StoreError::BadCursor => {
                ServiceError::invalid("The cursor is not one this service issued; start again without it.")
            }
        }
    }
}

impl ServiceError {
    pub fn invalid(detail: impl Into<String>) -> ServiceError {
        ServiceError::Invalid {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }
}

impl From<InvalidInput> for ServiceError {
    fn from(e: InvalidInput) -> Self {
        ServiceError::Invalid {
            detail: e.detail,
            errors: e.errors,
        }
    }
}

impl From<IllegalPassTransition> for ServiceError {
    fn from(e: IllegalPassTransition) -> Self {
        ServiceError::IllegalPassTransition {
            detail: e.to_string(),
            state: e.from,
        }
    }
}

impl Conflicting for ServiceError {
    fn is_conflict(&self) -> bool {
        matches!(self, ServiceError::Conflict)
    }
}

/// The role the caller acts in for `action`, by the access policy's table; refused (403) when it holds none.
pub(crate) fn authorise(caller: &Caller, action: Action) -> Result<Role, ServiceError> {
    match access::rule(action) {
        Some(rule) => require(caller, rule.roles, rule.what),
        None => Err(ServiceError::Forbidden(format!(
            "{action:?} is not in the access policy."
        ))),
    }
}

fn require(caller: &Caller, roles: &[Role], what: &str) -> Result<Role, ServiceError> {
    caller.acting_as(roles).ok_or_else(|| {
        let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
        ServiceError::Forbidden(format!("{what} needs the role {}.", names.join(" or ")))
    })
}
