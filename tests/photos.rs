//! New photos end to end (R4, R5, R15): presigned uploads to the emulator's S3 with a plain HTTP
//! client, the `ObjectCreated` event through the real handler, every automatic check with a real
//! image, the review queue and decisions, and the two-reviewer race.

use bytes::Bytes;
use edl_tests::images;
use edl_tests::{
    admin, aws_harness, claims, dynamo_harness, embedded_harness, holder, issued_to_zhang_wei, json_request, request,
    Answer, Harness, CHEN_JING, LI_NA, ZHANG_WEI,
};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use shared::applications::photo::ImageType;
use shared::applications::ports::{PhotoStore, PhotoStoreError, UploadGrant};
use shared::applications::review::RejectionReason;
use shared::issuance::edl::ElectronicLicence;
use shared::kernel::notice::Notice;
use shared::service::photos::PhotoOutcome;
use std::sync::Arc;

fn reviewer() -> Option<Value> {
    Some(claims("reviewer-0001", "reviewer", None))
}

fn reviewer_two() -> Option<Value> {
    Some(claims("reviewer-0002", "reviewer", None))
}

async fn open_new_photo(h: &Harness, holder_id: &str) -> String {
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(holder_id),
            &json!({ "photoSource": "camera" }),
        ))
        .await;
    assert_eq!(opened.status, 201, "{opened:?}");
    opened.body["id"].as_str().expect("id").to_string()
}

async fn ask_upload(h: &Harness, holder_id: &str, id: &str, content_type: &str) -> Answer {
    h.call(json_request(
        "POST /applications/{id}/photo-uploads",
        &[("id", id)],
        holder(holder_id),
        &json!({ "source": "camera", "contentType": content_type }),
    ))
    .await
}

async fn application(h: &Harness, holder_id: &str, id: &str) -> Value {
    h.call(request(
        "GET /applications/{id}",
        &[("id", id)],
        holder(holder_id),
        None,
        None,
    ))
    .await
    .body
}

/// The stored application's version, which every write increments (the holder's view does not show it).
async fn version(h: &Harness, id: &str) -> u64 {
    h.services
        .records
        .application(id)
        .await
        .expect("read")
        .expect("the application")
        .version
}

/// Uploads through the embedded store's link as the app would, then runs the checks.
async fn upload_embedded(h: &Harness, holder_id: &str, id: &str, declared: &str, bytes: &[u8]) -> PhotoOutcome {
    let offer = ask_upload(h, holder_id, id, declared).await;
    assert_eq!(offer.status, 201, "{offer:?}");
    let url = offer.body["upload"]["url"].as_str().expect("url");
    let token = url.rsplit('/').next().expect("token");
    let photos = h.embedded_photos.as_ref().expect("embedded photo store");
    let key = photos
        .accept_upload(token, Some(declared), bytes, h.services.now())
        .expect("the link accepts the upload");
    h.photo_checking().photo_arrived(&key).await.expect("checked")
}

fn failed_codes(outcome: &PhotoOutcome) -> Vec<String> {
    match outcome {
        PhotoOutcome::Refused { failures, .. } => failures.iter().map(|f| f.code.clone()).collect(),
        other => panic!("expected a refusal: {other:?}"),
    }
}

#[tokio::test]
async fn every_automatic_check_with_real_images() {
    let h = embedded_harness().await;
    let id = open_new_photo(&h, LI_NA).await;
    let today = h.services.now().date_naive();
    let cases: Vec<(&str, &str, Vec<u8>, &str)> = vec![
        (
            "blue background",
            "image/jpeg",
            images::coloured_background_jpeg(360, 480, [40, 90, 200]),
            "background",
        ),
        (
            "PNG declared as JPEG",
            "image/jpeg",
            images::id_photo_png(360, 480),
            "file-type",
        ),
        ("GIF", "image/png", images::gif_bytes(), "file-type"),
        (
            "truncated",
            "image/jpeg",
            images::truncated(&images::id_photo_jpeg(720, 960)),
            "decodes",
        ),
        (
            "decompression bomb",
            "image/png",
            images::png_claiming_dimensions(100_000, 100_000),
            "dimensions",
        ),
        (
            "landscape",
            "image/jpeg",
            images::id_photo_jpeg(1000, 400),
            "aspect-ratio",
        ),
        (
            "taken a year ago",
            "image/jpeg",
            images::with_exif_capture_date(
                &images::id_photo_jpeg(360, 480),
                (today - chrono::Days::new(400)).and_hms_opt(9, 0, 0).expect("time"),
            ),
            "capture-date",
        ),
        // Issue 15 item 6: hostile files the decoders alone would take.
        (
            "PNG with a wrong checksum",
            "image/png",
            images::png_with_bad_crc(&images::id_photo_png(360, 480)),
            "structure",
        ),
        (
            "JPEG carrying a web page",
            "image/jpeg",
            [
                images::id_photo_jpeg(360, 480),
                b"<html><script>alert(1)</script></html>".to_vec(),
            ]
            .concat(),
            "structure",
        ),
        (
            "PNG carrying a ZIP archive",
            "image/png",
            [
                images::id_photo_png(360, 480),
                b"PK\x03\x04\x14\x00payload.exePK\x05\x06".to_vec(),
            ]
            .concat(),
            "structure",
        ),
        (
            "dated 9999-12-31",
            "image/jpeg",
            images::with_exif_capture_text(&images::id_photo_jpeg(360, 480), "9999:12:31 23:59:59"),
            "capture-date",
        ),
        (
            "dated at second 60",
            "image/jpeg",
            images::with_exif_capture_text(&images::id_photo_jpeg(360, 480), "2026:06:30 23:59:60"),
            "capture-date",
        ),
    ];
    for (what, declared, bytes, code) in cases {
        let outcome = upload_embedded(&h, LI_NA, &id, declared, &bytes).await;
        let codes = failed_codes(&outcome);
        assert!(codes.contains(&code.to_string()), "{what}: {codes:?}");
        let app = application(&h, LI_NA, &id).await;
        assert_eq!(app["state"], "awaiting_photo", "{what}: the application stays open");
        assert!(app["lastRefusal"]["failures"][0]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()));
    }
    // A recent EXIF date and a white background pass, and the photo enters the queue.
    let good = images::with_exif_capture_date(
        &images::id_photo_jpeg(360, 480),
        (today - chrono::Days::new(30)).and_hms_opt(9, 0, 0).expect("time"),
    );
    let outcome = upload_embedded(&h, LI_NA, &id, "image/jpeg", &good).await;
    assert!(matches!(outcome, PhotoOutcome::Queued { .. }), "{outcome:?}");
    let app = application(&h, LI_NA, &id).await;
    assert_eq!(app["state"], "awaiting_review");
    assert!(
        app.get("lastRefusal").is_none(),
        "a passing upload clears the last refusal"
    );
    // The same object's event again changes nothing.
    let upload = app["photo"]["uploadId"].as_str().expect("upload id");
    let written = version(&h, &id).await;
    let again = h
        .photo_checking()
        .photo_arrived(&format!("photos/{id}/{upload}"))
        .await
        .expect("again");
    assert!(matches!(again, PhotoOutcome::Ignored { .. }), "{again:?}");
    assert_eq!(version(&h, &id).await, written);
    // Issue 15 item 5: the holder's view shows none of the record's internals.
    for internal in [
        "version",
        "holderId",
        "deviceKey",
        "portraitKey",
        "portraitSha256",
        "openedBy",
    ] {
        assert!(app.get(internal).is_none(), "{internal} in {app}");
    }
    for internal in ["key", "sha256", "uploadSha256"] {
        assert!(app["photo"].get(internal).is_none(), "photo.{internal} in {app}");
    }
}

#[tokio::test]
async fn the_same_photo_from_another_holder_is_refused() {
    let h = embedded_harness().await;
    let photo = images::id_photo_jpeg_variant(360, 480, 7);
    let first = open_new_photo(&h, LI_NA).await;
    assert!(matches!(
        upload_embedded(&h, LI_NA, &first, "image/jpeg", &photo).await,
        PhotoOutcome::Queued { .. }
    ));
    let second = open_new_photo(&h, ZHANG_WEI).await;
    let outcome = upload_embedded(&h, ZHANG_WEI, &second, "image/jpeg", &photo).await;
    assert_eq!(failed_codes(&outcome), vec!["duplicate"]);
    // Another photo of their own goes through.
    let own = images::id_photo_jpeg_variant(360, 480, 8);
    assert!(matches!(
        upload_embedded(&h, ZHANG_WEI, &second, "image/jpeg", &own).await,
        PhotoOutcome::Queued { .. }
    ));
}

/// A multipart/form-data body: the policy's fields, then the file.
fn multipart(fields: &serde_json::Map<String, Value>, file: &[u8], file_type: &str) -> (String, Vec<u8>) {
    let boundary = format!("edl{}", uuid::Uuid::new_v4().simple());
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                value.as_str().unwrap_or("")
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo\"\r\nContent-Type: {file_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(file);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

/// Sends the form to S3 with a plain HTTP client; the status and body S3 answered.
async fn post_form(url: &str, fields: &serde_json::Map<String, Value>, file: &[u8], file_type: &str) -> (u16, String) {
    let (content_type, body) = multipart(fields, file, file_type);
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::post(url)
        .header("content-type", content_type)
        .body(Full::new(Bytes::from(body)))
        .expect("request");
    let response = client.request(request).await.expect("S3 answers");
    let status = response.status().as_u16();
    let text = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, String::from_utf8_lossy(&text).into_owned())
}

async fn get_bytes(url: &str) -> (u16, Vec<u8>) {
    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = http::Request::get(url).body(Full::new(Bytes::new())).expect("request");
    let response = client.request(request).await.expect("S3 answers");
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (status, bytes.to_vec())
}

/// The S3 `ObjectCreated` event for `key`, from the sample event file, through the real handler.
async fn object_created(h: &Harness, bucket: &str, key: &str) -> Vec<PhotoOutcome> {
    let path = format!(
        "{}/../events/photo-check-object-created.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut event: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("event")).expect("json");
    event["Records"][0]["s3"]["object"]["key"] = json!(key);
    event["Records"][0]["s3"]["bucket"]["name"] = json!(bucket);
    let event = serde_json::from_value(event).expect("S3 event");
    edl_photo_check::handle(&h.photo_checking(), event)
        .await
        .expect("handled")
}

#[tokio::test]
async fn presigned_upload_to_s3_checked_reviewed_and_kept() {
    let h = aws_harness().await;
    let id = open_new_photo(&h, LI_NA).await;
    let offer = ask_upload(&h, LI_NA, &id, "image/jpeg").await;
    assert_eq!(offer.status, 201, "{offer:?}");
    let form = &offer.body["upload"];
    assert_eq!(form["method"], "POST");
    let url = form["url"].as_str().expect("url").to_string();
    let fields = form["fields"].as_object().expect("fields").clone();
    let key = offer.body["key"].as_str().expect("key").to_string();
    assert!(key.starts_with(&format!("photos/{id}/")));
    let photo = images::id_photo_jpeg(360, 480);

    // Refused by S3 itself: too large, another content type, a tampered
    // signature, another key. Nothing is stored.
    let too_large = vec![0xFFu8; h.services.photo_rules.max_bytes + 1];
    let (status, _) = post_form(&url, &fields, &too_large, "image/jpeg").await;
    assert!((400..500).contains(&status), "too large: {status}");
    let mut png = fields.clone();
    png.insert("Content-Type".into(), json!("image/png"));
    let (status, _) = post_form(&url, &png, &images::id_photo_png(360, 480), "image/png").await;
    assert!((400..500).contains(&status), "other content type: {status}");
    let mut tampered = fields.clone();
    let signature = tampered["X-Amz-Signature"].as_str().expect("signature").to_string();
    let flipped = if signature.starts_with('0') { "1" } else { "0" };
    tampered.insert("X-Amz-Signature".into(), json!(format!("{flipped}{}", &signature[1..])));
    let (status, _) = post_form(&url, &tampered, &photo, "image/jpeg").await;
    assert!((400..500).contains(&status), "tampered signature: {status}");
    let mut elsewhere = fields.clone();
    elsewhere.insert("key".into(), json!(format!("photos/{id}/other")));
    let (status, _) = post_form(&url, &elsewhere, &photo, "image/jpeg").await;
    assert!((400..500).contains(&status), "another key: {status}");
    let store = &h.ports.photos;
    assert!(matches!(
        store.read(&key, 10_000_000).await,
        Err(PhotoStoreError::NotFound(_))
    ));

    // The genuine upload lands; the ObjectCreated event runs the checks.
    let (status, answer) = post_form(&url, &fields, &photo, "image/jpeg").await;
    assert!((200..300).contains(&status), "upload: {status} {answer}");
    assert_eq!(store.read(&key, 10_000_000).await.expect("stored"), photo);
    let bucket = url.rsplit('/').next().expect("bucket").to_string();
    let outcomes = object_created(&h, &bucket, &key).await;
    assert!(
        matches!(outcomes.as_slice(), [PhotoOutcome::Queued { .. }]),
        "{outcomes:?}"
    );
    // The event delivered twice changes nothing.
    let repeated = object_created(&h, &bucket, &key).await;
    assert!(
        matches!(repeated.as_slice(), [PhotoOutcome::Ignored { .. }]),
        "{repeated:?}"
    );

    // The reviewer finds it, sees the photo through a short-lived link, approves.
    let queue = h.call(request("GET /reviews", &[], reviewer(), None, None)).await;
    assert_eq!(queue.status, 200, "{queue:?}");
    assert_eq!(queue.body["items"][0]["id"], json!(id));
    let item = h
        .call(request("GET /reviews/{id}", &[("id", &id)], reviewer(), None, None))
        .await;
    assert_eq!(item.status, 200, "{item:?}");
    assert_eq!(item.body["holder"]["name"], "李娜");
    // The link opens the clean copy the checks made, not the upload.
    let clean = clean_copy_of(&h, &photo);
    let (status, shown) = get_bytes(item.body["photoUrl"].as_str().expect("link")).await;
    assert_eq!((status, shown == clean.jpeg), (200, true));
    let approved = h
        .call(json_request(
            "POST /reviews/{id}/decision",
            &[("id", &id)],
            reviewer(),
            &json!({ "verdict": "approve" }),
        ))
        .await;
    assert_eq!(approved.status, 200, "{approved:?}");
    assert_eq!(approved.body["state"], "approved");
    let stored = h
        .services
        .records
        .application(&id)
        .await
        .expect("read")
        .expect("stored");
    let portrait = stored.portrait_key.clone().expect("portrait");
    assert!(portrait.starts_with(&format!("portraits/{LI_NA}/")));
    // Kept as the portrait the licence will carry: the clean copy's pixels, re-encoded, bound by digest.
    let expected = shared::applications::portrait::normalise(&clean.jpeg, &h.services.photo_rules).expect("normalised");
    assert_eq!(
        store.read(&portrait, 10_000_000).await.expect("portrait kept"),
        expected.jpeg
    );
    assert_eq!(stored.portrait_sha256, Some(expected.sha256.clone()));
    assert!(approved.body.get("portraitKey").is_none(), "{approved:?}");
    assert_eq!(
        store.read(&key, 10_000_000).await.expect("the upload stays as sent"),
        photo
    );
    let empty = h.call(request("GET /reviews", &[], reviewer(), None, None)).await;
    assert_eq!(empty.body["items"], json!([]));
}

/// The clean copy the automatic checks make of `bytes` (issue 15 item 6).
fn clean_copy_of(h: &Harness, bytes: &[u8]) -> shared::applications::portrait::CleanCopy {
    shared::applications::photo::check_and_clean(bytes, ImageType::Jpeg, h.services.today(), &h.services.photo_rules)
        .expect("passes the checks")
        .clean
}

/// Issue 15 item 6, "the photo swap after the checks refused": the form stays usable for its five minutes,
/// and S3 (ministack enforcing the real POST policy) takes a second file with it. The second event is
/// ignored, since the application no longer waits for that upload, and the reviewer's link, the approval's
/// portrait and the signed licence are all made of the clean copy of the first file.
async fn a_second_upload_with_the_same_form_changes_nothing(mut h: Harness, send: impl AsyncSend) {
    let signer = shared::crypto::LocalSigner::new();
    signer.generate("iaca");
    signer.generate("ds");
    h.ports.signer = Arc::new(signer);
    let authority = shared::service::keys::Authority::default();
    h.signing().install_iaca(&authority, "iaca").await.expect("IACA");
    h.signing().add_document_signer(&authority, "ds").await.expect("DS");
    let h = &h;
    let id = open_new_photo(h, LI_NA).await;
    let offer = ask_upload(h, LI_NA, &id, "image/jpeg").await;
    assert_eq!(offer.status, 201, "{offer:?}");
    let key = offer.body["key"].as_str().expect("key").to_string();
    let first = images::id_photo_jpeg_variant(360, 480, 41);
    let second = images::id_photo_jpeg_variant(360, 480, 42);
    send.send(h, &offer.body, &first)
        .await
        .expect("the first upload is stored");
    let checked = h.photo_checking().photo_arrived(&key).await.expect("checked");
    assert!(matches!(checked, PhotoOutcome::Queued { .. }), "{checked:?}");

    // The same form again, within its five minutes: the store takes the file...
    send.send(h, &offer.body, &second)
        .await
        .expect("the store accepts the form again");
    let store = &h.ports.photos;
    assert_eq!(store.read(&key, 10_000_000).await.expect("replaced"), second);
    // ...but its event is refused, and nothing about the application changes.
    let before = application(h, LI_NA, &id).await;
    let again = h.photo_checking().photo_arrived(&key).await.expect("handled");
    assert!(
        matches!(&again, PhotoOutcome::Ignored { reason, .. } if reason.contains("not waiting")),
        "{again:?}"
    );
    assert_eq!(application(h, LI_NA, &id).await, before);

    // The reviewer sees the first photo's clean copy.
    let clean = clean_copy_of(h, &first);
    assert_ne!(clean.jpeg, clean_copy_of(h, &second).jpeg);
    let item = h
        .call(request("GET /reviews/{id}", &[("id", &id)], reviewer(), None, None))
        .await;
    assert_eq!(item.status, 200, "{item:?}");
    let link = item.body["photoUrl"].as_str().expect("link");
    assert_eq!(send.view(h, link).await, clean.jpeg);

    // Approved: the portrait is made of the first photo's clean copy, and so is the signed licence.
    let approved = decide(h, &id, reviewer(), json!({ "verdict": "approve" })).await;
    assert_eq!(approved.status, 200, "{approved:?}");
    let expected = shared::applications::portrait::normalise(&clean.jpeg, &h.services.photo_rules).expect("portrait");
    let shared::service::issuance::IssueOutcome::Issued { serial } = h.issuing().issue(&id).await.expect("issued")
    else {
        panic!("issued once")
    };
    let signed = licence(h, &serial).await;
    let document = base64::engine::Engine::decode(&base64::engine::general_purpose::STANDARD, &signed.issuer_signed)
        .expect("base64");
    assert_eq!(
        shared::credential::mdoc::portrait_of(&document).expect("a portrait"),
        expected.jpeg
    );
}

/// How a test sends a file with an upload offer, and opens a view link, on one photo store.
trait AsyncSend {
    async fn send(&self, h: &Harness, offer: &Value, file: &[u8]) -> Result<(), String>;
    async fn view(&self, h: &Harness, link: &str) -> Vec<u8>;
}

/// The presigned POST form to ministack's S3, with a plain HTTP client.
struct ToS3;

impl AsyncSend for ToS3 {
    async fn send(&self, _: &Harness, offer: &Value, file: &[u8]) -> Result<(), String> {
        let url = offer["upload"]["url"].as_str().expect("url");
        let fields = offer["upload"]["fields"].as_object().expect("fields");
        let (status, answer) = post_form(url, fields, file, "image/jpeg").await;
        (200..300)
            .contains(&status)
            .then_some(())
            .ok_or(format!("{status} {answer}"))
    }

    async fn view(&self, _: &Harness, link: &str) -> Vec<u8> {
        let (status, bytes) = get_bytes(link).await;
        assert_eq!(status, 200, "the view link works");
        bytes
    }
}

/// The embedded store's signed PUT link, as the local server takes it.
struct ToEmbedded;

impl AsyncSend for ToEmbedded {
    async fn send(&self, h: &Harness, offer: &Value, file: &[u8]) -> Result<(), String> {
        let url = offer["upload"]["url"].as_str().expect("url");
        let token = url.rsplit('/').next().expect("token");
        let photos = h.embedded_photos.as_ref().expect("embedded photo store");
        photos
            .accept_upload(token, Some("image/jpeg"), file, h.services.now())
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    async fn view(&self, h: &Harness, link: &str) -> Vec<u8> {
        let token = link.rsplit('/').next().expect("token");
        let photos = h.embedded_photos.as_ref().expect("embedded photo store");
        photos.view(token, h.services.now()).expect("the view link works").1
    }
}

#[tokio::test]
async fn a_second_upload_with_the_same_form_changes_nothing_on_s3() {
    a_second_upload_with_the_same_form_changes_nothing(aws_harness().await, ToS3).await;
}

#[tokio::test]
async fn a_second_upload_with_the_same_form_changes_nothing_on_embedded() {
    a_second_upload_with_the_same_form_changes_nothing(embedded_harness().await, ToEmbedded).await;
}

/// A clean copy is written once: its key names its digest, so a second write under it (a retried event) leaves
/// the first bytes in place, on S3 (a conditional `If-None-Match` write) as in the embedded store.
#[tokio::test]
async fn a_clean_copy_is_written_once() {
    let s3: Arc<dyn PhotoStore> = Arc::new(edl_tests::s3_photos().await);
    let embedded = embedded_harness().await.ports.photos;
    for store in [s3, embedded] {
        let key = format!("checked/app-{}/copy.jpg", uuid::Uuid::new_v4().simple());
        let (first, second) = (
            images::id_photo_jpeg(360, 480),
            images::id_photo_jpeg_variant(360, 480, 5),
        );
        store.put_checked(&key, &first).await.expect("written");
        store
            .put_checked(&key, &second)
            .await
            .expect("an existing copy is not an error");
        assert_eq!(store.read(&key, 10_000_000).await.expect("kept"), first);
    }
}

#[tokio::test]
async fn an_expired_form_is_refused_by_s3() {
    let photos = edl_tests::s3_photos().await;
    let signed_at = chrono::Utc::now() - chrono::Duration::minutes(20);
    let grant = UploadGrant {
        key: "photos/app-x/upload-x".into(),
        content_type: ImageType::Jpeg,
        min_bytes: 1,
        max_bytes: 5_000_000,
        expires_at: signed_at + chrono::Duration::minutes(5),
    };
    let form = photos.upload_form_at(&grant, signed_at).await.expect("form");
    let fields: serde_json::Map<String, Value> = form.fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let (status, _) = post_form(&form.url, &fields, &images::id_photo_jpeg(360, 480), "image/jpeg").await;
    assert!((400..500).contains(&status), "expired: {status}");
    assert!(matches!(
        photos.read(&grant.key, 10_000_000).await,
        Err(PhotoStoreError::NotFound(_))
    ));
    // The same form signed now works: the refusal was the expiry.
    let fresh = UploadGrant {
        expires_at: chrono::Utc::now() + chrono::Duration::minutes(5),
        ..grant.clone()
    };
    let form = photos.upload_form(&fresh).await.expect("form");
    let fields: serde_json::Map<String, Value> = form.fields.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    let (status, answer) = post_form(&form.url, &fields, &images::id_photo_jpeg(360, 480), "image/jpeg").await;
    assert!((200..300).contains(&status), "fresh: {status} {answer}");
}

async fn queued(h: &Harness, holder_id: &str, seed: u32) -> String {
    let id = open_new_photo(h, holder_id).await;
    let outcome = upload_embedded(
        h,
        holder_id,
        &id,
        "image/jpeg",
        &images::id_photo_jpeg_variant(360, 480, seed),
    )
    .await;
    assert!(matches!(outcome, PhotoOutcome::Queued { .. }), "{outcome:?}");
    id
}

async fn two_reviewers_race(h: Harness) {
    let id = queued(&h, LI_NA, 1).await;
    let approve = json_request(
        "POST /reviews/{id}/decision",
        &[("id", &id)],
        reviewer(),
        &json!({ "verdict": "approve" }),
    );
    let reject = json_request(
        "POST /reviews/{id}/decision",
        &[("id", &id)],
        reviewer_two(),
        &json!({ "verdict": "reject", "reasons": ["eyes-closed"], "note": "闭眼" }),
    );
    let (a, b) = tokio::join!(h.call(approve), h.call(reject));
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let loser = if a.status == 409 { &a } else { &b };
    assert!(
        matches!(loser.problem(), "conflict" | "illegal-transition"),
        "{loser:?}"
    );
    let app = application(&h, LI_NA, &id).await;
    let decisions: Vec<_> = app["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| matches!(e["action"].as_str(), Some("approved" | "rejected")))
        .collect();
    assert_eq!(decisions.len(), 1, "exactly one decision stands: {app}");
}

#[tokio::test]
async fn two_reviewers_race_on_embedded() {
    two_reviewers_race(embedded_harness().await).await;
}

#[tokio::test]
async fn two_reviewers_race_on_dynamodb() {
    two_reviewers_race(dynamo_harness().await).await;
}

async fn queue_pages_overdue_and_decisions(h: Harness) {
    // Three photos arriving on Wednesday, Thursday and Friday (2026-11-25..27).
    let first = queued(&h, LI_NA, 1).await;
    h.clock.set("2026-11-26T09:00:00+08:00");
    let second = queued(&h, ZHANG_WEI, 2).await;
    h.clock.set("2026-11-27T09:00:00+08:00");
    let third = queued(&h, CHEN_JING, 3).await;
    let page = h.call(queue_request("limit=2")).await;
    assert_eq!(page.status, 200, "{page:?}");
    let ids: Vec<_> = page.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(first), json!(second)], "oldest first");
    assert_eq!(page.body["items"][0]["overdue"], true, "due Thursday 10:00, now Friday");
    assert_eq!(page.body["items"][0]["dueAt"], "2026-11-26T02:00:00Z");
    let cursor = page.body["next"].as_str().expect("a next page").to_string();
    let rest = h.call(queue_request(&format!("limit=2&cursor={cursor}"))).await;
    let ids: Vec<_> = rest.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    assert_eq!(ids, vec![json!(third)]);
    // Friday 08:30: only the first (due Thursday 10:00) is past its due time;
    // at 10:30 the second (due Friday 09:00) is too.
    h.clock.set("2026-11-27T08:30:00+08:00");
    let overdue = h.call(queue_request("overdue=true")).await;
    assert_eq!(overdue.body["items"].as_array().map(Vec::len), Some(1), "{overdue:?}");
    h.clock.set("2026-11-27T10:30:00+08:00");
    let overdue = h.call(queue_request("overdue=true")).await;
    assert_eq!(overdue.body["items"].as_array().map(Vec::len), Some(2), "{overdue:?}");
    h.clock.set("2026-12-01T10:30:00+08:00");
    let overdue = h.call(queue_request("overdue=true")).await;
    assert_eq!(overdue.body["items"].as_array().map(Vec::len), Some(3), "{overdue:?}");

    // Reject with reasons: the holder sees why and may submit again.
    let rejected = h
        .call(json_request(
            "POST /reviews/{id}/decision",
            &[("id", &first)],
            reviewer(),
            &json!({ "verdict": "reject", "reasons": ["background-not-white", "head-covered"], "note": "请摘帽" }),
        ))
        .await;
    assert_eq!(rejected.body["state"], "rejected", "{rejected:?}");
    assert_eq!(
        rejected.body["lastReview"]["reasons"],
        json!(["background-not-white", "head-covered"])
    );
    assert_eq!(rejected.body["lastReview"]["by"]["id"], "reviewer-0001");
    // The holder's app is told why, in the reasons' stable codes (the reviewer's note stays with staff).
    let told: Vec<_> = h
        .notices
        .list()
        .into_iter()
        .filter_map(|(_, notice)| match notice {
            Notice::PhotoRejected {
                application_id,
                reasons,
                ..
            } if application_id == first => Some(reasons),
            _ => None,
        })
        .collect();
    assert_eq!(
        told,
        [vec![RejectionReason::BackgroundNotWhite, RejectionReason::HeadCovered]],
        "one rejection notice with its reasons"
    );
    let resubmitted = upload_embedded(
        &h,
        LI_NA,
        &first,
        "image/jpeg",
        &images::id_photo_jpeg_variant(360, 480, 11),
    )
    .await;
    assert!(matches!(resubmitted, PhotoOutcome::Queued { .. }));
    let item = h
        .call(request("GET /reviews/{id}", &[("id", &first)], reviewer(), None, None))
        .await;
    assert_eq!(item.body["resubmission"], true);
    assert!(
        item.body["previousPhotoUrl"].as_str().is_some(),
        "the previous photo is shown: {item:?}"
    );

    // Malicious (R15): reported by one reviewer, confirmed by a second; the application ends, the reason is kept.
    let reported = h
        .call(json_request(
            "POST /reviews/{id}/decision",
            &[("id", &second)],
            reviewer(),
            &json!({ "verdict": "malicious", "note": "上传内容违法" }),
        ))
        .await;
    assert_eq!(reported.body["state"], "awaiting_review", "{reported:?}");
    let stopped = h
        .call(json_request(
            "POST /reviews/{id}/decision",
            &[("id", &second)],
            reviewer_two(),
            &json!({ "verdict": "malicious", "note": "确认：上传内容违法" }),
        ))
        .await;
    assert_eq!(stopped.body["state"], "stopped", "{stopped:?}");
    let last = stopped.body["history"]
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .expect("history");
    assert_eq!(last["action"], "stopped_malicious");
    assert!(last["detail"].as_str().is_some_and(|d| d.contains("上传内容违法")));
}

fn queue_request(query: &str) -> lambda_http::Request {
    let mut event: Value = serde_json::from_str(
        &std::fs::read_to_string(format!(
            "{}/../events/review-list-queue.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .expect("event"),
    )
    .expect("json");
    event["rawQueryString"] = json!(query);
    lambda_http::request::from_str(&event.to_string()).expect("request")
}

#[tokio::test]
async fn queue_pages_overdue_and_decisions_on_embedded() {
    queue_pages_overdue_and_decisions(embedded_harness().await).await;
}

#[tokio::test]
async fn queue_pages_overdue_and_decisions_on_dynamodb() {
    queue_pages_overdue_and_decisions(dynamo_harness().await).await;
}

async fn bad_photo_and_review_input(h: Harness) {
    let id = open_new_photo(&h, LI_NA).await;
    // Someone else's application: 404, as if it did not exist.
    let theirs = ask_upload(&h, ZHANG_WEI, &id, "image/jpeg").await;
    assert_eq!((theirs.status, theirs.problem()), (404, "not-found"));
    // Not an image type, and not a new-photo source.
    let gif = ask_upload(&h, LI_NA, &id, "image/gif").await;
    assert_eq!((gif.status, gif.problem()), (400, "invalid-request"));
    let on_file = h
        .call(json_request(
            "POST /applications/{id}/photo-uploads",
            &[("id", &id)],
            holder(LI_NA),
            &json!({ "source": "on_file", "contentType": "image/jpeg" }),
        ))
        .await;
    assert_eq!((on_file.status, on_file.problem()), (400, "invalid-request"));
    let big = format!(
        "{{\"source\":\"camera\",\"contentType\":\"image/jpeg\",\"x\":\"{}\"}}",
        "a".repeat(20_000)
    );
    let oversized = h
        .call(request(
            "POST /applications/{id}/photo-uploads",
            &[("id", &id)],
            holder(LI_NA),
            Some("application/json"),
            Some(&big),
        ))
        .await;
    assert_eq!((oversized.status, oversized.problem()), (413, "payload-too-large"));
    let before = version(&h, &id).await;
    // A closed application takes no upload.
    h.call(request(
        "DELETE /applications/{id}",
        &[("id", &id)],
        holder(LI_NA),
        None,
        None,
    ))
    .await;
    let closed = ask_upload(&h, LI_NA, &id, "image/jpeg").await;
    assert_eq!((closed.status, closed.problem()), (409, "illegal-transition"));
    assert_eq!(version(&h, &id).await, before + 1, "only the withdrawal wrote");

    let id = queued(&h, ZHANG_WEI, 4).await;
    let decide = |who: Option<Value>, body: Value| {
        json_request("POST /reviews/{id}/decision", &[("id", id.as_str())], who, &body)
    };
    let before = version(&h, &id).await;
    for (who, body, status, slug) in [
        (holder(ZHANG_WEI), json!({ "verdict": "approve" }), 403, "forbidden"),
        (
            Some(claims("clerk-1", "clerk", Some("110000"))),
            json!({ "verdict": "approve" }),
            403,
            "forbidden",
        ),
        (
            reviewer(),
            json!({ "verdict": "reject", "reasons": ["too-pretty"] }),
            400,
            "invalid-request",
        ),
        (reviewer(), json!({ "verdict": "reject" }), 400, "invalid-request"),
        (
            reviewer(),
            json!({ "verdict": "approve", "reasons": ["uniform"] }),
            400,
            "invalid-request",
        ),
        (reviewer(), json!({ "verdict": "malicious" }), 400, "invalid-request"),
        (reviewer(), json!({ "verdict": "maybe" }), 400, "invalid-request"),
    ] {
        let answer = h.call(decide(who, body.clone())).await;
        assert_eq!((answer.status, answer.problem()), (status, slug), "{body}");
    }
    assert_eq!(version(&h, &id).await, before, "nothing changed");
    let unknown = h
        .call(json_request(
            "POST /reviews/{id}/decision",
            &[("id", "01a210d5-0000-7000-8000-000000000000")],
            reviewer(),
            &json!({ "verdict": "approve" }),
        ))
        .await;
    assert_eq!((unknown.status, unknown.problem()), (404, "not-found"));
    let first = h.call(decide(reviewer(), json!({ "verdict": "approve" }))).await;
    assert_eq!(first.status, 200, "{first:?}");
    let again = h
        .call(decide(
            reviewer(),
            json!({ "verdict": "reject", "reasons": ["uniform"] }),
        ))
        .await;
    assert_eq!((again.status, again.problem()), (409, "illegal-transition"));
    let listing = h.call(queue_request("limit=0")).await;
    assert_eq!((listing.status, listing.problem()), (400, "invalid-request"));
    let cursor = h.call(queue_request("cursor=bm90LWEtY3Vyc29y")).await;
    assert_eq!((cursor.status, cursor.problem()), (400, "invalid-request"));
    let unknown_parameter = h.call(queue_request("sort=newest")).await;
    assert_eq!(
        (unknown_parameter.status, unknown_parameter.problem()),
        (400, "invalid-request")
    );
    let not_reviewer = h
        .call(request("GET /reviews", &[], holder(ZHANG_WEI), None, None))
        .await;
    assert_eq!((not_reviewer.status, not_reviewer.problem()), (403, "forbidden"));
    // The administrator reads the backlog, but opens and decides nothing.
    let backlog = h.call(request("GET /reviews", &[], admin(), None, None)).await;
    assert_eq!(backlog.status, 200, "{backlog:?}");
    let item = h
        .call(request(
            "GET /reviews/{id}",
            &[("id", "01a210d5-0000-7000-8000-000000000000")],
            admin(),
            None,
            None,
        ))
        .await;
    assert_eq!((item.status, item.problem()), (403, "forbidden"));
}

#[tokio::test]
async fn bad_photo_and_review_input_on_embedded() {
    bad_photo_and_review_input(embedded_harness().await).await;
}

#[tokio::test]
async fn bad_photo_and_review_input_on_dynamodb() {
    bad_photo_and_review_input(dynamo_harness().await).await;
}

async fn decide(h: &Harness, id: &str, who: Option<Value>, body: Value) -> Answer {
    h.call(json_request("POST /reviews/{id}/decision", &[("id", id)], who, &body))
        .await
}

async fn licence(h: &Harness, serial: &str) -> ElectronicLicence {
    h.services
        .records
        .electronic_licence(serial)
        .await
        .expect("read")
        .expect("the licence")
}

/// R15: a reviewer never decides their own application (nothing is written), one malicious verdict stops
/// nothing, its reporter cannot confirm it, and a second reviewer's confirmation stops the licence.
async fn four_eyes_on_a_malicious_verdict(mut h: Harness) {
    let serial = issued_to_zhang_wei(&mut h, &json!({ "photoSource": "on_file" })).await;
    let id = queued(&h, ZHANG_WEI, 21).await;
    let before = application(&h, ZHANG_WEI, &id).await;

    // 张伟 also works as a reviewer: his own application is not his to decide, whatever the verdict.
    let himself = Some(claims(ZHANG_WEI, "holder reviewer", None));
    for body in [
        json!({ "verdict": "malicious", "note": "x" }),
        json!({ "verdict": "approve" }),
    ] {
        let own = decide(&h, &id, himself.clone(), body).await;
        assert_eq!((own.status, own.problem()), (403, "own-application"), "{own:?}");
    }
    assert_eq!(application(&h, ZHANG_WEI, &id).await, before, "nothing written");

    // One malicious verdict: recorded, the application waits in the queue, marked, and the licence is live.
    let reported = decide(
        &h,
        &id,
        reviewer(),
        json!({ "verdict": "malicious", "note": "违法内容" }),
    )
    .await;
    assert_eq!(reported.status, 200, "{reported:?}");
    assert_eq!(reported.body["state"], "awaiting_review");
    assert!(
        licence(&h, &serial).await.is_active(),
        "one verdict alone stops no licence"
    );
    let item = h
        .call(request("GET /reviews/{id}", &[("id", &id)], reviewer_two(), None, None))
        .await;
    assert_eq!(item.body["awaitingConfirmation"], true, "{item:?}");
    assert_eq!(item.body["maliciousReport"]["by"]["id"], "reviewer-0001");
    let queue = h.call(request("GET /reviews", &[], reviewer(), None, None)).await;
    let listed = queue.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["id"] == id.as_str())
        .cloned()
        .expect("still in the queue");
    assert_eq!(listed["awaitingConfirmation"], true);

    // The reporter cannot confirm (nor take it back); the holder cannot withdraw out of the verdict.
    let after_report = application(&h, ZHANG_WEI, &id).await;
    for body in [
        json!({ "verdict": "malicious", "note": "再次确认" }),
        json!({ "verdict": "approve" }),
    ] {
        let again = decide(&h, &id, reviewer(), body).await;
        assert_eq!(
            (again.status, again.problem()),
            (403, "second-reviewer-required"),
            "{again:?}"
        );
    }
    let withdrawn = h
        .call(request(
            "DELETE /applications/{id}",
            &[("id", &id)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!(withdrawn.status, 409, "{withdrawn:?}");
    assert_eq!(application(&h, ZHANG_WEI, &id).await, after_report, "nothing written");
    assert!(licence(&h, &serial).await.is_active());

    // A second reviewer confirms: the application ends and the licence is stopped; both verdicts are on record.
    let confirmed = decide(
        &h,
        &id,
        reviewer_two(),
        json!({ "verdict": "malicious", "note": "确认" }),
    )
    .await;
    assert_eq!(confirmed.body["state"], "stopped", "{confirmed:?}");
    assert!(
        !licence(&h, &serial).await.is_active(),
        "confirmed: the licence is stopped"
    );
    let verdicts: Vec<(String, String)> = confirmed.body["history"]
        .as_array()
        .expect("history")
        .iter()
        .filter(|e| matches!(e["action"].as_str(), Some("malicious_reported" | "stopped_malicious")))
        .map(|e| {
            (
                e["action"].as_str().unwrap_or_default().to_string(),
                e["by"]["id"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect();
    assert_eq!(
        verdicts,
        [
            ("malicious_reported".to_string(), "reviewer-0001".to_string()),
            ("stopped_malicious".to_string(), "reviewer-0002".to_string())
        ]
    );
}

/// A second reviewer who disagrees resolves the report with their own decision; nothing is stopped.
async fn a_second_reviewer_overrules_a_malicious_report(h: Harness) {
    let id = queued(&h, LI_NA, 22).await;
    let reported = decide(&h, &id, reviewer(), json!({ "verdict": "malicious", "note": "可疑" })).await;
    assert_eq!(reported.body["state"], "awaiting_review", "{reported:?}");
    let rejected = decide(
        &h,
        &id,
        reviewer_two(),
        json!({ "verdict": "reject", "reasons": ["eyes-closed"] }),
    )
    .await;
    assert_eq!(rejected.body["state"], "rejected", "{rejected:?}");
    assert!(rejected.body.get("maliciousReport").is_none(), "the report is resolved");
    let last = rejected.body["history"]
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .expect("history");
    assert_eq!(last["action"], "rejected");
    assert!(last["detail"]
        .as_str()
        .is_some_and(|d| d.starts_with("malicious report not confirmed")));
}

edl_tests::on_both_adapters!(|records| edl_tests::harness(Arc::new(records), 5).await;
    four_eyes_on_a_malicious_verdict,
    a_second_reviewer_overrules_a_malicious_report,
);
