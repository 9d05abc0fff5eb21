//! The apply function: open, read and withdraw applications, and confirm a photo on file (R3, R4, R12).

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::kernel::ident::Identifier;
use shared::service::views::ApplicationView;
use shared::service::{ServiceError, Services};

shared::routes! {
    /// The routes this function serves.
    pub enum Route {
        Open = "POST /applications",
        Read = "GET /applications/{id}",
        Withdraw = "DELETE /applications/{id}",
        ConfirmLiveness = "POST /applications/{id}/liveness",
    }
}

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match Route::of(&http::route_key(request)) {
        Some(Route::Open) => {
            let body = http::read_json(request, MAX_JSON_BODY)?;
            let application = services.open_application(&caller, body).await?;
            Ok(http::json(201, &ApplicationView::for_caller(&application, &caller)))
        }
        Some(Route::Read) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            let application = services.application(&caller, &id).await?;
            Ok(http::json(200, &ApplicationView::for_caller(&application, &caller)))
        }
        Some(Route::Withdraw) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            let application = services.withdraw(&caller, &id).await?;
            Ok(http::json(200, &ApplicationView::for_caller(&application, &caller)))
        }
        Some(Route::ConfirmLiveness) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            let body = http::read_json(request, MAX_JSON_BODY)?;
            let application = services.confirm_liveness(&caller, &id, body).await?;
            Ok(http::json(200, &ApplicationView::for_caller(&application, &caller)))
        }
        None => Err(http::no_route(request)),
    }
}
