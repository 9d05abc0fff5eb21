//! X.509 certificates of ISO/IEC 18013-5 Annex B (the IACA root and the document signer), signed through the signer port.

use crate::crypto::{self, der_signature_to_raw, raw_signature_to_der, verify_es256};
use crate::kernel::signing::{Signer, SignerError};
use chrono::{DateTime, Datelike, Utc};
use der::asn1::{Any, BitString, GeneralizedTime, Ia5String, ObjectIdentifier, OctetString, PrintableStringRef};
use der::asn1::{SetOfVec, UtcTime, Utf8StringRef};
use der::oid::AssociatedOid;
use der::{Decode, Encode, Reader, SliceReader};
use rand_core::{OsRng, RngCore};
use sha1::Sha1;
use sha2::{Digest, Sha256};
use spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use std::time::Duration;
use x509_cert::attr::AttributeTypeAndValue;
use x509_cert::certificate::{Certificate, TbsCertificate, Version};
use x509_cert::ext::pkix::crl::dp::DistributionPoint;
use x509_cert::ext::pkix::name::{DistributionPointName, GeneralName};
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, CrlDistributionPoints, ExtendedKeyUsage, IssuerAltName, KeyUsage,
    KeyUsages, SubjectKeyIdentifier,
};
use x509_cert::ext::Extension;
use x509_cert::name::{Name, RdnSequence, RelativeDistinguishedName};
use x509_cert::serial_number::SerialNumber;
use x509_cert::time::{Time, Validity};

// `new_unwrap` is evaluated at compile time here: a bad literal fails the build, not a request.
/// ecdsa-with-SHA256 (RFC 5758).
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
/// id-mdl-kp-mdlDS (ISO/IEC 18013-5 Annex B).
pub const MDL_DS_EKU: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.0.18013.5.1.2");
const COUNTRY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.6");
const ORGANIZATION_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CertError {
    #[error("the certificate is malformed: {0}")]
    Malformed(String),
    #[error("the certificate's signature does not verify: {0}")]
    Signature(String),
    #[error("the certificate is not yet valid: {0}")]
    NotYetValid(String),
    #[error("the certificate has expired: {0}")]
    Expired(String),
    #[error("not an IACA certificate: {0}")]
    NotAnIaca(String),
    #[error("not a document-signer certificate: {0}")]
    NotADocumentSigner(String),
    #[error("the document signer was not issued by this IACA: {0}")]
    IssuerMismatch(String),
    #[error(transparent)]
    Signer(#[from] SignerError),
}

fn malformed(e: impl std::fmt::Display) -> CertError {
    CertError::Malformed(e.to_string())
}

/// The distinguished name of an IACA or document signer: country, organisation, common name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subject {
    /// ISO 3166-1 alpha-2, e.g. "CN".
    pub country: String,
    pub organisation: String,
    pub common_name: String,
}

/// What a verified document-signer certificate says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentSigner {
    /// SEC1 uncompressed public point.
    pub public_sec1: Vec<u8>,
    /// RFC 4514 form of the subject name.
    pub subject: String,
    /// Serial number, hex.
    pub serial: String,
    pub not_before: DateTime<Utc>,
    pub not_after: DateTime<Utc>,
}

/// Issues the self-signed IACA root certificate of the key `key_id`, signed by that key through `signer`.
pub async fn issue_iaca(
    signer: &dyn Signer,
    key_id: &str,
    subject: &Subject,
    issuer_alt_uri: &str,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<Vec<u8>, CertError> {
    let public = signer.public_key(key_id).await?;
    let spki = spki_of(&public)?;
    let ski = key_identifier(&spki);
    let name = name_of(subject)?;
    let extensions = vec![
        extension(&SubjectKeyIdentifier(octets(&ski)?), false)?,
        extension(
            &BasicConstraints {
                ca: true,
                path_len_constraint: Some(0),
            },
            true,
        )?,
        extension(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), true)?,
        extension(&issuer_alt_name(issuer_alt_uri)?, false)?,
        extension(&crl_distribution_points(issuer_alt_uri)?, false)?,
    ];
    let tbs = tbs(name.clone(), name, spki, not_before, not_after, extensions)?;
    sign(signer, key_id, tbs, &public).await
}

/// Issues a document-signer certificate for `document_signer_public_sec1`, signed by the IACA
/// key `iaca_key_id` (whose certificate is `iaca_der`) through `signer`.
#[allow(clippy::too_many_arguments)]
pub async fn issue_document_signer(
    signer: &dyn Signer,
    iaca_key_id: &str,
    iaca_der: &[u8],
    document_signer_public_sec1: &[u8],
    subject: &Subject,
    issuer_alt_uri: &str,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
) -> Result<Vec<u8>, CertError> {
    let iaca = Certificate::from_der(iaca_der).map_err(malformed)?;
    let iaca_public = sec1_of(&iaca.tbs_certificate.subject_public_key_info)?;
    let iaca_ski = match find_extension(&iaca, &SubjectKeyIdentifier::OID) {
        Some(ext) => SubjectKeyIdentifier::from_der(ext.extn_value.as_bytes())
            .map_err(malformed)?
            .0
            .as_bytes()
            .to_vec(),
        None => key_identifier(&iaca.tbs_certificate.subject_public_key_info),
    };
    let spki = spki_of(document_signer_public_sec1)?;
    let ski = key_identifier(&spki);
    let extensions = vec![
        extension(
            &AuthorityKeyIdentifier {
                key_identifier: Some(octets(&iaca_ski)?),
                ..Default::default()
            },
            false,
        )?,
        extension(&SubjectKeyIdentifier(octets(&ski)?), false)?,
        extension(&KeyUsage(KeyUsages::DigitalSignature.into()), true)?,
        extension(&ExtendedKeyUsage(vec![MDL_DS_EKU]), true)?,
        extension(&issuer_alt_name(issuer_alt_uri)?, false)?,
        // The IACA issues the document signer, so the IACA's CRL is where its revocation shows.
        extension(&crl_distribution_points(issuer_alt_uri)?, false)?,
    ];
    let tbs = tbs(
        iaca.tbs_certificate.subject.clone(),
        name_of(subject)?,
        spki,
        not_before,
        not_after,
        extensions,
    )?;
    sign(signer, iaca_key_id, tbs, &iaca_public).await
}

/// Checks that `ds_der` is a document-signer certificate issued by the IACA `iaca_der` and valid at `at`.
pub fn verify_document_signer(iaca_der: &[u8], ds_der: &[u8], at: DateTime<Utc>) -> Result<DocumentSigner, CertError> {
    let iaca = Certificate::from_der(iaca_der).map_err(|e| CertError::Malformed(format!("IACA: {e}")))?;
    let ds = Certificate::from_der(ds_der).map_err(|e| CertError::Malformed(format!("document signer: {e}")))?;
    let iaca_public = sec1_of(&iaca.tbs_certificate.subject_public_key_info)?;
    let ds_public = sec1_of(&ds.tbs_certificate.subject_public_key_info)?;

    // The IACA: a self-signed CA allowed to sign certificates.
    if iaca.tbs_certificate.issuer != iaca.tbs_certificate.subject {
        return Err(CertError::NotAnIaca("it is not self-issued".into()));
    }
    check_signature(iaca_der, &iaca, &iaca_public).map_err(|e| match e {
        CertError::Signature(why) => CertError::Signature(format!("IACA self-signature: {why}")),
        other => other,
    })?;
    match extension_value::<BasicConstraints>(&iaca)? {
        Some((_, constraints)) if constraints.ca => {}
        _ => return Err(CertError::NotAnIaca("BasicConstraints does not say CA".into())),
    }
    match extension_value::<KeyUsage>(&iaca)? {
        Some((_, usage)) if usage.key_cert_sign() => {}
        _ => return Err(CertError::NotAnIaca("KeyUsage lacks keyCertSign".into())),
    }

    // The document signer: issued by that IACA, for signing mdocs.
    if ds.tbs_certificate.issuer != iaca.tbs_certificate.subject {
        return Err(CertError::IssuerMismatch(format!(
            "issued by {}, not by {}",
            ds.tbs_certificate.issuer, iaca.tbs_certificate.subject
        )));
    }
    if let (Some((_, aki)), Some((_, ski))) = (
        extension_value::<AuthorityKeyIdentifier>(&ds)?,
        extension_value::<SubjectKeyIdentifier>(&iaca)?,
    ) {
        if aki.key_identifier.as_ref().is_some_and(|id| id != &ski.0) {
            return Err(CertError::IssuerMismatch(
                "its authority key identifier is not the IACA's subject key identifier".into(),
            ));
        }
    }
    check_signature(ds_der, &ds, &iaca_public)?;
    match extension_value::<KeyUsage>(&ds)? {
        Some((_, usage)) if usage.digital_signature() => {}
        _ => return Err(CertError::NotADocumentSigner("KeyUsage lacks digitalSignature".into())),
    }
    match extension_value::<ExtendedKeyUsage>(&ds)? {
        Some((_, usages)) if usages.0.contains(&MDL_DS_EKU) => {}
        _ => {
            return Err(CertError::NotADocumentSigner(
                "ExtendedKeyUsage lacks id-mdl-kp-mdlDS".into(),
            ))
        }
    }

    for (what, cert) in [("IACA", &iaca), ("document signer", &ds)] {
        let (not_before, not_after) = validity_of(cert)?;
        if at < not_before {
            return Err(CertError::NotYetValid(format!("the {what} is valid from {not_before}")));
        }
        if at > not_after {
            return Err(CertError::Expired(format!("the {what} expired at {not_after}")));
        }
    }
    let (not_before, not_after) = validity_of(&ds)?;
    Ok(DocumentSigner {
        public_sec1: ds_public,
        subject: ds.tbs_certificate.subject.to_string(),
        serial: hex::encode(ds.tbs_certificate.serial_number.as_bytes()),
        not_before,
        not_after,
    })
}

/// When the certificate begins and ends to be valid.
pub fn validity(cert_der: &[u8]) -> Result<(DateTime<Utc>, DateTime<Utc>), CertError> {
    let cert = Certificate::from_der(cert_der).map_err(malformed)?;
    validity_of(&cert)
}

/// The certificate's public key, as a SEC1 uncompressed P-256 point.
pub fn public_key_of(cert_der: &[u8]) -> Result<Vec<u8>, CertError> {
    let cert = Certificate::from_der(cert_der).map_err(malformed)?;
    sec1_of(&cert.tbs_certificate.subject_public_key_info)
}

/// A stable key id for the certificate: the first 16 hex characters of the SHA-256 of its
/// SubjectPublicKeyInfo DER. Bytes that are not a certificate get the hash of the bytes
/// themselves, so the id is still stable and cannot collide with a real certificate's by accident.
pub fn kid_of(cert_der: &[u8]) -> String {
    let spki_der = Certificate::from_der(cert_der)
        .ok()
        .and_then(|cert| cert.tbs_certificate.subject_public_key_info.to_der().ok());
    let digest = Sha256::digest(spki_der.as_deref().unwrap_or(cert_der));
    let mut kid = hex::encode(digest);
    kid.truncate(16);
    kid
}

fn tbs(
    issuer: Name,
    subject: Name,
    spki: SubjectPublicKeyInfoOwned,
    not_before: DateTime<Utc>,
    not_after: DateTime<Utc>,
    extensions: Vec<Extension>,
) -> Result<TbsCertificate, CertError> {
    if not_after <= not_before {
        return Err(CertError::Malformed("the validity ends before it starts".into()));
    }
    Ok(TbsCertificate {
        version: Version::V3,
        serial_number: random_serial()?,
        signature: signature_algorithm(),
        issuer,
        validity: Validity {
            not_before: x509_time(not_before)?,
            not_after: x509_time(not_after)?,
        },
        subject,
        subject_public_key_info: spki,
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    })
}

/// Hashes and signs `tbs` through the signer, then checks the result against `public`
/// before handing it out: a wrong key id or a faulty signer must not produce a
/// certificate nobody can verify.
async fn sign(signer: &dyn Signer, key_id: &str, tbs: TbsCertificate, public: &[u8]) -> Result<Vec<u8>, CertError> {
    let tbs_der = tbs.to_der().map_err(malformed)?;
    let digest: [u8; 32] = Sha256::digest(&tbs_der).into();
    let raw = signer.sign_digest(key_id, &digest).await?;
    if !verify_es256(public, &tbs_der, &raw) {
        return Err(CertError::Signature(format!(
            "the signature made with key {key_id} does not verify with the issuer's public key"
        )));
    }
    let signature_der = raw_signature_to_der(&raw)?;
    let cert = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: signature_algorithm(),
        signature: BitString::from_bytes(&signature_der).map_err(malformed)?,
    };
    cert.to_der().map_err(malformed)
}

fn signature_algorithm() -> AlgorithmIdentifierOwned {
    // RFC 5758 §3.2: the parameters of ecdsa-with-SHA256 are absent.
    AlgorithmIdentifierOwned {
        oid: ECDSA_WITH_SHA256,
        parameters: None,
    }
}

/// Verifies `cert`'s signature over its TBS bytes exactly as they appear in `der` (not as
/// re-encoded, which could differ from what the issuer signed).
fn check_signature(der: &[u8], cert: &Certificate, issuer_public: &[u8]) -> Result<(), CertError> {
    if cert.signature_algorithm.oid != ECDSA_WITH_SHA256 || cert.tbs_certificate.signature.oid != ECDSA_WITH_SHA256 {
        return Err(CertError::Signature("the algorithm is not ecdsa-with-SHA256".into()));
    }
    let tbs_der = tbs_bytes(der)?;
    let signature = cert
        .signature
        .as_bytes()
        .ok_or_else(|| CertError::Signature("the signature is not a whole number of bytes".into()))?;
    let raw = der_signature_to_raw(signature).map_err(|e| CertError::Signature(e.to_string()))?;
    if verify_es256(issuer_public, tbs_der, &raw) {
        Ok(())
    } else {
        Err(CertError::Signature("it was not made by the issuer's key".into()))
    }
}

/// The TBSCertificate TLV inside a Certificate DER.
fn tbs_bytes(der: &[u8]) -> Result<&[u8], CertError> {
    let mut reader = SliceReader::new(der).map_err(malformed)?;
    let header = der::Header::decode(&mut reader).map_err(malformed)?;
    if header.tag != der::Tag::Sequence {
        return Err(CertError::Malformed("a certificate is a SEQUENCE".into()));
    }
    reader.tlv_bytes().map_err(malformed)
}

fn find_extension<'a>(cert: &'a Certificate, oid: &ObjectIdentifier) -> Option<&'a Extension> {
    cert.tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .find(|e| &e.extn_id == oid)
}

/// The extension `oid` decoded as `T` with its critical flag; a duplicate is malformed.
fn extension_value<T: for<'a> Decode<'a> + AssociatedOid>(cert: &Certificate) -> Result<Option<(bool, T)>, CertError> {
    let oid = &T::OID;
    let mut found = cert
        .tbs_certificate
        .extensions
        .as_deref()
        .unwrap_or(&[])
        .iter()
        .filter(|e| &e.extn_id == oid);
    let Some(first) = found.next() else {
        return Ok(None);
    };
    if found.next().is_some() {
        return Err(CertError::Malformed(format!("the extension {oid} appears twice")));
    }
    let value = T::from_der(first.extn_value.as_bytes())
        .map_err(|e| CertError::Malformed(format!("the extension {oid}: {e}")))?;
    Ok(Some((first.critical, value)))
}

fn extension<T: Encode + AssociatedOid>(value: &T, critical: bool) -> Result<Extension, CertError> {
    Ok(Extension {
        extn_id: T::OID,
        critical,
        extn_value: OctetString::new(value.to_der().map_err(malformed)?).map_err(malformed)?,
    })
}

fn octets(bytes: &[u8]) -> Result<OctetString, CertError> {
    OctetString::new(bytes).map_err(malformed)
}

fn issuer_alt_name(uri: &str) -> Result<IssuerAltName, CertError> {
    let uri = Ia5String::new(uri)
        .map_err(|e| CertError::Malformed(format!("the issuer alternative name must be ASCII: {e}")))?;
    Ok(IssuerAltName(vec![GeneralName::UniformResourceIdentifier(uri)]))
}

/// The URI of the IACA's CRL, derived from the issuer alternative name URI by convention:
/// the CRL is published next to the trust material, at `<issuer_alt_uri>/crl/iaca.crl`.
fn crl_uri(issuer_alt_uri: &str) -> String {
    format!("{}/crl/iaca.crl", issuer_alt_uri.trim_end_matches('/'))
}

/// CRLDistributionPoints with the one IACA CRL as a URI fullName. ISO/IEC 18013-5 Annex B
/// (tables B.2 and B.4) requires the extension on both profiles; reasons and cRLIssuer stay
/// absent because the IACA itself issues one complete CRL.
fn crl_distribution_points(issuer_alt_uri: &str) -> Result<CrlDistributionPoints, CertError> {
    let uri = Ia5String::new(&crl_uri(issuer_alt_uri))
        .map_err(|e| CertError::Malformed(format!("the CRL distribution point must be ASCII: {e}")))?;
    Ok(CrlDistributionPoints(vec![DistributionPoint {
        distribution_point: Some(DistributionPointName::FullName(vec![
            GeneralName::UniformResourceIdentifier(uri),
        ])),
        reasons: None,
        crl_issuer: None,
    }]))
}

/// RFC 5280 §4.2.1.2 method (1): the SHA-1 of the subjectPublicKey BIT STRING's value (no tag,
/// length or unused-bits byte). Not RFC 7093's truncated SHA-256, because verifiers of
/// ISO/IEC 18013-5 chains (e.g. isomdl) recompute the identifier this way and reject others.
/// SHA-1's collision weakness does not matter here: the identifier only helps find the issuer,
/// the signature is what proves it.
fn key_identifier(spki: &SubjectPublicKeyInfoOwned) -> Vec<u8> {
    Sha1::digest(spki.subject_public_key.raw_bytes()).to_vec()
}

fn spki_of(public_sec1: &[u8]) -> Result<SubjectPublicKeyInfoOwned, CertError> {
    use p256::pkcs8::EncodePublicKey;
    // Through p256 so only valid P-256 points reach a certificate, uncompressed as KMS gives them.
    let der = p256::PublicKey::from_sec1_bytes(public_sec1)
        .map_err(|_| CertError::Malformed("the public key is not a P-256 point".into()))?
        .to_public_key_der()
        .map_err(malformed)?;
    SubjectPublicKeyInfoOwned::from_der(der.as_bytes()).map_err(malformed)
}

fn sec1_of(spki: &SubjectPublicKeyInfoOwned) -> Result<Vec<u8>, CertError> {
    use der::referenced::OwnedToRef;
    let key = crypto::p256_public_key(spki.owned_to_ref())
        .map_err(|e| CertError::Malformed(format!("the public key is not a P-256 key: {e}")))?;
    Ok(crypto::sec1_uncompressed(&key))
}

fn name_of(subject: &Subject) -> Result<Name, CertError> {
    let country = &subject.country;
    if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_uppercase()) {
        return Err(CertError::Malformed(format!(
            "the country {country:?} is not an ISO 3166-1 alpha-2 code"
        )));
    }
    if subject.organisation.is_empty() || subject.common_name.is_empty() {
        return Err(CertError::Malformed(
            "the organisation and common name must not be empty".into(),
        ));
    }
    // Country is a PrintableString (X.520); the others UTF8String so Chinese names fit.
    let country = Any::encode_from(&PrintableStringRef::new(country).map_err(malformed)?).map_err(malformed)?;
    let organisation =
        Any::encode_from(&Utf8StringRef::new(&subject.organisation).map_err(malformed)?).map_err(malformed)?;
    let common_name =
        Any::encode_from(&Utf8StringRef::new(&subject.common_name).map_err(malformed)?).map_err(malformed)?;
    let rdn = |oid, value| -> Result<RelativeDistinguishedName, CertError> {
        let set = SetOfVec::try_from(vec![AttributeTypeAndValue { oid, value }]).map_err(malformed)?;
        Ok(RelativeDistinguishedName(set))
    };
    Ok(RdnSequence(vec![
        rdn(COUNTRY_NAME, country)?,
        rdn(ORGANIZATION_NAME, organisation)?,
        rdn(COMMON_NAME, common_name)?,
    ]))
}

fn random_serial() -> Result<SerialNumber, CertError> {
    let mut bytes = [0u8; 16];
    OsRng.fill_bytes(&mut bytes);
    // High bit clear keeps it positive without a padding byte; the next bit set keeps it
    // exactly 16 bytes long (126 random bits, above the 63 ISO 18013-5 asks for).
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(malformed)
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050; whole seconds.
fn x509_time(at: DateTime<Utc>) -> Result<Time, CertError> {
    let seconds = u64::try_from(at.timestamp()).map_err(|_| CertError::Malformed(format!("{at} is before 1970")))?;
    let datetime = der::DateTime::from_unix_duration(Duration::from_secs(seconds)).map_err(malformed)?;
    if at.year() < 2050 {
        Ok(Time::UtcTime(UtcTime::from_date_time(datetime).map_err(malformed)?))
    } else {
        Ok(Time::GeneralTime(GeneralizedTime::from_date_time(datetime)))
    }
}

fn chrono_time(time: &Time) -> Result<DateTime<Utc>, CertError> {
    let seconds = i64::try_from(time.to_unix_duration().as_secs()).map_err(malformed)?;
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| CertError::Malformed(format!("time {time} is out of range")))
}

fn validity_of(cert: &Certificate) -> Result<(DateTime<Utc>, DateTime<Utc>), CertError> {
    let validity = &cert.tbs_certificate.validity;
    Ok((chrono_time(&validity.not_before)?, chrono_time(&validity.not_after)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::LocalSigner;
    use chrono::TimeZone;

    fn t(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    fn iaca_subject() -> Subject {
        Subject {
            country: "CN".into(),
            organisation: "中华人民共和国公安部交通管理局".into(),
            common_name: "China mDL IACA".into(),
        }
    }

    fn ds_subject() -> Subject {
        Subject {
            country: "CN".into(),
            organisation: "中华人民共和国公安部交通管理局".into(),
            common_name: "China mDL Document Signer 1".into(),
        }
    }

    const URI: &str = "https://edl.example.gov.cn/iaca";
    const CRL: &str = "https://edl.example.gov.cn/iaca/crl/iaca.crl";

    struct Pki {
        signer: LocalSigner,
        iaca: Vec<u8>,
        ds: Vec<u8>,
    }

    async fn pki() -> Pki {
        let signer = LocalSigner::new();
        signer.generate("iaca");
        signer.generate("ds");
        let iaca = issue_iaca(&signer, "iaca", &iaca_subject(), URI, t(2026, 1, 1), t(2035, 1, 1))
            .await
            .unwrap();
        let ds_public = signer.public_key("ds").await.unwrap();
        let ds = issue_document_signer(
            &signer,
            "iaca",
            &iaca,
            &ds_public,
            &ds_subject(),
            URI,
            t(2026, 1, 1),
            t(2027, 4, 1),
        )
        .await
        .unwrap();
        Pki { signer, iaca, ds }
    }

    /// Re-signs an edited TBS with the given key, for certificates the public API refuses to make.
    async fn resign(signer: &LocalSigner, key_id: &str, der: &[u8], edit: impl FnOnce(&mut TbsCertificate)) -> Vec<u8> {
        let mut tbs = Certificate::from_der(der).unwrap().tbs_certificate;
        edit(&mut tbs);
        let public = signer.public_key(key_id).await.unwrap();
        sign(signer, key_id, tbs, &public).await.unwrap()
    }

    fn replace_extension(tbs: &mut TbsCertificate, replacement: Extension) {
        let extensions = tbs.extensions.as_mut().unwrap();
        let slot = extensions
            .iter_mut()
            .find(|e| e.extn_id == replacement.extn_id)
            .unwrap();
        *slot = replacement;
    }

    #[tokio::test]
    async fn an_iaca_and_its_document_signer_verify() {
        let pki = pki().await;
        let info = verify_document_signer(&pki.iaca, &pki.ds, t(2026, 6, 1)).unwrap();
        assert_eq!(info.public_sec1, pki.signer.public_key("ds").await.unwrap());
        assert_eq!(
            info.subject,
            "CN=China mDL Document Signer 1,O=中华人民共和国公安部交通管理局,C=CN"
        );
        assert_eq!(info.serial.len(), 32, "16-byte serial: {}", info.serial);
        assert_eq!(info.not_before, t(2026, 1, 1));
        assert_eq!(info.not_after, t(2027, 4, 1));
        assert_eq!(
            public_key_of(&pki.iaca).unwrap(),
            pki.signer.public_key("iaca").await.unwrap()
        );
        assert_eq!(public_key_of(&pki.ds).unwrap(), info.public_sec1);
    }

    #[tokio::test]
    async fn the_certificates_follow_the_annex_b_profiles() {
        let pki = pki().await;
        let iaca = Certificate::from_der(&pki.iaca).unwrap();
        let ds = Certificate::from_der(&pki.ds).unwrap();
        for cert in [&iaca, &ds] {
            assert_eq!(cert.tbs_certificate.version, Version::V3);
            assert_eq!(cert.signature_algorithm.oid, ECDSA_WITH_SHA256);
            assert!(cert.signature_algorithm.parameters.is_none());
            let serial = cert.tbs_certificate.serial_number.as_bytes();
            assert_eq!(serial.len(), 16);
            assert_eq!(serial[0] & 0x80, 0, "positive");
            let (critical, ian) = cert.tbs_certificate.get::<IssuerAltName>().unwrap().unwrap();
            assert!(!critical);
            assert_eq!(
                ian.0,
                vec![GeneralName::UniformResourceIdentifier(Ia5String::new(URI).unwrap())]
            );
            let (critical, ski) = cert.tbs_certificate.get::<SubjectKeyIdentifier>().unwrap().unwrap();
            assert!(!critical);
            assert_eq!(
                ski.0.as_bytes(),
                key_identifier(&cert.tbs_certificate.subject_public_key_info)
            );
            assert_eq!(ski.0.as_bytes().len(), 20);
            let (critical, points) = cert.tbs_certificate.get::<CrlDistributionPoints>().unwrap().unwrap();
            assert!(!critical);
            assert_eq!(
                points.0,
                vec![DistributionPoint {
                    distribution_point: Some(DistributionPointName::FullName(vec![
                        GeneralName::UniformResourceIdentifier(Ia5String::new(CRL).unwrap())
                    ])),
                    reasons: None,
                    crl_issuer: None,
                }]
            );
            assert!(matches!(cert.tbs_certificate.validity.not_before, Time::UtcTime(_)));
        }
        assert_eq!(iaca.tbs_certificate.issuer, iaca.tbs_certificate.subject);
        assert_eq!(
            iaca.tbs_certificate.subject.to_string(),
            "CN=China mDL IACA,O=中华人民共和国公安部交通管理局,C=CN"
        );
        let (critical, constraints) = iaca.tbs_certificate.get::<BasicConstraints>().unwrap().unwrap();
        assert!(critical && constraints.ca);
        assert_eq!(constraints.path_len_constraint, Some(0));
        let (critical, usage) = iaca.tbs_certificate.get::<KeyUsage>().unwrap().unwrap();
        assert!(critical && usage.key_cert_sign() && usage.crl_sign() && !usage.digital_signature());
        assert!(iaca.tbs_certificate.get::<ExtendedKeyUsage>().unwrap().is_none());

        assert_eq!(ds.tbs_certificate.issuer, iaca.tbs_certificate.subject);
        let (critical, usage) = ds.tbs_certificate.get::<KeyUsage>().unwrap().unwrap();
        assert!(critical && usage.digital_signature() && !usage.key_cert_sign());
        let (critical, eku) = ds.tbs_certificate.get::<ExtendedKeyUsage>().unwrap().unwrap();
        assert!(critical);
        assert_eq!(eku.0, vec![ObjectIdentifier::new_unwrap("1.0.18013.5.1.2")]);
        let (critical, aki) = ds.tbs_certificate.get::<AuthorityKeyIdentifier>().unwrap().unwrap();
        assert!(!critical);
        let (_, iaca_ski) = iaca.tbs_certificate.get::<SubjectKeyIdentifier>().unwrap().unwrap();
        assert_eq!(aki.key_identifier, Some(iaca_ski.0));
        assert!(ds.tbs_certificate.get::<BasicConstraints>().unwrap().is_none());
    }

    #[test]
    fn key_identifiers_are_rfc_5280_method_1() {
        // Known answer from OpenSSL (`-addext subjectKeyIdentifier=hash`, which is method 1)
        // for this P-256 point: the SHA-1 of the point, i.e. of the BIT STRING's value.
        let point = hex::decode(
            "042ccae1a4d86d6c68ef9c7279d192ba2161b656a788f2330d2310332b3f234da1\
             361dea74b94eb1127491b7bd0f3c99f30e4f6402300a1317228424f3fb3cef89",
        )
        .unwrap();
        let spki = spki_of(&point).unwrap();
        assert_eq!(
            hex::encode(key_identifier(&spki)),
            "bdcfc40ccc5da10bc6f014b8130a2f49e0ba76b5"
        );
    }

    #[test]
    fn the_crl_uri_sits_next_to_the_trust_material() {
        assert_eq!(crl_uri(URI), CRL);
        assert_eq!(crl_uri("https://edl.example.gov.cn/iaca/"), CRL);
        assert_eq!(
            crl_uri("https://edl.example.gov.cn"),
            "https://edl.example.gov.cn/crl/iaca.crl"
        );
    }

    /// The independent check of the Annex B profiles: isomdl's 18013-5 chain validation finds
    /// our IACA as the trust anchor of our document signer and has no finding on either.
    #[tokio::test]
    async fn isomdl_finds_nothing_to_object_to() {
        use isomdl::definitions::x509::trust_anchor::{TrustAnchor, TrustAnchorRegistry, TrustPurpose};
        use isomdl::definitions::x509::validation::ValidationRuleset;
        use isomdl::definitions::x509::X5Chain;

        // isomdl checks validity against the wall clock, so these certificates live now.
        let now = Utc::now();
        let signer = LocalSigner::new();
        signer.generate("iaca");
        signer.generate("ds");
        let day = chrono::Duration::days(1);
        let iaca = issue_iaca(&signer, "iaca", &iaca_subject(), URI, now - day, now + day * 3650)
            .await
            .unwrap();
        let ds_public = signer.public_key("ds").await.unwrap();
        let ds = issue_document_signer(
            &signer,
            "iaca",
            &iaca,
            &ds_public,
            &ds_subject(),
            URI,
            now - day,
            now + day * 365,
        )
        .await
        .unwrap();
        let chain = X5Chain::builder().with_der_certificate(&ds).unwrap().build().unwrap();
        let registry = TrustAnchorRegistry {
            anchors: vec![TrustAnchor {
                certificate: Certificate::from_der(&iaca).unwrap(),
                purpose: TrustPurpose::Iaca,
            }],
        };
        let outcome = ValidationRuleset::Mdl.validate(&chain, &registry);
        assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
    }

    #[tokio::test]
    async fn a_document_signer_of_another_iaca_is_refused() {
        let pki = pki().await;
        let ds_public = pki.signer.public_key("ds").await.unwrap();
        pki.signer.generate("other-iaca");
        // Same name, other key: only the signature tells them apart.
        let twin = issue_iaca(
            &pki.signer,
            "other-iaca",
            &iaca_subject(),
            URI,
            t(2026, 1, 1),
            t(2035, 1, 1),
        )
        .await
        .unwrap();
        let at = t(2026, 6, 1);
        assert!(matches!(
            verify_document_signer(&twin, &pki.ds, at),
            Err(CertError::IssuerMismatch(_) | CertError::Signature(_))
        ));
        // Without the key identifiers to tell, it is the signature that fails.
        let ds_without_aki = resign(&pki.signer, "iaca", &pki.ds, |tbs| {
            tbs.extensions
                .as_mut()
                .unwrap()
                .retain(|e| e.extn_id != AuthorityKeyIdentifier::OID);
        })
        .await;
        assert!(verify_document_signer(&pki.iaca, &ds_without_aki, at).is_ok());
        assert!(matches!(
            verify_document_signer(&twin, &ds_without_aki, at),
            Err(CertError::Signature(_))
        ));
        // Another name: the issuer does not match.
        let other_subject = Subject {
            common_name: "Some Other IACA".into(),
            ..iaca_subject()
        };
        let other = issue_iaca(
            &pki.signer,
            "other-iaca",
            &other_subject,
            URI,
            t(2026, 1, 1),
            t(2035, 1, 1),
        )
        .await
        .unwrap();
        assert!(matches!(
            verify_document_signer(&other, &pki.ds, at),
            Err(CertError::IssuerMismatch(_))
        ));
        let foreign_ds = issue_document_signer(
            &pki.signer,
            "other-iaca",
            &other,
            &ds_public,
            &ds_subject(),
            URI,
            t(2026, 1, 1),
            t(2027, 1, 1),
        )
        .await
        .unwrap();
        assert!(verify_document_signer(&other, &foreign_ds, at).is_ok());
        assert!(matches!(
            verify_document_signer(&pki.iaca, &foreign_ds, at),
            Err(CertError::IssuerMismatch(_))
        ));
    }

    #[tokio::test]
    async fn issuing_with_a_key_that_is_not_the_iacas_fails() {
        let pki = pki().await;
        let ds_public = pki.signer.public_key("ds").await.unwrap();
        let result = issue_document_signer(
            &pki.signer,
            "ds",
            &pki.iaca,
            &ds_public,
            &ds_subject(),
            URI,
            t(2026, 1, 1),
            t(2027, 1, 1),
        )
        .await;
        assert!(matches!(result, Err(CertError::Signature(_))), "{result:?}");
    }

    #[tokio::test]
    async fn validity_is_checked_on_both_certificates() {
        let pki = pki().await;
        assert!(matches!(
            verify_document_signer(&pki.iaca, &pki.ds, t(2025, 12, 31)),
            Err(CertError::NotYetValid(_))
        ));
        assert!(matches!(
            verify_document_signer(&pki.iaca, &pki.ds, t(2027, 4, 2)),
            Err(CertError::Expired(_))
        ));
        assert!(
            verify_document_signer(&pki.iaca, &pki.ds, t(2027, 4, 1)).is_ok(),
            "notAfter is inclusive"
        );
        assert!(
            verify_document_signer(&pki.iaca, &pki.ds, t(2026, 1, 1)).is_ok(),
            "notBefore is inclusive"
        );

        // The document signer outlives its IACA: expired once the IACA is.
        let short_iaca = resign(&pki.signer, "iaca", &pki.iaca, |tbs| {
            tbs.validity.not_after = x509_time(t(2026, 3, 1)).unwrap();
        })
        .await;
        assert!(verify_document_signer(&short_iaca, &pki.ds, t(2026, 2, 1)).is_ok());
        match verify_document_signer(&short_iaca, &pki.ds, t(2026, 6, 1)) {
            Err(CertError::Expired(why)) => assert!(why.contains("IACA"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn times_from_2050_are_generalized_time() {
        let signer = LocalSigner::new();
        signer.generate("iaca");
        let iaca = issue_iaca(&signer, "iaca", &iaca_subject(), URI, t(2049, 1, 1), t(2051, 1, 1))
            .await
            .unwrap();
        let cert = Certificate::from_der(&iaca).unwrap();
        assert!(matches!(cert.tbs_certificate.validity.not_before, Time::UtcTime(_)));
        assert!(matches!(cert.tbs_certificate.validity.not_after, Time::GeneralTime(_)));
        assert_eq!(validity_of(&cert).unwrap(), (t(2049, 1, 1), t(2051, 1, 1)));
    }

    #[tokio::test]
    async fn a_flipped_byte_is_caught() {
        let pki = pki().await;
        let at = t(2026, 6, 1);
        // In the subject name: the signature no longer covers what is there.
        let needle = b"Document Signer 1";
        let position = pki.ds.windows(needle.len()).position(|w| w == needle).unwrap();
        let mut renamed = pki.ds.clone();
        renamed[position + needle.len() - 1] ^= 0x01;
        assert!(matches!(
            verify_document_signer(&pki.iaca, &renamed, at),
            Err(CertError::Signature(_))
        ));
        // In the signature value itself.
        let mut last = pki.ds.clone();
        let end = last.len() - 1;
        last[end] ^= 0x01;
        assert!(matches!(
            verify_document_signer(&pki.iaca, &last, at),
            Err(CertError::Signature(_))
        ));
        // Anywhere at all.
        for i in 0..pki.ds.len() {
            let mut flipped = pki.ds.clone();
            flipped[i] ^= 0x04;
            assert!(
                verify_document_signer(&pki.iaca, &flipped, at).is_err(),
                "flipping byte {i} went unnoticed"
            );
        }
        for i in (0..pki.iaca.len()).step_by(7) {
            let mut flipped = pki.iaca.clone();
            flipped[i] ^= 0x10;
            assert!(verify_document_signer(&flipped, &pki.ds, at).is_err(), "IACA byte {i}");
        }
        assert!(matches!(
            verify_document_signer(&pki.iaca, b"junk", at),
            Err(CertError::Malformed(_))
        ));
        assert!(matches!(
            verify_document_signer(b"junk", &pki.ds, at),
            Err(CertError::Malformed(_))
        ));
        let mut trailing = pki.ds.clone();
        trailing.push(0);
        assert!(matches!(
            verify_document_signer(&pki.iaca, &trailing, at),
            Err(CertError::Malformed(_))
        ));
    }

    #[tokio::test]
    async fn roles_are_not_interchangeable() {
        let pki = pki().await;
        let at = t(2026, 6, 1);
        assert!(matches!(
            verify_document_signer(&pki.ds, &pki.ds, at),
            Err(CertError::NotAnIaca(_))
        ));
        assert!(matches!(
            verify_document_signer(&pki.iaca, &pki.iaca, at),
            Err(CertError::NotADocumentSigner(_))
        ));
        let not_a_ca = resign(&pki.signer, "iaca", &pki.iaca, |tbs| {
            let constraints = BasicConstraints {
                ca: false,
                path_len_constraint: None,
            };
            replace_extension(tbs, extension(&constraints, true).unwrap());
        })
        .await;
        assert!(matches!(
            verify_document_signer(&not_a_ca, &pki.ds, at),
            Err(CertError::NotAnIaca(_))
        ));
        let no_cert_sign = resign(&pki.signer, "iaca", &pki.iaca, |tbs| {
            replace_extension(tbs, extension(&KeyUsage(KeyUsages::CRLSign.into()), true).unwrap());
        })
        .await;
        assert!(matches!(
            verify_document_signer(&no_cert_sign, &pki.ds, at),
            Err(CertError::NotAnIaca(_))
        ));
        let no_eku = resign(&pki.signer, "iaca", &pki.ds, |tbs| {
            let other_purpose = ExtendedKeyUsage(vec![ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3")]);
            replace_extension(tbs, extension(&other_purpose, true).unwrap());
        })
        .await;
        assert!(matches!(
            verify_document_signer(&pki.iaca, &no_eku, at),
            Err(CertError::NotADocumentSigner(_))
        ));
        let no_digital_signature = resign(&pki.signer, "iaca", &pki.ds, |tbs| {
            replace_extension(tbs, extension(&KeyUsage(KeyUsages::KeyAgreement.into()), true).unwrap());
        })
        .await;
        assert!(matches!(
            verify_document_signer(&pki.iaca, &no_digital_signature, at),
            Err(CertError::NotADocumentSigner(_))
        ));
    }

    #[tokio::test]
    async fn kid_is_stable_per_key() {
        let pki = pki().await;
        let kid = kid_of(&pki.ds);
        assert_eq!(kid.len(), 16);
        assert!(kid.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(kid, kid_of(&pki.ds));
        assert_ne!(kid, kid_of(&pki.iaca));
        let reissued = issue_document_signer(
            &pki.signer,
            "iaca",
            &pki.iaca,
            &pki.signer.public_key("ds").await.unwrap(),
            &ds_subject(),
            URI,
            t(2026, 2, 1),
            t(2027, 2, 1),
        )
        .await
        .unwrap();
        assert_ne!(reissued, pki.ds, "a fresh serial");
        assert_eq!(kid_of(&reissued), kid, "the same key, the same kid");
        assert_eq!(kid_of(b"junk").len(), 16);
    }

    #[tokio::test]
    async fn signer_failures_and_bad_input_are_reported() {
        let pki = pki().await;
        pki.signer.disable("iaca");
        let result = issue_iaca(&pki.signer, "iaca", &iaca_subject(), URI, t(2026, 1, 1), t(2035, 1, 1)).await;
        assert_eq!(result, Err(CertError::Signer(SignerError::Disabled("iaca".into()))));
        let result = issue_iaca(&pki.signer, "nope", &iaca_subject(), URI, t(2026, 1, 1), t(2035, 1, 1)).await;
        assert_eq!(result, Err(CertError::Signer(SignerError::UnknownKey("nope".into()))));
        pki.signer.generate("fresh");
        let bad_country = Subject {
            country: "China".into(),
            ..iaca_subject()
        };
        let result = issue_iaca(&pki.signer, "fresh", &bad_country, URI, t(2026, 1, 1), t(2035, 1, 1)).await;
        assert!(matches!(result, Err(CertError::Malformed(_))));
        let result = issue_iaca(&pki.signer, "fresh", &iaca_subject(), URI, t(2035, 1, 1), t(2026, 1, 1)).await;
        assert!(matches!(result, Err(CertError::Malformed(_))));
        let result = issue_iaca(
            &pki.signer,
            "fresh",
            &iaca_subject(),
            "https://例子.cn",
            t(2026, 1, 1),
            t(2035, 1, 1),
        )
        .await;
        assert!(matches!(result, Err(CertError::Malformed(_))));
        let result = issue_document_signer(
            &pki.signer,
            "fresh",
            &pki.iaca,
            &[4u8; 65],
            &ds_subject(),
            URI,
            t(2026, 1, 1),
            t(2027, 1, 1),
        )
        .await;
        assert!(matches!(result, Err(CertError::Malformed(_))));
    }
}
