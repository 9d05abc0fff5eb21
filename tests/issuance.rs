//! Issuance and show end to end (R3, R4, R6, R7, R8, R10, R11): signed licences exactly once,
//! KMS on the emulator (DIGEST signing, disabled keys), show codes reused and live, pages with a
//! readable QR, and supersession on photo change and renewal.

use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edl_tests::{
    admin, dynamo_harness, embedded_harness, holder, images, json_request, request, Harness, LI_NA, ZHANG_WEI,
};
use serde_json::json;
use shared::credential::{cert, mdoc, showcode};
use shared::crypto::LocalSigner;
use shared::kernel::signing::{Signer, SignerError};
use shared::service::issuance::IssueOutcome;
use shared::service::keys::Authority;
use shared::verification::ports::TrustRole;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// A signer that counts what it signs, to see which requests reach the key.
struct CountingSigner {
    inner: Arc<dyn Signer>,
    signed: AtomicUsize,
}

#[async_trait]
impl Signer for CountingSigner {
    async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
        self.signed.fetch_add(1, Ordering::SeqCst);
        self.inner.sign_digest(key_id, digest).await
    }
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError> {
        self.inner.public_key(key_id).await
    }
}

/// Installs an IACA and a document signer behind `inner`; returns the counting signer.
async fn with_keys(h: &mut Harness, inner: Arc<dyn Signer>, iaca: &str, ds: &str) -> Arc<CountingSigner> {
    let signer = Arc::new(CountingSigner {
        inner,
        signed: AtomicUsize::new(0),
    });
    h.ports.signer = signer.clone();
    h.signing()
        .install_iaca(&Authority::default(), iaca)
        .await
        .expect("IACA");
    h.signing()
        .add_document_signer(&Authority::default(), ds)
        .await
        .expect("document signer");
    signer
}

async fn local_keys(h: &mut Harness) -> Arc<CountingSigner> {
    let local = LocalSigner::new();
    local.generate("iaca");
    local.generate("ds-1");
    with_keys(h, Arc::new(local), "iaca", "ds-1").await
}

/// 张伟 applies with the photo on file and passes the liveness check: approved.
async fn approved_on_file(h: &Harness) -> String {
    edl_tests::approved_on_file(h, ZHANG_WEI).await.expect("approved")
}

async fn show(h: &Harness, who: &str) -> edl_tests::Answer {
    h.call(request("GET /licence", &[], holder(who), None, None)).await
}

async fn code(h: &Harness, who: &str) -> edl_tests::Answer {
    h.call(request("GET /licence/code", &[], holder(who), None, None)).await
}

async fn trust_material(h: &Harness) -> (Vec<u8>, Vec<u8>) {
    let trust = h.services.records.trust().await.expect("trust");
    let der = |role: TrustRole| {
        trust
            .iter()
            .find(|t| t.role == role)
            .map(|t| STANDARD.decode(&t.certificate).expect("base64"))
            .expect("certificate")
    };
    (der(TrustRole::Iaca), der(TrustRole::DocumentSigner))
}

async fn issue_exactly_once_and_show(mut h: Harness) {
    let signer = local_keys(&mut h).await;
    let id = approved_on_file(&h).await;
    // No licence before issuance.
    let none = show(&h, ZHANG_WEI).await;
    assert_eq!((none.status, none.problem()), (404, "not-found"));
    let first = h.issuing().issue(&id).await.expect("issued");
    let IssueOutcome::Issued { serial } = first.clone() else {
        panic!("{first:?}")
    };
    // Retried or duplicated: nothing new.
    let again = h.issuing().issue(&id).await.expect("again");
    assert_eq!(again, IssueOutcome::AlreadyIssued { serial: serial.clone() });
    let issuing = h.issuing();
    let (a, b) = tokio::join!(issuing.issue(&id), issuing.issue(&id));
    assert!(matches!(a, Ok(IssueOutcome::AlreadyIssued { .. })) && matches!(b, Ok(IssueOutcome::AlreadyIssued { .. })));
    let application = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &id)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!(application.body["state"], "issued");

    let shown = show(&h, ZHANG_WEI).await;
    assert_eq!(shown.status, 200, "{shown:?}");
    assert_eq!(shown.body["serial"], json!(serial));
    assert_eq!(shown.body["status"], "active");
    assert_eq!(shown.body["colour"], "green");
    // The document verifies against our trust material.
    let document = STANDARD
        .decode(shown.body["document"].as_str().expect("document"))
        .expect("base64");
    let verified = mdoc::verify_issuer_signed(&document, h.services.now(), 60).expect("verifies");
    let (iaca, ds) = trust_material(&h).await;
    cert::verify_document_signer(&iaca, &verified.document_signer_der, h.services.now()).expect("chains to the IACA");
    assert_eq!(verified.document_signer_der, ds);
    assert_eq!(
        verified.elements[mdoc::ISO_NAMESPACE]["document_number"],
        json!(ZHANG_WEI)
    );
    assert_eq!(verified.elements[mdoc::ISO_NAMESPACE]["family_name"], json!("张"));
    assert_eq!(
        verified.elements[mdoc::DOMESTIC_NAMESPACE]["licence_serial"],
        json!(serial)
    );

    // The show code is reused: one signature for many shows.
    let before = signer.signed.load(Ordering::SeqCst);
    let first_code = code(&h, ZHANG_WEI).await;
    assert_eq!(first_code.status, 200, "{first_code:?}");
    let text = first_code.body["code"].as_str().expect("code").to_string();
    assert!(text.starts_with("EDL2:"));
    for _ in 0..5 {
        assert_eq!(code(&h, ZHANG_WEI).await.body["code"], json!(text));
    }
    assert_eq!(
        signer.signed.load(Ordering::SeqCst),
        before + 1,
        "one signature for six shows"
    );
    let decoded =
        showcode::decode(&text, showcode::CodeKind::Licence, showcode::DEFAULT_MAX_INFLATED).expect("decodes");
    decoded
        .verify(&cert::public_key_of(&ds).expect("key"))
        .expect("signature");
    assert_eq!(decoded.claims.serial, serial);
    assert_eq!(decoded.claims.colour, showcode::Colour::Green);
    assert_eq!(
        first_code.body["barcode"].as_str().map(|b| b.starts_with(&serial)),
        Some(true)
    );

    // Shortly before expiry a fresh code is made.
    h.clock.set("2026-11-25T10:04:30+08:00");
    let later = code(&h, ZHANG_WEI).await;
    assert_ne!(later.body["code"], json!(text));

    // R7: 12 points turn the next code red at once, without re-issuing.
    let changed = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &[("number", ZHANG_WEI)],
            admin(),
            &json!({ "points": 12, "reason": "违法记分满分" }),
        ))
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    let red = code(&h, ZHANG_WEI).await;
    assert_eq!(red.body["colour"], "red");
    let decoded = showcode::decode(
        red.body["code"].as_str().expect("code"),
        showcode::CodeKind::Licence,
        4096,
    )
    .expect("decodes");
    assert_eq!(decoded.claims.colour, showcode::Colour::Red);
    assert_eq!(show(&h, ZHANG_WEI).await.body["redReasons"], json!(["twelve-points"]));
    assert_eq!(show(&h, ZHANG_WEI).await.body["serial"], json!(serial), "not re-issued");

    // The pages: SVG and PNG, and the QR on the PNG is the show code.
    let current = code(&h, ZHANG_WEI).await.body["code"]
        .as_str()
        .expect("code")
        .to_string();
    let png = h
        .call(request(
            "GET /licence/pages/{page}",
            &[("page", "front.png")],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!(png.status, 200);
    assert_eq!(png.content_type, "image/png");
    let svg = h
        .call(request(
            "GET /licence/pages/{page}",
            &[("page", "back.svg")],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!((svg.status, svg.content_type.as_str()), (200, "image/svg+xml"));
    let missing = h
        .call(request(
            "GET /licence/pages/{page}",
            &[("page", "side.gif")],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!((missing.status, missing.problem()), (404, "not-found"));
    let picture = image::load_from_memory(&png.bytes).expect("a PNG").to_luma8();
    let mut prepared = rqrr::PreparedImage::prepare(picture);
    let grids = prepared.detect_grids();
    assert_eq!(grids.len(), 1, "one QR code on the front page");
    let (_, content) = grids[0].decode().expect("the QR decodes");
    assert_eq!(content, current, "the QR on the page is the show code");
    // In AWS the PNG is drawn by the pages function: when it cannot be reached the holder gets a 503 problem, not a
    // page made up or a 500, and the SVG, which the licence function writes itself, is still there.
    let unreachable = shared::service::Showing {
        signing: h.signing(),
        pages: Arc::new(shared::adapters::lambda::PageFunction::new(
            &edl_tests::aws_config().await,
            "edl-test-no-such-pages".into(),
        )),
    };
    for (page, expected) in [("front.png", 503), ("back.png", 503), ("front.svg", 200)] {
        let answer = edl_tests::answer(
            edl_licence::handle(
                &unreachable,
                request(
                    "GET /licence/pages/{page}",
                    &[("page", page)],
                    holder(ZHANG_WEI),
                    None,
                    None,
                ),
            )
            .await,
        );
        assert_eq!(answer.status, expected, "{page}: {answer:?}");
        if expected == 503 {
            assert_eq!(
                (answer.problem(), answer.content_type.as_str()),
                ("unavailable", "application/problem+json"),
                "{page}"
            );
        }
    }

    // R11: a renewal supersedes the electronic licence and tells the holder to apply again.
    let renewed = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &[("number", ZHANG_WEI)],
            admin(),
            &json!({ "renewal": { "validTo": "2038-06-18" }, "points": 0, "reason": "换证" }),
        ))
        .await;
    assert_eq!(renewed.body["supersedesElectronicLicence"], true, "{renewed:?}");
    let superseded = show(&h, ZHANG_WEI).await;
    assert_eq!(superseded.body["status"], "superseded");
    assert!(superseded.body["advice"]
        .as_str()
        .is_some_and(|a| a.contains("apply again")));
    let refused = code(&h, ZHANG_WEI).await;
    assert_eq!((refused.status, refused.problem()), (409, "licence-not-active"));
    // Applying again issues a new licence.
    let id = approved_on_file(&h).await;
    let IssueOutcome::Issued { serial: renewed_serial } = h.issuing().issue(&id).await.expect("issued") else {
        panic!("not issued")
    };
    assert_ne!(renewed_serial, serial);
    assert_eq!(show(&h, ZHANG_WEI).await.body["status"], "active");
}

#[tokio::test]
async fn issue_exactly_once_and_show_on_embedded() {
    issue_exactly_once_and_show(embedded_harness().await).await;
}

#[tokio::test]
async fn issue_exactly_once_and_show_on_dynamodb() {
    issue_exactly_once_and_show(dynamo_harness().await).await;
}

/// R10: a holder with a licence changes the photo; approval re-issues with it.
async fn photo_change_reissues(mut h: Harness) {
    local_keys(&mut h).await;
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(LI_NA),
            &json!({ "photoSource": "camera" }),
        ))
        .await;
    let id = opened.body["id"].as_str().expect("id").to_string();
    let upload = |id: String, seed: u32| {
        let h = &h;
        async move {
            let offer = h
                .call(json_request(
                    "POST /applications/{id}/photo-uploads",
                    &[("id", &id)],
                    holder(LI_NA),
                    &json!({ "source": "camera", "contentType": "image/jpeg" }),
                ))
                .await;
            let token = offer.body["upload"]["url"]
                .as_str()
                .and_then(|u| u.rsplit('/').next())
                .expect("token")
                .to_string();
            let photos = h.embedded_photos.as_ref().expect("embedded photos");
            let key = photos
                .accept_upload(
                    &token,
                    Some("image/jpeg"),
                    &images::id_photo_jpeg_variant(360, 480, seed),
                    h.services.now(),
                )
                .expect("uploaded");
            h.photo_checking().photo_arrived(&key).await.expect("checked");
            let approved = h
                .call(json_request(
                    "POST /reviews/{id}/decision",
                    &[("id", &id)],
                    Some(edl_tests::claims("reviewer-0001", "reviewer", None)),
                    &json!({ "verdict": "approve" }),
                ))
                .await;
            assert_eq!(approved.body["state"], "approved", "{approved:?}");
        }
    };
    upload(id.clone(), 21).await;
    let IssueOutcome::Issued { serial: first } = h.issuing().issue(&id).await.expect("issued") else {
        panic!()
    };
    let first_doc = show(&h, LI_NA).await.body["document"].clone();
    // The new photo goes through the same path.
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(LI_NA),
            &json!({ "photoSource": "album" }),
        ))
        .await;
    assert_eq!(
        opened.status, 201,
        "a holder with a licence may change the photo: {opened:?}"
    );
    let change = opened.body["id"].as_str().expect("id").to_string();
    upload(change.clone(), 22).await;
    let IssueOutcome::Issued { serial: second } = h.issuing().issue(&change).await.expect("re-issued") else {
        panic!()
    };
    assert_ne!(first, second);
    let old = h
        .services
        .records
        .electronic_licence(&first)
        .await
        .expect("read")
        .expect("old");
    match old.status {
        shared::issuance::edl::EdlStatus::Superseded { by_serial, .. } => assert_eq!(by_serial, Some(second.clone())),
        other => panic!("the old licence is superseded: {other:?}"),
    }
    let now = show(&h, LI_NA).await;
    assert_eq!(now.body["serial"], json!(second));
    assert_ne!(
        now.body["document"], first_doc,
        "the new document carries the new portrait"
    );
    let document = STANDARD
        .decode(now.body["document"].as_str().expect("doc"))
        .expect("base64");
    let verified = mdoc::verify_issuer_signed(&document, h.services.now(), 60).expect("verifies");
    assert!(verified.elements[mdoc::ISO_NAMESPACE].contains_key("portrait"));
    // The record tells where the new portrait lies, as the store keeps it (the disclosure cuts it out there).
    let stored = h
        .services
        .records
        .electronic_licence(&second)
        .await
        .expect("read")
        .expect("new");
    assert!(edl_tests::assert_portrait_span_fits(&stored));

    // An officer checking the code sees the portrait the licence was signed with, to compare with the face.
    let shown = code(&h, LI_NA).await;
    let checked = h
        .call(json_request(
            "POST /verifications",
            &[],
            edl_tests::officer(),
            &json!({ "code": shown.body["code"] }),
        ))
        .await;
    assert_eq!(checked.status, 200, "{checked:?}");
    assert_eq!(
        checked.body["disclosed"]["portrait"]["mediaType"], "image/jpeg",
        "the upload was a JPEG"
    );
    assert_eq!(
        checked.body["disclosed"]["portrait"]["data"],
        verified.elements[mdoc::ISO_NAMESPACE]["portrait"],
        "the portrait as signed"
    );
}

#[tokio::test]
async fn photo_change_reissues_on_embedded() {
    photo_change_reissues(embedded_harness().await).await;
}

#[tokio::test]
async fn photo_change_reissues_on_dynamodb() {
    photo_change_reissues(dynamo_harness().await).await;
}

#[tokio::test]
async fn kms_signs_licences_and_a_disabled_key_writes_nothing() {
    let mut h = dynamo_harness().await;
    let config = edl_tests::aws_config().await;
    let iaca = shared::adapters::kms::create_signing_key(&config, "test IACA")
        .await
        .expect("key");
    let ds = shared::adapters::kms::create_signing_key(&config, "test document signer")
        .await
        .expect("key");
    with_keys(
        &mut h,
        Arc::new(shared::adapters::kms::KmsSigner::new(&config)),
        &iaca,
        &ds,
    )
    .await;
    let (iaca_der, _) = trust_material(&h).await;
    let id = approved_on_file(&h).await;
    // A disabled document-signer key: issuance fails cleanly, nothing is written.
    let kms = aws_sdk_kms::Client::new(&config);
    kms.disable_key().key_id(&ds).send().await.expect("disable");
    let failed = h.issuing().issue(&id).await;
    assert!(
        matches!(failed, Err(shared::service::ServiceError::Unavailable(_))),
        "{failed:?}"
    );
    let application = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &id)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!(application.body["state"], "approved", "retryable");
    assert_eq!(
        h.services.records.current_serial_of(ZHANG_WEI).await.expect("read"),
        None,
        "no licence written"
    );
    // Enabled again, the retry issues.
    kms.enable_key().key_id(&ds).send().await.expect("enable");
    let IssueOutcome::Issued { serial } = h.issuing().issue(&id).await.expect("issued") else {
        panic!()
    };
    let shown = show(&h, ZHANG_WEI).await;
    assert_eq!(shown.body["serial"], json!(serial));
    let document = STANDARD
        .decode(shown.body["document"].as_str().expect("doc"))
        .expect("base64");
    let verified = mdoc::verify_issuer_signed(&document, h.services.now(), 60).expect("KMS-signed document verifies");
    cert::verify_document_signer(&iaca_der, &verified.document_signer_der, h.services.now()).expect("chain");
    let shown_code = code(&h, ZHANG_WEI).await;
    assert_eq!(shown_code.status, 200, "{shown_code:?}");
}

#[tokio::test]
async fn showing_needs_a_holder_and_a_licence() {
    let mut h = embedded_harness().await;
    local_keys(&mut h).await;
    let nobody = show(&h, LI_NA).await;
    assert_eq!((nobody.status, nobody.problem()), (404, "not-found"));
    let not_holder = h.call(request("GET /licence", &[], admin(), None, None)).await;
    assert_eq!((not_holder.status, not_holder.problem()), (403, "forbidden"));
    let anonymous = h.call(request("GET /licence/code", &[], None, None, None)).await;
    assert_eq!((anonymous.status, anonymous.problem()), (401, "unauthenticated"));
}

/// The app's device key goes into the Mobile Security Object; a malformed one is refused.
#[tokio::test]
async fn the_apps_device_key_is_bound_into_the_document() {
    let mut h = embedded_harness().await;
    local_keys(&mut h).await;
    let bad = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "photoSource": "on_file", "deviceKey": "bm90LWEta2V5" }),
        ))
        .await;
    assert_eq!((bad.status, bad.problem()), (400, "invalid-request"));
    let device = p256::SecretKey::random(&mut rand_core::OsRng);
    let point = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&device.public_key(), false);
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(point.as_bytes());
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "photoSource": "on_file", "deviceKey": key }),
        ))
        .await;
    assert_eq!(opened.status, 201, "{opened:?}");
    let id = opened.body["id"].as_str().expect("id").to_string();
    let session = edl_tests::liveness_session(&h, ZHANG_WEI, &id, 99.0).await;
    h.call(json_request(
        "POST /applications/{id}/liveness",
        &[("id", &id)],
        holder(ZHANG_WEI),
        &json!({ "livenessSessionId": session }),
    ))
    .await;
    h.issuing().issue(&id).await.expect("issued");
    let document = STANDARD
        .decode(show(&h, ZHANG_WEI).await.body["document"].as_str().expect("doc"))
        .expect("base64");
    let x = &point.as_bytes()[1..33];
    assert!(
        document.windows(32).any(|w| w == x),
        "the device key's x coordinate is in the signed MSO"
    );
}

/// The EventBridge adapter against the emulator: approvals and notices go on the bus, and a rule
/// delivers ApplicationApproved to its target.
#[tokio::test]
async fn approvals_and_notices_go_on_the_event_bus() {
    use shared::adapters::eventbridge::EventBus;
    use shared::applications::ports::Issuer;
    use shared::kernel::notice::{Notice, Notifier, PendingNotice};
    let config = edl_tests::aws_config().await;
    let name = format!("edl-test-{}", uuid::Uuid::new_v4().simple());
    aws_sdk_eventbridge::Client::new(&config)
        .create_event_bus()
        .name(&name)
        .send()
        .await
        .expect("bus created");
    let bus = EventBus::new(&config, &name);
    let h = embedded_harness().await;
    let id = {
        let opened = h
            .call(json_request(
                "POST /applications",
                &[],
                holder(ZHANG_WEI),
                &json!({ "photoSource": "on_file" }),
            ))
            .await;
        opened.body["id"].as_str().expect("id").to_string()
    };
    let application = h
        .services
        .records
        .application(&id)
        .await
        .expect("read")
        .expect("stored");
    bus.request_issuance(&application)
        .await
        .expect("ApplicationApproved put on the bus");
    bus.notify(&PendingNotice::new(
        Notice::LicenceIssued {
            holder_id: ZHANG_WEI.into(),
            serial: "11000026112500000001".into(),
            application_id: id,
        },
        chrono::Utc::now(),
    ))
    .await
    .expect("notice put on the bus");
    // Delivered: a rule on the bus routes ApplicationApproved to a queue, as it routes it to the
    // issue function in AWS.
    let sqs = aws_sdk_sqs::Client::new(&config);
    let queue_url = sqs
        .create_queue()
        .queue_name(&name)
        .send()
        .await
        .expect("queue")
        .queue_url
        .expect("url");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("attributes")
        .attributes
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn).cloned())
        .expect("arn");
    let events = aws_sdk_eventbridge::Client::new(&config);
    events
        .put_rule()
        .name("approved")
        .event_bus_name(&name)
        .event_pattern(r#"{"source":["edl.backend"],"detail-type":["ApplicationApproved"]}"#)
        .send()
        .await
        .expect("rule");
    events
        .put_targets()
        .rule("approved")
        .event_bus_name(&name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("queue")
                .arn(queue_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("target");
    bus.request_issuance(&application).await.expect("put again");
    let mut delivered = None;
    for _ in 0..20 {
        let received = sqs
            .receive_message()
            .queue_url(&queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive");
        if let Some(message) = received.messages.and_then(|m| m.into_iter().next()) {
            delivered = message.body;
            break;
        }
    }
    let body: serde_json::Value = serde_json::from_str(&delivered.expect("the event reached the queue")).expect("json");
    assert_eq!(body["detail-type"], "ApplicationApproved");
    assert_eq!(body["detail"]["applicationId"], json!(application.id));
}

/// The largest item any record of the service may be (README, "Record sizes"): a quarter of DynamoDB's
/// 400 KB item limit.
const RECORD_BUDGET: usize = 100 * 1024;

/// An item's size as DynamoDB counts it: each attribute's name plus its value (strings and binaries by their
/// bytes, numbers by their digits, one byte for booleans and nulls, nested lists and maps with their own).
fn item_size(item: &std::collections::HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> usize {
    use aws_sdk_dynamodb::types::AttributeValue as V;
    fn value(v: &V) -> usize {
        match v {
            V::S(s) => s.len(),
            V::N(n) => n.len(),
            V::B(b) => b.as_ref().len(),
            V::Bool(_) | V::Null(_) => 1,
            V::L(list) => 3 + list.iter().map(|v| 1 + value(v)).sum::<usize>(),
            V::M(map) => 3 + map.iter().map(|(k, v)| 1 + k.len() + value(v)).sum::<usize>(),
            V::Ss(set) | V::Ns(set) => set.iter().map(String::len).sum(),
            V::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
            _ => 0,
        }
    }
    item.iter().map(|(k, v)| k.len() + value(v)).sum()
}

/// A harness on the emulator's DynamoDB (which enforces the 400 KB item limit) and S3, with local keys; the
/// table's name and client for reading items back as stored.
async fn ministack_harness() -> (Harness, aws_sdk_dynamodb::Client, String) {
    let client = edl_tests::dynamodb_client().await;
    let table = format!("edl-test-{}", uuid::Uuid::new_v4().simple());
    shared::adapters::dynamodb::DynamoRecords::create_table(&client, &table)
        .await
        .expect("table");
    let records = Arc::new(shared::adapters::dynamodb::DynamoRecords::new(
        client.clone(),
        table.clone(),
    ));
    let photos = Arc::new(edl_tests::s3_photos().await);
    let clock = edl_tests::TestClock::at(&chrono::Utc::now().to_rfc3339());
    let mut h = edl_tests::harness_with(records, photos, None, shared::dev::DevKeys::random(), clock, 5).await;
    local_keys(&mut h).await;
    (h, client, table)
}

/// 李娜 opens a new-photo application and `bytes` lands where its upload form points (written with the S3
/// API; the presigned form itself is tested in `photos.rs`); the automatic checks run. The application and
/// the upload's key.
async fn uploaded(h: &Harness, bytes: &[u8]) -> (String, String) {
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(LI_NA),
            &json!({ "photoSource": "camera" }),
        ))
        .await;
    assert_eq!(opened.status, 201, "{opened:?}");
    let id = opened.body["id"].as_str().expect("id").to_string();
    let offer = h
        .call(json_request(
            "POST /applications/{id}/photo-uploads",
            &[("id", &id)],
            holder(LI_NA),
            &json!({ "source": "camera", "contentType": "image/jpeg" }),
        ))
        .await;
    let key = offer.body["key"].as_str().expect("key").to_string();
    let store = &h.ports.photos;
    store.put_portrait(&key, bytes).await.expect("uploaded");
    let outcome = h.photo_checking().photo_arrived(&key).await.expect("checked");
    assert!(
        matches!(outcome, shared::service::photos::PhotoOutcome::Queued { .. }),
        "{outcome:?}"
    );
    (id, key)
}

async fn decide(h: &Harness, id: &str) -> edl_tests::Answer {
    h.call(json_request(
        "POST /reviews/{id}/decision",
        &[("id", id)],
        Some(edl_tests::claims("reviewer-0001", "reviewer", None)),
        &json!({ "verdict": "approve" }),
    ))
    .await
}

fn signed_portrait(h_doc: &serde_json::Value) -> Vec<u8> {
    let document = STANDARD.decode(h_doc.as_str().expect("document")).expect("base64");
    mdoc::portrait_of(&document).expect("every licence carries a portrait")
}

/// Issue 12: the largest photo the automatic checks accept (2 MiB of noise on a white background) is issued
/// on DynamoDB, and the licence's item stays far below the 400 KB limit that used to make it fail.
#[tokio::test]
async fn the_largest_accepted_photo_is_issued_within_the_record_budget() {
    let (h, client, table) = ministack_harness().await;
    let photo = images::noisy_id_photo_jpeg(h.services.photo_rules.max_bytes);
    let (id, _) = uploaded(&h, &photo).await;
    let approved = decide(&h, &id).await;
    assert_eq!(approved.status, 200, "{approved:?}");
    let IssueOutcome::Issued { serial } = h.issuing().issue(&id).await.expect("issued") else {
        panic!("issued once")
    };
    let item = client
        .get_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("EDL#{serial}")),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("EDL".into()))
        .send()
        .await
        .expect("read back")
        .item
        .expect("the licence's item");
    let size = item_size(&item);
    let portrait = signed_portrait(&show(&h, LI_NA).await.body["document"]);
    println!(
        "largest accepted photo: {} bytes; signed portrait: {} bytes; stored EDL# item: {size} bytes (budget {RECORD_BUDGET})",
        photo.len(),
        portrait.len()
    );
    assert!(
        photo.len() > 1800 * 1024,
        "a photo near the 2 MiB limit: {} bytes",
        photo.len()
    );
    assert!(portrait.len() <= shared::applications::portrait::MAX_PORTRAIT_BYTES);
    assert!(size < RECORD_BUDGET, "the EDL# item is {size} bytes");
}

/// Issue 15 item 6: the photo approved is the clean copy the checks made and the portrait signed is the one
/// approved. The upload replaced after the checks changes nothing (it is not read again); a clean copy or a
/// portrait replaced in S3 (by a role that may write there) is refused, and nothing is issued from it.
#[tokio::test]
async fn a_photo_replaced_after_its_checks_or_its_approval_is_not_issued() {
    let (h, _, _) = ministack_harness().await;
    let rules = h.services.photo_rules.clone();
    let checked = images::id_photo_jpeg_variant(360, 480, 31);
    let other = images::id_photo_jpeg_variant(360, 480, 32);
    let clean_of = |bytes: &[u8]| {
        shared::applications::photo::check_and_clean(
            bytes,
            shared::applications::photo::ImageType::Jpeg,
            h.services.today(),
            &rules,
        )
        .expect("passes")
        .clean
    };
    let (clean, other_clean) = (clean_of(&checked), clean_of(&other));
    let store = h.ports.photos.clone();
    let (id, key) = uploaded(&h, &checked).await;
    let clean_key = shared::service::photos::checked_photo_key(&id, &clean.sha256);
    assert_eq!(store.read(&clean_key, 10_000_000).await.expect("kept"), clean.jpeg);

    // The upload replaced after the checks: not read again.
    store.put_portrait(&key, &other).await.expect("replaced");
    // The clean copy replaced: the reviewer cannot approve it.
    store
        .put_portrait(&clean_key, &other_clean.jpeg)
        .await
        .expect("replaced");
    let refused = decide(&h, &id).await;
    assert_eq!(
        (refused.status, refused.problem()),
        (409, "photo-changed"),
        "{refused:?}"
    );
    let app = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &id)],
            holder(LI_NA),
            None,
            None,
        ))
        .await;
    assert_eq!(app.body["state"], "awaiting_review");

    // Put back, it is approved, and the portrait is the clean copy normalised (the upload still is the other
    // photo).
    store.put_portrait(&clean_key, &clean.jpeg).await.expect("restored");
    let approved = decide(&h, &id).await;
    assert_eq!(approved.status, 200, "{approved:?}");
    let expected = shared::applications::portrait::normalise(&clean.jpeg, &rules).expect("normalised");
    let portrait_key = h
        .services
        .records
        .application(&id)
        .await
        .expect("read")
        .and_then(|a| a.portrait_key)
        .expect("portrait key");
    assert_eq!(
        store.read(&portrait_key, rules.max_bytes).await.expect("kept"),
        expected.jpeg
    );

    // The portrait replaced after the approval: issuance refuses and writes nothing.
    let forged = shared::applications::portrait::normalise(&other, &rules).expect("normalised");
    store.put_portrait(&portrait_key, &forged.jpeg).await.expect("replaced");
    let error = h.issuing().issue(&id).await.expect_err("not issued");
    assert!(
        matches!(error, shared::service::ServiceError::PhotoChanged(_)),
        "{error:?}"
    );
    assert_eq!(h.services.records.current_serial_of(LI_NA).await.expect("read"), None);
    let app = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &id)],
            holder(LI_NA),
            None,
            None,
        ))
        .await;
    assert_eq!(
        app.body["state"], "approved",
        "left approved, to be issued once the portrait is right"
    );

    // Restored, the licence is issued with exactly the approved portrait.
    store
        .put_portrait(&portrait_key, &expected.jpeg)
        .await
        .expect("restored");
    h.issuing().issue(&id).await.expect("issued");
    assert_eq!(signed_portrait(&show(&h, LI_NA).await.body["document"]), expected.jpeg);

    // The same holds for the register's photo on file.
    let on_file = approved_on_file(&h).await;
    let zhang = h
        .services
        .records
        .licence(ZHANG_WEI)
        .await
        .expect("read")
        .expect("licence");
    let sha = zhang.photo_sha256.clone().expect("张伟 has a photo on file");
    let register_key = shared::register::licence::register_photo_key(&sha);
    let genuine = store.read(&register_key, rules.max_bytes).await.expect("seeded");
    store.put_portrait(&register_key, &forged.jpeg).await.expect("replaced");
    assert!(matches!(
        h.issuing().issue(&on_file).await,
        Err(shared::service::ServiceError::PhotoChanged(_))
    ));
    store.put_portrait(&register_key, &genuine).await.expect("restored");
    h.issuing().issue(&on_file).await.expect("issued");
    assert_eq!(signed_portrait(&show(&h, ZHANG_WEI).await.body["document"]), genuine);
}

/// R3: the register import carries the photo on file; it is normalised and every on-file licence is signed
/// with it. A licence whose register has no image goes the new-photo route, and an unusable image refuses the
/// import.
async fn the_register_carries_the_photo_on_file(h: Harness) {
    let mut licence = shared::sample::showcase_licences()[4].clone();
    let import = |lines: String| {
        let h = &h;
        async move {
            h.call(request(
                "POST /admin/licences",
                &[],
                admin(),
                Some("application/x-ndjson"),
                Some(&lines),
            ))
            .await
        }
    };
    let line = |licence: &shared::register::licence::Licence, image: Option<&str>| {
        let mut value = serde_json::to_value(licence).expect("json");
        value.as_object_mut().expect("object").remove("photoSha256");
        if let Some(image) = image {
            value["photoImage"] = json!(image);
        }
        format!("{value}\n")
    };

    // Not an image: the import names the line and imports nothing.
    let refused = import(line(&licence, Some(&STANDARD.encode(b"<html>not a photo</html>")))).await;
    assert_eq!(refused.status, 400, "{refused:?}");
    assert_eq!(refused.body["errors"][0]["field"], "photoImage", "{refused:?}");
    assert_eq!(refused.body["errors"][0]["line"], 1, "{refused:?}");

    // Without an image, 陈静's counter application on file is refused with a clear problem.
    let imported = import(line(&licence, None)).await;
    assert_eq!(imported.status, 200, "{imported:?}");
    let counter = |number: String| {
        let h = &h;
        async move {
            h.call(json_request(
                "POST /applications",
                &[],
                edl_tests::clerk("440300"),
                &json!({ "photoSource": "on_file", "licenceNumber": number }),
            ))
            .await
        }
    };
    let no_photo = counter(licence.number.clone()).await;
    assert_eq!(
        (no_photo.status, no_photo.problem()),
        (422, "no-photo-on-file"),
        "{no_photo:?}"
    );

    // With the image carried in the import (a PNG with a trailer here), the portrait is its pixels, re-encoded.
    let mut png = images::id_photo_png(450, 600);
    png.extend_from_slice(b"<script>alert(1)</script>");
    let imported = import(line(&licence, Some(&STANDARD.encode(&png)))).await;
    assert_eq!(imported.status, 200, "{imported:?}");
    let expected = shared::applications::portrait::normalise(&png, &h.services.photo_rules).expect("normalised");
    licence = h
        .services
        .records
        .licence(&licence.number)
        .await
        .expect("read")
        .expect("licence");
    assert_eq!(licence.photo_sha256.as_deref(), Some(expected.sha256.as_str()));
    let opened = counter(licence.number.clone()).await;
    assert_eq!(opened.status, 201, "{opened:?}");
    assert_eq!(opened.body["state"], "approved");
    let id = opened.body["id"].as_str().expect("id").to_string();
    h.issuing().issue(&id).await.expect("issued");
    let chen = shared::sample::showcase_licences()[4].holder_id.clone();
    let shown = show(&h, &chen).await;
    assert_eq!(signed_portrait(&shown.body["document"]), expected.jpeg);
}

#[tokio::test]
async fn the_register_carries_the_photo_on_file_on_embedded() {
    let mut h = embedded_harness().await;
    local_keys(&mut h).await;
    the_register_carries_the_photo_on_file(h).await;
}

#[tokio::test]
async fn the_register_carries_the_photo_on_file_on_ministack() {
    let (h, _, _) = ministack_harness().await;
    the_register_carries_the_photo_on_file(h).await;
}
