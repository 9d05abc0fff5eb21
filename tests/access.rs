//! The access policy walked on the local API: every route of every row of `kernel::access::POLICY` is
//! called through its handler with its sample event (`events/`) once per role; a role outside the row is
//! refused for its role (403) and a role inside it is not. Every route the functions serve has a row or
//! is one of the public ones.

use edl_tests::embedded_harness;
use serde_json::Value;
use shared::kernel::access::POLICY;
use shared::kernel::caller::Role;

/// The routes anyone may call, without a token.
const PUBLIC: [&str; 4] = [
    "GET /truck/cities",
    "GET /truck/cities/{city}",
    "GET /.well-known/edl/trust",
    "GET /status-lists/{id}",
];

/// Every sample event of an HTTP route, with its file name.
fn route_events() -> Vec<(String, Value)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    let mut events = Vec::new();
    for entry in std::fs::read_dir(dir).expect("events/") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("event text");
        let event: Value = serde_json::from_str(&text).expect("event JSON");
        if event["routeKey"].is_string() {
            events.push((path.display().to_string(), event));
        }
    }
    events.sort_by(|a, b| a.0.cmp(&b.0));
    events
}

#[test]
fn every_served_route_has_a_row_or_is_public() {
    let served = edl_admin::ROUTES
        .iter()
        .chain(edl_apply::ROUTES)
        .chain(edl_licence::ROUTES)
        .chain(edl_pass::ROUTES)
        .chain(edl_photo_upload::ROUTES)
        .chain(edl_review::ROUTES)
        .chain(edl_verify::ROUTES);
    for route in served {
        let rows = POLICY.iter().filter(|r| r.routes.contains(route)).count();
        assert_eq!(rows + usize::from(PUBLIC.contains(route)), 1, "{route}");
    }
}

#[tokio::test]
async fn every_row_of_the_policy_for_every_role() {
    let h = embedded_harness().await;
    let events = route_events();
    let mut calls = 0;
    for rule in POLICY {
        for route in rule.routes {
            let (name, event) = events
                .iter()
                .find(|(_, e)| e["routeKey"] == *route)
                .unwrap_or_else(|| panic!("no sample event for {route}"));
            for role in Role::ALL {
                let mut event = event.clone();
                event["requestContext"]["authorizer"]["jwt"]["claims"]["roles"] = Value::String(role.as_str().into());
                let request = lambda_http::request::from_str(&event.to_string()).expect("event parses");
                let answer = h.call(request).await;
                let refused_for_role = answer.status == 403
                    && answer.body["detail"]
                        .as_str()
                        .is_some_and(|d| d.starts_with(rule.what) && d.contains("needs the role"));
                let allowed = rule.roles.contains(&role);
                assert_eq!(
                    refused_for_role,
                    !allowed,
                    "{route} ({name}) as {}: {answer:?}",
                    role.as_str()
                );
                calls += 1;
            }
        }
    }
    assert_eq!(
        calls,
        POLICY.iter().map(|r| r.routes.len()).sum::<usize>() * Role::ALL.len()
    );
}
