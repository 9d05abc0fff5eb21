//! The sharded partitions (issue 13): the review queue merges its shards earliest due first and pages without loss
//! or repeat, the expiry job reads every shard of what is due and the unsharded buckets written before, the overdue
//! pass continues where a throttled write stopped it, and a day's unmatched checks spread over their shards.

use chrono::{DateTime, Duration, Utc};
use edl_tests::faulty::FaultyRecords;
use edl_tests::{at, harness};
use shared::adapters::dynamodb::DynamoRecords;
use shared::adapters::Records;
use shared::applications::application::{
    Application, ApplicationState, Channel, Opening, PendingUpload, PhotoSource, PhotoSubmission,
};
use shared::applications::photo::ImageType;
use shared::expiry::{self, ExpiryKind, EXPIRY_SHARDS};
use shared::kernel::caller::{Actor, Role};
use shared::kernel::check_log::{CheckLog, UNMATCHED_SHARDS};
use shared::kernel::queue::{queue_partition, QueueQuery, ReviewQueue, QUEUE_SHARDS};
use shared::service::expiry::ExpiryOptions;
use shared::verification::check::CheckRecord;
use std::collections::BTreeSet;
use std::sync::Arc;

/// The run: 01:00 in Beijing on 26 November, just after the 25th has ended.
const RUN_AT: &str = "2026-11-26T01:00:00+08:00";

fn holder(id: &str) -> Actor {
    Actor {
        id: id.into(),
        role: Role::Holder,
    }
}

/// An application opened at `when` that waits for its photo (abandoned 30 days after `when`).
fn opening(id: &str, licence: &str, when: DateTime<Utc>) -> Application {
    Application::open(Opening {
        id: id.into(),
        licence_number: licence.into(),
        holder_id: licence.into(),
        city_code: "110000".into(),
        channel: Channel::App,
        photo_source: PhotoSource::Camera,
        opened_by: holder(licence),
        office: None,
        at: when,
        device_key: None,
        portrait: None,
    })
}

/// An application whose photo waits for review since `submitted`, due at `due`.
fn awaiting_review(id: &str, licence: &str, submitted: DateTime<Utc>, due: DateTime<Utc>) -> Application {
    let mut application = opening(id, licence, submitted);
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
            &holder(licence),
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
            &holder(licence),
        )
        .expect("submitted");
    application
}

/// Every page of the photo review queue from the start, at `limit` a page: the ids in the order listed.
async fn every_page(records: &dyn Records, limit: usize, due_before: Option<DateTime<Utc>>) -> Vec<String> {
    let mut listed = Vec::new();
    let mut after = None;
    for _ in 0..100 {
        let page = ReviewQueue::<Application>::waiting(
            records,
            &QueueQuery {
                limit,
                after: after.take(),
                due_before,
                unreported_only: false,
            },
        )
        .await
        .expect("a page");
        assert!(
            page.items.len() <= limit,
            "{} items on a page of {limit}",
            page.items.len()
        );
        listed.extend(page.items.into_iter().map(|a| a.id));
        match page.next {
            Some(next) => after = Some(next),
            None => return listed,
        }
    }
    panic!("the queue never ended: {listed:?}");
}

/// Twelve reviews over the four shards, due a minute apart in an order that interleaves the shards: pages of three
/// list them earliest due first, each once; the overdue filter does the same for those past due, reported or not.
async fn the_review_queue_merges_its_shards(records: Arc<dyn Records>) {
    let r = records.as_ref();
    let base = at("2026-12-01T09:00:00+08:00");
    // Ids in reverse of their due order, so that neither id order nor shard order is the due order.
    let mut expected = Vec::new();
    for i in 0..12 {
        let id = format!("app-q-{i:02}");
        let due = base + Duration::minutes(12 - i);
        let application = awaiting_review(&id, &format!("1100001990020300{i:02}"), base - Duration::days(1), due);
        r.create_application(&application).await.expect("store");
        expected.push(id);
    }
    expected.reverse();
    let shards: BTreeSet<String> = expected.iter().map(|id| queue_partition("REVIEW", id, false)).collect();
    assert_eq!(
        shards.len(),
        QUEUE_SHARDS as usize,
        "the reviews fill every shard: {shards:?}"
    );

    for limit in [3, 1, 5, 12, 100] {
        assert_eq!(every_page(r, limit, None).await, expected, "pages of {limit}");
    }

    // At 09:06:30 the six due by 09:06 are overdue; the expiry job reports them (they move to the reported
    // shards), and the reviewers' overdue filter still lists all six, earliest first, across both kinds of shard.
    let now = base + Duration::minutes(6) + Duration::seconds(30);
    let overdue: Vec<String> = expected[..6].to_vec();
    assert_eq!(every_page(r, 2, Some(now)).await, overdue);
    for id in &overdue[..3] {
        let mut application = r.application(id).await.expect("read").expect("present");
        let expected_version = application.version;
        assert!(application.flag_overdue(now));
        application.version = expected_version + 1;
        r.update_application(&application, expected_version)
            .await
            .expect("reported");
    }
    assert_eq!(every_page(r, 2, Some(now)).await, overdue, "reported or not");
    assert_eq!(every_page(r, 3, None).await, expected, "the whole queue is unchanged");

    // The expiry job's own pass reads only those it has not reported.
    let unreported = ReviewQueue::<Application>::waiting(
        r,
        &QueueQuery {
            limit: 100,
            after: None,
            due_before: Some(now),
            unreported_only: true,
        },
    )
    .await
    .expect("a page");
    let ids: Vec<String> = unreported.items.into_iter().map(|a| a.id).collect();
    assert_eq!(ids, overdue[3..].to_vec());

    // A cursor that names no place in a queue is refused, not read as the start.
    let bad = ReviewQueue::<Application>::waiting(
        r,
        &QueueQuery {
            limit: 3,
            after: Some("bm90LWEtY3Vyc29y".into()),
            due_before: None,
            unreported_only: false,
        },
    )
    .await;
    assert!(bad.is_err(), "{bad:?}");
}

/// Abandoned applications over every shard of yesterday's bucket are ended; those that count as abandoned tomorrow
/// are not read; the run reads exactly the due entries.
async fn the_expiry_job_reads_every_shard_of_what_is_due(records: Arc<dyn Records>) {
    let h = harness(records.clone(), 0).await;
    let r = records.as_ref();
    // Opened on 26 October: abandoned on 25 November, yesterday at the run. Opened on 28 October: the 27th.
    let mut due = Vec::new();
    for i in 0..(3 * EXPIRY_SHARDS) {
        let application = opening(
            &format!("app-due-{i:02}"),
            &format!("3200001990010100{i:02}"),
            at("2026-10-26T09:00:00+08:00"),
        );
        r.create_application(&application).await.expect("store");
        due.push(application);
    }
    let mut later = Vec::new();
    for i in 0..EXPIRY_SHARDS {
        let application = opening(
            &format!("app-later-{i:02}"),
            &format!("3200001990010200{i:02}"),
            at("2026-10-28T09:00:00+08:00"),
        );
        r.create_application(&application).await.expect("store");
        later.push(application);
    }
    let buckets: BTreeSet<String> = due
        .iter()
        .filter_map(expiry::application_entry)
        .map(|e| e.bucket)
        .collect();
    assert_eq!(
        buckets.len(),
        EXPIRY_SHARDS as usize,
        "yesterday's applications fill every shard: {buckets:?}"
    );

    h.clock.set(RUN_AT);
    let report = h
        .services
        .run_expiry(
            None,
            &ExpiryOptions {
                page_size: 2,
                ..ExpiryOptions::default()
            },
        )
        .await
        .expect("run");
    assert_eq!(report.applications_expired, due.len(), "{report:?}");
    assert_eq!(
        report.items_read,
        due.len(),
        "only the due entries are read: {report:?}"
    );
    assert!(report.complete, "{report:?}");
    for application in &due {
        let stored = r.application(&application.id).await.expect("read").expect("present");
        assert_eq!(stored.state, ApplicationState::Expired, "{}", application.id);
    }
    for application in &later {
        let stored = r.application(&application.id).await.expect("read").expect("present");
        assert_eq!(
            stored.state,
            ApplicationState::AwaitingPhoto,
            "{} is due tomorrow",
            application.id
        );
        assert_eq!(stored.version, application.version, "{} untouched", application.id);
    }
}

/// Five overdue reviews; the write of one is throttled. The pass reports the other four and leaves that one; the
/// next run reads and reports it alone, and the one after reads nothing.
async fn the_overdue_pass_goes_past_a_throttled_review_and_resumes(records: Arc<dyn Records>) {
    let faulty = Arc::new(FaultyRecords::new(records));
    let h = harness(faulty.clone(), 0).await;
    let r: &dyn Records = faulty.as_ref();
    for i in 0..5 {
        let application = awaiting_review(
            &format!("app-late-{i}"),
            &format!("3300001990010100{i:02}"),
            at("2026-11-24T09:00:00+08:00"),
            at("2026-11-25T09:00:00+08:00") + Duration::minutes(i),
        );
        r.create_application(&application).await.expect("store");
    }
    h.clock.set(RUN_AT);
    faulty.fail_for("update_application", "app-late-2");

    let first = h
        .services
        .run_expiry(None, &ExpiryOptions::default())
        .await
        .expect("run");
    assert_eq!(
        (
            first.reviews_overdue,
            first.reviews_read,
            first.left_for_next_run,
            first.complete
        ),
        (4, 5, 1, false),
        "{first:?}"
    );
    for i in [0, 1, 3, 4] {
        let application = r
            .application(&format!("app-late-{i}"))
            .await
            .expect("read")
            .expect("present");
        assert!(application.overdue_flagged_at.is_some(), "app-late-{i}");
    }
    let left = r.application("app-late-2").await.expect("read").expect("present");
    assert_eq!(left.overdue_flagged_at, None);

    faulty.heal();
    h.clock.set("2026-11-26T02:00:00+08:00");
    let second = h
        .services
        .run_expiry(None, &ExpiryOptions::default())
        .await
        .expect("run");
    assert_eq!(
        (
            second.reviews_overdue,
            second.reviews_read,
            second.left_for_next_run,
            second.complete
        ),
        (1, 1, 0, true),
        "reads only the one it left: {second:?}"
    );
    let third = h
        .services
        .run_expiry(None, &ExpiryOptions::default())
        .await
        .expect("run");
    assert_eq!((third.reviews_overdue, third.reviews_read), (0, 0), "{third:?}");
}

edl_tests::on_both_adapters!(
    |records| Arc::new(records) as Arc<dyn Records>;
    the_review_queue_merges_its_shards,
    the_expiry_job_reads_every_shard_of_what_is_due,
    the_overdue_pass_goes_past_a_throttled_review_and_resumes
);

/// A table of the test's own on the emulator, and its name for raw reads and writes.
async fn named_table() -> (DynamoRecords, aws_sdk_dynamodb::Client, String) {
    let client = edl_tests::dynamodb_client().await;
    let table = format!("edl-test-{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = DynamoRecords::create_table(&client, &table).await {
        panic!("cannot create table {table} on the emulator: {e}");
    }
    (DynamoRecords::new(client.clone(), table.clone()), client, table)
}

/// Entries written before the buckets were sharded (`APP#<day>`, `REVIEW`) are still found: the job ends the
/// application, and the queue lists the review among the sharded ones. Only DynamoDB keeps data from before: the
/// embedded store lives in one process and starts empty.
#[tokio::test]
async fn entries_of_the_unsharded_partitions_are_still_found() {
    let (dynamo, client, table) = named_table().await;
    let records: Arc<dyn Records> = Arc::new(dynamo);
    let h = harness(records.clone(), 0).await;
    let r = records.as_ref();
    let legacy = opening("app-legacy", "340000199001010001", at("2026-10-26T09:00:00+08:00"));
    let sharded = opening("app-sharded", "340000199001010002", at("2026-10-26T09:00:00+08:00"));
    let later = opening("app-later", "340000199001010003", at("2026-10-28T09:00:00+08:00"));
    for application in [&legacy, &sharded, &later] {
        r.create_application(application).await.expect("store");
    }
    let day = "2026-11-25".parse().expect("day");
    let set_partition = |pk: &str, attribute: &'static str, value: String| {
        client
            .update_item()
            .table_name(&table)
            .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.into()))
            .key("sk", aws_sdk_dynamodb::types::AttributeValue::S("APP".into()))
            .update_expression("SET #a = :v")
            .expression_attribute_names("#a", attribute)
            .expression_attribute_values(":v", aws_sdk_dynamodb::types::AttributeValue::S(value))
            .send()
    };
    set_partition("APP#app-legacy", "expiryPk", ExpiryKind::Application.legacy_bucket(day))
        .await
        .expect("as written before sharding");
    // One more that counts as abandoned tomorrow, in the unsharded bucket of its own day: not read.
    set_partition(
        "APP#app-later",
        "expiryPk",
        ExpiryKind::Application.legacy_bucket("2026-11-27".parse().expect("day")),
    )
    .await
    .expect("as written before sharding");

    h.clock.set(RUN_AT);
    let report = h
        .services
        .run_expiry(None, &ExpiryOptions::default())
        .await
        .expect("run");
    assert_eq!((report.applications_expired, report.items_read), (2, 2), "{report:?}");
    for id in ["app-legacy", "app-sharded"] {
        let stored = r.application(id).await.expect("read").expect("present");
        assert_eq!(stored.state, ApplicationState::Expired, "{id}");
    }
    let stored = r.application("app-later").await.expect("read").expect("present");
    assert_eq!(stored.state, ApplicationState::AwaitingPhoto);

    // A review queued before sharding, under the unsharded `REVIEW`, between two sharded ones.
    let base = at("2026-12-01T09:00:00+08:00");
    for (i, id) in ["rev-a", "rev-legacy", "rev-b"].iter().enumerate() {
        let due = base + Duration::minutes(i64::try_from(i).expect("small"));
        let application = awaiting_review(id, &format!("34000019900102000{i}"), base - Duration::days(1), due);
        r.create_application(&application).await.expect("store");
    }
    set_partition("APP#rev-legacy", "queuePk", "REVIEW".into())
        .await
        .expect("as written before sharding");
    assert_eq!(every_page(r, 1, None).await, ["rev-a", "rev-legacy", "rev-b"]);
}

/// A day's checks that named nothing known spread over the day's shards, each recorded once (a retry finds itself).
#[tokio::test]
async fn unmatched_checks_spread_over_their_shards() {
    let (dynamo, client, table) = named_table().await;
    let checked_at = at("2026-11-25T10:00:00+08:00");
    let checks: Vec<CheckRecord> = (0..40)
        .map(|i| CheckRecord {
            id: format!("check-{i:03}"),
            at: checked_at + Duration::seconds(i),
            verifier_id: "officer-0001".into(),
            organisation: None,
            role: Role::Officer,
            purpose: "traffic stop".into(),
            method: "code".into(),
            serial: None,
            holder_id: None,
            valid: false,
            reason: Some("unknown-code".into()),
        })
        .collect();
    for check in &checks {
        CheckLog::<CheckRecord>::record(&dynamo, check).await.expect("recorded");
    }
    // A retried check is recorded once.
    CheckLog::<CheckRecord>::record(&dynamo, &checks[0])
        .await
        .expect("recorded");

    let mut found = Vec::new();
    let mut used = 0;
    for shard in 0..UNMATCHED_SHARDS {
        let out = client
            .query()
            .table_name(&table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(
                ":pk",
                aws_sdk_dynamodb::types::AttributeValue::S(format!("CHECKS#unmatched#2026-11-25#{shard}")),
            )
            .send()
            .await
            .expect("query");
        let items = out.items.unwrap_or_default();
        used += usize::from(!items.is_empty());
        found.extend(
            items
                .iter()
                .filter_map(|item| item.get("id").and_then(|v| v.as_s().ok()).cloned()),
        );
    }
    found.sort();
    let expected: Vec<String> = checks.iter().map(|c| c.id.clone()).collect();
    assert_eq!(found, expected, "each check once, in one of the day's shards");
    assert!(used > UNMATCHED_SHARDS as usize / 2, "spread over {used} shards");
    let unsharded = client
        .query()
        .table_name(&table)
        .key_condition_expression("pk = :pk")
        .expression_attribute_values(
            ":pk",
            aws_sdk_dynamodb::types::AttributeValue::S("CHECKS#unmatched#2026-11-25".into()),
        )
        .send()
        .await
        .expect("query");
    assert_eq!(out_count(&unsharded), 0, "nothing in the unsharded day partition");
}

fn out_count(out: &aws_sdk_dynamodb::operation::query::QueryOutput) -> usize {
    out.items().len()
}
