//! The licence function: the holder shows their electronic licence, its show code and its pages (R6, R8).

use lambda_http::{Body, Request, Response};
use shared::http;
use shared::service::{ServiceError, Services};

/// The routes this function serves, as `template.yaml` declares them.
pub const ROUTES: [&str; 4] = [
    "GET /licence",
    "GET /licence/code",
    "GET /licence/pages/{page}",
    "GET /licence/checks",
];

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match http::route_key(request).as_str() {
        "GET /licence" => Ok(http::json(200, &services.show_licence(&caller).await?)),
        "GET /licence/code" => Ok(http::json(200, &services.show_code(&caller).await?)),
        "GET /licence/checks" => Ok(http::json(
            200,
            &serde_json::json!({ "checks": services.licence_checks(&caller).await? }),
        )),
        "GET /licence/pages/{page}" => {
            let page = http::path_parameter(request, "page")?;
            let rendered = services.licence_page(&caller, &page).await?;
            Ok(http::binary(200, rendered.content_type, rendered.body))
        }
        _ => Err(http::no_route(request)),
    }
}
