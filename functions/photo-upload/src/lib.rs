//! The photo-upload function: a short-lived presigned upload for a new photo (R4).

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::service::{ServiceError, Services};

/// The routes this function serves, as `template.yaml` declares them.
pub const ROUTES: [&str; 1] = ["POST /applications/{id}/photo-uploads"];

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match http::route_key(request).as_str() {
        "POST /applications/{id}/photo-uploads" => {
            let id = http::path_parameter(request, "id")?;
            let body = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                201,
                &services.request_photo_upload(&caller, &id, body).await?,
            ))
        }
        _ => Err(http::no_route(request)),
    }
}
