//! The licence function's Lambda entry point: wire the AWS adapters once per cold start, then serve.

use lambda_http::{run, service_fn, Error, Request};

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let services = shared::adapters::aws::services_from_environment().await?;
    // The pages' portrait is the one signed into the licence's mdoc: no photo store.
    if services.signer.is_none() {
        return Err("the licence function needs its signer".into());
    }
    let services = &services;
    run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(edl_licence::handle(services, request).await)
    }))
    .await
}
