//! The scheduled expiry job on both adapters: licences and abandoned applications expired through the day-bucketed index, overdue reviews flagged once, reruns idle, runs resumable; and its read count at 100,000 licences.

use chrono::{DateTime, Duration, Utc};
use edl_tests::{at, harness, Harness, CHEN_JING, LI_NA, ZHANG_WEI};
use shared::adapters::Records;
use shared::applications::application::{
    Application, ApplicationState, Channel, Opening, PendingUpload, PhotoSource, PhotoSubmission,
};
use shared::applications::photo::ImageType;
use shared::applications::review::{RejectionReason, ReviewDecision, Verdict};
use shared::issuance::edl::{EdlStatus, ElectronicLicence};
use shared::issuance::ports::Issuance;
use shared::kernel::caller::Actor;
use shared::kernel::caller::{Caller, Role};
use shared::service::expiry::{ExpiryOptions, ExpiryReport};
use shared::service::{OpenApplication, ServiceError};
use std::sync::Arc;
use std::time::Instant;

/// The run: 01:00 in Beijing on 26 November, just after the 25th has ended.
const RUN_AT: &str = "2026-11-26T01:00:00+08:00";

fn holder_actor(id: &str) -> Actor {
    Actor {
        id: id.into(),
        role: Role::Holder,
    }
}

fn holder_caller(id: &str) -> Caller {
    Caller {
        id: id.into(),
        roles: vec![Role::Holder],
        office: None,
        organisation: None,
    }
}

fn opening(id: &str, licence: &str, source: PhotoSource, channel: Channel, when: DateTime<Utc>) -> Application {
    let opened_by = match channel {
        Channel::App => holder_actor(licence),
        Channel::Counter => Actor {
            id: "clerk-110000-0007".into(),
            role: Role::Clerk,
        },
    };
    Application::open(Opening {
        id: id.into(),
        licence_number: licence.into(),
        holder_id: licence.into(),
        city_code: "110000".into(),
        channel,
        photo_source: source,
        opened_by,
        office: (channel == Channel::Counter).then(|| "110000".into()),
        at: when,
        device_key: None,
        portrait: None,
    })
}

/// An electronic licence recorded straight through the records port, as
/// issuance records it (an approved counter application ended as issued),
/// without signing a document: the job never reads the document.
async fn record_licence(
    records: &dyn Records,
    serial: &str,
    holder: &str,
    valid_until: DateTime<Utc>,
) -> ElectronicLicence {
    let issued_at = at("2026-01-05T10:00:00+08:00");
    let application = opening(
        &format!("app-{serial}"),
        holder,
        PhotoSource::OnFile,
        Channel::Counter,
        issued_at,
    );
    records
        .create_application(&application)
        .await
        .expect("approved application");
    let mut issued = application.clone();
    issued
        .mark_issued(
            &Actor {
                id: "issuance".into(),
                role: Role::System,
            },
            issued_at,
            serial,
        )
        .expect("issued");
    issued.version = application.version + 1;
    let licence = ElectronicLicence {
        serial: serial.into(),
        licence_number: holder.into(),
        holder_id: holder.into(),
        application_id: application.id.clone(),
        kid: "ds-1".into(),
        issued_at,
        valid_from: issued_at,
        valid_until,
        document_signed_at: issued_at,
        document_valid_until: valid_until.min(issued_at + Duration::days(30)),
        refreshes: 0,
        portrait_key: None,
        issuer_signed: String::new(),
        portrait_span: None,
        status_entry: None,
        retired_entries: Vec::new(),
        register_hold: false,
        status_to_publish: None,
        status: EdlStatus::Active,
        version: 1,
    };
    records
        .record_issuance(&Issuance {
            licence: licence.clone(),
            application: issued,
            application_expected_version: application.version,
            superseded: None,
            notices: Vec::new(),
        })
        .await
        .expect("issuance recorded");
    licence
}

/// 23:59:59 in Beijing on `day`: the last second of a licence's validity.
fn last_second_of(day: &str) -> DateTime<Utc> {
    at(&format!("{day}T23:59:59+08:00"))
}

/// An application whose photo waits for review since `submitted`, due at `due`.
fn awaiting_review(id: &str, licence: &str, submitted: DateTime<Utc>, due: DateTime<Utc>) -> Application {
    let mut application = opening(id, licence, PhotoSource::Camera, Channel::App, submitted);
    let upload = format!("{id}-upload");
    application
        .request_upload(
            PendingUpload {
                upload_id: upload.clone(),
                key: format!("checked/{id}/{upload}.jpg"),
                content_type: ImageType::Jpeg,
                source: PhotoSource::Camera,
                requested_at: submitted,
                expires_at: submitted + Duration::minutes(15),
            },
            &holder_actor(licence),
        )
        .expect("upload form");
    application
        .submit_photo(
            PhotoSubmission {
                upload_id: upload.clone(),
                key: format!("photos/{id}/{upload}"),
                content_type: ImageType::Jpeg,
                source: PhotoSource::Camera,
                submitted_at: submitted,
                due_at: due,
                sha256: format!("{id:0>64}"),
                width: 360,
                height: 480,
                checks: Vec::new(),
                upload_sha256: None,
            },
            &holder_actor(licence),
        )
        .expect("submitted");
    application
}

/// An application whose photo a reviewer rejected at `when`; the applicant never came back.
fn rejected(id: &str, licence: &str, when: DateTime<Utc>) -> Application {
    let mut application = awaiting_review(id, licence, when - Duration::hours(2), when + Duration::hours(20));
    let upload = format!("{id}-upload");
    application
        .decide_review(
            ReviewDecision {
                verdict: Verdict::Reject,
                reasons: vec![RejectionReason::BackgroundNotWhite],
                note: "background".into(),
                by: Actor {
                    id: "reviewer-0001".into(),
                    role: Role::Reviewer,
                },
                at: when,
                upload_id: upload,
            },
            None,
        )
        .expect("rejected");
    application
}

fn on_file() -> OpenApplication {
    OpenApplication {
        photo_source: PhotoSource::OnFile,
        licence_number: None,
        device_key: None,
    }
}

fn options(page_size: usize) -> ExpiryOptions {
    ExpiryOptions {
        page_size,
        ..ExpiryOptions::default()
    }
}

async fn run(h: &Harness, deadline: Option<Instant>, page_size: usize) -> ExpiryReport {
    h.services
        .run_expiry(deadline, &options(page_size))
        .await
        .expect("expiry run")
}

async fn status(records: &dyn Records, serial: &str) -> EdlStatus {
    records
        .electronic_licence(serial)
        .await
        .expect("read")
        .expect("present")
        .status
}

async fn state(records: &dyn Records, id: &str) -> Application {
    records.application(id).await.expect("read").expect("present")
}

/// Licences, applications and reviews in every situation the job meets, then two runs.
async fn expires_what_is_due_once(records: Arc<dyn Records>) {
    let h = harness(records.clone(), 5).await;
    let r = records.as_ref();

    // Electronic licences: two whose last day has passed (yesterday, and the
    // day before, which a missed run left), one valid through today, one
    // ended yesterday but stopped before (no longer in the index).
    record_licence(r, "11000026010500000001", CHEN_JING, last_second_of("2026-11-25")).await;
    record_licence(
        r,
        "11000026010500000002",
        "110000199001010002",
        last_second_of("2026-11-24"),
    )
    .await;
    record_licence(
        r,
        "11000026010500000003",
        "110000199001010003",
        last_second_of("2026-11-26"),
    )
    .await;
    let mut stopped = record_licence(
        r,
        "11000026010500000004",
        "110000199001010004",
        last_second_of("2026-11-25"),
    )
    .await;
    stopped.status = EdlStatus::Stopped {
        at: at("2026-11-20T10:00:00+08:00"),
        reason: "malicious upload".into(),
        by: Actor {
            id: "reviewer-0001".into(),
            role: Role::Reviewer,
        },
    };
    stopped.version = 2;
    r.update_electronic_licence(&stopped, 1).await.expect("stopped");

    // Applications: 张伟 left his liveness check 32 days ago, 李娜's photo was
    // rejected 31 days ago; one waited for its photo only 6 days; one has
    // waited for staff for two months (never expired, and overdue); one
    // waits for staff and is due later today.
    let abandoned_on_file = opening(
        "app-liveness",
        ZHANG_WEI,
        PhotoSource::OnFile,
        Channel::App,
        at("2026-10-25T09:00:00+08:00"),
    );
    r.create_application(&abandoned_on_file).await.expect("store");
    r.create_application(&rejected("app-rejected", LI_NA, at("2026-10-26T12:00:00+08:00")))
        .await
        .expect("store");
    let recent = opening(
        "app-recent",
        "110000199001010005",
        PhotoSource::Camera,
        Channel::App,
        at("2026-11-20T09:00:00+08:00"),
    );
    r.create_application(&recent).await.expect("store");
    let overdue = awaiting_review(
        "app-overdue",
        "110000199001010006",
        at("2026-09-28T09:00:00+08:00"),
        at("2026-09-29T09:00:00+08:00"),
    );
    r.create_application(&overdue).await.expect("store");
    let on_time = awaiting_review(
        "app-on-time",
        "110000199001010007",
        at("2026-11-25T15:00:00+08:00"),
        at("2026-11-26T15:00:00+08:00"),
    );
    r.create_application(&on_time).await.expect("store");

    // Before the job, 张伟 cannot apply: his abandoned application holds the slot.
    h.clock.set(RUN_AT);
    let blocked = h
        .applying()
        .open_application(&holder_caller(ZHANG_WEI), on_file())
        .await;
    assert!(
        matches!(blocked, Err(ServiceError::OpenApplicationExists { .. })),
        "{blocked:?}"
    );

    let first = run(&h, None, 100).await;
    println!("first run: {first:?}");
    assert_eq!(
        (
            first.licences_expired,
            first.applications_expired,
            first.reviews_overdue,
            first.complete
        ),
        (2, 2, 1, true),
        "{first:?}"
    );
    assert_eq!(
        first.items_read, 4,
        "only the due entries of the index are read: {first:?}"
    );
    assert_eq!(first.reviews_read, 1, "{first:?}");
    assert_eq!(first.passes_expired, 0);
    assert_eq!(first.days.len(), 7);

    let run_at = at(RUN_AT);
    assert_eq!(
        status(r, "11000026010500000001").await,
        EdlStatus::Expired { at: run_at }
    );
    assert_eq!(
        status(r, "11000026010500000002").await,
        EdlStatus::Expired { at: run_at }
    );
    assert_eq!(
        status(r, "11000026010500000003").await,
        EdlStatus::Active,
        "valid through today"
    );
    assert!(matches!(
        status(r, "11000026010500000004").await,
        EdlStatus::Stopped { .. }
    ));

    // The holder is told what to do, and a verifier sees it as expired.
    let shown = h
        .showing()
        .show_licence(&holder_caller(CHEN_JING))
        .await
        .expect("shown");
    assert_eq!(
        shown.advice.as_deref(),
        Some("This electronic licence has expired; renew the licence and apply again.")
    );
    let edl = r
        .electronic_licence("11000026010500000001")
        .await
        .expect("read")
        .expect("present");
    let licence = r.licence(CHEN_JING).await.expect("read").expect("present");
    assert_eq!(
        shared::verification::standing::standing(&edl, &licence, h.services.today(), run_at),
        Err("licence-expired")
    );

    for id in ["app-liveness", "app-rejected"] {
        let application = state(r, id).await;
        assert_eq!(application.state, ApplicationState::Expired, "{id}");
        let last = application.history.last().expect("history");
        assert_eq!(
            (last.action.as_str(), last.by.role),
            ("expired", Role::Scheduler),
            "{id}"
        );
    }
    assert_eq!(state(r, "app-recent").await.state, ApplicationState::AwaitingPhoto);
    let overdue = state(r, "app-overdue").await;
    assert_eq!(
        overdue.state,
        ApplicationState::AwaitingReview,
        "waiting for staff is never expired"
    );
    assert_eq!(overdue.overdue_flagged_at, Some(run_at));
    let on_time = state(r, "app-on-time").await;
    assert_eq!(on_time.overdue_flagged_at, None);

    // The lock is released: 张伟 applies again.
    let again = h
        .applying()
        .open_application(&holder_caller(ZHANG_WEI), on_file())
        .await
        .expect("a new application");
    assert_eq!(again.state, ApplicationState::AwaitingLiveness);

    // A second run changes nothing and reads nothing from the expiry index;
    // the flagged review is still in the reviewers' queue, but out of the
    // range the job reads (it is not read again every hour).
    let second = run(&h, None, 100).await;
    println!("second run: {second:?}");
    assert_eq!(
        (
            second.licences_expired,
            second.applications_expired,
            second.reviews_overdue,
            second.items_read,
            second.complete
        ),
        (0, 0, 0, 0, true),
        "{second:?}"
    );
    assert_eq!(second.reviews_read, 0, "{second:?}");
    assert_eq!(state(r, "app-overdue").await.version, overdue.version, "reported once");

    // Later the same day the other review passes its due time: the hourly run reads and reports it alone.
    h.clock.set("2026-11-26T16:30:00+08:00");
    let hourly = run(&h, None, 100).await;
    assert_eq!(
        (hourly.reviews_overdue, hourly.items_read, hourly.reviews_read),
        (1, 0, 1),
        "{hourly:?}"
    );
    assert!(state(r, "app-on-time").await.overdue_flagged_at.is_some());
}

/// A run whose deadline has already passed does one page with work in it
/// (the first shard holding a due licence) and reports `complete: false`;
/// the next run finishes, and the one after reads nothing.
async fn resumes_after_a_deadline(records: Arc<dyn Records>) {
    let h = harness(records.clone(), 0).await;
    let r = records.as_ref();
    for i in 0..5 {
        record_licence(
            r,
            &format!("3100002601050000001{i}"),
            &format!("31000019900101001{i}"),
            last_second_of("2026-11-25"),
        )
        .await;
    }
    for i in 0..3 {
        let abandoned = opening(
            &format!("app-abandoned-{i}"),
            &format!("31000019900101002{i}"),
            PhotoSource::Camera,
            Channel::App,
            at("2026-10-20T09:00:00+08:00"),
        );
        r.create_application(&abandoned).await.expect("store");
    }
    h.clock.set(RUN_AT);

    let cut = run(&h, Some(Instant::now()), 2).await;
    println!("run stopped by its deadline: {cut:?}");
    assert!(!cut.complete, "{cut:?}");
    assert!((1..=2).contains(&cut.licences_expired), "one page, then stop: {cut:?}");
    assert_eq!(
        (cut.applications_expired, cut.items_read),
        (0, cut.licences_expired),
        "one page, then stop: {cut:?}"
    );

    let rest = run(&h, None, 2).await;
    println!("next run: {rest:?}");
    assert!(rest.complete, "{rest:?}");
    assert_eq!(
        (rest.licences_expired, rest.applications_expired),
        (5 - cut.licences_expired, 3),
        "{rest:?}"
    );
    assert_eq!(
        rest.items_read,
        5 - cut.licences_expired + 3,
        "what the first run did has left the index: {rest:?}"
    );

    let idle = run(&h, None, 2).await;
    assert_eq!(
        (
            idle.licences_expired,
            idle.applications_expired,
            idle.items_read,
            idle.complete
        ),
        (0, 0, 0, true),
        "{idle:?}"
    );
    for i in 0..5 {
        assert!(matches!(
            status(r, &format!("3100002601050000001{i}")).await,
            EdlStatus::Expired { .. }
        ));
    }
}

/// A licence superseded between the index read and the write is re-read and left alone.
async fn a_licence_no_longer_active_is_left_alone(records: Arc<dyn Records>) {
    let h = harness(records.clone(), 0).await;
    let r = records.as_ref();
    let mut licence = record_licence(
        r,
        "44000026010500000001",
        "440000199001010001",
        last_second_of("2026-11-25"),
    )
    .await;
    h.clock.set(RUN_AT);
    // Superseded: the write removes it from the index, so the job never sees it.
    licence.status = EdlStatus::Superseded {
        at: at("2026-11-25T12:00:00+08:00"),
        reason: "renewal".into(),
        by_serial: None,
    };
    licence.version = 2;
    r.update_electronic_licence(&licence, 1).await.expect("superseded");
    let report = run(&h, None, 100).await;
    assert_eq!((report.licences_expired, report.items_read), (0, 0), "{report:?}");
    assert!(matches!(
        status(r, "44000026010500000001").await,
        EdlStatus::Superseded { .. }
    ));
}

edl_tests::on_both_adapters!(
    |records| std::sync::Arc::new(records);
    expires_what_is_due_once,
    resumes_after_a_deadline,
    a_licence_no_longer_active_is_left_alone
);

/// Done when: 100,000 electronic licences, 1,000 of which had their last
/// valid day yesterday; the run reads about 1,000 entries, not 100,000.
#[tokio::test]
async fn reads_what_expires_not_the_table() {
    let records = Arc::new(edl_tests::embedded_records());
    let h = harness(records.clone(), 0).await;
    let total = 100_000;
    let due = 1_000;
    let started = Instant::now();
    for i in 0..total {
        // One in a hundred ended yesterday; the rest end on the days of the next ten years.
        let valid_until = if i % (total / due) == 0 {
            last_second_of("2026-11-25")
        } else {
            last_second_of("2026-11-26") + Duration::days(i64::try_from(i % 3650).expect("days"))
        };
        record_licence(
            records.as_ref(),
            &format!("{:020}", i),
            &format!("H{i:017}"),
            valid_until,
        )
        .await;
    }
    println!("recorded {total} electronic licences in {:?}", started.elapsed());
    h.clock.set(RUN_AT);
    let started = Instant::now();
    let report = run(&h, None, 100).await;
    println!(
        "expiry run over {total} licences, {due} due: itemsRead = {}, licencesExpired = {}, in {:?}",
        report.items_read,
        report.licences_expired,
        started.elapsed()
    );
    assert_eq!(report.licences_expired, due, "{report:?}");
    assert!(
        (1_000..=1_100).contains(&report.items_read),
        "read about what expires: {report:?}"
    );
    assert!(report.complete);
    let again = run(&h, None, 100).await;
    assert_eq!((again.items_read, again.licences_expired), (0, 0), "{again:?}");
}
