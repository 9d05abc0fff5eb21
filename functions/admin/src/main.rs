//! The administration function's Lambda entry point: wire the AWS adapters once per cold start, then serve.

use lambda_http::{run, service_fn, Error, Request};
use shared::adapters::aws;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let config = aws::sdk_config().await?;
    let services = aws::services_from_environment(&config)?;
    // One bucket: photos, and the register files of large imports under imports/.
    let bucket = aws::photos_from_environment(&config)?;
    let notices = shared::service::Notices(aws::event_bus(&config)?);
    // Nothing is written or read before the first request: the shipped rollout plan and truck rules stand for
    // what is not stored (an administrator's first switch or change stores it).
    let context = &shared::service::Administering {
        services,
        photos: bucket.clone(),
        register_files: bucket,
        notices,
    };
    run(service_fn(move |request: Request| async move {
        Ok::<_, std::convert::Infallible>(edl_admin::handle(context, request).await)
    }))
    .await
}
