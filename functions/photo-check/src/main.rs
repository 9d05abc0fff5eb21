//! The photo-check function's Lambda entry point: wire the AWS adapters once per cold start, then handle S3 events.

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let services = shared::adapters::aws::services_from_environment().await?;
    if services.photos.is_none() {
        return Err("PHOTO_BUCKET is not set".into());
    }
    let services = &services;
    run(service_fn(move |event: LambdaEvent<S3Event>| async move {
        let span = tracing::info_span!("event", request_id = %event.context.request_id);
        edl_photo_check::handle(services, event.payload)
            .instrument(span)
            .await
            .map_err(Error::from)
    }))
    .await
}
