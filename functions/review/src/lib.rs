//! The review function: the staff photo review queue, one item with its photo, and decisions (R4, R15).

use lambda_http::{Body, Request, RequestExt, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::service::reviews::QueueRequest;
use shared::service::{ServiceError, Services};

/// The routes this function serves, as `template.yaml` declares them.
pub const ROUTES: [&str; 3] = ["GET /reviews", "GET /reviews/{id}", "POST /reviews/{id}/decision"];

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

fn queue_request(request: &Request) -> Result<QueueRequest, ServiceError> {
    let query = request.query_string_parameters();
    for name in query.iter().map(|(k, _)| k) {
        if !["limit", "cursor", "overdue"].contains(&name) {
            return Err(ServiceError::invalid(format!(
                "Unknown query parameter {name}; use limit, cursor and overdue."
            )));
        }
    }
    let limit = match query.first("limit") {
        Some(text) => Some(
            text.parse::<usize>()
                .map_err(|_| ServiceError::invalid("limit must be a whole number."))?,
        ),
        None => None,
    };
    let overdue = match query.first("overdue") {
        None | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(ServiceError::invalid("overdue must be true or false.")),
    };
    Ok(QueueRequest {
        limit,
        cursor: query.first("cursor").map(str::to_string),
        overdue,
    })
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match http::route_key(request).as_str() {
        "GET /reviews" => {
            let query = queue_request(request)?;
            Ok(http::json(200, &services.review_queue(&caller, query).await?))
        }
        "GET /reviews/{id}" => {
            let id = http::path_parameter(request, "id")?;
            Ok(http::json(200, &services.review_item(&caller, &id).await?))
        }
        "POST /reviews/{id}/decision" => {
            let id = http::path_parameter(request, "id")?;
            let decision = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.decide_review(&caller, &id, decision).await?))
        }
        _ => Err(http::no_route(request)),
    }
}
