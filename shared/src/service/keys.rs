//! Keys and certificates (R7): the IACA root and document signers, issued through the signer and kept as trust entries.

use super::verification::IacaPin;
use super::{authorise, Refreshing, ServiceError, Services, Signing};
use crate::credential::cert::{self, Subject};
use crate::kernel::access::Action;
use crate::kernel::caller::Caller;
use crate::kernel::metrics::Metric;
use crate::verification::ports::{TrustEntry, TrustRole, TrustStatus};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

/// Who the certificates name.
#[derive(Debug, Clone)]
pub struct Authority {
    pub country: String,
    pub organisation: String,
    /// The issuer alternative name every certificate carries (ISO 18013-5 Annex B).
    pub uri: String,
}

impl Default for Authority {
    fn default() -> Self {
        Authority {
            country: "CN".into(),
            organisation: "Traffic Management Bureau of the Ministry of Public Security".into(),
            uri: "https://edl.example.gov.cn/trust".into(),
        }
    }
}

/// An IACA root is long-lived; a document signer signs for a year (within
/// the 457 days ISO 18013-5 allows) and then verifies what it signed.
pub const IACA_YEARS: i64 = 10;
pub const DOCUMENT_SIGNER_DAYS: i64 = 365;

/// `GET /admin/keys`: a signing key, its certificate's validity and how much of it is left.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SigningKey {
    pub kid: String,
    pub role: TrustRole,
    pub status: TrustStatus,
    /// The signer's key (a KMS key id or ARN).
    pub key_id: String,
    pub created_at: DateTime<Utc>,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
    /// Whole days until `not_after`; negative once it has passed.
    pub days_left: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct SigningKeys {
    pub at: DateTime<Utc>,
    pub keys: Vec<SigningKey>,
}

/// What the scheduled key check publishes, for the alarms of `template.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyHealth {
    pub at: DateTime<Utc>,
    /// Active document signers that may sign a full-length document now.
    pub usable_signers: usize,
    /// Whole days until no active document signer may sign (its certificate must outlive a
    /// document by the margin); 0 or less when none may sign now.
    pub days_until_no_usable_signer: i64,
    /// Whole days until the newest active IACA certificate ends.
    pub days_until_iaca_expiry: i64,
}

/// The metric names the key check publishes (and `template.yaml`'s alarms watch).
pub const DAYS_UNTIL_NO_USABLE_SIGNER: &str = "DaysUntilNoUsableSigner";
pub const DAYS_UNTIL_IACA_EXPIRY: &str = "DaysUntilIacaExpiry";

fn unavailable(e: impl std::fmt::Display) -> ServiceError {
    ServiceError::Unavailable(e.to_string())
}

impl Services {
    /// `GET /admin/keys`: the IACA roots and document signers with their certificates' remaining life, the
    /// soonest to end first, so that a rotation is started in time.
    pub async fn signing_keys(&self, caller: &Caller) -> Result<SigningKeys, ServiceError> {
        authorise(caller, Action::ListSigningKeys)?;
        let at = self.now();
        let mut keys = Vec::new();
        for entry in self.records.trust().await? {
            let der = STANDARD.decode(&entry.certificate).map_err(unavailable)?;
            let (not_before, not_after) = cert::validity(&der).map_err(unavailable)?;
            keys.push(SigningKey {
                kid: entry.kid,
                role: entry.role,
                status: entry.status,
                key_id: entry.key_id,
                created_at: entry.created_at,
                not_before,
                not_after,
                days_left: (not_after - at).num_days(),
            });
        }
        keys.sort_by_key(|k| k.not_after);
        Ok(SigningKeys { at, keys })
    }
}

impl Refreshing {
    /// The scheduled key check: how long signing can go on with the signers installed, and how
    /// long the IACA lasts, published as metrics.
    pub async fn check_keys(&self) -> Result<KeyHealth, ServiceError> {
        let at = self.now();
        // What verification and signing trust: the pinned IACA and the signers chaining to it (a row
        // alone counts for nothing here either).
        let trust = self.trust_set().await?;
        let iaca_end = trust
            .iacas
            .iter()
            .filter_map(|(_, der)| cert::validity(der).ok().map(|(_, not_after)| not_after))
            .max();
        let needed = self.documents.period + self.documents.signer_margin;
        let signer_ends: Vec<DateTime<Utc>> = trust
            .entries
            .iter()
            .filter(|t| t.role == TrustRole::DocumentSigner && t.status == TrustStatus::Active)
            .filter_map(|t| trust.signers.get(&t.kid).map(|s| s.not_after))
            .collect();
        let usable_signers = signer_ends.iter().filter(|end| **end - needed >= at).count();
        let last_usable = signer_ends.iter().max().map(|end| *end - needed);
        let health = KeyHealth {
            at,
            usable_signers,
            days_until_no_usable_signer: last_usable.map_or(0, |last| (last - at).num_days().max(0)),
            days_until_iaca_expiry: iaca_end.map_or(0, |end| (end - at).num_days().max(0)),
        };
        self.key_metrics
            .publish(&[
                Metric {
                    name: DAYS_UNTIL_NO_USABLE_SIGNER,
                    value: health.days_until_no_usable_signer as f64,
                    unit: "None",
                },
                Metric {
                    name: DAYS_UNTIL_IACA_EXPIRY,
                    value: health.days_until_iaca_expiry as f64,
                    unit: "None",
                },
            ])
            .await
            .map_err(unavailable)?;
        tracing::info!(
            usable_signers = health.usable_signers,
            days_until_no_usable_signer = health.days_until_no_usable_signer,
            days_until_iaca_expiry = health.days_until_iaca_expiry,
            "key check"
        );
        Ok(health)
    }
}

impl Services {
    /// Stores a trust entry and forgets the keys held in memory, so that
    /// signing and verification in this process see the change at once.
    async fn remember_trust(&self, entry: &TrustEntry) -> Result<(), ServiceError> {
        self.records.save_trust(entry).await?;
        self.trust_cache.clear();
        Ok(())
    }
}

impl Signing {
    /// Creates the IACA root certificate from `iaca_key_id` (self-signed through the signer).
    pub async fn install_iaca(&self, authority: &Authority, iaca_key_id: &str) -> Result<TrustEntry, ServiceError> {
        let signer = &*self.signer;
        let now = self.now();
        let subject = Subject {
            country: authority.country.clone(),
            organisation: authority.organisation.clone(),
            common_name: "EDL IACA Root".into(),
        };
        let der = cert::issue_iaca(
            signer,
            iaca_key_id,
            &subject,
            &authority.uri,
            now - Duration::minutes(5),
            now + Duration::days(365 * IACA_YEARS),
        )
        .await
        .map_err(unavailable)?;
        let entry = TrustEntry {
            kid: cert::kid_of(&der),
            role: TrustRole::Iaca,
            key_id: iaca_key_id.into(),
            certificate: STANDARD.encode(&der),
            status: TrustStatus::Active,
            created_at: now,
        };
        self.remember_trust(&entry).await?;
        // The key administration made this root itself, so it knows its fingerprint first hand; every
        // other process trusts it once its deployment configuration names it (IACA_SHA256).
        if self.trust_cache.iaca_pin().is_none() {
            self.trust_cache.pin_iaca(IacaPin::of(&der));
        }
        tracing::info!(kid = %entry.kid, sha256 = %IacaPin::of(&der), "IACA certificate installed");
        Ok(entry)
    }

    /// Adds a document signer for `key_id`, certified by the pinned IACA (never by a root that is only a
    /// row). Earlier document signers stay active until retired, so rotation breaks nothing.
    pub async fn add_document_signer(&self, authority: &Authority, key_id: &str) -> Result<TrustEntry, ServiceError> {
        let signer = &*self.signer;
        let pin = self.trust_cache.iaca_pin().ok_or_else(|| {
            ServiceError::Unavailable(
                "no IACA is pinned: set IACA_SHA256 to the fingerprint keys bootstrap printed".into(),
            )
        })?;
        let trust = self.records.trust().await?;
        let (iaca, iaca_der) = trust
            .iter()
            .filter(|t| t.role == TrustRole::Iaca && t.status == TrustStatus::Active)
            .filter_map(|t| STANDARD.decode(&t.certificate).ok().map(|der| (t, der)))
            .filter(|(_, der)| pin.matches(der))
            .max_by_key(|(t, _)| t.created_at)
            .ok_or_else(|| {
                ServiceError::Unavailable(format!("no active IACA certificate has the pinned fingerprint {pin}"))
            })?;
        let public = signer.public_key(key_id).await.map_err(unavailable)?;
        let now = self.now();
        let subject = Subject {
            country: authority.country.clone(),
            organisation: authority.organisation.clone(),
            common_name: format!("EDL Document Signer {}", now.format("%Y%m%d%H%M%S")),
        };
        let der = cert::issue_document_signer(
            signer,
            &iaca.key_id,
            &iaca_der,
            &public,
            &subject,
            &authority.uri,
            now - Duration::minutes(5),
            now + Duration::days(DOCUMENT_SIGNER_DAYS),
        )
        .await
        .map_err(unavailable)?;
        let entry = TrustEntry {
            kid: cert::kid_of(&der),
            role: TrustRole::DocumentSigner,
            key_id: key_id.into(),
            certificate: STANDARD.encode(&der),
            status: TrustStatus::Active,
            created_at: Utc::now().max(now),
        };
        self.remember_trust(&entry).await?;
        tracing::info!(kid = %entry.kid, "document signer added");
        Ok(entry)
    }
}

impl Services {
    /// Stops a document signer from signing; what it signed still verifies.
    pub async fn retire_document_signer(&self, kid: &str) -> Result<TrustEntry, ServiceError> {
        let trust = self.records.trust().await?;
        let mut entry = trust
            .into_iter()
            .find(|t| t.role == TrustRole::DocumentSigner && t.kid == kid)
            .ok_or_else(|| ServiceError::NotFound {
                what: "document signer",
                id: kid.into(),
            })?;
        entry.status = TrustStatus::Retired;
        self.remember_trust(&entry).await?;
        Ok(entry)
    }
}
