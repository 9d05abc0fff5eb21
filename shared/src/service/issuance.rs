//! Issuance (R3, R4, R7, R10, R11): an approved application becomes a signed ISO 18013-5 licence, exactly once.

use super::{Administering, Issuing, ServiceError, Services, Signing};
use crate::applications::application::{ApplicationState, PhotoSource};
use crate::applications::portrait;
use crate::credential::mdoc;
use crate::issuance::edl::{new_serial, EdlStatus, ElectronicLicence};
use crate::issuance::ports::Issuance;
use crate::kernel::caller::Actor;
use crate::kernel::caller::Role;
use crate::kernel::notice::{Notice, PendingNotice};
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

/// A document signed and not yet stored.
#[derive(Debug, Clone)]
pub(crate) struct SignedDocument {
    pub kid: String,
    pub signed_at: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// The `IssuerSigned` CBOR, base64.
    pub issuer_signed: String,
    /// Where its portrait lies in the CBOR, aligned for cutting its base64 out.
    pub portrait_span: Option<mdoc::ByteSpan>,
    /// The entry drawn for it in a status list, named in its MSO.
    pub status_entry: crate::issuance::status::StatusEntry,
}

/// A uniform random number (the document's jitter).
pub(crate) fn random_u32() -> u32 {
    u32::from_le_bytes(uuid::Uuid::new_v4().as_bytes()[4..8].try_into().unwrap_or([0; 4]))
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

impl Issuing {
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
            .photos
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
}

impl Services {
    /// The document signer that signs a document ending at `document_end`: the newest active one
    /// whose certificate verifies against the newest active IACA now and outlives the document by
    /// the policy's margin, from the trust material held in memory. Never an expired or nearly
    /// expired one: when none is left, a 503 that tells the operator to add the next signer.
    pub async fn signer_for(&self, document_end: DateTime<Utc>) -> Result<ActiveSigner, ServiceError> {
        let trust = self.trust_set().await?;
        let now = self.now();
        if trust.iacas.is_empty() {
            return Err(ServiceError::Unavailable(
                "no trusted IACA certificate: bootstrap the keys and pin the IACA (IACA_SHA256)".into(),
            ));
        }
        let mut signers: Vec<&TrustEntry> = trust
            .entries
            .iter()
            .filter(|t| t.role == TrustRole::DocumentSigner && t.status == TrustStatus::Active)
            .collect();
        signers.sort_by_key(|t| std::cmp::Reverse(t.created_at));
        let must_outlive = document_end + self.documents.signer_margin;
        // The trust set holds only signers whose certificate chains to an active IACA (checked
        // once when it was loaded); what is left to check is the validity against now.
        for entry in signers {
            let Some(signer) = trust.signers.get(&entry.kid) else {
                continue;
            };
            if signer.not_before <= now && signer.not_after >= must_outlive {
                return Ok(ActiveSigner {
                    kid: entry.kid.clone(),
                    key_id: entry.key_id.clone(),
                    certificate: signer.certificate.clone(),
                    not_after: signer.not_after,
                });
            }
        }
        Err(ServiceError::Unavailable(format!(
            "no active document signer's certificate lasts until {must_outlive} (the document's end and a margin of \
             {} days); add the next signer (edl-local keys add-signer)",
            self.documents.signer_margin.num_days()
        )))
    }

    /// The signer of short-lived credentials (show codes): one valid for at least the margin.
    pub async fn active_signer(&self) -> Result<ActiveSigner, ServiceError> {
        self.signer_for(self.now()).await
    }
}

impl Signing {
    /// Signs the licence's document for `serial`: the register's data as it is now, the approved
    /// portrait and the device key of the application it came from, valid from now until `document_end`,
    /// with a status list entry drawn for it. Nothing but the entry's claim is written; a signer failure
    /// leaves whatever is stored as it was (the claimed entry frees itself at `document_end`).
    pub(crate) async fn sign_licence_document(
        &self,
        licence: &crate::register::licence::Licence,
        serial: &str,
        portrait_jpeg: Option<&[u8]>,
        device_key: Option<&str>,
        document_end: DateTime<Utc>,
    ) -> Result<SignedDocument, ServiceError> {
        let active = self.signer_for(document_end).await?;
        let now = self.now();
        let status_entry = self.draw_status_entry(serial, document_end).await?;
        let device_key = device_key.and_then(|k| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(k.trim_end_matches('='))
                .ok()
        });
        let issued = mdoc::issue(
            &mdoc::MdocInput {
                licence,
                serial,
                portrait_jpeg,
                generated_at: now,
                valid_from: now,
                valid_until: document_end,
                device_key_sec1: device_key.as_deref(),
                status: Some(crate::credential::iso18013_5::StatusListReference {
                    idx: status_entry.idx,
                    uri: self.status_lists.uri(status_entry.list),
                }),
            },
            &*self.signer,
            &active.key_id,
            &active.certificate,
        )
        .await
        .map_err(|e| ServiceError::Unavailable(format!("the licence document could not be signed: {e}")))?;
        Ok(SignedDocument {
            kid: active.kid,
            signed_at: now,
            valid_until: document_end,
            issuer_signed: STANDARD.encode(&issued.issuer_signed),
            portrait_span: issued.aligned_span,
            status_entry,
        })
    }
}

impl Issuing {
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
        let portrait = self.approved_portrait(&application, &licence).await?;
        let now = self.now();
        let last_second = NaiveTime::from_hms_opt(23, 59, 59).unwrap_or(NaiveTime::MIN);
        // The electronic licence lives as long as the paper licence; its document for weeks.
        let valid_until = local_instant(licence.valid_to, last_second);
        let document_end = self.documents.document_end(now, valid_until, random_u32());
        // 64 bits of the operating system's randomness: a serial is what a guesser would have to hit.
        let mut random = [0u8; 8];
        rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut random)
            .map_err(|e| ServiceError::Unavailable(format!("the random source failed: {e}")))?;
        let random = u64::from_le_bytes(random);
        let serial = new_serial(licence.city_code(), local_date(now), random);
        let document = self
            .sign_licence_document(
                &licence,
                &serial,
                Some(&portrait.jpeg),
                application.device_key.as_deref(),
                document_end,
            )
            .await?;
        let edl = ElectronicLicence {
            serial: serial.clone(),
            licence_number: licence.number.clone(),
            holder_id: licence.holder_id.clone(),
            application_id: application.id.clone(),
            kid: document.kid,
            issued_at: now,
            valid_from: now,
            valid_until,
            document_signed_at: document.signed_at,
            document_valid_until: document.valid_until,
            refreshes: 0,
            portrait_key: Some(portrait.key.clone()),
            issuer_signed: document.issuer_signed,
            portrait_span: document.portrait_span,
            status_entry: Some(document.status_entry),
            retired_entries: Vec::new(),
            // Eligibility refused a held licence; a hold placed since the check still counts.
            register_hold: licence.is_held(),
            // Its entry was claimed valid: a held licence publishes suspended, after its write.
            status_to_publish: licence.is_held().then_some(now),
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
                    old.mark_status_to_publish(now);
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
        // The holder's success notice is owed from the moment the licence is: recorded in the same transaction.
        let notices = vec![self.notice(Notice::LicenceIssued {
            holder_id: licence.holder_id.clone(),
            serial: serial.clone(),
            application_id: application_id.into(),
        })];
        let issuance = Issuance {
            licence: edl,
            application,
            application_expected_version: expected,
            superseded,
            notices,
        };
        match self.records.record_issuance(&issuance).await {
            Ok(()) => {}
            // A serial collision: nothing was written; the caller tries again.
            Err(StoreError::AlreadyExists) => return Err(ServiceError::Conflict),
            Err(e) => return Err(e.into()),
        }
        tracing::info!(application = %application_id, serial = %serial, "electronic licence issued");
        // The new document's entry reads valid since its claim; the superseded one's turns invalid.
        if let Some((old, _)) = &issuance.superseded {
            self.publish_statuses_after_write(&old.serial).await;
        }
        if issuance.licence.status_to_publish.is_some() {
            self.publish_statuses_after_write(&serial).await;
        }
        self.notices.deliver(&*self.records, &issuance.notices).await;
        Ok(IssueOutcome::Issued { serial })
    }
}

impl Administering {
    /// R11: a change of classes, validity or issuing authority ends the
    /// holder's electronic licence; the holder is told to apply again.
    pub(super) async fn supersede_electronic_licence(&self, holder_id: &str, reason: &str) -> Result<(), ServiceError> {
        let status = EdlStatus::Superseded {
            at: self.now(),
            reason: format!("licence changed: {reason}"),
            by_serial: None,
        };
        // The notice is recorded with the change (by the services); delivering it needs this function's bus.
        let notices = self.end_electronic_licence(holder_id, status, Some(reason)).await?;
        self.notices.deliver(&*self.records, &notices).await;
        Ok(())
    }
}

impl Services {
    /// R15: stops the holder's electronic licence, if any, with the reason recorded.
    pub async fn stop_electronic_licence(
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
        self.end_electronic_licence(holder_id, status, None).await.map(|_| ())
    }

    /// Places or lifts the register's hold on the holder's active electronic licence, if any (R1, R7): while
    /// held its status list entry reads suspended, and lifting the hold reinstates it (valid again). The
    /// serial when one changed. A concurrent change is read again; the version guard on the entry's write keeps
    /// an earlier change (a refresh, say) from publishing over this one.
    pub(super) async fn hold_electronic_licence(
        &self,
        holder_id: &str,
        held: bool,
    ) -> Result<Option<String>, ServiceError> {
        let Some(serial) = self.records.current_serial_of(holder_id).await? else {
            return Ok(None);
        };
        let (records, serial_ref, now) = (&self.records, &serial, self.now());
        let changed = retry_on_conflict(ATTEMPTS, move || async move {
            let Some(mut edl) = records.electronic_licence(serial_ref).await? else {
                return Ok(false);
            };
            if !edl.is_active() || edl.register_hold == held {
                return Ok(false);
            }
            let expected = edl.version;
            edl.register_hold = held;
            edl.mark_status_to_publish(now);
            edl.version += 1;
            records.update_electronic_licence(&edl, expected).await.map(|()| true)
        })
        .await?;
        if !changed {
            return Ok(None);
        }
        tracing::info!(serial = %serial, held, "electronic licence hold changed");
        self.publish_statuses_after_write(&serial).await;
        Ok(Some(serial))
    }

    /// Moves the holder's active electronic licence, if any, to `status`;
    /// the notices recorded with the change, for the caller to deliver (none when nothing was ended). A
    /// concurrent change is read again. With a `superseded_reason`, the holder's `LicenceSuperseded` notice is
    /// recorded in the same write.
    async fn end_electronic_licence(
        &self,
        holder_id: &str,
        status: EdlStatus,
        superseded_reason: Option<&str>,
    ) -> Result<Vec<PendingNotice>, ServiceError> {
        let Some(serial) = self.records.current_serial_of(holder_id).await? else {
            return Ok(Vec::new());
        };
        let notices: Vec<PendingNotice> = superseded_reason
            .map(|reason| {
                self.notice(Notice::LicenceSuperseded {
                    holder_id: holder_id.into(),
                    serial: serial.clone(),
                    reason: reason.into(),
                })
            })
            .into_iter()
            .collect();
        let (records, serial_ref, status, notices_ref, now) = (&self.records, &serial, &status, &notices, self.now());
        let ended = retry_on_conflict(ATTEMPTS, move || async move {
            let Some(mut edl) = records.electronic_licence(serial_ref).await? else {
                return Ok(false);
            };
            if !edl.is_active() {
                return Ok(false);
            }
            let expected = edl.version;
            edl.status = status.clone();
            edl.mark_status_to_publish(now);
            edl.version += 1;
            records
                .update_electronic_licence_noting(&edl, expected, notices_ref)
                .await
                .map(|()| true)
        })
        .await?;
        if !ended {
            return Ok(Vec::new());
        }
        tracing::info!(serial = %serial, "electronic licence ended");
        self.publish_statuses_after_write(&serial).await;
        Ok(notices)
    }
}
