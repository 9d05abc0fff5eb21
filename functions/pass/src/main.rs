//! The truck pass function's Lambda entry point: wire the AWS adapters once per cold start, then serve.

use lambda_http::{run, service_fn, Error, Request};
use shared::adapters::aws;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let config = aws::sdk_config().await?;
    let services = aws::services_from_environment(&config)?;
    let notices = shared::service::Notices(aws::event_bus(&config)?);
    // Nothing is written or read before the first request: the shipped truck rules stand for the cities not
    // stored, read with the stored ones on the first request that needs them (Services::truck_rulebook).
    let context = &shared::service::PassDesk {
        signing: shared::service::Signing::new(services, aws::signer(&config)),
        notices,
    };
    run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(edl_pass::handle(context, request).await)
    }))
    .await
}
