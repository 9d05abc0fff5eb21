//! One source of routes: template.yaml, the functions' route tables and the local server agree.

use edl_local_api::routes::{routes_from_template, TEMPLATE};
use std::collections::BTreeSet;

#[test]
fn template_routes_are_exactly_the_functions_routes() {
    let routes = routes_from_template(TEMPLATE).expect("template parses");
    let from_template: BTreeSet<(String, String)> = routes.iter().map(|r| (r.function.clone(), r.key())).collect();
    let mut served = BTreeSet::new();
    for key in edl_apply::ROUTES {
        served.insert(("apply".to_string(), key.to_string()));
    }
    for key in edl_admin::ROUTES {
        served.insert(("admin".to_string(), key.to_string()));
    }
    for key in edl_photo_upload::ROUTES {
        served.insert(("photo-upload".to_string(), key.to_string()));
    }
    for key in edl_review::ROUTES {
        served.insert(("review".to_string(), key.to_string()));
    }
    for key in edl_licence::ROUTES {
        served.insert(("licence".to_string(), key.to_string()));
    }
    for key in edl_verify::ROUTES {
        served.insert(("verify".to_string(), key.to_string()));
    }
    for key in edl_pass::ROUTES {
        served.insert(("pass".to_string(), key.to_string()));
    }
    assert_eq!(from_template, served, "template.yaml and the functions' ROUTES differ");
}

#[test]
fn every_route_has_an_event_file() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../events");
    let mut keys = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("events/") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("read");
        let event: serde_json::Value = serde_json::from_str(&text).expect("event JSON");
        if let Some(key) = event["routeKey"].as_str() {
            keys.insert(key.to_string());
        }
    }
    for route in routes_from_template(TEMPLATE).expect("template") {
        assert!(keys.contains(&route.key()), "no file in events/ for {}", route.key());
    }
}
