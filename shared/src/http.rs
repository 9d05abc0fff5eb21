//! The API Gateway edge shared by every function: callers from JWT claims, bodies in, JSON and problems out.

use crate::kernel::caller::{parse_roles, Caller};
use crate::kernel::ident::Identifier;
use crate::kernel::input::InputError;
use crate::kernel::time::local_offset;
use crate::problem::{self, Problem};
use crate::service::ServiceError;
use lambda_http::request::RequestContext;
use lambda_http::{Body, Request, RequestExt, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// JSON bodies of ordinary calls are small; this bounds what a handler parses.
pub const MAX_JSON_BODY: usize = 16 * 1024;

/// The verified caller, from the claims API Gateway's JWT authorizer put in
/// the request context. A request without them never passed the authorizer.
pub fn caller(request: &Request) -> Result<Caller, ServiceError> {
    let claims = match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context
            .authorizer
            .as_ref()
            .and_then(|a| a.jwt.as_ref())
            .map(|jwt| &jwt.claims),
        _ => None,
    };
    let claims = claims.ok_or(ServiceError::Unauthenticated)?;
    let id = claims
        .get("sub")
        .filter(|s| !s.trim().is_empty())
        .ok_or(ServiceError::Unauthenticated)?;
    let non_empty = |key: &str| claims.get(key).filter(|v| !v.trim().is_empty()).cloned();
    Ok(Caller {
        id: id.clone(),
        roles: claims.get("roles").map(|r| parse_roles(r)).unwrap_or_default(),
        office: non_empty("office"),
        organisation: non_empty("org"),
    })
}

/// The query of a review queue: `limit`, `cursor`, `overdue`.
pub fn queue_request(request: &Request) -> Result<crate::service::reviews::QueueRequest, ServiceError> {
    let query = request.query_string_parameters();
    for name in query.iter().map(|(k, _)| k) {
        if !["limit", "cursor", "overdue"].contains(&name) {
            return Err(ServiceError::invalid(format!(
                "Unknown query parameter {name}; use limit, cursor and overdue."
            )));
        }
    }
    let limit = match query.first("limit") {
        Some(text) => Some(
            text.parse::<usize>()
                .map_err(|_| ServiceError::invalid("limit must be a whole number."))?,
        ),
        None => None,
    };
    let overdue = match query.first("overdue") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ServiceError::invalid("overdue must be true or false.")),
    };
    Ok(crate::service::reviews::QueueRequest {
        limit,
        cursor: query.first("cursor").map(str::to_string),
        overdue,
    })
}

/// The page a list endpoint is asked for: `limit` (a whole number, its range checked by the use case) and
/// `cursor` (the previous page's `next`). Any parameter but these and `others` is refused.
pub fn list_request(request: &Request, others: &[&str]) -> Result<crate::kernel::listing::ListRequest, ServiceError> {
    let query = request.query_string_parameters();
    if let Some(name) = query
        .iter()
        .map(|(k, _)| k)
        .find(|k| !["limit", "cursor"].contains(k) && !others.contains(k))
    {
        let mut known: Vec<&str> = others.to_vec();
        known.extend(["limit", "cursor"]);
        return Err(ServiceError::invalid(format!(
            "Unknown query parameter {name}; use {}.",
            known.join(", ")
        )));
    }
    let limit = match query.first("limit") {
        Some(text) => Some(text.parse::<usize>().map_err(|_| {
            ServiceError::invalid(format!("limit must be 1 to {}.", crate::kernel::listing::MAX_LIST_PAGE))
        })?),
        None => None,
    };
    Ok(crate::kernel::listing::ListRequest {
        limit,
        cursor: query.first("cursor").map(str::to_string),
    })
}

/// The route API Gateway matched, e.g. `POST /applications/{id}/liveness`.
pub fn route_key(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.route_key.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

pub fn request_id(request: &Request) -> String {
    match request.request_context_ref() {
        Some(RequestContext::ApiGatewayV2(context)) => context.request_id.clone().unwrap_or_default(),
        _ => String::new(),
    }
}

/// A path parameter the route declares, of the identifier kind it names; its absence means a routing defect,
/// and a value outside the identifier's pattern is refused (400, naming the parameter) before any lookup.
pub fn path_parameter(request: &Request, name: &str, kind: Identifier) -> Result<String, ServiceError> {
    let value = request
        .path_parameters_ref()
        .and_then(|p| p.first(name))
        .filter(|v| !v.is_empty())
        .ok_or_else(|| ServiceError::invalid(format!("The path parameter {name} is missing.")))?;
    Ok(kind.check(name, value)?.to_string())
}

/// The media type the request names (lowercase, without parameters), `None` when it names none; a header that is
/// not text is refused rather than read as absent, so that a mangled type never passes as "no type given".
fn content_type(request: &Request) -> Result<Option<String>, ServiceError> {
    match request.headers().get(http::header::CONTENT_TYPE) {
        None => Ok(None),
        Some(value) => match value.to_str() {
            Ok(text) => Ok(Some(text.split(';').next().unwrap_or("").trim().to_ascii_lowercase())),
            Err(_) => Err(ServiceError::UnsupportedMediaType {
                expected: "a Content-Type of visible ASCII",
                got: "a Content-Type header with bytes that are not text".into(),
            }),
        },
    }
}

fn body_bytes(request: &Request, limit: usize) -> Result<&[u8], ServiceError> {
    let bytes: &[u8] = request.body().as_ref();
    if bytes.len() > limit {
        return Err(ServiceError::TooLarge { limit });
    }
    Ok(bytes)
}

/// Parses a JSON body of at most `limit` bytes into `T`, refusing unknown fields.
pub fn read_json<T: DeserializeOwned>(request: &Request, limit: usize) -> Result<T, ServiceError> {
    if let Some(kind) = content_type(request)? {
        if kind != "application/json" && !kind.ends_with("+json") {
            return Err(ServiceError::UnsupportedMediaType {
                expected: "application/json",
                got: kind,
            });
        }
    }
    let bytes = body_bytes(request, limit)?;
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ServiceError::invalid("A JSON body is required."));
    }
    serde_json::from_slice(bytes).map_err(|e| {
        ServiceError::invalid(format!(
            "The body is not valid: {}.",
            problem::shorten(&e.to_string(), problem::QUOTED_CHARS * 2)
        ))
    })
}

/// A UTF-8 text body of at most `limit` bytes whose content type is one of `accepted`.
pub fn read_text<'r>(
    request: &'r Request,
    limit: usize,
    accepted: &[&str],
    expected: &'static str,
) -> Result<&'r str, ServiceError> {
    match content_type(request)? {
        Some(kind) if accepted.contains(&kind.as_str()) => {}
        other => {
            return Err(ServiceError::UnsupportedMediaType {
                expected,
                got: other.unwrap_or_else(|| "no content type".into()),
            })
        }
    }
    let bytes = body_bytes(request, limit)?;
    std::str::from_utf8(bytes).map_err(|_| ServiceError::invalid("The body is not UTF-8 text."))
}

pub fn json<T: Serialize>(status: u16, value: &T) -> Response<Body> {
    match serde_json::to_string(value) {
        Ok(text) => Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, "application/json")
            .header(http::header::CACHE_CONTROL, "no-store")
            .body(Body::Text(text))
            .unwrap_or_default(),
        Err(e) => problem(&Problem::new(
            500,
            "encoding",
            "Response could not be encoded",
            format!("{e}"),
        )),
    }
}

/// A public answer, the same for everyone (no caller, nothing personal): browsers, apps and shared caches may keep
/// it for the instances' staleness (`Cache-Control: public, max-age`), since the function itself answers from a
/// copy up to that old. Its weak ETag is a digest of the answer without its `moments` (top-level fields that say
/// when it was computed, such as `at`), so a client that sends it back in `If-None-Match` gets `304 Not Modified`
/// without a body while nothing else changed.
pub fn public_json<T: Serialize>(
    request: &Request,
    value: &T,
    staleness: crate::kernel::cache::Staleness,
    moments: &[&str],
) -> Response<Body> {
    let Ok(mut content) = serde_json::to_value(value) else {
        return json(200, value);
    };
    let text = content.to_string();
    if let Some(fields) = content.as_object_mut() {
        for moment in moments {
            fields.remove(*moment);
        }
    }
    use sha2::Digest;
    let digest = sha2::Sha256::digest(content.to_string().as_bytes());
    let etag = format!("W/\"{}\"", hex::encode(&digest[..16]));
    let cache = format!("public, max-age={}", staleness.as_seconds());
    let seen = request
        .headers()
        .get_all(http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        // Weak comparison (RFC 9110 13.1.2): W/"x" and "x" name the same answer.
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag.trim_start_matches("W/"));
    let builder = Response::builder()
        .header(http::header::ETAG, etag)
        .header(http::header::CACHE_CONTROL, cache);
    if seen {
        return builder.status(304).body(Body::Empty).unwrap_or_default();
    }
    builder
        .status(200)
        .header(http::header::CONTENT_TYPE, "application/json")
        .body(Body::Text(text))
        .unwrap_or_default()
}

/// A binary (or text) body of the given type, private to the caller.
pub fn binary(status: u16, content_type: &str, body: Vec<u8>) -> Response<Body> {
    Response::builder()
        .status(status)
        .header(http::header::CONTENT_TYPE, content_type)
        .header(http::header::CACHE_CONTROL, "private, no-store")
        .body(Body::Binary(body))
        .unwrap_or_default()
}

pub fn problem(problem: &Problem) -> Response<Body> {
    Response::builder()
        .status(problem.status)
        .header(http::header::CONTENT_TYPE, problem::CONTENT_TYPE)
        .header(http::header::CACHE_CONTROL, "no-store")
        .body(Body::Text(problem.to_json()))
        .unwrap_or_default()
}

/// Maps a handler's result to the response, logging failures by type (no personal data).
pub fn respond(result: Result<Response<Body>, ServiceError>) -> Response<Body> {
    match result {
        Ok(response) => response,
        Err(error) => {
            let p = problem_for(&error);
            if p.status >= 500 {
                tracing::error!(problem = p.slug(), error = %error, "request failed");
            } else {
                tracing::info!(problem = p.slug(), status = p.status, "request refused");
            }
            let mut response = problem(&p);
            if let ServiceError::QuotaExceeded {
                retry_after_seconds, ..
            } = error
            {
                if let Ok(value) = retry_after_seconds.max(1).to_string().parse() {
                    response.headers_mut().insert(http::header::RETRY_AFTER, value);
                }
            }
            response
        }
    }
}

/// The answer for a route this function does not serve.
pub fn no_route(request: &Request) -> ServiceError {
    ServiceError::NotFound {
        what: "route",
        id: format!("{} {}", request.method(), request.uri().path()),
    }
}

/// Runs a function's routing for one request inside its span, and answers
/// an error as its problem document: what every HTTP handler does around its routes.
pub async fn answer(
    request: &Request,
    routed: impl std::future::Future<Output = Result<Response<Body>, ServiceError>>,
) -> Response<Body> {
    use tracing::Instrument;
    let span = request_span(request);
    async { respond(routed.await) }.instrument(span).await
}

/// One span per request, carrying the request id and route.
pub fn request_span(request: &Request) -> tracing::Span {
    tracing::info_span!("request", request_id = %request_id(request), route = %route_key(request))
}

/// The problem document and status for a use case's error: one stable `type` per failure.
pub fn problem_for(error: &ServiceError) -> Problem {
    let detail = error.to_string();
    match error {
        ServiceError::Unauthenticated => Problem::new(
            401,
            "unauthenticated",
            "Not signed in",
            "This call needs a bearer token from the authority's login.",
        ),
        ServiceError::Forbidden(_) => Problem::new(403, "forbidden", "Not allowed", detail),
        ServiceError::NotFound { what, id } => {
            Problem::new(404, "not-found", "Not found", detail).with(what, problem::shorten(id, problem::QUOTED_CHARS))
        }
        ServiceError::Invalid { errors, .. } => {
            let p = Problem::new(400, "invalid-request", "Invalid request", detail);
            if errors.is_empty() {
                p
            } else {
                // Each complaint quotes at most a short prefix of what it refuses, whoever wrote it.
                let errors: Vec<InputError> = errors
                    .iter()
                    .map(|e| InputError {
                        line: e.line,
                        field: problem::shorten(&e.field, problem::QUOTED_CHARS),
                        message: problem::shorten(&e.message, problem::QUOTED_CHARS * 3),
                    })
                    .collect();
                p.with("errors", errors)
            }
        }
        ServiceError::TooLarge { limit } => {
            Problem::new(413, "payload-too-large", "Request too large", detail).with("limitBytes", limit)
        }
        ServiceError::UnsupportedMediaType { .. } => {
            Problem::new(415, "unsupported-media-type", "Unsupported media type", detail)
        }
        ServiceError::Ineligible { reasons } => Problem::new(
            422,
            "ineligible",
            "Licence not eligible",
            format!(
                "The licence cannot have an electronic licence: {}",
                reasons.iter().map(|r| r.message).collect::<Vec<_>>().join(" ")
            ),
        )
        .with("reasons", reasons),
        ServiceError::CityNotLive { city, opens_at, .. } => {
            let when = match opens_at {
                Some(at) => format!(
                    "; it opens on {}",
                    at.with_timezone(&local_offset()).format("%Y-%m-%d %H:%M (UTC+08:00)")
                ),
                None => "; its opening date has not been announced".into(),
            };
            Problem::new(
                422,
                "city-not-live",
                "Not open in this city yet",
                format!("{detail}{when}."),
            )
            .with("city", city)
            .with("opensAt", opens_at)
        }
        ServiceError::NoPhotoOnFile => Problem::new(
            422,
            "no-photo-on-file",
            "No photo on file",
            "The register holds no usable photo for this licence; apply with a new photo (camera or album).",
        ),
        ServiceError::PhotoChanged(_) => Problem::new(409, "photo-changed", "The photo changed", detail),
        ServiceError::OpenApplicationExists { existing } => Problem::new(
            409,
            "open-application-exists",
            "An application is already open",
            "The licence already has an open application; continue or withdraw it before opening another.",
        )
        .with("application", existing),
        ServiceError::IllegalTransition(t) => {
            Problem::new(409, "illegal-transition", "Not possible in this state", detail).with("state", t.from)
        }
        ServiceError::OwnApplication { id } => {
            Problem::new(403, "own-application", "Your own application", detail).with("application", id)
        }
        ServiceError::SecondReviewerRequired { id } => {
            Problem::new(403, "second-reviewer-required", "A second reviewer decides", detail).with("application", id)
        }
        ServiceError::ImportHasFile { id, state } => {
            Problem::new(409, "import-has-file", "The import already has its file", detail)
                .with("job", id)
                .with("state", state)
        }
        ServiceError::Conflict => Problem::new(
            409,
            "conflict",
            "Changed meanwhile",
            "The record changed while this request was processed; read it again and retry.",
        ),
        ServiceError::LivenessFailed { confidence } => Problem::new(
            422,
            "liveness-failed",
            "Real-person check failed",
            "The real-person check did not pass; the application stays open and the check can be tried again.",
        )
        .with("confidence", confidence),
        ServiceError::FaceMismatch { similarity, threshold } => Problem::new(
            422,
            "face-mismatch",
            "Face does not match the photo on file",
            format!(
                "{detail} The application stays open: start a new check, or withdraw it and apply with a new photo."
            ),
        )
        .with("similarity", similarity)
        .with("threshold", threshold),
        ServiceError::LivenessSessionInvalid(_) => {
            Problem::new(400, "liveness-session-invalid", "Invalid liveness session", detail)
        }
        ServiceError::LicenceNotActive { serial } => Problem::new(
            409,
            "licence-not-active",
            "Licence not valid",
            format!("{detail} It was superseded, stopped or has expired; apply again for a new electronic licence."),
        )
        .with("serial", serial),
        ServiceError::PassRefused { reasons } => Problem::new(
            422,
            "pass-refused",
            "Truck pass refused",
            format!(
                "The city does not issue this pass: {}",
                reasons.iter().map(|r| r.message.as_str()).collect::<Vec<_>>().join(" ")
            ),
        )
        .with("reasons", reasons),
        ServiceError::NotYourVehicle { plate } => Problem::new(
            403,
            "not-your-vehicle",
            "Not your vehicle",
            format!("{detail} A pass is applied for by the vehicle's registered owner or its fleet's manager."),
        )
        .with("plate", plate),
        ServiceError::PassNotActive { serial, status } => {
            Problem::new(409, "pass-not-active", "Pass not active", detail)
                .with("serial", serial)
                .with("passStatus", status)
        }
        ServiceError::PassNotStarted { serial, valid_from } => {
            Problem::new(409, "pass-not-started", "Pass not started", detail)
                .with("serial", serial)
                .with("validFrom", valid_from.to_string())
        }
        ServiceError::IllegalPassTransition { state, .. } => {
            Problem::new(409, "illegal-transition", "Not possible in this state", detail).with("state", state)
        }
        ServiceError::PresentationNotAllowed { method, .. } => Problem::new(
            403,
            "presentation-not-allowed",
            "Not a presentation you may use",
            detail,
        )
        .with("method", method),
        ServiceError::QuotaExceeded {
            requests,
            retry_after_seconds,
        } => Problem::new(429, "quota-exceeded", "Verification quota used up", detail)
            .with("quota", requests)
            .with("retryAfterSeconds", retry_after_seconds),
        ServiceError::Unavailable(_) => Problem::new(
            503,
            "unavailable",
            "Temporarily unavailable",
            "A service this request needs is unavailable; retry shortly.",
        ),
    }
}

/// Declares a function's routes once, as `template.yaml` names them: an enum with one variant per route,
/// the route keys as `ROUTES` (which the drift tests compare with the template), and the lookup of a
/// request's route. A handler matches on the variants, so the compiler checks that every route is handled.
#[macro_export]
macro_rules! routes {
    ($(#[$meta:meta])* $vis:vis enum $name:ident { $($variant:ident = $key:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        $vis enum $name {
            $($variant),+
        }

        impl $name {
            /// The route key, e.g. `POST /applications`.
            pub const fn key(self) -> &'static str {
                match self {
                    $($name::$variant => $key),+
                }
            }

            /// The route an API Gateway route key names, when this function serves it.
            pub fn of(key: &str) -> Option<$name> {
                match key {
                    $($key => Some($name::$variant),)+
                    _ => None,
                }
            }
        }

        /// The routes this function serves, as `template.yaml` declares them.
        $vis const ROUTES: &[&str] = &[$($key),+];
    };
}
