//! Verification (R7, R9, R15): officers and relying parties check what a holder shows, offline
//! against the published keys, then online against the live record; every check is recorded.

use super::{authorise, ServiceError, Services};
use crate::credential::{barcode, cert, mdoc, showcode};
use crate::issuance::edl::{self, ElectronicLicence};
use crate::kernel::access::Action;
use crate::kernel::caller::{Caller, Role};
use crate::kernel::check_log::CheckLog;
use crate::kernel::Colour;
use crate::register::licence::{Licence, VehicleClass};
use crate::verification::check::CheckRecord;
use crate::verification::disclosure::disclose;
use crate::verification::ports::{TrustEntry, TrustRole, TrustStatus};
use crate::verification::standing::standing;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Clock skew allowed between the holder's phone, the terminal and us.
pub const SKEW_SECONDS: i64 = 30;
/// How long the keys read from the records are trusted before being read again.
pub const TRUST_CACHE_SECONDS: i64 = 300;
pub const MAX_CODE_LENGTH: usize = 4096;
pub const MAX_MDOC_BASE64: usize = 700_000;
/// The reason a signed document past its `validUntil` is refused with (its licence may live on).
pub const DOCUMENT_EXPIRED: &str = "document-expired";
/// The purpose an officer's check is recorded under when none is stated.
pub const ENFORCEMENT: &str = "traffic_enforcement";

/// `POST /verifications`: exactly one of `code`, `barcode`, `mdoc`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VerificationRequest {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub barcode: Option<String>,
    /// An ISO 18013-5 `IssuerSigned` or `DeviceResponse`, base64.
    #[serde(default)]
    pub mdoc: Option<String>,
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
    pub check_id: String,
}

/// A document signer whose certificate chains to an active IACA.
#[derive(Debug, Clone)]
pub struct TrustedSigner {
    pub public_sec1: Vec<u8>,
    pub certificate: Vec<u8>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    pub status: TrustStatus,
}

/// The keys verification trusts, held in memory.
#[derive(Debug, Clone, Default)]
pub struct TrustSet {
    /// The active IACA certificates, by kid.
    pub iacas: Vec<(String, Vec<u8>)>,
    pub signers: HashMap<String, TrustedSigner>,
    pub entries: Vec<TrustEntry>,
}

/// Shared across requests of one process (one Lambda container).
#[derive(Default)]
pub struct TrustCache {
    inner: Mutex<Option<(DateTime<Utc>, Arc<TrustSet>)>>,
}

impl TrustCache {
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.lock() {
            *inner = None;
        }
    }
}

/// The public trust document (`GET /.well-known/edl/trust`).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustDocument {
    pub iaca: Vec<Value>,
    pub document_signers: Vec<Value>,
    pub updated_at: DateTime<Utc>,
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

fn jwk(kid: &str, public_sec1: &[u8]) -> Value {
    if public_sec1.len() != 65 {
        return Value::Null;
    }
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&public_sec1[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&public_sec1[33..65]),
        "kid": kid,
        "alg": "ES256",
        "use": "sig",
    })
}

impl Services {
    /// The keys to verify with, from memory; read again every few minutes
    /// so that a rotation or retirement reaches every container.
    pub async fn trust_set(&self) -> Result<Arc<TrustSet>, ServiceError> {
        let now = self.now();
        if let Ok(inner) = self.trust_cache.inner.lock() {
            if let Some((loaded, set)) = inner.as_ref() {
                if now - *loaded < Duration::seconds(TRUST_CACHE_SECONDS) && now >= *loaded {
                    return Ok(set.clone());
                }
            }
        }
        let entries = self.records.trust().await?;
        let decode = |e: &TrustEntry| STANDARD.decode(&e.certificate).ok();
        let iacas: Vec<(String, Vec<u8>)> = entries
            .iter()
            .filter(|e| e.role == TrustRole::Iaca && e.status == TrustStatus::Active)
            .filter_map(|e| decode(e).map(|der| (e.kid.clone(), der)))
            .collect();
        let mut signers = HashMap::new();
        for entry in entries.iter().filter(|e| e.role == TrustRole::DocumentSigner) {
            let Some(der) = decode(entry) else { continue };
            // A document signer is trusted only if it chains to one of our IACAs;
            // checked once here, at a time inside its own validity.
            for (_, iaca) in &iacas {
                let Ok(public) = cert::public_key_of(&der) else {
                    continue;
                };
                let probe = probe_time(&der).unwrap_or(now);
                if let Ok(info) = cert::verify_document_signer(iaca, &der, probe) {
                    signers.insert(
                        entry.kid.clone(),
                        TrustedSigner {
                            public_sec1: public,
                            certificate: der.clone(),
                            not_before: info.not_before,
                            not_after: info.not_after,
                            status: entry.status,
                        },
                    );
                    break;
                }
            }
        }
        let set = Arc::new(TrustSet {
            iacas,
            signers,
            entries,
        });
        if let Ok(mut inner) = self.trust_cache.inner.lock() {
            *inner = Some((now, set.clone()));
        }
        Ok(set)
    }

    /// `GET /.well-known/edl/trust`: everything needed to verify offline.
    pub async fn trust_document(&self) -> Result<TrustDocument, ServiceError> {
        let set = self.trust_set().await?;
        let iaca = set
            .entries
            .iter()
            .filter(|e| e.role == TrustRole::Iaca)
            .map(|e| json!({ "kid": e.kid, "status": e.status, "certificate": e.certificate }))
            .collect();
        let now = self.now();
        // A retired signer stays until its certificate ends: it signed no document that outlives
        // its certificate (less the margin), so by then everything it signed has ended.
        let document_signers = set
            .entries
            .iter()
            .filter(|e| e.role == TrustRole::DocumentSigner)
            .filter(|e| {
                set.signers
                    .get(&e.kid)
                    .is_none_or(|s| s.not_after + Duration::seconds(SKEW_SECONDS) >= now)
            })
            .map(|e| {
                let public = set
                    .signers
                    .get(&e.kid)
                    .map(|s| s.public_sec1.clone())
                    .unwrap_or_default();
                json!({
                    "kid": e.kid,
                    "status": e.status,
                    "certificate": e.certificate,
                    "jwk": jwk(&e.kid, &public),
                    "notBefore": set.signers.get(&e.kid).map(|s| s.not_before),
                    "notAfter": set.signers.get(&e.kid).map(|s| s.not_after),
                })
            })
            .collect();
        Ok(TrustDocument {
            iaca,
            document_signers,
            updated_at: now,
        })
    }

    /// `POST /verifications` (R9). A presented credential that fails a check
    /// is an answer (`valid: false` with the reason), not an error; errors
    /// are for requests that are themselves wrong.
    pub async fn verify(
        &self,
        caller: &Caller,
        request: VerificationRequest,
    ) -> Result<VerificationResult, ServiceError> {
        let role = authorise(caller, Action::VerifyLicence)?;
        let allowed: Vec<String> = match role {
            Role::Officer => self.disclosure.officer.clone(),
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
                    .map(|p| p.fields.clone())
                    .ok_or_else(|| {
                        ServiceError::invalid(format!(
                            "Unknown purpose {purpose:?}; the configured purposes are {}.",
                            self.disclosure.purposes.keys().cloned().collect::<Vec<_>>().join(", ")
                        ))
                    })?
            }
        };
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
        ]
        .iter()
        .filter(|p| **p)
        .count();
        if presented != 1 {
            return Err(ServiceError::invalid(
                "Present exactly one of code (the QR content), barcode (the serial with its check character) or mdoc.",
            ));
        }
        let now = self.now();
        let (method, outcome) = if let Some(code) = &request.code {
            if code.len() > MAX_CODE_LENGTH {
                return Err(ServiceError::TooLarge { limit: MAX_CODE_LENGTH });
            }
            ("code", self.check_code(code, showcode::CodeKind::Licence, now).await?)
        } else if let Some(serial) = &request.barcode {
            ("barcode", check_barcode(serial))
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
                    disclose(&allowed, edl, licence, &changes, request.class, today, now),
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
            check_id: check.id,
        })
    }

    /// The show code, in order: format, known key, signature, validity. The serial when all pass.
    pub(super) async fn check_code(
        &self,
        code: &str,
        kind: showcode::CodeKind,
        now: DateTime<Utc>,
    ) -> Result<Result<String, Failure>, ServiceError> {
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
        if let Err(e) = signed.verify(&signer.public_sec1) {
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
        Ok(Ok(signed.claims.serial))
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
        // A DeviceResponse (what a holder's device presents) carries the
        // IssuerSigned of its first document; its device signature binds it to a
        // proximity session transcript, which an online check does not have.
        let bytes = issuer_signed_of_device_response(&bytes).unwrap_or(bytes);
        let (verified, document_ended) = match mdoc::verify_document(&bytes, kind.doc_type, now, SKEW_SECONDS) {
            Ok(v) => (v, None),
            // A document past its validUntil is refused with its own reason; checked as of its
            // last second, so that the serial it names is known and a licence that ended says so.
            Err(e @ mdoc::MdocError::Expired { valid_until, .. }) if kind.doc_type == mdoc::DOC_TYPE => {
                match mdoc::verify_document(&bytes, kind.doc_type, valid_until, SKEW_SECONDS) {
                    Ok(v) => (v, Some(e)),
                    Err(_) => return Ok(Err(fail(mdoc_reason(&e), e.to_string()))),
                }
            }
            Err(e) => return Ok(Err(fail(mdoc_reason(&e), e.to_string()))),
        };
        let trust = self.trust_set().await?;
        let chained = trust.iacas.iter().any(|(_, iaca)| {
            cert::verify_document_signer(iaca, &verified.document_signer_der, verified.signed).is_ok()
        });
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
    pub async fn licence_checks(&self, caller: &Caller) -> Result<Vec<CheckRecord>, ServiceError> {
        authorise(caller, Action::LicenceChecks)?;
        let mut checks = CheckLog::<CheckRecord>::checks_of(&*self.records, &caller.id, 200).await?;
        // The holder sees who and why, not the internal holder key again.
        for check in &mut checks {
            check.holder_id = None;
        }
        Ok(checks)
    }
}

/// A time inside the certificate's validity, to check the chain once when loading.
fn probe_time(der: &[u8]) -> Option<DateTime<Utc>> {
    use der::Decode;
    let certificate = x509_cert::Certificate::from_der(der).ok()?;
    let validity = &certificate.tbs_certificate.validity;
    let from = DateTime::<Utc>::from(validity.not_before.to_system_time());
    Some(from + Duration::seconds(1))
}

/// The first document's `issuerSigned`, re-encoded, when `bytes` is a DeviceResponse.
fn issuer_signed_of_device_response(bytes: &[u8]) -> Option<Vec<u8>> {
    let value: ciborium::Value = ciborium::de::from_reader(bytes).ok()?;
    let map = value.as_map()?;
    let documents = map
        .iter()
        .find(|(k, _)| k.as_text() == Some("documents"))
        .and_then(|(_, v)| v.as_array())?;
    let first = documents.first()?.as_map()?;
    let issuer_signed = first
        .iter()
        .find(|(k, _)| k.as_text() == Some("issuerSigned"))
        .map(|(_, v)| v.clone())?;
    let mut out = Vec::new();
    ciborium::ser::into_writer(&issuer_signed, &mut out).ok()?;
    Some(out)
}

fn check_barcode(value: &str) -> Result<String, Failure> {
    let value = value.trim();
    if value.len() != 21 || !barcode::check_character_valid(value) {
        return Err(fail(
            "bad-check-character",
            "The barcode is not a licence serial with a valid check character.",
        ));
    }
    Ok(value[..20].to_string())
}

fn mdoc_reason(e: &mdoc::MdocError) -> &'static str {
    use mdoc::MdocError::*;
    match e {
        BadSignature | KeyMismatch => "bad-signature",
        MissingDigest { .. } | DigestMismatch { .. } => "digest-mismatch",
        NotYetValid { .. } => "not-yet-valid",
        Expired { .. } => "expired",
        WrongDocType { .. } => "wrong-doc-type",
        UnsupportedAlgorithm(_) | UnsupportedDigestAlgorithm(_) => "wrong-algorithm",
        Certificate(_) => "untrusted-certificate",
        _ => "bad-mdoc",
    }
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
