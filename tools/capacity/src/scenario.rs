//! The operations measured: each run through the local API or the function's handler, with the real AWS adapters pointed at the counting proxy.

use crate::ledger::Call;
use crate::proxy::{Proxy, ProxyError};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use edl_local_api::routes::{routes_from_template, TEMPLATE};
use edl_local_api::server::LocalApi;
use http_body_util::{BodyExt, Full};
use serde::Serialize;
use serde_json::{json, Value};
use shared::adapters::dynamodb::DynamoRecords;
use shared::adapters::embedded::notices::EmbeddedNotices;
use shared::adapters::eventbridge::EventBus;
use shared::adapters::kms::KmsSigner;
use shared::adapters::s3::S3Photos;
use shared::adapters::Records;
use shared::dev::{DevKeys, DevLiveness};
use shared::kernel::caller::Role;
use shared::kernel::time::Clock;
use shared::service::keys::Authority;
use shared::service::{Ports, Services};
use std::sync::{Arc, Mutex};

/// The emulator's table for a measurement is named by this prefix and a fresh id.
pub const TABLE_PREFIX: &str = "edl-capacity-";

/// The operations of the model: what each is, which function serves it and on which route.
pub struct OperationSpec {
    pub id: &'static str,
    pub title: &'static str,
    /// The Lambda function (binary name) that serves it; `None` for the app's own upload to S3.
    pub function: Option<&'static str>,
    /// The API Gateway route, for operations that arrive through the HTTP API.
    pub route: Option<&'static str>,
}

pub const OPERATIONS: &[OperationSpec] = &[
    op(
        "open-on-file",
        "Open an application (photo on file)",
        Some("apply"),
        Some("POST /applications"),
    ),
    op(
        "open-new-photo",
        "Open an application (new photo)",
        Some("apply"),
        Some("POST /applications"),
    ),
    op(
        "liveness",
        "Liveness confirmation",
        Some("apply"),
        Some("POST /applications/{id}/liveness"),
    ),
    op(
        "upload-form",
        "Upload form",
        Some("photo-upload"),
        Some("POST /applications/{id}/photo-uploads"),
    ),
    op("upload", "Photo upload (the app posts the form to S3)", None, None),
    op("photo-check", "Photo check (S3 event)", Some("photo-check"), None),
    op(
        "review-queue",
        "Review queue page",
        Some("review"),
        Some("GET /reviews"),
    ),
    op("review-item", "Review item", Some("review"), Some("GET /reviews/{id}")),
    op(
        "review-decision",
        "Review decision (approve)",
        Some("review"),
        Some("POST /reviews/{id}/decision"),
    ),
    op("issue-on-file", "Issuance (photo on file)", Some("issue"), None),
    op("issue-new-photo", "Issuance (new photo)", Some("issue"), None),
    op("show-licence", "Show licence", Some("licence"), Some("GET /licence")),
    op(
        "show-code",
        "Show code (a new code, signed)",
        Some("licence"),
        Some("GET /licence/code"),
    ),
    op(
        "show-code-reused",
        "Show code (reused)",
        Some("licence"),
        Some("GET /licence/code"),
    ),
    op(
        "verify-code",
        "Verify by code",
        Some("verify"),
        Some("POST /verifications"),
    ),
    op(
        "verify-barcode",
        "Verify by barcode",
        Some("verify"),
        Some("POST /verifications"),
    ),
    op(
        "verify-mdoc",
        "Verify by mdoc",
        Some("verify"),
        Some("POST /verifications"),
    ),
    op(
        "truck-apply",
        "Truck pass apply (short, signed at once)",
        Some("pass"),
        Some("POST /truck/passes"),
    ),
    op(
        "truck-code",
        "Truck pass show code",
        Some("pass"),
        Some("GET /truck/passes/{id}/code"),
    ),
    op(
        "truck-verify",
        "Truck pass verify",
        Some("verify"),
        Some("POST /truck/verifications"),
    ),
    op(
        "expiry",
        "Expiry run (per run of N abandoned applications)",
        Some("expire"),
        None,
    ),
];

const fn op(
    id: &'static str,
    title: &'static str,
    function: Option<&'static str>,
    route: Option<&'static str>,
) -> OperationSpec {
    OperationSpec {
        id,
        title,
        function,
        route,
    }
}

pub fn spec(id: &str) -> Option<&'static OperationSpec> {
    OPERATIONS.iter().find(|o| o.id == id)
}

/// Groups of operations that follow one another for one subject.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Open with the photo on file, liveness, issuance, show, codes, the three verifications.
    OnFile,
    /// Open with a new photo, upload form, upload, check, review, issuance.
    NewPhoto,
    /// A truck pass: apply, show its code, verify it.
    Truck,
    /// Abandoned applications ended by the expiry run.
    Expiry,
}

impl Flow {
    pub const ALL: [Flow; 4] = [Flow::OnFile, Flow::NewPhoto, Flow::Truck, Flow::Expiry];

    pub fn parse(name: &str) -> Option<Flow> {
        match name {
            "on-file" => Some(Flow::OnFile),
            "new-photo" => Some(Flow::NewPhoto),
            "truck" => Some(Flow::Truck),
            "expiry" => Some(Flow::Expiry),
            _ => None,
        }
    }
}

/// The calls of one operation, once per run (each run with another subject).
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Measured {
    pub id: String,
    pub runs: Vec<Vec<Call>>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub operations: Vec<Measured>,
    /// Abandoned applications the expiry run ended (its calls are for this many).
    pub expiry_items: usize,
}

impl Measurement {
    pub fn get(&self, id: &str) -> Option<&Measured> {
        self.operations.iter().find(|m| m.id == id)
    }

    fn push(&mut self, id: &str, calls: Vec<Call>) {
        match self.operations.iter_mut().find(|m| m.id == id) {
            Some(m) => m.runs.push(calls),
            None => self.operations.push(Measured {
                id: id.into(),
                runs: vec![calls],
            }),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error(transparent)]
    Proxy(#[from] ProxyError),
    #[error("setting up on the emulator failed: {0}")]
    Setup(String),
    #[error("{step}: {detail}")]
    Step { step: String, detail: String },
}

fn step(step: &str, detail: impl std::fmt::Display) -> ScenarioError {
    ScenarioError::Step {
        step: step.into(),
        detail: detail.to_string(),
    }
}

/// The real clock moved by an offset, so the expiry run can be a month later.
#[derive(Default)]
pub struct OffsetClock(Mutex<Duration>);

impl OffsetClock {
    pub fn advance(&self, by: Duration) {
        if let Ok(mut offset) = self.0.lock() {
            *offset += by;
        }
    }
}

impl Clock for OffsetClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.0.lock().map(|d| *d).unwrap_or_default()
    }
}

/// The local API over DynamoDB, S3, KMS and EventBridge on the emulator, every call through the proxy.
pub struct Bench {
    pub proxy: Proxy,
    pub api: LocalApi,
    pub clock: Arc<OffsetClock>,
    /// Plays the app's liveness detector: finishes the sessions the apply function creates.
    liveness: Arc<DevLiveness>,
    bucket: String,
    /// Licence numbers of the sample register with whether a photo is on file, not yet used.
    register: Vec<(String, bool)>,
    http: hyper_util::client::legacy::Client<hyper_util::client::legacy::connect::HttpConnector, Full<Bytes>>,
}

/// A JSON answer from the local API.
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

impl Bench {
    /// Creates a table, a bucket, an event bus and two KMS keys on the emulator
    /// at `upstream`, loads `samples` sample licences, and certifies the keys.
    pub async fn start(upstream: &str, samples: usize) -> Result<Bench, ScenarioError> {
        let proxy = Proxy::start(upstream).await?;
        // The endpoint set on the loader, not on a built configuration: the SDK's clients would
        // otherwise take AWS_ENDPOINT_URL (the emulator itself) from the environment again.
        let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .endpoint_url(&proxy.url)
            .load()
            .await;
        let run = uuid::Uuid::new_v4().simple().to_string();
        let table = format!("{TABLE_PREFIX}{run}");
        let bucket = format!("edl-capacity-{run}");
        let bus = format!("edl-capacity-{run}");
        let setup = |e: &dyn std::fmt::Display| ScenarioError::Setup(e.to_string());
        let client = shared::adapters::aws::dynamodb_client(&sdk);
        DynamoRecords::create_table(&client, &table)
            .await
            .map_err(|e| setup(&e))?;
        let photos = S3Photos::new(&sdk, bucket.clone());
        photos.create_bucket().await.map_err(|e| setup(&e))?;
        // The register's photos on file the sample licences name (R3).
        shared::sample::seed_photos(&photos).await.map_err(|e| setup(&e))?;
        aws_sdk_eventbridge::Client::new(&sdk)
            .create_event_bus()
            .name(&bus)
            .send()
            .await
            .map_err(|e| setup(&aws_sdk_eventbridge::error::DisplayErrorContext(e)))?;
        let records: Arc<dyn Records> = Arc::new(DynamoRecords::new(client, table));
        // Nothing seeds the rollout plan or truck rules, as in a deployment (the shipped ones stand for them).
        records
            .import_vehicles(&shared::sample::showcase_vehicles())
            .await
            .map_err(|e| setup(&e))?;
        let licences = shared::sample::generate(samples, 2026);
        for chunk in licences.chunks(1000) {
            records.import_licences(chunk).await.map_err(|e| setup(&e))?;
        }
        // The register's public import format: the number and whether the register holds a photo of the holder.
        let register = shared::sample::to_json_lines(&licences)
            .lines()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter_map(|l| {
                Some((
                    l["number"].as_str()?.to_string(),
                    l["photoSha256"].is_string() || l["photoImage"].is_string(),
                ))
            })
            .collect();
        let keys = DevKeys::random();
        let clock = Arc::new(OffsetClock::default());
        let liveness = Arc::new(DevLiveness::new(clock.clone()));
        let events = Arc::new(EventBus::new(&sdk, bus));
        let services = Services::new(records, clock.clone(), liveness.clone());
        // One bucket: photos, and the register files of large imports.
        let store = Arc::new(photos);
        let ports = Ports {
            photos: store.clone(),
            register_files: store,
            signer: Arc::new(KmsSigner::new(&sdk)),
            issuer: events.clone(),
            notifier: events,
            key_metrics: Arc::new(shared::kernel::metrics::RecordedMetrics::default()),
            pages: Arc::new(shared::credential::pages::InProcess),
        };
        let signing = ports.signing(&services);
        let iaca = shared::adapters::kms::create_signing_key(&sdk, "edl-capacity IACA root")
            .await
            .map_err(|e| setup(&e))?;
        let signer = shared::adapters::kms::create_signing_key(&sdk, "edl-capacity document signer")
            .await
            .map_err(|e| setup(&e))?;
        let authority = Authority::default();
        signing.install_iaca(&authority, &iaca).await.map_err(|e| setup(&e))?;
        signing
            .add_document_signer(&authority, &signer)
            .await
            .map_err(|e| setup(&e))?;
        let routes = routes_from_template(TEMPLATE).map_err(|e| setup(&e))?;
        // Issuance goes through EventBridge here, as deployed: nothing feeds the local issuing channel.
        let (_unused, approvals) = tokio::sync::mpsc::unbounded_channel();
        let api = LocalApi::new(
            services,
            ports,
            routes,
            keys,
            None,
            Arc::new(EmbeddedNotices::default()),
            approvals,
        );
        let bench = Bench {
            proxy,
            api: api.with_liveness(liveness.clone()),
            liveness,
            clock,
            bucket,
            register,
            http: hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new()).build_http(),
        };
        bench.calls();
        Ok(bench)
    }

    /// The calls made since the previous look.
    pub fn calls(&self) -> Vec<Call> {
        self.proxy.ledger.take()
    }

    pub fn token(&self, role: Role, sub: Option<&str>) -> String {
        self.api.mint(role, sub.map(str::to_string), None, None).0
    }

    /// One request through the local API (API Gateway's part, then the function's handler).
    pub async fn request(&self, method: &str, path: &str, token: Option<&str>, body: Option<Value>) -> Answer {
        let mut builder = http::Request::builder().method(method).uri(path);
        if let Some(token) = token {
            builder = builder.header("authorization", format!("Bearer {token}"));
        }
        if body.is_some() {
            builder = builder.header("content-type", "application/json");
        }
        let Ok(request) = builder.body(()) else {
            return Answer {
                status: 0,
                body: Value::Null,
            };
        };
        let (parts, ()) = request.into_parts();
        let bytes = body.map(|b| Bytes::from(b.to_string())).unwrap_or_default();
        let response = self.api.dispatch(parts, bytes).await;
        let status = response.status().as_u16();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        Answer {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Opens an application for the next licence of the register that may
    /// have one; refusals (ineligible, city not live) are skipped and their calls dropped.
    pub async fn open(&mut self, on_file: bool) -> Result<(String, String, Vec<Call>), ScenarioError> {
        let source = if on_file { "on_file" } else { "camera" };
        while let Some(at) = self.register.iter().position(|(_, photo)| *photo || !on_file) {
            let (number, _) = self.register.remove(at);
            let token = self.token(Role::Holder, Some(&number));
            self.calls();
            let answer = self
                .request(
                    "POST",
                    "/applications",
                    Some(&token),
                    Some(json!({ "photoSource": source })),
                )
                .await;
            let calls = self.calls();
            if answer.status == 201 {
                let id = answer.body["id"].as_str().unwrap_or_default().to_string();
                return Ok((number, id, calls));
            }
        }
        Err(step(
            "open an application",
            "the sample register has no more licences that may apply",
        ))
    }

    /// The holder starts a real-person check, passes it (the development liveness service plays the app's
    /// detector) and confirms it; the answer, and the AWS calls of the two API requests (not those of playing
    /// the detector, which the app and Rekognition make in production).
    pub async fn confirm_liveness(&self, holder: &str, application: &str) -> (Answer, Vec<Call>) {
        let token = self.token(Role::Holder, Some(holder));
        let started = self
            .request(
                "POST",
                &format!("/applications/{application}/liveness-sessions"),
                Some(&token),
                None,
            )
            .await;
        let mut calls = self.calls();
        if started.status != 201 {
            return (started, calls);
        }
        let session = started.body["sessionId"].as_str().unwrap_or_default().to_string();
        if let Err(e) = self
            .liveness
            .finish_as_holder(&self.api.ports.applying(&self.api.services), &session, 99.0)
            .await
        {
            tracing::warn!(error = %e, "the development liveness session could not be finished");
        }
        let _detector = self.calls();
        let answer = self
            .request(
                "POST",
                &format!("/applications/{application}/liveness"),
                Some(&token),
                Some(json!({ "livenessSessionId": session })),
            )
            .await;
        calls.extend(self.calls());
        (answer, calls)
    }

    /// Runs the issue function's handler for an approved application.
    pub async fn issue(&self, application: &str) -> Result<Option<String>, String> {
        let approved = edl_issue::Approved {
            application_id: application.to_string(),
        };
        edl_issue::handle(&self.api.ports.issuing(&self.api.services), approved)
            .await
            .map(|outcome| outcome.map(|o| format!("{o:?}")))
            .map_err(|e| e.to_string())
    }

    /// One run of the on-file flow for the next eligible holder with a photo on file.
    async fn on_file(&mut self, into: &mut Measurement) -> Result<(), ScenarioError> {
        let (number, id, calls) = self.open(true).await?;
        into.push("open-on-file", calls);
        let token = self.token(Role::Holder, Some(&number));
        let (answer, calls) = self.confirm_liveness(&number, &id).await;
        expect(&answer, 200, "liveness")?;
        into.push("liveness", calls);
        self.issue(&id).await.map_err(|e| step("issuance", e))?;
        into.push("issue-on-file", self.calls());
        let licence = self.request("GET", "/licence", Some(&token), None).await;
        expect(&licence, 200, "show licence")?;
        into.push("show-licence", self.calls());
        let code = self.request("GET", "/licence/code", Some(&token), None).await;
        expect(&code, 200, "show code")?;
        into.push("show-code", self.calls());
        let again = self.request("GET", "/licence/code", Some(&token), None).await;
        expect(&again, 200, "show code again")?;
        into.push("show-code-reused", self.calls());
        let officer = self.token(Role::Officer, None);
        for (id, body) in [
            ("verify-code", json!({ "code": code.body["code"] })),
            ("verify-barcode", json!({ "barcode": code.body["barcode"] })),
            ("verify-mdoc", json!({ "mdoc": licence.body["document"] })),
        ] {
            let answer = self.request("POST", "/verifications", Some(&officer), Some(body)).await;
            expect(&answer, 200, id)?;
            if answer.body["valid"] != true {
                return Err(step(id, format!("not valid: {}", answer.body)));
            }
            into.push(id, self.calls());
        }
        Ok(())
    }

    /// One run of the new-photo flow: `seed` makes the photo differ from other runs' (duplicates are refused).
    async fn new_photo(&mut self, into: &mut Measurement, seed: u32) -> Result<(), ScenarioError> {
        let (number, id, calls) = self.open(false).await?;
        into.push("open-new-photo", calls);
        let token = self.token(Role::Holder, Some(&number));
        let offer = self
            .request(
                "POST",
                &format!("/applications/{id}/photo-uploads"),
                Some(&token),
                Some(json!({ "source": "camera", "contentType": "image/jpeg" })),
            )
            .await;
        expect(&offer, 201, "upload form")?;
        into.push("upload-form", self.calls());
        let form = &offer.body["upload"];
        let url = form["url"].as_str().unwrap_or_default().to_string();
        let fields = form["fields"].as_object().cloned().unwrap_or_default();
        let key = fields
            .get("key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let photo = edl_tests::images::id_photo_jpeg_variant(360, 480, seed);
        let status = self.post_form(&url, &fields, &photo).await?;
        if !(200..300).contains(&status) {
            return Err(step("upload", format!("S3 answered {status}")));
        }
        into.push("upload", self.calls());
        let mut event: Value = serde_json::from_str(include_str!("../../../events/photo-check-object-created.json"))
            .map_err(|e| step("photo check", e))?;
        event["Records"][0]["s3"]["object"]["key"] = json!(key);
        event["Records"][0]["s3"]["bucket"]["name"] = json!(self.bucket);
        let event = serde_json::from_value(event).map_err(|e| step("photo check", e))?;
        let outcomes = edl_photo_check::handle(&self.api.ports.photo_checking(&self.api.services), event)
            .await
            .map_err(|e| step("photo check", e))?;
        if !format!("{outcomes:?}").contains("Queued") {
            return Err(step("photo check", format!("not queued for review: {outcomes:?}")));
        }
        into.push("photo-check", self.calls());
        let reviewer = self.token(Role::Reviewer, None);
        let queue = self.request("GET", "/reviews", Some(&reviewer), None).await;
        expect(&queue, 200, "review queue")?;
        into.push("review-queue", self.calls());
        let item = self
            .request("GET", &format!("/reviews/{id}"), Some(&reviewer), None)
            .await;
        expect(&item, 200, "review item")?;
        into.push("review-item", self.calls());
        let decision = self
            .request(
                "POST",
                &format!("/reviews/{id}/decision"),
                Some(&reviewer),
                Some(json!({ "verdict": "approve" })),
            )
            .await;
        expect(&decision, 200, "review decision")?;
        into.push("review-decision", self.calls());
        self.issue(&id).await.map_err(|e| step("issuance", e))?;
        into.push("issue-new-photo", self.calls());
        Ok(())
    }

    /// One run of the truck flow: `applicant` applies for its truck `plate`.
    async fn truck(
        &mut self,
        into: &mut Measurement,
        (applicant, plate): (Applicant, &str),
        later_by: i64,
    ) -> Result<(), ScenarioError> {
        let fleet = match applicant {
            Applicant::Owner(holder) => self.token(Role::Holder, Some(holder)),
            Applicant::Fleet => self.token(Role::FleetManager, None),
        };
        let today = (self.api.services.now() + Duration::hours(8)).date_naive() + Duration::days(later_by);
        let later = today + Duration::days(2);
        let answer = self
            .request(
                "POST",
                "/truck/passes",
                Some(&fleet),
                Some(json!({
                    "plate": plate, "city": "110000", "passType": "short", "zones": ["ring-5"],
                    "validFrom": today.to_string(), "validTo": later.to_string(),
                    "windows": [{ "from": "00:00", "to": "24:00" }],
                })),
            )
            .await;
        expect(&answer, 201, "truck pass apply")?;
        into.push("truck-apply", self.calls());
        let pass = answer.body["id"].as_str().unwrap_or_default().to_string();
        let code = self
            .request("GET", &format!("/truck/passes/{pass}/code"), Some(&fleet), None)
            .await;
        expect(&code, 200, "truck pass code")?;
        into.push("truck-code", self.calls());
        let officer = self.token(Role::Officer, None);
        let check = self
            .request(
                "POST",
                "/truck/verifications",
                Some(&officer),
                Some(json!({ "code": code.body["code"], "zone": "ring-5" })),
            )
            .await;
        expect(&check, 200, "truck pass verify")?;
        into.push("truck-verify", self.calls());
        Ok(())
    }

    /// Opens `items` applications that are then abandoned, moves the clock past
    /// their abandonment and runs the expire function once.
    async fn expiry(&mut self, into: &mut Measurement, items: usize) -> Result<(), ScenarioError> {
        for _ in 0..items {
            self.open(false).await?;
        }
        self.clock.advance(Duration::days(
            shared::applications::application::ABANDONED_AFTER_DAYS + 1,
        ));
        self.calls();
        let event = serde_json::from_str(include_str!("../../../events/expire-schedule.json"))
            .map_err(|e| step("expiry", e))?;
        let report = edl_expire::handle(&self.api.services, event, None)
            .await
            .map_err(|e| step("expiry", e))?;
        if report.applications_expired < items {
            return Err(step(
                "expiry",
                format!(
                    "{} of {items} abandoned applications ended",
                    report.applications_expired
                ),
            ));
        }
        into.push("expiry", self.calls());
        into.expiry_items = report.applications_expired;
        Ok(())
    }

    async fn post_form(
        &self,
        url: &str,
        fields: &serde_json::Map<String, Value>,
        file: &[u8],
    ) -> Result<u16, ScenarioError> {
        let boundary = format!("edl{}", uuid::Uuid::new_v4().simple());
        let mut body = Vec::new();
        for (name, value) in fields {
            body.extend_from_slice(
                format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{}\r\n",
                    value.as_str().unwrap_or("")
                )
                .as_bytes(),
            );
        }
        body.extend_from_slice(
            format!("--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"photo\"\r\nContent-Type: image/jpeg\r\n\r\n")
                .as_bytes(),
        );
        body.extend_from_slice(file);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let request = http::Request::post(url)
            .header("content-type", format!("multipart/form-data; boundary={boundary}"))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| step("upload", e))?;
        let response = self.http.request(request).await.map_err(|e| step("upload", e))?;
        Ok(response.status().as_u16())
    }
}

fn expect(answer: &Answer, status: u16, what: &str) -> Result<(), ScenarioError> {
    if answer.status == status {
        Ok(())
    } else {
        Err(step(what, format!("answered {}: {}", answer.status, answer.body)))
    }
}

/// What to measure.
#[derive(Debug, Clone)]
pub struct Options {
    /// The emulator's URL.
    pub upstream: String,
    pub flows: Vec<Flow>,
    /// Runs of each flow, each with another holder (at least 2 to tell shared partitions from per-holder ones).
    pub runs: usize,
    /// Abandoned applications in the expiry run.
    pub expiry_items: usize,
}

/// Who applies for a truck pass.
#[derive(Debug, Clone, Copy)]
enum Applicant {
    /// A holder, for their own truck.
    Owner(&'static str),
    /// The sample fleet's manager, for one of its trucks.
    Fleet,
}

/// The truck flow alternates between a holder's own truck and a fleet's, so that
/// the owner's and the fleet's partitions differ between runs as they do between applicants.
const PLATES: [(Applicant, &str); 2] = [
    (Applicant::Owner("11010519900307451X"), "京A12345"),
    (Applicant::Fleet, "京B20001"),
];

/// Runs every chosen flow `runs` times against the emulator and returns the calls of each operation.
pub async fn measure(options: &Options) -> Result<Measurement, ScenarioError> {
    let expiry = options.flows.contains(&Flow::Expiry);
    // Enough of the sample register that may apply (about half of it) for every run and the expiry items.
    let samples = 400 + if expiry { options.expiry_items * 3 } else { 0 };
    let mut bench = Bench::start(&options.upstream, samples).await?;
    let mut measurement = Measurement {
        operations: Vec::new(),
        expiry_items: 0,
    };
    for run in 0..options.runs {
        if options.flows.contains(&Flow::OnFile) {
            bench.on_file(&mut measurement).await?;
        }
        if options.flows.contains(&Flow::NewPhoto) {
            bench
                .new_photo(&mut measurement, u32::try_from(run).unwrap_or(0) + 11)
                .await?;
        }
        if options.flows.contains(&Flow::Truck) {
            // A pass's dates may not overlap another pass of the same truck: runs beyond two reuse a truck later on.
            let later_by = i64::try_from(run / PLATES.len()).unwrap_or(0) * 3;
            bench
                .truck(&mut measurement, PLATES[run % PLATES.len()], later_by)
                .await?;
        }
    }
    if expiry {
        bench.expiry(&mut measurement, options.expiry_items).await?;
    }
    Ok(measurement)
}
