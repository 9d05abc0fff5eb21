//! The verify function: officers and relying parties verify what a holder shows, officers verify truck passes
//! in a zone at a time, and the public trust material (R7, R9, R13).

pub mod offline;

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::service::{ServiceError, Services};

/// The routes this function serves, as `template.yaml` declares them.
pub const ROUTES: [&str; 3] = [
    "POST /verifications",
    "POST /truck/verifications",
    "GET /.well-known/edl/trust",
];

/// An mdoc with its portrait is larger than an ordinary JSON body.
pub const MAX_VERIFICATION_BODY: usize = 768 * 1024;

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    match http::route_key(request).as_str() {
        // Public and cacheable: anyone may verify offline.
        "GET /.well-known/edl/trust" => {
            let document = services.trust_document().await?;
            let mut response = http::json(200, &document);
            if let Ok(value) = "public, max-age=3600".parse() {
                response.headers_mut().insert("cache-control", value);
            }
            Ok(response)
        }
        "POST /verifications" => {
            let caller = http::caller(request)?;
            let body = http::read_json(request, MAX_VERIFICATION_BODY.max(MAX_JSON_BODY))?;
            Ok(http::json(200, &services.verify(&caller, body).await?))
        }
        "POST /truck/verifications" => {
            let caller = http::caller(request)?;
            let body = http::read_json(request, MAX_VERIFICATION_BODY.max(MAX_JSON_BODY))?;
            Ok(http::json(200, &services.verify_pass(&caller, body).await?))
        }
        _ => Err(http::no_route(request)),
    }
}
