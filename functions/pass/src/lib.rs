//! The truck pass function (R13): city rules for anyone, applications, the fleet's passes, show codes and staff review.

use lambda_http::{Body, Request, RequestExt, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::service::{ServiceError, Services};

/// The routes this function serves, as `template.yaml` declares them.
pub const ROUTES: [&str; 10] = [
    "GET /truck/cities",
    "GET /truck/cities/{city}",
    "POST /truck/passes",
    "GET /truck/passes",
    "GET /truck/passes/{id}",
    "DELETE /truck/passes/{id}",
    "GET /truck/passes/{id}/code",
    "GET /truck/passes/{id}/checks",
    "GET /truck/reviews",
    "POST /truck/reviews/{id}/decision",
];

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

/// `GET /truck/passes?plate=`
fn plate_filter(request: &Request) -> Result<Option<String>, ServiceError> {
    let query = request.query_string_parameters();
    if let Some(name) = query.iter().map(|(k, _)| k).find(|k| *k != "plate") {
        return Err(ServiceError::invalid(format!(
            "Unknown query parameter {name}; use plate."
        )));
    }
    Ok(query.first("plate").map(str::to_string))
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    let route = http::route_key(request);
    // The rules are public: an app shows them before anyone signs in.
    match route.as_str() {
        "GET /truck/cities" => return Ok(http::json(200, &services.truck_cities().await?)),
        "GET /truck/cities/{city}" => {
            let city = http::path_parameter(request, "city")?;
            return Ok(http::json(200, &services.truck_city_rules(&city).await?));
        }
        _ => {}
    }
    let caller = http::caller(request)?;
    match route.as_str() {
        "POST /truck/passes" => {
            let application = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(201, &services.apply_for_pass(&caller, application).await?))
        }
        "GET /truck/passes" => {
            let plate = plate_filter(request)?;
            Ok(http::json(
                200,
                &services.truck_passes(&caller, plate.as_deref()).await?,
            ))
        }
        "GET /truck/passes/{id}" => {
            let id = http::path_parameter(request, "id")?;
            Ok(http::json(200, &services.truck_pass(&caller, &id).await?))
        }
        "DELETE /truck/passes/{id}" => {
            let id = http::path_parameter(request, "id")?;
            Ok(http::json(200, &services.withdraw_pass(&caller, &id).await?))
        }
        "GET /truck/passes/{id}/code" => {
            let id = http::path_parameter(request, "id")?;
            Ok(http::json(200, &services.pass_code(&caller, &id).await?))
        }
        "GET /truck/passes/{id}/checks" => {
            let id = http::path_parameter(request, "id")?;
            Ok(http::json(
                200,
                &serde_json::json!({ "checks": services.pass_checks(&caller, &id).await? }),
            ))
        }
        "GET /truck/reviews" => {
            let query = http::queue_request(request)?;
            Ok(http::json(200, &services.pass_review_queue(&caller, query).await?))
        }
        "POST /truck/reviews/{id}/decision" => {
            let id = http::path_parameter(request, "id")?;
            let decision = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.decide_pass(&caller, &id, decision).await?))
        }
        _ => Err(http::no_route(request)),
    }
}
