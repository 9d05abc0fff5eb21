//! Trust for verification (R7): the document signers that chain to the pinned IACA, held in memory per instance
//! (the kernel's cache, read again once per staleness period), and the public trust document
//! (`GET /.well-known/edl/trust`).

use super::verification::SKEW_SECONDS;
use super::{ServiceError, Services};
use crate::credential::cert;
use crate::crypto::Es256Key;
use crate::kernel::cache::Cached;
use crate::verification::ports::{TrustEntry, TrustRole, TrustStatus};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// When a verified chain holds: from the later of its certificates' starts to the earlier of their ends.
pub type ChainSpan = (DateTime<Utc>, DateTime<Utc>);

/// A document signer whose certificate chains to an active IACA.
#[derive(Debug, Clone)]
pub struct TrustedSigner {
    pub public_sec1: Vec<u8>,
    /// The same key parsed once, at load: every show code it signed verifies with it.
    pub key: Es256Key,
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
    /// The chains verified when the set was read, by the SHA-256 of the document signer's certificate: when
    /// its chain to an active IACA holds (the span in which both certificates are valid). A presented mdoc
    /// whose certificate is one of them needs no signature checked again, only the time.
    pub chains: HashMap<[u8; 32], Vec<ChainSpan>>,
}

impl TrustSet {
    /// Whether the document-signer certificate `ds_der` chains to one of the active IACAs and both are valid at
    /// `at`: from the chains verified at load when it is one of them and `at` falls in their span, else checked
    /// in full ([`cert::verify_document_signer`]), as for a certificate the set does not hold.
    pub fn chains_to_iaca(&self, ds_der: &[u8], at: DateTime<Utc>) -> bool {
        let known = self
            .chains
            .get(&<[u8; 32]>::from(Sha256::digest(ds_der)))
            .is_some_and(|spans| spans.iter().any(|(from, until)| *from <= at && at <= *until));
        known
            || self
                .iacas
                .iter()
                .any(|(_, iaca)| cert::verify_document_signer(iaca, ds_der, at).is_ok())
    }
}

/// The IACA root a deployment trusts: the SHA-256 of its certificate, from the deployment's configuration
/// (`IACA_SHA256`), never from the records. Anyone who can write a row can add an IACA row; only the
/// certificate whose fingerprint was configured becomes a trust root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IacaPin([u8; 32]);

/// A fingerprint that is not 64 hexadecimal digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an IACA fingerprint is the SHA-256 of its certificate: 64 hexadecimal digits (colons allowed)")]
pub struct InvalidPin;

impl IacaPin {
    /// The fingerprint of a DER certificate.
    pub fn of(certificate_der: &[u8]) -> IacaPin {
        IacaPin(Sha256::digest(certificate_der).into())
    }

    /// `3fa4...` as `edl-local keys bootstrap` prints it; upper case and `AB:CD:...` (as openssl prints it) too.
    pub fn parse(text: &str) -> Result<IacaPin, InvalidPin> {
        let digits: String = text.trim().chars().filter(|c| *c != ':').collect();
        let bytes = hex::decode(digits).map_err(|_| InvalidPin)?;
        bytes.try_into().map(IacaPin).map_err(|_| InvalidPin)
    }

    pub fn matches(&self, certificate_der: &[u8]) -> bool {
        IacaPin::of(certificate_der) == *self
    }
}

impl std::fmt::Display for IacaPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

/// Shared across requests of one process (one Lambda container), with the pinned IACA.
#[derive(Default)]
pub struct TrustCache {
    set: Cached<TrustSet>,
    /// None: no IACA is trusted, so no document signer, and nothing verifies or signs.
    pin: Mutex<Option<IacaPin>>,
}

impl TrustCache {
    /// Forgets the keys (after a rotation or retirement through this instance): the next read sees the change.
    pub fn clear(&self) {
        self.set.forget();
    }

    /// Trusts the IACA whose certificate has this fingerprint (and no other).
    pub fn pin_iaca(&self, pin: IacaPin) {
        if let Ok(mut current) = self.pin.lock() {
            *current = Some(pin);
        }
        self.clear();
    }

    pub fn iaca_pin(&self) -> Option<IacaPin> {
        self.pin.lock().ok().and_then(|pin| *pin)
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
    /// The keys to verify with, from memory; read again once per staleness period (`EDL_CACHE_SECONDS`) so that
    /// a rotation or retirement reaches every instance.
    pub async fn trust_set(&self) -> Result<Arc<TrustSet>, ServiceError> {
        let now = self.now();
        self.trust_cache
            .set
            .get_or_read(now, self.staleness, || self.read_trust_set(now))
            .await
    }

    /// The stored trust rows, checked against the pinned IACA.
    async fn read_trust_set(&self, now: DateTime<Utc>) -> Result<TrustSet, ServiceError> {
        let stored = self.records.trust().await?;
        let decode = |e: &TrustEntry| STANDARD.decode(&e.certificate).ok();
        // A row makes an IACA trusted only if its certificate is the pinned one: a row written by anyone
        // else who can write the table (a forged root, with signers under it) is ignored.
        let pin = self.trust_cache.iaca_pin();
        let pinned = |e: &TrustEntry| decode(e).is_some_and(|der| pin.is_some_and(|pin| pin.matches(&der)));
        for ignored in stored.iter().filter(|e| e.role == TrustRole::Iaca && !pinned(e)) {
            tracing::warn!(kid = %ignored.kid, pinned = pin.is_some(), "IACA row ignored: not the pinned certificate");
        }
        let iacas: Vec<(String, Vec<u8>)> = stored
            .iter()
            .filter(|e| e.role == TrustRole::Iaca && e.status == TrustStatus::Active && pinned(e))
            .filter_map(|e| decode(e).map(|der| (e.kid.clone(), der)))
            .collect();
        let mut signers = HashMap::new();
        let mut chains: HashMap<[u8; 32], Vec<ChainSpan>> = HashMap::new();
        for entry in stored.iter().filter(|e| e.role == TrustRole::DocumentSigner) {
            let Some(der) = decode(entry) else { continue };
            // A document signer is trusted only if it chains to one of our IACAs;
            // checked once here, at a time inside its own validity.
            for (_, iaca) in &iacas {
                // A certificate's key is a P-256 point (public_key_of refuses anything else), so it parses.
                let Some((public, key)) = cert::public_key_of(&der)
                    .ok()
                    .and_then(|public| Es256Key::from_sec1(&public).map(|key| (public, key)))
                else {
                    continue;
                };
                let probe = probe_time(&der).unwrap_or(now);
                if let Ok(info) = cert::verify_document_signer(iaca, &der, probe) {
                    // The chain holds whenever both certificates are valid (verify_document_signer checks the
                    // time last, after every signature and extension).
                    if let Ok((iaca_from, iaca_until)) = cert::validity(iaca) {
                        chains
                            .entry(Sha256::digest(&der).into())
                            .or_default()
                            .push((iaca_from.max(info.not_before), iaca_until.min(info.not_after)));
                    }
                    signers.insert(
                        entry.kid.clone(),
                        TrustedSigner {
                            public_sec1: public,
                            key,
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
        // What signing picks from and the trust document publishes: the pinned IACA and the signers under it.
        let entries = stored
            .into_iter()
            .filter(|e| match e.role {
                TrustRole::Iaca => iacas.iter().any(|(kid, _)| *kid == e.kid),
                TrustRole::DocumentSigner => signers.contains_key(&e.kid),
            })
            .collect();
        Ok(TrustSet {
            iacas,
            signers,
            entries,
            chains,
        })
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
}

/// A time inside the certificate's validity, to check the chain once when loading.
fn probe_time(der: &[u8]) -> Option<DateTime<Utc>> {
    use der::Decode;
    let certificate = x509_cert::Certificate::from_der(der).ok()?;
    let validity = &certificate.tbs_certificate.validity;
    let from = DateTime::<Utc>::from(validity.not_before.to_system_time());
    Some(from + Duration::seconds(1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::LocalSigner;
    use crate::kernel::signing::Signer as _;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    /// An IACA valid 2020..2040 and a document signer under it valid 2025..2027; another signer's certificate.
    async fn chain() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let signer = LocalSigner::new();
        for key in ["iaca", "ds", "other"] {
            signer.generate(key);
        }
        let subject = |cn: &str| cert::Subject {
            country: "CN".into(),
            organisation: "公安部交通管理局".into(),
            common_name: cn.into(),
        };
        let uri = "https://edl.example.cn/iaca";
        let iaca = cert::issue_iaca(&signer, "iaca", &subject("IACA"), uri, at(2020, 1, 1), at(2040, 1, 1))
            .await
            .unwrap();
        let mut signers = Vec::new();
        for key in ["ds", "other"] {
            let public = signer.public_key(key).await.unwrap();
            signers.push(
                cert::issue_document_signer(
                    &signer,
                    "iaca",
                    &iaca,
                    &public,
                    &subject(key),
                    uri,
                    at(2025, 1, 1),
                    at(2027, 1, 1),
                )
                .await
                .unwrap(),
            );
        }
        let other = signers.pop().unwrap();
        (iaca, signers.pop().unwrap(), other)
    }

    /// A certificate whose chain was verified at load needs only the time; one the set does not hold, or a time
    /// outside the span, is checked in full, with the answer the full check gives.
    #[tokio::test]
    async fn chains_verified_at_load_are_taken_and_anything_else_checked_in_full() {
        let (iaca, ds, other) = chain().await;
        let digest: [u8; 32] = Sha256::digest(&ds).into();
        // The cached chain alone (no IACA to check against): inside its span only.
        let cached = TrustSet {
            chains: HashMap::from([(digest, vec![(at(2025, 1, 1), at(2027, 1, 1))])]),
            ..TrustSet::default()
        };
        assert!(cached.chains_to_iaca(&ds, at(2026, 1, 1)));
        assert!(cached.chains_to_iaca(&ds, at(2027, 1, 1)));
        assert!(!cached.chains_to_iaca(&ds, at(2027, 1, 2)));
        assert!(!cached.chains_to_iaca(&ds, at(2024, 12, 31)));
        assert!(
            !cached.chains_to_iaca(&other, at(2026, 1, 1)),
            "another certificate is not taken on trust"
        );
        // With the IACA, whatever the cache does not hold is checked in full.
        let full = TrustSet {
            iacas: vec![("iaca".into(), iaca.clone())],
            ..cached
        };
        assert!(full.chains_to_iaca(&other, at(2026, 1, 1)));
        assert!(!full.chains_to_iaca(&other, at(2028, 1, 1)));
        assert!(!full.chains_to_iaca(&ds, at(2028, 1, 1)));
        assert!(!full.chains_to_iaca(b"not a certificate", at(2026, 1, 1)));
    }
}
