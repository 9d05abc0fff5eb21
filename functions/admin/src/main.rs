//! The administration function's Lambda entry point: wire the AWS adapters once per cold start, then serve.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let services = shared::adapters::aws::services_from_environment().await?;
    // The shipped rollout plan and truck rules fill in what is not stored
    // yet; changes and switches an administrator made are never overwritten.
    services
        .records
        .seed_rollout(&shared::register::rollout::Plan::default_plan())
        .await?;
    services
        .records
        .seed_truck_rules(&shared::truck::rules::TruckRulebook::shipped())
        .await?;
    let services = &services;
    run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(edl_admin::handle(services, request).await)
    }))
    .await
}
