//! The truck pass function (R13): city rules for anyone, applications, the fleet's passes, show codes and staff review.

use lambda_http::{Body, Request, RequestExt, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::kernel::ident::Identifier;
use shared::service::{PassDesk, ServiceError};

shared::routes! {
    /// The routes this function serves.
    pub enum Route {
        Cities = "GET /truck/cities",
        CityRules = "GET /truck/cities/{city}",
        Apply = "POST /truck/passes",
        List = "GET /truck/passes",
        Read = "GET /truck/passes/{id}",
        Withdraw = "DELETE /truck/passes/{id}",
        Code = "GET /truck/passes/{id}/code",
        Checks = "GET /truck/passes/{id}/checks",
        ReviewQueue = "GET /truck/reviews",
        Decide = "POST /truck/reviews/{id}/decision",
    }
}

pub async fn handle(pass_desk: &PassDesk, request: Request) -> Response<Body> {
    http::answer(&request, route(pass_desk, &request)).await
}

/// `GET /truck/passes?plate=&limit=&cursor=`
fn plate_filter(request: &Request) -> Result<Option<String>, ServiceError> {
    Ok(request.query_string_parameters().first("plate").map(str::to_string))
}

async fn route(pass_desk: &PassDesk, request: &Request) -> Result<Response<Body>, ServiceError> {
    let route = Route::of(&http::route_key(request));
    // The rules are public: an app shows them before anyone signs in, and caches them as long as this instance does.
    match route {
        Some(Route::Cities) => {
            let cities = pass_desk.truck_cities().await?;
            return Ok(http::public_json(request, &cities, pass_desk.staleness, &["at"]));
        }
        Some(Route::CityRules) => {
            let city = http::path_parameter(request, "city", Identifier::City)?;
            let rules = pass_desk.truck_city_rules(&city).await?;
            return Ok(http::public_json(request, &rules, pass_desk.staleness, &[]));
        }
        _ => {}
    }
    let caller = http::caller(request)?;
    match route {
        Some(Route::Apply) => {
            let application = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(201, &pass_desk.apply_for_pass(&caller, application).await?))
        }
        Some(Route::List) => {
            let page = http::list_request(request, &["plate"])?;
            let plate = plate_filter(request)?;
            Ok(http::json(
                200,
                &pass_desk.truck_passes(&caller, plate.as_deref(), &page).await?,
            ))
        }
        Some(Route::Read) => {
            let id = http::path_parameter(request, "id", Identifier::PassSerial)?;
            Ok(http::json(200, &pass_desk.truck_pass(&caller, &id).await?))
        }
        Some(Route::Withdraw) => {
            let id = http::path_parameter(request, "id", Identifier::PassSerial)?;
            Ok(http::json(200, &pass_desk.withdraw_pass(&caller, &id).await?))
        }
        Some(Route::Code) => {
            let id = http::path_parameter(request, "id", Identifier::PassSerial)?;
            Ok(http::json(200, &pass_desk.pass_code(&caller, &id).await?))
        }
        Some(Route::Checks) => {
            let id = http::path_parameter(request, "id", Identifier::PassSerial)?;
            Ok(http::json(
                200,
                &serde_json::json!({ "checks": pass_desk.pass_checks(&caller, &id).await? }),
            ))
        }
        Some(Route::ReviewQueue) => {
            let query = http::queue_request(request)?;
            Ok(http::json(200, &pass_desk.pass_review_queue(&caller, query).await?))
        }
        Some(Route::Decide) => {
            let id = http::path_parameter(request, "id", Identifier::PassSerial)?;
            let decision = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &pass_desk.decide_pass(&caller, &id, decision).await?))
        }
        // The public routes were answered above.
        Some(Route::Cities | Route::CityRules) | None => Err(http::no_route(request)),
    }
}
