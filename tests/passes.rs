//! Truck city-access passes end to end (R13, with R2, R7, R9): public rules, automatic and reviewed
//! issue, the signed pass and its show code, officers' zone-and-time checks, revocation, expiry, fleet
//! boundaries, licence and pass codes never standing in for each other, and bad input writing nothing.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use edl_tests::{
    admin, claims, dynamo_harness, embedded_harness, holder, json_request, officer, request, Answer, Harness, LI_NA,
    ZHANG_WEI,
};
use serde_json::{json, Value};
use shared::adapters::embedded::notices::EmbeddedNotices;
use shared::credential::{mdoc, pass as pass_document, showcode};
use shared::crypto::LocalSigner;
use shared::kernel::listing::ListQuery;
use shared::kernel::notice::Notice;
use shared::kernel::signing::Signer;
use shared::sample::{FLEET, OTHER_FLEET};
use shared::service::expiry::ExpiryOptions;
use shared::service::issuance::IssueOutcome;
use shared::service::keys::Authority;
use std::sync::Arc;

fn fleet_manager(fleet: &str) -> Option<Value> {
    let mut c = claims(&format!("fleet-manager-{fleet}"), "fleet_manager", None);
    c["org"] = json!(fleet);
    Some(c)
}

fn reviewer() -> Option<Value> {
    Some(claims("reviewer-0001", "reviewer", None))
}

/// A Beijing pass application for `plate`.
fn application(plate: &str, pass_type: &str, from: &str, to: &str) -> Value {
    json!({
        "plate": plate,
        "city": "110000",
        "passType": pass_type,
        "zones": ["ring-5"],
        "validFrom": from,
        "validTo": to,
        "windows": [{ "from": "09:00", "to": "16:00" }, { "from": "20:00", "to": "24:00" }],
    })
}

async fn apply(h: &Harness, who: Option<Value>, body: &Value) -> Answer {
    h.call(json_request("POST /truck/passes", &[], who, body)).await
}

async fn get(h: &Harness, route: &str, id: &str, who: Option<Value>) -> Answer {
    h.call(request(route, &[("id", id)], who, None, None)).await
}

async fn check(h: &Harness, body: Value) -> Answer {
    let answer = h
        .call(json_request("POST /truck/verifications", &[], officer(), &body))
        .await;
    assert_eq!(
        answer.status, 200,
        "a presented pass that fails is an answer, not an error: {answer:?}"
    );
    answer
}

fn id_of(answer: &Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {answer:?}"))
        .to_string()
}

async fn install_keys(h: &mut Harness, signer: Arc<dyn Signer>, iaca: &str, ds: &str) {
    h.ports.signer = signer;
    h.signing()
        .install_iaca(&Authority::default(), iaca)
        .await
        .expect("IACA");
    h.signing()
        .add_document_signer(&Authority::default(), ds)
        .await
        .expect("document signer");
}

async fn local_keys(h: &mut Harness) {
    let signer = LocalSigner::new();
    signer.generate("iaca");
    signer.generate("ds");
    install_keys(h, Arc::new(signer), "iaca", "ds").await;
}

/// 张伟's electronic licence, issued; its current show code.
async fn licence_code(h: &Harness) -> String {
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "photoSource": "on_file" }),
        ))
        .await;
    let id = id_of(&opened);
    let session = edl_tests::liveness_session(h, ZHANG_WEI, &id, 99.0).await;
    h.call(json_request(
        "POST /applications/{id}/liveness",
        &[("id", &id)],
        holder(ZHANG_WEI),
        &json!({ "livenessSessionId": session }),
    ))
    .await;
    let IssueOutcome::Issued { .. } = h.issuing().issue(&id).await.expect("issued") else {
        panic!("not issued")
    };
    let code = h
        .call(request("GET /licence/code", &[], holder(ZHANG_WEI), None, None))
        .await;
    code.body["code"].as_str().expect("licence code").to_string()
}

/// Everything a city, a driver, a fleet, a reviewer, an officer, an
/// administrator and the scheduler do with passes, in the order they do it.
/// The clock stands at Wednesday 2026-11-25 10:00 (UTC+08:00), a working day.
async fn whole_flow(mut h: Harness) {
    let notices = Arc::new(EmbeddedNotices::default());
    h.ports.notifier = notices.clone();
    // Anyone reads the rules, in a form an app renders.
    let cities = h.call(request("GET /truck/cities", &[], None, None, None)).await;
    assert_eq!(cities.status, 200, "{cities:?}");
    let listed: Vec<&str> = cities.body["cities"]
        .as_array()
        .expect("cities")
        .iter()
        .filter_map(|c| c["city"].as_str())
        .collect();
    assert!(listed.contains(&"110000") && listed.contains(&"440800"), "{listed:?}");
    let zhanjiang = cities.body["cities"]
        .as_array()
        .expect("cities")
        .iter()
        .find(|c| c["city"] == "440800")
        .expect("湛江");
    assert_eq!(zhanjiang["availability"]["status"], "not_scheduled", "{zhanjiang}");
    let beijing = h
        .call(request(
            "GET /truck/cities/{city}",
            &[("city", "110000")],
            None,
            None,
            None,
        ))
        .await;
    assert_eq!(beijing.status, 200, "{beijing:?}");
    assert_eq!(beijing.body["availability"]["status"], "live");
    assert_eq!(beijing.body["zones"][0]["id"], "ring-5");
    let hazardous = beijing.body["vehicleTypes"]
        .as_array()
        .expect("types")
        .iter()
        .find(|t| t["code"] == "hazardous_goods")
        .expect("type");
    assert_eq!(hazardous["banned"], true);
    let short = beijing.body["passTypes"]
        .as_array()
        .expect("pass types")
        .iter()
        .find(|t| t["id"] == "short")
        .expect("short");
    assert_eq!(
        (short["maxDays"].as_u64(), short["needsReview"].as_bool()),
        (Some(7), Some(false))
    );
    let unknown = h
        .call(request(
            "GET /truck/cities/{city}",
            &[("city", "999999")],
            None,
            None,
            None,
        ))
        .await;
    assert_eq!((unknown.status, unknown.problem()), (404, "not-found"));

    // A short pass needs no review: signed and active at once.
    let p1 = apply(
        &h,
        fleet_manager(FLEET),
        &application("京B20001", "short", "2026-11-25", "2026-11-30"),
    )
    .await;
    assert_eq!(p1.status, 201, "{p1:?}");
    assert_eq!(p1.body["status"]["state"], "active", "{p1:?}");
    assert_eq!(p1.body["fleetId"], FLEET);
    assert_eq!(
        p1.body["vehicleType"], "medium_truck",
        "the vehicle's data come from the register"
    );
    let p1_id = id_of(&p1);
    assert!(p1_id.starts_with("TP110000261125"), "{p1_id}");
    // The pass is an mdoc of its own docType, verifiable with the licences' trust material.
    let document = STANDARD
        .decode(p1.body["document"].as_str().expect("document"))
        .expect("base64");
    let verified =
        mdoc::verify_document(&document, pass_document::DOC_TYPE, h.services.now(), 0).expect("a valid pass mdoc");
    let elements = &verified.elements[pass_document::NAMESPACE];
    assert_eq!(elements["plate"], json!("京B20001"));
    assert_eq!(elements["zones"], json!(["ring-5"]));
    assert_eq!(elements["valid_to"], json!("2026-11-30"));
    assert_eq!(elements["time_windows"][1], json!({ "from": "20:00", "to": "24:00" }));
    assert!(
        mdoc::verify_issuer_signed(&document, h.services.now(), 0).is_err(),
        "a pass is never accepted as a driving licence"
    );

    // The driver shows a short-lived code of the pass's own kind.
    let code = get(&h, "GET /truck/passes/{id}/code", &p1_id, fleet_manager(FLEET)).await;
    assert_eq!(code.status, 200, "{code:?}");
    let code = code.body["code"].as_str().expect("code").to_string();
    assert!(code.starts_with("TRK2:"), "{code}");
    let again = get(&h, "GET /truck/passes/{id}/code", &p1_id, fleet_manager(FLEET)).await;
    assert_eq!(
        again.body["code"],
        json!(code),
        "reused until shortly before it expires, as a licence's"
    );
    // Offline, from the published trust document alone.
    let trust = h
        .call(request("GET /.well-known/edl/trust", &[], None, None, None))
        .await;
    let offline = edl_verify::offline::verify(&trust.body, &code, h.services.now()).expect("verifies offline");
    assert_eq!(
        (offline.kind, offline.serial.as_str()),
        (showcode::CodeKind::TruckPass, p1_id.as_str())
    );

    // An officer checks it: inside the zone and a window, allowed.
    let inside = check(&h, json!({ "code": code, "zone": "ring-5" })).await;
    assert_eq!(
        (inside.body["valid"].as_bool(), inside.body["allowed"].as_bool()),
        (Some(true), Some(true)),
        "{inside:?}"
    );
    assert_eq!(inside.body["reason"], "within-pass");
    assert_eq!(inside.body["pass"]["plate"], "京B20001");
    // Another zone of the city: not covered.
    let elsewhere = check(&h, json!({ "code": code, "zone": "ring-6" })).await;
    assert_eq!(
        (elsewhere.body["allowed"].as_bool(), elsewhere.body["reason"].as_str()),
        (Some(false), Some("zone-not-covered"))
    );
    // Outside the pass's windows but inside the restricted hours.
    let evening = check(
        &h,
        json!({ "code": code, "zone": "ring-5", "at": "2026-11-25T18:30:00+08:00" }),
    )
    .await;
    assert_eq!(
        (evening.body["allowed"].as_bool(), evening.body["reason"].as_str()),
        (Some(false), Some("outside-window"))
    );
    // After the restricted hours no pass is needed.
    let night = check(
        &h,
        json!({ "code": code, "zone": "ring-6", "at": "2026-11-25T23:30:00+08:00" }),
    )
    .await;
    assert_eq!(
        (night.body["allowed"].as_bool(), night.body["reason"].as_str()),
        (Some(true), Some("no-restriction-now"))
    );
    // A zone the city does not have is an input mistake, never an "allowed".
    let typo = check(&h, json!({ "code": code, "zone": "ring-9" })).await;
    assert_eq!(
        (typo.body["allowed"].as_bool(), typo.body["reason"].as_str()),
        (Some(false), Some("unknown-zone"))
    );
    // Checked where the pass does not apply.
    let shanghai = check(&h, json!({ "code": code, "zone": "outer-ring", "city": "310000" })).await;
    assert_eq!(
        (shanghai.body["allowed"].as_bool(), shanghai.body["reason"].as_str()),
        (Some(false), Some("other-city"))
    );
    // The signed document itself verifies too.
    let by_mdoc = check(&h, json!({ "mdoc": p1.body["document"], "zone": "ring-5" })).await;
    assert_eq!(
        (by_mdoc.body["allowed"].as_bool(), by_mdoc.body["method"].as_str()),
        (Some(true), Some("mdoc"))
    );

    // A licence code and a pass code are never taken for each other.
    let licence = licence_code(&h).await;
    let wrong_kind = check(&h, json!({ "code": licence, "zone": "ring-5" })).await;
    assert_eq!(
        (
            wrong_kind.body["valid"].as_bool(),
            wrong_kind.body["allowed"].as_bool(),
            wrong_kind.body["reason"].as_str()
        ),
        (Some(false), Some(false), Some("bad-prefix")),
        "{wrong_kind:?}"
    );
    let relabelled = check(
        &h,
        json!({ "code": licence.replacen("EDL2:", "TRK2:", 1), "zone": "ring-5" }),
    )
    .await;
    assert_eq!(relabelled.body["valid"], false, "{relabelled:?}");
    assert_eq!(
        relabelled.body["reason"], "bad-claims",
        "the signed kind claim says licence: {relabelled:?}"
    );
    let as_licence = h
        .call(json_request(
            "POST /verifications",
            &[],
            officer(),
            &json!({ "code": code }),
        ))
        .await;
    assert_eq!(
        (as_licence.status, as_licence.body["valid"].as_bool()),
        (200, Some(false)),
        "{as_licence:?}"
    );
    assert_eq!(as_licence.body["reason"], "bad-prefix");
    let licence_ok = h
        .call(json_request(
            "POST /verifications",
            &[],
            officer(),
            &json!({ "code": licence }),
        ))
        .await;
    assert_eq!(
        licence_ok.body["valid"], true,
        "the licence code itself is good: {licence_ok:?}"
    );

    // Every check is recorded under the pass, for its owner and fleet to read.
    let checks = get(&h, "GET /truck/passes/{id}/checks", &p1_id, fleet_manager(FLEET)).await;
    assert_eq!(checks.status, 200, "{checks:?}");
    let checks = checks.body["checks"].as_array().expect("checks").clone();
    assert_eq!(
        checks.len(),
        7,
        "the two codes of the wrong kind named no pass: {checks:?}"
    );
    assert!(checks.iter().any(|c| c["zone"] == "ring-6" && c["allowed"] == false));
    // The fleet sees which organisation checked, never the officer's login id.
    assert!(checks.iter().all(|c| c.get("verifierId").is_none()), "{checks:?}");

    // A long pass needs staff review; it cannot be shown until approved.
    let p3 = apply(
        &h,
        holder(ZHANG_WEI),
        &application("京A12345", "long", "2026-12-01", "2027-01-31"),
    )
    .await;
    assert_eq!(p3.status, 201, "{p3:?}");
    assert_eq!(p3.body["status"]["state"], "pending_review");
    assert!(
        p3.body["document"].is_null() && p3.body["reviewDueAt"].is_string(),
        "{p3:?}"
    );
    let p3_id = id_of(&p3);
    let not_yet = get(&h, "GET /truck/passes/{id}/code", &p3_id, holder(ZHANG_WEI)).await;
    assert_eq!((not_yet.status, not_yet.problem()), (409, "pass-not-active"));
    h.clock.set("2026-11-25T10:05:00+08:00");
    let p4 = apply(
        &h,
        fleet_manager(FLEET),
        &application("京B20002", "long", "2026-11-26", "2026-12-20"),
    )
    .await;
    assert_eq!(p4.status, 201, "{p4:?}");
    let p4_id = id_of(&p4);
    let queue = h.call(request("GET /truck/reviews", &[], reviewer(), None, None)).await;
    assert_eq!(queue.status, 200, "{queue:?}");
    let queued: Vec<&str> = queue.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|i| i["pass"]["id"].as_str())
        .collect();
    assert_eq!(queued, vec![p3_id.as_str(), p4_id.as_str()], "oldest first");
    let not_reviewer = h
        .call(request("GET /truck/reviews", &[], fleet_manager(FLEET), None, None))
        .await;
    assert_eq!((not_reviewer.status, not_reviewer.problem()), (403, "forbidden"));
    let backlog = h.call(request("GET /truck/reviews", &[], admin(), None, None)).await;
    assert_eq!(backlog.body["items"].as_array().map(Vec::len), Some(2), "{backlog:?}");
    let approved = h
        .call(json_request(
            "POST /truck/reviews/{id}/decision",
            &[("id", &p3_id)],
            reviewer(),
            &json!({ "verdict": "approve" }),
        ))
        .await;
    assert_eq!(
        (approved.status, approved.body["status"]["state"].as_str()),
        (200, Some("active")),
        "{approved:?}"
    );
    assert!(approved.body["document"].is_string(), "signed on approval");
    let rejected = h
        .call(json_request(
            "POST /truck/reviews/{id}/decision",
            &[("id", &p4_id)],
            reviewer(),
            &json!({ "verdict": "reject", "reason": "货物类别与长期通行证不符" }),
        ))
        .await;
    assert_eq!(rejected.body["status"]["state"], "rejected", "{rejected:?}");
    assert_eq!(rejected.body["status"]["reason"], "货物类别与长期通行证不符");
    let again = h
        .call(json_request(
            "POST /truck/reviews/{id}/decision",
            &[("id", &p4_id)],
            reviewer(),
            &json!({ "verdict": "approve" }),
        ))
        .await;
    assert_eq!((again.status, again.problem()), (409, "illegal-transition"));
    // Answers are views, not the stored pass: no storage version for anyone; the fleet is told who decided by
    // role alone, staff also by login id.
    let fleet_view = get(&h, "GET /truck/passes/{id}", &p4_id, fleet_manager(FLEET)).await;
    assert_eq!(fleet_view.status, 200, "{fleet_view:?}");
    let staff_view = get(&h, "GET /truck/passes/{id}", &p4_id, admin()).await;
    assert_eq!(staff_view.status, 200, "{staff_view:?}");
    for view in [&fleet_view, &rejected, &staff_view] {
        assert!(view.body.get("version").is_none(), "{view:?}");
    }
    let rejected_by = |view: &Answer| {
        let step = view.body["history"]
            .as_array()
            .and_then(|h| h.iter().find(|e| e["action"] == "rejected"))
            .cloned()
            .unwrap_or_else(|| panic!("no rejection in the history: {view:?}"));
        (view.body["status"]["by"].clone(), step["by"].clone())
    };
    let by_role = json!({ "role": "reviewer" });
    assert_eq!(rejected_by(&fleet_view), (by_role.clone(), by_role));
    let by_login = json!({ "id": "reviewer-0001", "role": "reviewer" });
    assert_eq!(rejected_by(&staff_view), (by_login.clone(), by_login.clone()));
    assert_eq!(
        rejected_by(&rejected),
        (by_login.clone(), by_login),
        "the deciding reviewer is staff"
    );
    let empty = h.call(request("GET /truck/reviews", &[], reviewer(), None, None)).await;
    assert_eq!(empty.body["items"], json!([]));
    // The owner's and the fleet's apps are told of both decisions.
    let decided: Vec<(String, Option<String>, String)> = notices
        .list()
        .into_iter()
        .filter_map(|(_, n)| match n {
            Notice::PassDecided {
                serial,
                fleet_id,
                state,
                ..
            } => Some((serial, fleet_id, state)),
            _ => None,
        })
        .collect();
    assert_eq!(
        decided,
        vec![
            (p3_id.clone(), None, "approved".to_string()),
            (p4_id.clone(), Some(FLEET.to_string()), "rejected".to_string())
        ]
    );

    // The fleet manager sees the fleet's passes and nobody else's.
    let fleet = h
        .call(request("GET /truck/passes", &[], fleet_manager(FLEET), None, None))
        .await;
    let plates: Vec<&str> = fleet.body["passes"]
        .as_array()
        .expect("passes")
        .iter()
        .filter_map(|p| p["plate"].as_str())
        .collect();
    assert_eq!(
        plates,
        vec!["京B20002", "京B20001"],
        "newest first, the fleet's only: {fleet:?}"
    );
    let own = h
        .call(request("GET /truck/passes", &[], holder(ZHANG_WEI), None, None))
        .await;
    let plates: Vec<&str> = own.body["passes"]
        .as_array()
        .expect("passes")
        .iter()
        .filter_map(|p| p["plate"].as_str())
        .collect();
    assert_eq!(plates, vec!["京A12345"]);
    for route in [
        "GET /truck/passes/{id}",
        "GET /truck/passes/{id}/code",
        "GET /truck/passes/{id}/checks",
    ] {
        let denied = get(&h, route, &p1_id, fleet_manager(OTHER_FLEET)).await;
        assert_eq!(
            (denied.status, denied.problem()),
            (404, "not-found"),
            "{route}: another fleet's pass"
        );
        let denied = get(&h, route, &p1_id, holder(ZHANG_WEI)).await;
        assert_eq!(denied.status, 404, "{route}: a driver who is not the owner");
    }
    let denied = h
        .call(request(
            "DELETE /truck/passes/{id}",
            &[("id", &p1_id)],
            fleet_manager(OTHER_FLEET),
            None,
            None,
        ))
        .await;
    assert_eq!(denied.status, 404);
    let other_vehicle = apply(
        &h,
        fleet_manager(OTHER_FLEET),
        &application("京B20001", "short", "2026-12-01", "2026-12-02"),
    )
    .await;
    assert_eq!(
        (other_vehicle.status, other_vehicle.problem()),
        (403, "not-your-vehicle")
    );

    // A city changing its rules does not change the passes it issued.
    let changed = h.call(json_request(
            "PUT /admin/truck/cities/{city}",
            &[("city", "110000")],
            admin(),
            &json!({
                "zones": [{ "id": "ring-4", "name": "四环内" }],
                "restrictedHours": [{ "dayType": "working_day", "from": "06:00", "to": "23:00" }],
                "bannedVehicleTypes": ["tractor_trailer", "hazardous_goods", "heavy_truck"],
                "minEmission": "china_6a",
                "passTypes": [{ "id": "short", "name": "临时通行证", "maxDays": 3, "needsReview": false, "allowOverlap": false }],
                "expectedRulesVersion": 1,
                "reason": "2027 年货车限行新规",
            }),
        ),
    )
    .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.body["rules"]["rulesVersion"], 2);
    assert_eq!(changed.body["changes"][0]["what"], "rules");
    let stale = h.call(json_request(
            "PUT /admin/truck/cities/{city}",
            &[("city", "110000")],
            admin(),
            &json!({ "zones": [], "restrictedHours": [], "bannedVehicleTypes": [], "minEmission": "china_3", "passTypes": [], "expectedRulesVersion": 1, "reason": "x" }),
        ),
    )
    .await;
    assert_eq!((stale.status, stale.problem()), (409, "conflict"));
    // A cold start seeds the shipped rules again: what the administrator changed stays.
    h.services
        .records
        .seed_truck_rules(&shared::truck::rules::TruckRulebook::shipped())
        .await
        .expect("seed");
    let public = h
        .call(request(
            "GET /truck/cities/{city}",
            &[("city", "110000")],
            None,
            None,
            None,
        ))
        .await;
    assert_eq!(public.body["rulesVersion"], 2, "{public:?}");
    let kept = get(&h, "GET /truck/passes/{id}", &p1_id, admin()).await;
    assert_eq!(
        (kept.body["rulesVersion"].as_u64(), kept.body["zones"].clone()),
        (Some(1), json!(["ring-5"])),
        "{kept:?}"
    );
    // The officer now answers under the city's current zones: ring-5 is no longer restricted as such.
    let fresh = get(&h, "GET /truck/passes/{id}/code", &p1_id, fleet_manager(FLEET)).await;
    let fresh = fresh.body["code"].as_str().expect("code").to_string();
    let ring4 = check(&h, json!({ "code": fresh, "zone": "ring-4" })).await;
    assert_eq!(
        (ring4.body["valid"].as_bool(), ring4.body["reason"].as_str()),
        (Some(true), Some("zone-not-covered"))
    );
    // New applications meet the new rules.
    let new_rules = apply(
        &h,
        fleet_manager(FLEET),
        &application("京B2000D", "short", "2026-11-25", "2026-11-26"),
    )
    .await;
    assert_eq!(new_rules.status, 422, "{new_rules:?}");
    let codes: Vec<&str> = new_rules.body["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .filter_map(|r| r["code"].as_str())
        .collect();
    assert!(codes == vec!["unknown-zone"], "{codes:?}");

    // A city joins by configuration: Zhanjiang is switched on now.
    let refused = apply(
        &h,
        fleet_manager(FLEET),
        &json!({
            "plate": "京B2000D", "city": "440800", "passType": "short", "zones": ["urban"],
            "validFrom": "2026-11-25", "validTo": "2026-11-26", "windows": [{ "from": "00:00", "to": "24:00" }],
        }),
    )
    .await;
    assert_eq!(refused.status, 422, "{refused:?}");
    assert_eq!(refused.body["reasons"][0]["code"], "city-not-live");
    let switched = h
        .call(json_request(
            "PUT /admin/truck/rollout/cities/{city}",
            &[("city", "440800")],
            admin(),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!(
        (switched.status, switched.body["availability"]["status"].as_str()),
        (200, Some("live")),
        "{switched:?}"
    );
    let p2 = apply(
        &h,
        fleet_manager(FLEET),
        &json!({
            "plate": "京B2000D", "city": "440800", "passType": "short", "zones": ["urban"],
            "validFrom": "2026-11-25", "validTo": "2026-11-26", "windows": [{ "from": "00:00", "to": "24:00" }],
        }),
    )
    .await;
    assert_eq!(
        (p2.status, p2.body["status"]["state"].as_str()),
        (201, Some("active")),
        "{p2:?}"
    );
    let p2_id = id_of(&p2);

    // The fleet manager gives a pass up; the owner's list shows it withdrawn.
    let p5 = apply(
        &h,
        fleet_manager(FLEET),
        &json!({
            "plate": "京B20002", "city": "440800", "passType": "short", "zones": ["urban"],
            "validFrom": "2026-11-27", "validTo": "2026-11-28", "windows": [{ "from": "06:00", "to": "12:00" }],
        }),
    )
    .await;
    assert_eq!(p5.status, 201, "{p5:?}");
    // Active but not started (today is the 25th): no code yet, neither red nor green, and it says when.
    let early = get(&h, "GET /truck/passes/{id}/code", &id_of(&p5), fleet_manager(FLEET)).await;
    assert_eq!((early.status, early.problem()), (409, "pass-not-started"), "{early:?}");
    assert_eq!(early.body["validFrom"], "2026-11-27", "{early:?}");
    let withdrawn = h
        .call(request(
            "DELETE /truck/passes/{id}",
            &[("id", &id_of(&p5))],
            fleet_manager(FLEET),
            None,
            None,
        ))
        .await;
    assert_eq!(
        (withdrawn.status, withdrawn.body["status"]["state"].as_str()),
        (200, Some("withdrawn")),
        "{withdrawn:?}"
    );

    // An administrator revokes a pass with a reason; the officer sees it.
    let no_reason = h
        .call(json_request(
            "POST /admin/truck/passes/{id}/revocation",
            &[("id", &p1_id)],
            admin(),
            &json!({ "reason": " " }),
        ))
        .await;
    assert_eq!((no_reason.status, no_reason.problem()), (400, "invalid-request"));
    let not_admin = h
        .call(json_request(
            "POST /admin/truck/passes/{id}/revocation",
            &[("id", &p1_id)],
            fleet_manager(FLEET),
            &json!({ "reason": "x" }),
        ))
        .await;
    assert_eq!((not_admin.status, not_admin.problem()), (403, "forbidden"));
    let revoked = h
        .call(json_request(
            "POST /admin/truck/passes/{id}/revocation",
            &[("id", &p1_id)],
            admin(),
            &json!({ "reason": "车辆违规进入限行区域" }),
        ))
        .await;
    assert_eq!(
        (revoked.status, revoked.body["status"]["state"].as_str()),
        (200, Some("revoked")),
        "{revoked:?}"
    );
    assert!(
        notices.list().iter().any(
            |(_, n)| matches!(n, Notice::PassDecided { serial, state, .. } if *serial == p1_id && state == "revoked")
        ),
        "the fleet is told of the revocation"
    );
    let after = check(&h, json!({ "code": fresh, "zone": "ring-4" })).await;
    assert_eq!(
        (
            after.body["valid"].as_bool(),
            after.body["allowed"].as_bool(),
            after.body["reason"].as_str()
        ),
        (Some(false), Some(false), Some("revoked")),
        "{after:?}"
    );
    let no_code = get(&h, "GET /truck/passes/{id}/code", &p1_id, fleet_manager(FLEET)).await;
    assert_eq!((no_code.status, no_code.problem()), (409, "pass-not-active"));

    // The scheduled job expires passes whose last day has ended, and only those.
    h.clock.set("2026-11-27T01:00:00+08:00");
    let report = h
        .services
        .run_expiry(None, &ExpiryOptions::default())
        .await
        .expect("expiry run");
    assert_eq!(report.passes_expired, 1, "{report:?}");
    let expired = get(&h, "GET /truck/passes/{id}", &p2_id, fleet_manager(FLEET)).await;
    assert_eq!(expired.body["status"]["state"], "expired", "{expired:?}");
    let still = get(&h, "GET /truck/passes/{id}", &p3_id, holder(ZHANG_WEI)).await;
    assert_eq!(still.body["status"]["state"], "active");
    let rerun = h
        .services
        .run_expiry(None, &ExpiryOptions::default())
        .await
        .expect("expiry run");
    assert_eq!(rerun.passes_expired, 0, "idempotent: {rerun:?}");
    // The pass's mdoc has run out as well.
    let late = check(
        &h,
        json!({ "mdoc": p2.body["document"], "zone": "urban", "city": "440800" }),
    )
    .await;
    assert_eq!(
        (late.body["valid"].as_bool(), late.body["reason"].as_str()),
        (Some(false), Some("expired")),
        "{late:?}"
    );
}

/// Runs a test on a thread with a larger stack: the whole flow polls deeply
/// nested handler futures, which unoptimised test builds keep on the stack.
fn on_large_stack<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
    let thread = std::thread::Builder::new()
        .stack_size(32 * 1024 * 1024)
        .spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            runtime.block_on(test());
        })
        .expect("test thread");
    if let Err(panic) = thread.join() {
        std::panic::resume_unwind(panic);
    }
}

#[test]
fn whole_flow_on_embedded() {
    on_large_stack(|| async {
        let mut h = embedded_harness().await;
        local_keys(&mut h).await;
        whole_flow(h).await;
    });
}

/// The same flow on the emulator: records in DynamoDB, the pass and its
/// codes signed by a KMS key.
#[test]
fn whole_flow_on_dynamodb_and_kms() {
    on_large_stack(|| async {
        let mut h = dynamo_harness().await;
        let config = edl_tests::aws_config().await;
        let iaca = shared::adapters::kms::create_signing_key(&config, "test IACA")
            .await
            .expect("key");
        let ds = shared::adapters::kms::create_signing_key(&config, "test document signer")
            .await
            .expect("key");
        install_keys(
            &mut h,
            Arc::new(shared::adapters::kms::KmsSigner::new(&config)),
            &iaca,
            &ds,
        )
        .await;
        whole_flow(h).await;
    });
}

/// Each refusal is a clear 4xx problem, and none writes anything.
async fn bad_input_writes_nothing(mut h: Harness) {
    local_keys(&mut h).await;
    let first = apply(
        &h,
        fleet_manager(FLEET),
        &application("京B20001", "short", "2026-11-25", "2026-11-30"),
    )
    .await;
    assert_eq!(first.status, 201, "{first:?}");
    let records = h.services.records.clone();
    let every_pass = ListQuery {
        limit: 100,
        after: None,
    };
    let before = records.passes_of_vehicle("京B20001").await.expect("read");
    let fleet_before = records.passes_of_fleet(FLEET, &every_pass).await.expect("read").len();

    let harness = &h;
    let refused = |body: Value| async move { apply(harness, fleet_manager(FLEET), &body).await };
    let reasons = |answer: &Answer| -> Vec<String> {
        answer.body["reasons"]
            .as_array()
            .map(|r| {
                r.iter()
                    .filter_map(|r| r["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default()
    };

    // Unknown city.
    let mut body = application("京B20001", "short", "2026-12-05", "2026-12-06");
    body["city"] = json!("999999");
    let answer = refused(body).await;
    assert_eq!((answer.status, answer.problem()), (404, "not-found"), "{answer:?}");
    assert_eq!(answer.body["city"], "999999");
    // City not live yet.
    let answer = refused(json!({
        "plate": "京B20001", "city": "440800", "passType": "short", "zones": ["urban"],
        "validFrom": "2026-12-05", "validTo": "2026-12-06", "windows": [{ "from": "08:00", "to": "10:00" }],
    }))
    .await;
    assert_eq!((answer.status, answer.problem()), (422, "pass-refused"));
    assert_eq!(reasons(&answer), vec!["city-not-live"]);
    // A vehicle type the city bans outright (张伟's hazardous goods truck).
    let answer = apply(
        &h,
        holder(ZHANG_WEI),
        &application("京A66666", "short", "2026-12-05", "2026-12-06"),
    )
    .await;
    assert_eq!((answer.status, answer.problem()), (422, "pass-refused"));
    assert_eq!(reasons(&answer), vec!["vehicle-type-banned"]);
    // Below the city's emission standard (李娜's China 4 truck).
    let answer = apply(
        &h,
        holder(LI_NA),
        &application("京A44444", "short", "2026-12-05", "2026-12-06"),
    )
    .await;
    assert_eq!(reasons(&answer), vec!["emission-below-minimum"]);
    // Dates outside the pass type's limits, and every other reason at once.
    let answer = refused(json!({
        "plate": "京B20002", "city": "110000", "passType": "short", "zones": ["ring-5", "ring-9"],
        "validFrom": "2026-11-24", "validTo": "2026-12-24", "windows": [{ "from": "22:00", "to": "02:00" }],
    }))
    .await;
    assert_eq!((answer.status, answer.problem()), (422, "pass-refused"));
    assert_eq!(
        reasons(&answer),
        vec!["unknown-zone", "dates-invalid", "too-long", "window-invalid"],
        "{answer:?}"
    );
    // Overlapping the vehicle's active pass where the city forbids it.
    let answer = refused(application("京B20001", "short", "2026-11-28", "2026-12-02")).await;
    assert_eq!(reasons(&answer), vec!["overlapping-pass"], "{answer:?}");
    // The register's data are not the applicant's to change.
    let mut body = application("京B20002", "short", "2026-12-05", "2026-12-06");
    body["emission"] = json!("china_6b");
    let answer = refused(body).await;
    assert_eq!(reasons(&answer), vec!["vehicle-mismatch"], "{answer:?}");
    // Someone else's vehicle, and one not in the register.
    let answer = apply(
        &h,
        holder(ZHANG_WEI),
        &application("京B20001", "short", "2026-12-05", "2026-12-06"),
    )
    .await;
    assert_eq!((answer.status, answer.problem()), (403, "not-your-vehicle"));
    let answer = refused(application("京Z99999", "short", "2026-12-05", "2026-12-06")).await;
    assert_eq!((answer.status, answer.problem()), (404, "not-found"));
    // Malformed, unknown fields, not a plate, no token, a role that may not apply.
    let answer = h
        .call(request(
            "POST /truck/passes",
            &[],
            fleet_manager(FLEET),
            Some("application/json"),
            Some("{\"plate\":"),
        ))
        .await;
    assert_eq!((answer.status, answer.problem()), (400, "invalid-request"));
    let mut body = application("京B20001", "short", "2026-12-05", "2026-12-06");
    body["price"] = json!(0);
    let answer = refused(body).await;
    assert_eq!((answer.status, answer.problem()), (400, "invalid-request"));
    let answer = refused(application("B20001", "short", "2026-12-05", "2026-12-06")).await;
    assert_eq!((answer.status, answer.problem()), (400, "invalid-request"));
    let answer = refused(json!({ "plate": "京B20001", "city": "110000", "passType": "short", "zones": ["ring-5"], "validFrom": "2026-13-01", "validTo": "2026-12-06", "windows": [] })).await;
    assert_eq!((answer.status, answer.problem()), (400, "invalid-request"));
    let answer = apply(&h, None, &application("京B20001", "short", "2026-12-05", "2026-12-06")).await;
    assert_eq!((answer.status, answer.problem()), (401, "unauthenticated"));
    let answer = apply(
        &h,
        officer(),
        &application("京B20001", "short", "2026-12-05", "2026-12-06"),
    )
    .await;
    assert_eq!((answer.status, answer.problem()), (403, "forbidden"));
    let big = json!({ "plate": "京B20001", "city": "110000", "passType": "short", "zones": ["z".repeat(20_000)], "validFrom": "2026-12-05", "validTo": "2026-12-06", "windows": [] });
    let answer = refused(big).await;
    assert_eq!((answer.status, answer.problem()), (413, "payload-too-large"));

    // Verification: bad requests are errors, bad credentials are answers.
    let answer = h
        .call(json_request(
            "POST /truck/verifications",
            &[],
            officer(),
            &json!({ "zone": "ring-5" }),
        ))
        .await;
    assert_eq!((answer.status, answer.problem()), (400, "invalid-request"));
    let answer = h
        .call(json_request(
            "POST /truck/verifications",
            &[],
            officer(),
            &json!({ "code": "TRK2:x", "zone": "ring-5", "at": "tomorrow" }),
        ))
        .await;
    assert_eq!((answer.status, answer.problem()), (400, "invalid-request"));
    let answer = h
        .call(json_request(
            "POST /truck/verifications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "code": "TRK2:x", "zone": "ring-5" }),
        ))
        .await;
    assert_eq!((answer.status, answer.problem()), (403, "forbidden"));
    let answer = check(&h, json!({ "code": "TRK2:abc", "zone": "ring-5" })).await;
    assert_eq!(
        (answer.body["valid"].as_bool(), answer.body["reason"].as_str()),
        (Some(false), Some("bad-base45"))
    );
    let forged = check(&h, json!({ "mdoc": STANDARD.encode(b"not an mdoc"), "zone": "ring-5" })).await;
    assert_eq!(forged.body["valid"], false);
    // Vehicle imports: all checked first, nothing written on an error.
    let answer = h.call(request(
            "POST /admin/vehicles",
            &[],
            admin(),
            Some("application/x-ndjson"),
            Some("{\"plate\":\"京C00001\",\"vehicleType\":\"light_truck\",\"emission\":\"china_6a\",\"ownerId\":\"x\"}\n{\"plate\":\"bad\",\"vehicleType\":\"light_truck\",\"emission\":\"china_6a\",\"ownerId\":\"x\"}\n"),
        ),
    )
    .await;
    assert_eq!(
        (answer.status, answer.problem()),
        (400, "invalid-request"),
        "{answer:?}"
    );
    assert_eq!(
        records.vehicle("京C00001").await.expect("read"),
        None,
        "nothing imported"
    );

    let after = records.passes_of_vehicle("京B20001").await.expect("read");
    assert_eq!(
        after, before,
        "no refusal wrote a pass or moved the vehicle's pass list"
    );
    assert_eq!(
        records.passes_of_fleet(FLEET, &every_pass).await.expect("read").len(),
        fleet_before
    );
}

#[test]
fn bad_input_writes_nothing_on_embedded() {
    on_large_stack(|| async { bad_input_writes_nothing(embedded_harness().await).await });
}

#[test]
fn bad_input_writes_nothing_on_dynamodb() {
    on_large_stack(|| async { bad_input_writes_nothing(dynamo_harness().await).await });
}

/// Two applications for one vehicle at once, for overlapping dates: the
/// vehicle's pass list is versioned, so exactly one pass is stored.
#[tokio::test]
async fn simultaneous_overlapping_applications_store_one_pass() {
    let mut h = dynamo_harness().await;
    local_keys(&mut h).await;
    let body = application("京B20001", "short", "2026-11-25", "2026-11-27");
    let attempts = futures::future::join_all((0..6).map(|_| apply(&h, fleet_manager(FLEET), &body))).await;
    let created = attempts.iter().filter(|a| a.status == 201).count();
    assert_eq!(created, 1, "{attempts:?}");
    for refused in attempts.iter().filter(|a| a.status != 201) {
        assert!(refused.status == 422 || refused.status == 409, "{refused:?}");
        assert!(
            refused.problem() == "pass-refused" || refused.problem() == "conflict",
            "{refused:?}"
        );
    }
    let (passes, _) = h.services.records.passes_of_vehicle("京B20001").await.expect("read");
    assert_eq!(passes.len(), 1);
}

/// `GET /truck/passes` a page at a time: `limit` passes, newest first, and `next` to resume from; three pages of a
/// fleet's list and of one vehicle's without loss or repeat. A bad limit, a forged cursor or an unknown parameter
/// is a 400 problem.
async fn pass_lists_are_paged(mut h: Harness) {
    local_keys(&mut h).await;
    let mut opened = Vec::new();
    for day in 25..=29 {
        let date = format!("2026-11-{day}");
        let answer = apply(
            &h,
            fleet_manager(FLEET),
            &application("京B20001", "short", &date, &date),
        )
        .await;
        assert_eq!(answer.status, 201, "{answer:?}");
        opened.push(id_of(&answer));
        h.clock.advance(chrono::Duration::seconds(1));
    }
    opened.reverse();
    let list = |query: String| {
        let h = &h;
        async move {
            h.call(edl_tests::get_request(
                "GET /truck/passes",
                &[],
                fleet_manager(FLEET),
                &query,
                &[],
            ))
            .await
        }
    };
    // 京B20001, as a query string carries it.
    for filter in ["", "plate=%E4%BA%ACB20001&"] {
        let mut seen = Vec::new();
        let mut sizes = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..3 {
            let query = match &cursor {
                Some(cursor) => format!("{filter}limit=2&cursor={cursor}"),
                None => format!("{filter}limit=2"),
            };
            let page = list(query).await;
            assert_eq!(page.status, 200, "{page:?}");
            let ids: Vec<String> = page.body["passes"]
                .as_array()
                .expect("passes")
                .iter()
                .filter_map(|p| p["id"].as_str().map(str::to_string))
                .collect();
            sizes.push(ids.len());
            seen.extend(ids);
            cursor = page.body["next"].as_str().map(str::to_string);
        }
        assert_eq!(sizes, [2, 2, 1], "{filter}");
        assert_eq!(cursor, None, "the last page has no next ({filter})");
        assert_eq!(seen, opened, "every pass once, newest first ({filter})");
    }
    let whole = list(String::new()).await;
    assert_eq!(whole.body["passes"].as_array().map(Vec::len), Some(5), "{whole:?}");
    assert!(whole.body.get("next").is_none(), "{whole:?}");
    let forged = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode("2026-11-25T02:00:00Z|x y");
    for query in [
        "limit=0".to_string(),
        "limit=101".into(),
        "limit=many".into(),
        "cursor=not-a-cursor!".into(),
        format!("cursor={forged}"),
        "page=2".into(),
    ] {
        let refused = list(query.clone()).await;
        assert_eq!(refused.status, 400, "{query}: {refused:?}");
        assert!(!refused.problem().is_empty(), "{query}");
    }
}

#[test]
fn pass_lists_are_paged_on_embedded() {
    on_large_stack(|| async { pass_lists_are_paged(embedded_harness().await).await });
}

#[test]
fn pass_lists_are_paged_on_dynamodb() {
    on_large_stack(|| async { pass_lists_are_paged(dynamo_harness().await).await });
}
