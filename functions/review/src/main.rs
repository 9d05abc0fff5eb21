//! The review function's Lambda entry point: wire the AWS adapters once per cold start, then serve.

use lambda_http::{run, service_fn, Error, Request};
use shared::adapters::aws;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let config = aws::sdk_config().await?;
    let services = aws::services_from_environment(&config)?;
    let photos = aws::photos_from_environment(&config)?;
    let bus = aws::event_bus(&config)?;
    let context = &shared::service::Reviewing {
        services,
        photos,
        issuer: bus.clone(),
        notices: shared::service::Notices(bus),
    };
    run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(edl_review::handle(context, request).await)
    }))
    .await
}
