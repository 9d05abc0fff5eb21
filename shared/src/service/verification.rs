//! Verification (R7, R9, R15): officers and relying parties check what a holder shows, offline
//! against the published keys, then online against the live record; every check is recorded.

use super::{authorise, ServiceError, Services};
use crate::credential::presentation::{self, SessionTranscript};
use crate::credential::{barcode, mdoc, showcode};
use crate::issuance::edl::{self, ElectronicLicence};
use crate::kernel::access::Action;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::check_log::CheckLog;
use crate::kernel::Colour;
use crate::register::licence::{Licence, VehicleClass};
use crate::verification::check::CheckRecord;
use crate::verification::disclosure::disclose;
use crate::verification::ports::DrawnNonce;
use crate::verification::standing::standing;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

// The trust types moved to `service::trust`; their old paths stay.
pub use super::quotas::SpentQuotas;
pub use super::trust::{IacaPin, InvalidPin, TrustCache, TrustDocument, TrustSet, TrustedSigner};

/// Clock skew allowed between the holder's phone, the terminal and us.
pub const SKEW_SECONDS: i64 = 30;
pub const MAX_CODE_LENGTH: usize = 4096;
pub const MAX_MDOC_BASE64: usize = 700_000;
/// The reason a signed document past its `validUntil` is refused with (its licence may live on).
pub const DOCUMENT_EXPIRED: &str = "document-expired";
/// The purpose an officer's check is recorded under when none is stated.
pub const ENFORCEMENT: &str = "traffic_enforcement";
/// How long a drawn nonce may be presented: time to show it to the app and for the holder to consent.
pub const NONCE_SECONDS: i64 = 120;
/// A drawn nonce's bytes (256 bits: never drawn twice, never guessed).
pub const NONCE_BYTES: usize = 32;

/// `POST /verifications`: exactly one of `code`, `barcode`, `mdoc`, `deviceResponse` (with its `nonce`).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationRequest {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub barcode: Option<String>,
    /// An ISO 18013-5 `IssuerSigned`, base64 (officers only: it proves the issuer's data, not who holds it).
    #[serde(default)]
    pub mdoc: Option<String>,
    /// The holder's ISO 18013-5 `DeviceResponse`, base64, signed by the device over the online session
    /// transcript of `nonce` (see `credential::presentation`).
    #[serde(default)]
    pub device_response: Option<String>,
    /// The nonce this verifier drew (`POST /verifications/nonces`), as it was handed out.
    #[serde(default)]
    pub nonce: Option<String>,
    /// Required of a relying party: one of the configured purposes.
    #[serde(default)]
    pub purpose: Option<String>,
    /// The vehicle class the verifier asks about (`mayDrive`).
    #[serde(default)]
    pub class: Option<VehicleClass>,
}

/// The answer a terminal shows at a glance.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerificationResult {
    pub valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub colour: Option<Colour>,
    /// The first check that failed, as a stable code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    pub method: &'static str,
    pub purpose: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub disclosed: Map<String, Value>,
    pub checked_at: DateTime<Utc>,
    /// When the live state was read; absent when the check stopped before it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub live_state_at: Option<DateTime<Utc>>,
    /// How long ago the show code was made (its `iat`), for a code that verified: a screenshot is old.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_age_seconds: Option<i64>,
    pub check_id: String,
}

/// `POST /verifications/nonces`: a fresh nonce for one device-bound presentation.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NonceAnswer {
    /// base64url without padding; the app decodes it to the bytes of the online handover.
    pub nonce: String,
    pub expires_at: DateTime<Utc>,
    /// The session transcript the holder's device signs over, in CBOR diagnostic notation.
    pub session_transcript: String,
}

/// What a step found wrong: a reason code and its explanation.
pub(super) struct Failure {
    pub(super) reason: String,
    pub(super) detail: String,
    pub(super) serial: Option<String>,
}

/// Which signed document an mdoc must be, and where its serial is.
pub(super) struct DocumentKind {
    pub(super) doc_type: &'static str,
    pub(super) namespace: &'static str,
    pub(super) serial_element: &'static str,
}

pub(super) const LICENCE_DOCUMENT: DocumentKind = DocumentKind {
    doc_type: mdoc::DOC_TYPE,
    namespace: mdoc::DOMESTIC_NAMESPACE,
    serial_element: "licence_serial",
};

pub(super) fn fail(reason: &str, detail: impl Into<String>) -> Failure {
    Failure {
        reason: reason.into(),
        detail: detail.into(),
        serial: None,
    }
}

impl Services {
    /// `POST /verifications` (R9). A presented credential that fails a check
    /// is an answer (`valid: false` with the reason), not an error; errors
    /// are for requests that are themselves wrong.
    pub async fn verify(
        &self,
        caller: &Caller,
        request: VerificationRequest,
    ) -> Result<VerificationResult, ServiceError> {
        let role = authorise(caller, Action::VerifyLicence)?;
        let allowed: &[String] = match role {
            Role::Officer => &self.disclosure.officer,
            _ => {
                let purpose = request.purpose.as_deref().ok_or_else(|| {
                    ServiceError::invalid(format!(
                        "A relying party states its purpose: one of {}.",
                        self.disclosure.purposes.keys().cloned().collect::<Vec<_>>().join(", ")
                    ))
                })?;
                self.disclosure
                    .purposes
                    .get(purpose)
                    .map(|p| p.fields.as_slice())
                    .ok_or_else(|| {
                        ServiceError::invalid(format!(
                            "Unknown purpose {purpose:?}; the configured purposes are {}.",
                            self.disclosure.purposes.keys().cloned().collect::<Vec<_>>().join(", ")
                        ))
                    })?
            }
        };
        let counted = self.spend_quota(caller).await?;
        let purpose = request.purpose.clone().unwrap_or_else(|| ENFORCEMENT.to_string());
        if role == Role::Officer
            && request.purpose.is_some()
            && !self.disclosure.purposes.contains_key(&purpose)
            && purpose != ENFORCEMENT
        {
            return Err(ServiceError::invalid(format!("Unknown purpose {purpose:?}.")));
        }
        let presented = [
            request.code.is_some(),
            request.barcode.is_some(),
            request.mdoc.is_some(),
            request.device_response.is_some(),
        ]
        .iter()
        .filter(|p| **p)
        .count();
        if presented != 1 {
            return Err(ServiceError::invalid(
                "Present exactly one of code (the QR content), barcode (the serial with its check character), mdoc \
                 or deviceResponse (with its nonce).",
            ));
        }
        if request.device_response.is_some() != request.nonce.is_some() {
            return Err(ServiceError::invalid(
                "A deviceResponse is presented with the nonce it was signed over (from POST /verifications/nonces), \
                 and a nonce only with a deviceResponse.",
            ));
        }
        let now = self.now();
        // Knowing a serial, or holding a copy of someone's mdoc, proves nothing about who presents it: only an
        // officer, who compares the portrait with the person in front of them, may present either.
        if role != Role::Officer {
            if request.barcode.is_some() {
                self.measure(caller, &counted, Some("barcode-not-allowed"), now).await?;
                return Err(ServiceError::PresentationNotAllowed {
                    method: "barcode",
                    detail: "A relying party cannot look a licence up by its serial: present the holder's show code \
                             (code) or the holder's device-bound presentation (deviceResponse over a nonce from \
                             POST /verifications/nonces)."
                        .into(),
                });
            }
            if request.mdoc.is_some() {
                return Err(ServiceError::PresentationNotAllowed {
                    method: "mdoc",
                    detail: "A relying party cannot accept a bare mdoc, which anyone holding a copy could present: \
                             present the holder's device-bound presentation (deviceResponse over a nonce from \
                             POST /verifications/nonces) or show code (code)."
                        .into(),
                });
            }
        }
        let mut code_age_seconds = None;
        let (method, outcome) = if let Some(code) = &request.code {
            if code.len() > MAX_CODE_LENGTH {
                return Err(ServiceError::TooLarge { limit: MAX_CODE_LENGTH });
            }
            let claims = self.check_code_claims(code, showcode::CodeKind::Licence, now).await?;
            if let Ok(claims) = &claims {
                code_age_seconds = Some((now.timestamp() - claims.issued_at).max(0));
            }
            ("code", claims.map(|c| c.serial))
        } else if let Some(serial) = &request.barcode {
            ("barcode", check_barcode(serial))
        } else if let Some(text) = &request.device_response {
            if text.len() > MAX_MDOC_BASE64 {
                return Err(ServiceError::TooLarge { limit: MAX_MDOC_BASE64 });
            }
            let nonce = request.nonce.as_deref().unwrap_or_default();
            (
                "device",
                self.check_device_response(caller, text, nonce, &LICENCE_DOCUMENT, now)
                    .await?,
            )
        } else {
            let text = request.mdoc.as_deref().unwrap_or_default();
            if text.len() > MAX_MDOC_BASE64 {
                return Err(ServiceError::TooLarge { limit: MAX_MDOC_BASE64 });
            }
            ("mdoc", self.check_mdoc(text, &LICENCE_DOCUMENT, now).await?)
        };
        // The live state, for whatever serial the credential named.
        let mut live = None;
        let outcome = match outcome {
            // A document that ended: the licence's own life speaks first (licence-expired, stopped...).
            Err(f) if f.reason == DOCUMENT_EXPIRED => match f.serial.as_deref() {
                Some(serial) => match self.live(serial).await? {
                    Some((edl, licence)) => match standing(&edl, &licence, self.today(), now) {
                        Err(reason) => Err(Failure {
                            reason: reason.into(),
                            detail: live_detail(reason),
                            ..f
                        }),
                        Ok(()) => Err(f),
                    },
                    None => Err(f),
                },
                None => Err(f),
            },
            Ok(serial) => match self.live(&serial).await? {
                Some((edl, licence)) => {
                    let today = self.today();
                    let standing = standing(&edl, &licence, today, now).and_then(|()| {
                        // A show code stands on the licence's current document: one past its end
                        // (its refresh failed) is refused as the document would be.
                        if method == "code" && now > edl.document_valid_until + Duration::seconds(SKEW_SECONDS) {
                            Err(DOCUMENT_EXPIRED)
                        } else {
                            Ok(())
                        }
                    });
                    live = Some((edl, licence));
                    match standing {
                        Ok(()) => Ok(serial),
                        Err(reason) => Err(Failure {
                            reason: reason.into(),
                            detail: live_detail(reason),
                            serial: Some(serial),
                        }),
                    }
                }
                None => Err(Failure {
                    serial: Some(serial),
                    ..fail("unknown-licence", "No electronic licence has this serial.")
                }),
            },
            Err(failure) => Err(failure),
        };
        let today = self.today();
        let (valid, reason, detail, serial) = match &outcome {
            Ok(serial) => (true, None, None, Some(serial.clone())),
            Err(f) => (false, Some(f.reason.clone()), Some(f.detail.clone()), f.serial.clone()),
        };
        // Only a verified, standing licence discloses anything.
        let (disclosed, colour) = match (&live, valid) {
            (Some((edl, licence)), true) => {
                let changes = if allowed.iter().any(|f| f == "record") {
                    self.records.licence_changes(&licence.number).await?
                } else {
                    Vec::new()
                };
                (
                    disclose(allowed, edl, licence, &changes, request.class, today, now),
                    Some(edl::colour(licence, today)),
                )
            }
            _ => (Map::new(), None),
        };
        // A verified serial whose check failed later (an expired code) is still
        // the holder's business: record it where the holder will see it.
        let holder_id = match (&live, &serial) {
            (Some((edl, _)), _) => Some(edl.holder_id.clone()),
            (None, Some(serial)) => self.records.electronic_licence(serial).await?.map(|e| e.holder_id),
            (None, None) => None,
        };
        let check = CheckRecord {
            id: uuid::Uuid::now_v7().to_string(),
            at: now,
            verifier_id: caller.id.clone(),
            organisation: caller.organisation.clone(),
            role,
            purpose: purpose.clone(),
            method: method.into(),
            serial: serial.clone(),
            holder_id,
            valid,
            reason: reason.clone(),
        };
        self.records.record(&check).await?;
        self.measure(caller, &counted, reason.as_deref(), now).await?;
        tracing::info!(check = %check.id, valid, reason = ?reason, method, "verification recorded");
        Ok(VerificationResult {
            valid,
            colour,
            reason,
            detail,
            method,
            purpose,
            serial,
            disclosed,
            checked_at: now,
            live_state_at: live.as_ref().map(|_| now),
            code_age_seconds,
            check_id: check.id,
        })
    }

    /// `POST /verifications/nonces`: a fresh single-use nonce for a device-bound presentation (R7), kept for
    /// [`NONCE_SECONDS`] and bound to the verifier who drew it.
    pub async fn draw_nonce(&self, caller: &Caller) -> Result<NonceAnswer, ServiceError> {
        authorise(caller, Action::DrawNonce)?;
        self.spend_quota(caller).await?;
        let mut bytes = [0u8; NONCE_BYTES];
        rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut bytes)
            .map_err(|e| ServiceError::Unavailable(format!("the random source failed: {e}")))?;
        let nonce = URL_SAFE_NO_PAD.encode(bytes);
        let expires_at = self.now() + Duration::seconds(NONCE_SECONDS);
        self.records
            .keep_nonce(&DrawnNonce {
                nonce: nonce.clone(),
                verifier_id: caller.id.clone(),
                expires_at: expires_at.timestamp(),
            })
            .await?;
        Ok(NonceAnswer {
            session_transcript: format!(
                "[null, null, [\"{}\", h'{}']]",
                presentation::ONLINE_HANDOVER,
                hex::encode(bytes)
            ),
            nonce,
            expires_at,
        })
    }

    /// A device-bound presentation: the nonce consumed (once, whatever follows), then the DeviceResponse
    /// verified over the online transcript of that nonce, its certificate chained to our IACA.
    async fn check_device_response(
        &self,
        caller: &Caller,
        text: &str,
        nonce: &str,
        kind: &DocumentKind,
        now: DateTime<Utc>,
    ) -> Result<Result<String, Failure>, ServiceError> {
        let Ok(bytes) = STANDARD.decode(text.trim()) else {
            return Ok(Err(fail("bad-base64", "The deviceResponse is not base64.")));
        };
        let nonce = nonce.trim();
        let transcript = match URL_SAFE_NO_PAD.decode(nonce) {
            Ok(raw) => match SessionTranscript::online(&raw) {
                Ok(transcript) => transcript,
                Err(e) => return Ok(Err(fail(e.code(), e.to_string()))),
            },
            Err(_) => return Ok(Err(fail("bad-nonce", "The nonce is not base64url."))),
        };
        if !self.records.take_nonce(nonce, &caller.id, now.timestamp()).await? {
            return Ok(Err(fail(
                "unknown-nonce",
                "The nonce is not one you drew, was used already, or has expired; draw a fresh one.",
            )));
        }
        match presentation::verify_device_response(&bytes, kind.doc_type, &transcript, now, SKEW_SECONDS) {
            Ok(verified) => Ok(self.chained_serial(&verified, kind, None).await?),
            Err(e) => Ok(Err(fail(e.code(), e.to_string()))),
        }
    }

    /// The show code, in order: format, known key, signature, validity. The serial when all pass.
    pub(super) async fn check_code(
        &self,
        code: &str,
        kind: showcode::CodeKind,
        now: DateTime<Utc>,
    ) -> Result<Result<String, Failure>, ServiceError> {
        Ok(self
            .check_code_claims(code, kind, now)
            .await?
            .map(|claims| claims.serial))
    }

    /// [`Self::check_code`], handing back the verified claims.
    async fn check_code_claims(
        &self,
        code: &str,
        kind: showcode::CodeKind,
        now: DateTime<Utc>,
    ) -> Result<Result<showcode::ShowClaims, Failure>, ServiceError> {
        let signed = match showcode::decode(code.trim(), kind, showcode::DEFAULT_MAX_INFLATED) {
            Ok(signed) => signed,
            Err(e) => return Ok(Err(fail(e.code(), e.to_string()))),
        };
        let trust = self.trust_set().await?;
        let kid = String::from_utf8_lossy(&signed.kid).into_owned();
        let Some(signer) = trust.signers.get(&kid) else {
            return Ok(Err(fail(
                "unknown-kid",
                format!("The code was signed with key {kid:?}, which is not one of ours."),
            )));
        };
        if let Err(e) = signed.verify_with(&signer.key) {
            return Ok(Err(fail(e.code(), e.to_string())));
        }
        let at = now.timestamp();
        if let Err(e) = showcode::check_time(&signed.claims, at, SKEW_SECONDS) {
            return Ok(Err(Failure {
                serial: Some(signed.claims.serial.clone()),
                ..fail(e.code(), e.to_string())
            }));
        }
        if now < signer.not_before - Duration::seconds(SKEW_SECONDS)
            || now > signer.not_after + Duration::seconds(SKEW_SECONDS)
        {
            return Ok(Err(fail(
                "certificate-expired",
                "The key that signed the code is outside its certificate's validity.",
            )));
        }
        Ok(Ok(signed.claims))
    }

    /// An mdoc: structure, signature and digests, its certificate chaining to our IACA, validity.
    pub(super) async fn check_mdoc(
        &self,
        text: &str,
        kind: &DocumentKind,
        now: DateTime<Utc>,
    ) -> Result<Result<String, Failure>, ServiceError> {
        let Ok(bytes) = STANDARD.decode(text.trim()) else {
            return Ok(Err(fail("bad-base64", "The mdoc is not base64.")));
        };
        // A DeviceResponse is only as good as its device signature, which needs the verifier's nonce: taking
        // its IssuerSigned and ignoring the rest would accept one signed by any key, under any docType.
        if is_device_response(&bytes) {
            return Ok(Err(fail(
                "device-response-needs-nonce",
                "This is a DeviceResponse: present it as deviceResponse, with the nonce it was signed over.",
            )));
        }
        let (verified, document_ended) = match mdoc::verify_document(&bytes, kind.doc_type, now, SKEW_SECONDS) {
            Ok(v) => (v, None),
            // A licence document past its validUntil is refused with its own reason; checked as of its
            // last second, so that the serial it names is known and a licence that ended says so.
            Err(e @ mdoc::MdocError::Expired { valid_until, .. }) if kind.doc_type == mdoc::DOC_TYPE => {
                match mdoc::verify_document(&bytes, kind.doc_type, valid_until, SKEW_SECONDS) {
                    Ok(v) => (v, Some(e)),
                    Err(_) => return Ok(Err(fail(e.code(), e.to_string()))),
                }
            }
            Err(e) => return Ok(Err(fail(e.code(), e.to_string()))),
        };
        self.chained_serial(&verified, kind, document_ended).await
    }

    /// The serial of an mdoc whose issuer data verified, once its certificate chains to one of our IACAs.
    /// `document_ended`: the document verified as of its last second, and is refused as `document-expired`.
    async fn chained_serial(
        &self,
        verified: &mdoc::VerifiedMdoc,
        kind: &DocumentKind,
        document_ended: Option<mdoc::MdocError>,
    ) -> Result<Result<String, Failure>, ServiceError> {
        let trust = self.trust_set().await?;
        let chained = trust.chains_to_iaca(&verified.document_signer_der, verified.signed);
        if !chained {
            return Ok(Err(fail(
                "untrusted-certificate",
                "The mdoc's document-signer certificate does not chain to our IACA root.",
            )));
        }
        let serial = verified
            .elements
            .get(kind.namespace)
            .and_then(|e| e.get(kind.serial_element))
            .and_then(|v| v.as_str())
            .map(str::to_string);
        match (serial, document_ended) {
            (Some(serial), Some(e)) => Ok(Err(Failure {
                serial: Some(serial),
                ..fail(
                    DOCUMENT_EXPIRED,
                    format!("The signed document is {e}; the holder's app fetches a fresh one."),
                )
            })),
            (Some(serial), None) => Ok(Ok(serial)),
            (None, _) => Ok(Err(fail(
                "bad-claims",
                format!("The mdoc carries no {}.", kind.serial_element),
            ))),
        }
    }

    async fn live(&self, serial: &str) -> Result<Option<(ElectronicLicence, Licence)>, ServiceError> {
        let Some(edl) = self.records.electronic_licence(serial).await? else {
            return Ok(None);
        };
        let Some(licence) = self.records.licence(&edl.licence_number).await? else {
            return Ok(None);
        };
        Ok(Some((edl, licence)))
    }

    /// `GET /licence/checks`: who verified the holder's licences, when, why (R8, R15).
    pub async fn licence_checks(&self, caller: &Caller) -> Result<Vec<super::views::HolderCheckView>, ServiceError> {
        authorise(caller, Action::LicenceChecks)?;
        let checks = CheckLog::<CheckRecord>::checks_of(&*self.records, &caller.id, 200).await?;
        // The holder sees which organisation checked in which role and why, not the verifier's login id.
        Ok(checks.into_iter().map(Into::into).collect())
    }
}

/// Whether `bytes` is a CBOR map with a `documents` or `status` entry: a DeviceResponse, not an IssuerSigned.
fn is_device_response(bytes: &[u8]) -> bool {
    let Ok(value) = ciborium::de::from_reader::<ciborium::Value, _>(bytes) else {
        return false;
    };
    value.as_map().is_some_and(|map| {
        map.iter()
            .any(|(k, _)| matches!(k.as_text(), Some("documents") | Some("status")))
    })
}

fn check_barcode(value: &str) -> Result<String, Failure> {
    let value = value.trim();
    if value.len() != edl::SERIAL_DIGITS + 1 || !barcode::check_character_valid(value) {
        return Err(fail(
            "bad-check-character",
            "The barcode is not a licence serial with a valid check character.",
        ));
    }
    Ok(value[..edl::SERIAL_DIGITS].to_string())
}

fn live_detail(reason: &str) -> String {
    match reason {
        "superseded" => "This electronic licence was replaced or invalidated; the holder must apply again.",
        "stopped" => "This electronic licence was stopped by the authority.",
        "licence-expired" => "The licence is past its validity.",
        "licence-cancelled" => "The licence is cancelled.",
        "licence-announced-stopped" => "The licence was publicly announced as stopped.",
        "licence-suspended" => "The licence is detained or seized.",
        DOCUMENT_EXPIRED => "The licence's signed document has ended; the holder's app fetches a fresh one.",
        _ => "The licence does not stand.",
    }
    .to_string()
}
