//! Applications (R1, R2, R3, R12): a holder or a clerk opens one, the holder withdraws it or confirms the photo
//! on file with a real-person check, and an approved one goes to issuance.

use super::views::ApplicationView;
use super::{authorise, Applying, InputError, ServiceError, Services};
use crate::applications::application::{Application, Channel, IllegalTransition, KeptPortrait, Opening, PhotoSource};
use crate::applications::ports::{Issuer, LivenessError};
use crate::kernel::access::Action;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::golive::Availability;
use crate::register::eligibility;
use crate::register::licence::{register_photo_key, Licence};
use serde::{Deserialize, Serialize};

/// `POST /applications`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OpenApplication {
    pub photo_source: PhotoSource,
    /// Required for a clerk; a holder may leave it out.
    #[serde(default)]
    pub licence_number: Option<String>,
    /// The app's device public key (P-256, SEC1 uncompressed, base64url) to
    /// bind into the mdoc, so the device can sign presentations.
    #[serde(default)]
    pub device_key: Option<String>,
}

/// `POST /applications/{id}/liveness`
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfirmLiveness {
    #[serde(alias = "sessionId")]
    pub liveness_session_id: String,
}

/// The answer to `POST /applications/{id}/liveness-sessions`: the session the app's liveness detector runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LivenessSession {
    pub application_id: String,
    pub session_id: String,
}

/// The similarity (Rekognition CompareFaces' 0..=100 scale) at or above which the live face matches the photo
/// on file, unless the deployment sets `FACE_MATCH_THRESHOLD`. Rekognition's own default for CompareFaces is 80;
/// an identity document asks for more.
pub const DEFAULT_FACE_MATCH_THRESHOLD: f32 = 90.0;

impl Applying {
    pub async fn open_application(
        &self,
        caller: &Caller,
        request: OpenApplication,
    ) -> Result<ApplicationView, ServiceError> {
        let role = authorise(caller, Action::OpenApplication)?;
        // A clerk who is also a holder applying for themselves uses the app channel.
        let counter = role == Role::Clerk && !(caller.has(Role::Holder) && request.licence_number.is_none());
        let licence = if counter {
            let number = request.licence_number.as_deref().ok_or_else(|| {
                ServiceError::invalid("A counter application names the licence: licenceNumber is required.")
            })?;
            let licence = self
                .records
                .licence(number)
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: "licence",
                    id: number.into(),
                })?;
            // R12: the holder applies at the office that issued the licence.
            if caller.office.as_deref() != Some(licence.city_code()) {
                return Err(ServiceError::Forbidden(format!(
                    "Licence {number} was issued by office {}; a counter application is made at the issuing office.",
                    licence.city_code()
                )));
            }
            licence
        } else {
            self.own_licence(caller, request.licence_number.as_deref()).await?
        };
        let refusals = eligibility::refusals(&licence, self.today());
        if !refusals.is_empty() {
            return Err(ServiceError::Ineligible { reasons: refusals });
        }
        self.require_city_live(licence.city_code()).await?;
        // R3: the photo on file is an image the register holds; a licence without one takes the new-photo route.
        let portrait = match (request.photo_source, &licence.photo_sha256) {
            (PhotoSource::OnFile, Some(sha256)) if licence.photo_on_file => Some(KeptPortrait {
                key: register_photo_key(sha256),
                sha256: sha256.clone(),
            }),
            (PhotoSource::OnFile, _) => return Err(ServiceError::NoPhotoOnFile),
            _ => None,
        };
        if let Some(key) = &request.device_key {
            let valid = base64::Engine::decode(
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                key.trim_end_matches('='),
            )
            .ok()
            .is_some_and(|bytes| bytes.len() == 65 && p256::PublicKey::from_sec1_bytes(&bytes).is_ok());
            if !valid {
                return Err(ServiceError::Invalid {
                    detail: "deviceKey must be a P-256 public key, SEC1 uncompressed (65 bytes), base64url.".into(),
                    errors: vec![InputError {
                        line: None,
                        field: "deviceKey".into(),
                        message: "not a P-256 public key".into(),
                    }],
                });
            }
        }
        let (channel, role, office) = if counter {
            (Channel::Counter, Role::Clerk, caller.office.clone())
        } else {
            (Channel::App, Role::Holder, None)
        };
        let application = Application::open(Opening {
            id: uuid::Uuid::now_v7().to_string(),
            licence_number: licence.number.clone(),
            holder_id: licence.holder_id.clone(),
            city_code: licence.city_code().to_string(),
            channel,
            photo_source: request.photo_source,
            opened_by: caller.actor(role),
            office,
            at: self.now(),
            device_key: request.device_key.clone(),
            portrait,
        });
        self.records.create_application(&application).await?;
        tracing::info!(application = %application.id, state = %application.state, channel = ?channel, "application opened");
        hand_to_issuer(&*self.issuer, &application).await;
        Ok(ApplicationView::for_caller(&application, caller))
    }

    /// The licence of a holder: the one named (if it is theirs) or the one the register links to them.
    async fn own_licence(&self, caller: &Caller, number: Option<&str>) -> Result<Licence, ServiceError> {
        let number = match number {
            Some(n) => n.to_string(),
            None => self
                .records
                .licence_number_of_holder(&caller.id)
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    what: "licence",
                    id: "of this holder".into(),
                })?,
        };
        // Someone else's licence answers exactly as a missing one: no leak of its existence.
        match self.records.licence(&number).await? {
            Some(l) if l.holder_id == caller.id => Ok(l),
            _ => Err(ServiceError::NotFound {
                what: "licence",
                id: number,
            }),
        }
    }

    async fn require_city_live(&self, code: &str) -> Result<(), ServiceError> {
        let now = self.now();
        // From memory: every application reads the plan, which changes only when an administrator switches.
        let plan = self.rollout_plan().await?;
        let Some(city) = plan.city(code).cloned() else {
            return Err(ServiceError::CityNotLive {
                city: code.into(),
                name: "this city".into(),
                opens_at: None,
            });
        };
        match city.availability(plan.wave(&city.wave), now) {
            Availability::Live { .. } => Ok(()),
            Availability::Scheduled { opens_at } => Err(ServiceError::CityNotLive {
                city: city.code,
                name: city.name,
                opens_at: Some(opens_at),
            }),
            Availability::NotScheduled => Err(ServiceError::CityNotLive {
                city: city.code,
                name: city.name,
                opens_at: None,
            }),
        }
    }
}

impl Services {
    /// Reads an application the caller may see, as that caller is shown it; others answer as not found.
    pub async fn application(&self, caller: &Caller, id: &str) -> Result<ApplicationView, ServiceError> {
        let role = authorise(caller, Action::ReadApplication)?;
        let not_found = || ServiceError::NotFound {
            what: "application",
            id: id.into(),
        };
        let application = self.records.application(id).await?.ok_or_else(not_found)?;
        let visible = match role {
            Role::Reviewer => true,
            Role::Clerk => {
                caller.office.as_deref() == Some(application.city_code.as_str())
                    || (caller.has(Role::Holder) && application.holder_id == caller.id)
            }
            _ => application.holder_id == caller.id,
        };
        if visible {
            Ok(ApplicationView::for_caller(&application, caller))
        } else {
            Err(not_found())
        }
    }

    /// Reads a holder's own application for a change they make.
    pub(super) async fn own_application(
        &self,
        caller: &Caller,
        id: &str,
        action: Action,
    ) -> Result<Application, ServiceError> {
        authorise(caller, action)?;
        match self.records.application(id).await? {
            Some(a) if a.holder_id == caller.id => Ok(a),
            _ => Err(ServiceError::NotFound {
                what: "application",
                id: id.into(),
            }),
        }
    }

    pub(super) async fn store_transition(&self, application: Application) -> Result<Application, ServiceError> {
        self.store_transition_noting(application, &[]).await
    }

    /// Stores a transition with the notices it warrants recorded in the same write (delivered by the caller).
    pub(super) async fn store_transition_noting(
        &self,
        mut application: Application,
        notices: &[crate::kernel::notice::PendingNotice],
    ) -> Result<Application, ServiceError> {
        let expected = application.version;
        application.version = expected + 1;
        self.records
            .update_application_noting(&application, expected, notices)
            .await?;
        Ok(application)
    }

    pub async fn withdraw(&self, caller: &Caller, id: &str) -> Result<ApplicationView, ServiceError> {
        let mut application = self.own_application(caller, id, Action::WithdrawApplication).await?;
        application.withdraw(&caller.actor(Role::Holder), self.now())?;
        let application = self.store_transition(application).await?;
        tracing::info!(application = %application.id, "application withdrawn");
        Ok(ApplicationView::for_caller(&application, caller))
    }

    /// R3: the holder starts a real-person check; the backend creates the session and records it on the
    /// application, so that only this session's result can confirm this application.
    pub async fn start_liveness_session(&self, caller: &Caller, id: &str) -> Result<LivenessSession, ServiceError> {
        let mut application = self.own_application(caller, id, Action::StartLivenessCheck).await?;
        // Refused before a session is created (and paid for) for an application that cannot use it.
        application.may_start_liveness()?;
        let session_id = self
            .liveness
            .create_session(&application.id)
            .await
            .map_err(liveness_error)?;
        application.start_liveness_session(session_id.clone(), &caller.actor(Role::Holder), self.now())?;
        // Conditional on the version read: a concurrent start or confirmation makes this one a 409.
        let application = self.store_transition(application).await?;
        tracing::info!(application = %application.id, "liveness session created");
        Ok(LivenessSession {
            application_id: application.id,
            session_id,
        })
    }
}

impl Applying {
    /// R3: the holder confirms the photo on file with the passed real-person check of the session recorded on
    /// the application, whose live face must match the photo on file.
    pub async fn confirm_liveness(
        &self,
        caller: &Caller,
        id: &str,
        request: ConfirmLiveness,
    ) -> Result<ApplicationView, ServiceError> {
        let mut application = self.own_application(caller, id, Action::ConfirmLiveness).await?;
        // Refuse a check on an application in the wrong state before asking the liveness service.
        if application.state != crate::applications::application::ApplicationState::AwaitingLiveness {
            return Err(IllegalTransition {
                action: "confirm the photo on file of",
                from: application.state,
            }
            .into());
        }
        // Another application's session, an unknown one, or one already used: refused, nothing written.
        if application.liveness_session.as_deref() != Some(request.liveness_session_id.as_str()) {
            return Err(ServiceError::LivenessSessionInvalid(format!(
                "it is not the session created for application {id} (or it was used already); start one with \
                 POST /applications/{id}/liveness-sessions"
            )));
        }
        let result = self
            .liveness
            .result(&request.liveness_session_id)
            .await
            .map_err(liveness_error)?;
        let holder = caller.actor(Role::Holder);
        if !result.passed {
            let detail = format!("liveness confidence {:.1}", result.confidence);
            application.record_liveness(false, &holder, self.now(), detail)?;
            let application = self.store_transition(application).await?;
            tracing::info!(application = %application.id, passed = false, "liveness recorded");
            return Err(ServiceError::LivenessFailed {
                confidence: result.confidence,
            });
        }
        let reference = result.reference_image.as_deref().ok_or_else(|| {
            ServiceError::Unavailable("the liveness service returned no reference image to compare".into())
        })?;
        let photo_key = application.portrait_key.clone().ok_or(ServiceError::NoPhotoOnFile)?;
        let photo = self
            .photos
            .read(&photo_key, self.photo_rules.max_bytes)
            .await
            .map_err(super::photos::photo_store_error)?;
        let threshold = self.face_match_threshold;
        let similarity = self
            .liveness
            .compare_faces(reference, &photo, threshold)
            .await
            .map_err(liveness_error)?;
        // NaN never matches.
        let matches = similarity >= threshold;
        if !matches {
            let detail = format!(
                "liveness confidence {:.1}; face similarity {similarity:.1} below {threshold:.1}",
                result.confidence
            );
            application.record_face_mismatch(&holder, self.now(), detail)?;
            let application = self.store_transition(application).await?;
            tracing::warn!(application = %application.id, similarity, threshold, "face does not match the photo on file");
            return Err(ServiceError::FaceMismatch { similarity, threshold });
        }
        let detail = format!(
            "liveness confidence {:.1}; face similarity {similarity:.1}",
            result.confidence
        );
        application.record_liveness(true, &holder, self.now(), detail)?;
        let application = self.store_transition(application).await?;
        tracing::info!(application = %application.id, passed = true, "liveness recorded");
        hand_to_issuer(&*self.issuer, &application).await;
        Ok(ApplicationView::for_caller(&application, caller))
    }
}

/// Approved applications go to the issuer; a failure leaves the application approved, in the outbox that the
/// sweep re-drives.
pub(super) async fn hand_to_issuer(issuer: &dyn Issuer, application: &Application) {
    if application.state != crate::applications::application::ApplicationState::Approved {
        return;
    }
    if let Err(e) = issuer.request_issuance(application).await {
        tracing::warn!(application = %application.id, error = %e, "issuance failed; application stays approved");
    }
}

fn liveness_error(e: LivenessError) -> ServiceError {
    match e {
        LivenessError::InvalidSession(m) => ServiceError::LivenessSessionInvalid(m),
        LivenessError::Unavailable(m) => ServiceError::Unavailable(m),
    }
}
