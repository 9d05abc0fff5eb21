//! The review function: the staff photo review queue, one item with its photo, and decisions (R4, R15).

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::kernel::ident::Identifier;
use shared::service::{Reviewing, ServiceError};

shared::routes! {
    /// The routes this function serves.
    pub enum Route {
        Queue = "GET /reviews",
        Open = "GET /reviews/{id}",
        Decide = "POST /reviews/{id}/decision",
    }
}

pub async fn handle(reviewing: &Reviewing, request: Request) -> Response<Body> {
    http::answer(&request, route(reviewing, &request)).await
}

async fn route(reviewing: &Reviewing, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match Route::of(&http::route_key(request)) {
        Some(Route::Queue) => {
            let query = http::queue_request(request)?;
            Ok(http::json(200, &reviewing.review_queue(&caller, query).await?))
        }
        Some(Route::Open) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            Ok(http::json(200, &reviewing.review_item(&caller, &id).await?))
        }
        Some(Route::Decide) => {
            let id = http::path_parameter(request, "id", Identifier::Application)?;
            let decision = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &reviewing.decide_review(&caller, &id, decision).await?))
        }
        None => Err(http::no_route(request)),
    }
}
