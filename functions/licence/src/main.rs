//! The licence function's Lambda entry point: wire the AWS adapters once per cold start, then serve.

use lambda_http::{run, service_fn, Error, Request};
use shared::adapters::aws;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let config = aws::sdk_config().await?;
    let services = aws::services_from_environment(&config)?;
    // The pages' portrait is the one signed into the licence's mdoc: no photo store. The PNG pages are drawn by
    // the pages function, so this one links no renderer.
    let context = &shared::service::Showing {
        signing: shared::service::Signing::new(services, aws::signer(&config)),
        pages: aws::page_function(&config)?,
    };
    run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(edl_licence::handle(context, request).await)
    }))
    .await
}
