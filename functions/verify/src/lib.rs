//! The verify function: officers and relying parties verify what a holder shows (drawing a nonce for a
//! device-bound presentation), officers verify truck passes in a zone at a time, and the public trust
//! material and revocation status lists (R7, R9, R13).

pub mod offline;

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::service::{ServiceError, Services};

shared::routes! {
    /// The routes this function serves.
    pub enum Route {
        VerifyLicence = "POST /verifications",
        DrawNonce = "POST /verifications/nonces",
        VerifyPass = "POST /truck/verifications",
        Trust = "GET /.well-known/edl/trust",
        StatusList = "GET /status-lists/{id}",
    }
}

/// An mdoc with its portrait is larger than an ordinary JSON body.
pub const MAX_VERIFICATION_BODY: usize = 768 * 1024;

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    match Route::of(&http::route_key(request)) {
        // Public and cacheable for as long as this instance keeps the trust material: anyone may verify offline,
        // and a retired signer reaches every verifier within twice the staleness.
        Some(Route::Trust) => Ok(http::public_json(
            request,
            &services.trust_document().await?,
            services.staleness,
            &["updatedAt"],
        )),
        // Public and cacheable: the revocation status list an offline verifier reads, as the job stored it.
        Some(Route::StatusList) => {
            let served = services
                .status_list_token(&http::path_parameter(
                    request,
                    "id",
                    shared::kernel::ident::Identifier::StatusList,
                )?)
                .await?;
            let mut response = http::binary(200, shared::credential::status_list::TOKEN_TYPE, served.token);
            if let Ok(value) = format!("public, max-age={}", served.max_age).parse() {
                response.headers_mut().insert("cache-control", value);
            }
            Ok(response)
        }
        Some(Route::VerifyLicence) => {
            let caller = http::caller(request)?;
            let body = http::read_json(request, MAX_VERIFICATION_BODY.max(MAX_JSON_BODY))?;
            Ok(http::json(200, &services.verify(&caller, body).await?))
        }
        Some(Route::DrawNonce) => {
            let caller = http::caller(request)?;
            Ok(http::json(201, &services.draw_nonce(&caller).await?))
        }
        Some(Route::VerifyPass) => {
            let caller = http::caller(request)?;
            let body = http::read_json(request, MAX_VERIFICATION_BODY.max(MAX_JSON_BODY))?;
            Ok(http::json(200, &services.verify_pass(&caller, body).await?))
        }
        None => Err(http::no_route(request)),
    }
}
