//! Verification end to end (R7, R9, R15): every check of the pipeline, positive and negative, built
//! here; disclosure by purpose; the audit trail the holder reads; the public trust material.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edl_tests::{
    admin, call, claims, dynamo_harness, embedded_harness, holder, json_request, officer, request, Answer, Harness,
    ZHANG_WEI,
};
use serde_json::{json, Value};
use shared::credential::showcode::{self, CodeKind, ShowClaims};
use shared::crypto::LocalSigner;
use shared::service::issuance::IssueOutcome;
use shared::service::keys::Authority;
use shared::service::verification::{IacaPin, TrustCache};
use std::io::Write;
use std::sync::Arc;

fn rental() -> Option<Value> {
    let mut c = claims("rp-rental-0007", "relying_party", None);
    c["org"] = json!("神州租车");
    Some(c)
}

async fn verify(h: &Harness, who: Option<Value>, body: Value) -> Answer {
    call(&h.services, json_request("POST /verifications", &[], who, &body)).await
}

/// Keys, and 张伟's licence issued; returns its serial and the holder's current code.
async fn issued(h: &mut Harness) -> (String, String) {
    let signer = LocalSigner::new();
    signer.generate("iaca");
    signer.generate("ds");
    h.services.signer = Some(Arc::new(signer));
    h.services
        .install_iaca(&Authority::default(), "iaca")
        .await
        .expect("IACA");
    h.services
        .add_document_signer(&Authority::default(), "ds")
        .await
        .expect("DS");
    let opened = call(
        &h.services,
        json_request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "photoSource": "on_file" }),
        ),
    )
    .await;
    let id = opened.body["id"].as_str().expect("id").to_string();
    let session = h
        .keys
        .mint_liveness_session(ZHANG_WEI, 99.0, h.services.now().timestamp());
    call(
        &h.services,
        json_request(
            "POST /applications/{id}/liveness",
            &[("id", &id)],
            holder(ZHANG_WEI),
            &json!({ "livenessSessionId": session }),
        ),
    )
    .await;
    let IssueOutcome::Issued { serial } = h.services.issue(&id).await.expect("issued") else {
        panic!("not issued")
    };
    let code = call(
        &h.services,
        request("GET /licence/code", &[], holder(ZHANG_WEI), None, None),
    )
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
    let shown = call(&h.services, request("GET /licence", &[], holder(ZHANG_WEI), None, None)).await;
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
    let from_device = verify(&h, officer(), json!({ "mdoc": STANDARD.encode(&response_bytes) })).await;
    assert_eq!(from_device.body["valid"], true, "{from_device:?}");
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
        other.services.signer = Some(Arc::new(signer));
        other
            .services
            .install_iaca(&Authority::default(), "iaca2")
            .await
            .expect("IACA");
        other
            .services
            .add_document_signer(&Authority::default(), "ds2")
            .await
            .expect("DS");
        let opened = call(
            &other.services,
            json_request(
                "POST /applications",
                &[],
                holder(ZHANG_WEI),
                &json!({ "photoSource": "on_file" }),
            ),
        )
        .await;
        let id = opened.body["id"].as_str().expect("id").to_string();
        let session = other
            .keys
            .mint_liveness_session(ZHANG_WEI, 99.0, other.services.now().timestamp());
        call(
            &other.services,
            json_request(
                "POST /applications/{id}/liveness",
                &[("id", &id)],
                holder(ZHANG_WEI),
                &json!({ "livenessSessionId": session }),
            ),
        )
        .await;
        other.services.issue(&id).await.expect("issued elsewhere");
        call(
            &other.services,
            request("GET /licence", &[], holder(ZHANG_WEI), None, None),
        )
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
    let checks = call(
        &h.services,
        request("GET /licence/checks", &[], holder(ZHANG_WEI), None, None),
    )
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
    let other = call(
        &h.services,
        request("GET /licence/checks", &[], holder(edl_tests::LI_NA), None, None),
    )
    .await;
    assert_eq!(other.body["checks"], json!([]));
    let not_holder = call(&h.services, request("GET /licence/checks", &[], officer(), None, None)).await;
    assert_eq!((not_holder.status, not_holder.problem()), (403, "forbidden"));

    // Live state: a renewal supersedes; a malicious upload stops (covered in photos); the code fails.
    call(
        &h.services,
        json_request(
            "PATCH /admin/licences/{number}",
            &[("number", ZHANG_WEI)],
            admin(),
            &json!({ "renewal": { "validTo": "2038-06-18" }, "reason": "换证" }),
        ),
    )
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
    let trust = call(
        &h.services,
        request("GET /.well-known/edl/trust", &[], None, None, None),
    )
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
    forger.signer = Some(forger_keys.clone());
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
    let forged_answer = call(
        &pinned,
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
    let genuine = call(
        &pinned,
        json_request("POST /verifications", &[], officer(), &json!({ "code": code })),
    )
    .await;
    assert_eq!(genuine.body["valid"], true, "{genuine:?}");
    let trust = call(&pinned, request("GET /.well-known/edl/trust", &[], None, None, None)).await;
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
    let answer = call(
        &misconfigured,
        json_request("POST /verifications", &[], officer(), &json!({ "code": code })),
    )
    .await;
    assert_eq!(answer.body["reason"], "unknown-kid", "{answer:?}");

    // No pin at all (IacaSha256 left empty): no row is a trust root, so nothing verifies and nothing is signed.
    let unpinned = deployed(&h, None);
    let answer = call(
        &unpinned,
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
