//! The use cases' one error type: every context's use cases fail with it; the HTTP edge maps each to its problem.

use crate::applications::application::IllegalTransition;
use crate::kernel::access::{self, Action};
use crate::kernel::caller::{Caller, Role};
use crate::kernel::input::{InputError, InvalidInput};
use crate::kernel::store::StoreError;
use crate::kernel::time::local_offset;
use crate::kernel::versioned::Conflicting;
use crate::problem::Problem;
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
    #[error("the licence already has an open application")]
    OpenApplicationExists { existing: String },
    #[error(transparent)]
    IllegalTransition(#[from] IllegalTransition),
    #[error("the record changed while this request was processed")]
    Conflict,
    #[error("the real-person check did not pass")]
    LivenessFailed { confidence: f32 },
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
    #[error("{detail}")]
    IllegalPassTransition { detail: String, state: &'static str },
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

    /// The problem document for this error: one stable `type` per failure.
    pub fn problem(&self) -> Problem {
        let detail = self.to_string();
        match self {
            ServiceError::Unauthenticated => Problem::new(
                401,
                "unauthenticated",
                "Not signed in",
                "This call needs a bearer token from the authority's login.",
            ),
            ServiceError::Forbidden(_) => Problem::new(403, "forbidden", "Not allowed", detail),
            ServiceError::NotFound { what, id } => Problem::new(404, "not-found", "Not found", detail).with(what, id),
            ServiceError::Invalid { errors, .. } => {
                let p = Problem::new(400, "invalid-request", "Invalid request", detail);
                if errors.is_empty() {
                    p
                } else {
                    p.with("errors", errors)
                }
            }
            ServiceError::TooLarge { limit } => {
                Problem::new(413, "payload-too-large", "Request too large", detail).with("limitBytes", limit)
            }
            ServiceError::UnsupportedMediaType { .. } => {
                Problem::new(415, "unsupported-media-type", "Unsupported media type", detail)
            }
            ServiceError::Ineligible { reasons } => Problem::new(
                422,
                "ineligible",
                "Licence not eligible",
                format!(
                    "The licence cannot have an electronic licence: {}",
                    reasons.iter().map(|r| r.message).collect::<Vec<_>>().join(" ")
                ),
            )
            .with("reasons", reasons),
            ServiceError::CityNotLive { city, opens_at, .. } => {
                let when = match opens_at {
                    Some(at) => format!(
                        "; it opens on {}",
                        at.with_timezone(&local_offset()).format("%Y-%m-%d %H:%M (UTC+08:00)")
                    ),
                    None => "; its opening date has not been announced".into(),
                };
                Problem::new(
                    422,
                    "city-not-live",
                    "Not open in this city yet",
                    format!("{detail}{when}."),
                )
                .with("city", city)
                .with("opensAt", opens_at)
            }
            ServiceError::NoPhotoOnFile => Problem::new(
                422,
                "no-photo-on-file",
                "No photo on file",
                "There is no compliant photo on file for this licence; apply with a new photo (camera or album).",
            ),
            ServiceError::OpenApplicationExists { existing } => Problem::new(
                409,
                "open-application-exists",
                "An application is already open",
                "The licence already has an open application; continue or withdraw it before opening another.",
            )
            .with("application", existing),
            ServiceError::IllegalTransition(t) => {
                Problem::new(409, "illegal-transition", "Not possible in this state", detail).with("state", t.from)
            }
            ServiceError::Conflict => Problem::new(
                409,
                "conflict",
                "Changed meanwhile",
                "The record changed while this request was processed; read it again and retry.",
            ),
            ServiceError::LivenessFailed { confidence } => Problem::new(
                422,
                "liveness-failed",
                "Real-person check failed",
                "The real-person check did not pass; the application stays open and the check can be tried again.",
            )
            .with("confidence", confidence),
            ServiceError::LivenessSessionInvalid(_) => {
                Problem::new(400, "liveness-session-invalid", "Invalid liveness session", detail)
            }
            ServiceError::LicenceNotActive { serial } => Problem::new(
                409,
                "licence-not-active",
                "Licence not valid",
                format!(
                    "{detail} It was superseded, stopped or has expired; apply again for a new electronic licence."
                ),
            )
            .with("serial", serial),
            ServiceError::PassRefused { reasons } => Problem::new(
                422,
                "pass-refused",
                "Truck pass refused",
                format!(
                    "The city does not issue this pass: {}",
                    reasons.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join(" ")
                ),
            )
            .with("reasons", reasons),
            ServiceError::NotYourVehicle { plate } => Problem::new(
                403,
                "not-your-vehicle",
                "Not your vehicle",
                format!("{detail} A pass is applied for by the vehicle's registered owner or its fleet's manager."),
            )
            .with("plate", plate),
            ServiceError::PassNotActive { serial, status } => {
                Problem::new(409, "pass-not-active", "Pass not active", detail)
                    .with("serial", serial)
                    .with("passStatus", status)
            }
            ServiceError::IllegalPassTransition { state, .. } => {
                Problem::new(409, "illegal-transition", "Not possible in this state", detail).with("state", state)
            }
            ServiceError::Unavailable(_) => Problem::new(
                503,
                "unavailable",
                "Temporarily unavailable",
                "A service this request needs is unavailable; retry shortly.",
            ),
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
