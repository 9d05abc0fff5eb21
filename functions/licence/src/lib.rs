//! The licence function: the holder shows their electronic licence, its show code and its pages (R6, R8).

use lambda_http::{Body, Request, Response};
use shared::http;
use shared::kernel::ident::Identifier;
use shared::service::{ServiceError, Showing};

shared::routes! {
    /// The routes this function serves.
    pub enum Route {
        Show = "GET /licence",
        Code = "GET /licence/code",
        Page = "GET /licence/pages/{page}",
        Checks = "GET /licence/checks",
    }
}

pub async fn handle(showing: &Showing, request: Request) -> Response<Body> {
    http::answer(&request, route(showing, &request)).await
}

async fn route(showing: &Showing, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match Route::of(&http::route_key(request)) {
        Some(Route::Show) => Ok(http::json(200, &showing.show_licence(&caller).await?)),
        Some(Route::Code) => Ok(http::json(200, &showing.show_code(&caller).await?)),
        Some(Route::Checks) => Ok(http::json(
            200,
            &serde_json::json!({ "checks": showing.licence_checks(&caller).await? }),
        )),
        Some(Route::Page) => {
            let page = http::path_parameter(request, "page", Identifier::Page)?;
            let rendered = showing.licence_page(&caller, &page).await?;
            Ok(http::binary(200, rendered.content_type, rendered.body))
        }
        None => Err(http::no_route(request)),
    }
}
