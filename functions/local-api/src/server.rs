//! The local API: API Gateway's part (routes, JWT check, event shape) played on loopback for every HTTP function.

use crate::clock::DevClock;
use crate::consoles::Consoles;
use crate::routes::Route;
use crate::KeyMaker;
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Incoming;
use lambda_http::Body;
use serde::Deserialize;
use serde_json::json;
use shared::adapters::embedded::notices::EmbeddedNotices;
use shared::adapters::embedded::photos::EmbeddedPhotos;
use shared::dev::{DevClaims, DevKeys, DevLiveness, DevLivenessError, DEV_AUDIENCE, DEV_ISSUER};
use shared::kernel::caller::{parse_roles, Role};
use shared::problem::{quote, Problem};
use shared::service::{Ports, Services};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// API Gateway HTTP APIs accept payloads up to 10 MB.
pub const MAX_REQUEST_BODY: usize = 10 * 1024 * 1024;

/// Lambda invokes a function synchronously with at most 6 MB: a larger body never reaches it.
pub const MAX_FUNCTION_PAYLOAD: usize = 6 * 1024 * 1024;

/// API Gateway's quota for a request line (method, path and query); longer requests never reach a function.
pub const MAX_REQUEST_TARGET: usize = 10 * 1024;

/// How long a development token lasts.
pub const TOKEN_SECONDS: i64 = 12 * 3600;

pub struct LocalApi {
    pub services: Services,
    /// Every function's ports; each request is served by its function's context built over them.
    pub ports: Ports,
    pub routes: Vec<Route>,
    pub keys: DevKeys,
    /// The in-process photo store, for which this server plays S3.
    pub embedded_photos: Option<Arc<EmbeddedPhotos>>,
    /// Notices pushed to holders, listed at `GET /_dev/notices`.
    pub notices: Arc<EmbeddedNotices>,
    /// The consoles in the browser, on the same origin as the API.
    pub consoles: Consoles,
    /// Approved applications, issued before the request that approved them is
    /// answered, so that a walkthrough sees its licence at once (in AWS the
    /// issue function does it a moment later).
    approvals: tokio::sync::Mutex<tokio::sync::mpsc::UnboundedReceiver<String>>,
    requests: AtomicU64,
    /// The movable clock and the maker of signer keys, when the server was given them.
    development: Option<(Arc<DevClock>, KeyMaker)>,
    /// The development liveness service the services use, whose sessions `POST /_dev/liveness` finishes.
    liveness: Option<Arc<DevLiveness>>,
    /// Whether development tokens and `/_dev/` are served: not when the server runs against real AWS.
    development_allowed: bool,
}

/// `POST /_dev/clock`: exactly one of `advance` (`"400d"`) and `set` (RFC 3339).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ClockRequest {
    #[serde(default)]
    advance: Option<String>,
    #[serde(default)]
    set: Option<String>,
}

/// `POST /_dev/jobs/refresh`: the day's signing budget for this run, when not the configured one.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RefreshRequest {
    #[serde(default)]
    signs_per_day: Option<u64>,
}

type HttpResponse = hyper::Response<Full<Bytes>>;

fn problem_response(problem: &Problem) -> HttpResponse {
    hyper::Response::builder()
        .status(problem.status)
        .header("content-type", shared::problem::CONTENT_TYPE)
        .body(Full::new(Bytes::from(problem.to_json())))
        .unwrap_or_default()
}

fn json_response(status: u16, value: &serde_json::Value) -> HttpResponse {
    hyper::Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(value.to_string())))
        .unwrap_or_default()
}

/// `POST /_dev/tokens`
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TokenRequest {
    role: String,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    office: Option<String>,
    #[serde(default)]
    org: Option<String>,
}

/// `POST /_dev/liveness`: finishes a session the backend created, as the app's liveness detector would.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct LivenessRequest {
    #[serde(alias = "livenessSessionId")]
    session_id: String,
    /// 0..=100; passes at 90 and above. Defaults to a clear pass.
    #[serde(default)]
    confidence: Option<f32>,
    /// Whose face was in front of the camera: the holder's (the photo on file, the default) or someone
    /// else's (then the face comparison refuses the check).
    #[serde(default)]
    face: LivenessFace,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum LivenessFace {
    #[default]
    Holder,
    SomeoneElse,
}

/// The default subject for each role, matching the sample register and `events/`.
pub fn default_subject(role: Role) -> (&'static str, Option<&'static str>, Option<&'static str>) {
    match role {
        Role::Holder => ("11010519900307451X", None, None),
        Role::Clerk => ("clerk-440300-0007", Some("440300"), None),
        Role::Reviewer => ("reviewer-0001", None, None),
        Role::Officer => ("officer-110000-0042", None, Some("北京市公安局公安交通管理局")),
        Role::RelyingParty => ("rp-insurer-0001", None, Some("中国人民财产保险股份有限公司")),
        Role::Admin => ("admin-0001", None, None),
        Role::FleetManager => ("fleet-manager-0001", None, Some(shared::sample::FLEET)),
        Role::Scheduler => ("scheduler", None, None),
        Role::System => ("system", None, None),
    }
}

/// A relying party's token minted for another organisation than the sample insurer gets a login id of that
/// organisation, so that the holder's check log does not name the insurer's verifier for a rental desk's check.
fn default_verifier_id(role: Role, org: Option<&str>) -> Option<String> {
    match (role, org) {
        (Role::RelyingParty, Some(org)) if Some(org) != default_subject(role).2 => Some(format!("rp-{org}-0001")),
        _ => None,
    }
}

impl LocalApi {
    pub fn new(
        services: Services,
        ports: Ports,
        routes: Vec<Route>,
        keys: DevKeys,
        embedded_photos: Option<Arc<EmbeddedPhotos>>,
        notices: Arc<EmbeddedNotices>,
        approvals: tokio::sync::mpsc::UnboundedReceiver<String>,
    ) -> LocalApi {
        LocalApi {
            services,
            ports,
            routes,
            keys,
            embedded_photos,
            notices,
            consoles: Consoles::default(),
            approvals: tokio::sync::Mutex::new(approvals),
            requests: AtomicU64::new(0),
            development: None,
            liveness: None,
            development_allowed: true,
        }
    }

    /// Against real AWS (a deployment's table and keys), the server accepts no development token and serves no
    /// `/_dev/` route: anyone on this machine could otherwise mint an administrator's token for that deployment.
    pub fn against_real_aws(mut self) -> LocalApi {
        self.development_allowed = false;
        self
    }

    pub fn development_allowed(&self) -> bool {
        self.development_allowed
    }

    /// Serves `POST /_dev/liveness` for this development liveness service (the one the services use).
    pub fn with_liveness(mut self, liveness: Arc<DevLiveness>) -> LocalApi {
        self.liveness = Some(liveness);
        self
    }

    /// Serves `/_dev/clock`, `/_dev/jobs/...` and `/_dev/keys/signers` with this clock (the one
    /// the services read) and key maker.
    pub fn with_development(mut self, clock: Arc<DevClock>, key_maker: KeyMaker) -> LocalApi {
        self.development = Some((clock, key_maker));
        self
    }

    /// The movable clock, the scheduled jobs and the next signer (development only).
    async fn time_and_keys(&self, method: &str, what: &str, body: &[u8]) -> Option<HttpResponse> {
        let bad = |detail: String| problem_response(&Problem::new(400, "invalid-request", "Invalid request", detail));
        let (clock, key_maker) = self.development.as_ref()?;
        let clock_view =
            |clock: &DevClock| json!({ "now": self.services.now(), "offsetSeconds": clock.offset().num_seconds() });
        Some(match (method, what) {
            ("GET", "clock") => json_response(200, &clock_view(clock)),
            ("POST", "clock") => {
                let request: ClockRequest = match serde_json::from_slice(body) {
                    Ok(r) => r,
                    Err(e) => return Some(bad(format!("The body is not valid: {e}."))),
                };
                let moved = match (request.advance, request.set) {
                    (Some(by), None) => clock.advance(&by),
                    (None, Some(to)) => clock.set(&to),
                    _ => {
                        return Some(bad(
                            "Give exactly one of advance (e.g. \"400d\") and set (RFC 3339).".into()
                        ))
                    }
                };
                match moved {
                    Ok(_) => {
                        // Keys read before the move are read again at the new time.
                        self.services.trust_cache.clear();
                        json_response(200, &clock_view(clock))
                    }
                    Err(e) => bad(e.to_string()),
                }
            }
            ("POST", "jobs/expire") => match self
                .services
                .run_expiry(None, &shared::service::expiry::ExpiryOptions::default())
                .await
            {
                Ok(report) => json_response(200, &json!(report)),
                Err(e) => problem_response(&shared::http::problem_for(&e)),
            },
            // The issuance sweep: approvals still not issued five minutes after approval, handed to the
            // issuance task again (the deployed expire function runs it every five minutes).
            ("POST", "jobs/sweep") => match self.ports.expiring(&self.services).sweep_approvals().await {
                Ok(report) => json_response(200, &json!(report)),
                Err(e) => problem_response(&shared::http::problem_for(&e)),
            },
            // The large imports: every job with work left, chunk by chunk to its end (the deployed expire
            // function runs them on each upload and every five minutes, for a few minutes at a time).
            ("POST", "jobs/imports") => match self.ports.expiring(&self.services).run_imports(None).await {
                Ok(report) => json_response(200, &json!(report)),
                Err(e) => problem_response(&shared::http::problem_for(&e)),
            },
            ("POST", "jobs/refresh") => {
                let request: RefreshRequest = if body.is_empty() {
                    RefreshRequest::default()
                } else {
                    match serde_json::from_slice(body) {
                        Ok(r) => r,
                        Err(e) => return Some(bad(format!("The body is not valid: {e}."))),
                    }
                };
                let options = shared::service::refresh::RefreshOptions::default();
                let mut services = self.services.clone();
                if let Some(budget) = request.signs_per_day {
                    services.signing_budget.signs_per_day = budget;
                }
                let refreshing = self.ports.refreshing(&services);
                let refresh = match refreshing.run_refresh(None, &options).await {
                    Ok(report) => report,
                    Err(e) => return Some(problem_response(&shared::http::problem_for(&e))),
                };
                match refreshing.check_keys().await {
                    Ok(keys) => json_response(200, &json!({ "refresh": refresh, "keys": keys })),
                    Err(e) => problem_response(&shared::http::problem_for(&e)),
                }
            }
            ("POST", "jobs/status-lists") => match self.ports.signing(&self.services).run_status_lists().await {
                Ok(report) => json_response(200, &json!(report)),
                Err(e) => problem_response(&shared::http::problem_for(&e)),
            },
            ("POST", "keys/signers") => {
                let key = match key_maker.new_key().await {
                    Ok(key) => key,
                    Err(e) => {
                        return Some(problem_response(&Problem::new(
                            503,
                            "unavailable",
                            "Unavailable",
                            e.to_string(),
                        )))
                    }
                };
                match self
                    .ports
                    .signing(&self.services)
                    .add_document_signer(&shared::service::keys::Authority::default(), &key)
                    .await
                {
                    Ok(entry) => json_response(201, &json!(entry)),
                    Err(e) => problem_response(&shared::http::problem_for(&e)),
                }
            }
            _ => return None,
        })
    }

    /// Serves the consoles with this configuration instead of the development one.
    pub fn with_consoles(mut self, consoles: Consoles) -> LocalApi {
        self.consoles = consoles;
        self
    }

    pub fn mint(
        &self,
        role: Role,
        sub: Option<String>,
        office: Option<String>,
        org: Option<String>,
    ) -> (String, DevClaims) {
        let (default_sub, default_office, default_org) = default_subject(role);
        let now = self.services.now().timestamp();
        let claims = DevClaims {
            sub: sub.unwrap_or_else(|| {
                default_verifier_id(role, org.as_deref()).unwrap_or_else(|| default_sub.to_string())
            }),
            roles: role.as_str().to_string(),
            office: office.or(default_office.map(str::to_string)),
            org: org.or(default_org.map(str::to_string)),
            iss: DEV_ISSUER.into(),
            aud: DEV_AUDIENCE.into(),
            iat: now,
            exp: now + TOKEN_SECONDS,
        };
        (self.keys.mint_token(&claims), claims)
    }

    pub async fn handle(&self, request: hyper::Request<Incoming>) -> HttpResponse {
        // Before anything else: a page of another site must not reach this server through a DNS name that
        // resolves to 127.0.0.1 (DNS rebinding); such a request names that site in its Host header.
        if let Some(refusal) = host_refusal(request.headers()) {
            return refusal;
        }
        let (parts, body) = request.into_parts();
        let body = match Limited::new(body, MAX_REQUEST_BODY).collect().await {
            Ok(collected) => collected.to_bytes(),
            // Only a body over the limit is too large; a body the connection could not read (a malformed
            // chunk, a length it did not keep to) is a bad request.
            Err(e) if e.downcast_ref::<LengthLimitError>().is_some() => {
                return problem_response(&Problem::new(
                    413,
                    "payload-too-large",
                    "Request too large",
                    format!("The body is larger than {MAX_REQUEST_BODY} bytes."),
                ))
            }
            Err(_) => {
                return problem_response(&Problem::new(
                    400,
                    "malformed-body",
                    "Malformed body",
                    "The request body could not be read: its framing (chunks or Content-Length) is broken.",
                ))
            }
        };
        self.dispatch(parts, body).await
    }

    pub async fn dispatch(&self, parts: http::request::Parts, body: Bytes) -> HttpResponse {
        let path = parts.uri.path().to_string();
        let method = parts.method.as_str().to_string();
        if let Some(dev) = path.strip_prefix("/_dev/") {
            if !self.development_allowed {
                return problem_response(&Problem::new(
                    403,
                    "development-disabled",
                    "No development routes here",
                    "This server runs against real AWS: it serves no development routes and accepts no development token.",
                ));
            }
            return self.development(&method, dev, &parts, &body).await;
        }
        // API Gateway refuses a request line longer than its quota before any function sees it; lambda_http
        // would panic building a URI over 64 KiB from such an event.
        let target = parts.uri.path_and_query().map_or(0, |p| p.as_str().len());
        if target > MAX_REQUEST_TARGET {
            return problem_response(
                &Problem::new(
                    414,
                    "uri-too-long",
                    "URI too long",
                    format!("The path and query are longer than {MAX_REQUEST_TARGET} bytes."),
                )
                .with("limitBytes", MAX_REQUEST_TARGET),
            );
        }
        if let Some(page) = self.consoles.respond(&method, &path, &parts.headers) {
            return page;
        }
        let matched = self
            .routes
            .iter()
            .find_map(|route| route.matches(&method, &path).map(|params| (route, params)));
        let Some((route, parameters)) = matched else {
            let allowed = self
                .routes
                .iter()
                .any(|r| r.matches(r.method.as_str(), &path).is_some());
            return if allowed {
                problem_response(&Problem::new(
                    405,
                    "method-not-allowed",
                    "Method not allowed",
                    format!("{method} is not allowed on {}.", quote(&path)),
                ))
            } else {
                problem_response(&Problem::new(
                    404,
                    "not-found",
                    "Not found",
                    format!("No route for {method} {}.", quote(&path)),
                ))
            };
        };
        let parameters = match parameters {
            Ok(parameters) => parameters,
            Err(bad) => {
                return problem_response(
                    &Problem::new(
                        400,
                        "invalid-request",
                        "Invalid request",
                        format!("The path parameter {} does not decode to UTF-8 text.", bad.name),
                    )
                    .with(
                        "errors",
                        json!([{ "field": bad.name, "message": "not percent-encoded UTF-8 text" }]),
                    ),
                )
            }
        };
        // What API Gateway would carry to the function: headers as text, and an event Lambda takes (checked
        // before the event is built, so that an oversized body is never copied or parsed).
        let headers = match carried_headers(&parts.headers) {
            Ok(headers) => headers,
            Err(refusal) => return problem_response(&refusal),
        };
        let carried = match std::str::from_utf8(&body) {
            Ok(_) => body.len(),
            Err(_) => body.len().div_ceil(3) * 4,
        };
        if carried > MAX_FUNCTION_PAYLOAD {
            return problem_response(
                &Problem::new(
                    413,
                    "payload-too-large",
                    "Request too large",
                    format!("The body is larger than the {MAX_FUNCTION_PAYLOAD} bytes a function is invoked with."),
                )
                .with("limitBytes", MAX_FUNCTION_PAYLOAD),
            );
        }
        // API Gateway's JWT authorizer: no valid token, no call (except public routes).
        let claims = if route.public {
            None
        } else {
            let token = parts
                .headers
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")));
            if token.is_some() && !self.development_allowed {
                return problem_response(&Problem::new(
                    401,
                    "unauthenticated",
                    "Not signed in",
                    "This server runs against real AWS and accepts no development token.",
                ));
            }
            match token.map(|t| self.keys.verify_token(t.trim(), self.services.now().timestamp())) {
                Some(Ok(claims)) => Some(claims),
                Some(Err(e)) => {
                    return problem_response(&Problem::new(
                        401,
                        "unauthenticated",
                        "Not signed in",
                        format!("The bearer token was refused: {e}."),
                    ))
                }
                None => {
                    return problem_response(&Problem::new(
                        401,
                        "unauthenticated",
                        "Not signed in",
                        "This call needs `Authorization: Bearer <token>`; mint one with POST /_dev/tokens.",
                    ))
                }
            }
        };
        let number = self.requests.fetch_add(1, Ordering::Relaxed) + 1;
        let event = api_gateway_event(route, &parts, headers, &body, &parameters, claims.as_ref(), number);
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => request,
            Err(e) => {
                return problem_response(&Problem::new(
                    400,
                    "invalid-request",
                    "Invalid request",
                    format!("The request could not be carried to the function: {e}."),
                ))
            }
        };
        let response = match route.function.as_str() {
            "apply" => edl_apply::handle(&self.ports.applying(&self.services), request).await,
            "admin" => edl_admin::handle(&self.ports.administering(&self.services), request).await,
            "photo-upload" => edl_photo_upload::handle(&self.ports.uploading(&self.services), request).await,
            "review" => edl_review::handle(&self.ports.reviewing(&self.services), request).await,
            "licence" => edl_licence::handle(&self.ports.showing(&self.services), request).await,
            "verify" => edl_verify::handle(&self.services, request).await,
            "pass" => edl_pass::handle(&self.ports.pass_desk(&self.services), request).await,
            other => {
                return problem_response(&Problem::new(
                    501,
                    "function-not-served",
                    "Function not served locally",
                    format!(
                        "template.yaml routes {} to the function {other}, which this server does not serve.",
                        route.key()
                    ),
                ))
            }
        };
        self.issue_approved().await;
        to_http(response)
    }

    /// Plays the issue function for every application approved meanwhile.
    async fn issue_approved(&self) {
        let mut approvals = self.approvals.lock().await;
        let mut issuing = None;
        while let Ok(application) = approvals.try_recv() {
            // The issue function's context, built once the first approval is waiting.
            let issuing = issuing.get_or_insert_with(|| self.ports.issuing(&self.services));
            match issuing.issue(&application).await {
                Ok(outcome) => tracing::info!(application = %application, ?outcome, "issued"),
                Err(e) => {
                    tracing::warn!(application = %application, error = %e, "issuance failed; the application stays approved")
                }
            }
        }
    }

    async fn development(&self, method: &str, what: &str, parts: &http::request::Parts, body: &[u8]) -> HttpResponse {
        let bad = |detail: String| problem_response(&Problem::new(400, "invalid-request", "Invalid request", detail));
        if let Some(token) = what.strip_prefix("uploads/") {
            if method != "PUT" {
                return problem_response(&Problem::new(
                    405,
                    "method-not-allowed",
                    "Method not allowed",
                    "Upload links take PUT.",
                ));
            }
            return self.upload(token, parts, body).await;
        }
        if let Some(token) = what.strip_prefix("photos/") {
            return self.view(token);
        }
        if let Some(token) = what.strip_prefix("files/") {
            if method != "PUT" {
                return problem_response(&Problem::new(
                    405,
                    "method-not-allowed",
                    "Method not allowed",
                    "Upload links take PUT.",
                ));
            }
            return self.file_upload(token, body);
        }
        if let Some(answer) = self.time_and_keys(method, what, body).await {
            return answer;
        }
        match (method, what) {
            ("GET", "notices") => {
                let notices: Vec<_> = self
                    .notices
                    .delivered()
                    .into_iter()
                    .map(|(at, pending)| json!({ "at": at, "noticeId": pending.id, "notice": pending.notice }))
                    .collect();
                json_response(200, &json!({ "notices": notices }))
            }
            ("POST", "photo-events") => {
                #[derive(Deserialize)]
                #[serde(deny_unknown_fields)]
                struct PhotoEvent {
                    key: String,
                }
                let event: PhotoEvent = match serde_json::from_slice(body) {
                    Ok(e) => e,
                    Err(e) => return bad(format!("The body is not valid: {e}.")),
                };
                match self.ports.photo_checking(&self.services).photo_arrived(&event.key).await {
                    Ok(outcome) => json_response(200, &json!(outcome)),
                    Err(e) => problem_response(&shared::http::problem_for(&e)),
                }
            }
            ("POST", "tokens") => {
                let request: TokenRequest = match serde_json::from_slice(body) {
                    Ok(r) => r,
                    Err(e) => return bad(format!("The body is not valid: {e}.")),
                };
                let roles = parse_roles(&request.role);
                let [role] = roles.as_slice() else {
                    let names: Vec<_> = Role::ALL.iter().map(|r| r.as_str()).collect();
                    return bad(format!("role must be one of {}.", names.join(", ")));
                };
                let (token, claims) = self.mint(*role, request.sub, request.office, request.org);
                json_response(201, &json!({ "token": token, "claims": claims }))
            }
            ("POST", "liveness") => {
                let request: LivenessRequest = match serde_json::from_slice(body) {
                    Ok(r) => r,
                    Err(e) => return bad(format!("The body is not valid: {e}.")),
                };
                let confidence = request.confidence.unwrap_or(99.0);
                if !(0.0..=100.0).contains(&confidence) {
                    return bad("confidence must be between 0 and 100.".into());
                }
                let Some(liveness) = &self.liveness else {
                    return problem_response(&Problem::new(
                        404,
                        "not-found",
                        "Not found",
                        "This server has no development liveness service.",
                    ));
                };
                let finished = match request.face {
                    LivenessFace::Holder => {
                        liveness
                            .finish_as_holder(&self.ports.applying(&self.services), &request.session_id, confidence)
                            .await
                    }
                    // Bytes that are not the photo on file: the development comparison matches images by their bytes.
                    LivenessFace::SomeoneElse => liveness.finish(
                        &request.session_id,
                        confidence,
                        format!("someone else, {}", uuid::Uuid::new_v4()).into_bytes(),
                    ),
                };
                match finished {
                    Ok(()) => json_response(
                        200,
                        &json!({ "livenessSessionId": request.session_id, "confidence": confidence }),
                    ),
                    Err(DevLivenessError::UnknownSession(_)) => problem_response(&Problem::new(
                        404,
                        "liveness-session-unknown",
                        "Unknown liveness session",
                        "Start one with POST /applications/{id}/liveness-sessions first.",
                    )),
                    Err(e) => problem_response(&Problem::new(409, "no-photo-on-file", "No photo on file", e.to_string())),
                }
            }
            _ => problem_response(&Problem::new(
                404,
                "not-found",
                "Not found",
                "Development endpoints: POST /_dev/tokens, POST /_dev/liveness, POST /_dev/photo-events, GET /_dev/notices, \
                 GET and POST /_dev/clock, POST /_dev/jobs/expire, POST /_dev/jobs/refresh, POST /_dev/jobs/status-lists, \
                 POST /_dev/jobs/sweep, POST /_dev/jobs/imports, \
                 POST /_dev/keys/signers.",
            )),
        }
    }

    /// S3's part for the embedded photo store: take the upload the link allows,
    /// then run the automatic checks as the `ObjectCreated` event would.
    async fn upload(&self, token: &str, parts: &http::request::Parts, body: &[u8]) -> HttpResponse {
        let Some(photos) = &self.embedded_photos else {
            return problem_response(&Problem::new(
                404,
                "not-found",
                "Not found",
                "This server stores photos in S3.",
            ));
        };
        let content_type = parts.headers.get("content-type").and_then(|v| v.to_str().ok());
        let key = match photos.accept_upload(token, content_type, body, self.services.now()) {
            Ok(key) => key,
            Err(refusal) => {
                let status = match refusal {
                    shared::adapters::embedded::photos::UploadRefusal::Forged
                    | shared::adapters::embedded::photos::UploadRefusal::Expired => 403,
                    _ => 400,
                };
                return problem_response(&Problem::new(
                    status,
                    "upload-refused",
                    "Upload refused",
                    format!("The upload was refused: {refusal}."),
                ));
            }
        };
        match self.ports.photo_checking(&self.services).photo_arrived(&key).await {
            Ok(outcome) => json_response(201, &json!(outcome)),
            Err(e) => problem_response(&shared::http::problem_for(&e)),
        }
    }

    /// S3's part for a register file of a large import: take the upload the link allows. The job starts on the
    /// next `POST /_dev/jobs/imports` (in AWS, the upload's event starts it).
    fn file_upload(&self, token: &str, body: &[u8]) -> HttpResponse {
        let Some(photos) = &self.embedded_photos else {
            return problem_response(&Problem::new(
                404,
                "not-found",
                "Not found",
                "This server stores files in S3.",
            ));
        };
        match photos.accept_file_upload(token, body, self.services.now()) {
            Ok(key) => json_response(201, &json!({ "key": key })),
            Err(refusal) => {
                let status = match refusal {
                    shared::adapters::embedded::photos::UploadRefusal::Forged
                    | shared::adapters::embedded::photos::UploadRefusal::Expired => 403,
                    _ => 400,
                };
                problem_response(&Problem::new(
                    status,
                    "upload-refused",
                    "Upload refused",
                    format!("The upload was refused: {refusal}."),
                ))
            }
        }
    }

    fn view(&self, token: &str) -> HttpResponse {
        match self
            .embedded_photos
            .as_ref()
            .and_then(|p| p.view(token, self.services.now()))
        {
            Some((kind, bytes)) => hyper::Response::builder()
                .status(200)
                .header("content-type", kind.mime())
                .header("cache-control", "private, no-store")
                .body(Full::new(Bytes::from(bytes)))
                .unwrap_or_default(),
            None => problem_response(&Problem::new(
                403,
                "forbidden",
                "Not allowed",
                "The photo link is not valid or has expired.",
            )),
        }
    }
}

/// The headers as the event carries them (text); a header whose value is not UTF-8 is refused rather than dropped,
/// so that a mangled `Content-Type` never reaches a function as "no type given" (415 for it, 400 for others).
pub fn carried_headers(headers: &http::HeaderMap) -> Result<serde_json::Map<String, serde_json::Value>, Problem> {
    let mut carried = serde_json::Map::new();
    for (name, value) in headers {
        let Ok(text) = std::str::from_utf8(value.as_bytes()) else {
            return Err(if name == http::header::CONTENT_TYPE {
                Problem::new(
                    415,
                    "unsupported-media-type",
                    "Unsupported media type",
                    "The Content-Type header holds bytes that are not text.",
                )
            } else {
                Problem::new(
                    400,
                    "invalid-header",
                    "Invalid header",
                    format!(
                        "The header {} holds bytes that are not UTF-8 text.",
                        quote(name.as_str())
                    ),
                )
            });
        };
        // Repeated headers reach a function as one, comma-joined, as API Gateway joins them.
        let joined = match carried.get(name.as_str()).and_then(serde_json::Value::as_str) {
            Some(before) => format!("{before},{text}"),
            None => text.to_string(),
        };
        carried.insert(name.as_str().to_string(), json!(joined));
    }
    Ok(carried)
}

/// The API Gateway HTTP API (payload 2.0) event for a request, as the JWT authorizer passes it on.
pub fn api_gateway_event(
    route: &Route,
    parts: &http::request::Parts,
    headers: serde_json::Map<String, serde_json::Value>,
    body: &[u8],
    parameters: &[(String, String)],
    claims: Option<&DevClaims>,
    number: u64,
) -> serde_json::Value {
    let now = chrono::Utc::now();
    let (body, encoded) = match std::str::from_utf8(body) {
        Ok("") => (serde_json::Value::Null, false),
        Ok(text) => (json!(text), false),
        Err(_) => (json!(base64::engine::general_purpose::STANDARD.encode(body)), true),
    };
    let path_parameters: serde_json::Map<_, _> = parameters.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
    json!({
        "version": "2.0",
        "routeKey": route.key(),
        "rawPath": parts.uri.path(),
        "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "pathParameters": if path_parameters.is_empty() { serde_json::Value::Null } else { serde_json::Value::Object(path_parameters) },
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {
                "method": parts.method.as_str(),
                "path": parts.uri.path(),
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": parts.headers.get("user-agent").and_then(|v| v.to_str().ok()).unwrap_or(""),
            },
            "requestId": format!("local-{}-{number}", now.timestamp_millis()),
            "routeKey": route.key(),
            "stage": "$default",
            "time": now.format("%d/%b/%Y:%H:%M:%S %z").to_string(),
            "timeEpoch": now.timestamp_millis(),
            "authorizer": match claims {
                Some(claims) => json!({ "jwt": { "claims": claims.as_authorizer_claims(), "scopes": null } }),
                None => serde_json::Value::Null,
            },
        },
        "body": body,
        "isBase64Encoded": encoded,
    })
}

fn to_http(response: lambda_http::Response<Body>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let bytes = match body {
        Body::Empty => Bytes::new(),
        Body::Text(text) => Bytes::from(text),
        Body::Binary(bytes) => Bytes::from(bytes),
        _ => Bytes::new(),
    };
    hyper::Response::from_parts(parts, Full::new(bytes))
}

/// Serves until the process is stopped; each connection on its own task.
/// Whether `host` (a Host header: a name or address, with or without a port) names this machine's loopback:
/// `127.0.0.1`, `localhost` or `[::1]`.
pub fn is_loopback_host(host: &str) -> bool {
    let Ok(authority) = host.parse::<http::uri::Authority>() else {
        return false;
    };
    let name = authority.host();
    name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost") || name == "[::1]"
}

/// The answer to a request whose Host is not loopback (or missing): 421, nothing else done.
fn host_refusal(headers: &http::HeaderMap) -> Option<HttpResponse> {
    let host = headers.get(http::header::HOST).and_then(|h| h.to_str().ok());
    match host {
        Some(host) if is_loopback_host(host) => None,
        _ => Some(problem_response(&Problem::new(
            421,
            "misdirected-request",
            "Not this server",
            "The local server answers only requests addressed to 127.0.0.1, localhost or [::1] (Host header).",
        ))),
    }
}

pub async fn serve(api: Arc<LocalApi>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    loop {
        let (stream, _) = listener.accept().await?;
        let api = api.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request| {
                let api = api.clone();
                async move { Ok::<_, std::convert::Infallible>(api.handle(request).await) }
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            if let Err(e) = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await
            {
                tracing::debug!(error = %e, "connection ended");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_relying_party_of_another_organisation_is_not_the_sample_insurer() {
        assert_eq!(
            default_verifier_id(Role::RelyingParty, Some("神州租车")).as_deref(),
            Some("rp-神州租车-0001")
        );
        assert_eq!(
            default_verifier_id(Role::RelyingParty, default_subject(Role::RelyingParty).2),
            None
        );
        assert_eq!(default_verifier_id(Role::RelyingParty, None), None);
        assert_eq!(default_verifier_id(Role::Officer, Some("某市公安局")), None);
    }
}
