//! Every file in `events/` run through its real handler, as `sam local invoke -e events/<file>` would.

use edl_tests::{call, dynamo_harness, embedded_harness, Answer, Harness, ZHANG_WEI};
use shared::domain::application::{Actor, Application, Channel, Opening, PhotoSource};
use shared::domain::caller::Role;

/// The application id the `apply-*` events name.
const EVENT_APPLICATION: &str = "0193a5b0-0000-7000-8000-000000000001";

fn event_text(name: &str) -> String {
    let path = format!("{}/../events/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

async fn run(h: &Harness, name: &str) -> Answer {
    run_text(h, &event_text(name)).await
}

async fn run_text(h: &Harness, text: &str) -> Answer {
    let request = lambda_http::request::from_str(text).unwrap_or_else(|e| panic!("event does not parse: {e}"));
    call(&h.services, request).await
}

/// The application the `apply-*` events act on, as the holder opened it.
async fn store_event_application(h: &Harness) {
    let application = Application::open(Opening {
        id: EVENT_APPLICATION.into(),
        licence_number: ZHANG_WEI.into(),
        holder_id: ZHANG_WEI.into(),
        city_code: "110000".into(),
        channel: Channel::App,
        photo_source: PhotoSource::OnFile,
        opened_by: Actor {
            id: ZHANG_WEI.into(),
            role: Role::Holder,
        },
        office: None,
        at: h.services.now(),
    });
    h.services.records.create_application(&application).await.expect("store");
}

async fn every_event(h: Harness) {
    // Against records without that application, the id-bound events answer 404 problems.
    let missing = run(&h, "apply-get-application.json").await;
    assert_eq!((missing.status, missing.problem()), (404, "not-found"));

    let created = run(&h, "apply-create-application.json").await;
    assert_eq!(created.status, 201, "{created:?}");
    assert_eq!(created.body["state"], "awaiting_liveness");
    // The holder now has an open application; withdraw it through the API so the
    // events' own application can be stored next.
    let id = created.body["id"].as_str().expect("id").to_string();
    let withdrawn = run_text(&h, &event_text("apply-withdraw-application.json").replace(EVENT_APPLICATION, &id)).await;
    assert_eq!(withdrawn.body["state"], "withdrawn", "{withdrawn:?}");

    let counter = run(&h, "apply-create-counter-application.json").await;
    assert_eq!(counter.status, 201, "{counter:?}");
    assert_eq!((counter.body["channel"].as_str(), counter.body["state"].as_str()), (Some("counter"), Some("approved")));

    store_event_application(&h).await;
    let read = run(&h, "apply-get-application.json").await;
    assert_eq!((read.status, read.body["id"].as_str()), (200, Some(EVENT_APPLICATION)), "{read:?}");

    // The sample event carries a placeholder session: refused as such, nothing changed.
    let placeholder = run(&h, "apply-confirm-liveness.json").await;
    assert_eq!((placeholder.status, placeholder.problem()), (400, "liveness-session-invalid"));
    let session = h.keys.mint_liveness_session(ZHANG_WEI, 99.0, h.services.now().timestamp());
    let confirmed = run_text(&h, &event_text("apply-confirm-liveness.json").replace("dev-liveness.PLACEHOLDER", &session)).await;
    assert_eq!((confirmed.status, confirmed.body["state"].as_str()), (200, Some("approved")), "{confirmed:?}");
    let late = run(&h, "apply-withdraw-application.json").await;
    assert_eq!((late.status, late.problem()), (409, "illegal-transition"));

    let imported = run(&h, "admin-import-licences.json").await;
    assert_eq!((imported.status, imported.body["imported"].as_u64()), (200, Some(2)), "{imported:?}");
    let licence = run(&h, "admin-get-licence.json").await;
    assert_eq!((licence.status, licence.body["licence"]["number"].as_str()), (200, Some(ZHANG_WEI)), "{licence:?}");
    let changed = run(&h, "admin-change-licence.json").await;
    assert_eq!((changed.status, changed.body["licence"]["points"].as_u64()), (200, Some(6)), "{changed:?}");
    let rollout = run(&h, "admin-get-rollout.json").await;
    assert_eq!(rollout.status, 200, "{rollout:?}");
    assert!(rollout.body["cities"].as_array().is_some_and(|c| c.len() >= 28));
    let city = run(&h, "admin-switch-city.json").await;
    assert_eq!((city.status, city.body["availability"]["status"].as_str()), (200, Some("scheduled")), "{city:?}");
    let wave = run(&h, "admin-switch-wave.json").await;
    assert_eq!((wave.status, wave.body["id"].as_str()), (200, Some("2c")), "{wave:?}");
}

/// Every file in events/ is exercised above; a new file without a case fails here.
#[test]
fn every_event_file_is_exercised() {
    let this = include_str!("events.rs");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    for entry in std::fs::read_dir(dir).expect("events/") {
        let name = entry.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(this.contains(&format!("\"{name}\"")), "events/{name} is not run by tests/events.rs");
    }
}

#[tokio::test]
async fn events_through_handlers_on_embedded() {
    every_event(embedded_harness().await).await;
}

#[tokio::test]
async fn events_through_handlers_on_dynamodb() {
    every_event(dynamo_harness().await).await;
}
