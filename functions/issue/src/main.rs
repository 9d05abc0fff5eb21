//! The issue function's Lambda entry point: wire the AWS adapters once per cold start, then handle events.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let services = shared::adapters::aws::services_from_environment().await?;
    if services.signer.is_none() || services.photos.is_none() {
        return Err("the issue function needs its signer and PHOTO_BUCKET".into());
    }
    let services = &services;
    run(service_fn(
        move |event: LambdaEvent<CloudWatchEvent<edl_issue::Approved>>| async move {
            let span = tracing::info_span!("event", request_id = %event.context.request_id);
            let Some(approved) = event.payload.detail else {
                return Err(Error::from("the event has no detail"));
            };
            edl_issue::handle(services, approved)
                .instrument(span)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
