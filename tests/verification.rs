//! Verification end to end (R7, R9, R15): every check of the pipeline, positive and negative, built
//! here; disclosure by purpose; the audit trail the holder reads; the public trust material.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use edl_tests::{
    admin, call_with, claims, dynamo_harness, embedded_harness, holder, issued_to_zhang_wei, json_request, officer,
    request, Answer, Harness, ZHANG_WEI,
};
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use rand_core::OsRng;
use serde_json::{json, Value};
use shared::adapters::embedded::metrics::EmbeddedMetrics;
use shared::credential::mdoc;
use shared::credential::showcode::{self, CodeKind, ShowClaims};
use shared::crypto::LocalSigner;
use shared::service::keys::Authority;
use shared::service::verification::{IacaPin, TrustCache};
use shared::verification::metrics;
use shared::verification::quota::Quotas;
use std::io::Write;
use std::sync::Arc;

fn rental() -> Option<Value> {
    let mut c = claims("rp-rental-0007", "relying_party", None);
    c["org"] = json!("神州租车");
    Some(c)
}

async fn verify(h: &Harness, who: Option<Value>, body: Value) -> Answer {
    h.call(json_request("POST /verifications", &[], who, &body)).await
}

/// Keys, and 张伟's licence issued; returns its serial and the holder's current code.
async fn issued(h: &mut Harness) -> (String, String) {
    issued_with(h, json!({ "photoSource": "on_file" })).await
}

/// Keys, and 张伟's licence issued from an application opened with `body`; its serial and current code.
async fn issued_with(h: &mut Harness, body: Value) -> (String, String) {
    let serial = issued_to_zhang_wei(h, &body).await;
    let code = h
        .call(request("GET /licence/code", &[], holder(ZHANG_WEI), None, None))
        .await;
    (serial, code.body["code"].as_str().expect("code").to_string())
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("compress");
    encoder.finish().expect("compress")
}

/// The code's COSE bytes, for tampering.
fn cose_of(code: &str) -> Vec<u8> {
    let packed = showcode::base45_decode(code.trim_start_matches("EDL2:")).expect("base45");
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::ZlibDecoder::new(&packed[..]), &mut out).expect("inflate");
    out
}

fn pack(cose: &[u8]) -> String {
    format!("EDL2:{}", showcode::base45_encode(&zlib(cose)))
}

async fn every_step_of_the_code_pipeline(mut h: Harness) {
    let (serial, code) = issued(&mut h).await;
    // A valid code: the officer sees the whole licence, with its live state.
    let ok = verify(&h, officer(), json!({ "code": code, "class": "C1" })).await;
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(
        (ok.body["valid"].as_bool(), ok.body["colour"].as_str()),
        (Some(true), Some("green"))
    );
    assert_eq!(ok.body["serial"], json!(serial));
    assert_eq!(ok.body["disclosed"]["address"], "北京市朝阳区建国路88号3号楼1单元502室");
    assert_eq!(
        ok.body["disclosed"]["mayDrive"],
        json!({ "class": "C1", "allowed": true })
    );
    assert!(ok.body["liveStateAt"].is_string());

    let cose = cose_of(&code);
    // One digit of the serial changed: the claims still parse, the signature no longer fits.
    let mut flipped_payload = cose.clone();
    let at = flipped_payload
        .windows(serial.len())
        .position(|w| w == serial.as_bytes())
        .expect("the serial is in the payload")
        + serial.len()
        - 1;
    flipped_payload[at] = if flipped_payload[at] == b'9' {
        b'8'
    } else {
        flipped_payload[at] + 1
    };
    let mut flipped_signature = cose.clone();
    let last = flipped_signature.len() - 1;
    flipped_signature[last] ^= 0x01;
    let bomb = format!("EDL2:{}", showcode::base45_encode(&zlib(&vec![0u8; 2_000_000])));
    assert!(bomb.len() < 4096, "the bomb fits in a code: {}", bomb.len());
    let plain_map = {
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&ciborium::Value::Map(vec![(1.into(), "edl".into())]), &mut bytes).expect("cbor");
        pack(&bytes)
    };
    let es384 = {
        let protected = coset::HeaderBuilder::new()
            .algorithm(coset::iana::Algorithm::ES384)
            .key_id(b"x".to_vec())
            .build();
        let sign1 = coset::CoseSign1Builder::new()
            .protected(protected)
            .payload(vec![0xa0])
            .signature(vec![0; 96])
            .build();
        let bytes = coset::TaggedCborSerializable::to_tagged_vec(sign1).expect("cose");
        pack(&bytes)
    };
    let rogue = {
        let signer = LocalSigner::new();
        signer.generate("rogue");
        let now = h.services.now().timestamp();
        let claims = ShowClaims {
            kind: CodeKind::Licence,
            serial: serial.clone(),
            colour: showcode::Colour::Green,
            issued_at: now,
            expires_at: now + 300,
            nonce: showcode::random_nonce(),
        };
        showcode::encode(&claims, &signer, "rogue", b"not-our-kid")
            .await
            .expect("rogue code")
    };
    let cases: Vec<(&str, String, &str)> = vec![
        ("wrong prefix", code.replacen("EDL2:", "HC1:", 1), "bad-prefix"),
        ("truck pass prefix", code.replacen("EDL2:", "TRK2:", 1), "bad-prefix"),
        ("broken Base45", format!("{}~~", &code[..code.len() - 2]), "bad-base45"),
        (
            "no compression",
            format!("EDL2:{}", showcode::base45_encode(&cose)),
            "bad-compression",
        ),
        ("zlib bomb", bomb, "bad-compression"),
        ("CBOR that is not COSE", plain_map, "not-cose-sign1"),
        ("wrong algorithm", es384, "wrong-algorithm"),
        ("unknown kid", rogue, "unknown-kid"),
        ("flipped bit in the payload", pack(&flipped_payload), "bad-signature"),
        (
            "flipped bit in the signature",
            pack(&flipped_signature),
            "bad-signature",
        ),
    ];
    for (what, presented, reason) in cases {
        let answer = verify(&h, officer(), json!({ "code": presented })).await;
        assert_eq!(answer.status, 200, "{what}: {answer:?}");
        assert_eq!(answer.body["valid"], false, "{what}");
        assert_eq!(answer.body["reason"], reason, "{what}: {answer:?}");
        assert_eq!(answer.body["disclosed"], json!({}), "{what}: nothing disclosed");
    }
    // Expired: the clock moves past the code's expiry plus the allowed skew.
    h.clock.set("2026-11-25T10:06:00+08:00");
    let expired = verify(&h, officer(), json!({ "code": code })).await;
    assert_eq!(
        (expired.body["valid"].as_bool(), expired.body["reason"].as_str()),
        (Some(false), Some("expired"))
    );
    h.clock.set(edl_tests::NOW);

    // Barcode: online lookup by serial; a wrong check character is refused.
    let barcode = shared::credential::barcode::with_check_character(&serial).expect("check");
    let by_barcode = verify(&h, officer(), json!({ "barcode": barcode })).await;
    assert_eq!(by_barcode.body["valid"], true, "{by_barcode:?}");
    let mut wrong = barcode.clone().into_bytes();
    wrong[5] = if wrong[5] == b'1' { b'2' } else { b'1' };
    let wrong = verify(
        &h,
        officer(),
        json!({ "barcode": String::from_utf8(wrong).expect("utf8") }),
    )
    .await;
    assert_eq!(wrong.body["reason"], "bad-check-character");

    // The mdoc: valid; one element altered; signed outside our chain.
    let shown = h
        .call(request("GET /licence", &[], holder(ZHANG_WEI), None, None))
        .await;
    let document = shown.body["document"].as_str().expect("document").to_string();
    let valid_mdoc = verify(&h, officer(), json!({ "mdoc": document })).await;
    assert_eq!(valid_mdoc.body["valid"], true, "{valid_mdoc:?}");
    // The same inside a DeviceResponse, as a holder's device presents it.
    let issuer_signed: ciborium::Value =
        ciborium::de::from_reader(&STANDARD.decode(&document).expect("b64")[..]).expect("cbor");
    let response = ciborium::Value::Map(vec![
        ("version".into(), "1.0".into()),
        (
            "documents".into(),
            ciborium::Value::Array(vec![ciborium::Value::Map(vec![
                ("docType".into(), "org.iso.18013.5.1.mDL".into()),
                ("issuerSigned".into(), issuer_signed),
            ])]),
        ),
        ("status".into(), 0.into()),
    ]);
    let mut response_bytes = Vec::new();
    ciborium::ser::into_writer(&response, &mut response_bytes).expect("cbor");
    // Its device signature cannot be checked without the verifier's nonce: it is not taken apart and
    // accepted for its IssuerSigned (whatever key signed it, under whatever docType).
    let from_device = verify(&h, officer(), json!({ "mdoc": STANDARD.encode(&response_bytes) })).await;
    assert_eq!(
        (from_device.body["valid"].as_bool(), from_device.body["reason"].as_str()),
        (Some(false), Some("device-response-needs-nonce")),
        "{from_device:?}"
    );
    let mut altered = STANDARD.decode(&document).expect("base64");
    let name_at = altered
        .windows(3)
        .position(|w| w == "张".as_bytes())
        .expect("the family name is in the document");
    altered[name_at + 2] ^= 0x01;
    let altered = verify(&h, officer(), json!({ "mdoc": STANDARD.encode(&altered) })).await;
    assert_eq!(altered.body["reason"], "digest-mismatch", "{altered:?}");
    let outsider = {
        let signer = LocalSigner::new();
        signer.generate("iaca2");
        signer.generate("ds2");
        let mut other = embedded_harness().await;
        other.ports.signer = Arc::new(signer);
        other
            .signing()
            .install_iaca(&Authority::default(), "iaca2")
            .await
            .expect("IACA");
        other
            .signing()
            .add_document_signer(&Authority::default(), "ds2")
            .await
            .expect("DS");
        let opened = other
            .call(json_request(
                "POST /applications",
                &[],
                holder(ZHANG_WEI),
                &json!({ "photoSource": "on_file" }),
            ))
            .await;
        let id = opened.body["id"].as_str().expect("id").to_string();
        let session = edl_tests::liveness_session(&other, ZHANG_WEI, &id, 99.0).await;
        other
            .call(json_request(
                "POST /applications/{id}/liveness",
                &[("id", &id)],
                holder(ZHANG_WEI),
                &json!({ "livenessSessionId": session }),
            ))
            .await;
        other.issuing().issue(&id).await.expect("issued elsewhere");
        other
            .call(request("GET /licence", &[], holder(ZHANG_WEI), None, None))
            .await
            .body["document"]
            .clone()
    };
    let outside = verify(&h, officer(), json!({ "mdoc": outsider })).await;
    assert_eq!(outside.body["reason"], "untrusted-certificate", "{outside:?}");

    // Disclosure by purpose: the rental desk sees only what renting needs.
    let rented = verify(
        &h,
        rental(),
        json!({ "code": code, "purpose": "car_rental", "class": "C1" }),
    )
    .await;
    assert_eq!(rented.body["valid"], true, "{rented:?}");
    let mut fields: Vec<_> = rented.body["disclosed"]
        .as_object()
        .expect("fields")
        .keys()
        .cloned()
        .collect();
    fields.sort();
    assert_eq!(fields, vec!["colour", "mayDrive", "name", "validTo"]);
    let b2 = verify(
        &h,
        rental(),
        json!({ "code": code, "purpose": "car_rental", "class": "B2" }),
    )
    .await;
    assert_eq!(
        b2.body["disclosed"]["mayDrive"],
        json!({ "class": "B2", "allowed": false })
    );

    // Bad requests: a 4xx problem, nothing verified.
    for (who, body, status, slug) in [
        (rental(), json!({ "code": code }), 400, "invalid-request"),
        (
            rental(),
            json!({ "code": code, "purpose": "curiosity" }),
            400,
            "invalid-request",
        ),
        (officer(), json!({}), 400, "invalid-request"),
        (
            officer(),
            json!({ "code": code, "barcode": barcode }),
            400,
            "invalid-request",
        ),
        (
            officer(),
            json!({ "code": "EDL2:".to_string() + &"A".repeat(5000) }),
            413,
            "payload-too-large",
        ),
        (holder(ZHANG_WEI), json!({ "code": code }), 403, "forbidden"),
        (None, json!({ "code": code }), 401, "unauthenticated"),
    ] {
        let answer = verify(&h, who, body).await;
        assert_eq!((answer.status, answer.problem()), (status, slug));
    }

    // The audit trail: the holder sees who checked, when and why; nobody else can.
    let checks = h
        .call(request("GET /licence/checks", &[], holder(ZHANG_WEI), None, None))
        .await;
    assert_eq!(checks.status, 200, "{checks:?}");
    let list = checks.body["checks"].as_array().expect("checks");
    assert!(list
        .iter()
        .any(|c| c["organisation"] == "神州租车" && c["purpose"] == "car_rental"));
    assert!(list
        .iter()
        .any(|c| c["role"] == "officer" && c["valid"] == false && c["reason"] == "expired"));
    assert!(list.iter().all(|c| c.get("holderId").is_none()));
    // Issue 15 item 5: the organisation and role, never the officer's or employee's login id.
    assert!(list.iter().all(|c| c.get("verifierId").is_none()), "{list:?}");
    let other = h
        .call(request(
            "GET /licence/checks",
            &[],
            holder(edl_tests::LI_NA),
            None,
            None,
        ))
        .await;
    assert_eq!(other.body["checks"], json!([]));
    let not_holder = h.call(request("GET /licence/checks", &[], officer(), None, None)).await;
    assert_eq!((not_holder.status, not_holder.problem()), (403, "forbidden"));

    // Live state: a renewal supersedes; a malicious upload stops (covered in photos); the code fails.
    h.call(json_request(
        "PATCH /admin/licences/{number}",
        &[("number", ZHANG_WEI)],
        admin(),
        &json!({ "renewal": { "validTo": "2038-06-18" }, "reason": "换证" }),
    ))
    .await;
    let superseded = verify(&h, officer(), json!({ "code": code })).await;
    assert_eq!(
        (superseded.body["valid"].as_bool(), superseded.body["reason"].as_str()),
        (Some(false), Some("superseded"))
    );
}

#[tokio::test]
async fn every_step_of_the_code_pipeline_on_embedded() {
    every_step_of_the_code_pipeline(embedded_harness().await).await;
}

#[tokio::test]
async fn every_step_of_the_code_pipeline_on_dynamodb() {
    every_step_of_the_code_pipeline(dynamo_harness().await).await;
}

#[tokio::test]
async fn trust_material_is_public_and_verifies_a_code_offline() {
    let mut h = embedded_harness().await;
    let (_, code) = issued(&mut h).await;
    let trust = h
        .call(request("GET /.well-known/edl/trust", &[], None, None, None))
        .await;
    assert_eq!(trust.status, 200, "{trust:?}");
    let signers = trust.body["documentSigners"].as_array().expect("signers");
    assert_eq!(signers.len(), 1);
    assert_eq!(signers[0]["jwk"]["crv"], "P-256");
    assert_eq!(trust.body["iaca"].as_array().map(Vec::len), Some(1));
    // The command-line verifier's check, from the published material alone.
    let now = h.services.now();
    let claims = edl_verify::offline::verify(&trust.body, &code, now).expect("verifies offline");
    assert_eq!(claims.colour, showcode::Colour::Green);
    let tampered = pack(&{
        let mut cose = cose_of(&code);
        let last = cose.len() - 1;
        cose[last] ^= 1;
        cose
    });
    assert_eq!(
        edl_verify::offline::verify(&trust.body, &tampered, now).map_err(|e| e.0),
        Err("bad-signature".to_string())
    );
    let later = now + chrono::Duration::minutes(10);
    assert_eq!(
        edl_verify::offline::verify(&trust.body, &code, later).map_err(|e| e.0),
        Err("expired".to_string())
    );
    assert_eq!(
        edl_verify::offline::verify(&json!({ "iaca": [], "documentSigners": [] }), &code, now).map_err(|e| e.0),
        Err("unknown-kid".to_string())
    );
}

/// A process configured as a deployed function is: its own trust cache, pinned to `pin` (IACA_SHA256) or not.
fn deployed(h: &Harness, pin: Option<&str>) -> shared::service::Services {
    let mut services = h.services.clone();
    services.trust_cache = Arc::new(TrustCache::default());
    if let Some(pin) = pin {
        services
            .trust_cache
            .pin_iaca(IacaPin::parse(pin).expect("a fingerprint"));
    }
    services
}

/// Anyone who can write the table can add an IACA row: here a forger, with keys of their own, writes a root
/// and a document signer under it the way the key administration would, and signs a code for 张伟's licence.
/// A deployment pinned to its IACA's fingerprint ignores both rows: the forged code does not verify, the trust
/// document does not publish them, signing keeps to the real document signer; an unpinned one trusts nothing.
async fn a_forged_iaca_row_is_ignored(mut h: Harness) {
    let (serial, code) = issued(&mut h).await;
    let pin = h
        .services
        .trust_cache
        .iaca_pin()
        .expect("the process that made the IACA trusts it");
    let pin = pin.to_string();
    let real_signer = h.services.active_signer().await.expect("a document signer");

    let forger_keys = LocalSigner::new();
    forger_keys.generate("forged-iaca");
    forger_keys.generate("forged-ds");
    let forger_keys = Arc::new(forger_keys);
    let mut forger = h.services.clone();
    forger.trust_cache = Arc::new(TrustCache::default());
    let forger = shared::service::Signing::new(forger, forger_keys.clone());
    // Later than the real root, so that "the newest active IACA" would be the forged one.
    h.clock.set("2026-11-25T10:00:30+08:00");
    let forged_root = forger
        .install_iaca(&Authority::default(), "forged-iaca")
        .await
        .expect("the forger writes an IACA row");
    let forged_signer = forger
        .add_document_signer(&Authority::default(), "forged-ds")
        .await
        .expect("and a document signer under it");
    let now = h.services.now().timestamp();
    let claims = ShowClaims {
        kind: CodeKind::Licence,
        serial: serial.clone(),
        colour: showcode::Colour::Green,
        issued_at: now,
        expires_at: now + 300,
        nonce: showcode::random_nonce(),
    };
    let forged = showcode::encode(&claims, forger_keys.as_ref(), "forged-ds", forged_signer.kid.as_bytes())
        .await
        .expect("a forged code");
    let stored = h.services.records.trust().await.expect("trust rows");
    assert!(
        stored.iter().any(|e| e.kid == forged_root.kid),
        "the forged row is in the table"
    );

    let pinned = deployed(&h, Some(&pin));
    let forged_answer = call_with(
        &pinned,
        &h.ports,
        json_request("POST /verifications", &[], officer(), &json!({ "code": forged })),
    )
    .await;
    assert_eq!(
        (
            forged_answer.body["valid"].as_bool(),
            forged_answer.body["reason"].as_str()
        ),
        (Some(false), Some("unknown-kid")),
        "{forged_answer:?}"
    );
    let genuine = call_with(
        &pinned,
        &h.ports,
        json_request("POST /verifications", &[], officer(), &json!({ "code": code })),
    )
    .await;
    assert_eq!(genuine.body["valid"], true, "{genuine:?}");
    let trust = call_with(
        &pinned,
        &h.ports,
        request("GET /.well-known/edl/trust", &[], None, None, None),
    )
    .await;
    let kids = |list: &str| -> Vec<String> {
        trust.body[list]
            .as_array()
            .expect("a list")
            .iter()
            .map(|e| e["kid"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert!(!kids("iaca").contains(&forged_root.kid), "{trust:?}");
    assert_eq!(kids("iaca").len(), 1, "{trust:?}");
    assert_eq!(kids("documentSigners"), vec![real_signer.kid.clone()], "{trust:?}");
    assert_eq!(
        edl_verify::offline::verify(&trust.body, &forged, h.services.now()).map_err(|e| e.0),
        Err("unknown-kid".to_string()),
        "terminals verifying offline from the published material refuse it too"
    );
    let signing = pinned.active_signer().await.expect("the real document signer");
    assert_eq!(
        signing.kid, real_signer.kid,
        "the newer forged signer is never used to sign"
    );

    // The forger's own fingerprint, configured, would trust the forger's root (what is pinned decides).
    let forger_pin = forger
        .trust_cache
        .iaca_pin()
        .expect("the forger's process pins its root");
    assert_ne!(forger_pin.to_string(), pin);
    let misconfigured = deployed(&h, Some(&forger_pin.to_string()));
    let answer = call_with(
        &misconfigured,
        &h.ports,
        json_request("POST /verifications", &[], officer(), &json!({ "code": code })),
    )
    .await;
    assert_eq!(answer.body["reason"], "unknown-kid", "{answer:?}");

    // No pin at all (IacaSha256 left empty): no row is a trust root, so nothing verifies and nothing is signed.
    let unpinned = deployed(&h, None);
    let answer = call_with(
        &unpinned,
        &h.ports,
        json_request("POST /verifications", &[], officer(), &json!({ "code": code })),
    )
    .await;
    assert_eq!(
        (answer.body["valid"].as_bool(), answer.body["reason"].as_str()),
        (Some(false), Some("unknown-kid")),
        "{answer:?}"
    );
    assert!(unpinned.active_signer().await.is_err());
}

#[tokio::test]
async fn a_forged_iaca_row_is_ignored_on_embedded() {
    a_forged_iaca_row_is_ignored(embedded_harness().await).await;
}

#[tokio::test]
async fn a_forged_iaca_row_is_ignored_on_dynamodb() {
    a_forged_iaca_row_is_ignored(dynamo_harness().await).await;
}

#[test]
fn an_iaca_fingerprint_is_64_hex_digits() {
    let pin = IacaPin::of(b"certificate");
    let text = pin.to_string();
    assert_eq!(text.len(), 64);
    assert_eq!(IacaPin::parse(&text), Ok(pin));
    let openssl_style = text
        .to_uppercase()
        .as_bytes()
        .chunks(2)
        .map(|pair| String::from_utf8_lossy(pair).into_owned())
        .collect::<Vec<_>>()
        .join(":");
    assert_eq!(IacaPin::parse(&openssl_style), Ok(pin));
    for bad in [
        "",
        "00",
        &text[..62],
        &format!("{text}00"),
        &text.replacen(&text[..1], "g", 1),
    ] {
        assert!(IacaPin::parse(bad).is_err(), "{bad}");
    }
    assert!(pin.matches(b"certificate") && !pin.matches(b"certificatf"));
}
/// A relying party of another organisation than the rental desk.
fn insurer() -> Option<Value> {
    let mut c = claims("rp-insurer-0003", "relying_party", None);
    c["org"] = json!("平安保险");
    Some(c)
}

fn cbor(value: &ciborium::Value) -> Vec<u8> {
    let mut bytes = Vec::new();
    ciborium::ser::into_writer(value, &mut bytes).expect("cbor");
    bytes
}

/// `#6.24(bstr .cbor value)`.
fn tag24(value: &ciborium::Value) -> ciborium::Value {
    ciborium::Value::Tag(24, Box::new(ciborium::Value::Bytes(cbor(value))))
}

/// The holder's app: the issued IssuerSigned (`document`, base64) in a DeviceResponse whose Document says
/// `doc_type`, signed by `device` over the online session transcript of `nonce` (base64url) as the README
/// documents it, built here from ISO 18013-5 §9.1.3 with ciborium and coset rather than the service's code.
fn device_response(document: &str, device: &SigningKey, nonce: &str, doc_type: &str) -> String {
    use ciborium::Value as V;
    let nonce = URL_SAFE_NO_PAD.decode(nonce).expect("nonce");
    let transcript = V::Array(vec![
        V::Null,
        V::Null,
        V::Array(vec![V::Text("cn.gov.mps.edl.online.1".into()), V::Bytes(nonce)]),
    ]);
    let name_spaces = tag24(&V::Map(vec![]));
    let authentication = V::Array(vec![
        V::Text("DeviceAuthentication".into()),
        transcript,
        V::Text(mdoc::DOC_TYPE.into()),
        name_spaces.clone(),
    ]);
    let payload = cbor(&tag24(&authentication));
    let signature = coset::CoseSign1Builder::new()
        .protected(
            coset::HeaderBuilder::new()
                .algorithm(coset::iana::Algorithm::ES256)
                .build(),
        )
        .create_detached_signature(&payload, b"", |tbs| {
            let signature: Signature = device.sign(tbs);
            signature.to_bytes().to_vec()
        })
        .build();
    let issuer_signed: V = ciborium::de::from_reader(&STANDARD.decode(document).expect("b64")[..]).expect("cbor");
    let response = V::Map(vec![
        (V::Text("version".into()), V::Text("1.0".into())),
        (
            V::Text("documents".into()),
            V::Array(vec![V::Map(vec![
                (V::Text("docType".into()), V::Text(doc_type.into())),
                (V::Text("issuerSigned".into()), issuer_signed),
                (
                    V::Text("deviceSigned".into()),
                    V::Map(vec![
                        (V::Text("nameSpaces".into()), name_spaces),
                        (
                            V::Text("deviceAuth".into()),
                            V::Map(vec![(
                                V::Text("deviceSignature".into()),
                                coset::AsCborValue::to_cbor_value(signature).expect("cose"),
                            )]),
                        ),
                    ]),
                ),
            ])]),
        ),
        (V::Text("status".into()), V::Integer(0.into())),
    ]);
    STANDARD.encode(cbor(&response))
}

async fn draw(h: &Harness, who: Option<Value>) -> String {
    let drawn = h
        .call(request("POST /verifications/nonces", &[], who, None, None))
        .await;
    assert_eq!(drawn.status, 201, "{drawn:?}");
    assert!(drawn.body["expiresAt"].is_string(), "{drawn:?}");
    drawn.body["nonce"].as_str().expect("nonce").to_string()
}

/// 张伟's licence issued to the app's device key; its serial and IssuerSigned (base64).
async fn issued_to(h: &mut Harness, device: &SigningKey) -> (String, String) {
    let key = URL_SAFE_NO_PAD.encode(device.verifying_key().to_encoded_point(false).as_bytes());
    let (serial, _) = issued_with(h, json!({ "photoSource": "on_file", "deviceKey": key })).await;
    let shown = h
        .call(request("GET /licence", &[], holder(ZHANG_WEI), None, None))
        .await;
    (serial, shown.body["document"].as_str().expect("document").to_string())
}

fn refused(answer: &Answer) -> (Option<bool>, Option<&str>) {
    (answer.body["valid"].as_bool(), answer.body["reason"].as_str())
}

async fn device_bound_presentations(mut h: Harness) {
    let device = SigningKey::random(&mut OsRng);
    let (serial, document) = issued_to(&mut h, &device).await;

    // A fresh response over the officer's nonce: accepted, the officer sees the licence.
    let nonce = draw(&h, officer()).await;
    let fresh = device_response(&document, &device, &nonce, mdoc::DOC_TYPE);
    let body = json!({ "deviceResponse": fresh, "nonce": nonce });
    let ok = verify(&h, officer(), body.clone()).await;
    assert_eq!(
        (ok.status, ok.body["valid"].as_bool(), ok.body["method"].as_str()),
        (200, Some(true), Some("device")),
        "{ok:?}"
    );
    assert_eq!(ok.body["serial"], json!(serial));
    assert_eq!(ok.body["disclosed"]["licenceNumber"], ZHANG_WEI, "{ok:?}");
    // The same again: the nonce was consumed.
    let replayed = verify(&h, officer(), body).await;
    assert_eq!(refused(&replayed), (Some(false), Some("unknown-nonce")), "{replayed:?}");
    // Replayed under a fresh nonce: signed over another transcript.
    let other = draw(&h, officer()).await;
    let over_another = verify(&h, officer(), json!({ "deviceResponse": fresh, "nonce": other })).await;
    assert_eq!(
        refused(&over_another),
        (Some(false), Some("bad-device-signature")),
        "{over_another:?}"
    );
    // Signed by a key that is not the MSO's device key.
    let thief = SigningKey::random(&mut OsRng);
    let nonce = draw(&h, officer()).await;
    let stolen = device_response(&document, &thief, &nonce, mdoc::DOC_TYPE);
    let by_thief = verify(&h, officer(), json!({ "deviceResponse": stolen, "nonce": nonce })).await;
    assert_eq!(
        refused(&by_thief),
        (Some(false), Some("bad-device-signature")),
        "{by_thief:?}"
    );
    // Wrapped under another docType than its MSO's.
    let nonce = draw(&h, officer()).await;
    let wrapped = device_response(&document, &device, &nonce, "org.iso.23220.photoid.1");
    let rewrapped = verify(&h, officer(), json!({ "deviceResponse": wrapped, "nonce": nonce })).await;
    assert_eq!(
        refused(&rewrapped),
        (Some(false), Some("doc-type-mismatch")),
        "{rewrapped:?}"
    );
    assert_eq!(rewrapped.body["disclosed"], json!({}));
    // A nonce drawn by another verifier is not this one's to present.
    let theirs = draw(&h, rental()).await;
    let response = device_response(&document, &device, &theirs, mdoc::DOC_TYPE);
    let borrowed = verify(&h, officer(), json!({ "deviceResponse": response, "nonce": theirs })).await;
    assert_eq!(refused(&borrowed), (Some(false), Some("unknown-nonce")), "{borrowed:?}");
    // ... but the rental desk, who drew it, may: it sees its purpose's fields only.
    let rented = verify(
        &h,
        rental(),
        json!({ "deviceResponse": response, "nonce": theirs, "purpose": "car_rental" }),
    )
    .await;
    assert_eq!(rented.body["valid"], true, "{rented:?}");
    assert!(rented.body["disclosed"].get("portrait").is_none(), "{rented:?}");
    // A nonce past its expiry.
    let late = draw(&h, officer()).await;
    h.clock.set("2026-11-25T10:02:01+08:00");
    let response = device_response(&document, &device, &late, mdoc::DOC_TYPE);
    let expired = verify(&h, officer(), json!({ "deviceResponse": response, "nonce": late })).await;
    assert_eq!(refused(&expired), (Some(false), Some("unknown-nonce")), "{expired:?}");
    h.clock.set(edl_tests::NOW);
    // A relying party never takes a bare IssuerSigned, which anyone with a copy could present.
    let bare = verify(&h, rental(), json!({ "mdoc": document, "purpose": "car_rental" })).await;
    assert_eq!(
        (bare.status, bare.problem()),
        (403, "presentation-not-allowed"),
        "{bare:?}"
    );
    // Requests that are themselves wrong.
    for (body, status, slug) in [
        (json!({ "deviceResponse": fresh }), 400, "invalid-request"),
        (json!({ "code": "EDL2:X", "nonce": "abc" }), 400, "invalid-request"),
        (
            json!({ "deviceResponse": "x".repeat(800_000), "nonce": "abc" }),
            413,
            "payload-too-large",
        ),
    ] {
        let answer = verify(&h, officer(), body).await;
        assert_eq!((answer.status, answer.problem()), (status, slug), "{answer:?}");
    }
    for (nonce, reason) in [("not base64url!", "bad-nonce"), ("c2hvcnQ", "bad-nonce")] {
        let answer = verify(&h, officer(), json!({ "deviceResponse": fresh, "nonce": nonce })).await;
        assert_eq!(refused(&answer), (Some(false), Some(reason)), "{nonce}: {answer:?}");
    }
    let holder_nonce = h
        .call(request(
            "POST /verifications/nonces",
            &[],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!((holder_nonce.status, holder_nonce.problem()), (403, "forbidden"));
    // The holder sees the device-bound checks that named their licence in their log.
    let checks = h
        .call(request("GET /licence/checks", &[], holder(ZHANG_WEI), None, None))
        .await;
    let list = checks.body["checks"].as_array().expect("checks");
    assert!(list.iter().any(|c| c["method"] == "device" && c["valid"] == true));
}

async fn walking_serials_reveals_nothing(mut h: Harness) {
    let metrics = Arc::new(EmbeddedMetrics::default());
    h.services.metrics = metrics.clone();
    // One shard: the window's miss estimate (a shard's count times the shards) is then exact.
    h.services.quotas.shards = 1;
    let (serial, code) = issued(&mut h).await;
    assert_eq!(serial.len(), 28, "city, day and sixteen random digits");
    let barcode = shared::credential::barcode::with_check_character(&serial).expect("check");
    // The serials around the real one, the real one among them.
    let stem = &serial[..serial.len() - 3];
    let mut walked: Vec<String> = (0..40)
        .map(|i| shared::credential::barcode::with_check_character(&format!("{stem}{i:03}")).expect("check"))
        .filter(|candidate| *candidate != barcode)
        .collect();
    walked.push(barcode.clone());
    let mut answers = Vec::new();
    for candidate in &walked {
        let answer = verify(
            &h,
            rental(),
            json!({ "barcode": candidate, "purpose": "car_rental", "class": "C1" }),
        )
        .await;
        assert_eq!((answer.status, answer.problem()), (403, "presentation-not-allowed"));
        assert!(!String::from_utf8_lossy(&answer.bytes).contains('张'), "{answer:?}");
        assert!(answer.body.get("serial").is_none() && answer.body.get("disclosed").is_none());
        answers.push(answer.bytes);
    }
    assert!(
        answers.windows(2).all(|w| w[0] == w[1]),
        "every serial, the real one too, gets the same answer"
    );
    let misses = |organisation: &str| metrics::sum(&metrics.lines(), metrics::MISSES, organisation);
    assert_eq!(
        misses("神州租车"),
        walked.len() as f64,
        "the walk shows in the enumeration metric"
    );
    assert_eq!(misses("平安保险"), 0.0);
    assert_eq!(
        metrics::peak_window_misses(&metrics.lines()),
        Some(walked.len() as f64),
        "the alarm's metric: the walking organisation's misses in this window"
    );
    // The insurer with the holder's show code sees its purpose's fields, and how old the code is.
    h.clock.set("2026-11-25T10:01:30+08:00");
    let shown = verify(&h, insurer(), json!({ "code": code, "purpose": "insurance_claim" })).await;
    assert_eq!(
        (shown.body["valid"].as_bool(), shown.body["codeAgeSeconds"].as_i64()),
        (Some(true), Some(90)),
        "{shown:?}"
    );
    assert_eq!(misses("平安保险"), 0.0, "a verified code is no miss");
    assert_eq!(metrics::sum(&metrics.lines(), metrics::VERIFICATIONS, "平安保险"), 1.0);
    h.clock.set(edl_tests::NOW);
    // An officer may look serials up: the unknown ones are misses of the officer's organisation.
    let police = "北京市公安局公安交通管理局";
    for candidate in &walked {
        let answer = verify(&h, officer(), json!({ "barcode": candidate })).await;
        assert_eq!(answer.status, 200, "{answer:?}");
        if *candidate == barcode {
            assert_eq!(answer.body["valid"], true);
            assert!(answer.body.get("codeAgeSeconds").is_none());
        } else {
            assert_eq!(refused(&answer), (Some(false), Some("unknown-licence")));
        }
    }
    assert_eq!(misses(police), (walked.len() - 1) as f64);
    let mut wrong = barcode.into_bytes();
    let last = wrong.len() - 1;
    wrong[last] = if wrong[last] == b'1' { b'2' } else { b'1' };
    let wrong = verify(
        &h,
        officer(),
        json!({ "barcode": String::from_utf8(wrong).expect("utf8") }),
    )
    .await;
    assert_eq!(refused(&wrong), (Some(false), Some("bad-check-character")));
    assert_eq!(misses(police), walked.len() as f64);
    // No line names a serial, a holder or a verifier's subject.
    let lines = metrics.lines().join("\n");
    assert!(!lines.contains(&serial) && !lines.contains(ZHANG_WEI) && !lines.contains("rp-rental-0007"));
}

async fn quotas_per_organisation(mut h: Harness) {
    let police = "北京市公安局公安交通管理局";
    h.services.quotas = Quotas {
        window_seconds: 600,
        default_requests: 6,
        organisations: [(police.to_string(), 10)].into_iter().collect(),
        shards: 4,
    };
    let nonce = |who: Option<Value>| h.call(request("POST /verifications/nonces", &[], who, None, None));
    for _ in 0..6 {
        assert_eq!(nonce(rental()).await.status, 201);
    }
    let over = nonce(rental()).await;
    assert_eq!((over.status, over.problem()), (429, "quota-exceeded"), "{over:?}");
    let now = h.services.now().timestamp();
    let (_, window_end) = h.services.quotas.window(now);
    assert_eq!(over.retry_after, Some((window_end - now).to_string()));
    assert_eq!(over.body["retryAfterSeconds"], json!(window_end - now));
    // Verifications count against the same quota.
    let verified = verify(&h, rental(), json!({ "code": "EDL2:X", "purpose": "car_rental" })).await;
    assert_eq!(verified.status, 429, "{verified:?}");
    // Another organisation has its own; the police have theirs, configured.
    assert_eq!(nonce(insurer()).await.status, 201);
    for _ in 0..10 {
        assert_eq!(nonce(officer()).await.status, 201);
    }
    assert_eq!(nonce(officer()).await.status, 429);
    // A truck pass check is a lookup by a verifier too: it counts against the same quota.
    let pass_check = h
        .call(json_request(
            "POST /truck/verifications",
            &[],
            officer(),
            &json!({ "code": "TRK2:X", "zone": "五环内" }),
        ))
        .await;
    assert_eq!(
        (pass_check.status, pass_check.problem()),
        (429, "quota-exceeded"),
        "{pass_check:?}"
    );
    // Many at once never get past the quota: each shard's count is one conditional write.
    let mut racers = claims("rp-racer-0001", "relying_party", None);
    racers["org"] = json!("赛车租赁");
    let answers = futures::future::join_all((0..20).map(|_| nonce(Some(racers.clone())))).await;
    assert_eq!(answers.iter().filter(|a| a.status == 201).count(), 6);
    assert_eq!(answers.iter().filter(|a| a.status == 429).count(), 14);
    // The next window starts afresh.
    h.clock.set("2026-11-25T10:10:00+08:00");
    assert_eq!(nonce(rental()).await.status, 201);
}

edl_tests::on_both_adapters!(|records| edl_tests::harness(Arc::new(records), 5).await;
    device_bound_presentations,
    walking_serials_reveals_nothing,
    quotas_per_organisation,
);
