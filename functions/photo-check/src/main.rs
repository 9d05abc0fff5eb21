//! The photo-check function's Lambda entry point: wire the AWS adapters once per cold start, then handle S3 events.

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::adapters::aws;
use tracing::Instrument;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let config = aws::sdk_config().await?;
    let services = aws::services_from_environment(&config)?;
    let photos = aws::photos_from_environment(&config)?;
    let context = &shared::service::PhotoChecking { services, photos };
    run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let span = tracing::info_span!("event", request_id = %event.context.request_id);
        edl_photo_check::handle(context, event.payload)
            .instrument(span)
            .await
            .map_err(Error::from)
    }))
    .await
}
