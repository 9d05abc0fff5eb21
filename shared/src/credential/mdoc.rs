//! The licence as an ISO/IEC 18013-5 mdoc: building and signing its IssuerSigned, and checking one.
//!
//! Longer than 600 lines on purpose: building and checking are kept side by side because each digest and
//! signature must be checked over exactly the bytes the builder wrote (the element order, the Tag24
//! wrapping, the MSO's digests); splitting them would put the two halves of that discipline apart.

use super::cert;
use super::iso18013_5::{
    self as iso, CborError, DeviceKeyInfo, Document, IssuerSigned, IssuerSignedItem, MobileSecurityObject, Sign1,
    Status, StatusListReference, TDate, Tag24, UniqueMap, ValidityInfo,
};
use crate::crypto::{sha256, verify_es256};
use crate::kernel::signing::{Signer, SignerError};
use crate::register::licence::{Licence, Sex};
use base64::Engine as _;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, SubsecRound, Utc};
use ciborium::Value;
use coset::{iana, CoseKeyBuilder, CoseSign1, CoseSign1Builder, HeaderBuilder, Label, RegisteredLabelWithPrivate};
use p256::elliptic_curve::sec1::ToEncodedPoint;
use rand_core::{OsRng, RngCore};
use serde_bytes::ByteBuf;
use std::collections::{BTreeMap, BTreeSet};

pub const DOC_TYPE: &str = "org.iso.18013.5.1.mDL";
pub const ISO_NAMESPACE: &str = "org.iso.18013.5.1";
pub const DOMESTIC_NAMESPACE: &str = "cn.gov.mps.edl.1";

/// COSE header label of the x5chain (RFC 9360), where ISO 18013-5 carries the document-signer certificate.
const X5CHAIN: i64 = 33;
/// CBOR tag of an RFC 8943 full-date.
const TAG_FULL_DATE: u64 = 1004;
/// 18013-5 asks for at least 16 bytes; 32 leaves no doubt about guessing an element from its digest.
const SALT_BYTES: usize = 32;
const MIN_SALT_BYTES: usize = 16;
/// How many salt lengths from [`SALT_BYTES`] up the aligned element may use: three turn its offset through
/// every residue mod 3; the rest covers an item whose length head grows by two bytes on the way.
const ALIGNING_SALT_LENGTHS: usize = 6;

/// Surnames of two characters; every other Han surname is taken to be one character.
const COMPOUND_SURNAMES: [&str; 13] = [
    "欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "长孙", "宇文", "司徒", "夏侯",
];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MdocError {
    #[error("the validity period is not usable: {0}")]
    InvalidValidity(String),
    #[error("the device key is not a P-256 public key in SEC1 form")]
    InvalidDeviceKey,
    #[error("nationality {0} is not an ISO 3166-1 alpha-3 code")]
    UnknownNationality(String),
    #[error("the system's random source failed: {0}")]
    Randomness(String),
    #[error("the document-signer certificate is unusable: {0}")]
    Certificate(String),
    #[error("signing the MSO failed: {0}")]
    Signer(#[from] SignerError),
    /// The signer signed with a key other than the one in the document-signer certificate.
    #[error("the signature does not verify with the document-signer certificate's key")]
    KeyMismatch,
    #[error("CBOR encoding failed: {0}")]
    Encoding(String),
    #[error("the mdoc is malformed: {0}")]
    Malformed(String),
    #[error("the issuer signature uses algorithm {0}, not ES256")]
    UnsupportedAlgorithm(String),
    #[error("the MSO uses digest algorithm {0}, not SHA-256")]
    UnsupportedDigestAlgorithm(String),
    #[error("the issuer signature does not verify")]
    BadSignature,
    #[error("docType {found} is not {expected}")]
    WrongDocType { found: String, expected: String },
    #[error("element {namespace}/{element} has digest ID {digest_id}, which the MSO does not list")]
    MissingDigest {
        namespace: String,
        element: String,
        digest_id: u64,
    },
    #[error("element {namespace}/{element} does not match its digest in the MSO")]
    DigestMismatch { namespace: String, element: String },
    #[error("not valid before {valid_from} (checked at {at})")]
    NotYetValid {
        at: DateTime<Utc>,
        valid_from: DateTime<Utc>,
    },
    #[error("not valid after {valid_until} (checked at {at})")]
    Expired {
        at: DateTime<Utc>,
        valid_until: DateTime<Utc>,
    },
    /// The Document claims a docType other than the one its issuer signed in the MSO.
    #[error("the document says docType {document}, its MSO {mso}")]
    DocTypeMismatch { document: String, mso: String },
    /// The device signature does not verify with the MSO's device key over this session
    /// transcript: another key signed it, or it was made for another session (a replay).
    #[error("the device signature does not verify with the MSO's device key over this session")]
    DeviceSignature,
    #[error("the document carries no device authentication")]
    MissingDeviceAuth,
    #[error("device MAC authentication needs a proximity session's reader key; online, the device signs")]
    DeviceMacUnsupported,
    #[error("the verifier's nonce is unusable: {0}")]
    BadNonce(String),
}

impl MdocError {
    /// Stable reason code, reported by verifiers.
    pub fn code(&self) -> &'static str {
        match self {
            MdocError::BadSignature | MdocError::KeyMismatch => "bad-signature",
            MdocError::MissingDigest { .. } | MdocError::DigestMismatch { .. } => "digest-mismatch",
            MdocError::NotYetValid { .. } => "not-yet-valid",
            MdocError::Expired { .. } => "expired",
            MdocError::WrongDocType { .. } => "wrong-doc-type",
            MdocError::UnsupportedAlgorithm(_) | MdocError::UnsupportedDigestAlgorithm(_) => "wrong-algorithm",
            MdocError::Certificate(_) => "untrusted-certificate",
            MdocError::DocTypeMismatch { .. } => "doc-type-mismatch",
            MdocError::DeviceSignature => "bad-device-signature",
            MdocError::MissingDeviceAuth => "missing-device-auth",
            MdocError::DeviceMacUnsupported => "device-mac-unsupported",
            MdocError::BadNonce(_) => "bad-nonce",
            MdocError::InvalidValidity(_)
            | MdocError::InvalidDeviceKey
            | MdocError::UnknownNationality(_)
            | MdocError::Randomness(_)
            | MdocError::Signer(_)
            | MdocError::Encoding(_)
            | MdocError::Malformed(_) => "bad-mdoc",
        }
    }
}

/// What goes into one electronic licence's mdoc.
pub struct MdocInput<'a> {
    pub licence: &'a Licence,
    /// The electronic licence's serial.
    pub serial: &'a str,
    pub portrait_jpeg: Option<&'a [u8]>,
    /// When the electronic licence was generated; also the MSO's `signed`.
    pub generated_at: DateTime<Utc>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    /// The app's device public key (P-256, SEC1), when it supplied one.
    pub device_key_sec1: Option<&'a [u8]>,
    /// The document's entry in a published status list (the MSO's `status`), when it has one.
    pub status: Option<StatusListReference>,
}

pub struct IssuedMdoc {
    /// CBOR IssuerSigned: `{nameSpaces, issuerAuth}`.
    pub issuer_signed: Vec<u8>,
    /// CBOR Document `{docType, issuerSigned}`, for a transfer without a DeviceResponse.
    pub document: Vec<u8>,
    /// Where the aligned element's byte string lies in `issuer_signed`, when one was asked for and it could be
    /// laid out at an offset that is a multiple of 3.
    pub aligned_span: Option<ByteSpan>,
}

/// Where a byte string element's value lies in an encoded IssuerSigned: its first byte's offset and its length.
/// With an offset that is a multiple of 3 the value's bytes are a run of whole base64 quanta of the
/// document's base64, so a reader can cut the value's base64 out of it without decoding the document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ByteSpan {
    pub offset: usize,
    pub length: usize,
}

/// What [`verify_issuer_signed`] vouches for.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedMdoc {
    pub doc_type: String,
    /// Namespace → element → value. Dates become their text (`"1990-03-07"`,
    /// `"2025-01-01T08:00:00Z"`), byte strings standard base64 with padding, maps and
    /// arrays stay maps and arrays.
    pub elements: BTreeMap<String, BTreeMap<String, serde_json::Value>>,
    pub signed: DateTime<Utc>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub document_signer_der: Vec<u8>,
    /// The document's entry in a status list, when its MSO names one.
    pub status: Option<StatusListReference>,
}

/// Builds and signs the licence's mdoc: every element salted and digested, the MSO signed as
/// COSE_Sign1 ES256 through `signer` with `key_id`, whose certificate `document_signer_der`
/// travels in the x5chain header.
///
/// Times are cut to whole seconds (18013-5 tdates carry none). As 18013-5 requires,
/// `valid_from` may not precede `generated_at`, and `valid_until` must follow `valid_from`.
///
/// When the app supplied no device key, a fresh P-256 key pair is made, its public half goes
/// into `deviceKeyInfo` and the private half is dropped at once: such an mdoc can never pass
/// mdoc (device) authentication, so it cannot be presented offline as proof of possession,
/// but issuer authentication and online verification work as usual.
pub async fn issue(
    input: &MdocInput<'_>,
    signer: &dyn Signer,
    key_id: &str,
    document_signer_der: &[u8],
) -> Result<IssuedMdoc, MdocError> {
    let namespaces = vec![
        (ISO_NAMESPACE, iso_elements(input)?),
        (DOMESTIC_NAMESPACE, domestic_elements(input)?),
    ];
    sign_document(
        &DocumentInput {
            doc_type: DOC_TYPE,
            namespaces,
            generated_at: input.generated_at,
            valid_from: input.valid_from,
            valid_until: input.valid_until,
            device_key_sec1: input.device_key_sec1,
            status: input.status.clone(),
            // The officer's disclosure cuts the portrait's base64 out of the stored document's.
            aligned_element: Some((ISO_NAMESPACE, "portrait")),
        },
        signer,
        key_id,
        document_signer_der,
    )
    .await
}

/// Any mdoc this service issues: its docType, its namespaces' elements, validity and device key.
pub struct DocumentInput<'a> {
    pub doc_type: &'a str,
    pub namespaces: Vec<(&'a str, Vec<(&'static str, Value)>)>,
    pub generated_at: DateTime<Utc>,
    pub valid_from: DateTime<Utc>,
    pub valid_until: DateTime<Utc>,
    pub device_key_sec1: Option<&'a [u8]>,
    /// The document's entry in a status list, if it has one.
    pub status: Option<StatusListReference>,
    /// A byte string element (namespace, identifier) to lay out at an offset that is a multiple of 3 in the
    /// IssuerSigned, by choosing its salt's length (never under [`SALT_BYTES`]); [`IssuedMdoc::aligned_span`]
    /// says where it landed.
    pub aligned_element: Option<(&'a str, &'static str)>,
}

/// Builds and signs an mdoc of any docType (the licence, the truck pass) the
/// way [`issue`] describes: salted digests, the MSO as COSE_Sign1 ES256
/// through `signer`, the certificate in the x5chain header.
pub async fn sign_document(
    input: &DocumentInput<'_>,
    signer: &dyn Signer,
    key_id: &str,
    document_signer_der: &[u8],
) -> Result<IssuedMdoc, MdocError> {
    let signed = input.generated_at.trunc_subsecs(0);
    let valid_from = input.valid_from.trunc_subsecs(0);
    let valid_until = input.valid_until.trunc_subsecs(0);
    if valid_from < signed {
        return Err(MdocError::InvalidValidity(format!(
            "validFrom {valid_from} precedes the signing time {signed}"
        )));
    }
    if valid_until <= valid_from {
        return Err(MdocError::InvalidValidity(format!(
            "validUntil {valid_until} is not after validFrom {valid_from}"
        )));
    }
    // Checked before signing so that a wrong certificate costs no signature.
    let ds_public = cert::public_key_of(document_signer_der).map_err(|e| MdocError::Certificate(e.to_string()))?;
    let device_key = match input.device_key_sec1 {
        Some(sec1) => p256::PublicKey::from_sec1_bytes(sec1).map_err(|_| MdocError::InvalidDeviceKey)?,
        None => throwaway_public_key()?,
    };

    let mut name_spaces = Vec::new();
    for (namespace, elements) in input.namespaces.iter().cloned() {
        let ids = shuffled_ids(elements.len())?;
        let mut items = Vec::with_capacity(elements.len());
        for ((identifier, value), id) in elements.into_iter().zip(ids) {
            items.push(Tag24::new(IssuerSignedItem {
                digest_id: id.into(),
                random: ByteBuf::from(random_bytes(SALT_BYTES)?),
                element_identifier: identifier.to_string(),
                element_value: value,
            })?);
        }
        name_spaces.push((namespace.to_string(), items));
    }
    let aligned = match input.aligned_element {
        Some((namespace, identifier)) => align_element(&mut name_spaces, namespace, identifier)?,
        None => None,
    };
    // Digested once every item is final: aligning may have salted one again.
    let mut value_digests = Vec::with_capacity(name_spaces.len());
    for (namespace, items) in &name_spaces {
        let digests = items
            .iter()
            .map(|item| {
                (
                    item.value().digest_id,
                    ByteBuf::from(sha256(&item.tagged_bytes()).to_vec()),
                )
            })
            .collect();
        value_digests.push((namespace.clone(), unique(digests)?));
    }

    let point = device_key.to_encoded_point(false);
    let (Some(x), Some(y)) = (point.x(), point.y()) else {
        return Err(MdocError::InvalidDeviceKey);
    };
    let mso = Tag24::new(MobileSecurityObject {
        version: "1.0".into(),
        digest_algorithm: "SHA-256".into(),
        value_digests: unique(value_digests)?,
        device_key_info: DeviceKeyInfo {
            device_key: iso::Key(
                CoseKeyBuilder::new_ec2_pub_key(iana::EllipticCurve::P_256, x.to_vec(), y.to_vec()).build(),
            ),
            key_authorizations: None,
            key_info: None,
        },
        doc_type: input.doc_type.to_string(),
        validity_info: ValidityInfo {
            signed: TDate(signed),
            valid_from: TDate(valid_from),
            valid_until: TDate(valid_until),
            expected_update: None,
        },
        status: input.status.clone().map(|status_list| Status { status_list }),
    })?;

    let mut sign1 = CoseSign1Builder::new()
        .protected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build())
        .unprotected(
            HeaderBuilder::new()
                .value(X5CHAIN, Value::Bytes(document_signer_der.to_vec()))
                .build(),
        )
        .payload(mso.tagged_bytes())
        .build();
    let to_be_signed = sign1.tbs_data(b"");
    let signature = signer.sign_digest(key_id, &sha256(&to_be_signed)).await?;
    // A key id pointing at another key than the certificate's would yield mdocs nobody can verify.
    if !verify_es256(&ds_public, &to_be_signed, &signature) {
        return Err(MdocError::KeyMismatch);
    }
    sign1.signature = signature.to_vec();

    let issuer_signed = IssuerSigned {
        name_spaces: Some(unique(name_spaces)?),
        issuer_auth: Sign1(sign1),
    };
    let document = Document {
        doc_type: input.doc_type.to_string(),
        issuer_signed,
        device_signed: None,
        errors: None,
    };
    let issuer_signed = iso::to_vec(&document.issuer_signed)?;
    // The span is told only where the encoding holds exactly the element's bytes there, at an aligned offset.
    let aligned_span = aligned.filter(|(span, value)| {
        span.offset.is_multiple_of(3) && issuer_signed.get(span.offset..span.offset + span.length) == Some(&value[..])
    });
    Ok(IssuedMdoc {
        issuer_signed,
        document: iso::to_vec(&document)?,
        aligned_span: aligned_span.map(|(span, _)| span),
    })
}

/// Salts the byte string element `identifier` of `namespace` again, with salts from [`SALT_BYTES`] bytes up,
/// until its value starts at an offset in the IssuerSigned that is a multiple of 3 (its salt precedes its value,
/// so each extra byte moves the value by one). The span found and the value; None when there is no such byte
/// string element, or no salt length aligned it (the element then keeps a salt of the same strength).
fn align_element(
    name_spaces: &mut [(String, Vec<Tag24<IssuerSignedItem>>)],
    namespace: &str,
    identifier: &str,
) -> Result<Option<(ByteSpan, Vec<u8>)>, MdocError> {
    let Some(index) = name_spaces.iter().position(|(name, _)| name == namespace) else {
        return Ok(None);
    };
    let Some(position) = name_spaces[index]
        .1
        .iter()
        .position(|item| item.value().element_identifier == identifier)
    else {
        return Ok(None);
    };
    let Value::Bytes(value) = name_spaces[index].1[position].value().element_value.clone() else {
        return Ok(None);
    };
    for salt in SALT_BYTES..SALT_BYTES + ALIGNING_SALT_LENGTHS {
        let current = name_spaces[index].1[position].value();
        if current.random.len() != salt {
            let salted = Tag24::new(IssuerSignedItem {
                digest_id: current.digest_id,
                random: ByteBuf::from(random_bytes(salt)?),
                element_identifier: current.element_identifier.clone(),
                element_value: current.element_value.clone(),
            })?;
            name_spaces[index].1[position] = salted;
        }
        let offset = value_offset(name_spaces, index, position, value.len())?;
        if offset.is_some_and(|offset| offset.is_multiple_of(3)) {
            return Ok(offset.map(|offset| {
                (
                    ByteSpan {
                        offset,
                        length: value.len(),
                    },
                    value,
                )
            }));
        }
    }
    Ok(None)
}

/// Where the value (of `length` bytes, the item's last field) of item `position` of namespace `index` starts in
/// the IssuerSigned these namespaces encode into: the issuer's signature follows the namespaces, so a placeholder
/// stands in for it. Found by the item's first bytes, its salt among them.
fn value_offset(
    name_spaces: &[(String, Vec<Tag24<IssuerSignedItem>>)],
    index: usize,
    position: usize,
    length: usize,
) -> Result<Option<usize>, MdocError> {
    let placeholder = IssuerSigned {
        name_spaces: Some(unique(name_spaces.to_vec())?),
        issuer_auth: Sign1(CoseSign1::default()),
    };
    let encoded = iso::to_vec(&placeholder)?;
    let item = name_spaces[index].1[position].tagged_bytes();
    let head = &item[..item.len().min(96)];
    Ok(encoded
        .windows(head.len())
        .position(|window| window == head)
        .and_then(|start| (start + item.len()).checked_sub(length)))
}

/// A map of unique keys; a key twice is a bug of the caller's input.
fn unique<K: PartialEq + std::fmt::Debug, V>(entries: Vec<(K, V)>) -> Result<UniqueMap<K, V>, MdocError> {
    UniqueMap::new(entries).map_err(|key| MdocError::Encoding(format!("{key:?} is given twice")))
}

/// The portrait (JPEG bytes) of a licence's own IssuerSigned, as the service stored it when it signed it; None
/// when the document has no portrait or cannot be read. For what the service itself issued, not for a document
/// received from outside (that one goes through [`verify_issuer_signed`]).
pub fn portrait_of(issuer_signed: &[u8]) -> Option<Vec<u8>> {
    let issuer_signed: IssuerSigned = iso::from_slice(issuer_signed).ok()?;
    let name_spaces = issuer_signed.name_spaces?;
    name_spaces
        .get(&ISO_NAMESPACE.to_string())?
        .iter()
        .map(Tag24::value)
        .find(|item| item.element_identifier == "portrait")
        .and_then(|item| match &item.element_value {
            Value::Bytes(bytes) => Some(bytes.clone()),
            _ => None,
        })
}

/// Verifies an IssuerSigned: COSE_Sign1 ES256 signature with the x5chain certificate's key,
/// every element's digest against the MSO, docType, and validity at `at` (± `skew_seconds`).
/// It does NOT check the certificate chain (the caller does, with `cert::verify_document_signer`).
pub fn verify_issuer_signed(
    issuer_signed: &[u8],
    at: DateTime<Utc>,
    skew_seconds: i64,
) -> Result<VerifiedMdoc, MdocError> {
    verify_document(issuer_signed, DOC_TYPE, at, skew_seconds)
}

/// [`verify_issuer_signed`] for a document of `doc_type`: one of another type
/// is refused however well it is signed, so a pass never verifies as a licence.
pub fn verify_document(
    issuer_signed: &[u8],
    doc_type_expected: &str,
    at: DateTime<Utc>,
    skew_seconds: i64,
) -> Result<VerifiedMdoc, MdocError> {
    let issuer_signed: IssuerSigned =
        iso::from_slice(issuer_signed).map_err(|e| malformed(format!("IssuerSigned: {}", e.0)))?;
    verify_issuer(&issuer_signed, doc_type_expected, at, skew_seconds).map(|(verified, _)| verified)
}

/// [`verify_document`] over a decoded IssuerSigned; also hands back the MSO it vouched for.
pub fn verify_issuer(
    issuer_signed: &IssuerSigned,
    doc_type_expected: &str,
    at: DateTime<Utc>,
    skew_seconds: i64,
) -> Result<(VerifiedMdoc, MobileSecurityObject), MdocError> {
    let sign1 = &issuer_signed.issuer_auth.0;
    match &sign1.protected.header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => {}
        Some(other) => return Err(MdocError::UnsupportedAlgorithm(format!("{other:?}"))),
        None => return Err(MdocError::UnsupportedAlgorithm("none".into())),
    }
    let document_signer_der = x5chain_leaf(sign1)?;
    let ds_public = cert::public_key_of(&document_signer_der).map_err(|e| MdocError::Certificate(e.to_string()))?;
    let Some(payload) = sign1.payload.as_deref() else {
        return Err(malformed("issuerAuth has a detached payload"));
    };
    // The protected header and payload exactly as received (coset keeps both).
    if !verify_es256(&ds_public, &sign1.tbs_data(b""), &sign1.signature) {
        return Err(MdocError::BadSignature);
    }

    let mso: Tag24<MobileSecurityObject> =
        iso::from_slice(payload).map_err(|e| malformed(format!("the MSO: {}", e.0)))?;
    let mso = mso.value();
    if mso.doc_type != doc_type_expected {
        return Err(MdocError::WrongDocType {
            found: mso.doc_type.clone(),
            expected: doc_type_expected.to_string(),
        });
    }
    if mso.digest_algorithm != "SHA-256" {
        return Err(MdocError::UnsupportedDigestAlgorithm(mso.digest_algorithm.clone()));
    }
    let validity = &mso.validity_info;
    let (signed, valid_from, valid_until) = (validity.signed.0, validity.valid_from.0, validity.valid_until.0);
    // An absurd skew saturates instead of overflowing the date arithmetic.
    let skew = chrono::TimeDelta::try_seconds(skew_seconds.max(0)).unwrap_or(chrono::TimeDelta::MAX);
    if at.checked_add_signed(skew).unwrap_or(DateTime::<Utc>::MAX_UTC) < valid_from {
        return Err(MdocError::NotYetValid { at, valid_from });
    }
    if at.checked_sub_signed(skew).unwrap_or(DateTime::<Utc>::MIN_UTC) > valid_until {
        return Err(MdocError::Expired { at, valid_until });
    }

    let mut elements = BTreeMap::new();
    for (namespace, items) in issuer_signed.name_spaces.iter().flat_map(UniqueMap::iter) {
        let digests = mso.value_digests.get(namespace);
        let mut seen_ids = BTreeSet::new();
        let mut values = BTreeMap::new();
        for wrapped in items {
            let item = wrapped.value();
            let element = &item.element_identifier;
            if item.random.len() < MIN_SALT_BYTES {
                return Err(malformed(format!(
                    "{namespace}/{element}: its salt is shorter than {MIN_SALT_BYTES} bytes"
                )));
            }
            let Some(expected) = digests.and_then(|d| d.get(&item.digest_id)) else {
                return Err(MdocError::MissingDigest {
                    namespace: namespace.clone(),
                    element: element.clone(),
                    digest_id: item.digest_id,
                });
            };
            if expected.as_slice() != sha256(&wrapped.tagged_bytes()).as_slice() {
                return Err(MdocError::DigestMismatch {
                    namespace: namespace.clone(),
                    element: element.clone(),
                });
            }
            if !seen_ids.insert(item.digest_id) {
                return Err(malformed(format!(
                    "{namespace}: digest ID {} is used twice",
                    item.digest_id
                )));
            }
            if values.insert(element.clone(), to_json(&item.element_value)).is_some() {
                return Err(malformed(format!("{namespace}/{element} appears twice")));
            }
        }
        elements.insert(namespace.clone(), values);
    }

    Ok((
        VerifiedMdoc {
            doc_type: mso.doc_type.clone(),
            elements,
            signed,
            valid_from,
            valid_until,
            document_signer_der,
            status: mso.status.as_ref().map(|status| status.status_list.clone()),
        },
        mso.clone(),
    ))
}

fn iso_elements(input: &MdocInput<'_>) -> Result<Vec<(&'static str, Value)>, MdocError> {
    let licence = input.licence;
    let (family_name, given_name) = split_name(&licence.name);
    let nationality =
        alpha2_of(&licence.nationality).ok_or_else(|| MdocError::UnknownNationality(licence.nationality.clone()))?;
    let privileges = licence
        .classes
        .iter()
        .map(|class| {
            Value::Map(vec![
                (text("vehicle_category_code"), text(class.code())),
                (text("issue_date"), full_date(licence.first_issue_date)),
                (text("expiry_date"), full_date(licence.valid_to)),
            ])
        })
        .collect();
    let sex: u8 = match licence.sex {
        Sex::Male => 1,
        Sex::Female => 2,
    };
    let mut elements = vec![
        ("family_name", text(family_name)),
        ("given_name", text(given_name)),
        ("birth_date", full_date(licence.birth_date)),
        ("issue_date", full_date(licence.valid_from)),
        ("expiry_date", full_date(licence.valid_to)),
        ("issuing_country", text("CN")),
        ("issuing_authority", text(&licence.issuing_authority.name)),
        ("document_number", text(&licence.number)),
    ];
    if let Some(portrait) = input.portrait_jpeg {
        elements.push(("portrait", Value::Bytes(portrait.to_vec())));
    }
    elements.extend([
        ("driving_privileges", Value::Array(privileges)),
        ("un_distinguishing_sign", text("CHN")),
        ("resident_address", text(&licence.address)),
        ("sex", Value::Integer(sex.into())),
        ("nationality", text(nationality)),
        ("administrative_number", text(&licence.archive_number)),
        (
            "age_over_18",
            Value::Bool(age_on(licence.birth_date, china_date(input.generated_at)) >= 18),
        ),
    ]);
    Ok(elements)
}

fn domestic_elements(input: &MdocInput<'_>) -> Result<Vec<(&'static str, Value)>, MdocError> {
    let licence = input.licence;
    Ok(vec![
        ("archive_number", text(&licence.archive_number)),
        ("points", Value::Integer(licence.points.into())),
        (
            "states",
            Value::Array(licence.states.iter().map(|state| text(state.code())).collect()),
        ),
        ("generated_at", tdate(input.generated_at)?),
        ("licence_serial", text(input.serial)),
    ])
}

/// Splits a Han name into surname and given name. Names in other scripts (or with a
/// separator dot, as in many minority names) have no reliable split: they go whole into the
/// family name, with an empty given name. A two-character name always has a one-character
/// surname (司马 alone is surname 司, given name 马).
fn split_name(name: &str) -> (String, String) {
    let name = name.trim();
    let chars: Vec<char> = name.chars().collect();
    if chars.is_empty() || !chars.iter().all(|&c| is_han(c)) {
        return (name.to_string(), String::new());
    }
    let surname_len = if chars.len() > 2 && COMPOUND_SURNAMES.iter().any(|s| name.starts_with(s)) {
        2
    } else {
        1
    };
    (
        chars[..surname_len].iter().collect(),
        chars[surname_len..].iter().collect(),
    )
}

fn is_han(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x3134F)
}

/// The calendar date in China (UTC+8): birthdays, and so age_over_18, turn over at local midnight.
fn china_date(at: DateTime<Utc>) -> NaiveDate {
    match FixedOffset::east_opt(8 * 3600) {
        Some(offset) => at.with_timezone(&offset).date_naive(),
        None => at.date_naive(),
    }
}

/// Full years of age on `day`; someone born on 29 February comes of age on 1 March in common years.
fn age_on(birth: NaiveDate, day: NaiveDate) -> i32 {
    let years = day.year() - birth.year();
    if (day.month(), day.day()) < (birth.month(), birth.day()) {
        years - 1
    } else {
        years
    }
}

/// ISO 3166-1 alpha-3 → alpha-2, five letters a country, sorted by alpha-3 (from Debian's iso-codes).
const ALPHA3_TO_ALPHA2: [&str; 16] = [
    "ABWAWAFGAFAGOAOAIAAIALAAXALBALANDADAREAEARGARARMAMASMASATAAQATFTFATGAGAUSAUAUTAT",
    "AZEAZBDIBIBELBEBENBJBESBQBFABFBGDBDBGRBGBHRBHBHSBSBIHBABLMBLBLRBYBLZBZBMUBMBOLBO",
    "BRABRBRBBBBRNBNBTNBTBVTBVBWABWCAFCFCANCACCKCCCHECHCHLCLCHNCNCIVCICMRCMCODCDCOGCG",
    "COKCKCOLCOCOMKMCPVCVCRICRCUBCUCUWCWCXRCXCYMKYCYPCYCZECZDEUDEDJIDJDMADMDNKDKDOMDO",
    "DZADZECUECEGYEGERIERESHEHESPESESTEEETHETFINFIFJIFJFLKFKFRAFRFROFOFSMFMGABGAGBRGB",
    "GEOGEGGYGGGHAGHGIBGIGINGNGLPGPGMBGMGNBGWGNQGQGRCGRGRDGDGRLGLGTMGTGUFGFGUMGUGUYGY",
    "HKGHKHMDHMHNDHNHRVHRHTIHTHUNHUIDNIDIMNIMINDINIOTIOIRLIEIRNIRIRQIQISLISISRILITAIT",
    "JAMJMJEYJEJORJOJPNJPKAZKZKENKEKGZKGKHMKHKIRKIKNAKNKORKRKWTKWLAOLALBNLBLBRLRLBYLY",
    "LCALCLIELILKALKLSOLSLTULTLUXLULVALVMACMOMAFMFMARMAMCOMCMDAMDMDGMGMDVMVMEXMXMHLMH",
    "MKDMKMLIMLMLTMTMMRMMMNEMEMNGMNMNPMPMOZMZMRTMRMSRMSMTQMQMUSMUMWIMWMYSMYMYTYTNAMNA",
    "NCLNCNERNENFKNFNGANGNICNINIUNUNLDNLNORNONPLNPNRUNRNZLNZOMNOMPAKPKPANPAPCNPNPERPE",
    "PHLPHPLWPWPNGPGPOLPLPRIPRPRKKPPRTPTPRYPYPSEPSPYFPFQATQAREUREROURORUSRURWARWSAUSA",
    "SDNSDSENSNSGPSGSGSGSSHNSHSJMSJSLBSBSLESLSLVSVSMRSMSOMSOSPMPMSRBRSSSDSSSTPSTSURSR",
    "SVKSKSVNSISWESESWZSZSXMSXSYCSCSYRSYTCATCTCDTDTGOTGTHATHTJKTJTKLTKTKMTMTLSTLTONTO",
    "TTOTTTUNTNTURTRTUVTVTWNTWTZATZUGAUGUKRUAUMIUMURYUYUSAUSUZBUZVATVAVCTVCVENVEVGBVG",
    "VIRVIVNMVNVUTVUWLFWFWSMWSYEMYEZAFZAZMBZMZWEZW",
];

fn alpha2_of(alpha3: &str) -> Option<&'static str> {
    ALPHA3_TO_ALPHA2
        .iter()
        .flat_map(|line| (0..line.len() / 5).filter_map(move |i| line.get(i * 5..i * 5 + 5)))
        .find(|entry| entry.get(..3) == Some(alpha3))
        .and_then(|entry| entry.get(3..))
}

/// A random permutation of 0..n, never the identity when n > 1: digest IDs must not reveal
/// the order (and so the identity) of the elements a holder leaves out.
fn shuffled_ids(n: usize) -> Result<Vec<u32>, MdocError> {
    let mut ids: Vec<u32> = (0..n as u32).collect();
    for i in (1..n).rev() {
        let j = random_below(i as u32 + 1)? as usize;
        ids.swap(i, j);
    }
    if n > 1 && ids.iter().enumerate().all(|(i, &id)| i as u32 == id) {
        ids.rotate_left(1);
    }
    Ok(ids)
}

/// Uniform in 0..bound, by rejection so that no value is favoured.
fn random_below(bound: u32) -> Result<u32, MdocError> {
    if bound <= 1 {
        return Ok(0);
    }
    let limit = u32::MAX - u32::MAX % bound;
    loop {
        let mut bytes = [0u8; 4];
        OsRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| MdocError::Randomness(e.to_string()))?;
        let value = u32::from_le_bytes(bytes);
        if value < limit {
            return Ok(value % bound);
        }
    }
}

fn random_bytes(n: usize) -> Result<Vec<u8>, MdocError> {
    let mut bytes = vec![0u8; n];
    OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| MdocError::Randomness(e.to_string()))?;
    Ok(bytes)
}

/// A public key whose private half nobody keeps (see [`issue`]).
fn throwaway_public_key() -> Result<p256::PublicKey, MdocError> {
    // A random 32-byte string is a valid scalar but with probability ~2^-32; a few tries suffice.
    for _ in 0..8 {
        if let Ok(secret) = p256::SecretKey::from_slice(&random_bytes(32)?) {
            return Ok(secret.public_key());
        }
    }
    Err(MdocError::Randomness("no valid P-256 scalar drawn".into()))
}

/// The end-entity (document-signer) certificate: the x5chain's only or first entry.
fn x5chain_leaf(sign1: &CoseSign1) -> Result<Vec<u8>, MdocError> {
    let label = Label::Int(X5CHAIN);
    let value = [&sign1.unprotected, &sign1.protected.header]
        .into_iter()
        .find_map(|header| header.rest.iter().find(|(l, _)| *l == label).map(|(_, v)| v))
        .ok_or_else(|| malformed("issuerAuth has no x5chain"))?;
    match value {
        Value::Bytes(der) => Ok(der.clone()),
        Value::Array(chain) => match chain.first() {
            Some(Value::Bytes(der)) => Ok(der.clone()),
            _ => Err(malformed("the x5chain does not start with a certificate")),
        },
        _ => Err(malformed("the x5chain is neither a certificate nor an array")),
    }
}

fn to_json(value: &Value) -> serde_json::Value {
    use serde_json::Value as Json;
    match value {
        Value::Integer(i) => {
            let i = i128::from(*i);
            if let Ok(i) = i64::try_from(i) {
                Json::from(i)
            } else if let Ok(u) = u64::try_from(i) {
                Json::from(u)
            } else {
                Json::String(i.to_string())
            }
        }
        Value::Bytes(bytes) => Json::String(base64::engine::general_purpose::STANDARD.encode(bytes)),
        Value::Float(f) => serde_json::Number::from_f64(*f).map_or(Json::Null, Json::Number),
        Value::Text(s) => Json::String(s.clone()),
        Value::Bool(b) => Json::Bool(*b),
        Value::Tag(_, inner) => to_json(inner),
        Value::Array(items) => Json::Array(items.iter().map(to_json).collect()),
        Value::Map(entries) => Json::Object(
            entries
                .iter()
                .map(|(k, v)| {
                    let key = match k {
                        Value::Text(s) => s.clone(),
                        other => match to_json(other) {
                            Json::String(s) => s,
                            json => json.to_string(),
                        },
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        _ => Json::Null,
    }
}

pub(crate) fn text(s: impl Into<String>) -> Value {
    Value::Text(s.into())
}

/// A `tdate` element value, in whole seconds.
fn tdate(at: DateTime<Utc>) -> Result<Value, MdocError> {
    Value::serialized(&TDate(at)).map_err(|e| MdocError::Encoding(e.to_string()))
}

pub(crate) fn full_date(date: NaiveDate) -> Value {
    Value::Tag(TAG_FULL_DATE, Box::new(text(date.format("%Y-%m-%d").to_string())))
}

fn malformed(message: impl Into<String>) -> MdocError {
    MdocError::Malformed(message.into())
}

impl From<CborError> for MdocError {
    fn from(e: CborError) -> Self {
        MdocError::Encoding(e.0)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::register::licence::{IssuingAuthority, LicenceState, VehicleClass};
    use async_trait::async_trait;
    use chrono::TimeZone;
    use coset::AsCborValue;
    use der::{Decode, Encode};
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::{Signature, SigningKey};
    use p256::pkcs8::EncodePublicKey;
    use sha2::{Digest, Sha256};
    use std::str::FromStr;

    // Raw CBOR helpers: the tests tamper below the typed structures.
    fn encode(value: &Value) -> Result<Vec<u8>, CborError> {
        iso::to_vec(value)
    }

    fn decode(bytes: &[u8]) -> Result<Value, CborError> {
        iso::from_slice(bytes)
    }

    fn into_map(value: Value, what: &str) -> Result<Vec<(Value, Value)>, String> {
        match value {
            Value::Map(entries) => Ok(entries),
            _ => Err(format!("{what} is not a map")),
        }
    }

    fn untag24(value: Value, what: &str) -> Result<Vec<u8>, String> {
        match value {
            Value::Tag(24, inner) => match *inner {
                Value::Bytes(bytes) => Ok(bytes),
                _ => Err(format!("{what} is not #6.24(bstr)")),
            },
            _ => Err(format!("{what} is not #6.24(bstr)")),
        }
    }

    /// A signer over in-memory keys, independent of the crate's own adapters.
    pub(crate) struct TestSigner(BTreeMap<String, SigningKey>);

    impl TestSigner {
        fn with_key(key_id: &str) -> Self {
            Self(BTreeMap::from([(key_id.to_string(), SigningKey::random(&mut OsRng))]))
        }
        fn key(&self, key_id: &str) -> &SigningKey {
            &self.0[key_id]
        }
    }

    #[async_trait]
    impl Signer for TestSigner {
        async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
            let key = self
                .0
                .get(key_id)
                .ok_or_else(|| SignerError::UnknownKey(key_id.into()))?;
            let signature: Signature = key
                .sign_prehash(digest)
                .map_err(|e| SignerError::Malformed(e.to_string()))?;
            let signature = signature.normalize_s().unwrap_or(signature);
            Ok(signature.to_bytes().into())
        }
        async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError> {
            let key = self
                .0
                .get(key_id)
                .ok_or_else(|| SignerError::UnknownKey(key_id.into()))?;
            Ok(key.verifying_key().to_encoded_point(false).as_bytes().to_vec())
        }
    }

    /// A certificate carrying `public` with a meaningless signature: enough for
    /// `verify_issuer_signed`, which takes the key and leaves the chain to the caller.
    fn bare_certificate(public: &p256::PublicKey) -> Vec<u8> {
        use der::asn1::{BitString, UtcTime};
        use x509_cert::name::Name;
        use x509_cert::serial_number::SerialNumber;
        use x509_cert::spki::{AlgorithmIdentifierOwned, ObjectIdentifier, SubjectPublicKeyInfoOwned};
        use x509_cert::time::{Time, Validity};
        let spki_der = public.to_public_key_der().unwrap();
        let ecdsa_with_sha256 = AlgorithmIdentifierOwned {
            oid: ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2"),
            parameters: None,
        };
        let time = |secs| Time::UtcTime(UtcTime::from_unix_duration(std::time::Duration::from_secs(secs)).unwrap());
        let certificate = x509_cert::Certificate {
            tbs_certificate: x509_cert::TbsCertificate {
                version: x509_cert::Version::V3,
                serial_number: SerialNumber::new(&[1]).unwrap(),
                signature: ecdsa_with_sha256.clone(),
                issuer: Name::from_str("CN=test iaca,C=CN").unwrap(),
                validity: Validity {
                    not_before: time(1_600_000_000),
                    not_after: time(2_400_000_000),
                },
                subject: Name::from_str("CN=test ds,C=CN").unwrap(),
                subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(spki_der.as_bytes()).unwrap(),
                issuer_unique_id: None,
                subject_unique_id: None,
                extensions: None,
            },
            signature_algorithm: ecdsa_with_sha256,
            signature: BitString::from_bytes(&[0u8; 8]).unwrap(),
        };
        certificate.to_der().unwrap()
    }

    pub(crate) fn licence() -> Licence {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        Licence {
            number: "11010519900307451X".into(),
            holder_id: "11010519900307451X".into(),
            name: "欧阳子轩".into(),
            sex: Sex::Male,
            nationality: "CHN".into(),
            birth_date: date(1990, 3, 7),
            address: "北京市朝阳区建国路88号".into(),
            first_issue_date: date(2010, 5, 20),
            classes: vec![VehicleClass::C1, VehicleClass::E],
            valid_from: date(2016, 5, 20),
            valid_to: date(2026, 5, 20),
            issuing_authority: IssuingAuthority {
                code: "110000".into(),
                name: "北京市公安局公安交通管理局".into(),
            },
            archive_number: "110100123456".into(),
            points: 3,
            states: vec![LicenceState::Detained, LicenceState::MedicalOverdue],
            photo_on_file: true,
            photo_sha256: None,
            photo_image: None,
            version: 1,
        }
    }

    const KEY: &str = "ds-1";
    const PORTRAIT: &[u8] = &[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0xFF, 0xD9];

    fn generated_at() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2025, 6, 1, 2, 3, 4).unwrap() + chrono::Duration::milliseconds(567)
    }

    fn input<'a>(licence: &'a Licence, device_key: Option<&'a [u8]>) -> MdocInput<'a> {
        MdocInput {
            licence,
            serial: "E110000250601000123",
            portrait_jpeg: Some(PORTRAIT),
            generated_at: generated_at(),
            valid_from: generated_at(),
            valid_until: Utc.with_ymd_and_hms(2026, 5, 20, 15, 59, 59).unwrap(),
            device_key_sec1: device_key,
            status: None,
        }
    }

    /// Issues with a fresh test signer whose bare DS certificate matches its key.
    pub(crate) async fn issued(licence: &Licence, device_key: Option<&[u8]>) -> (IssuedMdoc, TestSigner, Vec<u8>) {
        let signer = TestSigner::with_key(KEY);
        let ds = bare_certificate(&signer.key(KEY).verifying_key().into());
        let mdoc = issue(&input(licence, device_key), &signer, KEY, &ds).await.unwrap();
        (mdoc, signer, ds)
    }

    /// Issues with a fresh test signer, `portrait` as the portrait and `authority` as the issuing authority's
    /// name (an element before the portrait: its length moves where the portrait starts).
    pub(crate) async fn issued_with_portrait(portrait: &[u8], authority: &str) -> IssuedMdoc {
        let mut licence = licence();
        licence.issuing_authority.name = authority.into();
        let signer = TestSigner::with_key(KEY);
        let ds = bare_certificate(&signer.key(KEY).verifying_key().into());
        let mut mdoc_input = input(&licence, None);
        mdoc_input.portrait_jpeg = Some(portrait);
        issue(&mdoc_input, &signer, KEY, &ds).await.unwrap()
    }

    /// A JPEG-looking portrait of `length` bytes (at least 3), its bytes varying.
    pub(crate) fn portrait_of_length(length: usize) -> Vec<u8> {
        let mut image = vec![0xFF, 0xD8, 0xFF];
        image.extend((0..length.saturating_sub(3)).map(|i| (i * 7 + length) as u8));
        image
    }

    fn decode_map(bytes: &[u8]) -> Vec<(Value, Value)> {
        into_map(decode(bytes).unwrap(), "test").unwrap()
    }

    fn get<'v>(map: &'v [(Value, Value)], key: &str) -> &'v Value {
        &map.iter().find(|(k, _)| k.as_text() == Some(key)).unwrap().1
    }

    fn get_mut<'v>(map: &'v mut [(Value, Value)], key: &str) -> &'v mut Value {
        &mut map.iter_mut().find(|(k, _)| k.as_text() == Some(key)).unwrap().1
    }

    /// Rewrites one element's value inside an encoded IssuerSigned, keeping everything else.
    fn with_element(issuer_signed: &[u8], namespace: &str, element: &str, change: impl Fn(&mut Value)) -> Vec<u8> {
        let mut top = decode_map(issuer_signed);
        let Value::Map(namespaces) = get_mut(&mut top, "nameSpaces") else {
            panic!("nameSpaces")
        };
        let Value::Array(items) = get_mut(namespaces, namespace) else {
            panic!("{namespace}")
        };
        let mut found = false;
        for wrapped in items.iter_mut() {
            let Value::Tag(24, inner) = wrapped else {
                panic!("tag 24")
            };
            let Value::Bytes(bytes) = inner.as_mut() else {
                panic!("bstr")
            };
            let mut item = decode_map(bytes);
            if get(&item, "elementIdentifier").as_text() == Some(element) {
                change(get_mut(&mut item, "elementValue"));
                *bytes = encode(&Value::Map(item)).unwrap();
                found = true;
            }
        }
        assert!(found, "no element {namespace}/{element}");
        encode(&Value::Map(top)).unwrap()
    }

    fn flip_text_byte(value: &mut Value) {
        match value {
            Value::Text(s) => {
                let mut bytes = s.clone().into_bytes();
                bytes[0] ^= 0x01;
                *s = String::from_utf8(bytes).unwrap();
            }
            Value::Tag(_, inner) => flip_text_byte(inner),
            other => panic!("not text: {other:?}"),
        }
    }

    fn with_flipped_signature(issuer_signed: &[u8]) -> Vec<u8> {
        let mut top = decode_map(issuer_signed);
        let Value::Array(parts) = get_mut(&mut top, "issuerAuth") else {
            panic!("issuerAuth")
        };
        let Value::Bytes(signature) = &mut parts[3] else {
            panic!("signature")
        };
        signature[10] ^= 0x01;
        encode(&Value::Map(top)).unwrap()
    }

    /// Changes the MSO and signs it again with the right key, so that only the change shows.
    async fn with_mso(issuer_signed: &[u8], signer: &TestSigner, change: impl Fn(&mut Vec<(Value, Value)>)) -> Vec<u8> {
        let mut top = decode_map(issuer_signed);
        let auth = get_mut(&mut top, "issuerAuth");
        let mut sign1 = CoseSign1::from_cbor_value(auth.clone()).unwrap();
        let mso_bytes = untag24(decode(sign1.payload.as_ref().unwrap()).unwrap(), "mso").unwrap();
        let mut mso = decode_map(&mso_bytes);
        change(&mut mso);
        let mso_bytes = encode(&Value::Map(mso)).unwrap();
        sign1.payload = Some(encode(&Value::Tag(24, Box::new(Value::Bytes(mso_bytes)))).unwrap());
        sign1.signature = signer
            .sign_digest(KEY, &sha256(&sign1.tbs_data(b"")))
            .await
            .unwrap()
            .to_vec();
        *auth = sign1.to_cbor_value().unwrap();
        encode(&Value::Map(top)).unwrap()
    }

    fn mso_of(issuer_signed: &[u8]) -> Vec<(Value, Value)> {
        let top = decode_map(issuer_signed);
        let sign1 = CoseSign1::from_cbor_value(get(&top, "issuerAuth").clone()).unwrap();
        decode_map(&untag24(decode(sign1.payload.as_ref().unwrap()).unwrap(), "mso").unwrap())
    }

    pub(crate) fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
    }

    #[tokio::test]
    async fn round_trip_returns_every_element() {
        let licence = licence();
        let (mdoc, _, ds) = issued(&licence, None).await;
        let verified = verify_issuer_signed(&mdoc.issuer_signed, at(2025, 7, 1), 0).unwrap();

        assert_eq!(verified.doc_type, DOC_TYPE);
        assert_eq!(verified.document_signer_der, ds);
        assert_eq!(verified.signed, Utc.with_ymd_and_hms(2025, 6, 1, 2, 3, 4).unwrap());
        assert_eq!(verified.valid_from, verified.signed);
        assert_eq!(
            verified.valid_until,
            Utc.with_ymd_and_hms(2026, 5, 20, 15, 59, 59).unwrap()
        );
        let iso = serde_json::to_value(&verified.elements[ISO_NAMESPACE]).unwrap();
        assert_eq!(
            iso,
            serde_json::json!({
                "family_name": "欧阳",
                "given_name": "子轩",
                "birth_date": "1990-03-07",
                "issue_date": "2016-05-20",
                "expiry_date": "2026-05-20",
                "issuing_country": "CN",
                "issuing_authority": "北京市公安局公安交通管理局",
                "document_number": "11010519900307451X",
                "portrait": base64::engine::general_purpose::STANDARD.encode(PORTRAIT),
                "driving_privileges": [
                    {"vehicle_category_code": "C1", "issue_date": "2010-05-20", "expiry_date": "2026-05-20"},
                    {"vehicle_category_code": "E", "issue_date": "2010-05-20", "expiry_date": "2026-05-20"},
                ],
                "un_distinguishing_sign": "CHN",
                "resident_address": "北京市朝阳区建国路88号",
                "sex": 1,
                "nationality": "CN",
                "administrative_number": "110100123456",
                "age_over_18": true,
            })
        );
        let domestic = serde_json::to_value(&verified.elements[DOMESTIC_NAMESPACE]).unwrap();
        assert_eq!(
            domestic,
            serde_json::json!({
                "archive_number": "110100123456",
                "points": 3,
                "states": ["detained", "medical_overdue"],
                "generated_at": "2025-06-01T02:03:04Z",
                "licence_serial": "E110000250601000123",
            })
        );
        assert_eq!(verified.elements.len(), 2);

        // The Document wraps the very same IssuerSigned.
        let document = decode_map(&mdoc.document);
        assert_eq!(get(&document, "docType"), &text(DOC_TYPE));
        assert_eq!(encode(get(&document, "issuerSigned")).unwrap(), mdoc.issuer_signed);
    }

    #[tokio::test]
    async fn encodes_as_18013_5_prescribes() {
        let licence = licence();
        let device = SigningKey::random(&mut OsRng);
        let device_sec1 = device.verifying_key().to_encoded_point(false).as_bytes().to_vec();
        let (mdoc, _, ds) = issued(&licence, Some(&device_sec1)).await;

        let top = decode_map(&mdoc.issuer_signed);
        let Value::Map(namespaces) = get(&top, "nameSpaces") else {
            panic!("nameSpaces")
        };
        for (_, items) in namespaces {
            let Value::Array(items) = items else { panic!("items") };
            let mut ids = Vec::new();
            for wrapped in items {
                let item = decode_map(&untag24(wrapped.clone(), "item").unwrap());
                let keys: Vec<_> = item.iter().map(|(k, _)| k.as_text().unwrap()).collect();
                assert_eq!(keys, ["digestID", "random", "elementIdentifier", "elementValue"]);
                // The portrait's salt may be a few bytes longer: it is what aligns the portrait.
                let salt = get(&item, "random").as_bytes().unwrap().len();
                if get(&item, "elementIdentifier") == &text("portrait") {
                    assert!(
                        (SALT_BYTES..SALT_BYTES + ALIGNING_SALT_LENGTHS).contains(&salt),
                        "{salt}"
                    );
                } else {
                    assert_eq!(salt, SALT_BYTES);
                }
                ids.push(u64::try_from(get(&item, "digestID").as_integer().unwrap()).unwrap());
            }
            let in_order: Vec<u64> = (0..ids.len() as u64).collect();
            assert_ne!(ids, in_order, "digest IDs follow the element order");
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(sorted, in_order);
        }
        // Every element has its own salt.
        let salts: BTreeSet<Vec<u8>> = namespaces
            .iter()
            .flat_map(|(_, items)| items.as_array().unwrap().iter())
            .map(|w| {
                get(&decode_map(&untag24(w.clone(), "item").unwrap()), "random")
                    .as_bytes()
                    .unwrap()
                    .clone()
            })
            .collect();
        assert_eq!(salts.len(), 16 + 5);

        let Value::Array(auth) = get(&top, "issuerAuth") else {
            panic!("issuerAuth is a tagged or odd COSE_Sign1")
        };
        assert_eq!(
            decode(auth[0].as_bytes().unwrap()).unwrap(),
            Value::Map(vec![(Value::Integer(1.into()), Value::Integer((-7).into()))])
        );
        assert_eq!(auth[1], Value::Map(vec![(Value::Integer(33.into()), Value::Bytes(ds))]));
        assert_eq!(auth[3].as_bytes().unwrap().len(), 64);

        let mso = mso_of(&mdoc.issuer_signed);
        assert_eq!(get(&mso, "version"), &text("1.0"));
        assert_eq!(get(&mso, "digestAlgorithm"), &text("SHA-256"));
        assert_eq!(get(&mso, "docType"), &text(DOC_TYPE));
        let Value::Map(validity) = get(&mso, "validityInfo") else {
            panic!("validityInfo")
        };
        assert_eq!(
            get(validity, "signed"),
            &Value::Tag(0, Box::new(text("2025-06-01T02:03:04Z")))
        );
        let Value::Map(device_key_info) = get(&mso, "deviceKeyInfo") else {
            panic!("deviceKeyInfo")
        };
        let point = device.verifying_key().to_encoded_point(false);
        assert_eq!(
            get(device_key_info, "deviceKey"),
            &Value::Map(vec![
                (Value::Integer(1.into()), Value::Integer(2.into())),
                (Value::Integer((-1).into()), Value::Integer(1.into())),
                (Value::Integer((-2).into()), Value::Bytes(point.x().unwrap().to_vec())),
                (Value::Integer((-3).into()), Value::Bytes(point.y().unwrap().to_vec())),
            ])
        );
    }

    #[tokio::test]
    async fn without_a_device_key_a_throwaway_one_is_embedded() {
        let licence = licence();
        let (first, _, _) = issued(&licence, None).await;
        let (second, _, _) = issued(&licence, None).await;
        let device_key = |mdoc: &IssuedMdoc| {
            let mso = mso_of(&mdoc.issuer_signed);
            let Value::Map(info) = get(&mso, "deviceKeyInfo").clone() else {
                panic!("deviceKeyInfo")
            };
            let Value::Map(key) = get(&info, "deviceKey").clone() else {
                panic!("deviceKey")
            };
            key
        };
        let (a, b) = (device_key(&first), device_key(&second));
        assert_ne!(a, b);
        let coordinate = |key: &[(Value, Value)], label: i64| {
            key.iter()
                .find(|(k, _)| k == &Value::Integer(label.into()))
                .unwrap()
                .1
                .as_bytes()
                .unwrap()
                .clone()
        };
        let point = p256::EncodedPoint::from_affine_coordinates(
            coordinate(&a, -2).as_slice().into(),
            coordinate(&a, -3).as_slice().into(),
            false,
        );
        assert!(p256::PublicKey::from_sec1_bytes(point.as_bytes()).is_ok());
    }

    #[tokio::test]
    async fn a_changed_element_value_is_a_digest_mismatch() {
        let licence = licence();
        let (mdoc, _, _) = issued(&licence, None).await;
        let tampered = with_element(&mdoc.issuer_signed, ISO_NAMESPACE, "document_number", flip_text_byte);
        assert_eq!(
            verify_issuer_signed(&tampered, at(2025, 7, 1), 0),
            Err(MdocError::DigestMismatch {
                namespace: ISO_NAMESPACE.into(),
                element: "document_number".into()
            })
        );
        let tampered = with_element(&mdoc.issuer_signed, DOMESTIC_NAMESPACE, "points", |v| {
            *v = Value::Integer(0.into())
        });
        assert!(matches!(
            verify_issuer_signed(&tampered, at(2025, 7, 1), 0),
            Err(MdocError::DigestMismatch { element, .. }) if element == "points"
        ));
    }

    #[tokio::test]
    async fn a_flipped_signature_byte_fails_the_signature() {
        let licence = licence();
        let (mdoc, _, _) = issued(&licence, None).await;
        let tampered = with_flipped_signature(&mdoc.issuer_signed);
        assert_eq!(
            verify_issuer_signed(&tampered, at(2025, 7, 1), 0),
            Err(MdocError::BadSignature)
        );
    }

    #[tokio::test]
    async fn outside_its_validity_it_is_refused() {
        let licence = licence();
        let (mdoc, _, _) = issued(&licence, None).await;
        let before = Utc.with_ymd_and_hms(2025, 6, 1, 2, 2, 0).unwrap();
        assert!(matches!(
            verify_issuer_signed(&mdoc.issuer_signed, before, 0),
            Err(MdocError::NotYetValid { .. })
        ));
        assert!(verify_issuer_signed(&mdoc.issuer_signed, before, 120).is_ok());
        let after = Utc.with_ymd_and_hms(2026, 5, 20, 16, 0, 30).unwrap();
        assert!(matches!(
            verify_issuer_signed(&mdoc.issuer_signed, after, 0),
            Err(MdocError::Expired { .. })
        ));
        assert!(verify_issuer_signed(&mdoc.issuer_signed, after, 60).is_ok());
        assert!(verify_issuer_signed(&mdoc.issuer_signed, at(2030, 1, 1), i64::MAX).is_ok());
    }

    #[tokio::test]
    async fn another_doc_type_in_the_mso_is_refused() {
        let licence = licence();
        let (mdoc, signer, _) = issued(&licence, None).await;
        // The re-signing itself leaves a valid mdoc.
        let untouched = with_mso(&mdoc.issuer_signed, &signer, |_| {}).await;
        assert!(verify_issuer_signed(&untouched, at(2025, 7, 1), 0).is_ok());
        let other = with_mso(&mdoc.issuer_signed, &signer, |mso| {
            *get_mut(mso, "docType") = text("org.iso.23220.photoid.1");
        })
        .await;
        assert_eq!(
            verify_issuer_signed(&other, at(2025, 7, 1), 0),
            Err(MdocError::WrongDocType {
                found: "org.iso.23220.photoid.1".into(),
                expected: DOC_TYPE.into()
            })
        );
        let sha512 = with_mso(&mdoc.issuer_signed, &signer, |mso| {
            *get_mut(mso, "digestAlgorithm") = text("SHA-512");
        })
        .await;
        assert_eq!(
            verify_issuer_signed(&sha512, at(2025, 7, 1), 0),
            Err(MdocError::UnsupportedDigestAlgorithm("SHA-512".into()))
        );
    }

    #[tokio::test]
    async fn an_element_the_mso_does_not_list_is_refused() {
        let licence = licence();
        let (mdoc, signer, _) = issued(&licence, None).await;
        let dropped = with_mso(&mdoc.issuer_signed, &signer, |mso| {
            let Value::Map(digests) = get_mut(mso, "valueDigests") else {
                panic!("valueDigests")
            };
            digests.retain(|(ns, _)| ns.as_text() != Some(DOMESTIC_NAMESPACE));
        })
        .await;
        assert!(matches!(
            verify_issuer_signed(&dropped, at(2025, 7, 1), 0),
            Err(MdocError::MissingDigest { namespace, .. }) if namespace == DOMESTIC_NAMESPACE
        ));
    }

    #[tokio::test]
    async fn signing_with_a_key_other_than_the_certificates_is_refused() {
        let licence = licence();
        let signer = TestSigner::with_key(KEY);
        let other = SigningKey::random(&mut OsRng);
        let ds = bare_certificate(&other.verifying_key().into());
        let result = issue(&input(&licence, None), &signer, KEY, &ds).await;
        assert!(matches!(result, Err(MdocError::KeyMismatch)));
        let result = issue(
            &input(&licence, None),
            &signer,
            "missing",
            &bare_certificate(&signer.key(KEY).verifying_key().into()),
        )
        .await;
        assert!(matches!(result, Err(MdocError::Signer(SignerError::UnknownKey(_)))));
        let result = issue(&input(&licence, None), &signer, KEY, b"not a certificate").await;
        assert!(matches!(result, Err(MdocError::Certificate(_))));
    }

    #[tokio::test]
    async fn bad_inputs_are_refused_before_signing() {
        let licence = licence();
        let signer = TestSigner::with_key(KEY);
        let ds = bare_certificate(&signer.key(KEY).verifying_key().into());
        let mut early = input(&licence, None);
        early.valid_from = generated_at() - chrono::Duration::hours(1);
        assert!(matches!(
            issue(&early, &signer, KEY, &ds).await,
            Err(MdocError::InvalidValidity(_))
        ));
        let mut empty = input(&licence, None);
        empty.valid_until = empty.valid_from;
        assert!(matches!(
            issue(&empty, &signer, KEY, &ds).await,
            Err(MdocError::InvalidValidity(_))
        ));
        let bad_key = [4u8; 65];
        assert!(matches!(
            issue(&input(&licence, Some(&bad_key)), &signer, KEY, &ds).await,
            Err(MdocError::InvalidDeviceKey)
        ));
        let mut stateless = licence.clone();
        stateless.nationality = "XXX".into();
        assert_eq!(
            issue(&input(&stateless, None), &signer, KEY, &ds).await.err(),
            Some(MdocError::UnknownNationality("XXX".into()))
        );
    }

    #[tokio::test]
    async fn without_portrait_there_is_no_portrait_element() {
        let licence = licence();
        let signer = TestSigner::with_key(KEY);
        let ds = bare_certificate(&signer.key(KEY).verifying_key().into());
        let mut no_photo = input(&licence, None);
        no_photo.portrait_jpeg = None;
        let mdoc = issue(&no_photo, &signer, KEY, &ds).await.unwrap();
        let verified = verify_issuer_signed(&mdoc.issuer_signed, at(2025, 7, 1), 0).unwrap();
        assert!(!verified.elements[ISO_NAMESPACE].contains_key("portrait"));
        assert_eq!(verified.elements[ISO_NAMESPACE].len(), 15);
        assert_eq!(portrait_of(&mdoc.issuer_signed), None);
        let with_photo = issue(&input(&licence, None), &signer, KEY, &ds).await.unwrap();
        assert_eq!(portrait_of(&with_photo.issuer_signed).as_deref(), Some(PORTRAIT));
        assert_eq!(portrait_of(b"not cbor"), None);
    }

    /// Whatever the elements before it and its own length, the portrait lands at an offset that is a multiple of
    /// 3, the span says exactly where its bytes are, and the document verifies as any other.
    #[tokio::test]
    async fn the_portrait_is_aligned_and_its_span_told() {
        let mut before = BTreeSet::new();
        for extra in 0..3 {
            let authority = format!("北京市公安局公安交通管理局{}", "x".repeat(extra));
            for length in [
                3, 4, 5, 12, 23, 24, 25, 255, 256, 257, 1000, 1001, 1002, 65_533, 65_534, 65_535, 65_536,
            ] {
                let portrait = portrait_of_length(length);
                let mdoc = issued_with_portrait(&portrait, &authority).await;
                let span = mdoc.aligned_span.expect("aligned");
                assert_eq!(span.offset % 3, 0);
                assert_eq!(span.length, length);
                assert_eq!(&mdoc.issuer_signed[span.offset..span.offset + length], &portrait[..]);
                let verified = verify_issuer_signed(&mdoc.issuer_signed, at(2025, 7, 1), 0).unwrap();
                assert_eq!(
                    verified.elements[ISO_NAMESPACE]["portrait"],
                    serde_json::json!(base64::engine::general_purpose::STANDARD.encode(&portrait))
                );
                assert_eq!(portrait_of(&mdoc.issuer_signed).as_deref(), Some(&portrait[..]));
                // Where the portrait would have started with the shortest salt: every residue is met.
                let salt = mso_salt_of_portrait(&mdoc.issuer_signed);
                before.insert((span.offset - (salt - SALT_BYTES)) % 3);
            }
        }
        assert_eq!(before.len(), 3, "the test never needed to align from every residue");
        // A document without portrait, or a pass, has no span to tell.
        let licence = licence();
        let signer = TestSigner::with_key(KEY);
        let ds = bare_certificate(&signer.key(KEY).verifying_key().into());
        let mut no_photo = input(&licence, None);
        no_photo.portrait_jpeg = None;
        assert_eq!(issue(&no_photo, &signer, KEY, &ds).await.unwrap().aligned_span, None);
    }

    /// The length of the portrait item's salt.
    fn mso_salt_of_portrait(issuer_signed: &[u8]) -> usize {
        let top = decode_map(issuer_signed);
        let Value::Map(namespaces) = get(&top, "nameSpaces") else {
            panic!("nameSpaces")
        };
        let items = namespaces[0].1.as_array().unwrap();
        items
            .iter()
            .map(|w| decode_map(&untag24(w.clone(), "item").unwrap()))
            .find(|item| get(item, "elementIdentifier") == &text("portrait"))
            .map(|item| get(&item, "random").as_bytes().unwrap().len())
            .unwrap()
    }

    /// The MSO's `status` (ISO 18013-5 second edition) travels as `{"status_list": {"idx", "uri"}}`,
    /// comes back from verification, and isomdl still reads and authenticates such a document.
    #[tokio::test]
    async fn a_status_list_entry_travels_in_the_mso() {
        let licence = licence();
        let signer = TestSigner::with_key(KEY);
        let ds = bare_certificate(&signer.key(KEY).verifying_key().into());
        let status = StatusListReference {
            idx: 4711,
            uri: "https://edl.example.gov.cn/status/7".into(),
        };
        let mdoc_input = input(&licence, None);
        let with_status = sign_document(
            &DocumentInput {
                doc_type: DOC_TYPE,
                namespaces: vec![(ISO_NAMESPACE, iso_elements(&mdoc_input).unwrap())],
                generated_at: mdoc_input.generated_at,
                valid_from: mdoc_input.valid_from,
                valid_until: mdoc_input.valid_until,
                device_key_sec1: None,
                status: Some(status.clone()),
                aligned_element: None,
            },
            &signer,
            KEY,
            &ds,
        )
        .await
        .unwrap();
        let verified = verify_issuer_signed(&with_status.issuer_signed, at(2025, 7, 1), 0).unwrap();
        assert_eq!(verified.status, Some(status));
        assert_eq!(
            get(&mso_of(&with_status.issuer_signed), "status"),
            &Value::Map(vec![(
                text("status_list"),
                Value::Map(vec![
                    (text("idx"), Value::Integer(4711.into())),
                    (text("uri"), text("https://edl.example.gov.cn/status/7")),
                ])
            )])
        );
        let (plain, _, _) = issued(&licence, None).await;
        assert_eq!(
            verify_issuer_signed(&plain.issuer_signed, at(2025, 7, 1), 0)
                .unwrap()
                .status,
            None
        );

        let issuer_signed: isomdl::definitions::IssuerSigned =
            isomdl::cbor::from_slice(&with_status.issuer_signed).unwrap();
        let mso: isomdl::definitions::helpers::Tag24<isomdl::definitions::Mso> =
            isomdl::cbor::from_slice(issuer_signed.issuer_auth.payload.as_ref().unwrap()).unwrap();
        assert_eq!(mso.into_inner().doc_type, DOC_TYPE);
        let chain = isomdl::definitions::x509::X5Chain::builder()
            .with_der_certificate(&ds)
            .unwrap()
            .build()
            .unwrap();
        isomdl::presentation::authentication::mdoc::issuer_authentication(chain, &issuer_signed).unwrap();
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [&b""[..], b"\xa0", b"\x80", b"\xa1\x6aissuerAuth\x80", b"\xff\xff"] {
            assert!(verify_issuer_signed(bytes, at(2025, 7, 1), 0).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn chinese_names_split_at_the_surname() {
        let split = |n: &str| split_name(n);
        assert_eq!(split("张伟"), ("张".into(), "伟".into()));
        assert_eq!(split("王小明"), ("王".into(), "小明".into()));
        assert_eq!(split("欧阳子轩"), ("欧阳".into(), "子轩".into()));
        assert_eq!(split("司马光"), ("司马".into(), "光".into()));
        assert_eq!(split("诸葛亮"), ("诸葛".into(), "亮".into()));
        assert_eq!(split("夏侯惇"), ("夏侯".into(), "惇".into()));
        assert_eq!(split("司马"), ("司".into(), "马".into()));
        assert_eq!(split("买买提·艾力"), ("买买提·艾力".into(), String::new()));
        assert_eq!(split("SMITH JOHN"), ("SMITH JOHN".into(), String::new()));
    }

    #[test]
    fn age_turns_on_the_birthday_in_china() {
        let date = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).unwrap();
        assert_eq!(age_on(date(2007, 6, 1), date(2025, 5, 31)), 17);
        assert_eq!(age_on(date(2007, 6, 1), date(2025, 6, 1)), 18);
        assert_eq!(age_on(date(2008, 2, 29), date(2026, 2, 28)), 17);
        assert_eq!(age_on(date(2008, 2, 29), date(2026, 3, 1)), 18);
        // 16:30 UTC on 31 May is already 1 June in Beijing.
        assert_eq!(
            china_date(Utc.with_ymd_and_hms(2025, 5, 31, 16, 30, 0).unwrap()),
            date(2025, 6, 1)
        );
    }

    #[test]
    fn nationality_codes_map_to_alpha_2() {
        assert_eq!(alpha2_of("CHN"), Some("CN"));
        assert_eq!(alpha2_of("ABW"), Some("AW"));
        assert_eq!(alpha2_of("ZWE"), Some("ZW"));
        assert_eq!(alpha2_of("DEU"), Some("DE"));
        assert_eq!(alpha2_of("HKG"), Some("HK"));
        assert_eq!(alpha2_of("CH"), None);
        assert_eq!(alpha2_of("XXX"), None);
        let all = ALPHA3_TO_ALPHA2.concat();
        assert_eq!(all.len(), 249 * 5);
    }

    #[test]
    fn shuffled_ids_are_permutations() {
        for n in 0..20 {
            let ids = shuffled_ids(n).unwrap();
            let mut sorted = ids.clone();
            sorted.sort();
            assert_eq!(sorted, (0..n as u32).collect::<Vec<_>>());
            if n > 1 {
                assert_ne!(ids, sorted);
            }
        }
    }

    /// A session transcript for the test's DeviceResponse: any CBOR will do, since the
    /// device signature only has to cover the same bytes on both sides.
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct TestTranscript(Value);
    impl isomdl::definitions::session::SessionTranscript for TestTranscript {}

    /// The independent check: spruceid's isomdl reads our mdoc, validates the x5chain against
    /// our IACA as trust anchor, authenticates issuer and device, and the MSO's digests are
    /// recomputed over isomdl's own re-encoding of each IssuerSignedItemBytes.
    #[tokio::test]
    async fn isomdl_accepts_it_against_our_iaca() {
        use crate::credential::cert;
        use crate::crypto::LocalSigner;
        use isomdl::cose::MaybeTagged;
        use isomdl::definitions::device_response::{Document, Status};
        use isomdl::definitions::device_signed::{DeviceAuth, DeviceAuthentication, DeviceSigned};
        use isomdl::definitions::helpers::{NonEmptyVec, Tag24};
        use isomdl::definitions::x509::trust_anchor::{TrustAnchor, TrustAnchorRegistry, TrustPurpose};
        use isomdl::definitions::x509::validation::ValidationRuleset;
        use isomdl::definitions::{DeviceResponse, IssuerSigned, Mso};
        use isomdl::presentation::authentication::mdoc::{device_authentication, issuer_authentication};
        use isomdl::presentation::authentication::AuthenticationStatus;
        use isomdl::presentation::reader::parse;
        use isomdl::presentation::reader_utils::validate_response;
        use p256::ecdsa::signature::Signer as _;

        // isomdl checks certificate validity against the wall clock, so the test lives now.
        let now = Utc::now().trunc_subsecs(0);
        let signer = LocalSigner::new();
        signer.generate("iaca");
        signer.generate("ds");
        let subject = |cn: &str| cert::Subject {
            country: "CN".into(),
            organisation: "公安部交通管理局".into(),
            common_name: cn.into(),
        };
        let uri = "https://edl.example.cn/iaca";
        let iaca = cert::issue_iaca(
            &signer,
            "iaca",
            &subject("EDL IACA"),
            uri,
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(3650),
        )
        .await
        .unwrap();
        let ds_public = signer.public_key("ds").await.unwrap();
        let ds = cert::issue_document_signer(
            &signer,
            "iaca",
            &iaca,
            &ds_public,
            &subject("EDL DS 1"),
            uri,
            now - chrono::Duration::days(1),
            now + chrono::Duration::days(365),
        )
        .await
        .unwrap();
        let device = SigningKey::random(&mut OsRng);
        let device_sec1 = device.verifying_key().to_encoded_point(false).as_bytes().to_vec();
        let licence = licence();
        let mut mdoc_input = input(&licence, Some(&device_sec1));
        mdoc_input.generated_at = now;
        mdoc_input.valid_from = now;
        mdoc_input.valid_until = now + chrono::Duration::days(30);
        let issued = issue(&mdoc_input, &signer, "ds", &ds).await.unwrap();

        // Our own verifier and the certificate module agree first.
        let ours = verify_issuer_signed(&issued.issuer_signed, now, 0).unwrap();
        assert_eq!(
            cert::verify_document_signer(&iaca, &ours.document_signer_der, now)
                .unwrap()
                .public_sec1,
            ds_public
        );

        // isomdl parses the IssuerSigned and the MSO with its own types.
        let issuer_signed: IssuerSigned = isomdl::cbor::from_slice(&issued.issuer_signed).unwrap();
        let mso: Tag24<Mso> = isomdl::cbor::from_slice(issuer_signed.issuer_auth.payload.as_ref().unwrap()).unwrap();
        let mso = mso.into_inner();
        assert_eq!(mso.doc_type, DOC_TYPE);
        assert!(matches!(
            mso.digest_algorithm,
            isomdl::definitions::DigestAlgorithm::SHA256
        ));
        assert_eq!(mso.validity_info.signed.unix_timestamp(), now.timestamp());
        let namespaces = issuer_signed.namespaces.clone().unwrap();
        let mut checked = 0;
        for (namespace, items) in namespaces.iter() {
            for item in items.iter() {
                let digest = Sha256::digest(isomdl::cbor::to_vec(item).unwrap());
                let listed = &mso.value_digests[namespace][&item.as_ref().digest_id];
                assert_eq!(
                    listed.as_ref(),
                    digest.as_slice(),
                    "{namespace}/{}",
                    item.as_ref().element_identifier
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 16 + 5);

        // A minimal DeviceResponse: the document with an empty DeviceSigned, signed with the device key.
        let transcript = TestTranscript(Value::Array(vec![Value::Null, Value::Null, text("edl-test")]));
        let device_namespaces = Tag24::new(BTreeMap::new()).unwrap();
        let authentication = isomdl::cbor::to_vec(
            &Tag24::new(DeviceAuthentication::new(
                transcript.clone(),
                DOC_TYPE.into(),
                device_namespaces.clone(),
            ))
            .unwrap(),
        )
        .unwrap();
        let device_signature = CoseSign1Builder::new()
            .protected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build())
            .create_detached_signature(&authentication, b"", |tbs| {
                let signature: Signature = device.sign(tbs);
                signature.to_bytes().to_vec()
            })
            .build();
        let response = DeviceResponse {
            version: DeviceResponse::VERSION.into(),
            documents: Some(NonEmptyVec::new(Document {
                doc_type: DOC_TYPE.into(),
                issuer_signed,
                device_signed: DeviceSigned {
                    namespaces: device_namespaces,
                    device_auth: DeviceAuth::DeviceSignature(MaybeTagged::new(false, device_signature)),
                },
                errors: None,
            })),
            document_errors: None,
            status: Status::OK,
        };
        // Through bytes, as a reader would receive it.
        let response: DeviceResponse = isomdl::cbor::from_slice(&isomdl::cbor::to_vec(&response).unwrap()).unwrap();

        let (document, x5chain, disclosed) = parse(&response).unwrap();
        let x5chain_of = |signed: &IssuerSigned| {
            let (_, value) = signed
                .issuer_auth
                .unprotected
                .rest
                .iter()
                .find(|(l, _)| *l == Label::Int(X5CHAIN))
                .unwrap();
            isomdl::definitions::x509::X5Chain::from_cbor(value.clone()).unwrap()
        };
        let registry = TrustAnchorRegistry {
            anchors: vec![TrustAnchor {
                certificate: x509_cert::Certificate::from_der(&iaca).unwrap(),
                purpose: TrustPurpose::Iaca,
            }],
        };
        issuer_authentication(x5chain.clone(), &document.issuer_signed).unwrap();
        device_authentication(document, transcript.clone()).unwrap();
        // isomdl finds our IACA as the DS certificate's trust anchor (issuer name, key
        // identifiers, IACA signature, validity) and then applies the Annex B profile. Two
        // profile gaps of cert.rs are tolerated, and only these: its key identifiers are a
        // truncated SHA-256 where isomdl wants RFC 5280 method 1 (SHA-1), and it writes no
        // CRL distribution points, which isomdl requires.
        const KNOWN_CERT_GAPS: [&str; 2] = [
            "SubjectKeyIdentifier: public key digest did not match",
            "CrlDistributionPoints: required extension not found",
        ];
        let chain = ValidationRuleset::Mdl.validate(&x5chain, &registry);
        let unexplained: Vec<_> = chain
            .errors
            .iter()
            .filter(|e| !KNOWN_CERT_GAPS.iter().any(|gap| e.contains(gap)))
            .collect();
        assert!(
            unexplained.is_empty(),
            "isomdl's 18013-5 Annex B chain checks: {:?}",
            chain.errors
        );
        let outcome = validate_response(transcript, registry, x5chain, document.clone(), disclosed);
        assert_eq!(outcome.device_authentication, AuthenticationStatus::Valid);
        if chain.errors.is_empty() {
            assert!(outcome.errors.is_empty(), "{:?}", outcome.errors);
            assert_eq!(outcome.issuer_authentication, AuthenticationStatus::Valid);
        } else {
            // validate_response skips issuer authentication when the chain has findings; it
            // passed on its own above.
            assert_eq!(outcome.errors.keys().collect::<Vec<_>>(), ["certificate_errors"]);
        }
        // And isomdl notices a flipped signature byte.
        let forged: IssuerSigned = isomdl::cbor::from_slice(&with_flipped_signature(&issued.issuer_signed)).unwrap();
        assert!(issuer_authentication(x5chain_of(&forged), &forged).is_err());

        let iso = &outcome.response[ISO_NAMESPACE];
        assert_eq!(iso["family_name"], "欧阳");
        assert_eq!(iso["given_name"], "子轩");
        assert_eq!(iso["birth_date"], "1990-03-07");
        assert_eq!(iso["document_number"], "11010519900307451X");
        assert_eq!(iso["driving_privileges"][1]["vehicle_category_code"], "E");
        assert_eq!(iso["sex"], 1);
        assert_eq!(iso["age_over_18"], true);
    }

    fn annex_d() -> serde_json::Map<String, serde_json::Value> {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/iso18013-5-annex-d.json");
        let json = std::fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("the ISO 18013-5 Annex D test vectors are missing at {path}: {e}"));
        serde_json::from_str(&json).unwrap()
    }

    pub(crate) fn annex_d_hex(field: &str) -> Vec<u8> {
        hex::decode(annex_d()[field].as_str().unwrap()).unwrap()
    }

    /// The IssuerSigned of the Annex D DeviceResponse's only document.
    fn annex_d_issuer_signed() -> Vec<u8> {
        let response = decode_map(&annex_d_hex("ISO_18013_5_ANNEX_D_DEVICE_RESPONSE"));
        let documents = get(&response, "documents").as_array().unwrap();
        assert_eq!(documents.len(), 1);
        let document = documents[0].as_map().unwrap();
        assert_eq!(get(document, "docType"), &text(DOC_TYPE));
        encode(get(document, "issuerSigned")).unwrap()
    }

    #[test]
    fn annex_d_is_accepted() {
        let verified = verify_issuer_signed(&annex_d_issuer_signed(), at(2021, 1, 1), 0).unwrap();
        assert_eq!(verified.document_signer_der, annex_d_hex("ISO_18013_5_ANNEX_D_DS_CERT"));
        assert_eq!(verified.signed, Utc.with_ymd_and_hms(2020, 10, 1, 13, 30, 2).unwrap());
        assert_eq!(verified.valid_from, verified.signed);
        assert_eq!(
            verified.valid_until,
            Utc.with_ymd_and_hms(2021, 10, 1, 13, 30, 2).unwrap()
        );
        let iso = &verified.elements[ISO_NAMESPACE];
        assert_eq!(iso["family_name"], "Doe");
        assert_eq!(iso["document_number"], "123456789");
        assert_eq!(iso["issue_date"], "2019-10-20");
        assert_eq!(iso["expiry_date"], "2024-10-20");
        assert_eq!(iso["driving_privileges"][0]["vehicle_category_code"], "A");
        assert_eq!(verified.elements.len(), 1);
        assert!(matches!(
            verify_issuer_signed(&annex_d_issuer_signed(), at(2022, 1, 1), 0),
            Err(MdocError::Expired { .. })
        ));
    }

    #[test]
    fn annex_d_with_a_changed_value_or_signature_is_refused() {
        let issuer_signed = annex_d_issuer_signed();
        let tampered = with_element(&issuer_signed, ISO_NAMESPACE, "family_name", flip_text_byte);
        assert_eq!(
            verify_issuer_signed(&tampered, at(2021, 1, 1), 0),
            Err(MdocError::DigestMismatch {
                namespace: ISO_NAMESPACE.into(),
                element: "family_name".into()
            })
        );
        assert_eq!(
            verify_issuer_signed(&with_flipped_signature(&issuer_signed), at(2021, 1, 1), 0),
            Err(MdocError::BadSignature)
        );
    }
}
