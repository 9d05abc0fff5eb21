//! The photo-upload function: a short-lived presigned upload for a new photo (R4).

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::kernel::ident::Identifier;
use shared::service::{ServiceError, Uploading};

shared::routes! {
    /// The routes this function serves.
    pub enum Route {
        RequestUpload = "POST /applications/{id}/photo-uploads",
    }
}

pub async fn handle(uploading: &Uploading, request: Request) -> Response<Body> {
    http::answer(&request, route(uploading, &request)).await
}

async fn route(uploading: &Uploading, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match Route::of(&http::route_key(request)) {
        Some(Route::RequestUpload) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            let body = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                201,
                &uploading.request_photo_upload(&caller, &id, body).await?,
            ))
        }
        None => Err(http::no_route(request)),
    }
}
