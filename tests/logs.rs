//! Issue 15 item 5: no personal data in logs. The whole flow runs (apply with the photo on file and with an
//! upload, the checks, review, issue, show, verify, the holder's checks, an administrator's change, refusals and
//! a stored record that no longer decodes) under a JSON subscriber at the deployed level that captures every
//! log line, and none of them carries an identity number or a name used.

use edl_tests::{
    admin, claims, dynamodb_client, embedded_harness, harness_with, holder, issued_to_zhang_wei, json_request, officer,
    request, s3_photos, Harness, TestClock, LI_NA, NOW, WANG_FANG, ZHANG_WEI,
};
use serde_json::{json, Value};
use shared::adapters::dynamodb::DynamoRecords;
use shared::dev::DevKeys;
use shared::service::photos::PhotoOutcome;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

/// Every log line written, as the Lambda functions write them (JSON, with the current span).
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut all) = self.0.lock() {
            all.extend_from_slice(bytes);
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The one subscriber of this test binary: JSON at `info`, the level the deployed functions log at.
fn captured() -> &'static Captured {
    static CAPTURED: OnceLock<Captured> = OnceLock::new();
    CAPTURED.get_or_init(|| {
        let captured = Captured::default();
        let writer = captured.clone();
        tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .with_writer(move || writer.clone())
            .init();
        captured
    })
}

fn lines() -> Vec<String> {
    let all = captured().0.lock().map(|all| all.clone()).unwrap_or_default();
    String::from_utf8_lossy(&all).lines().map(str::to_string).collect()
}

async fn approve(h: &Harness, id: &str) {
    let approved = h
        .call(json_request(
            "POST /reviews/{id}/decision",
            &[("id", id)],
            Some(claims("reviewer-0001", "reviewer", None)),
            &json!({ "verdict": "approve" }),
        ))
        .await;
    assert_eq!(approved.status, 200, "{approved:?}");
}

/// 李娜 applies with a new photo through the embedded store's or S3's form; the photo is checked and
/// approved; her licence is issued. The application's id.
async fn li_na_with_an_upload(h: &Harness) -> String {
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
    assert_eq!(offer.status, 201, "{offer:?}");
    let key = offer.body["key"].as_str().expect("key");
    let photo = edl_tests::images::id_photo_jpeg_variant(360, 480, 77);
    // The app's upload itself is S3's (or the local server's) business; the object lands under the key.
    let store = &h.ports.photos;
    store.put_portrait(key, &photo).await.expect("uploaded");
    let outcome = h.photo_checking().photo_arrived(key).await.expect("checked");
    assert!(matches!(outcome, PhotoOutcome::Queued { .. }), "{outcome:?}");
    approve(h, &id).await;
    h.issuing().issue(&id).await.expect("issued");
    id
}

/// The whole flow; the identity numbers and names it used.
async fn whole_flow(mut h: Harness) -> Vec<String> {
    let serial = issued_to_zhang_wei(&mut h, &json!({ "photoSource": "on_file" })).await;
    let li_na_application = li_na_with_an_upload(&h).await;

    // Each reader's view of an application: the holder's has none of the record's internals.
    let view = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &li_na_application)],
            holder(LI_NA),
            None,
            None,
        ))
        .await;
    assert_eq!(view.status, 200, "{view:?}");
    assert_eq!(view.body["state"], "issued");
    for internal in [
        "version",
        "holderId",
        "deviceKey",
        "portraitKey",
        "portraitSha256",
        "openedBy",
        "maliciousReport",
        "photoSubmissions",
        "uploadRequests",
    ] {
        assert!(view.body.get(internal).is_none(), "{internal} in {}", view.body);
    }
    for internal in ["key", "sha256", "uploadSha256"] {
        assert!(view.body["photo"].get(internal).is_none(), "photo.{internal}");
    }
    let history = view.body["history"].as_array().expect("history");
    assert!(
        history
            .iter()
            .all(|e| e["by"].get("id").is_none() && e["by"]["role"].is_string()),
        "the holder sees roles, not login ids: {history:?}"
    );
    assert!(view.body["lastReview"]["by"].get("id").is_none());
    // A reviewer (staff) sees who acted, and whose application it is.
    let staff = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &li_na_application)],
            Some(claims("reviewer-0002", "reviewer", None)),
            None,
            None,
        ))
        .await;
    assert_eq!(staff.body["holderId"], LI_NA, "{staff:?}");
    assert_eq!(staff.body["lastReview"]["by"]["id"], "reviewer-0001");
    assert!(staff.body.get("version").is_none() && staff.body.get("portraitKey").is_none());

    // Show and verify; the holder's own record of the checks names organisations and roles.
    let code = h
        .call(request("GET /licence/code", &[], holder(ZHANG_WEI), None, None))
        .await;
    let code = code.body["code"].as_str().expect("code").to_string();
    let shown = h
        .call(request("GET /licence", &[], holder(ZHANG_WEI), None, None))
        .await;
    assert_eq!(shown.status, 200, "{shown:?}");
    let verified = h
        .call(json_request(
            "POST /verifications",
            &[],
            officer(),
            &json!({ "code": code, "class": "C1" }),
        ))
        .await;
    assert_eq!(verified.body["valid"], true, "{verified:?}");
    let by_serial = h
        .call(json_request(
            "POST /verifications",
            &[],
            officer(),
            &json!({ "serial": serial }),
        ))
        .await;
    assert!(by_serial.status < 500, "{by_serial:?}");
    let checks = h
        .call(request("GET /licence/checks", &[], holder(ZHANG_WEI), None, None))
        .await;
    let checks = checks.body["checks"].as_array().expect("checks").clone();
    assert!(!checks.is_empty());
    assert!(checks.iter().all(|c| c.get("verifierId").is_none()), "{checks:?}");
    assert!(checks
        .iter()
        .any(|c| c["organisation"] == "北京市公安局公安交通管理局" && c["role"] == "officer"));

    // An administrator's change to 李娜's licence, a read, and refusals that name licences in their request.
    let changed = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &[("number", LI_NA)],
            admin(),
            &json!({ "points": 3, "reason": "违法记分" }),
        ))
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    let read = h
        .call(request(
            "GET /admin/licences/{number}",
            &[("number", LI_NA)],
            admin(),
            None,
            None,
        ))
        .await;
    assert_eq!(read.status, 200, "{read:?}");
    let foreign = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &li_na_application)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!(foreign.status, 404);
    let ineligible = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(WANG_FANG),
            &json!({ "photoSource": "camera" }),
        ))
        .await;
    assert_eq!(ineligible.status, 422, "{ineligible:?}");

    let mut used = vec![ZHANG_WEI.to_string(), LI_NA.to_string(), WANG_FANG.to_string()];
    for number in [ZHANG_WEI, LI_NA, WANG_FANG] {
        let licence = h
            .services
            .records
            .licence(number)
            .await
            .expect("read")
            .expect("licence");
        used.push(licence.name.clone());
        used.push(licence.holder_id.clone());
    }
    used
}

fn assert_no_personal_data(used: &[String], marker: &str) {
    let lines = lines();
    assert!(
        lines.iter().any(|l| l.contains(marker)),
        "the subscriber captured the flow's lines ({} lines)",
        lines.len()
    );
    for line in &lines {
        assert!(serde_json::from_str::<Value>(line).is_ok(), "a JSON line: {line}");
        for value in used {
            assert!(!line.contains(value.as_str()), "{value} logged: {line}");
        }
    }
    println!("{} log lines, none with any of {used:?}", lines.len());
}

#[tokio::test]
async fn the_whole_flow_logs_no_identity_number_or_name_on_embedded() {
    captured();
    let h = embedded_harness().await;
    let used = whole_flow(h).await;
    assert_no_personal_data(&used, "electronic licence issued");
}

#[tokio::test]
async fn the_whole_flow_logs_no_identity_number_or_name_on_ministack() {
    captured();
    let client = dynamodb_client().await;
    let table = format!("edl-test-{}", uuid::Uuid::new_v4().simple());
    DynamoRecords::create_table(&client, &table).await.expect("table");
    let records = Arc::new(DynamoRecords::new(client.clone(), table.clone()));
    let clock = TestClock::at(NOW);
    let photos = Arc::new(s3_photos().await);
    let h = harness_with(records, photos, None, DevKeys::random(), clock, 5).await;
    let (services, ports) = (h.services.clone(), h.ports.clone());
    let used = whole_flow(h).await;
    let name = services
        .records
        .licence(WANG_FANG)
        .await
        .expect("read")
        .expect("licence")
        .name;

    // A stored licence that no longer decodes (a failure injected into the table): a 503 whose logged
    // error names the kind of record, neither its key (`LICENCE#<identity number>`) nor the values it quotes.
    client
        .update_item()
        .table_name(&table)
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S(format!("LICENCE#{WANG_FANG}")),
        )
        .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("LICENCE".into()))
        .update_expression("SET points = :name")
        .expression_attribute_values(":name", aws_sdk_dynamodb::types::AttributeValue::S(name))
        .send()
        .await
        .expect("corrupted");
    let broken = edl_tests::call_with(
        &services,
        &ports,
        request(
            "GET /admin/licences/{number}",
            &[("number", WANG_FANG)],
            admin(),
            None,
            None,
        ),
    )
    .await;
    assert_eq!(broken.status, 503, "{broken:?}");
    assert_no_personal_data(&used, "stored record unreadable");
}
