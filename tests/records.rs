//! The records port's behaviour, one suite run against both adapters: embedded and DynamoDB (on the emulator).

use edl_tests::{at, CHEN_JING, LI_NA, ZHANG_WEI};
use shared::adapters::Records;
use shared::applications::application::{Application, ApplicationState, Channel, Opening, PhotoSource};
use shared::kernel::caller::Actor;
use shared::kernel::caller::Role;
use shared::kernel::store::StoreError;
use shared::register::change::ChangeRecord;
use shared::register::rollout::Plan;
use shared::register::rollout::RolloutChange;
use shared::sample::showcase_licences;
use shared::verification::ports::{DrawnNonce, QuotaShard};

fn holder_actor(id: &str) -> Actor {
    Actor {
        id: id.into(),
        role: Role::Holder,
    }
}

fn new_application(id: &str, licence: &str, source: PhotoSource) -> Application {
    Application::open(Opening {
        id: id.into(),
        licence_number: licence.into(),
        holder_id: licence.into(),
        city_code: "110000".into(),
        channel: Channel::App,
        photo_source: source,
        opened_by: holder_actor(licence),
        office: None,
        at: at("2026-11-25T10:00:00+08:00"),
        device_key: None,
    })
}

async fn licences_import_read_and_reimport(records: &dyn Records) {
    let licences = showcase_licences();
    records.import_licences(&licences).await.expect("import");
    let stored = records.licence(ZHANG_WEI).await.expect("read").expect("present");
    assert_eq!(stored.name, "张伟");
    assert_eq!(stored.version, 1);
    assert_eq!(
        records.licence_number_of_holder(LI_NA).await.expect("read"),
        Some(LI_NA.to_string())
    );
    assert_eq!(records.licence("110000000000000000").await.expect("read"), None);
    assert_eq!(records.licence_number_of_holder("nobody").await.expect("read"), None);
    // Importing again replaces the record and raises its version.
    let mut again = licences[0].clone();
    again.points = 3;
    records.import_licences(&[again]).await.expect("reimport");
    let stored = records.licence(ZHANG_WEI).await.expect("read").expect("present");
    assert_eq!((stored.points, stored.version), (3, 2));
}

async fn licence_changes_are_optimistically_locked_and_recorded(records: &dyn Records) {
    records.import_licences(&showcase_licences()).await.expect("import");
    let licence = records.licence(ZHANG_WEI).await.expect("read").expect("present");
    let record = |version: u64, minute: u32| ChangeRecord {
        licence_number: ZHANG_WEI.into(),
        at: at(&format!("2026-11-25T10:{minute:02}:00+08:00")),
        by: Actor {
            id: "admin-0001".into(),
            role: Role::Admin,
        },
        reason: format!("change {version}"),
        changed: vec!["points".into()],
        supersedes_electronic_licence: false,
        version,
    };
    let mut next = licence.clone();
    next.points = 6;
    next.version = licence.version + 1;
    records
        .change_licence(&next, licence.version, &record(next.version, 1))
        .await
        .expect("first change");
    // A second writer that read the old version loses, and writes nothing.
    let mut stale = licence.clone();
    stale.points = 12;
    stale.version = licence.version + 1;
    assert_eq!(
        records
            .change_licence(&stale, licence.version, &record(stale.version, 2))
            .await,
        Err(StoreError::Conflict)
    );
    let stored = records.licence(ZHANG_WEI).await.expect("read").expect("present");
    assert_eq!((stored.points, stored.version), (6, next.version));
    let mut third = stored.clone();
    third.points = 9;
    third.version = stored.version + 1;
    records
        .change_licence(&third, stored.version, &record(third.version, 3))
        .await
        .expect("third");
    let changes = records.licence_changes(ZHANG_WEI).await.expect("changes");
    let reasons: Vec<_> = changes.iter().map(|c| c.reason.as_str()).collect();
    assert_eq!(
        reasons,
        vec!["change 2", "change 3"],
        "oldest first, and the refused change is not recorded"
    );
}

async fn one_open_application_per_licence(records: &dyn Records) {
    let first = new_application("app-1", ZHANG_WEI, PhotoSource::OnFile);
    records.create_application(&first).await.expect("first");
    let second = new_application("app-2", ZHANG_WEI, PhotoSource::Camera);
    assert_eq!(
        records.create_application(&second).await,
        Err(StoreError::OpenApplicationExists {
            existing: "app-1".into()
        })
    );
    assert_eq!(
        records.application("app-2").await.expect("read"),
        None,
        "nothing written"
    );
    // Another licence is independent.
    records
        .create_application(&new_application("app-3", LI_NA, PhotoSource::Camera))
        .await
        .expect("other licence");
    // Withdrawing releases the slot in the same write.
    let mut withdrawn = records.application("app-1").await.expect("read").expect("present");
    withdrawn
        .withdraw(&holder_actor(ZHANG_WEI), at("2026-11-25T11:00:00+08:00"))
        .expect("withdraw");
    withdrawn.version += 1;
    records.update_application(&withdrawn, 1).await.expect("update");
    records.create_application(&second).await.expect("slot released");
    assert_eq!(
        records.application("app-1").await.expect("read").map(|a| a.state),
        Some(ApplicationState::Withdrawn)
    );
}

async fn application_updates_are_optimistically_locked(records: &dyn Records) {
    let application = new_application("app-1", ZHANG_WEI, PhotoSource::OnFile);
    records.create_application(&application).await.expect("create");
    let mut passed = application.clone();
    passed
        .record_liveness(
            true,
            &holder_actor(ZHANG_WEI),
            at("2026-11-25T10:01:00+08:00"),
            "ok".into(),
        )
        .expect("pass");
    passed.version = 2;
    let mut withdrawn = application.clone();
    withdrawn
        .withdraw(&holder_actor(ZHANG_WEI), at("2026-11-25T10:01:00+08:00"))
        .expect("withdraw");
    withdrawn.version = 2;
    records.update_application(&passed, 1).await.expect("first writer");
    assert_eq!(
        records.update_application(&withdrawn, 1).await,
        Err(StoreError::Conflict)
    );
    let stored = records.application("app-1").await.expect("read").expect("present");
    assert_eq!(stored.state, ApplicationState::Approved);
    assert_eq!(stored.history.len(), 2);
    // Approved still holds the slot until issuance ends the application.
    let other = new_application("app-2", ZHANG_WEI, PhotoSource::Camera);
    assert!(matches!(
        records.create_application(&other).await,
        Err(StoreError::OpenApplicationExists { .. })
    ));
    let mut issued = stored.clone();
    issued
        .mark_issued(&holder_actor("issuer"), at("2026-11-25T10:02:00+08:00"), "EDL-1")
        .expect("issue");
    issued.version = 3;
    records.update_application(&issued, 2).await.expect("issued");
    records
        .create_application(&other)
        .await
        .expect("slot released by issuance");
}

async fn rollout_seed_switch_and_history(records: &dyn Records) {
    let plan = Plan::default_plan();
    records.seed_rollout(&plan).await.expect("seed");
    let cities = records.cities().await.expect("cities");
    assert_eq!(cities.len(), plan.cities.len(), "every city, across result pages");
    assert_eq!(records.waves().await.expect("waves").len(), plan.waves.len());
    let mut city = records.city("440800").await.expect("read").expect("zhanjiang");
    assert_eq!(city.version, 1);
    let change = RolloutChange {
        target: "city:440800".into(),
        at: at("2026-11-25T10:00:00+08:00"),
        by: Actor {
            id: "admin-0001".into(),
            role: Role::Admin,
        },
        go_live_before: None,
        go_live_after: Some(at("2026-12-01T00:00:00+08:00")),
    };
    city.go_live_at = change.go_live_after;
    city.version = 2;
    records.switch_city(&city, 1, &change).await.expect("switch");
    assert_eq!(records.switch_city(&city, 1, &change).await, Err(StoreError::Conflict));
    // Seeding again never overwrites an administrator's switch.
    records.seed_rollout(&plan).await.expect("seed again");
    let stored = records.city("440800").await.expect("read").expect("present");
    assert_eq!(stored.go_live_at, change.go_live_after);
    assert_eq!(stored.version, 2);
    let mut wave = records.wave("2c").await.expect("read").expect("2c");
    wave.go_live_at = Some(at("2026-12-05T00:00:00+08:00"));
    wave.version = 2;
    let wave_change = RolloutChange {
        target: "wave:2c".into(),
        at: at("2026-11-25T10:05:00+08:00"),
        ..change.clone()
    };
    records.switch_wave(&wave, 1, &wave_change).await.expect("switch wave");
    let history = records.rollout_changes().await.expect("history");
    let targets: Vec<_> = history.iter().map(|c| c.target.as_str()).collect();
    assert_eq!(targets, vec!["city:440800", "wave:2c"]);
    assert_eq!(records.city("999999").await.expect("read"), None);
}

async fn counter_application_approved_at_once_holds_the_slot(records: &dyn Records) {
    let application = Application::open(Opening {
        id: "counter-1".into(),
        licence_number: CHEN_JING.into(),
        holder_id: CHEN_JING.into(),
        city_code: "440300".into(),
        channel: Channel::Counter,
        photo_source: PhotoSource::OnFile,
        opened_by: Actor {
            id: "clerk-440300-0007".into(),
            role: Role::Clerk,
        },
        office: Some("440300".into()),
        at: at("2026-11-25T10:00:00+08:00"),
        device_key: None,
    });
    records.create_application(&application).await.expect("create");
    let stored = records.application("counter-1").await.expect("read").expect("present");
    assert_eq!(stored, application, "the stored record reads back exactly");
    assert!(matches!(
        records
            .create_application(&new_application("app-x", CHEN_JING, PhotoSource::OnFile))
            .await,
        Err(StoreError::OpenApplicationExists { .. })
    ));
}

/// A drawn nonce is consumed once: by its verifier, before its expiry, by one of any number of racing takes.
async fn nonces_are_taken_once(records: &dyn Records) {
    let nonce = DrawnNonce {
        nonce: "bm9uY2Utb25lLWJ5dGVzLWJhc2U2NHVybA".into(),
        verifier_id: "officer-110000-0042".into(),
        expires_at: 1_795_572_985,
    };
    records.keep_nonce(&nonce).await.expect("kept");
    assert_eq!(records.keep_nonce(&nonce).await, Err(StoreError::AlreadyExists));
    assert!(!records
        .take_nonce(&nonce.nonce, "rp-rental-0007", 1_795_572_900)
        .await
        .expect("another verifier's take"));
    assert!(!records
        .take_nonce(&nonce.nonce, &nonce.verifier_id, 1_795_572_986)
        .await
        .expect("a take after expiry"));
    let takes =
        futures::future::join_all((0..8).map(|_| records.take_nonce(&nonce.nonce, &nonce.verifier_id, 1_795_572_900)))
            .await;
    assert_eq!(takes.iter().filter(|t| matches!(t, Ok(true))).count(), 1, "{takes:?}");
    assert!(!records
        .take_nonce("never-drawn", &nonce.verifier_id, 0)
        .await
        .expect("unknown"));
}

/// A quota shard admits up to its limit however many race, per organisation, window and shard; misses add up.
async fn quota_shards_count_to_their_limit(records: &dyn Records) {
    let shard = |organisation: &str, window_start: i64, shard: u32| QuotaShard {
        organisation: organisation.into(),
        window_start,
        shard,
    };
    let first = shard("神州租车", 1_795_572_000, 3);
    let counted = futures::future::join_all((0..12).map(|_| records.count_request(&first, 5, 1_795_579_200))).await;
    assert_eq!(
        counted.iter().filter(|c| matches!(c, Ok(true))).count(),
        5,
        "{counted:?}"
    );
    assert!(records
        .count_request(&shard("神州租车", 1_795_572_000, 4), 5, 0)
        .await
        .expect("another shard"));
    assert!(records
        .count_request(&shard("平安保险", 1_795_572_000, 3), 5, 0)
        .await
        .expect("another organisation"));
    assert!(records
        .count_request(&shard("神州租车", 1_795_575_600, 3), 5, 0)
        .await
        .expect("the next window"));
    assert_eq!(records.count_miss(&first, 1_795_579_200).await, Ok(1));
    assert_eq!(records.count_miss(&first, 1_795_579_200).await, Ok(2));
}

edl_tests::on_both_adapters!(
    |records| &records;
    nonces_are_taken_once,
    quota_shards_count_to_their_limit,
    licences_import_read_and_reimport,
    licence_changes_are_optimistically_locked_and_recorded,
    one_open_application_per_licence,
    application_updates_are_optimistically_locked,
    rollout_seed_switch_and_history,
    counter_application_approved_at_once_holds_the_slot,
);
