//! Issuance (R3, R4, R7, R10, R11): an approved application becomes a signed ISO 18013-5 licence, exactly once.

use super::{ServiceError, Services};
use crate::applications::application::{ApplicationState, PhotoSource};
use crate::applications::portrait;
use crate::credential::{cert, mdoc};
use crate::issuance::edl::{new_serial, EdlStatus, ElectronicLicence};
use crate::issuance::ports::Issuance;
use crate::kernel::caller::Actor;
use crate::kernel::caller::Role;
use crate::kernel::notice::Notice;
use crate::kernel::signing::SignerError;
use crate::kernel::store::StoreError;
use crate::kernel::time::{local_date, local_instant};
use crate::kernel::versioned::{retry_on_conflict, ATTEMPTS};
use crate::register::licence::register_photo_key;
use crate::verification::ports::{TrustEntry, TrustRole, TrustStatus};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, NaiveTime, Utc};
use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum IssueOutcome {
    Issued {
        serial: String,
    },
    /// A retried or duplicated request: the licence exists, nothing new was made.
    AlreadyIssued {
        serial: String,
    },
}

/// The document signer that signs new documents and show codes.
#[derive(Debug, Clone)]
pub struct ActiveSigner {
    pub kid: String,
    pub key_id: String,
    pub certificate: Vec<u8>,
    pub not_after: DateTime<Utc>,
}

fn issuer_actor() -> Actor {
    Actor {
        id: "issuance".into(),
        role: Role::System,
    }
}

pub(crate) fn signer_error(e: SignerError) -> ServiceError {
    match e {
        SignerError::Disabled(key) => ServiceError::Unavailable(format!("the signing key {key} is disabled")),
        other => ServiceError::Unavailable(other.to_string()),
    }
}

/// The portrait issuance signs, and where it is kept.
struct SignedPortrait {
    key: String,
    jpeg: Vec<u8>,
}

impl Services {
    /// R3, R15: the portrait bound to the application at its approval, read back and signed only if its bytes
    /// still have the digest recorded then. An application approved before portraits were bound (no digest
    /// recorded) has its photo normalised now; one with no portrait at all cannot be issued, since ISO 18013-5
    /// makes the portrait mandatory.
    async fn approved_portrait(
        &self,
        application: &crate::applications::application::Application,
        licence: &crate::register::licence::Licence,
    ) -> Result<SignedPortrait, ServiceError> {
        let bound = match (
            &application.portrait_key,
            &application.portrait_sha256,
            &licence.photo_sha256,
        ) {
            (Some(key), sha256, _) => (key.clone(), sha256.clone()),
            (None, _, Some(sha256)) if application.photo_source == PhotoSource::OnFile => {
                (register_photo_key(sha256), Some(sha256.clone()))
            }
            _ => {
                return Err(ServiceError::Unavailable(format!(
                    "application {} has no approved portrait to sign",
                    application.id
                )))
            }
        };
        let (key, sha256) = bound;
        let bytes = self
            .photo_store()?
            .read(&key, self.photo_rules.max_bytes)
            .await
            .map_err(super::photos::photo_store_error)?;
        let jpeg = match sha256 {
            Some(expected) if portrait::sha256_hex(&bytes) == expected => bytes,
            Some(_) => {
                tracing::warn!(application = %application.id, "issuance refused: the portrait changed after approval");
                return Err(ServiceError::PhotoChanged(
                    "The stored portrait is not the one approved; the licence was not issued.".into(),
                ));
            }
            None => {
                portrait::normalise(&bytes, &self.photo_rules)
                    .map_err(|e| ServiceError::Unavailable(format!("the approved photo cannot be used: {e}")))?
                    .jpeg
            }
        };
        Ok(SignedPortrait { key, jpeg })
    }

    fn signer(&self) -> Result<&dyn crate::kernel::signing::Signer, ServiceError> {
        self.signer
            .as_deref()
            .ok_or_else(|| ServiceError::Unavailable("no signer is configured for this function".into()))
    }

    /// The newest active document signer whose certificate verifies against
    /// the newest active IACA now, from the trust material held in memory.
    pub async fn active_signer(&self) -> Result<ActiveSigner, ServiceError> {
        let trust = self.trust_set().await?;
        let now = self.now();
        let iaca = trust
            .entries
            .iter()
            .filter(|t| t.role == TrustRole::Iaca && t.status == TrustStatus::Active)
            .max_by_key(|t| t.created_at)
            .ok_or_else(|| {
                ServiceError::Unavailable(
                    "no trusted IACA certificate: bootstrap the keys and pin the IACA (IACA_SHA256)".into(),
                )
            })?;
        let iaca_der = trust
            .iacas
            .iter()
            .find(|(kid, _)| *kid == iaca.kid)
            .map(|(_, der)| der)
            .ok_or_else(|| ServiceError::Unavailable(format!("the certificate {} is not base64", iaca.kid)))?;
        let mut signers: Vec<&TrustEntry> = trust
            .entries
            .iter()
            .filter(|t| t.role == TrustRole::DocumentSigner && t.status == TrustStatus::Active)
            .collect();
        signers.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        for entry in signers {
            let Some(signer) = trust.signers.get(&entry.kid) else {
                continue;
            };
            if let Ok(info) = cert::verify_document_signer(iaca_der, &signer.certificate, now) {
                return Ok(ActiveSigner {
                    kid: entry.kid.clone(),
                    key_id: entry.key_id.clone(),
                    certificate: signer.certificate.clone(),
                    not_after: info.not_after,
                });
            }
        }
        Err(ServiceError::Unavailable(
            "no active document-signer certificate is valid now; rotate the keys".into(),
        ))
    }

    /// Issues the electronic licence of an approved application. Safe to
    /// retry: a second call finds the application issued and makes nothing.
    /// A signer failure writes nothing and leaves the application approved.
    pub async fn issue(&self, application_id: &str) -> Result<IssueOutcome, ServiceError> {
        retry_on_conflict(ATTEMPTS, || self.try_issue(application_id)).await
    }

    async fn try_issue(&self, application_id: &str) -> Result<IssueOutcome, ServiceError> {
        let not_found = || ServiceError::NotFound {
            what: "application",
            id: application_id.into(),
        };
        let mut application = self.records.application(application_id).await?.ok_or_else(not_found)?;
        if application.state == ApplicationState::Issued {
            let serial = self
                .records
                .current_serial_of(&application.holder_id)
                .await?
                .unwrap_or_default();
            return Ok(IssueOutcome::AlreadyIssued { serial });
        }
        let licence = self
            .records
            .licence(&application.licence_number)
            .await?
            .ok_or_else(|| ServiceError::NotFound {
                what: "licence",
                id: application.licence_number.clone(),
            })?;
        if application.state != ApplicationState::Approved {
            return Err(crate::applications::application::IllegalTransition {
                action: "issue",
                from: application.state,
            }
            .into());
        }
        let signer = self.signer()?;
        let active = self.active_signer().await?;
        let portrait = self.approved_portrait(&application, &licence).await?;
        let now = self.now();
        let last_second = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
        let valid_until = local_instant(licence.valid_to, last_second).min(active.not_after);
        // 64 bits of the operating system's randomness: a serial is what a guesser would have to hit.
        let mut random = [0u8; 8];
        rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut random)
            .map_err(|e| ServiceError::Unavailable(format!("the random source failed: {e}")))?;
        let random = u64::from_le_bytes(random);
        let serial = new_serial(licence.city_code(), local_date(now), random);
        let device_key = application.device_key.as_deref().and_then(|k| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k.trim_end_matches('='))
                .ok()
        });
        let issued = mdoc::issue(
            &mdoc::MdocInput {
                licence: &licence,
                serial: &serial,
                portrait_jpeg: Some(&portrait.jpeg),
                generated_at: now,
                valid_from: now,
                valid_until,
                device_key_sec1: device_key.as_deref(),
            },
            signer,
            &active.key_id,
            &active.certificate,
        )
        .await
        .map_err(|e| ServiceError::Unavailable(format!("the licence document could not be signed: {e}")))?;
        let edl = ElectronicLicence {
            serial: serial.clone(),
            licence_number: licence.number.clone(),
            holder_id: licence.holder_id.clone(),
            application_id: application.id.clone(),
            kid: active.kid.clone(),
            issued_at: now,
            valid_from: now,
            valid_until,
            portrait_key: Some(portrait.key.clone()),
            issuer_signed: STANDARD.encode(&issued.issuer_signed),
            status: EdlStatus::Active,
            version: 1,
        };
        // R10, R11: the holder's previous licence is superseded by this one.
        let superseded = match self.records.current_serial_of(&licence.holder_id).await? {
            Some(previous) => match self.records.electronic_licence(&previous).await? {
                Some(mut old) if old.is_active() => {
                    let expected = old.version;
                    old.status = EdlStatus::Superseded {
                        at: now,
                        reason: "re-issued".into(),
                        by_serial: Some(serial.clone()),
                    };
                    old.version += 1;
                    Some((old, expected))
                }
                _ => None,
            },
            None => None,
        };
        let expected = application.version;
        application.mark_issued(&issuer_actor(), now, &serial)?;
        application.version = expected + 1;
        let issuance = Issuance {
            licence: edl,
            application,
            application_expected_version: expected,
            superseded,
        };
        match self.records.record_issuance(&issuance).await {
            Ok(()) => {}
            // A serial collision: nothing was written; the caller tries again.
            Err(StoreError::AlreadyExists) => return Err(ServiceError::Conflict),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(application = %application_id, serial = %serial, "electronic licence issued");
        self.notify(&Notice::LicenceIssued {
            holder_id: licence.holder_id.clone(),
            serial: serial.clone(),
            application_id: application_id.into(),
        })
        .await;
        Ok(IssueOutcome::Issued { serial })
    }
}

impl Services {
    /// R11: a change of classes, validity or issuing authority ends the
    /// holder's electronic licence; the holder is told to apply again.
    pub(super) async fn supersede_electronic_licence(&self, holder_id: &str, reason: &str) -> Result<(), ServiceError> {
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
}
