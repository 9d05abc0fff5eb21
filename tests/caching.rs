//! What changes rarely is cached per function instance (issue 13 item 2): the rollout plan, the truck rules and the
//! trust material are read from the records at most once per staleness period, judged by the injected clock; a
//! write through the instance is seen by it at once, and by another instance within the staleness. Public reads
//! carry HTTP caching (`public, max-age`, an ETag answered by 304), personal ones `no-store`. Nothing is seeded:
//! on an empty table the shipped plan and rules answer, and an administrator's first change stores them (issue 18).

use chrono::Duration;
use edl_tests::faulty::FaultyRecords;
use edl_tests::{
    admin, get_request, harness, holder, json_request, on_both_adapters, request, Answer, Harness, ZHANG_WEI,
};
use serde_json::{json, Value};
use shared::adapters::Records;
use shared::crypto::LocalSigner;
use shared::register::rollout::Plan;
use shared::service::keys::Authority;
use shared::service::verification::TrustCache;
use shared::service::{InstanceCaches, Services};
use shared::truck::rules::TruckRulebook;
use std::sync::Arc;

/// The staleness every instance uses unless configured (`EDL_CACHE_SECONDS`).
const STALENESS: i64 = shared::kernel::cache::DEFAULT_STALENESS_SECONDS;

/// A harness over the store wrapped to count its reads.
async fn counted(records: Arc<dyn Records>) -> (Harness, Arc<FaultyRecords>) {
    let counted = Arc::new(FaultyRecords::new(records));
    let h = harness(counted.clone(), 5).await;
    (h, counted)
}

/// Another function instance over the same records and clock: its own caches.
fn another_instance(h: &Harness) -> Services {
    let other = h.services.clone();
    let pin = h.services.trust_cache.iaca_pin();
    let trust = TrustCache::default();
    if let Some(pin) = pin {
        trust.pin_iaca(pin);
    }
    Services {
        caches: Arc::new(InstanceCaches::default()),
        trust_cache: Arc::new(trust),
        ..other
    }
}

fn availability_of(cities: &Answer, code: &str) -> Value {
    cities.body["cities"]
        .as_array()
        .and_then(|cities| cities.iter().find(|c| c["city"] == code))
        .map(|c| c["availability"].clone())
        .unwrap_or_else(|| panic!("no city {code}: {cities:?}"))
}

async fn truck_cities(h: &Harness) -> Answer {
    let answer = h.call(request("GET /truck/cities", &[], None, None, None)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    answer
}

/// `GET /truck/cities`, every city's rules and every truck check read `TRUCKRULES` once per staleness period.
async fn truck_rules_are_read_once_per_staleness(records: Arc<dyn Records>) {
    let (h, counted) = counted(records).await;
    let before = truck_cities(&h).await;
    assert_eq!(counted.calls("truck_rules"), 1);
    let rules = h
        .call(request(
            "GET /truck/cities/{city}",
            &[("city", "110000")],
            None,
            None,
            None,
        ))
        .await;
    assert_eq!(rules.status, 200, "{rules:?}");
    h.clock.advance(Duration::seconds(STALENESS - 1));
    truck_cities(&h).await;
    assert_eq!(
        (counted.calls("truck_rules"), counted.calls("truck_rules_of")),
        (1, 0),
        "reads within the staleness make no store call"
    );
    h.clock.advance(Duration::seconds(1));
    truck_cities(&h).await;
    assert_eq!(counted.calls("truck_rules"), 2, "a read past the staleness reads again");

    // Another instance keeps what it read; a switch through this instance is seen by it at once.
    let other = another_instance(&h);
    let seen_elsewhere = other.truck_cities().await.expect("cities");
    let switched = h
        .call(json_request(
            "PUT /admin/truck/rollout/cities/{city}",
            &[("city", "440800")],
            admin(),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!(switched.status, 200, "{switched:?}");
    let after = truck_cities(&h).await;
    assert_ne!(availability_of(&after, "440800"), availability_of(&before, "440800"));
    assert_eq!(availability_of(&after, "440800")["status"], "live", "{after:?}");
    let zhanjiang = |list: &shared::service::passes::CityList| {
        list.cities
            .iter()
            .find(|c| c.city == "440800")
            .map(|c| c.availability)
            .expect("zhanjiang")
    };
    let still = other.truck_cities().await.expect("cities");
    assert_eq!(zhanjiang(&still), zhanjiang(&seen_elsewhere), "within the staleness");
    h.clock.advance(Duration::seconds(STALENESS));
    let later = other.truck_cities().await.expect("cities");
    assert!(
        matches!(zhanjiang(&later), shared::kernel::golive::Availability::Live { .. }),
        "past the staleness every instance sees the switch: {later:?}"
    );
}

/// Every application reads the plan; it is read from `ROLLOUT` once per staleness period.
async fn rollout_is_read_once_per_staleness(records: Arc<dyn Records>) {
    let (h, counted) = counted(records).await;
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "photoSource": "on_file" }),
        ))
        .await;
    assert_eq!(opened.status, 201, "{opened:?}");
    assert_eq!((counted.calls("cities"), counted.calls("waves")), (1, 1));
    let plan = h.services.rollout_plan().await.expect("plan");
    assert_eq!(plan.cities.len(), Plan::default_plan().cities.len());
    assert_eq!(
        (
            counted.calls("cities"),
            counted.calls("waves"),
            counted.calls("city"),
            counted.calls("wave")
        ),
        (1, 1, 0, 0),
        "one read of the plan per staleness period, none per application"
    );
    let other = another_instance(&h);
    let zhanjiang = |plan: &Plan| plan.city("440800").and_then(|c| c.go_live_at);
    assert_eq!(zhanjiang(&other.rollout_plan().await.expect("plan")), None);

    let switched = h
        .call(json_request(
            "PUT /admin/rollout/cities/{city}",
            &[("city", "440800")],
            admin(),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!(switched.status, 200, "{switched:?}");
    assert_eq!(
        switched.body["version"], 2,
        "the shipped city stood at version 1: {switched:?}"
    );
    assert!(
        zhanjiang(&h.services.rollout_plan().await.expect("plan")).is_some(),
        "the instance that switched sees it at once"
    );
    assert_eq!(
        zhanjiang(&other.rollout_plan().await.expect("plan")),
        None,
        "another instance within the staleness"
    );
    h.clock.advance(Duration::seconds(STALENESS));
    assert!(zhanjiang(&other.rollout_plan().await.expect("plan")).is_some());
}

/// The trust material: read once per staleness period; a signer added through the instance is trusted at once.
async fn trust_is_read_once_per_staleness(records: Arc<dyn Records>) {
    let (mut h, counted) = counted(records).await;
    let signer = LocalSigner::new();
    signer.generate("iaca");
    signer.generate("ds");
    h.ports.signer = Arc::new(signer);
    h.signing()
        .install_iaca(&Authority::default(), "iaca")
        .await
        .expect("IACA");
    let document = h.services.trust_document().await.expect("trust");
    assert!(document.document_signers.is_empty());
    let reads = counted.calls("trust");
    h.services.trust_document().await.expect("trust");
    h.services.trust_set().await.expect("trust");
    assert_eq!(counted.calls("trust"), reads, "no store call within the staleness");
    h.signing()
        .add_document_signer(&Authority::default(), "ds")
        .await
        .expect("document signer");
    let document = h.services.trust_document().await.expect("trust");
    assert_eq!(
        document.document_signers.len(),
        1,
        "a signer added here is seen at once"
    );
    let reads = counted.calls("trust");
    h.clock.advance(Duration::seconds(STALENESS));
    h.services.trust_set().await.expect("trust");
    assert_eq!(counted.calls("trust"), reads + 1, "read again past the staleness");
}

/// Public reads say how long they may be kept and answer a known ETag with 304; personal ones are not stored.
async fn public_reads_are_cacheable_personal_ones_are_not(records: Arc<dyn Records>) {
    let h = harness(records, 5).await;
    let max_age = format!("public, max-age={STALENESS}");
    for (route, parameters) in [
        ("GET /truck/cities", vec![]),
        ("GET /truck/cities/{city}", vec![("city", "110000")]),
        ("GET /.well-known/edl/trust", vec![]),
    ] {
        let first = h.call(get_request(route, &parameters, None, "", &[])).await;
        assert_eq!(first.status, 200, "{first:?}");
        assert_eq!(first.cache_control, max_age, "{route}");
        let etag = first.etag.clone().unwrap_or_else(|| panic!("{route}: no ETag"));
        h.clock.advance(Duration::seconds(1));
        let again = h
            .call(get_request(route, &parameters, None, "", &[("if-none-match", &etag)]))
            .await;
        assert_eq!(again.status, 304, "{route}: {again:?}");
        assert!(again.bytes.is_empty(), "a 304 has no body");
        assert_eq!(
            (again.etag.as_deref(), again.cache_control.as_str()),
            (Some(etag.as_str()), max_age.as_str())
        );
        let other = h
            .call(get_request(
                route,
                &parameters,
                None,
                "",
                &[("if-none-match", "W/\"other\"")],
            ))
            .await;
        assert_eq!(other.status, 200, "{route}: another tag gets the answer");
    }
    // A change makes a new tag.
    let before = h.call(get_request("GET /truck/cities", &[], None, "", &[])).await;
    let switched = h
        .call(json_request(
            "PUT /admin/truck/rollout/cities/{city}",
            &[("city", "440800")],
            admin(),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!(switched.status, 200, "{switched:?}");
    assert_eq!(
        switched.cache_control, "no-store",
        "an administrator's answer is not stored"
    );
    let etag = before.etag.expect("etag");
    let after = h
        .call(get_request(
            "GET /truck/cities",
            &[],
            None,
            "",
            &[("if-none-match", &etag)],
        ))
        .await;
    assert_eq!(after.status, 200, "{after:?}");
    assert_ne!(after.etag.as_deref(), Some(etag.as_str()));

    // Personal answers and problems: never stored.
    let opened = h
        .call(json_request(
            "POST /applications",
            &[],
            holder(ZHANG_WEI),
            &json!({ "photoSource": "on_file" }),
        ))
        .await;
    assert_eq!((opened.status, opened.cache_control.as_str()), (201, "no-store"));
    let id = opened.body["id"].as_str().expect("id").to_string();
    let read = h
        .call(request(
            "GET /applications/{id}",
            &[("id", &id)],
            holder(ZHANG_WEI),
            None,
            None,
        ))
        .await;
    assert_eq!((read.status, read.cache_control.as_str()), (200, "no-store"));
    let passes = h
        .call(get_request("GET /truck/passes", &[], holder(ZHANG_WEI), "", &[]))
        .await;
    assert_eq!((passes.status, passes.cache_control.as_str()), (200, "no-store"));
    let missing = h
        .call(request(
            "GET /truck/cities/{city}",
            &[("city", "999999")],
            None,
            None,
            None,
        ))
        .await;
    assert_eq!((missing.status, missing.cache_control.as_str()), (404, "no-store"));
}

/// Nothing is seeded (no function writes at its cold start): on an empty table the first requests answer with the
/// shipped plan and rules and write nothing; an administrator's first switch and change store the shipped record.
async fn an_empty_table_answers_with_the_shipped_plan_and_rules(records: Arc<dyn Records>) {
    let counted = Arc::new(FaultyRecords::new(records.clone()));
    let h = harness(counted.clone(), 0).await;
    let cities = truck_cities(&h).await;
    let listed: Vec<&str> = cities.body["cities"]
        .as_array()
        .expect("cities")
        .iter()
        .filter_map(|c| c["city"].as_str())
        .collect();
    let mut shipped: Vec<String> = TruckRulebook::shipped().cities.into_iter().map(|c| c.city).collect();
    shipped.sort();
    assert_eq!(listed, shipped, "every shipped city, by code as the records list them");
    let rollout = h.call(request("GET /admin/rollout", &[], admin(), None, None)).await;
    assert_eq!(rollout.status, 200, "{rollout:?}");
    let plan = Plan::default_plan();
    assert_eq!(rollout.body["cities"].as_array().map(Vec::len), Some(plan.cities.len()));
    assert_eq!(rollout.body["waves"].as_array().map(Vec::len), Some(plan.waves.len()));
    assert!(rollout.body["cities"]
        .as_array()
        .expect("cities")
        .iter()
        .all(|c| c["version"] == 1));
    assert_eq!(
        (counted.calls("seed_rollout"), counted.calls("seed_truck_rules")),
        (0, 0)
    );
    assert!(
        records.truck_rules().await.expect("rules").is_empty(),
        "reads wrote nothing"
    );
    assert!(
        records.cities().await.expect("cities").is_empty(),
        "reads wrote nothing"
    );

    // The administrator's first change of a shipped city stores it, at version 2, once.
    let rules = h
        .call(request(
            "GET /admin/truck/cities/{city}",
            &[("city", "440800")],
            admin(),
            None,
            None,
        ))
        .await;
    assert_eq!(rules.status, 200, "{rules:?}");
    let shipped = &rules.body["rules"];
    let change = json!({
        "zones": shipped["zones"],
        "restrictedHours": shipped["restrictedHours"],
        "bannedVehicleTypes": shipped["bannedVehicleTypes"],
        "minEmission": shipped["minEmission"],
        "passTypes": shipped["passTypes"],
        "expectedRulesVersion": shipped["rulesVersion"],
        "reason": "first change, nothing seeded",
    });
    let changed = h
        .call(json_request(
            "PUT /admin/truck/cities/{city}",
            &[("city", "440800")],
            admin(),
            &change,
        ))
        .await;
    assert_eq!(changed.status, 200, "{changed:?}");
    assert_eq!(changed.body["rules"]["version"], 2, "{changed:?}");
    let stored = records.truck_rules_of("440800").await.expect("read").expect("stored");
    assert_eq!(stored.version, 2);
    let replayed = h
        .call(json_request(
            "PUT /admin/truck/cities/{city}",
            &[("city", "440800")],
            admin(),
            &change,
        ))
        .await;
    assert_eq!(replayed.status, 409, "the same expected version twice: {replayed:?}");
    let switched = h
        .call(json_request(
            "PUT /admin/rollout/waves/{wave}",
            &[("wave", "2c")],
            admin(),
            &json!({ "goLiveAt": "now" }),
        ))
        .await;
    assert_eq!(
        (switched.status, &switched.body["version"]),
        (200, &json!(2)),
        "{switched:?}"
    );
    assert_eq!(records.wave("2c").await.expect("read").map(|w| w.version), Some(2));
}

on_both_adapters!(|records| Arc::new(records) as Arc<dyn Records>;
    truck_rules_are_read_once_per_staleness,
    rollout_is_read_once_per_staleness,
    trust_is_read_once_per_staleness,
    public_reads_are_cacheable_personal_ones_are_not,
    an_empty_table_answers_with_the_shipped_plan_and_rules,
);
