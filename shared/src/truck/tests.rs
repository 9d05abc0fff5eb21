//! The truck pass's rules, one suite over its concepts: refusals, the pass's life, the here-and-now decision, views.

use super::clock::TimeWindow;
use super::decision::*;
use super::pass::*;
use super::request::*;
use super::rules::*;
use super::vehicle::*;
use super::views::*;
use crate::kernel::calendar::WorkingCalendar;
use crate::kernel::caller::{Actor, Role};
use crate::kernel::golive::Availability;
use chrono::Duration;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
}

fn day(s: &str) -> NaiveDate {
    s.parse().expect("date")
}

fn t(s: &str) -> NaiveTime {
    s.parse().expect("time of day")
}

fn window(from: &str, to: &str) -> TimeWindow {
    TimeWindow {
        from: t(from),
        to: t(to),
    }
}

fn actor(id: &str, role: Role) -> Actor {
    Actor { id: id.into(), role }
}

/// A Beijing-like city: restricted 06:00–23:00 on working days and
/// 09:00–17:00 on rest days; "shared" passes may overlap each other.
fn rules() -> CityTruckRules {
    serde_json::from_value(serde_json::json!({
        "city": "110000",
        "name": "北京市",
        "batch": 1,
        "goLiveAt": "2026-11-20T00:00:00+08:00",
        "zones": [
            {"id": "ring-5", "name": "五环内", "description": "五环路以内"},
            {"id": "ring-6", "name": "六环内", "description": "五环至六环"}
        ],
        "restrictedHours": [
            {"dayType": "working_day", "from": "06:00", "to": "23:00"},
            {"dayType": "rest_day", "from": "09:00", "to": "17:00"}
        ],
        "bannedVehicleTypes": ["tractor_trailer", "hazardous_goods"],
        "minEmission": "china_5",
        "passTypes": [
            {"id": "short", "name": "临时通行证", "maxDays": 7, "needsReview": false, "allowOverlap": false},
            {"id": "long", "name": "长期通行证", "maxDays": 90, "needsReview": true, "allowOverlap": false},
            {"id": "shared", "name": "共享通行证", "maxDays": 30, "needsReview": false, "allowOverlap": true}
        ],
        "rulesVersion": 3
    }))
    .expect("rules")
}

/// Wednesday 2026-11-25, 10:00 in Beijing.
fn now() -> DateTime<Utc> {
    at("2026-11-25T10:00:00+08:00")
}

fn request() -> PassRequest {
    PassRequest {
        plate: "京A12345".into(),
        vehicle_type: VehicleType::MediumTruck,
        emission: EmissionStandard::China6a,
        owner_id: "11010519900307451X".into(),
        fleet_id: Some("fleet-1".into()),
        city: "110000".into(),
        pass_type: "short".into(),
        zones: vec!["ring-5".into()],
        valid_from: day("2026-11-25"),
        valid_to: day("2026-11-30"),
        windows: vec![window("06:00", "12:00"), window("20:00", "00:00")],
    }
}

fn opening() -> PassOpening {
    PassOpening {
        id: "pass-1".into(),
        serial: "TP-0001".into(),
        by: actor("11010519900307451X", Role::Holder),
        at: now(),
    }
}

fn codes(reasons: &[Refusal]) -> Vec<&'static str> {
    reasons.iter().map(|r| r.code).collect()
}

fn summary(id: &str, pass_type: &str, from: &str, to: &str) -> PassSummary {
    PassSummary {
        id: id.into(),
        plate: "京A12345".into(),
        city: "110000".into(),
        pass_type: pass_type.into(),
        valid_from: day(from),
        valid_to: day(to),
        status: PassStatus::Active,
    }
}

fn active_pass() -> TruckPass {
    TruckPass::open(&rules(), &request(), &[], opening()).expect("issued")
}

/// 2026-11-26 (Thursday) is a holiday, 2026-11-29 (Sunday) a make-up working day.
fn calendar() -> WorkingCalendar {
    WorkingCalendar::new([day("2026-11-26")], [day("2026-11-29")])
}

#[test]
fn a_good_request_has_no_refusal() {
    assert_eq!(refusals(&rules(), &request(), &[], now()), vec![]);
}

#[test]
fn every_refusal_is_reported_at_once() {
    let mut rules = rules();
    rules.go_live_at = None;
    let request = PassRequest {
        plate: "AB12345".into(),
        vehicle_type: VehicleType::HazardousGoods,
        emission: EmissionStandard::China4,
        owner_id: "x".into(),
        fleet_id: None,
        city: "310000".into(),
        pass_type: "monthly".into(),
        zones: vec!["ring-5".into(), "ring-9".into(), "ring-9".into(), "inner".into()],
        valid_from: day("2026-11-20"),
        valid_to: day("2026-11-19"),
        windows: vec![window("22:00", "06:00"), window("08:00", "08:00")],
    };
    let codes = codes(&refusals(&rules, &request, &[], now()));
    assert_eq!(
        codes,
        vec![
            "city-mismatch",
            "city-not-live",
            "plate-invalid",
            "vehicle-type-banned",
            "emission-below-minimum",
            "unknown-pass-type",
            "unknown-zone",
            "unknown-zone",
            "dates-invalid",
            "dates-invalid",
            "window-invalid",
            "window-invalid",
        ]
    );
}

#[test]
fn each_refusal_alone() {
    let check = |change: &dyn Fn(&mut PassRequest), expected: &[&str]| {
        let mut request = request();
        change(&mut request);
        assert_eq!(
            codes(&refusals(&rules(), &request, &[], now())),
            expected,
            "{request:?}"
        );
    };
    check(&|r| r.plate = "京a12345".into(), &["plate-invalid"]);
    check(
        &|r| r.vehicle_type = VehicleType::TractorTrailer,
        &["vehicle-type-banned"],
    );
    check(&|r| r.emission = EmissionStandard::China4, &["emission-below-minimum"]);
    check(&|r| r.pass_type = "year".into(), &["unknown-pass-type"]);
    check(&|r| r.zones = vec![], &["no-zone"]);
    check(
        &|r| r.zones = vec!["ring-5".into(), "tiananmen".into()],
        &["unknown-zone"],
    );
    check(&|r| r.valid_from = day("2026-11-24"), &["dates-invalid"]);
    check(&|r| r.valid_to = day("2026-11-24"), &["dates-invalid"]);
    // Seven days counting both ends is the limit of a short pass.
    check(&|r| r.valid_to = day("2026-12-01"), &[]);
    check(&|r| r.valid_to = day("2026-12-02"), &["too-long"]);
    check(&|r| r.windows = vec![], &["no-window"]);
    check(
        &|r| r.windows = vec![window("08:00", "09:00"); 5],
        &["too-many-windows"],
    );
    check(&|r| r.windows = vec![window("12:00", "11:00")], &["window-invalid"]);
    // A window crossing midnight is refused; the same hours as two windows are not.
    check(&|r| r.windows = vec![window("22:00", "02:00")], &["window-invalid"]);
    check(
        &|r| r.windows = vec![window("22:00", "00:00"), window("00:00", "02:00")],
        &[],
    );
    check(&|r| r.windows = vec![window("00:00", "00:00")], &[]);
}

#[test]
fn city_not_live_says_when_it_opens() {
    let mut rules = rules();
    rules.go_live_at = Some(at("2026-12-01T00:00:00+08:00"));
    let reasons = refusals(&rules, &request(), &[], now());
    assert_eq!(codes(&reasons), vec!["city-not-live"]);
    assert!(
        reasons[0].message.contains("2026-12-01 00:00"),
        "{}",
        reasons[0].message
    );
    rules.go_live_at = None;
    let reasons = refusals(&rules, &request(), &[], now());
    assert!(reasons[0].message.contains("not joined"), "{}", reasons[0].message);
}

#[test]
fn today_is_the_local_date() {
    // 07:00 on the 25th in Beijing is still the 24th in UTC: a pass from
    // the 25th does not begin in the past, one from the 24th does.
    let early = at("2026-11-25T07:00:00+08:00");
    assert!(refusals(&rules(), &request(), &[], early).is_empty());
    let mut request = request();
    request.valid_from = day("2026-11-24");
    assert_eq!(codes(&refusals(&rules(), &request, &[], early)), vec!["dates-invalid"]);
}

#[test]
fn overlap_is_refused_when_either_pass_forbids_it() {
    let rules = rules();
    // The new short pass forbids overlap: an existing pass intersecting on
    // either side (or inside) refuses it, one merely adjacent does not.
    for (from, to) in [
        ("2026-11-20", "2026-11-25"),
        ("2026-11-30", "2026-12-05"),
        ("2026-11-27", "2026-11-27"),
    ] {
        let existing = [summary("old", "short", from, to)];
        let reasons = refusals(&rules, &request(), &existing, now());
        assert_eq!(codes(&reasons), vec!["overlapping-pass"], "{from}..{to}");
        assert!(reasons[0].message.contains("old"));
    }
    let adjacent = [
        summary("before", "short", "2026-11-18", "2026-11-24"),
        summary("after", "short", "2026-12-01", "2026-12-07"),
    ];
    assert!(refusals(&rules, &request(), &adjacent, now()).is_empty());

    // Two passes of a type that allows overlap may run together...
    let mut shared = request();
    shared.pass_type = "shared".into();
    let existing = [summary("old", "shared", "2026-11-20", "2026-12-10")];
    assert!(refusals(&rules, &shared, &existing, now()).is_empty());
    // ...but not alongside one that forbids it, whichever came first.
    let existing = [summary("old", "short", "2026-11-26", "2026-11-27")];
    assert_eq!(
        codes(&refusals(&rules, &shared, &existing, now())),
        vec!["overlapping-pass"]
    );
    let existing = [summary("old", "shared", "2026-11-26", "2026-11-27")];
    assert_eq!(
        codes(&refusals(&rules, &request(), &existing, now())),
        vec!["overlapping-pass"]
    );
}

#[test]
fn only_live_passes_of_the_same_vehicle_and_city_count_against_overlap() {
    let by = actor("admin-1", Role::Admin);
    let mut others = Vec::new();
    for status in [
        PassStatus::Revoked {
            at: now(),
            reason: "x".into(),
            by: by.clone(),
        },
        PassStatus::Rejected {
            at: now(),
            reason: "x".into(),
            by: by.clone(),
        },
        PassStatus::Expired { at: now() },
    ] {
        let mut s = summary("dead", "short", "2026-11-25", "2026-11-26");
        s.status = status;
        others.push(s);
    }
    let mut other_plate = summary("other-plate", "short", "2026-11-25", "2026-11-26");
    other_plate.plate = "京B54321".into();
    let mut other_city = summary("other-city", "short", "2026-11-25", "2026-11-26");
    other_city.city = "310000".into();
    others.extend([other_plate, other_city]);
    assert!(refusals(&rules(), &request(), &others, now()).is_empty());
    let mut pending = summary("pending", "long", "2026-11-25", "2026-11-26");
    pending.status = PassStatus::PendingReview;
    others.push(pending);
    assert_eq!(
        codes(&refusals(&rules(), &request(), &others, now())),
        vec!["overlapping-pass"]
    );
}

#[test]
fn plates() {
    assert!(plate_is_valid("京A12345"));
    assert!(plate_is_valid("粤B123456"), "new energy");
    assert!(plate_is_valid("川AD1234X"));
    assert!(!plate_is_valid("AB12345"));
    assert!(!plate_is_valid("京a12345"));
    assert!(!plate_is_valid("京A1234"));
    assert!(!plate_is_valid("京A1234567"));
    assert!(!plate_is_valid("京A12 45"));
    assert!(!plate_is_valid("台A12345"));
    assert!(!plate_is_valid("京"));
    assert!(!plate_is_valid(""));
}

#[test]
fn ordering_supports_at_least_comparisons() {
    assert!(EmissionStandard::China3 < EmissionStandard::China4);
    assert!(EmissionStandard::China6a < EmissionStandard::China6b);
    assert!(EmissionStandard::NewEnergy > EmissionStandard::China6b);
    assert!(VehicleType::LightTruck < VehicleType::HeavyTruck);
    let codes: Vec<String> = EmissionStandard::ALL
        .iter()
        .map(|e| {
            serde_json::to_value(e)
                .expect("json")
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        codes,
        ["china_3", "china_4", "china_5", "china_6a", "china_6b", "new_energy"]
    );
    for e in EmissionStandard::ALL {
        assert_eq!(serde_json::to_value(e).expect("json"), e.code());
    }
    for v in VehicleType::ALL {
        assert_eq!(serde_json::to_value(v).expect("json"), v.code());
    }
}

#[test]
fn automatic_types_are_issued_at_once_reviewed_ones_wait() {
    let pass = active_pass();
    assert_eq!(pass.status, PassStatus::Active);
    assert_eq!(pass.issued_at, Some(now()));
    assert_eq!(pass.rules_version, 3);
    assert_eq!(pass.version, 1);
    assert_eq!(pass.history.len(), 2);

    let mut long = request();
    long.pass_type = "long".into();
    long.zones = vec!["ring-5".into(), "ring-6".into(), "ring-5".into()];
    let pass = TruckPass::open(&rules(), &long, &[], opening()).expect("queued");
    assert_eq!(pass.status, PassStatus::PendingReview);
    assert_eq!(pass.issued_at, None);
    assert_eq!(pass.zones, vec!["ring-5", "ring-6"]);

    let mut bad = request();
    bad.vehicle_type = VehicleType::HazardousGoods;
    let reasons = TruckPass::open(&rules(), &bad, &[], opening()).expect_err("refused");
    assert_eq!(codes(&reasons), vec!["vehicle-type-banned"]);
}

#[test]
fn transitions() {
    let reviewer = actor("reviewer-1", Role::Reviewer);
    let admin = actor("admin-1", Role::Admin);
    let mut long = request();
    long.pass_type = "long".into();
    let pending = TruckPass::open(&rules(), &long, &[], opening()).expect("queued");

    // Approve: only a pending pass, and only before its last day has ended.
    let mut pass = pending.clone();
    pass.approve(&reviewer, at("2026-11-25T11:00:00+08:00"))
        .expect("approve");
    assert_eq!(pass.status, PassStatus::Active);
    assert_eq!(pass.issued_at, Some(at("2026-11-25T11:00:00+08:00")));
    let err = pass.approve(&reviewer, now()).expect_err("twice");
    assert_eq!(err.from, "active");
    assert_eq!(err.to_string(), "Cannot approve a pass that is active.");
    let mut late = pending.clone();
    assert!(late.approve(&reviewer, at("2026-12-01T00:00:00+08:00")).is_err());

    // Reject: only a pending pass, with a reason.
    let mut rejected = pending.clone();
    assert!(rejected.reject("  ", &reviewer, now()).is_err());
    rejected
        .reject("no delivery contract", &reviewer, now())
        .expect("reject");
    assert!(matches!(&rejected.status, PassStatus::Rejected { reason, .. } if reason == "no delivery contract"));
    assert!(rejected.approve(&reviewer, now()).is_err());
    assert!(rejected.revoke("x", &admin, now()).is_err());
    assert!(rejected.expire(at("2026-12-02T00:00:00+08:00")).is_err());
    assert!(pass.reject("x", &reviewer, now()).is_err());

    // Revoke: only an active pass, with a reason.
    let mut pending_revoke = pending.clone();
    assert_eq!(
        pending_revoke.revoke("x", &admin, now()).expect_err("pending").from,
        "pending_review"
    );
    assert!(pass.revoke("", &admin, now()).is_err());
    pass.revoke("forged delivery contract", &admin, at("2026-11-26T09:00:00+08:00"))
        .expect("revoke");
    assert_eq!(pass.status.code(), "revoked");
    assert!(pass.revoke("again", &admin, now()).is_err());
    assert!(pass.expire(at("2026-12-02T00:00:00+08:00")).is_err());

    // Expire: from the local midnight after the last day, active or pending.
    let mut active = active_pass();
    assert_eq!(active.ends_at(), at("2026-12-01T00:00:00+08:00"));
    assert!(active.expire(at("2026-11-30T23:59:59+08:00")).is_err());
    active.expire(at("2026-12-01T00:00:00+08:00")).expect("expire");
    assert_eq!(
        active.status,
        PassStatus::Expired {
            at: at("2026-12-01T00:00:00+08:00")
        }
    );
    assert!(active.expire(at("2026-12-02T00:00:00+08:00")).is_err());
    assert!(active.revoke("x", &admin, now()).is_err());
    let mut stale = pending;
    stale.expire(at("2026-12-01T03:00:00+08:00")).expect("expire pending");
    assert_eq!(stale.history.last().map(|e| e.action.as_str()), Some("expired"));
}

#[test]
fn zone_and_time_at_the_boundaries() {
    let (pass, rules, calendar) = (active_pass(), rules(), calendar());
    let decide = |zone: &str, when: &str| allowed_here_and_now(&pass, &rules, &calendar, zone, at(when));
    let reason = |zone: &str, when: &str| decide(zone, when).reason;

    // Wednesday: restricted 06:00–23:00; the pass has 06:00–12:00 and 20:00–24:00.
    assert_eq!(reason("ring-5", "2026-11-25T06:00:00+08:00"), "within-pass");
    assert_eq!(reason("ring-5", "2026-11-25T11:59:59+08:00"), "within-pass");
    assert_eq!(reason("ring-5", "2026-11-25T12:00:00+08:00"), "outside-window");
    assert_eq!(reason("ring-5", "2026-11-25T19:59:59+08:00"), "outside-window");
    assert_eq!(reason("ring-5", "2026-11-25T20:00:00+08:00"), "within-pass");
    assert_eq!(reason("ring-5", "2026-11-25T22:59:59+08:00"), "within-pass");
    // The restriction's own boundaries: start inclusive, end exclusive.
    assert_eq!(reason("ring-5", "2026-11-25T05:59:59+08:00"), "no-restriction-now");
    assert_eq!(reason("ring-5", "2026-11-25T23:00:00+08:00"), "no-restriction-now");
    // Another zone of the city, or one it does not have.
    assert_eq!(reason("ring-6", "2026-11-25T10:00:00+08:00"), "zone-not-covered");
    let unknown = decide("ring-9", "2026-11-25T10:00:00+08:00");
    assert!(!unknown.allowed);
    assert_eq!(unknown.reason, "unknown-zone");
    // Dates: the first and last day are covered, the days around them not.
    assert_eq!(reason("ring-5", "2026-11-24T10:00:00+08:00"), "outside-dates");
    assert_eq!(reason("ring-5", "2026-11-30T21:00:00+08:00"), "within-pass");
    assert_eq!(reason("ring-5", "2026-12-01T10:00:00+08:00"), "outside-dates");

    let within = decide("ring-5", "2026-11-25T10:00:00+08:00");
    assert!(within.allowed);
    assert!(within.message.contains("06:00–12:00"), "{}", within.message);
    let outside = decide("ring-5", "2026-11-25T13:00:00+08:00");
    assert!(!outside.allowed);
    assert!(outside.message.contains("20:00–24:00"), "{}", outside.message);
    assert!(decide("ring-6", "2026-11-25T05:00:00+08:00").allowed);
}

#[test]
fn rest_days_and_working_days_by_the_calendar() {
    let (pass, rules, calendar) = (active_pass(), rules(), calendar());
    let reason = |when: &str| allowed_here_and_now(&pass, &rules, &calendar, "ring-5", at(when)).reason;
    // Thursday the 26th is a holiday: rest-day hours 09:00–17:00.
    assert_eq!(reason("2026-11-26T08:00:00+08:00"), "no-restriction-now");
    assert_eq!(reason("2026-11-26T13:00:00+08:00"), "outside-window");
    assert_eq!(reason("2026-11-26T17:00:00+08:00"), "no-restriction-now");
    // The same hours on a plain working Friday are restricted.
    assert_eq!(reason("2026-11-27T08:00:00+08:00"), "within-pass");
    assert_eq!(reason("2026-11-27T17:00:00+08:00"), "outside-window");
    // Saturday is a rest day; Sunday the 29th a make-up working day.
    assert_eq!(reason("2026-11-28T18:00:00+08:00"), "no-restriction-now");
    assert_eq!(reason("2026-11-29T18:00:00+08:00"), "outside-window");
    // The local day decides: Friday 07:00 in Beijing is Thursday (the holiday) in UTC.
    assert_eq!(reason("2026-11-27T07:00:00+08:00"), "within-pass");
    // Outside restricted hours it is allowed whatever the pass's state.
    let mut revoked = pass.clone();
    revoked
        .revoke("x", &actor("admin-1", Role::Admin), now())
        .expect("revoke");
    let night = allowed_here_and_now(&revoked, &rules, &calendar, "ring-5", at("2026-11-28T20:00:00+08:00"));
    assert!(night.allowed);
    assert_eq!(night.reason, "no-restriction-now");
}

#[test]
fn the_pass_state_decides_within_restricted_hours() {
    let (rules, calendar) = (rules(), calendar());
    let when = at("2026-11-25T10:00:00+08:00");
    let admin = actor("admin-1", Role::Admin);
    let mut revoked = active_pass();
    revoked.revoke("forged contract", &admin, now()).expect("revoke");
    let answer = allowed_here_and_now(&revoked, &rules, &calendar, "ring-5", when);
    assert_eq!((answer.allowed, answer.reason), (false, "revoked"));
    assert!(answer.message.contains("forged contract"));

    let mut expired = active_pass();
    expired.valid_to = day("2026-11-25");
    expired.expire(at("2026-11-26T00:00:00+08:00")).expect("expire");
    let answer = allowed_here_and_now(&expired, &rules, &calendar, "ring-5", at("2026-11-26T10:00:00+08:00"));
    assert_eq!((answer.allowed, answer.reason), (false, "expired"));

    let mut long = request();
    long.pass_type = "long".into();
    let pending = TruckPass::open(&rules, &long, &[], opening()).expect("queued");
    let answer = allowed_here_and_now(&pending, &rules, &calendar, "ring-5", when);
    assert_eq!((answer.allowed, answer.reason), (false, "not-active"));

    let mut elsewhere = rules.clone();
    elsewhere.city = "310000".into();
    elsewhere.name = "上海市".into();
    let answer = allowed_here_and_now(&active_pass(), &elsewhere, &calendar, "ring-5", when);
    assert_eq!((answer.allowed, answer.reason), (false, "other-city"));
}

#[test]
fn a_rule_change_does_not_alter_an_issued_pass() {
    let pass = active_pass();
    let before = pass.clone();
    let calendar = calendar();
    // The city shortens its passes, adds a zone, renames one, raises the
    // emission minimum and bans medium trucks.
    let mut changed = rules();
    changed.rules_version = 4;
    changed.zones.push(Zone {
        id: "ring-4".into(),
        name: "四环内".into(),
        description: String::new(),
    });
    changed.zones[0].name = "五环路以内".into();
    changed.pass_types[0].max_days = 3;
    changed.min_emission = EmissionStandard::China6b;
    changed.banned_vehicle_types.push(VehicleType::MediumTruck);
    // A new application for the same terms is now refused...
    let mut again = request();
    again.valid_from = day("2026-12-01");
    again.valid_to = day("2026-12-06");
    assert_eq!(
        codes(&refusals(&changed, &again, &[], now())),
        vec!["vehicle-type-banned", "emission-below-minimum", "too-long"]
    );
    // ...while the issued pass keeps its terms and the version it was issued under.
    assert_eq!(pass, before);
    assert_eq!(pass.rules_version, 3);
    assert_eq!(pass.zones, vec!["ring-5"]);
    assert_eq!(pass.windows, vec![window("06:00", "12:00"), window("20:00", "00:00")]);
    let answer = allowed_here_and_now(&pass, &changed, &calendar, "ring-5", at("2026-11-30T10:00:00+08:00"));
    assert_eq!((answer.allowed, answer.reason), (true, "within-pass"));
    // The new zone is not added to it.
    let answer = allowed_here_and_now(&pass, &changed, &calendar, "ring-4", at("2026-11-30T10:00:00+08:00"));
    assert_eq!(answer.reason, "zone-not-covered");
}

#[test]
fn times_read_and_write_as_clock_times() {
    let w: TimeWindow = serde_json::from_str(r#"{"from":"20:00","to":"24:00"}"#).expect("window");
    assert_eq!(w, window("20:00", "00:00"));
    assert_eq!(
        serde_json::to_value(w).expect("json"),
        serde_json::json!({"from": "20:00", "to": "24:00"})
    );
    // HH:MM exactly: no seconds, fractions, leap seconds or single-digit hours; 24:00 only as an end.
    for (from, to) in [
        ("06:30:15", "07:00"),
        ("06:30", "07:00:00"),
        ("23:59:60", "24:00"),
        ("9:00", "10:00"),
        ("09:00:00.999999999", "10:00"),
        ("24:00", "06:00"),
        ("06:00", "24:01"),
        ("06:60", "07:00"),
        ("０６:００", "07:00"),
    ] {
        let text = serde_json::json!({ "from": from, "to": to }).to_string();
        assert!(serde_json::from_str::<TimeWindow>(&text).is_err(), "{text}");
    }
    assert!(serde_json::from_str::<TimeWindow>(r#"{"from":"6 am","to":"07:00"}"#).is_err());
    let pass = active_pass();
    let json = serde_json::to_string(&pass).expect("json");
    assert_eq!(serde_json::from_str::<TruckPass>(&json).expect("back"), pass);
}

#[test]
fn the_rules_view_is_what_an_app_renders() {
    let view = serde_json::to_value(rules_view(&rules(), now())).expect("json");
    assert_eq!(view["availability"]["status"], "live");
    assert_eq!(view["zones"][0]["name"], "五环内");
    assert_eq!(
        view["restrictedHours"][1],
        serde_json::json!({"dayType": "rest_day", "from": "09:00", "to": "17:00"})
    );
    assert_eq!(
        view["vehicleTypes"][4],
        serde_json::json!({"code": "hazardous_goods", "name": "危险货物运输车", "banned": true})
    );
    assert_eq!(view["vehicleTypes"][0]["banned"], false);
    assert_eq!(view["emissionStandards"][1]["accepted"], false);
    assert_eq!(
        view["emissionStandards"][2],
        serde_json::json!({"code": "china_5", "name": "国五", "accepted": true})
    );
    assert_eq!(view["passTypes"][1]["needsReview"], true);
    assert_eq!(view["passTypes"][0]["maxDays"], 7);
    assert_eq!(view["utcOffset"], "+08:00");
    assert_eq!(view["maxWindows"], 4);
    let mut later = rules();
    later.go_live_at = None;
    assert_eq!(
        serde_json::to_value(rules_view(&later, now())).expect("json")["availability"]["status"],
        "not_scheduled"
    );
}

#[test]
fn the_shipped_rulebook_parses_and_is_consistent() {
    let text = include_str!("../../data/truck-cities.json");
    let book = TruckRulebook::from_json(text).expect("parses");
    assert_eq!(book, TruckRulebook::shipped());
    assert!(book.cities.len() >= 6);
    assert_eq!(book.problems(), vec![]);
    for city in &book.cities {
        let mut zones: Vec<&str> = city.zones.iter().map(|z| z.id.as_str()).collect();
        zones.sort_unstable();
        zones.dedup();
        assert_eq!(zones.len(), city.zones.len(), "{}", city.city);
        let mut types: Vec<&str> = city.pass_types.iter().map(|p| p.id.as_str()).collect();
        types.sort_unstable();
        types.dedup();
        assert_eq!(types.len(), city.pass_types.len(), "{}", city.city);
    }
    let opening = at("2026-11-20T00:00:00+08:00");
    let beijing = book.city("110000").expect("beijing");
    assert_eq!(beijing.zone("ring-5").map(|z| z.name.as_str()), Some("五环内"));
    assert_eq!(beijing.availability(opening), Availability::Live { since: opening });
    assert!(matches!(
        beijing.availability(opening - Duration::seconds(1)),
        Availability::Scheduled { .. }
    ));
    for code in ["310000", "440100", "440300", "510100"] {
        assert_eq!(book.city(code).map(|c| c.batch), Some(1), "{code}");
        assert!(matches!(
            book.city(code).map(|c| c.availability(now())),
            Some(Availability::Live { .. })
        ));
    }
    let zhanjiang = book.city("440800").expect("zhanjiang");
    assert_eq!(zhanjiang.batch, 2);
    assert_eq!(zhanjiang.availability(now()), Availability::NotScheduled);
    // The shipped cities use the rollout's division codes.
    let plan = crate::register::rollout::Plan::default_plan();
    for city in &book.cities {
        assert!(plan.cities.iter().any(|c| c.code == city.city), "{}", city.city);
    }
}

#[test]
fn problems_name_every_mistake() {
    let mut bad = rules();
    bad.city = "beijing".into();
    bad.zones.push(bad.zones[0].clone());
    bad.pass_types.push(bad.pass_types[0].clone());
    bad.pass_types[1].max_days = 0;
    bad.restricted_hours.push(HourRestriction {
        day_type: DayType::WorkingDay,
        from: t("22:00"),
        to: t("06:00"),
    });
    let fields: Vec<&str> = bad.problems().iter().map(|p| p.field).collect();
    assert_eq!(
        fields,
        vec!["city", "zones", "restrictedHours", "passTypes", "passTypes"]
    );
    let book = TruckRulebook {
        cities: vec![rules(), rules()],
    };
    assert_eq!(book.problems().len(), 1);
    // A misspelt list is a parse error, not a lifted restriction.
    let mut json = serde_json::to_value(rules()).expect("json");
    let map = json.as_object_mut().expect("object");
    let banned = map.remove("bannedVehicleTypes").expect("field");
    map.insert("bannedVehicleType".into(), banned);
    assert!(serde_json::from_value::<CityTruckRules>(json).is_err());
}

#[test]
fn a_withdrawn_pass_frees_its_dates_and_leaves_the_expiry_index() {
    let (rules, calendar) = (rules(), calendar());
    let mut pass = active_pass();
    let entry = crate::expiry::pass_entry(&pass).expect("an active pass waits for expiry");
    // Its last day's bucket, in the shard its id draws.
    let shard = crate::kernel::shard::shard_of(&pass.id, crate::expiry::EXPIRY_SHARDS);
    assert_eq!(entry.bucket, format!("PASS#2026-11-30#{shard}"));
    let owner = actor("11010519900307451X", Role::Holder);
    pass.withdraw(&owner, now()).expect("withdraw");
    assert_eq!(pass.status.code(), "withdrawn");
    assert!(!pass.status.is_live(), "its dates no longer count against overlap");
    assert_eq!(crate::expiry::pass_entry(&pass), None);
    assert!(pass.withdraw(&owner, now()).is_err(), "once only");
    assert!(
        pass.expire(at("2026-12-01T01:00:00+08:00")).is_err(),
        "ended passes do not expire"
    );
    let decision = allowed_here_and_now(&pass, &rules, &calendar, "ring-5", at("2026-11-25T10:00:00+08:00"));
    assert_eq!((decision.allowed, decision.reason), (false, "not-active"));
    let again = refusals(&rules, &request(), &[PassSummary::from(&pass)], now());
    assert!(again.is_empty(), "{again:?}");
}

#[test]
fn vehicles_are_checked_before_they_enter_the_register() {
    let vehicle = Vehicle {
        plate: "京B20001".into(),
        vehicle_type: VehicleType::MediumTruck,
        emission: EmissionStandard::China6b,
        owner_id: "91110105MA01TRUCK1".into(),
        fleet_id: Some("91110105MA01TRUCK1".into()),
    };
    assert!(vehicle.problems().is_empty());
    let broken = Vehicle {
        plate: "B20001".into(),
        owner_id: " ".into(),
        fleet_id: Some(String::new()),
        ..vehicle
    };
    let fields: Vec<&str> = broken.problems().iter().map(|p| p.field).collect();
    assert_eq!(fields, vec!["plate", "ownerId", "fleetId"]);
}
