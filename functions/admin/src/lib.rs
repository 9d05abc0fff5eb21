//! The administration function: import and change licences, switch cities and waves on (R1, R2, R7, R11);
//! the vehicle register, truck rules, their go-live and pass revocation (R13).

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::service::{ServiceError, Services};

/// The routes this function serves, as `template.yaml` declares them.
pub const ROUTES: [&str; 13] = [
    "POST /admin/licences",
    "GET /admin/licences/{number}",
    "PATCH /admin/licences/{number}",
    "GET /admin/rollout",
    "PUT /admin/rollout/cities/{city}",
    "PUT /admin/rollout/waves/{wave}",
    "POST /admin/vehicles",
    "GET /admin/truck/cities/{city}",
    "PUT /admin/truck/cities/{city}",
    "PUT /admin/truck/rollout/cities/{city}",
    "PUT /admin/truck/rollout/batches/{batch}",
    "POST /admin/truck/passes/{id}/revocation",
    "GET /admin/keys",
];

/// An import is JSON Lines of up to 5 MiB: under Lambda's 6 MB payload limit
/// once API Gateway's envelope is added, and about 10,000 licences.
pub const MAX_IMPORT_BODY: usize = 5 * 1024 * 1024;

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match http::route_key(request).as_str() {
        "POST /admin/licences" => {
            let body = http::read_text(
                request,
                MAX_IMPORT_BODY,
                &["application/x-ndjson", "application/jsonl", "application/json-lines"],
                "application/x-ndjson (one licence JSON object per line)",
            )?;
            Ok(http::json(200, &services.import_licences(&caller, body).await?))
        }
        "GET /admin/licences/{number}" => {
            let number = http::path_parameter(request, "number")?;
            Ok(http::json(200, &services.licence_for_admin(&caller, &number).await?))
        }
        "PATCH /admin/licences/{number}" => {
            let number = http::path_parameter(request, "number")?;
            let change = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                200,
                &services.change_licence(&caller, &number, change).await?,
            ))
        }
        "GET /admin/rollout" => Ok(http::json(200, &services.rollout(&caller).await?)),
        "GET /admin/keys" => Ok(http::json(200, &services.signing_keys(&caller).await?)),
        "PUT /admin/rollout/cities/{city}" => {
            let city = http::path_parameter(request, "city")?;
            let switch = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.switch_city(&caller, &city, switch).await?))
        }
        "PUT /admin/rollout/waves/{wave}" => {
            let wave = http::path_parameter(request, "wave")?;
            let switch = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.switch_wave(&caller, &wave, switch).await?))
        }
        "POST /admin/vehicles" => {
            let body = http::read_text(
                request,
                MAX_IMPORT_BODY,
                &["application/x-ndjson", "application/jsonl", "application/json-lines"],
                "application/x-ndjson (one vehicle JSON object per line)",
            )?;
            Ok(http::json(200, &services.import_vehicles(&caller, body).await?))
        }
        "GET /admin/truck/cities/{city}" => {
            let city = http::path_parameter(request, "city")?;
            Ok(http::json(200, &services.truck_rules_for_admin(&caller, &city).await?))
        }
        "PUT /admin/truck/cities/{city}" => {
            let city = http::path_parameter(request, "city")?;
            let change = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                200,
                &services.change_truck_rules(&caller, &city, change).await?,
            ))
        }
        "PUT /admin/truck/rollout/cities/{city}" => {
            let city = http::path_parameter(request, "city")?;
            let switch = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                200,
                &services.switch_truck_city(&caller, &city, switch).await?,
            ))
        }
        "PUT /admin/truck/rollout/batches/{batch}" => {
            let batch = http::path_parameter(request, "batch")?;
            let switch = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                200,
                &services.switch_truck_batch(&caller, &batch, switch).await?,
            ))
        }
        "POST /admin/truck/passes/{id}/revocation" => {
            let id = http::path_parameter(request, "id")?;
            let revocation = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.revoke_pass(&caller, &id, revocation).await?))
        }
        _ => Err(http::no_route(request)),
    }
}
