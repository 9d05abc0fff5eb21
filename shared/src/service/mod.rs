//! The use cases: authorise the caller, apply the domain rules, persist through the ports.

// Enabled once the credential modules they use are complete.
pub mod expiry;
pub mod issuance;
pub mod keys;
pub mod licence;
pub mod passes;
pub mod photos;
pub mod reviews;
pub mod verification;

use crate::adapters::Records;
use crate::applications::application::{Application, Channel, IllegalTransition, Opening, PhotoSource};
use crate::applications::photo::PhotoRules;
use crate::applications::ports::{Issuer, LivenessCheck, LivenessError, PhotoStore};
pub(crate) use crate::error::require;
pub use crate::error::ServiceError;
use crate::issuance::edl::EdlStatus;
use crate::kernel::calendar::WorkingCalendar;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::golive::Availability;
pub use crate::kernel::golive::SwitchRequest;
pub(crate) use crate::kernel::input::JsonLinesImport;
pub use crate::kernel::input::{ImportReport, InputError};
use crate::kernel::notice::{Notice, Notifier};
use crate::kernel::signing::Signer;
use crate::kernel::time::{local_date, Clock};
use crate::kernel::versioned::{retry_on_conflict, ATTEMPTS};
use crate::register::change::{self, ChangeRecord, LicenceChange};
use crate::register::eligibility::{self, Refusal};
use crate::register::licence::Licence;
use crate::register::rollout::RolloutChange;
use crate::register::rollout::{City, Wave};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Limits on what one request may carry.
#[derive(Debug, Clone)]
pub struct Limits {
    pub max_import_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_import_lines: 20_000,
        }
    }
}

/// Everything a handler needs, built once per cold start.
#[derive(Clone)]
pub struct Services {
    pub records: Arc<dyn Records>,
    pub clock: Arc<dyn Clock>,
    pub liveness: Arc<dyn LivenessCheck>,
    /// Photos; only the functions that handle photos have one.
    pub photos: Option<Arc<dyn PhotoStore>>,
    /// Where approvals go to become signed licences (an event to the issue function).
    pub issuer: Option<Arc<dyn Issuer>>,
    /// Signs licence documents and show codes; only the functions that sign have one.
    pub signer: Option<Arc<dyn Signer>>,
    /// Pushes notices to holders.
    pub notifier: Option<Arc<dyn Notifier>>,
    /// Working days for the review service level (R4).
    pub calendar: WorkingCalendar,
    pub photo_rules: PhotoRules,
    /// What each verifier may see (R9): configuration, not code.
    pub disclosure: crate::verification::disclosure::Disclosure,
    /// The verification keys held in memory, shared by every clone.
    pub trust_cache: Arc<verification::TrustCache>,
    pub limits: Limits,
}

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
    pub liveness_session_id: String,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LicenceView {
    pub licence: Licence,
    /// Every reason it cannot have an electronic licence today; empty when it can.
    pub refusals: Vec<Refusal>,
    pub changes: Vec<ChangeRecord>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub supersedes_electronic_licence: Option<bool>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CityView {
    #[serde(flatten)]
    pub city: City,
    pub availability: Availability,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RolloutView {
    pub at: DateTime<Utc>,
    pub waves: Vec<Wave>,
    pub cities: Vec<CityView>,
    pub changes: Vec<RolloutChange>,
}

impl Services {
    /// Services over these ports, with the shipped calendar and photo rules.
    pub fn new(records: Arc<dyn Records>, clock: Arc<dyn Clock>, liveness: Arc<dyn LivenessCheck>) -> Services {
        Services {
            records,
            clock,
            liveness,
            photos: None,
            issuer: None,
            signer: None,
            notifier: None,
            calendar: WorkingCalendar::shipped(),
            photo_rules: PhotoRules::default(),
            disclosure: crate::verification::disclosure::Disclosure::shipped(),
            trust_cache: Arc::new(verification::TrustCache::default()),
            limits: Limits::default(),
        }
    }

    pub fn with_photos(mut self, photos: Arc<dyn PhotoStore>) -> Services {
        self.photos = Some(photos);
        self
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Today's date where the licences are (UTC+08:00).
    pub fn today(&self) -> NaiveDate {
        local_date(self.now())
    }

    pub async fn open_application(
        &self,
        caller: &Caller,
        request: OpenApplication,
    ) -> Result<Application, ServiceError> {
        let role = require(caller, &[Role::Clerk, Role::Holder], "Opening an application")?;
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
        if request.photo_source == PhotoSource::OnFile && !licence.photo_on_file {
            return Err(ServiceError::NoPhotoOnFile);
        }
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
        });
        self.records.create_application(&application).await?;
        tracing::info!(application = %application.id, state = %application.state, channel = ?channel, "application opened");
        self.hand_to_issuer(&application).await;
        Ok(application)
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
        let city = self.records.city(code).await?;
        let Some(city) = city else {
            return Err(ServiceError::CityNotLive {
                city: code.into(),
                name: "this city".into(),
                opens_at: None,
            });
        };
        let wave = self.records.wave(&city.wave).await?;
        match city.availability(wave.as_ref(), now) {
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

    /// Reads an application the caller may see; others answer as not found.
    pub async fn application(&self, caller: &Caller, id: &str) -> Result<Application, ServiceError> {
        let role = require(
            caller,
            &[Role::Reviewer, Role::Clerk, Role::Holder],
            "Reading an application",
        )?;
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
            Ok(application)
        } else {
            Err(not_found())
        }
    }

    /// Reads a holder's own application for a change they make.
    async fn own_application(&self, caller: &Caller, id: &str, what: &str) -> Result<Application, ServiceError> {
        require(caller, &[Role::Holder], what)?;
        match self.records.application(id).await? {
            Some(a) if a.holder_id == caller.id => Ok(a),
            _ => Err(ServiceError::NotFound {
                what: "application",
                id: id.into(),
            }),
        }
    }

    async fn store_transition(&self, mut application: Application) -> Result<Application, ServiceError> {
        let expected = application.version;
        application.version = expected + 1;
        self.records.update_application(&application, expected).await?;
        Ok(application)
    }

    pub async fn withdraw(&self, caller: &Caller, id: &str) -> Result<Application, ServiceError> {
        let mut application = self.own_application(caller, id, "Withdrawing an application").await?;
        application.withdraw(&caller.actor(Role::Holder), self.now())?;
        let application = self.store_transition(application).await?;
        tracing::info!(application = %application.id, "application withdrawn");
        Ok(application)
    }

    /// R3: the holder confirms the photo on file with a passed real-person check.
    pub async fn confirm_liveness(
        &self,
        caller: &Caller,
        id: &str,
        request: ConfirmLiveness,
    ) -> Result<Application, ServiceError> {
        let mut application = self.own_application(caller, id, "Confirming the photo on file").await?;
        // Refuse a check on an application in the wrong state before asking the liveness service.
        if application.state != crate::applications::application::ApplicationState::AwaitingLiveness {
            return Err(IllegalTransition {
                action: "confirm the photo on file of",
                from: application.state,
            }
            .into());
        }
        let outcome = self
            .liveness
            .check(&request.liveness_session_id, &application.holder_id)
            .await
            .map_err(|e| match e {
                LivenessError::InvalidSession(m) => ServiceError::LivenessSessionInvalid(m),
                LivenessError::Unavailable(m) => ServiceError::Unavailable(m),
            })?;
        let detail = format!("liveness {} confidence {:.1}", outcome.reference, outcome.confidence);
        application.record_liveness(outcome.passed, &caller.actor(Role::Holder), self.now(), detail)?;
        let application = self.store_transition(application).await?;
        tracing::info!(application = %application.id, passed = outcome.passed, "liveness recorded");
        if !outcome.passed {
            return Err(ServiceError::LivenessFailed {
                confidence: outcome.confidence,
            });
        }
        self.hand_to_issuer(&application).await;
        Ok(application)
    }

    /// Approved applications go to the issuer when one is deployed; a failure
    /// leaves the application approved, to be retried by issuance.
    async fn hand_to_issuer(&self, application: &Application) {
        if application.state != crate::applications::application::ApplicationState::Approved {
            return;
        }
        match &self.issuer {
            Some(issuer) => {
                if let Err(e) = issuer.request_issuance(application).await {
                    tracing::warn!(application = %application.id, error = %e, "issuance failed; application stays approved");
                }
            }
            None => tracing::info!(application = %application.id, "application approved; awaiting issuance"),
        }
    }

    /// `POST /admin/licences`: JSON Lines, all validated before anything is written.
    pub async fn import_licences(&self, caller: &Caller, body: &str) -> Result<ImportReport, ServiceError> {
        require(caller, &[Role::Admin], "Importing licences")?;
        let import = JsonLinesImport {
            what: "licence",
            max_lines: self.limits.max_import_lines,
            key_field: "number",
        };
        let licences = import.parse(
            body,
            |l: &Licence| l.number.clone(),
            |licence: &mut Licence| {
                licence.states.sort();
                licence.validate()
            },
        )?;
        self.records.import_licences(&licences).await?;
        tracing::info!(by = %caller.id, count = licences.len(), "licences imported");
        Ok(ImportReport {
            imported: licences.len(),
        })
    }

    pub async fn licence_for_admin(&self, caller: &Caller, number: &str) -> Result<LicenceView, ServiceError> {
        require(caller, &[Role::Admin], "Reading the register")?;
        let licence = self
            .records
            .licence(number)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "licence",
                id: number.into(),
            })?;
        let changes = self.records.licence_changes(number).await?;
        Ok(LicenceView {
            refusals: eligibility::refusals(&licence, self.today()),
            licence,
            changes,
            supersedes_electronic_licence: None,
        })
    }

    /// `PATCH /admin/licences/{number}`: points, states, renewal (R7, R11).
    pub async fn change_licence(
        &self,
        caller: &Caller,
        number: &str,
        request: LicenceChange,
    ) -> Result<LicenceView, ServiceError> {
        require(caller, &[Role::Admin], "Changing a licence")?;
        let licence = self
            .records
            .licence(number)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "licence",
                id: number.into(),
            })?;
        if let Some(expected) = request.expected_version {
            if expected != licence.version {
                return Err(ServiceError::Conflict);
            }
        }
        let (mut next, changed) = change::apply(&licence, &request).map_err(|errors| ServiceError::Invalid {
            detail: "The change is not valid; nothing was changed.".into(),
            errors: errors.into_iter().map(InputError::from).collect(),
        })?;
        if changed.is_empty() {
            return Err(ServiceError::invalid(
                "The change names nothing that differs from the register.",
            ));
        }
        next.version = licence.version + 1;
        let supersedes = change::supersedes_electronic_licence(&changed);
        let record = ChangeRecord {
            licence_number: number.into(),
            at: self.now(),
            by: caller.actor(Role::Admin),
            reason: request.reason.trim().to_string(),
            changed,
            supersedes_electronic_licence: supersedes,
            version: next.version,
        };
        self.records.change_licence(&next, licence.version, &record).await?;
        tracing::info!(licence = %number, by = %caller.id, fields = ?record.changed, "licence changed");
        if supersedes {
            self.supersede_electronic_licence(&next.holder_id, &record.reason)
                .await?;
        }
        let changes = self.records.licence_changes(number).await?;
        Ok(LicenceView {
            refusals: eligibility::refusals(&next, self.today()),
            licence: next,
            changes,
            supersedes_electronic_licence: Some(supersedes),
        })
    }

    /// Notices are best effort: the record is the truth, the push a courtesy.
    pub(crate) async fn notify(&self, notice: &Notice) {
        if let Some(notifier) = &self.notifier {
            if let Err(e) = notifier.notify(notice).await {
                tracing::warn!(error = %e, "notice not delivered");
            }
        }
    }

    /// R11: a change of classes, validity or issuing authority ends the
    /// holder's electronic licence; the holder is told to apply again.
    async fn supersede_electronic_licence(&self, holder_id: &str, reason: &str) -> Result<(), ServiceError> {
        let status = EdlStatus::Superseded {
            at: self.now(),
            reason: format!("licence changed: {reason}"),
            by_serial: None,
        };
        if let Some(serial) = self.end_electronic_licence(holder_id, status).await? {
            self.notify(&Notice::LicenceSuperseded {
                holder_id: holder_id.into(),
                serial,
                reason: reason.into(),
            })
            .await;
        }
        Ok(())
    }

    /// R15: stops the holder's electronic licence, if any, with the reason recorded.
    pub(crate) async fn stop_electronic_licence(
        &self,
        holder_id: &str,
        reason: &str,
        by: crate::kernel::caller::Actor,
    ) -> Result<(), ServiceError> {
        let status = EdlStatus::Stopped {
            at: self.now(),
            reason: reason.into(),
            by,
        };
        self.end_electronic_licence(holder_id, status).await.map(|_| ())
    }

    /// Moves the holder's active electronic licence, if any, to `status`;
    /// the serial when one was ended. A concurrent change is read again.
    async fn end_electronic_licence(&self, holder_id: &str, status: EdlStatus) -> Result<Option<String>, ServiceError> {
        let Some(serial) = self.records.current_serial_of(holder_id).await? else {
            return Ok(None);
        };
        let (records, serial_ref, status) = (&self.records, &serial, &status);
        let ended = retry_on_conflict(ATTEMPTS, move || async move {
            let Some(mut edl) = records.electronic_licence(serial_ref).await? else {
                return Ok(false);
            };
            if !edl.is_active() {
                return Ok(false);
            }
            let expected = edl.version;
            edl.status = status.clone();
            edl.version += 1;
            records.update_electronic_licence(&edl, expected).await.map(|()| true)
        })
        .await?;
        if !ended {
            return Ok(None);
        }
        tracing::info!(serial = %serial, "electronic licence ended");
        Ok(Some(serial))
    }

    pub async fn rollout(&self, caller: &Caller) -> Result<RolloutView, ServiceError> {
        require(caller, &[Role::Admin], "Reading the rollout")?;
        let now = self.now();
        let waves = self.records.waves().await?;
        let cities = self
            .records
            .cities()
            .await?
            .into_iter()
            .map(|city| {
                let wave = waves.iter().find(|w| w.id == city.wave);
                CityView {
                    availability: city.availability(wave, now),
                    city,
                }
            })
            .collect();
        Ok(RolloutView {
            at: now,
            waves,
            cities,
            changes: self.records.rollout_changes().await?,
        })
    }

    /// R2: switch one city on (at a time), or off with null.
    pub async fn switch_city(
        &self,
        caller: &Caller,
        code: &str,
        request: SwitchRequest,
    ) -> Result<CityView, ServiceError> {
        require(caller, &[Role::Admin], "Switching a city")?;
        let switch = request.switch(self.now())?;
        let mut city = self.records.city(code).await?.ok_or_else(|| ServiceError::NotFound {
            what: "city",
            id: code.into(),
        })?;
        let change = RolloutChange {
            target: format!("city:{code}"),
            at: self.now(),
            by: caller.actor(Role::Admin),
            go_live_before: city.go_live_at,
            go_live_after: switch.go_live_at,
        };
        let expected = city.version;
        city.go_live_at = switch.go_live_at;
        city.version = expected + 1;
        self.records.switch_city(&city, expected, &change).await?;
        tracing::info!(city = %code, by = %caller.id, "city switched");
        let wave = self.records.wave(&city.wave).await?;
        Ok(CityView {
            availability: city.availability(wave.as_ref(), self.now()),
            city,
        })
    }

    /// R2: switch a whole wave on (at a time), or off with null.
    pub async fn switch_wave(&self, caller: &Caller, id: &str, request: SwitchRequest) -> Result<Wave, ServiceError> {
        require(caller, &[Role::Admin], "Switching a wave")?;
        let switch = request.switch(self.now())?;
        let mut wave = self.records.wave(id).await?.ok_or_else(|| ServiceError::NotFound {
            what: "wave",
            id: id.into(),
        })?;
        let change = RolloutChange {
            target: format!("wave:{id}"),
            at: self.now(),
            by: caller.actor(Role::Admin),
            go_live_before: wave.go_live_at,
            go_live_after: switch.go_live_at,
        };
        let expected = wave.version;
        wave.go_live_at = switch.go_live_at;
        wave.version = expected + 1;
        self.records.switch_wave(&wave, expected, &change).await?;
        tracing::info!(wave = %id, by = %caller.id, "wave switched");
        Ok(wave)
    }
}
