//! Shared test support: the AWS emulator connection, services with a fixed clock, and API Gateway events.

pub mod faults;
pub mod faulty;
pub mod images;
pub mod rekognition;

use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, Response};
use serde_json::{json, Value};
use shared::adapters::dynamodb::DynamoRecords;
use shared::adapters::embedded::photos::EmbeddedPhotos;
use shared::adapters::embedded::EmbeddedRecords;
use shared::adapters::s3::S3Photos;
use shared::adapters::Records;
use shared::applications::ports::PhotoStore;
use shared::dev::{DevKeys, DevLiveness};
use shared::kernel::time::Clock;
use shared::service::{
    Administering, Applying, Expiring, Issuing, PassDesk, PhotoChecking, Ports, Refreshing, Reviewing, Services,
    Showing, Signing, Uploading,
};
use std::sync::{Arc, Mutex};

/// The AWS emulator the test command started. Tests that need it fail, never
/// skip, when it is missing.
pub fn aws_endpoint() -> String {
    match std::env::var("AWS_ENDPOINT_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "AWS_ENDPOINT_URL is not set: these tests run against a local AWS emulator (ministack). \
             Run the whole suite with `scripts/test.sh`, which installs ministack into .venv, starts it \
             on 127.0.0.1 and stops it afterwards; or start one yourself \
             (`pip install ministack==1.5.33 cryptography`, then \
             `BIND_HOST=127.0.0.1 GATEWAY_PORT=4566 IOT_MTLS_ENABLED=0 SFTP_ENABLED=0 ministack`) and set \
             AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1."
        ),
    }
}

/// A DynamoDB client for the emulator.
pub async fn dynamodb_client() -> aws_sdk_dynamodb::Client {
    let endpoint = aws_endpoint();
    let config = shared::adapters::aws::sdk_config()
        .await
        .expect("the SDK configuration");
    let config = aws_sdk_dynamodb::config::Builder::from(&config)
        .endpoint_url(endpoint)
        .build();
    aws_sdk_dynamodb::Client::from_conf(config)
}

/// The SDK configuration for the emulator.
pub async fn aws_config() -> aws_config::SdkConfig {
    let endpoint = aws_endpoint();
    let config = shared::adapters::aws::sdk_config()
        .await
        .expect("the SDK configuration");
    config.into_builder().endpoint_url(endpoint).build()
}

/// A fresh bucket of its own for one test, on the emulator.
pub async fn s3_photos() -> S3Photos {
    let photos = S3Photos::new(
        &aws_config().await,
        format!("edl-test-{}", uuid::Uuid::new_v4().simple()),
    );
    if let Err(e) = photos.create_bucket().await {
        panic!(
            "cannot create bucket {} on the emulator at {}: {e}",
            photos.bucket(),
            aws_endpoint()
        );
    }
    photos
}

/// A fresh table of its own for one test, so tests run in parallel without sharing state.
pub async fn dynamo_records() -> DynamoRecords {
    let client = dynamodb_client().await;
    let table = format!("edl-test-{}", uuid::Uuid::new_v4().simple());
    if let Err(e) = DynamoRecords::create_table(&client, &table).await {
        panic!("cannot create table {table} on the emulator at {}: {e}", aws_endpoint());
    }
    DynamoRecords::new(client, table)
}

pub fn embedded_records() -> EmbeddedRecords {
    EmbeddedRecords::new()
}

/// The both-adapters suite: each named test (an `async fn` taking one fixture) runs once on the embedded
/// records and once on DynamoDB in the emulator, the fixture built from each adapter's records by the
/// closure-like head, e.g. `on_both_adapters!(|records| Arc::new(records); test_a, test_b)`. A second name in
/// the head is bound to the `Adapter`, for a fixture that needs more than the records (KMS beside DynamoDB):
/// `on_both_adapters!(|records, adapter| (Arc::new(records) as Arc<dyn Records>, adapter); test_a)`.
#[macro_export]
macro_rules! on_both_adapters {
    (|$records:ident| $fixture:expr; $($name:ident),* $(,)?) => {
        $crate::on_both_adapters!(|$records, _adapter| $fixture; $($name),*);
    };
    (|$records:ident, $adapter:ident| $fixture:expr; $($name:ident),* $(,)?) => {
        mod embedded {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let $records = $crate::embedded_records();
                    let $adapter = $crate::Adapter::Embedded;
                    super::$name($fixture).await
                }
            )*
        }
        mod dynamodb {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test]
                async fn $name() {
                    let $records = $crate::dynamo_records().await;
                    let $adapter = $crate::Adapter::Aws;
                    super::$name($fixture).await
                }
            )*
        }
    };
}

/// Which adapters a test runs on: the embedded records (and in-process keys), or DynamoDB (and KMS) on the
/// emulator; what `on_both_adapters!(|records, adapter| ...)` names for a fixture that needs more than the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Adapter {
    Embedded,
    Aws,
}

/// A clock the test sets.
pub struct TestClock(Mutex<DateTime<Utc>>);

impl TestClock {
    pub fn at(rfc3339: &str) -> Arc<TestClock> {
        Arc::new(TestClock(Mutex::new(at(rfc3339))))
    }

    pub fn set(&self, rfc3339: &str) {
        if let Ok(mut now) = self.0.lock() {
            *now = at(rfc3339);
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        if let Ok(mut now) = self.0.lock() {
            *now += by;
        }
    }
}

impl Clock for TestClock {
    fn now(&self) -> DateTime<Utc> {
        self.0.lock().map(|t| *t).unwrap_or_else(|_| Utc::now())
    }
}

/// Asserts that the licence's record tells exactly where its document's portrait lies: at an offset that is a
/// multiple of 3, over the very bytes of the portrait signed into it (a document without portrait tells nothing).
/// Answers whether the document has a portrait.
pub fn assert_portrait_span_fits(edl: &shared::issuance::edl::ElectronicLicence) -> bool {
    use base64::Engine as _;
    let document = base64::engine::general_purpose::STANDARD
        .decode(&edl.issuer_signed)
        .expect("the stored document is base64");
    match shared::credential::mdoc::portrait_of(&document) {
        Some(portrait) => {
            let span = edl.portrait_span.expect("the record tells where the portrait lies");
            assert_eq!(span.offset % 3, 0, "{span:?}");
            assert_eq!(
                document.get(span.offset..span.offset + span.length),
                Some(&portrait[..])
            );
            true
        }
        None => {
            assert_eq!(edl.portrait_span, None);
            false
        }
    }
}

pub fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .unwrap_or_else(|e| panic!("bad time {rfc3339}: {e}"))
        .with_timezone(&Utc)
}

/// The moment the tests live in: waves 1 and 2a are live, 2b opens on the 27th, 2c is unscheduled.
pub const NOW: &str = "2026-11-25T10:00:00+08:00";

/// Everything a handler needs, over `records`, with the rollout plan and the
/// first `samples` licences of the sample register (the showcase ones first).
pub struct Harness {
    pub services: Services,
    /// Every function's ports: the photo store, a signer with no key until a test installs one, the
    /// approvals held (`approvals`), the notices (`notices`) and the key check's metrics in memory. A test
    /// swaps one (a failing signer, an issuer that issues at once) by assigning it.
    pub ports: Ports,
    /// The approvals handed to issuance: they wait here, as for the issue function's event, until a test
    /// issues them.
    pub approvals: Arc<HeldApprovals>,
    pub keys: DevKeys,
    pub clock: Arc<TestClock>,
    /// The embedded photo store, when the harness uses it.
    pub embedded_photos: Option<Arc<EmbeddedPhotos>>,
    /// The development liveness service the services use: the tests finish its sessions as the app would.
    pub liveness: Arc<DevLiveness>,
    /// The notices the use cases pushed to holders and fleets.
    pub notices: Arc<shared::adapters::embedded::notices::EmbeddedNotices>,
}

pub async fn harness(records: Arc<dyn Records>, samples: usize) -> Harness {
    let keys = DevKeys::random();
    let photos = Arc::new(EmbeddedPhotos::new(keys.clone(), "http://127.0.0.1:9"));
    harness_with(records, photos.clone(), Some(photos), keys, TestClock::at(NOW), samples).await
}

/// A harness on the emulator's DynamoDB and S3, on today's real clock (S3
/// checks the forms' signatures and expiry against real time).
pub async fn aws_harness() -> Harness {
    let records = Arc::new(dynamo_records().await);
    let photos = Arc::new(s3_photos().await);
    let clock = Arc::new(TestClock(Mutex::new(Utc::now())));
    harness_with(records, photos, None, DevKeys::random(), clock, 5).await
}

pub async fn harness_with<P: PhotoStore + shared::register::ports::RegisterFiles + 'static>(
    records: Arc<dyn Records>,
    photos: Arc<P>,
    embedded_photos: Option<Arc<EmbeddedPhotos>>,
    keys: DevKeys,
    clock: Arc<TestClock>,
    samples: usize,
) -> Harness {
    // Nothing seeds the rollout plan or the truck rules, as in a deployment: the shipped ones stand for what is
    // not stored.
    if samples > 0 {
        records
            .import_licences(&shared::sample::generate(samples, 2026))
            .await
            .unwrap_or_else(|e| panic!("import samples: {e}"));
        records
            .import_vehicles(&shared::sample::showcase_vehicles())
            .await
            .unwrap_or_else(|e| panic!("import vehicles: {e}"));
        shared::sample::seed_photos(photos.as_ref())
            .await
            .unwrap_or_else(|e| panic!("seed the register's photos: {e}"));
    }
    let liveness = Arc::new(DevLiveness::new(clock.clone()));
    let notices = Arc::new(shared::adapters::embedded::notices::EmbeddedNotices::default());
    let mut services = Services::new(records, clock.clone(), liveness.clone());
    // Four status lists of the deployed size, not 128: a publication run signs every list once.
    services.status_lists.lists = 4;
    let approvals = Arc::new(HeldApprovals::default());
    let ports = Ports {
        // One store: photos, and the large imports' register files, as one bucket holds both.
        register_files: photos.clone(),
        photos,
        signer: Arc::new(shared::crypto::LocalSigner::new()),
        issuer: approvals.clone(),
        notifier: notices.clone(),
        key_metrics: Arc::new(shared::kernel::metrics::RecordedMetrics::default()),
        pages: Arc::new(shared::credential::pages::InProcess),
    };
    Harness {
        services,
        ports,
        approvals,
        keys,
        liveness,
        clock,
        embedded_photos,
        notices,
    }
}

/// Approvals handed to issuance, kept in order.
#[derive(Default)]
pub struct HeldApprovals(Mutex<Vec<String>>);

impl HeldApprovals {
    /// The applications handed to issuance so far, oldest first.
    pub fn held(&self) -> Vec<String> {
        self.0.lock().map(|held| held.clone()).unwrap_or_default()
    }
}

#[async_trait::async_trait]
impl shared::applications::ports::Issuer for HeldApprovals {
    async fn request_issuance(
        &self,
        application: &shared::applications::application::Application,
    ) -> Result<(), shared::applications::ports::IssuerError> {
        self.0
            .lock()
            .map_err(|_| shared::applications::ports::IssuerError::Failed("poisoned".into()))?
            .push(application.id.clone());
        Ok(())
    }
}

/// Each function's context over the harness's services and ports, as its cold start builds it.
impl Harness {
    pub fn signing(&self) -> Signing {
        self.ports.signing(&self.services)
    }
    pub fn applying(&self) -> Applying {
        self.ports.applying(&self.services)
    }
    pub fn uploading(&self) -> Uploading {
        self.ports.uploading(&self.services)
    }
    pub fn photo_checking(&self) -> PhotoChecking {
        self.ports.photo_checking(&self.services)
    }
    pub fn reviewing(&self) -> Reviewing {
        self.ports.reviewing(&self.services)
    }
    pub fn issuing(&self) -> Issuing {
        self.ports.issuing(&self.services)
    }
    pub fn showing(&self) -> Showing {
        self.ports.showing(&self.services)
    }
    pub fn pass_desk(&self) -> PassDesk {
        self.ports.pass_desk(&self.services)
    }
    pub fn administering(&self) -> Administering {
        self.ports.administering(&self.services)
    }
    pub fn expiring(&self) -> Expiring {
        self.ports.expiring(&self.services)
    }
    pub fn refreshing(&self) -> Refreshing {
        self.ports.refreshing(&self.services)
    }

    /// Runs the request through the real handler of the function that serves it, in that function's context.
    pub async fn call(&self, request: Request) -> Answer {
        call_with(&self.services, &self.ports, request).await
    }
}

pub async fn embedded_harness() -> Harness {
    harness(Arc::new(embedded_records()), 5).await
}

pub async fn dynamo_harness() -> Harness {
    harness(Arc::new(dynamo_records().await), 5).await
}

/// The showcase identities (see `shared::sample::showcase_licences`).
pub const ZHANG_WEI: &str = "11010519900307451X"; // Beijing, eligible, photo on file
pub const LI_NA: &str = "310104199208152623"; // Shanghai, eligible, no photo on file
pub const WANG_FANG: &str = "440106198505213821"; // Guangzhou, detained + medical overdue
pub const LIU_YANG: &str = "440811199501121333"; // Zhanjiang, wave 2c not live
pub const CHEN_JING: &str = "440304198809302469"; // Shenzhen, counter walkthrough

/// JWT claims as API Gateway's authorizer passes them (all strings).
pub fn claims(sub: &str, roles: &str, office: Option<&str>) -> Value {
    let mut claims = json!({
        "sub": sub,
        "roles": roles,
        "iss": "https://login.edl.example.gov.cn",
        "aud": "edl-app",
        "iat": "1795000000",
        "exp": "1795003600",
    });
    if let (Some(office), Some(map)) = (office, claims.as_object_mut()) {
        map.insert("office".into(), json!(office));
    }
    claims
}

pub fn holder(sub: &str) -> Option<Value> {
    Some(claims(sub, "holder", None))
}

/// A traffic police officer of Beijing, as the sample events and the local server's default token.
pub fn officer() -> Option<Value> {
    let mut c = claims("officer-110000-0042", "officer", None);
    c["org"] = serde_json::json!("北京市公安局公安交通管理局");
    Some(c)
}

pub fn admin() -> Option<Value> {
    Some(claims("admin-0001", "admin", None))
}

pub fn clerk(office: &str) -> Option<Value> {
    Some(claims(&format!("clerk-{office}-0007"), "clerk", Some(office)))
}

/// An API Gateway HTTP API (2.0) request for `route_key` ("POST /applications/{id}/liveness")
/// with the path parameters filled in, claims (None: no authorizer context), content type and body.
pub fn request(
    route_key: &str,
    parameters: &[(&str, &str)],
    claims: Option<Value>,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Request {
    let event = event(route_key, parameters, claims, content_type, body);
    lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("event for {route_key}: {e}"))
}

/// A `GET` with a query string (`limit=2&cursor=...`) and request headers (`If-None-Match`), as API Gateway
/// passes it.
pub fn get_request(
    route_key: &str,
    parameters: &[(&str, &str)],
    claims: Option<Value>,
    query: &str,
    headers: &[(&str, &str)],
) -> Request {
    let mut event = event(route_key, parameters, claims, None, None);
    event["rawQueryString"] = json!(query);
    for (name, value) in headers {
        event["headers"][*name] = json!(value);
    }
    lambda_http::request::from_str(&event.to_string()).unwrap_or_else(|e| panic!("event for {route_key}: {e}"))
}

/// The API Gateway (HTTP API, payload 2.0) event of a request.
fn event(
    route_key: &str,
    parameters: &[(&str, &str)],
    claims: Option<Value>,
    content_type: Option<&str>,
    body: Option<&str>,
) -> Value {
    let (method, pattern) = route_key.split_once(' ').unwrap_or(("GET", route_key));
    let mut path = pattern.to_string();
    for (name, value) in parameters {
        path = path.replace(&format!("{{{name}}}"), value);
    }
    let mut headers = json!({ "host": "a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn" });
    if let (Some(kind), Some(map)) = (content_type, headers.as_object_mut()) {
        map.insert("content-type".into(), json!(kind));
    }
    let params: serde_json::Map<String, Value> = parameters.iter().map(|(k, v)| (k.to_string(), json!(v))).collect();
    let mut context = json!({
        "accountId": "123456789012",
        "apiId": "a1b2c3d4e5",
        "domainName": "a1b2c3d4e5.execute-api.cn-north-1.amazonaws.com.cn",
        "domainPrefix": "a1b2c3d4e5",
        "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.10", "userAgent": "edl-tests" },
        "requestId": uuid::Uuid::new_v4().to_string(),
        "routeKey": route_key,
        "stage": "$default",
        "time": "25/Nov/2026:02:00:00 +0000",
        "timeEpoch": 1795053600000i64,
    });
    if let (Some(claims), Some(map)) = (claims, context.as_object_mut()) {
        map.insert(
            "authorizer".into(),
            json!({ "jwt": { "claims": claims, "scopes": null } }),
        );
    }
    json!({
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "pathParameters": if params.is_empty() { Value::Null } else { Value::Object(params) },
        "requestContext": context,
        "body": body,
        "isBase64Encoded": false,
    })
}

pub fn json_request(route_key: &str, parameters: &[(&str, &str)], claims: Option<Value>, body: &Value) -> Request {
    request(
        route_key,
        parameters,
        claims,
        Some("application/json"),
        Some(&body.to_string()),
    )
}

/// The function that serves `route_key`; a route nobody serves goes to apply,
/// which must answer it with a 404 problem.
pub fn function_for(route_key: &str) -> &'static str {
    if edl_admin::ROUTES.contains(&route_key) {
        "admin"
    } else if edl_photo_upload::ROUTES.contains(&route_key) {
        "photo-upload"
    } else if edl_review::ROUTES.contains(&route_key) {
        "review"
    } else if edl_licence::ROUTES.contains(&route_key) {
        "licence"
    } else if edl_verify::ROUTES.contains(&route_key) {
        "verify"
    } else if edl_pass::ROUTES.contains(&route_key) {
        "pass"
    } else {
        "apply"
    }
}

/// Status, content type and JSON body of a handled request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub body: Value,
    /// The body as sent (for images).
    pub bytes: Vec<u8>,
    /// The `Retry-After` header, when the answer carries one.
    pub retry_after: Option<String>,
    /// The `Cache-Control` header ("" when absent).
    pub cache_control: String,
    /// The `ETag` header, when the answer carries one.
    pub etag: Option<String>,
}

impl Answer {
    /// The problem `type` slug, asserting the answer is a problem document.
    pub fn problem(&self) -> &str {
        assert_eq!(self.content_type, "application/problem+json", "{self:?}");
        assert_eq!(self.body["status"].as_u64(), Some(u64::from(self.status)), "{self:?}");
        assert!(
            self.body["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "a problem says what was wrong: {self:?}"
        );
        self.body["type"]
            .as_str()
            .and_then(|t| t.strip_prefix("urn:edl:problem:"))
            .unwrap_or_else(|| panic!("problem type: {self:?}"))
    }
}

pub fn answer(response: Response<Body>) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let (cache_control, etag) = (header("cache-control").unwrap_or_default(), header("etag"));
    let bytes: &[u8] = response.body().as_ref();
    let body = serde_json::from_slice(bytes).unwrap_or(Value::Null);
    Answer {
        status,
        content_type,
        body,
        bytes: bytes.to_vec(),
        retry_after,
        cache_control,
        etag,
    }
}

/// Runs the request through the real handler of the function that serves it, in that function's context
/// over `services` and `ports`.
pub async fn call_with(services: &Services, ports: &Ports, request: Request) -> Answer {
    let route = shared::http::route_key(&request);
    let response = match function_for(&route) {
        "admin" => edl_admin::handle(&ports.administering(services), request).await,
        "photo-upload" => edl_photo_upload::handle(&ports.uploading(services), request).await,
        "review" => edl_review::handle(&ports.reviewing(services), request).await,
        "licence" => edl_licence::handle(&ports.showing(services), request).await,
        "verify" => edl_verify::handle(services, request).await,
        "pass" => edl_pass::handle(&ports.pass_desk(services), request).await,
        _ => edl_apply::handle(&ports.applying(services), request).await,
    };
    answer(response)
}

/// Keys to sign with (a fresh IACA and document signer), and 张伟's licence issued from an application
/// opened with `body` (his photo on file, liveness passed); its serial.
pub async fn issued_to_zhang_wei(h: &mut Harness, body: &Value) -> String {
    use shared::service::issuance::IssueOutcome;
    use shared::service::keys::Authority;
    let signer = shared::crypto::LocalSigner::new();
    signer.generate("iaca");
    signer.generate("ds");
    h.ports.signer = Arc::new(signer);
    h.signing()
        .install_iaca(&Authority::default(), "iaca")
        .await
        .expect("IACA");
    h.signing()
        .add_document_signer(&Authority::default(), "ds")
        .await
        .expect("DS");
    let id = approved(h, ZHANG_WEI, body).await.expect("approved");
    let IssueOutcome::Issued { serial } = h.issuing().issue(&id).await.expect("issued") else {
        panic!("not issued")
    };
    serial
}

/// `holder_id` opens an application with `body` and passes the real-person check: the application's id
/// once approved; None when the holder may not apply (not eligible, city not live, no photo on file) or the
/// check did not approve it.
pub async fn approved(h: &Harness, holder_id: &str, body: &Value) -> Option<String> {
    let opened = h
        .call(json_request("POST /applications", &[], holder(holder_id), body))
        .await;
    if opened.status != 201 {
        return None;
    }
    let id = opened.body["id"].as_str().expect("id").to_string();
    let session = liveness_session(h, holder_id, &id, 99.0).await;
    let passed = h
        .call(json_request(
            "POST /applications/{id}/liveness",
            &[("id", &id)],
            holder(holder_id),
            &json!({ "livenessSessionId": session }),
        ))
        .await;
    (passed.status == 200 && passed.body["state"] == "approved").then_some(id)
}

/// [`approved`] with the photo on file.
pub async fn approved_on_file(h: &Harness, holder_id: &str) -> Option<String> {
    approved(h, holder_id, &json!({ "photoSource": "on_file" })).await
}

/// [`approved_on_file`], then the licence issued: its serial.
pub async fn apply_and_issue(h: &Harness, holder_id: &str) -> Option<String> {
    use shared::service::issuance::IssueOutcome;
    let id = approved_on_file(h, holder_id).await?;
    match h.issuing().issue(&id).await.expect("issued") {
        IssueOutcome::Issued { serial } => Some(serial),
        other => panic!("{other:?}"),
    }
}

/// A real-person check of `holder`'s application `application`: the session the backend creates
/// (`POST /applications/{id}/liveness-sessions`), finished with `confidence` and the holder's own face (the
/// photo on file) as the app's detector would; its id, for `POST /applications/{id}/liveness`.
pub async fn liveness_session(h: &Harness, holder_id: &str, application: &str, confidence: f32) -> String {
    let started = h
        .call(request(
            "POST /applications/{id}/liveness-sessions",
            &[("id", application)],
            holder(holder_id),
            None,
            None,
        ))
        .await;
    assert_eq!(started.status, 201, "{started:?}");
    let session = started.body["sessionId"].as_str().expect("sessionId").to_string();
    h.liveness
        .finish_as_holder(&h.applying(), &session, confidence)
        .await
        .unwrap_or_else(|e| panic!("finish the liveness session: {e}"));
    session
}
