//! The apply function: open, read and withdraw applications, and confirm a photo on file (R3, R4, R12).

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::service::{ServiceError, Services};

/// The routes this function serves, as `template.yaml` declares them.
pub const ROUTES: [&str; 4] = [
    "POST /applications",
    "GET /applications/{id}",
    "DELETE /applications/{id}",
    "POST /applications/{id}/liveness",
];

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match http::route_key(request).as_str() {
        "POST /applications" => {
            let body = http::read_json(request, MAX_JSON_BODY)?;
            let application = services.open_application(&caller, body).await?;
            Ok(http::json(201, &application))
        }
        "GET /applications/{id}" => {
            let id = http::path_parameter(request, "id")?;
            Ok(http::json(200, &services.application(&caller, &id).await?))
        }
        "DELETE /applications/{id}" => {
            let id = http::path_parameter(request, "id")?;
            Ok(http::json(200, &services.withdraw(&caller, &id).await?))
        }
        "POST /applications/{id}/liveness" => {
            let id = http::path_parameter(request, "id")?;
            let body = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.confirm_liveness(&caller, &id, body).await?))
        }
        _ => Err(http::no_route(request)),
    }
}
