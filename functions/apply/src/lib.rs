//! The apply function: open, read and withdraw applications, start a real-person check and confirm the photo on file with it (R3, R4, R12).

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::kernel::ident::Identifier;
use shared::service::{Applying, ServiceError};

shared::routes! {
    /// The routes this function serves.
    pub enum Route {
        Open = "POST /applications",
        Read = "GET /applications/{id}",
        Withdraw = "DELETE /applications/{id}",
        StartLiveness = "POST /applications/{id}/liveness-sessions",
        ConfirmLiveness = "POST /applications/{id}/liveness",
    }
}

pub async fn handle(applying: &Applying, request: Request) -> Response<Body> {
    http::answer(&request, route(applying, &request)).await
}

async fn route(applying: &Applying, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match Route::of(&http::route_key(request)) {
        Some(Route::Open) => {
            let body = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(201, &applying.open_application(&caller, body).await?))
        }
        Some(Route::Read) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            Ok(http::json(200, &applying.application(&caller, &id).await?))
        }
        Some(Route::Withdraw) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            Ok(http::json(200, &applying.withdraw(&caller, &id).await?))
        }
        Some(Route::StartLiveness) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            Ok(http::json(201, &applying.start_liveness_session(&caller, &id).await?))
        }
        Some(Route::ConfirmLiveness) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            let body = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &applying.confirm_liveness(&caller, &id, body).await?))
        }
        None => Err(http::no_route(request)),
    }
}
