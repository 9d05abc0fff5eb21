//! The truck pass function's Lambda entry point: wire the AWS adapters once per cold start, then serve.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let services = shared::adapters::aws::services_from_environment().await?;
    if services.signer.is_none() {
        return Err("the pass function needs its signer".into());
    }
    // The shipped truck rules fill in cities not stored yet; an
    // administrator's changes and switches are never overwritten.
    services
        .records
        .seed_truck_rules(&shared::truck::rules::TruckRulebook::shipped())
        .await?;
    let services = &services;
    run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(edl_pass::handle(services, request).await)
    }))
    .await
}
