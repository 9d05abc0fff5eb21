//! Every file in `events/` run through its real handler, as `sam local invoke -e events/<file>` would.

use edl_tests::{dynamo_harness, embedded_harness, images, Answer, Harness, LI_NA, ZHANG_WEI};
use shared::applications::application::{Application, Channel, Opening, PhotoSource};
use shared::kernel::caller::Actor;
use shared::kernel::caller::Role;
use shared::service::photos::PhotoOutcome;

/// The application id the `apply-*` events name.
const EVENT_APPLICATION: &str = "0193a5b0-0000-7000-8000-000000000001";
/// The application id the photo and review events name (李娜, new photo).
const PHOTO_APPLICATION: &str = "0193a5b0-0000-7000-8000-000000000002";
/// The truck pass the `pass-*` events name (the fleet's short pass for 京B20001).
const EVENT_PASS: &str = "TP11000026112583920417";
/// The truck pass the review and revocation events name (the long pass for 京B20002).
const EVENT_REVIEW_PASS: &str = "TP11000026112561048273";

fn event_text(name: &str) -> String {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn run(h: &Harness, name: &str) -> Answer {
    run_text(h, &event_text(name)).await
}

async fn run_text(h: &Harness, text: &str) -> Answer {
    let request = lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("event does not parse: {e}"));
    h.call(request).await
}

/// An application the events act on, as its holder opened it.
async fn store_event_application(h: &Harness, id: &str, holder: &str, city: &str, source: PhotoSource) {
    // The photo on file, bound at opening as the apply function does (the real-person check compares with it).
    let portrait = match source {
        PhotoSource::OnFile => h
            .services
            .records
            .licence(holder)
            .await
            .expect("read the licence")
            .and_then(|l| l.photo_sha256)
            .map(|sha256| shared::applications::application::KeptPortrait {
                key: shared::register::licence::register_photo_key(&sha256),
                sha256,
            }),
        _ => None,
    };
    let application = Application::open(Opening {
        id: id.into(),
        licence_number: holder.into(),
        holder_id: holder.into(),
        city_code: city.into(),
        channel: Channel::App,
        photo_source: source,
        opened_by: Actor {
            id: holder.into(),
            role: Role::Holder,
        },
        office: None,
        at: h.services.now(),
        device_key: None,
        portrait,
    });
    h.services
        .records
        .create_application(&application)
        .await
        .expect("store");
}

async fn photo_and_review_events(h: &Harness) {
    store_event_application(h, PHOTO_APPLICATION, LI_NA, "310000", PhotoSource::Camera).await;
    let offer = run(h, "photo-upload-request.json").await;
    assert_eq!(offer.status, 201, "{offer:?}");
    // The sample S3 event names an upload this application is not waiting for.
    let stray = edl_photo_check::handle(
        &h.photo_checking(),
        s3_event(&event_text("photo-check-object-created.json")),
    )
    .await
    .expect("handled");
    assert!(matches!(stray.as_slice(), [PhotoOutcome::Ignored { .. }]), "{stray:?}");
    // The real upload lands, and the same event for its key queues it.
    let token = offer.body["upload"]["url"]
        .as_str()
        .and_then(|u| u.rsplit('/').next())
        .expect("token");
    let key = h
        .embedded_photos
        .as_ref()
        .expect("embedded photos")
        .accept_upload(
            token,
            Some("image/jpeg"),
            &images::id_photo_jpeg(360, 480),
            h.services.now(),
        )
        .expect("uploaded");
    let sample_key = format!("photos/{PHOTO_APPLICATION}/5f2b8c0e6a9d4c1f8e7b3a2d1c0b9a87");
    let landed = event_text("photo-check-object-created.json").replace(&sample_key, &key);
    let queued = edl_photo_check::handle(&h.photo_checking(), s3_event(&landed))
        .await
        .expect("handled");
    assert!(matches!(queued.as_slice(), [PhotoOutcome::Queued { .. }]), "{queued:?}");

    let queue = run(h, "review-list-queue.json").await;
    assert_eq!(
        (queue.status, queue.body["items"][0]["id"].as_str()),
        (200, Some(PHOTO_APPLICATION)),
        "{queue:?}"
    );
    let item = run(h, "review-get-item.json").await;
    assert_eq!(item.status, 200, "{item:?}");
    assert!(item.body["photoUrl"].as_str().is_some());
    let decided = run(h, "review-decide.json").await;
    assert_eq!(
        (decided.status, decided.body["state"].as_str()),
        (200, Some("rejected")),
        "{decided:?}"
    );
}

/// The truck pass events (R13): pass ids are random serials, so the events'
/// ids are replaced with those of the passes the apply events opened.
async fn truck_pass_events(h: &Harness) {
    let vehicles = run(h, "admin-import-vehicles.json").await;
    assert_eq!(
        (vehicles.status, vehicles.body["imported"].as_u64()),
        (200, Some(2)),
        "{vehicles:?}"
    );
    // Public: no token, no authorizer context.
    let cities = run(h, "pass-list-cities.json").await;
    assert_eq!(cities.status, 200, "{cities:?}");
    let beijing = cities.body["cities"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["city"] == "110000"))
        .cloned();
    assert_eq!(
        beijing.map(|c| c["availability"]["status"].clone()),
        Some(serde_json::json!("live")),
        "{cities:?}"
    );
    let rules = run(h, "pass-get-city.json").await;
    assert_eq!(
        (rules.status, rules.body["city"].as_str()),
        (200, Some("110000")),
        "{rules:?}"
    );

    // Against records without that pass, the id-bound events answer 404 problems.
    let missing = run(h, "pass-get-pass.json").await;
    assert_eq!((missing.status, missing.problem()), (404, "not-found"), "{missing:?}");
    let short = run(h, "pass-apply-short.json").await;
    assert_eq!(
        (short.status, short.body["status"]["state"].as_str()),
        (201, Some("active")),
        "{short:?}"
    );
    let id = short.body["id"].as_str().expect("pass id").to_string();
    let listed = run(h, "pass-list-passes.json").await;
    assert_eq!(
        (listed.status, listed.body["passes"][0]["id"].as_str()),
        (200, Some(id.as_str())),
        "{listed:?}"
    );
    let read = run_text(h, &event_text("pass-get-pass.json").replace(EVENT_PASS, &id)).await;
    assert_eq!(
        (read.status, read.body["plate"].as_str()),
        (200, Some("京B20001")),
        "{read:?}"
    );
    // The sample pass starts tomorrow: no code before its first day, then one on that morning.
    let early = run_text(h, &event_text("pass-code.json").replace(EVENT_PASS, &id)).await;
    assert_eq!((early.status, early.problem()), (409, "pass-not-started"), "{early:?}");
    h.clock.set("2026-11-26T10:00:00+08:00");
    let code = run_text(h, &event_text("pass-code.json").replace(EVENT_PASS, &id)).await;
    let code = code.body["code"]
        .as_str()
        .filter(|c| c.starts_with("TRK2:"))
        .unwrap_or_else(|| panic!("{code:?}"))
        .to_string();

    // The officer's sample event carries a placeholder (answered as an invalid
    // code, and recorded as unmatched); the real code lets the truck in.
    let placeholder = run(h, "verify-truck-pass.json").await;
    assert_eq!(
        (
            placeholder.status,
            placeholder.body["valid"].as_bool(),
            placeholder.body["reason"].as_str()
        ),
        (200, Some(false), Some("bad-base45")),
        "{placeholder:?}"
    );
    let checked = run_text(
        h,
        &event_text("verify-truck-pass.json").replace("TRK2:PLACEHOLDER", &code),
    )
    .await;
    assert_eq!(
        (
            checked.status,
            checked.body["valid"].as_bool(),
            checked.body["allowed"].as_bool()
        ),
        (200, Some(true), Some(true)),
        "{checked:?}"
    );
    let checks = run_text(h, &event_text("pass-checks.json").replace(EVENT_PASS, &id)).await;
    assert!(
        checks.body["checks"].as_array().is_some_and(|c| c.len() == 1),
        "the one check that named the pass: {checks:?}"
    );

    // The long pass waits for review; approved, then revoked by an administrator.
    let long = run(h, "pass-apply-long.json").await;
    assert_eq!(
        (long.status, long.body["status"]["state"].as_str()),
        (201, Some("pending_review")),
        "{long:?}"
    );
    let long_id = long.body["id"].as_str().expect("pass id").to_string();
    let queue = run(h, "pass-list-reviews.json").await;
    assert_eq!(
        (queue.status, queue.body["items"][0]["pass"]["id"].as_str()),
        (200, Some(long_id.as_str())),
        "{queue:?}"
    );
    let decided = run_text(
        h,
        &event_text("pass-decide-review.json").replace(EVENT_REVIEW_PASS, &long_id),
    )
    .await;
    assert_eq!(
        (decided.status, decided.body["status"]["state"].as_str()),
        (200, Some("active")),
        "{decided:?}"
    );
    let revoked = run_text(
        h,
        &event_text("admin-revoke-pass.json").replace(EVENT_REVIEW_PASS, &long_id),
    )
    .await;
    assert_eq!(
        (revoked.status, revoked.body["status"]["state"].as_str()),
        (200, Some("revoked")),
        "{revoked:?}"
    );
    let withdrawn = run_text(h, &event_text("pass-withdraw.json").replace(EVENT_PASS, &id)).await;
    assert_eq!(
        (withdrawn.status, withdrawn.body["status"]["state"].as_str()),
        (200, Some("withdrawn")),
        "{withdrawn:?}"
    );

    // Beijing's rules and the truck pass rollout.
    let city = run(h, "admin-get-truck-city.json").await;
    assert_eq!(
        (city.status, city.body["rules"]["rulesVersion"].as_u64()),
        (200, Some(1)),
        "{city:?}"
    );
    let changed = run(h, "admin-change-truck-city.json").await;
    assert_eq!(
        (changed.status, changed.body["rules"]["rulesVersion"].as_u64()),
        (200, Some(2)),
        "{changed:?}"
    );
    let batch = run(h, "admin-switch-truck-batch.json").await;
    let zhanjiang = batch.body["cities"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["city"] == "440800"))
        .cloned();
    assert_eq!(
        (batch.status, zhanjiang.map(|c| c["availability"]["status"].clone())),
        (200, Some(serde_json::json!("scheduled"))),
        "{batch:?}"
    );
    let switched = run(h, "admin-switch-truck-city.json").await;
    assert_eq!(
        (switched.status, switched.body["availability"]["status"].as_str()),
        (200, Some("scheduled")),
        "{switched:?}"
    );
}

fn s3_event(text: &str) -> aws_lambda_events::event::s3::S3Event {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("S3 event: {e}"))
}

async fn every_event(mut h: Harness) {
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
    // Against records without that application, the id-bound events answer 404 problems.
    let missing = run(&h, "apply-get-application.json").await;
    assert_eq!((missing.status, missing.problem()), (404, "not-found"));

    let created = run(&h, "apply-create-application.json").await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["state"], "awaiting_liveness");
    // The holder now has an open application; withdraw it through the API so the
    // events' own application can be stored next.
    let id = created.body["id"].as_str().expect("id").to_string();
    let withdrawn = run_text(
        &h,
        &event_text("apply-withdraw-application.json").replace(EVENT_APPLICATION, &id),
    )
    .await;
    assert_eq!(withdrawn.body["state"], "withdrawn", "{withdrawn:?}");

    let counter = run(&h, "apply-create-counter-application.json").await;
    assert_eq!(counter.status, 201, "{counter:?}");
    assert_eq!(
        (counter.body["channel"].as_str(), counter.body["state"].as_str()),
        (Some("counter"), Some("approved"))
    );

    store_event_application(&h, EVENT_APPLICATION, ZHANG_WEI, "110000", PhotoSource::OnFile).await;
    let read = run(&h, "apply-get-application.json").await;
    assert_eq!(
        (read.status, read.body["id"].as_str()),
        (200, Some(EVENT_APPLICATION)),
        "{read:?}"
    );

    // The sample event carries a placeholder session: refused as such, nothing changed.
    let placeholder = run(&h, "apply-confirm-liveness.json").await;
    assert_eq!(
        (placeholder.status, placeholder.problem()),
        (400, "liveness-session-invalid")
    );
    let started = run(&h, "apply-create-liveness-session.json").await;
    assert_eq!(started.status, 201, "{started:?}");
    let session = started.body["sessionId"].as_str().expect("sessionId").to_string();
    h.liveness
        .finish_as_holder(&h.applying(), &session, 99.0)
        .await
        .expect("the check finished with the holder's face");
    let confirmed = run_text(
        &h,
        &event_text("apply-confirm-liveness.json").replace("SESSION-PLACEHOLDER-0000", &session),
    )
    .await;
    assert_eq!(
        (confirmed.status, confirmed.body["state"].as_str()),
        (200, Some("approved")),
        "{confirmed:?}"
    );
    let late = run(&h, "apply-withdraw-application.json").await;
    assert_eq!((late.status, late.problem()), (409, "illegal-transition"));

    // Issuance from the ApplicationApproved event, then the holder shows the licence.
    let approved: aws_lambda_events::event::cloudwatch_events::CloudWatchEvent<edl_issue::Approved> =
        serde_json::from_str(&event_text("issue-application-approved.json")).expect("EventBridge event");
    let outcome = edl_issue::handle(&h.issuing(), approved.detail.expect("detail"))
        .await
        .expect("issued");
    assert!(
        matches!(outcome, Some(shared::service::issuance::IssueOutcome::Issued { .. })),
        "{outcome:?}"
    );
    let shown = run(&h, "licence-show.json").await;
    assert_eq!(
        (shown.status, shown.body["status"].as_str()),
        (200, Some("active")),
        "{shown:?}"
    );
    let code = run(&h, "licence-code.json").await;
    assert!(
        code.body["code"].as_str().is_some_and(|c| c.starts_with("EDL2:")),
        "{code:?}"
    );
    let page = run(&h, "licence-page-front-png.json").await;
    assert_eq!((page.status, page.content_type.as_str()), (200, "image/png"));
    // The pages function's own event: the front page the licence function asks it for, drawn.
    let drawn = edl_pages::handle(serde_json::from_str(&event_text("pages-front-png.json")).expect("JSON"))
        .into_png()
        .expect("a PNG");
    assert!(drawn.starts_with(b"\x89PNG\r\n\x1a\n"));

    // Verification: the sample events carry placeholders (answered as invalid
    // codes), and the real code and barcode verify.
    let placeholder = run(&h, "verify-officer-code.json").await;
    assert_eq!(
        (placeholder.status, placeholder.body["reason"].as_str()),
        (200, Some("bad-base45")),
        "{placeholder:?}"
    );
    let shown_code = code.body["code"].as_str().expect("code");
    let officer = run_text(
        &h,
        &event_text("verify-officer-code.json").replace("EDL2:PLACEHOLDER", shown_code),
    )
    .await;
    assert_eq!(officer.body["valid"], true, "{officer:?}");
    // A bare serial names a licence to an officer only: the rental desk's is refused before any lookup.
    let barcode = code.body["barcode"].as_str().expect("barcode");
    let rental_barcode = event_text("verify-rental-barcode.json").replace("BARCODE-PLACEHOLDER", barcode);
    let rental = run_text(&h, &rental_barcode).await;
    assert_eq!(
        (rental.status, rental.problem()),
        (403, "presentation-not-allowed"),
        "{rental:?}"
    );
    let as_officer = run_text(&h, &rental_barcode.replace("\"relying_party\"", "\"officer\"")).await;
    assert_eq!(as_officer.body["valid"], true, "{as_officer:?}");
    let nonce = run(&h, "verify-draw-nonce.json").await;
    assert_eq!(nonce.status, 201, "{nonce:?}");
    assert!(nonce.body["nonce"].as_str().is_some_and(|n| n.len() == 43), "{nonce:?}");
    let trust = run(&h, "verify-trust-material.json").await;
    assert_eq!(trust.status, 200, "{trust:?}");
    assert!(trust.body["documentSigners"].as_array().is_some_and(|s| !s.is_empty()));
    let checks = run(&h, "licence-checks.json").await;
    assert!(
        checks.body["checks"].as_array().is_some_and(|c| c.len() == 2),
        "the two checks that named the licence: {checks:?}"
    );

    let imported = run(&h, "admin-import-licences.json").await;
    assert_eq!(
        (imported.status, imported.body["imported"].as_u64()),
        (200, Some(2)),
        "{imported:?}"
    );
    let started = run(&h, "admin-start-import.json").await;
    assert_eq!(
        (started.status, started.body["job"]["state"].as_str()),
        (201, Some("awaiting_upload")),
        "{started:?}"
    );
    assert!(started.body["upload"]["url"].is_string(), "{started:?}");
    let job = run(&h, "admin-import-status.json").await;
    assert_eq!(
        (job.status, job.body["id"].clone()),
        (200, started.body["job"]["id"].clone()),
        "{job:?}"
    );
    let licence = run(&h, "admin-get-licence.json").await;
    assert_eq!(
        (licence.status, licence.body["licence"]["number"].as_str()),
        (200, Some(ZHANG_WEI)),
        "{licence:?}"
    );
    let changed = run(&h, "admin-change-licence.json").await;
    assert_eq!(
        (changed.status, changed.body["licence"]["points"].as_u64()),
        (200, Some(6)),
        "{changed:?}"
    );
    let rollout = run(&h, "admin-get-rollout.json").await;
    assert_eq!(rollout.status, 200, "{rollout:?}");
    assert!(rollout.body["cities"].as_array().is_some_and(|c| c.len() >= 28));
    let city = run(&h, "admin-switch-city.json").await;
    assert_eq!(
        (city.status, city.body["availability"]["status"].as_str()),
        (200, Some("scheduled")),
        "{city:?}"
    );
    let wave = run(&h, "admin-switch-wave.json").await;
    assert_eq!((wave.status, wave.body["id"].as_str()), (200, Some("2c")), "{wave:?}");
    let keys = run(&h, "admin-list-keys.json").await;
    assert_eq!(keys.status, 200, "{keys:?}");
    assert!(keys.body["keys"].as_array().is_some_and(|k| k.len() == 2), "{keys:?}");

    photo_and_review_events(&h).await;
    truck_pass_events(&h).await;

    // The expiry job's schedule event: one run through the handler; it finishes.
    let schedule: aws_lambda_events::event::cloudwatch_events::CloudWatchEvent =
        serde_json::from_str(&event_text("expire-schedule.json")).expect("EventBridge scheduled event");
    let report = edl_expire::handle(&h.services, schedule, None)
        .await
        .expect("expiry run");
    assert!(report.complete && report.passes_expired == 0, "{report:?}");

    // The refresh's schedule event: one run (nothing is due yet) and the key check.
    let schedule: aws_lambda_events::event::cloudwatch_events::CloudWatchEvent =
        serde_json::from_str(&event_text("refresh-schedule.json")).expect("EventBridge scheduled event");
    let mut services = h.services.clone();
    services.signing_budget = edl_refresh::signing_budget_from(None).expect("the default budget");
    let refresh = edl_refresh::handle(
        &h.ports.refreshing(&services),
        schedule,
        &shared::service::refresh::RefreshOptions::default(),
        None,
    )
    .await
    .expect("refresh run");
    assert!(refresh.refresh.complete && refresh.refresh.signs == 0, "{refresh:?}");
    assert_eq!(refresh.keys.usable_signers, 1, "{refresh:?}");

    // Before the status lists' schedule first ran, a list is not published yet: 503. Its constant input
    // names the job; one run publishes every list, which the public route then serves as stored.
    let unpublished = run(&h, "verify-status-list.json").await;
    assert_eq!(unpublished.status, 503, "{unpublished:?}");
    let job = edl_refresh::job_of(serde_json::from_str(&event_text("refresh-status-lists.json")).expect("the input"))
        .expect("a job");
    assert!(matches!(job, edl_refresh::Job::StatusLists), "{job:?}");
    let report = edl_refresh::publish_status_lists(&h.signing())
        .await
        .expect("status lists published");
    assert_eq!(report.published, h.services.status_lists.lists, "{report:?}");
    let list = run(&h, "verify-status-list.json").await;
    assert_eq!(
        (list.status, list.content_type.as_str()),
        (200, "application/statuslist+cwt"),
        "{list:?}"
    );
    let token = shared::credential::status_list::decode(&list.bytes).expect("a status list token");
    assert_eq!(token.token.uri, h.services.status_lists.uri(0));
}

/// Every file in events/ is exercised above; a new file without a case fails here.
#[test]
fn every_event_file_is_exercised() {
    let this = include_str!("events.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    for entry in std::fs::read_dir(dir).expect("events/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(
            this.contains(&format!("\"{name}\"")),
            "events/{name} is not run by tests/events.rs"
        );
    }
}

/// Runs `test` on a thread of its own with room for every handler at once: unoptimised builds keep each
/// awaited handler's locals on the polling thread's stack, and one test that runs all eleven functions'
/// handlers outgrows the 2 MiB a test thread gets (release builds, as deployed, need a fraction of it).
fn on_a_large_stack<F: std::future::Future<Output = ()>>(test: impl FnOnce() -> F + Send + 'static) {
    std::thread::Builder::new()
        .name("events".into())
        .stack_size(16 * 1024 * 1024)
        .spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime")
                .block_on(test())
        })
        .expect("a test thread")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

#[test]
fn events_through_handlers_on_embedded() {
    on_a_large_stack(|| async { every_event(embedded_harness().await).await });
}

#[test]
fn events_through_handlers_on_dynamodb() {
    on_a_large_stack(|| async { every_event(dynamo_harness().await).await });
}
