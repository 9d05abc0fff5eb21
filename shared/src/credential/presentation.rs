//! Online verification of a holder's ISO 18013-5 DeviceResponse: the issuer's data and the device's signature over a session transcript carrying the verifier's nonce.
//!
//! The session transcript the online verifier accepts is ISO 18013-5's
//! `SessionTranscript = [DeviceEngagementBytes, EReaderKeyBytes, Handover]` with no device
//! engagement and no reader key (both `null`: there is no proximity session, as in ISO/IEC
//! 18013-7's online presentations) and this service's own handover:
//!
//! ```text
//! SessionTranscript = [null, null, OnlineHandover]
//! OnlineHandover    = ["cn.gov.mps.edl.online.1", nonce]   ; nonce: bstr, 16 to 64 bytes
//! ```
//!
//! The verifier draws the nonce, hands it to the holder's app, and checks the response over the
//! transcript built from it; a response signed for another nonce (a replay) does not verify.
//! The device signs, as ISO 18013-5 §9.1.3 prescribes, a COSE_Sign1 ES256 with a detached
//! payload, `DeviceAuthenticationBytes = #6.24(bstr .cbor ["DeviceAuthentication",
//! SessionTranscript, DocType, DeviceNameSpacesBytes])`, with the key the MSO names in
//! `deviceKeyInfo.deviceKey`. The DeviceNameSpacesBytes are the ones received, never re-encoded.
//!
//! A device MAC (`deviceMac`) needs the reader's ephemeral key agreed in a proximity session,
//! which an online verifier never has: it is refused as `device-mac-unsupported`. The
//! construction of DeviceAuthenticationBytes is checked against the ISO 18013-5 Annex D example
//! by verifying its MAC with the example's reader key (in the tests).

use super::iso18013_5::{self as iso, DeviceResponse, DeviceSigned, Tag24};
use super::mdoc::{self, MdocError, VerifiedMdoc};
use crate::crypto::verify_es256;
use chrono::{DateTime, Utc};
use ciborium::Value;
use coset::{iana, CoseKey, Label, RegisteredLabelWithPrivate};

/// The first element of [the online handover](self), naming this transcript's version.
pub const ONLINE_HANDOVER: &str = "cn.gov.mps.edl.online.1";
/// The verifier's nonce: enough entropy that guessing it is hopeless, small enough for a QR code.
pub const MIN_NONCE_BYTES: usize = 16;
pub const MAX_NONCE_BYTES: usize = 64;

/// An ISO 18013-5 SessionTranscript, as the CBOR value the device authentication covers.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionTranscript(Value);

impl SessionTranscript {
    /// The online transcript over the verifier's `nonce` (see the module's header).
    pub fn online(nonce: &[u8]) -> Result<Self, MdocError> {
        if !(MIN_NONCE_BYTES..=MAX_NONCE_BYTES).contains(&nonce.len()) {
            return Err(MdocError::BadNonce(format!(
                "{} bytes, not {MIN_NONCE_BYTES} to {MAX_NONCE_BYTES}",
                nonce.len()
            )));
        }
        Ok(SessionTranscript(Value::Array(vec![
            Value::Null,
            Value::Null,
            Value::Array(vec![Value::Text(ONLINE_HANDOVER.into()), Value::Bytes(nonce.to_vec())]),
        ])))
    }
    /// The transcript as CBOR, as a holder's device (or another library) signs over it.
    pub fn value(&self) -> &Value {
        &self.0
    }
}

/// `DeviceAuthenticationBytes` for a document presented under `transcript`: what the device signs.
pub(crate) fn device_authentication_bytes(
    transcript: &Value,
    doc_type: &str,
    device_name_spaces: &Tag24<Value>,
) -> Result<Vec<u8>, MdocError> {
    let authentication = Tag24::new(("DeviceAuthentication", transcript, doc_type, device_name_spaces))?;
    Ok(authentication.tagged_bytes())
}

/// Verifies a DeviceResponse of one document of `doc_type` presented under `transcript` at `at`
/// (± `skew_seconds`): the issuer's signature, digests and validity as
/// [`mdoc::verify_document`] checks them, the Document's docType against its MSO's, and the
/// device's signature with the MSO's device key. The certificate chain is the caller's, as for
/// [`mdoc::verify_document`] (`cert::verify_document_signer` with `VerifiedMdoc::signed`).
pub fn verify_device_response(
    device_response: &[u8],
    doc_type: &str,
    transcript: &SessionTranscript,
    at: DateTime<Utc>,
    skew_seconds: i64,
) -> Result<VerifiedMdoc, MdocError> {
    let response: DeviceResponse =
        iso::from_slice(device_response).map_err(|e| MdocError::Malformed(format!("DeviceResponse: {}", e.0)))?;
    if response.status != 0 {
        return Err(MdocError::Malformed(format!(
            "the DeviceResponse's status is {}, not 0 (OK)",
            response.status
        )));
    }
    let document = match response.documents.as_deref() {
        Some([document]) => document,
        Some(documents) => {
            return Err(MdocError::Malformed(format!(
                "{} documents where one is expected",
                documents.len()
            )))
        }
        None => return Err(MdocError::Malformed("the DeviceResponse has no document".into())),
    };
    let (verified, mso) = mdoc::verify_issuer(&document.issuer_signed, doc_type, at, skew_seconds)?;
    // The docType the reader is told must be the one the issuer signed.
    if document.doc_type != mso.doc_type {
        return Err(MdocError::DocTypeMismatch {
            document: document.doc_type.clone(),
            mso: mso.doc_type,
        });
    }
    let device_signed = document.device_signed.as_ref().ok_or(MdocError::MissingDeviceAuth)?;
    let device_key = device_key_sec1(&mso.device_key_info.device_key.0)?;
    verify_device_signature(device_signed, &transcript.0, &mso.doc_type, &device_key)?;
    Ok(verified)
}

fn verify_device_signature(
    device_signed: &DeviceSigned,
    transcript: &Value,
    doc_type: &str,
    device_key: &[u8],
) -> Result<(), MdocError> {
    let auth = &device_signed.device_auth;
    let signature = match (&auth.device_signature, &auth.device_mac) {
        (Some(signature), None) => &signature.0,
        (None, Some(_)) => return Err(MdocError::DeviceMacUnsupported),
        (None, None) => return Err(MdocError::MissingDeviceAuth),
        (Some(_), Some(_)) => {
            return Err(MdocError::Malformed(
                "deviceAuth holds both a signature and a MAC".into(),
            ))
        }
    };
    match &signature.protected.header.alg {
        Some(RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => {}
        Some(other) => return Err(MdocError::UnsupportedAlgorithm(format!("{other:?}"))),
        None => return Err(MdocError::UnsupportedAlgorithm("none".into())),
    }
    if signature.payload.is_some() {
        return Err(MdocError::Malformed(
            "the device signature's payload is not detached".into(),
        ));
    }
    let payload = device_authentication_bytes(transcript, doc_type, &device_signed.name_spaces)?;
    // The protected header exactly as received (coset keeps its bytes), the payload as built.
    if verify_es256(
        device_key,
        &signature.tbs_detached_data(&payload, b""),
        &signature.signature,
    ) {
        Ok(())
    } else {
        Err(MdocError::DeviceSignature)
    }
}

/// The SEC1 uncompressed point of a P-256 COSE_Key (kty EC2, crv P-256, x, y).
fn device_key_sec1(key: &CoseKey) -> Result<Vec<u8>, MdocError> {
    let bad = |why: &str| MdocError::Malformed(format!("the MSO's device key: {why}"));
    if key.kty != coset::KeyType::Assigned(iana::KeyType::EC2) {
        return Err(bad("not an EC2 key"));
    }
    let param = |label: iana::Ec2KeyParameter| {
        key.params
            .iter()
            .find(|(l, _)| *l == Label::Int(label as i64))
            .map(|(_, v)| v)
    };
    if param(iana::Ec2KeyParameter::Crv) != Some(&Value::Integer((iana::EllipticCurve::P_256 as i64).into())) {
        return Err(bad("not on P-256"));
    }
    let coordinate = |label| match param(label) {
        Some(Value::Bytes(bytes)) if bytes.len() == 32 => Ok(bytes.as_slice()),
        _ => Err(bad("a coordinate is not 32 bytes")),
    };
    let point = [
        &[0x04][..],
        coordinate(iana::Ec2KeyParameter::X)?,
        coordinate(iana::Ec2KeyParameter::Y)?,
    ]
    .concat();
    p256::PublicKey::from_sec1_bytes(&point).map_err(|_| bad("not a point on P-256"))?;
    Ok(point)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::iso18013_5::{DeviceAuth, Document, Mac0, Sign1};
    use crate::credential::mdoc::tests::{annex_d_hex, at, issued, licence};
    use crate::credential::mdoc::{IssuedMdoc, DOC_TYPE, ISO_NAMESPACE};
    use coset::{CoseSign1Builder, HeaderBuilder};
    use p256::ecdsa::signature::Signer as _;
    use p256::ecdsa::{Signature, SigningKey};
    use rand_core::OsRng;

    const NONCE: [u8; 16] = *b"verifier-nonce-1";

    fn sec1(key: &SigningKey) -> Vec<u8> {
        key.verifying_key().to_encoded_point(false).as_bytes().to_vec()
    }

    /// The holder's side: the issued document in a DeviceResponse signed by `device` over
    /// `transcript`, under `doc_type` (the issued one unless another is given).
    fn present(
        issued: &IssuedMdoc,
        device: &SigningKey,
        transcript: &SessionTranscript,
        doc_type: Option<&str>,
    ) -> Vec<u8> {
        let mut document: Document = iso::from_slice(&issued.document).unwrap();
        if let Some(doc_type) = doc_type {
            document.doc_type = doc_type.into();
        }
        let name_spaces = Tag24::new(Value::Map(vec![])).unwrap();
        let payload = device_authentication_bytes(&transcript.0, &document.doc_type, &name_spaces).unwrap();
        let signature = CoseSign1Builder::new()
            .protected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build())
            .create_detached_signature(&payload, b"", |tbs| {
                let signature: Signature = device.sign(tbs);
                signature.to_bytes().to_vec()
            })
            .build();
        document.device_signed = Some(DeviceSigned {
            name_spaces,
            device_auth: DeviceAuth {
                device_signature: Some(Sign1(signature)),
                device_mac: None,
            },
        });
        iso::to_vec(&DeviceResponse {
            version: "1.0".into(),
            documents: Some(vec![document]),
            document_errors: None,
            status: 0,
        })
        .unwrap()
    }

    async fn issued_to(device: &SigningKey) -> IssuedMdoc {
        issued(&licence(), Some(&sec1(device))).await.0
    }

    fn online(nonce: &[u8]) -> SessionTranscript {
        SessionTranscript::online(nonce).unwrap()
    }

    #[tokio::test]
    async fn a_fresh_response_over_the_verifiers_nonce_verifies() {
        let device = SigningKey::random(&mut OsRng);
        let issued = issued_to(&device).await;
        let response = present(&issued, &device, &online(&NONCE), None);
        let verified = verify_device_response(&response, DOC_TYPE, &online(&NONCE), at(2025, 7, 1), 0).unwrap();
        assert_eq!(verified.elements[ISO_NAMESPACE]["family_name"], "欧阳");
        // The issuer's checks still apply: outside the MSO's validity it is refused.
        assert_eq!(
            verify_device_response(&response, DOC_TYPE, &online(&NONCE), at(2030, 1, 1), 0)
                .unwrap_err()
                .code(),
            "expired"
        );
    }

    #[tokio::test]
    async fn a_response_replayed_under_another_nonce_is_refused() {
        let device = SigningKey::random(&mut OsRng);
        let issued = issued_to(&device).await;
        let response = present(&issued, &device, &online(&NONCE), None);
        let err =
            verify_device_response(&response, DOC_TYPE, &online(b"verifier-nonce-2"), at(2025, 7, 1), 0).unwrap_err();
        assert_eq!(err, MdocError::DeviceSignature);
        assert_eq!(err.code(), "bad-device-signature");
    }

    #[tokio::test]
    async fn a_response_signed_by_a_key_that_is_not_the_msos_is_refused() {
        let device = SigningKey::random(&mut OsRng);
        let issued_mdoc = issued_to(&device).await;
        let thief = SigningKey::random(&mut OsRng);
        let response = present(&issued_mdoc, &thief, &online(&NONCE), None);
        assert_eq!(
            verify_device_response(&response, DOC_TYPE, &online(&NONCE), at(2025, 7, 1), 0),
            Err(MdocError::DeviceSignature)
        );
        // Nor does a document issued without the app's key (a throwaway one) ever verify.
        let keyless = issued(&licence(), None).await.0;
        let response = present(&keyless, &device, &online(&NONCE), None);
        assert_eq!(
            verify_device_response(&response, DOC_TYPE, &online(&NONCE), at(2025, 7, 1), 0),
            Err(MdocError::DeviceSignature)
        );
    }

    #[tokio::test]
    async fn a_document_wrapped_under_another_doc_type_is_refused() {
        let device = SigningKey::random(&mut OsRng);
        let issued = issued_to(&device).await;
        let response = present(&issued, &device, &online(&NONCE), Some("org.iso.23220.photoid.1"));
        let err = verify_device_response(&response, DOC_TYPE, &online(&NONCE), at(2025, 7, 1), 0).unwrap_err();
        assert_eq!(
            err,
            MdocError::DocTypeMismatch {
                document: "org.iso.23220.photoid.1".into(),
                mso: DOC_TYPE.into()
            }
        );
        assert_eq!(err.code(), "doc-type-mismatch");
        // And a licence is no truck pass, however it is wrapped.
        let response = present(&issued, &device, &online(&NONCE), None);
        assert_eq!(
            verify_device_response(&response, "cn.gov.mps.truckpass.1", &online(&NONCE), at(2025, 7, 1), 0)
                .unwrap_err()
                .code(),
            "wrong-doc-type"
        );
    }

    #[tokio::test]
    async fn responses_without_a_usable_device_signature_are_refused() {
        let device = SigningKey::random(&mut OsRng);
        let issued = issued_to(&device).await;
        let mut response: DeviceResponse = iso::from_slice(&present(&issued, &device, &online(&NONCE), None)).unwrap();
        let verify = |response: &DeviceResponse| {
            verify_device_response(
                &iso::to_vec(response).unwrap(),
                DOC_TYPE,
                &online(&NONCE),
                at(2025, 7, 1),
                0,
            )
        };
        let documents = response.documents.as_mut().unwrap();
        let signed = documents[0].device_signed.clone().unwrap();
        documents[0].device_signed = None;
        assert_eq!(verify(&response).unwrap_err().code(), "missing-device-auth");

        let mut mac = signed.clone();
        mac.device_auth = DeviceAuth {
            device_signature: None,
            device_mac: Some(Mac0(coset::CoseMac0Builder::new().tag(vec![0; 32]).build())),
        };
        response.documents.as_mut().unwrap()[0].device_signed = Some(mac);
        assert_eq!(verify(&response).unwrap_err().code(), "device-mac-unsupported");

        let mut attached = signed.clone();
        if let Some(Sign1(signature)) = attached.device_auth.device_signature.as_mut() {
            signature.payload = Some(b"anything".to_vec());
        }
        response.documents.as_mut().unwrap()[0].device_signed = Some(attached);
        assert_eq!(verify(&response).unwrap_err().code(), "bad-mdoc");

        response.documents.as_mut().unwrap()[0].device_signed = Some(signed);
        assert!(verify(&response).is_ok());
        response.status = 10;
        assert_eq!(verify(&response).unwrap_err().code(), "bad-mdoc");

        assert_eq!(SessionTranscript::online(&[0; 15]).unwrap_err().code(), "bad-nonce");
        assert_eq!(SessionTranscript::online(&[0; 65]).unwrap_err().code(), "bad-nonce");
        for garbage in [&b""[..], b"\xa0", b"\x80", b"\xff"] {
            assert_eq!(
                verify_device_response(garbage, DOC_TYPE, &online(&NONCE), at(2025, 7, 1), 0)
                    .unwrap_err()
                    .code(),
                "bad-mdoc"
            );
        }
    }

    /// A session transcript for isomdl, which wants a type of its own.
    #[derive(Clone, serde::Serialize, serde::Deserialize)]
    struct Transcript(Value);
    impl isomdl::definitions::session::SessionTranscript for Transcript {}

    /// The independent check: isomdl builds and the device signs the DeviceResponse over our
    /// online transcript, with isomdl's own DeviceAuthentication; ours accepts it.
    #[tokio::test]
    async fn a_response_isomdl_builds_verifies() {
        use isomdl::cose::MaybeTagged;
        use isomdl::definitions::device_response::{Document as IsoDocument, Status};
        use isomdl::definitions::device_signed::{
            DeviceAuth as IsoDeviceAuth, DeviceAuthentication, DeviceSigned as IsoDeviceSigned,
        };
        use isomdl::definitions::helpers::{NonEmptyVec, Tag24 as IsoTag24};
        use isomdl::definitions::{DeviceResponse as IsoDeviceResponse, IssuerSigned};

        let device = SigningKey::random(&mut OsRng);
        let issued = issued_to(&device).await;
        let transcript = Transcript(online(&NONCE).0);
        let name_spaces = IsoTag24::new(std::collections::BTreeMap::new()).unwrap();
        let authentication = isomdl::cbor::to_vec(
            &IsoTag24::new(DeviceAuthentication::new(
                transcript,
                DOC_TYPE.into(),
                name_spaces.clone(),
            ))
            .unwrap(),
        )
        .unwrap();
        let signature = CoseSign1Builder::new()
            .protected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build())
            .create_detached_signature(&authentication, b"", |tbs| {
                let signature: Signature = device.sign(tbs);
                signature.to_bytes().to_vec()
            })
            .build();
        let issuer_signed: IssuerSigned = isomdl::cbor::from_slice(&issued.issuer_signed).unwrap();
        let response = IsoDeviceResponse {
            version: IsoDeviceResponse::VERSION.into(),
            documents: Some(NonEmptyVec::new(IsoDocument {
                doc_type: DOC_TYPE.into(),
                issuer_signed,
                device_signed: IsoDeviceSigned {
                    namespaces: name_spaces,
                    device_auth: IsoDeviceAuth::DeviceSignature(MaybeTagged::new(false, signature)),
                },
                errors: None,
            })),
            document_errors: None,
            status: Status::OK,
        };
        let bytes = isomdl::cbor::to_vec(&response).unwrap();
        assert!(verify_device_response(&bytes, DOC_TYPE, &online(&NONCE), at(2025, 7, 1), 0).is_ok());
        assert_eq!(
            verify_device_response(&bytes, DOC_TYPE, &online(b"verifier-nonce-2"), at(2025, 7, 1), 0),
            Err(MdocError::DeviceSignature)
        );
    }

    /// ISO 18013-5 Annex D authenticates its device with a MAC keyed from the reader's ephemeral
    /// key: recomputing that MAC over our DeviceAuthenticationBytes (Annex D's own transcript,
    /// docType and DeviceNameSpacesBytes) proves the construction the online check relies on.
    /// Online, the same response is refused: there is no reader key to agree a MAC key with.
    #[test]
    fn annex_d_device_mac_matches_our_device_authentication_bytes() {
        use hmac::{Hmac, Mac};
        use sha2::{Digest, Sha256};

        let response_bytes = annex_d_hex("ISO_18013_5_ANNEX_D_DEVICE_RESPONSE");
        let response: DeviceResponse = iso::from_slice(&response_bytes).unwrap();
        let document = &response.documents.as_ref().unwrap()[0];
        let (_, mso) = mdoc::verify_issuer(&document.issuer_signed, DOC_TYPE, at(2021, 1, 1), 0).unwrap();
        let device_key = device_key_sec1(&mso.device_key_info.device_key.0).unwrap();
        assert_eq!(
            device_key,
            [
                vec![0x04],
                annex_d_hex("ISO_18013_5_ANNEX_D_STATIC_DEVICE_KEY_X"),
                annex_d_hex("ISO_18013_5_ANNEX_D_STATIC_DEVICE_KEY_Y"),
            ]
            .concat()
        );

        // EMacKey = HKDF-SHA-256(ECDH(EReaderKey, SDeviceKey), salt = SHA-256(SessionTranscriptBytes), "EMacKey").
        let transcript_bytes = annex_d_hex("ISO_18013_5_ANNEX_D_SESSION_TRANSCRIPT_BYTES");
        let transcript: Tag24<Value> = iso::from_slice(&transcript_bytes).unwrap();
        let reader = p256::SecretKey::from_slice(&annex_d_hex("ISO_18013_5_ANNEX_D_EPHEMERAL_READER_KEY_D")).unwrap();
        let shared = p256::ecdh::diffie_hellman(
            reader.to_nonzero_scalar(),
            p256::PublicKey::from_sec1_bytes(&device_key).unwrap().as_affine(),
        );
        let mut mac_key = [0u8; 32];
        hkdf::Hkdf::<Sha256>::new(Some(&Sha256::digest(&transcript_bytes)), shared.raw_secret_bytes())
            .expand(b"EMacKey", &mut mac_key)
            .unwrap();

        let device_signed = document.device_signed.as_ref().unwrap();
        let mac0 = &device_signed.device_auth.device_mac.as_ref().unwrap().0;
        let payload =
            device_authentication_bytes(transcript.value(), &document.doc_type, &device_signed.name_spaces).unwrap();
        let mac_structure =
            coset::mac_structure_data(coset::MacContext::CoseMac0, mac0.protected.clone(), b"", &payload);
        let mut mac = Hmac::<Sha256>::new_from_slice(&mac_key).unwrap();
        mac.update(&mac_structure);
        mac.verify_slice(&mac0.tag)
            .expect("Annex D's MAC over our DeviceAuthenticationBytes");

        assert_eq!(
            verify_device_response(&response_bytes, DOC_TYPE, &online(&NONCE), at(2021, 1, 1), 0),
            Err(MdocError::DeviceMacUnsupported)
        );
    }
}
