//! The HTTP API through the real handlers: whole flows, and every kind of bad input answered
//! with a 4xx problem and nothing written. Each test runs on both adapters.

use edl_tests::{
    admin, claims, clerk, holder, json_request, request, Answer, Harness, CHEN_JING, LIU_YANG, LI_NA, WANG_FANG,
    ZHANG_WEI,
};
use serde_json::{json, Value};
use shared::register::licence::LicenceState;
use shared::sample::showcase_licences;

async fn open(h: &Harness, who: Option<Value>, body: Value) -> Answer {
    h.call(json_request("POST /applications", &[], who, &body)).await
}

async fn get(h: &Harness, who: Option<Value>, id: &str) -> Answer {
    h.call(request("GET /applications/{id}", &[("id", id)], who, None, None))
        .await
}

fn id_of(answer: &Answer) -> String {
    answer.body["id"]
        .as_str()
        .unwrap_or_else(|| panic!("no id: {answer:?}"))
        .to_string()
}

/// The holder can still open an application: proof that a refused request took no slot.
async fn assert_slot_free(h: &Harness, holder_id: &str) {
    let opened = open(h, holder(holder_id), json!({ "photoSource": "camera" })).await;
    assert_eq!(opened.status, 201, "{opened:?}");
    let id = id_of(&opened);
    let withdrawn = h
        .call(request(
            "DELETE /applications/{id}",
            &[("id", &id)],
            holder(holder_id),
            None,
            None,
        ))
        .await;
    assert_eq!(withdrawn.status, 200, "{withdrawn:?}");
}

async fn photo_on_file_with_liveness_is_approved(h: Harness) {
    let opened = open(&h, holder(ZHANG_WEI), json!({ "photoSource": "on_file" })).await;
    assert_eq!(opened.status, 201, "{opened:?}");
    assert_eq!(opened.body["state"], "awaiting_liveness");
    assert_eq!(opened.body["channel"], "app");
    let id = id_of(&opened);
    // A failed check is a clear 422 and the application stays open.
    let weak = edl_tests::liveness_session(&h, ZHANG_WEI, &id, 42.0).await;
    let failed = h
        .call(json_request(
            "POST /applications/{id}/liveness",
            &[("id", &id)],
            holder(ZHANG_WEI),
            &json!({ "livenessSessionId": weak }),
        ))
        .await;
    assert_eq!((failed.status, failed.problem()), (422, "liveness-failed"));
    assert_eq!(get(&h, holder(ZHANG_WEI), &id).await.body["state"], "awaiting_liveness");
    // A session counts once: the failed one cannot be presented again.
    let again = h
        .call(json_request(
            "POST /applications/{id}/liveness",
            &[("id", &id)],
            holder(ZHANG_WEI),
            &json!({ "livenessSessionId": weak }),
        ))
        .await;
    assert_eq!((again.status, again.problem()), (400, "liveness-session-invalid"));
    let session = edl_tests::liveness_session(&h, ZHANG_WEI, &id, 97.5).await;
    let passed = h
        .call(json_request(
            "POST /applications/{id}/liveness",
            &[("id", &id)],
            holder(ZHANG_WEI),
            &json!({ "livenessSessionId": session }),
        ))
        .await;
    assert_eq!(passed.status, 200, "{passed:?}");
    assert_eq!(passed.body["state"], "approved");
    let read = get(&h, holder(ZHANG_WEI), &id).await;
    let actions: Vec<_> = read.body["history"]
        .as_array()
        .expect("history")
        .iter()
        .map(|e| e["action"].as_str().unwrap_or("").to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "opened",
            "liveness_session_created",
            "liveness_failed",
            "liveness_session_created",
            "liveness_passed"
        ]
    );
    // A reviewer reads any application; an approved one cannot be withdrawn.
    assert_eq!(
        get(&h, Some(claims("reviewer-0001", "reviewer", None)), &id)
            .await
            .status,
        200
    );
    let withdraw = h
        .call(request(
            "DELETE /applications/{id}",
            &[("id", &id)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!((withdraw.status, withdraw.problem()), (409, "illegal-transition"));
}

async fn counter_application_by_the_issuing_office(h: Harness) {
    let opened = open(
        &h,
        clerk("440300"),
        json!({ "photoSource": "on_file", "licenceNumber": CHEN_JING }),
    )
    .await;
    assert_eq!(opened.status, 201, "{opened:?}");
    assert_eq!(opened.body["channel"], "counter");
    assert_eq!(opened.body["state"], "approved");
    assert_eq!(opened.body["office"], "440300");
    let id = id_of(&opened);
    // The holder sees it in the app; a clerk of another office does not.
    assert_eq!(get(&h, holder(CHEN_JING), &id).await.status, 200);
    assert_eq!(get(&h, clerk("440300"), &id).await.status, 200);
    let elsewhere = get(&h, clerk("110000"), &id).await;
    assert_eq!((elsewhere.status, elsewhere.problem()), (404, "not-found"));
    // Another office cannot apply on this holder's behalf.
    let refused = open(
        &h,
        clerk("440300"),
        json!({ "photoSource": "on_file", "licenceNumber": ZHANG_WEI }),
    )
    .await;
    assert_eq!((refused.status, refused.problem()), (403, "forbidden"));
    let missing = open(&h, clerk("440300"), json!({ "photoSource": "on_file" })).await;
    assert_eq!((missing.status, missing.problem()), (400, "invalid-request"));
    assert_slot_free(&h, ZHANG_WEI).await;
}

async fn new_photo_waits_for_upload_and_can_be_withdrawn(h: Harness) {
    let opened = open(&h, holder(LI_NA), json!({ "photoSource": "album" })).await;
    assert_eq!(opened.body["state"], "awaiting_photo", "{opened:?}");
    let id = id_of(&opened);
    // Liveness is for a photo on file only: no session is started, none confirmed.
    let start = h
        .call(request(
            "POST /applications/{id}/liveness-sessions",
            &[("id", &id)],
            holder(LI_NA),
            None,
            None,
        ))
        .await;
    assert_eq!((start.status, start.problem()), (409, "illegal-transition"));
    let session = uuid::Uuid::new_v4().to_string();
    let wrong = h
        .call(json_request(
            "POST /applications/{id}/liveness",
            &[("id", &id)],
            holder(LI_NA),
            &json!({ "livenessSessionId": session }),
        ))
        .await;
    assert_eq!((wrong.status, wrong.problem()), (409, "illegal-transition"));
    assert_eq!(wrong.body["state"], "awaiting_photo");
    let withdrawn = h
        .call(request(
            "DELETE /applications/{id}",
            &[("id", &id)],
            holder(LI_NA),
            None,
            None,
        ))
        .await;
    assert_eq!(withdrawn.body["state"], "withdrawn");
    let again = h
        .call(request(
            "DELETE /applications/{id}",
            &[("id", &id)],
            holder(LI_NA),
            None,
            None,
        ))
        .await;
    assert_eq!((again.status, again.problem()), (409, "illegal-transition"));
}

async fn malformed_oversized_and_mistyped_bodies(h: Harness) {
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (
            Some("application/json"),
            "{\"photoSource\":".into(),
            400,
            "invalid-request",
        ),
        (
            Some("application/json"),
            "{\"photoSource\":\"selfie\"}".into(),
            400,
            "invalid-request",
        ),
        (
            Some("application/json"),
            "{\"photoSource\":\"camera\",\"admin\":true}".into(),
            400,
            "invalid-request",
        ),
        (Some("application/json"), "[]".into(), 400, "invalid-request"),
        (Some("application/json"), "".into(), 400, "invalid-request"),
        (
            Some("application/json"),
            format!(
                "{{\"photoSource\":\"camera\",\"licenceNumber\":\"{}\"}}",
                "9".repeat(20_000)
            ),
            413,
            "payload-too-large",
        ),
        (
            Some("text/plain"),
            "{\"photoSource\":\"camera\"}".into(),
            415,
            "unsupported-media-type",
        ),
    ];
    for (content_type, body, status, slug) in cases {
        let answer = h
            .call(request(
                "POST /applications",
                &[],
                holder(ZHANG_WEI),
                content_type,
                Some(&body),
            ))
            .await;
        assert_eq!(
            (answer.status, answer.problem()),
            (status, slug),
            "{}",
            &body[..body.len().min(60)]
        );
    }
    assert_slot_free(&h, ZHANG_WEI).await;
}

async fn unknown_licence_and_other_holders_records(h: Harness) {
    let nobody = open(&h, holder("110101200001010011"), json!({ "photoSource": "on_file" })).await;
    assert_eq!((nobody.status, nobody.problem()), (404, "not-found"));
    // Naming another holder's licence answers exactly like a missing one.
    let theirs = open(
        &h,
        holder(ZHANG_WEI),
        json!({ "photoSource": "on_file", "licenceNumber": LI_NA }),
    )
    .await;
    assert_eq!((theirs.status, theirs.problem()), (404, "not-found"));
    let unknown_number = open(
        &h,
        clerk("440300"),
        json!({ "photoSource": "on_file", "licenceNumber": "440300000000000000" }),
    )
    .await;
    assert_eq!((unknown_number.status, unknown_number.problem()), (404, "not-found"));
    let opened = open(&h, holder(LI_NA), json!({ "photoSource": "camera" })).await;
    let id = id_of(&opened);
    let other = get(&h, holder(ZHANG_WEI), &id).await;
    let missing = get(&h, holder(ZHANG_WEI), "01a210d5-0000-7000-8000-000000000000").await;
    assert_eq!((other.status, other.problem()), (404, "not-found"));
    assert_eq!(missing.status, 404);
    assert_eq!(other.body["title"], missing.body["title"], "no leak of existence");
    let withdraw = h
        .call(request(
            "DELETE /applications/{id}",
            &[("id", &id)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!((withdraw.status, withdraw.problem()), (404, "not-found"));
    assert_eq!(
        get(&h, holder(LI_NA), &id).await.body["state"],
        "awaiting_photo",
        "unchanged"
    );
}

async fn every_ineligibility_reason_is_reported_and_nothing_written(h: Harness) {
    let both = open(&h, holder(WANG_FANG), json!({ "photoSource": "on_file" })).await;
    assert_eq!((both.status, both.problem()), (422, "ineligible"));
    let codes: Vec<_> = both.body["reasons"]
        .as_array()
        .expect("reasons")
        .iter()
        .map(|r| r["code"].clone())
        .collect();
    assert_eq!(
        codes,
        vec![json!("licence-detained"), json!("medical-examination-overdue")]
    );
    // The refusal took no slot: once the register clears the licence, the holder applies.
    let cleared = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &[("number", WANG_FANG)],
            admin(),
            &json!({ "states": [], "reason": "returned" }),
        ))
        .await;
    assert_eq!(cleared.status, 200, "{cleared:?}");
    assert_slot_free(&h, WANG_FANG).await;
    // One licence per state flag, and the two validity reasons.
    let base = showcase_licences()[0].clone();
    let mut cases = Vec::new();
    for (index, state) in LicenceState::ALL.into_iter().enumerate() {
        let mut licence = base.clone();
        licence.states = vec![state];
        cases.push((licence, index));
    }
    let mut ended = base.clone();
    ended.valid_from = "2016-01-01".parse().expect("date");
    ended.valid_to = "2026-11-24".parse().expect("date");
    cases.push((ended, 7));
    let mut future = base.clone();
    future.valid_from = "2026-12-01".parse().expect("date");
    cases.push((future, 8));
    let mut seen = Vec::new();
    for (mut licence, index) in cases {
        let first17 = format!("11010519900101{:03}", 100 + index);
        let check = shared::register::licence::resident_id_check_char(&first17).expect("check");
        licence.number = format!("{first17}{check}");
        licence.holder_id = licence.number.clone();
        h.services
            .records
            .import_licences(std::slice::from_ref(&licence))
            .await
            .expect("import");
        let answer = open(&h, holder(&licence.holder_id), json!({ "photoSource": "on_file" })).await;
        assert_eq!((answer.status, answer.problem()), (422, "ineligible"), "{answer:?}");
        let reasons = answer.body["reasons"].as_array().expect("reasons");
        assert_eq!(reasons.len(), 1, "{answer:?}");
        seen.push(reasons[0]["code"].as_str().expect("code").to_string());
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 9, "nine distinct stable codes: {seen:?}");
    assert_slot_free(&h, ZHANG_WEI).await;
}

async fn city_not_live_says_when_and_switching_is_an_admin_call(h: Harness) {
    let unscheduled = open(&h, holder(LIU_YANG), json!({ "photoSource": "on_file" })).await;
    assert_eq!((unscheduled.status, unscheduled.problem()), (422, "city-not-live"));
    assert_eq!(unscheduled.body["opensAt"], Value::Null);
    assert!(unscheduled.body["detail"]
        .as_str()
        .unwrap_or("")
        .contains("not been announced"));
    let scheduled = h
        .call(json_request(
            "PUT /admin/rollout/cities/{city}",
            &[("city", "440800")],
            admin(),
            &json!({ "goLiveAt": "2026-12-01T00:00:00+08:00" }),
        ))
        .await;
    assert_eq!(scheduled.status, 200, "{scheduled:?}");
    assert_eq!(scheduled.body["availability"]["status"], "scheduled");
    let later = open(&h, holder(LIU_YANG), json!({ "photoSource": "on_file" })).await;
    assert_eq!(later.body["opensAt"], "2026-11-30T16:00:00Z");
    assert!(
        later.body["detail"].as_str().unwrap_or("").contains("2026-12-01 00:00"),
        "{later:?}"
    );
    // Time passes: the city opens without any deployment.
    h.clock.set("2026-12-01T00:00:01+08:00");
    let opened = open(&h, holder(LIU_YANG), json!({ "photoSource": "on_file" })).await;
    assert_eq!(opened.status, 201, "{opened:?}");
    // A whole wave switched on now.
    h.clock.set(edl_tests::NOW);
    let wave = h
        .call(json_request(
            "PUT /admin/rollout/waves/{wave}",
            &[("wave", "2c")],
            admin(),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!(wave.status, 200, "{wave:?}");
    let rollout = h.call(request("GET /admin/rollout", &[], admin(), None, None)).await;
    assert_eq!(rollout.body["changes"].as_array().map(Vec::len), Some(2));
    // Bad switches.
    let bad_time = h
        .call(json_request(
            "PUT /admin/rollout/cities/{city}",
            &[("city", "440800")],
            admin(),
            &json!({ "goLiveAt": "tomorrow" }),
        ))
        .await;
    assert_eq!((bad_time.status, bad_time.problem()), (400, "invalid-request"));
    let unknown = h
        .call(json_request(
            "PUT /admin/rollout/cities/{city}",
            &[("city", "999999")],
            admin(),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!((unknown.status, unknown.problem()), (404, "not-found"));
    let not_admin = h
        .call(json_request(
            "PUT /admin/rollout/waves/{wave}",
            &[("wave", "2c")],
            holder(ZHANG_WEI),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!((not_admin.status, not_admin.problem()), (403, "forbidden"));
}

async fn second_open_application_and_missing_photo(h: Harness) {
    let first = open(&h, holder(ZHANG_WEI), json!({ "photoSource": "on_file" })).await;
    let second = open(&h, holder(ZHANG_WEI), json!({ "photoSource": "camera" })).await;
    assert_eq!((second.status, second.problem()), (409, "open-application-exists"));
    assert_eq!(second.body["application"], first.body["id"]);
    let no_photo = open(&h, holder(LI_NA), json!({ "photoSource": "on_file" })).await;
    assert_eq!((no_photo.status, no_photo.problem()), (422, "no-photo-on-file"));
    assert_slot_free(&h, LI_NA).await;
}

async fn missing_or_wrong_roles(h: Harness) {
    let anonymous = open(&h, None, json!({ "photoSource": "on_file" })).await;
    assert_eq!((anonymous.status, anonymous.problem()), (401, "unauthenticated"));
    let no_sub = open(
        &h,
        Some(json!({ "roles": "holder" })),
        json!({ "photoSource": "on_file" }),
    )
    .await;
    assert_eq!((no_sub.status, no_sub.problem()), (401, "unauthenticated"));
    for roles in ["officer", "relying_party", "reviewer", "admin", "", "superuser"] {
        let answer = open(
            &h,
            Some(claims(ZHANG_WEI, roles, None)),
            json!({ "photoSource": "on_file" }),
        )
        .await;
        assert_eq!((answer.status, answer.problem()), (403, "forbidden"), "roles {roles:?}");
    }
    let as_holder = h
        .call(request(
            "GET /admin/licences/{number}",
            &[("number", ZHANG_WEI)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!((as_holder.status, as_holder.problem()), (403, "forbidden"));
    let import = h
        .call(request(
            "POST /admin/licences",
            &[],
            Some(claims("clerk-1", "clerk", Some("110000"))),
            Some("application/x-ndjson"),
            Some("{}"),
        ))
        .await;
    assert_eq!((import.status, import.problem()), (403, "forbidden"));
    let unknown_route = h
        .call(request("GET /applications", &[], holder(ZHANG_WEI), None, None))
        .await;
    assert_eq!((unknown_route.status, unknown_route.problem()), (404, "not-found"));
    assert_slot_free(&h, ZHANG_WEI).await;
}

/// R3: only the session the backend created for this application confirms it; another application's, an
/// unknown, an unfinished, an expired or a used one is refused with nothing written; and a live face that is
/// not the photo on file is a 422 face-mismatch, recorded on the application.
async fn liveness_bound_to_the_application_and_the_photo_on_file(h: Harness) {
    let id = id_of(&open(&h, holder(ZHANG_WEI), json!({ "photoSource": "on_file" })).await);
    let confirm = |session: String| {
        let h = &h;
        let id = id.clone();
        async move {
            h.call(json_request(
                "POST /applications/{id}/liveness",
                &[("id", &id)],
                holder(ZHANG_WEI),
                &json!({ "livenessSessionId": session }),
            ))
            .await
        }
    };
    // The stored record's version: the holder's view shows none.
    let version = |id: String| {
        let records = h.services.records.clone();
        async move { records.application(&id).await.expect("read").expect("stored").version }
    };
    // 陈静's application has a passed session of its own.
    let other = id_of(&open(&h, holder(CHEN_JING), json!({ "photoSource": "on_file" })).await);
    let foreign = edl_tests::liveness_session(&h, CHEN_JING, &other, 99.0).await;
    // 张伟 starts a check, and does not finish it yet.
    let started = h
        .call(request(
            "POST /applications/{id}/liveness-sessions",
            &[("id", &id)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!(started.status, 201, "{started:?}");
    let own = started.body["sessionId"].as_str().expect("sessionId").to_string();
    assert_eq!(started.body["applicationId"], id.as_str());
    // Someone else cannot start a check on 张伟's application.
    let stranger = h
        .call(request(
            "POST /applications/{id}/liveness-sessions",
            &[("id", &id)],
            holder(CHEN_JING),
            None,
            None,
        ))
        .await;
    assert_eq!(stranger.status, 404, "{stranger:?}");
    let before = version(id.clone()).await;
    for session in [
        foreign.clone(),
        uuid::Uuid::new_v4().to_string(),
        "not-a-session".into(),
        String::new(),
    ] {
        let answer = confirm(session.clone()).await;
        assert_eq!(
            (answer.status, answer.problem()),
            (400, "liveness-session-invalid"),
            "{session}: {answer:?}"
        );
    }
    // Its own session, not finished yet: refused, nothing written.
    let unfinished = confirm(own.clone()).await;
    assert_eq!(
        (unfinished.status, unfinished.problem()),
        (400, "liveness-session-invalid")
    );
    let read = get(&h, holder(ZHANG_WEI), &id).await;
    assert_eq!(read.body["state"], "awaiting_liveness");
    assert_eq!(version(id.clone()).await, before, "nothing written");
    // Finished with someone else's face (any image but the photo on file): a face mismatch, recorded.
    h.liveness
        .finish(&own, 99.0, b"not the photo on file".to_vec())
        .expect("finish");
    let mismatch = confirm(own.clone()).await;
    assert_eq!(
        (mismatch.status, mismatch.problem()),
        (422, "face-mismatch"),
        "{mismatch:?}"
    );
    assert_eq!(mismatch.body["similarity"], 0.0);
    assert_eq!(mismatch.body["threshold"], 90.0);
    let read = get(&h, holder(ZHANG_WEI), &id).await;
    assert_eq!(read.body["state"], "awaiting_liveness");
    let stored = h
        .services
        .records
        .application(&id)
        .await
        .expect("read")
        .expect("stored");
    assert_eq!((stored.failed_liveness_checks, stored.liveness_session), (1, None));
    let last = read.body["history"]
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["action"], "face_mismatch", "{last}");
    // The session is spent, even finished again with the right face.
    h.liveness
        .finish_as_holder(&h.applying(), &own, 99.0)
        .await
        .expect("finish");
    let reused = confirm(own.clone()).await;
    assert_eq!((reused.status, reused.problem()), (400, "liveness-session-invalid"));
    // 陈静's session still confirms her own application.
    let hers = h
        .call(json_request(
            "POST /applications/{id}/liveness",
            &[("id", &other)],
            holder(CHEN_JING),
            &json!({ "livenessSessionId": foreign }),
        ))
        .await;
    assert_eq!(
        (hers.status, hers.body["state"].as_str()),
        (200, Some("approved")),
        "{hers:?}"
    );
    // An expired session: refused (its result is no longer read), nothing written.
    let late = edl_tests::liveness_session(&h, ZHANG_WEI, &id, 99.0).await;
    let written = version(id.clone()).await;
    h.clock
        .advance(chrono::Duration::seconds(shared::dev::LIVENESS_SESSION_SECONDS + 1));
    let expired = confirm(late).await;
    assert_eq!((expired.status, expired.problem()), (400, "liveness-session-invalid"));
    assert_eq!(version(id.clone()).await, written, "nothing written");
    // The holder's own face in a session of this application: approved.
    let session = edl_tests::liveness_session(&h, ZHANG_WEI, &id, 99.0).await;
    let passed = confirm(session.clone()).await;
    assert_eq!(
        (passed.status, passed.body["state"].as_str()),
        (200, Some("approved")),
        "{passed:?}"
    );
}

async fn import_change_and_their_bad_input(h: Harness) {
    let licences = shared::sample::generate(30, 7);
    let body = shared::sample::to_json_lines(&licences[5..]);
    let imported = h
        .call(request(
            "POST /admin/licences",
            &[],
            admin(),
            Some("application/x-ndjson"),
            Some(&body),
        ))
        .await;
    assert_eq!(imported.status, 200, "{imported:?}");
    assert_eq!(imported.body["imported"], 25);
    let number = licences[6].number.clone();
    // A bad line anywhere means nothing is imported, and every bad line is named.
    let mut broken = licences[..2].to_vec();
    broken[1].points = 13;
    broken[1].number = "110101199001011234".into();
    let mut text = shared::sample::to_json_lines(&broken);
    text.push_str("{not json\n");
    text.push_str(&serde_json::to_string(&broken[0]).expect("json"));
    let refused = h
        .call(request(
            "POST /admin/licences",
            &[],
            admin(),
            Some("application/x-ndjson"),
            Some(&text),
        ))
        .await;
    assert_eq!(
        (refused.status, refused.problem()),
        (400, "invalid-request"),
        "{refused:?}"
    );
    let lines: Vec<_> = refused.body["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|e| e["line"].clone())
        .collect();
    assert!(
        lines.contains(&json!(2)) && lines.contains(&json!(3)) && lines.contains(&json!(4)),
        "{refused:?}"
    );
    assert_eq!(
        h.services.records.licence("110101199001011234").await.expect("read"),
        None,
        "nothing written"
    );
    let wrong_type = h
        .call(request(
            "POST /admin/licences",
            &[],
            admin(),
            Some("application/json"),
            Some(&body),
        ))
        .await;
    assert_eq!(
        (wrong_type.status, wrong_type.problem()),
        (415, "unsupported-media-type")
    );
    let empty = h
        .call(request(
            "POST /admin/licences",
            &[],
            admin(),
            Some("application/x-ndjson"),
            Some("\n\n"),
        ))
        .await;
    assert_eq!((empty.status, empty.problem()), (400, "invalid-request"));
    let oversized = "x".repeat(edl_admin::MAX_IMPORT_BODY + 1);
    let too_big = h
        .call(request(
            "POST /admin/licences",
            &[],
            admin(),
            Some("application/x-ndjson"),
            Some(&oversized),
        ))
        .await;
    assert_eq!((too_big.status, too_big.problem()), (413, "payload-too-large"));

    // Changes: points show at once; renewal supersedes; stale versions and bad values refused.
    let path = [("number", number.as_str())];
    let changed = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &path,
            admin(),
            &json!({ "points": 12, "reason": "违法记分" }),
        ))
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.body["licence"]["points"], 12);
    assert_eq!(changed.body["supersedesElectronicLicence"], false);
    let version = changed.body["licence"]["version"].as_u64().expect("version");
    let stale = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &path,
            admin(),
            &json!({ "points": 0, "reason": "x", "expectedVersion": version - 1 }),
        ))
        .await;
    assert_eq!((stale.status, stale.problem()), (409, "conflict"));
    let renewal = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &path,
            admin(),
            &json!({ "renewal": { "validTo": "2036-11-25" }, "reason": "换证", "expectedVersion": version }),
        ))
        .await;
    assert_eq!(renewal.status, 200, "{renewal:?}");
    assert_eq!(renewal.body["supersedesElectronicLicence"], true);
    assert_eq!(renewal.body["changes"].as_array().map(Vec::len), Some(2));
    for bad in [
        json!({ "points": 13, "reason": "x" }),
        json!({ "points": -1, "reason": "x" }),
        json!({ "states": ["on_holiday"], "reason": "x" }),
        json!({ "points": 1 }),
        json!({ "points": 1, "reason": "   " }),
        json!({ "renewal": { "validTo": "1999-01-01" }, "reason": "x" }),
        json!({ "reason": "nothing changes" }),
    ] {
        let answer = h
            .call(json_request("PATCH /admin/licences/{number}", &path, admin(), &bad))
            .await;
        assert_eq!((answer.status, answer.problem()), (400, "invalid-request"), "{bad}");
    }
    let after = h
        .call(request("GET /admin/licences/{number}", &path, admin(), None, None))
        .await;
    assert_eq!(
        after.body["licence"]["version"].as_u64(),
        Some(version + 1),
        "refused changes wrote nothing"
    );
    let unknown = h
        .call(json_request(
            "PATCH /admin/licences/{number}",
            &[("number", "000000")],
            admin(),
            &json!({ "points": 1, "reason": "x" }),
        ))
        .await;
    assert_eq!((unknown.status, unknown.problem()), (404, "not-found"));
}

async fn list_keys(h: &Harness, who: Option<Value>) -> Answer {
    h.call(request("GET /admin/keys", &[], who, None, None)).await
}

/// `GET /admin/keys`: every signing key with its certificate's remaining life, moving with the clock; admins only.
async fn signing_keys_with_their_certificates_remaining_life(mut h: Harness) {
    let signer = shared::crypto::LocalSigner::new();
    signer.generate("iaca");
    signer.generate("ds");
    h.ports.signer = std::sync::Arc::new(signer);
    let authority = shared::service::keys::Authority::default();
    h.signing().install_iaca(&authority, "iaca").await.expect("IACA");
    h.signing()
        .add_document_signer(&authority, "ds")
        .await
        .expect("document signer");

    let listed = list_keys(&h, admin()).await;
    assert_eq!(listed.status, 200, "{listed:?}");
    let keys = listed.body["keys"].as_array().cloned().unwrap_or_default();
    let roles: Vec<_> = keys.iter().map(|k| k["role"].as_str().unwrap_or("")).collect();
    // The soonest to end first: the one-year document signer before the ten-year root.
    assert_eq!(roles, ["document_signer", "iaca"], "{listed:?}");
    let days_left = |answer: &Answer| answer.body["keys"][0]["daysLeft"].as_i64();
    assert_eq!(
        days_left(&listed),
        Some(shared::service::keys::DOCUMENT_SIGNER_DAYS),
        "{listed:?}"
    );
    assert_eq!(listed.body["keys"][0]["keyId"], "ds");
    assert_eq!(listed.body["keys"][0]["status"], "active");

    h.clock.set("2027-10-26T10:00:00+08:00");
    let later = list_keys(&h, admin()).await;
    assert_eq!(days_left(&later), Some(30), "{later:?}");

    let refused = list_keys(&h, holder(ZHANG_WEI)).await;
    assert_eq!((refused.status, refused.problem()), (403, "forbidden"));
}

edl_tests::on_both_adapters!(
    |records| edl_tests::harness(std::sync::Arc::new(records), 5).await;
    signing_keys_with_their_certificates_remaining_life,
    photo_on_file_with_liveness_is_approved,
    counter_application_by_the_issuing_office,
    new_photo_waits_for_upload_and_can_be_withdrawn,
    malformed_oversized_and_mistyped_bodies,
    unknown_licence_and_other_holders_records,
    every_ineligibility_reason_is_reported_and_nothing_written,
    city_not_live_says_when_and_switching_is_an_admin_call,
    second_open_application_and_missing_photo,
    missing_or_wrong_roles,
    liveness_bound_to_the_application_and_the_photo_on_file,
    import_change_and_their_bad_input,
);
