//! The administration function: import and change licences, switch cities and waves on (R1, R2, R7, R11);
//! large register imports as jobs (issue 13); the vehicle register, truck rules, their go-live and pass revocation
//! (R13).

use lambda_http::{Body, Request, Response};
use shared::http::{self, MAX_JSON_BODY};
use shared::kernel::ident::Identifier;
use shared::service::{ServiceError, Services};

shared::routes! {
    /// The routes this function serves.
    pub enum Route {
        ImportLicences = "POST /admin/licences",
        ReadLicence = "GET /admin/licences/{number}",
        ChangeLicence = "PATCH /admin/licences/{number}",
        Rollout = "GET /admin/rollout",
        SwitchCity = "PUT /admin/rollout/cities/{city}",
        SwitchWave = "PUT /admin/rollout/waves/{wave}",
        ImportVehicles = "POST /admin/vehicles",
        TruckRules = "GET /admin/truck/cities/{city}",
        ChangeTruckRules = "PUT /admin/truck/cities/{city}",
        SwitchTruckCity = "PUT /admin/truck/rollout/cities/{city}",
        SwitchTruckBatch = "PUT /admin/truck/rollout/batches/{batch}",
        RevokePass = "POST /admin/truck/passes/{id}/revocation",
        SigningKeys = "GET /admin/keys",
        StartImport = "POST /admin/imports",
        ImportStatus = "GET /admin/imports/{id}",
    }
}

/// An import is JSON Lines of up to 5 MiB: under Lambda's 6 MB payload limit
/// once API Gateway's envelope is added, and about 10,000 licences.
pub const MAX_IMPORT_BODY: usize = 5 * 1024 * 1024;

pub async fn handle(services: &Services, request: Request) -> Response<Body> {
    http::answer(&request, route(services, &request)).await
}

async fn route(services: &Services, request: &Request) -> Result<Response<Body>, ServiceError> {
    let caller = http::caller(request)?;
    match Route::of(&http::route_key(request)) {
        Some(Route::ImportLicences) => {
            let body = http::read_text(
                request,
                MAX_IMPORT_BODY,
                &["application/x-ndjson", "application/jsonl", "application/json-lines"],
                "application/x-ndjson (one licence JSON object per line)",
            )?;
            Ok(http::json(200, &services.import_licences(&caller, body).await?))
        }
        Some(Route::ReadLicence) => {
            let number = http::path_parameter(request, "number", Identifier::LicenceNumber)?;
            Ok(http::json(200, &services.licence_for_admin(&caller, &number).await?))
        }
        Some(Route::ChangeLicence) => {
            let number = http::path_parameter(request, "number", Identifier::LicenceNumber)?;
            let change = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                200,
                &services.change_licence(&caller, &number, change).await?,
            ))
        }
        Some(Route::Rollout) => Ok(http::json(200, &services.rollout(&caller).await?)),
        Some(Route::SigningKeys) => Ok(http::json(200, &services.signing_keys(&caller).await?)),
        Some(Route::SwitchCity) => {
            let city = http::path_parameter(request, "city", Identifier::City)?;
            let switch = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.switch_city(&caller, &city, switch).await?))
        }
        Some(Route::SwitchWave) => {
            let wave = http::path_parameter(request, "wave", Identifier::Wave)?;
            let switch = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.switch_wave(&caller, &wave, switch).await?))
        }
        Some(Route::ImportVehicles) => {
            let body = http::read_text(
                request,
                MAX_IMPORT_BODY,
                &["application/x-ndjson", "application/jsonl", "application/json-lines"],
                "application/x-ndjson (one vehicle JSON object per line)",
            )?;
            Ok(http::json(200, &services.import_vehicles(&caller, body).await?))
        }
        Some(Route::TruckRules) => {
            let city = http::path_parameter(request, "city", Identifier::City)?;
            Ok(http::json(200, &services.truck_rules_for_admin(&caller, &city).await?))
        }
        Some(Route::ChangeTruckRules) => {
            let city = http::path_parameter(request, "city", Identifier::City)?;
            let change = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                200,
                &services.change_truck_rules(&caller, &city, change).await?,
            ))
        }
        Some(Route::SwitchTruckCity) => {
            let city = http::path_parameter(request, "city", Identifier::City)?;
            let switch = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                200,
                &services.switch_truck_city(&caller, &city, switch).await?,
            ))
        }
        Some(Route::SwitchTruckBatch) => {
            let batch = http::path_parameter(request, "batch", Identifier::Batch)?;
            let switch = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(
                200,
                &services.switch_truck_batch(&caller, &batch, switch).await?,
            ))
        }
        Some(Route::RevokePass) => {
            let id = http::path_parameter(request, "id", Identifier::PassSerial)?;
            let revocation = http::read_json(request, MAX_JSON_BODY)?;
            Ok(http::json(200, &services.revoke_pass(&caller, &id, revocation).await?))
        }
        Some(Route::StartImport) => {
            let start = http::read_json(request, MAX_JSON_BODY)?;
            let started = services.start_import(&caller, start).await?;
            Ok(http::json(if started.created { 201 } else { 200 }, &started))
        }
        Some(Route::ImportStatus) => {
            let id = http::path_parameter(request, "id", Identifier::ImportJob)?;
            Ok(http::json(200, &services.import_status(&caller, &id).await?))
        }
        None => Err(http::no_route(request)),
    }
}
