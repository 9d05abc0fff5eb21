//! Large register imports (issue 13 item 5) on both adapters (in-process, and DynamoDB with S3 on the emulator):
//! bad lines reported by number and good ones imported once, a job interrupted and resumed, one job per key, a
//! second upload refused; and 100,000 lines on the emulator, interrupted and resumed.

use async_trait::async_trait;
use bytes::Bytes;
use chrono::{DateTime, Utc};
use edl_tests::{admin, call, holder, json_request, request, Answer, Harness};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use shared::adapters::embedded::photos::EmbeddedPhotos;
use shared::adapters::s3::S3Photos;
use shared::applications::ports::UploadForm;
use shared::register::import_job::CHUNK_LINES;
use shared::register::licence::Licence;
use shared::register::ports::{FileStoreError, RegisterFiles, StoredFile};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;

/// Where the fixture's files go: the embedded store (uploads through its signed link) or S3 on the emulator
/// (uploads through the presigned POST form).
#[derive(Clone)]
enum Store {
    Embedded(Arc<EmbeddedPhotos>),
    S3(Arc<S3Photos>),
}

/// The register file store with faults a test switches on: reads refused after a number of them, and one report
/// write refused (a crash after a chunk's licences were written, before its progress was committed).
struct FaultyFiles {
    inner: Arc<dyn RegisterFiles>,
    reads_left: AtomicI64,
    fail_next_report: AtomicBool,
}

#[async_trait]
impl RegisterFiles for FaultyFiles {
    async fn file_upload_form(
        &self,
        key: &str,
        max_bytes: u64,
        expires_at: DateTime<Utc>,
    ) -> Result<UploadForm, FileStoreError> {
        self.inner.file_upload_form(key, max_bytes, expires_at).await
    }

    async fn stored_file(&self, key: &str) -> Result<Option<StoredFile>, FileStoreError> {
        self.inner.stored_file(key).await
    }

    async fn read_file_range(&self, key: &str, tag: &str, offset: u64, length: u64) -> Result<Vec<u8>, FileStoreError> {
        if self.reads_left.fetch_sub(1, Ordering::SeqCst) <= 0 {
            return Err(FileStoreError::Unavailable("injected: S3 unavailable".into()));
        }
        self.inner.read_file_range(key, tag, offset, length).await
    }

    async fn put_report(&self, key: &str, json: &[u8]) -> Result<(), FileStoreError> {
        if self.fail_next_report.swap(false, Ordering::SeqCst) {
            return Err(FileStoreError::Unavailable(
                "injected: crash before the chunk's commit".into(),
            ));
        }
        self.inner.put_report(key, json).await
    }
}

struct Fixture {
    h: Harness,
    store: Store,
    faults: Arc<FaultyFiles>,
}

impl Fixture {
    fn no_faults(&self) {
        self.faults.reads_left.store(i64::MAX, Ordering::SeqCst);
        self.faults.fail_next_report.store(false, Ordering::SeqCst);
    }

    async fn report_objects(&self, job: &str) -> Vec<Value> {
        let prefix = format!("imports/{job}/rejected/");
        match &self.store {
            Store::Embedded(photos) => photos
                .file_keys(&prefix)
                .iter()
                .filter_map(|k| photos.file(k))
                .map(|bytes| serde_json::from_slice(&bytes).expect("report JSON"))
                .collect(),
            Store::S3(s3) => {
                let client = aws_sdk_s3::Client::from_conf(
                    aws_sdk_s3::config::Builder::from(&edl_tests::aws_config().await)
                        .force_path_style(true)
                        .build(),
                );
                let listed = client
                    .list_objects_v2()
                    .bucket(s3.bucket())
                    .prefix(&prefix)
                    .send()
                    .await
                    .expect("list reports");
                let mut keys: Vec<String> = listed
                    .contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string))
                    .collect();
                keys.sort();
                let mut out = Vec::new();
                for key in keys {
                    let object = client
                        .get_object()
                        .bucket(s3.bucket())
                        .key(&key)
                        .send()
                        .await
                        .expect("get report");
                    let bytes = object.body.collect().await.expect("report body").into_bytes();
                    out.push(serde_json::from_slice(&bytes).expect("report JSON"));
                }
                out
            }
        }
    }
}

async fn embedded() -> Fixture {
    let records = Arc::new(edl_tests::embedded_records());
    let keys = shared::dev::DevKeys::random();
    let photos = Arc::new(EmbeddedPhotos::new(keys.clone(), "http://127.0.0.1:9"));
    let clock = edl_tests::TestClock::at(&Utc::now().to_rfc3339());
    let h = edl_tests::harness_with(records, photos.clone(), Some(photos.clone()), keys, clock, 0).await;
    fixture(h, Store::Embedded(photos.clone()), photos)
}

async fn on_aws() -> Fixture {
    let records = Arc::new(edl_tests::dynamo_records().await);
    let photos = Arc::new(edl_tests::s3_photos().await);
    let clock = edl_tests::TestClock::at(&Utc::now().to_rfc3339());
    let h = edl_tests::harness_with(records, photos.clone(), None, shared::dev::DevKeys::random(), clock, 0).await;
    fixture(h, Store::S3(photos.clone()), photos)
}

fn fixture(mut h: Harness, store: Store, files: Arc<dyn RegisterFiles>) -> Fixture {
    let faults = Arc::new(FaultyFiles {
        inner: files,
        reads_left: AtomicI64::new(i64::MAX),
        fail_next_report: AtomicBool::new(false),
    });
    h.services.register_files = Some(faults.clone());
    Fixture { h, store, faults }
}

/// `n` register lines of distinct licences from the sample register generator.
fn licences(n: usize, seed: u64) -> Vec<Licence> {
    shared::sample::generate(n, seed)
}

fn line(licence: &Licence) -> String {
    let mut value = serde_json::to_value(licence).expect("licence JSON");
    if let Some(map) = value.as_object_mut() {
        map.remove("version");
    }
    value.to_string()
}

async fn start(f: &Fixture, key: &str) -> Answer {
    call(
        &f.h.services,
        json_request("POST /admin/imports", &[], admin(), &json!({ "idempotencyKey": key })),
    )
    .await
}

async fn status(f: &Fixture, id: &str) -> Answer {
    call(
        &f.h.services,
        request("GET /admin/imports/{id}", &[("id", id)], admin(), None, None),
    )
    .await
}

/// Uploads `bytes` with the form the start answered, as the administrator's client would; whether the store
/// took it.
async fn upload(f: &Fixture, form: &Value, bytes: &[u8]) -> bool {
    let form: UploadForm = serde_json::from_value(form.clone()).expect("upload form");
    match &f.store {
        Store::Embedded(photos) => {
            let token = form.url.rsplit('/').next().expect("token");
            photos.accept_file_upload(token, bytes, Utc::now()).is_ok()
        }
        Store::S3(_) => {
            assert_eq!(form.method, "POST");
            let boundary = format!("edl{}", uuid::Uuid::new_v4().simple());
            let mut body = Vec::new();
            for (name, value) in &form.fields {
                body.extend_from_slice(
                    format!("--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n")
                        .as_bytes(),
                );
            }
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"register.jsonl\"\r\n\
                     Content-Type: application/x-ndjson\r\n\r\n"
                )
                .as_bytes(),
            );
            body.extend_from_slice(bytes);
            body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
            let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
            let request = http::Request::post(&form.url)
                .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                .body(Full::new(Bytes::from(body)))
                .expect("request");
            let response = client.request(request).await.expect("S3 answers");
            let ok = response.status().is_success();
            let _ = response.into_body().collect().await;
            ok
        }
    }
}

/// S3's `ObjectCreated` event for the job's file, through the expire function's handler.
async fn file_arrived(f: &Fixture, id: &str) -> Result<shared::service::imports::ImportRunReport, String> {
    let event: aws_lambda_events::event::s3::S3Event = serde_json::from_value(json!({
        "Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-12-05T01:00:00Z", "eventName": "ObjectCreated:Post",
            "userIdentity": {"principalId": "A"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {"s3SchemaVersion": "1.0", "configurationId": "imports",
                   "bucket": {"name": "b", "ownerIdentity": {"principalId": "A"}, "arn": "arn:aws:s3:::b"},
                   "object": {"key": format!("imports/{id}.jsonl"), "size": 1, "eTag": "e", "sequencer": "1"}}
        }]
    }))
    .expect("S3 event");
    edl_expire::upload(&f.h.services, event, None)
        .await
        .map_err(|e| e.to_string())
}

/// The five-minute sweep's import part, through the expire function.
async fn sweep(f: &Fixture) -> Result<shared::service::imports::ImportRunReport, String> {
    edl_expire::imports(&f.h.services, None)
        .await
        .map_err(|e| e.to_string())
}

async fn stored(f: &Fixture, numbers: &[String]) -> Vec<Licence> {
    f.h.services.records.licences(numbers).await.expect("read licences")
}

/// Every licence of `expected` is stored once, as its line states it, at version 1.
async fn each_once_at_version_one(f: &Fixture, expected: &[Licence]) {
    let numbers: Vec<String> = expected.iter().map(|l| l.number.clone()).collect();
    let found = stored(f, &numbers).await;
    assert_eq!(found.len(), expected.len(), "every licence is there");
    let by_number: std::collections::HashMap<&str, &Licence> = found.iter().map(|l| (l.number.as_str(), l)).collect();
    for licence in expected {
        let got = by_number[licence.number.as_str()];
        assert_eq!(got.version, 1, "{} written once", licence.number);
        let mut want = licence.clone();
        want.states.sort();
        want.version = 1;
        assert_eq!(got, &want, "{} as its line states it", licence.number);
    }
}

async fn bad_lines_are_reported_by_number_and_good_ones_imported_once(f: Fixture) {
    let good = licences(8, 11);
    let mut lines: Vec<String> = good.iter().map(line).collect();
    // Line 3: not JSON. Line 5: 99 points. Line 7: a licence already on line 1. Line 9 blank. The file ends
    // without a line end.
    lines.insert(2, "{\"number\": ".into());
    let mut bad = good[3].clone();
    bad.number = "440811199501129999".into();
    bad.holder_id = bad.number.clone();
    bad.points = 99;
    lines.insert(4, line(&bad));
    lines.insert(6, line(&good[0]));
    lines.insert(8, "   ".into());
    let file = lines.join("\n");
    let started = start(&f, "register-2026-12-05").await;
    assert_eq!(started.status, 201, "{started:?}");
    let id = started.body["job"]["id"].as_str().expect("job id").to_string();
    assert_eq!(started.body["job"]["state"], "awaiting_upload");
    assert!(upload(&f, &started.body["upload"], file.as_bytes()).await);
    let run = file_arrived(&f, &id).await.expect("the job runs");
    assert_eq!(run.finished, vec![id.clone()]);
    let job = status(&f, &id).await;
    assert_eq!(job.status, 200, "{job:?}");
    assert_eq!(job.body["state"], "finished", "{job:?}");
    assert_eq!(job.body["linesRead"], 12);
    assert_eq!(job.body["imported"], 8);
    assert_eq!(job.body["rejected"], 3);
    let mut refused: Vec<u64> = job.body["rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .filter_map(|r| r["line"].as_u64())
        .collect();
    refused.dedup();
    assert_eq!(refused, vec![3, 5, 7], "{job:?}");
    let reasons = job.body["rejections"].to_string();
    assert!(reasons.contains("not a licence record") && reasons.contains("points") && reasons.contains("twice"));
    // The full list, in the report objects.
    assert_eq!(job.body["rejectedReport"], format!("imports/{id}/rejected/"));
    let reports = f.report_objects(&id).await;
    assert_eq!(reports.len(), 1, "{reports:?}");
    let mut listed: Vec<u64> = reports[0]["rejected"]
        .as_array()
        .expect("rejected")
        .iter()
        .filter_map(|r| r["line"].as_u64())
        .collect();
    listed.dedup();
    assert_eq!(listed, vec![3, 5, 7]);
    // Never a half-imported line: the refused licence is not there at all.
    assert!(stored(&f, &[bad.number.clone()]).await.is_empty());
    each_once_at_version_one(&f, &good).await;
    // The same register again, as a new job: every line is already so, nothing is written (no version moves).
    let again = start(&f, "register-2026-12-05-again").await;
    assert_eq!(again.status, 201);
    let again_id = again.body["job"]["id"].as_str().expect("id").to_string();
    assert!(upload(&f, &again.body["upload"], file.as_bytes()).await);
    sweep(&f).await.expect("the sweep runs it");
    assert_eq!(status(&f, &again_id).await.body["imported"], 8);
    each_once_at_version_one(&f, &good).await;
}

async fn an_interrupted_job_resumes_and_imports_each_licence_once(f: Fixture) {
    // Three chunks, with a refused line in each.
    let count = CHUNK_LINES * 2 + 500;
    let good = licences(count, 12);
    let mut lines: Vec<String> = good.iter().map(line).collect();
    for at in [10, CHUNK_LINES + 10, 2 * CHUNK_LINES + 10] {
        lines[at] = "not json".into();
    }
    let refused_numbers: Vec<String> = [10, CHUNK_LINES + 10, 2 * CHUNK_LINES + 10]
        .iter()
        .map(|&i| good[i].number.clone())
        .collect();
    let expected: Vec<Licence> = good
        .iter()
        .filter(|l| !refused_numbers.contains(&l.number))
        .cloned()
        .collect();
    let file = lines.join("\n") + "\n";
    let started = start(&f, "interrupted").await;
    let id = started.body["job"]["id"].as_str().expect("id").to_string();
    assert!(upload(&f, &started.body["upload"], file.as_bytes()).await);
    // The first chunk is committed, then S3 fails the second chunk's read.
    f.faults.reads_left.store(1, Ordering::SeqCst);
    assert!(file_arrived(&f, &id).await.is_err(), "the run fails");
    let job = status(&f, &id).await;
    assert_eq!(
        (
            job.body["state"].clone(),
            job.body["chunks"].clone(),
            job.body["linesRead"].clone()
        ),
        (json!("running"), json!(1), json!(CHUNK_LINES)),
        "{job:?}"
    );
    // The sweep goes on; this time the run crashes after the second chunk's licences were written and before
    // its progress was committed.
    f.no_faults();
    f.faults.fail_next_report.store(true, Ordering::SeqCst);
    assert!(sweep(&f).await.is_err(), "the run fails mid-chunk");
    assert_eq!(
        status(&f, &id).await.body["chunks"],
        1,
        "the second chunk was not committed"
    );
    // The next sweep replays the second chunk and finishes.
    f.no_faults();
    let run = sweep(&f).await.expect("the job resumes");
    assert_eq!(run.finished, vec![id.clone()]);
    let job = status(&f, &id).await;
    assert_eq!(job.body["state"], "finished", "{job:?}");
    assert_eq!(job.body["chunks"], 3);
    assert_eq!(job.body["linesRead"], count);
    assert_eq!(job.body["imported"], count - 3, "each line counted once");
    assert_eq!(job.body["rejected"], 3);
    let refused: Vec<u64> = job.body["rejections"]
        .as_array()
        .expect("rejections")
        .iter()
        .filter_map(|r| r["line"].as_u64())
        .collect();
    assert_eq!(refused, vec![11, CHUNK_LINES as u64 + 11, 2 * CHUNK_LINES as u64 + 11]);
    assert_eq!(f.report_objects(&id).await.len(), 3);
    each_once_at_version_one(&f, &expected).await;
    assert!(stored(&f, &refused_numbers).await.is_empty());
}

async fn starting_twice_is_one_job_and_a_second_upload_is_refused(f: Fixture) {
    let first = start(&f, "sha256:0f3a").await;
    let second = start(&f, "sha256:0f3a").await;
    assert_eq!((first.status, second.status), (201, 200), "{second:?}");
    assert_eq!(first.body["job"]["id"], second.body["job"]["id"]);
    assert_eq!(second.body["created"], false);
    assert!(
        second.body["upload"].is_object(),
        "the file is still awaited: a form again"
    );
    let id = first.body["job"]["id"].as_str().expect("id").to_string();
    // A sweep before the file arrived leaves the job waiting for it.
    sweep(&f).await.expect("the sweep runs");
    assert_eq!(status(&f, &id).await.body["state"], "awaiting_upload");
    let register = licences(5, 13);
    let file = register.iter().map(line).collect::<Vec<_>>().join("\n");
    assert!(upload(&f, &first.body["upload"], file.as_bytes()).await);
    file_arrived(&f, &id).await.expect("runs");
    // A second event for the same file (S3 delivers at least once) changes nothing.
    file_arrived(&f, &id).await.expect("runs");
    let done = status(&f, &id).await;
    assert_eq!(
        (done.body["state"].clone(), done.body["imported"].clone()),
        (json!("finished"), json!(5))
    );
    // No form for a job that has its file.
    let third = start(&f, "sha256:0f3a").await;
    assert_eq!((third.status, third.problem()), (409, "import-has-file"), "{third:?}");
    // Another file through the first form (still valid) is not imported.
    let mut changed = register.clone();
    for licence in &mut changed {
        licence.points = 6;
    }
    let other = changed.iter().map(line).collect::<Vec<_>>().join("\n");
    assert!(upload(&f, &first.body["upload"], other.as_bytes()).await);
    file_arrived(&f, &id).await.expect("ignored");
    sweep(&f).await.expect("nothing pending");
    assert_eq!(status(&f, &id).await.body, done.body, "the finished job is as it was");
    each_once_at_version_one(&f, &register).await;
}

async fn bad_requests_are_problems(f: Fixture) {
    for key in ["", "a b", "k".repeat(129).as_str()] {
        let answer = start(&f, key).await;
        assert_eq!(
            (answer.status, answer.problem()),
            (400, "invalid-request"),
            "{answer:?}"
        );
        assert_eq!(answer.body["errors"][0]["field"], "idempotencyKey");
    }
    let answer = call(
        &f.h.services,
        json_request(
            "POST /admin/imports",
            &[],
            admin(),
            &json!({ "idempotencyKey": "k", "extra": 1 }),
        ),
    )
    .await;
    assert_eq!(answer.status, 400, "{answer:?}");
    let answer = call(
        &f.h.services,
        json_request(
            "POST /admin/imports",
            &[],
            holder(edl_tests::ZHANG_WEI),
            &json!({ "idempotencyKey": "k" }),
        ),
    )
    .await;
    assert_eq!(answer.status, 403, "{answer:?}");
    let answer = status(&f, "not-a-job").await;
    assert_eq!(
        (answer.status, answer.problem()),
        (400, "invalid-request"),
        "{answer:?}"
    );
    let answer = status(&f, &"0".repeat(32)).await;
    assert_eq!((answer.status, answer.problem()), (404, "not-found"), "{answer:?}");
}

mod embedded {
    use super::*;

    #[tokio::test]
    async fn bad_lines_are_reported_by_number_and_good_ones_imported_once() {
        super::bad_lines_are_reported_by_number_and_good_ones_imported_once(embedded().await).await
    }

    #[tokio::test]
    async fn an_interrupted_job_resumes_and_imports_each_licence_once() {
        super::an_interrupted_job_resumes_and_imports_each_licence_once(embedded().await).await
    }

    #[tokio::test]
    async fn starting_twice_is_one_job_and_a_second_upload_is_refused() {
        super::starting_twice_is_one_job_and_a_second_upload_is_refused(embedded().await).await
    }

    #[tokio::test]
    async fn bad_requests_are_problems() {
        super::bad_requests_are_problems(embedded().await).await
    }
}

mod dynamodb {
    use super::*;

    #[tokio::test]
    async fn bad_lines_are_reported_by_number_and_good_ones_imported_once() {
        super::bad_lines_are_reported_by_number_and_good_ones_imported_once(on_aws().await).await
    }

    #[tokio::test]
    async fn an_interrupted_job_resumes_and_imports_each_licence_once() {
        super::an_interrupted_job_resumes_and_imports_each_licence_once(on_aws().await).await
    }

    #[tokio::test]
    async fn starting_twice_is_one_job_and_a_second_upload_is_refused() {
        super::starting_twice_is_one_job_and_a_second_upload_is_refused(on_aws().await).await
    }

    #[tokio::test]
    async fn bad_requests_are_problems() {
        super::bad_requests_are_problems(on_aws().await).await
    }
}

/// Issue 13's test: 100,000 lines on the emulator, interrupted after 20 chunks and resumed; each licence once.
/// Prints the chunk rate it measured (of the emulator on this machine, not of AWS).
#[tokio::test]
async fn a_hundred_thousand_lines_on_the_emulator_interrupted_and_resumed_each_licence_once() {
    let f = on_aws().await;
    let register = licences(100_000, 14);
    let file = register.iter().map(line).collect::<Vec<_>>().join("\n") + "\n";
    println!(
        "100,000 lines: {} bytes ({} bytes a line on average)",
        file.len(),
        file.len() / 100_000
    );
    let started = start(&f, "national-register").await;
    let id = started.body["job"]["id"].as_str().expect("id").to_string();
    assert!(upload(&f, &started.body["upload"], file.as_bytes()).await);
    f.faults.reads_left.store(20, Ordering::SeqCst);
    let begun = std::time::Instant::now();
    assert!(file_arrived(&f, &id).await.is_err(), "interrupted");
    let job = status(&f, &id).await;
    assert_eq!(job.body["chunks"], 20);
    f.no_faults();
    sweep(&f).await.expect("resumed");
    let took = begun.elapsed();
    let job = status(&f, &id).await;
    assert_eq!(job.body["state"], "finished", "{job:?}");
    assert_eq!(
        (
            job.body["imported"].clone(),
            job.body["rejected"].clone(),
            job.body["linesRead"].clone()
        ),
        (json!(100_000), json!(0), json!(100_000))
    );
    println!(
        "imported 100,000 lines in {:.1} s on the emulator: {:.0} lines/s, {:.2} s a chunk of {CHUNK_LINES}",
        took.as_secs_f64(),
        100_000.0 / took.as_secs_f64(),
        took.as_secs_f64() / 50.0
    );
    each_once_at_version_one(&f, &register).await;
}

/// The local server's part: the upload link stores the file (`PUT /_dev/files/...`) and `POST /_dev/jobs/imports`
/// runs the job, as the S3 event and the sweep do in AWS.
#[tokio::test]
async fn the_local_server_takes_the_file_and_runs_the_job() {
    use edl_local_api::routes::{routes_from_template, TEMPLATE};
    let keys = shared::dev::DevKeys::random();
    let local = edl_local_api::local_services(&edl_local_api::Storage::Embedded, &keys, 0, 2026, "http://127.0.0.1:9")
        .await
        .expect("local services");
    let api = edl_local_api::server::LocalApi::new(
        local.services,
        routes_from_template(TEMPLATE).expect("routes"),
        keys,
        local.embedded_photos,
        local.notices,
        local.approvals,
    )
    .with_development(local.clock, local.key_maker);
    let send = |method: &str, uri: &str, token: Option<&str>, body: Vec<u8>| {
        let mut request = http::Request::builder().method(method).uri(uri);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request
            .header("content-type", "application/json")
            .body(body)
            .expect("request");
        let (parts, body) = request.into_parts();
        let api = &api;
        async move {
            let response = api.dispatch(parts, Bytes::from(body)).await;
            let status = response.status().as_u16();
            let bytes = response.into_body().collect().await.expect("body").to_bytes();
            (status, serde_json::from_slice::<Value>(&bytes).unwrap_or(Value::Null))
        }
    };
    let (_, minted) = send("POST", "/_dev/tokens", None, br#"{"role":"admin"}"#.to_vec()).await;
    let token = minted["token"].as_str().expect("token").to_string();
    let (status, started) = send(
        "POST",
        "/admin/imports",
        Some(&token),
        br#"{"idempotencyKey":"local-register"}"#.to_vec(),
    )
    .await;
    assert_eq!(status, 201, "{started}");
    let id = started["job"]["id"].as_str().expect("id").to_string();
    let url = started["upload"]["url"].as_str().expect("url");
    let path = url
        .strip_prefix("http://127.0.0.1:9")
        .expect("a link to the local server");
    let register = licences(30, 15);
    let file = register.iter().map(line).collect::<Vec<_>>().join("\n");
    let (status, stored) = send("PUT", path, None, file.clone().into_bytes()).await;
    assert_eq!(status, 201, "{stored}");
    let (status, forged) = send("PUT", &format!("{path}x"), None, file.into_bytes()).await;
    assert_eq!(status, 403, "{forged}");
    let (status, run) = send("POST", "/_dev/jobs/imports", None, Vec::new()).await;
    assert_eq!((status, run["finished"].clone()), (200, json!([id])), "{run}");
    let (status, job) = send("GET", &format!("/admin/imports/{id}"), Some(&token), Vec::new()).await;
    assert_eq!(
        (status, job["state"].clone(), job["imported"].clone()),
        (200, json!("finished"), json!(30)),
        "{job}"
    );
}
