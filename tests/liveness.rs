//! The real-person check (R3) through the Amazon Rekognition adapter, against a loopback stand-in that speaks
//! Rekognition's JSON protocol with recorded answers (the AWS emulator has no Rekognition): what the SDK sends
//! (the session, the reference image, the photo on file) and how the answers are read; then the whole check
//! through the apply function's handler: a session of another application refused, a face mismatch refused
//! and recorded, a used session refused, a matching face approved.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edl_tests::rekognition::RekognitionStandIn;
use edl_tests::{embedded_harness, holder, json_request, request, Answer, Harness, CHEN_JING, ZHANG_WEI};
use serde_json::json;
use shared::adapters::rekognition::{RekognitionLiveness, DEFAULT_THRESHOLD};
use shared::applications::ports::{LivenessError, LivenessService};
use std::sync::Arc;

const SESSION: &str = "4f0b1e6c-2d3a-4b5c-8d7e-9f0a1b2c3d4e";
const OTHER_SESSION: &str = "7a1c2d3e-4f50-4617-8293-a4b5c6d7e8f9";

fn reference_image() -> Vec<u8> {
    edl_tests::images::id_photo_jpeg_variant(360, 480, 7)
}

fn succeeded(session: &str, confidence: f32, reference: &[u8]) -> serde_json::Value {
    json!({
        "SessionId": session,
        "Status": "SUCCEEDED",
        "Confidence": confidence,
        "ReferenceImage": { "Bytes": STANDARD.encode(reference), "BoundingBox": { "Width": 0.5, "Height": 0.6, "Left": 0.25, "Top": 0.2 } },
        "AuditImages": []
    })
}

fn matches(similarity: f32) -> serde_json::Value {
    json!({
        "SourceImageFace": { "Confidence": 99.9 },
        "FaceMatches": [ { "Similarity": similarity, "Face": { "Confidence": 99.8 } } ],
        "UnmatchedFaces": []
    })
}

fn no_match() -> serde_json::Value {
    json!({
        "SourceImageFace": { "Confidence": 99.9 },
        "FaceMatches": [],
        "UnmatchedFaces": [ { "Confidence": 99.7 } ]
    })
}

fn error(kind: &str) -> serde_json::Value {
    json!({ "__type": kind, "Message": format!("recorded {kind}") })
}

#[tokio::test]
async fn the_adapter_speaks_rekognitions_protocol() {
    let rekognition = RekognitionStandIn::start().await;
    let liveness = RekognitionLiveness::from_client(rekognition.client(), DEFAULT_THRESHOLD);
    let reference = reference_image();
    let photo = edl_tests::images::id_photo_jpeg(360, 480);

    // A session is created for the application.
    rekognition.record("CreateFaceLivenessSession", 200, json!({ "SessionId": SESSION }));
    assert_eq!(liveness.create_session("app-1").await, Ok(SESSION.to_string()));
    let sent = rekognition.received();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].operation, "CreateFaceLivenessSession");
    assert_eq!(sent[0].content_type, "application/x-amz-json-1.1");
    // No S3 output: the reference image comes back as bytes, nothing kept in a bucket.
    assert!(sent[0].body.get("Settings").is_none(), "{}", sent[0].body);

    // Its result, with the reference image.
    rekognition.record(
        "GetFaceLivenessSessionResults",
        200,
        succeeded(SESSION, 98.5, &reference),
    );
    let result = liveness.result(SESSION).await.expect("result");
    assert!(result.passed);
    assert_eq!(result.confidence, 98.5);
    assert_eq!(result.reference_image.as_deref(), Some(reference.as_slice()));
    let sent = rekognition.received();
    assert_eq!(sent[1].operation, "GetFaceLivenessSessionResults");
    assert_eq!(sent[1].body, json!({ "SessionId": SESSION }));

    // The reference image compared with the photo on file, at the threshold given.
    rekognition.record("CompareFaces", 200, matches(96.5));
    assert_eq!(liveness.compare_faces(&reference, &photo, 92.0).await, Ok(96.5));
    let sent = rekognition.received();
    assert_eq!(sent[2].operation, "CompareFaces");
    assert_eq!(sent[2].body["SourceImage"]["Bytes"], STANDARD.encode(&reference));
    assert_eq!(sent[2].body["TargetImage"]["Bytes"], STANDARD.encode(&photo));
    assert_eq!(sent[2].body["SimilarityThreshold"], 92.0);
}

#[tokio::test]
async fn the_adapter_reads_failures_and_refusals() {
    let rekognition = RekognitionStandIn::start().await;
    let liveness = RekognitionLiveness::from_client(rekognition.client(), DEFAULT_THRESHOLD);
    let reference = reference_image();
    // A low score, a failed session: not passed, and no image to compare.
    rekognition.record(
        "GetFaceLivenessSessionResults",
        200,
        succeeded(SESSION, 41.0, &reference),
    );
    rekognition.record(
        "GetFaceLivenessSessionResults",
        200,
        json!({ "SessionId": SESSION, "Status": "FAILED" }),
    );
    // A pass without its reference image cannot be compared: unavailable, not approved.
    rekognition.record(
        "GetFaceLivenessSessionResults",
        200,
        json!({ "SessionId": SESSION, "Status": "SUCCEEDED", "Confidence": 99.0 }),
    );
    rekognition.record(
        "GetFaceLivenessSessionResults",
        200,
        json!({ "SessionId": SESSION, "Status": "IN_PROGRESS" }),
    );
    rekognition.record("GetFaceLivenessSessionResults", 400, error("SessionNotFoundException"));
    let low = liveness.result(SESSION).await.expect("judged");
    assert_eq!((low.passed, low.confidence, low.reference_image), (false, 41.0, None));
    let failed = liveness.result(SESSION).await.expect("judged");
    assert!(!failed.passed);
    assert!(matches!(
        liveness.result(SESSION).await,
        Err(LivenessError::Unavailable(_))
    ));
    assert!(matches!(
        liveness.result(SESSION).await,
        Err(LivenessError::InvalidSession(_))
    ));
    assert_eq!(
        liveness.result(SESSION).await,
        Err(LivenessError::InvalidSession("the liveness session is unknown".into()))
    );
    // A malformed id never reaches the service.
    let before = rekognition.received().len();
    assert!(matches!(
        liveness.result("not-a-session").await,
        Err(LivenessError::InvalidSession(_))
    ));
    assert_eq!(rekognition.received().len(), before);

    // No face matched, no face found, and the service failing.
    rekognition.record("CompareFaces", 200, no_match());
    rekognition.record("CompareFaces", 400, error("InvalidParameterException"));
    rekognition.record("CompareFaces", 400, error("ThrottlingException"));
    assert_eq!(liveness.compare_faces(&reference, b"photo", 90.0).await, Ok(0.0));
    assert_eq!(liveness.compare_faces(&reference, b"photo", 90.0).await, Ok(0.0));
    assert!(matches!(
        liveness.compare_faces(&reference, b"photo", 90.0).await,
        Err(LivenessError::Unavailable(_))
    ));
    rekognition.record("CreateFaceLivenessSession", 400, error("AccessDeniedException"));
    assert!(matches!(
        liveness.create_session("app-1").await,
        Err(LivenessError::Unavailable(_))
    ));
}

async fn confirm(h: &Harness, holder_id: &str, id: &str, session: &str) -> Answer {
    h.call(json_request(
        "POST /applications/{id}/liveness",
        &[("id", id)],
        holder(holder_id),
        &json!({ "livenessSessionId": session }),
    ))
    .await
}

async fn start(h: &Harness, holder_id: &str, id: &str) -> Answer {
    h.call(request(
        "POST /applications/{id}/liveness-sessions",
        &[("id", id)],
        holder(holder_id),
        None,
        None,
    ))
    .await
}

#[tokio::test]
async fn the_check_binds_the_session_to_its_application_and_the_face_to_the_photo_on_file() {
    let rekognition = RekognitionStandIn::start().await;
    let mut h = embedded_harness().await;
    h.services.liveness = Arc::new(RekognitionLiveness::from_client(
        rekognition.client(),
        DEFAULT_THRESHOLD,
    ));
    let open = |holder_id: &'static str| {
        let h = &h;
        async move {
            h.call(json_request(
                "POST /applications",
                &[],
                holder(holder_id),
                &json!({ "photoSource": "on_file" }),
            ))
            .await
        }
    };
    let opened = open(ZHANG_WEI).await;
    let id = opened.body["id"].as_str().expect("id").to_string();
    let photo_key = stored(&h, &id).await.portrait_key.expect("the photo on file");
    let photo_on_file = h
        .ports
        .photos
        .read(&photo_key, 10 << 20)
        .await
        .expect("the photo on file");
    let other = open(CHEN_JING).await.body["id"].as_str().expect("id").to_string();

    rekognition.record("CreateFaceLivenessSession", 200, json!({ "SessionId": OTHER_SESSION }));
    rekognition.record("CreateFaceLivenessSession", 200, json!({ "SessionId": SESSION }));
    let hers = start(&h, CHEN_JING, &other).await;
    assert_eq!(hers.body["sessionId"], OTHER_SESSION, "{hers:?}");
    let started = start(&h, ZHANG_WEI, &id).await;
    assert_eq!(
        (started.status, started.body["sessionId"].as_str()),
        (201, Some(SESSION))
    );

    // 陈静's session on 张伟's application: refused before Rekognition is asked, nothing written.
    let calls = rekognition.received().len();
    let before = stored(&h, &id).await;
    assert_eq!(before.liveness_session.as_deref(), Some(SESSION));
    let foreign = confirm(&h, ZHANG_WEI, &id, OTHER_SESSION).await;
    assert_eq!(
        (foreign.status, foreign.problem()),
        (400, "liveness-session-invalid"),
        "{foreign:?}"
    );
    assert_eq!(rekognition.received().len(), calls, "Rekognition not asked");
    assert_eq!(stored(&h, &id).await, before, "nothing written");

    // A live person, but another face: 422 face-mismatch, recorded, and the session is spent.
    rekognition.record(
        "GetFaceLivenessSessionResults",
        200,
        succeeded(SESSION, 99.2, &reference_image()),
    );
    rekognition.record("CompareFaces", 200, no_match());
    let mismatch = confirm(&h, ZHANG_WEI, &id, SESSION).await;
    assert_eq!(
        (mismatch.status, mismatch.problem()),
        (422, "face-mismatch"),
        "{mismatch:?}"
    );
    let sent = rekognition.received();
    let compared = sent.last().expect("CompareFaces");
    assert_eq!(compared.operation, "CompareFaces");
    assert_eq!(
        compared.body["SourceImage"]["Bytes"],
        STANDARD.encode(reference_image())
    );
    assert_eq!(compared.body["TargetImage"]["Bytes"], STANDARD.encode(&photo_on_file));
    assert_eq!(compared.body["SimilarityThreshold"], 90.0);
    let read = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &id)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!(read.body["state"], "awaiting_liveness");
    assert_eq!(
        read.body["history"]
            .as_array()
            .and_then(|h| h.last())
            .map(|e| e["action"].clone()),
        Some(json!("face_mismatch"))
    );
    assert_eq!(stored(&h, &id).await.liveness_session, None, "the session is spent");
    let reused = confirm(&h, ZHANG_WEI, &id, SESSION).await;
    assert_eq!((reused.status, reused.problem()), (400, "liveness-session-invalid"));

    // A new session, the holder's own face: approved.
    rekognition.record("CreateFaceLivenessSession", 200, json!({ "SessionId": SESSION }));
    rekognition.record(
        "GetFaceLivenessSessionResults",
        200,
        succeeded(SESSION, 99.6, &reference_image()),
    );
    rekognition.record("CompareFaces", 200, matches(99.1));
    assert_eq!(start(&h, ZHANG_WEI, &id).await.status, 201);
    let approved = confirm(&h, ZHANG_WEI, &id, SESSION).await;
    assert_eq!(
        (approved.status, approved.body["state"].as_str()),
        (200, Some("approved")),
        "{approved:?}"
    );
}

async fn stored(h: &Harness, id: &str) -> shared::applications::application::Application {
    h.services.records.application(id).await.expect("read").expect("stored")
}
