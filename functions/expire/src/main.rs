//! The expire function's Lambda entry point: wire the records once per cold start, then run on each schedule event.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let services = shared::adapters::aws::services_from_environment().await?;
    let services = &services;
    run(service_fn(
        move |event: LambdaEvent<CloudWatchEvent<serde_json::Value>>| async move {
            let span = tracing::info_span!("event", request_id = %event.context.request_id);
            let stop = edl_expire::stop_at(event.context.deadline, std::time::SystemTime::now());
            edl_expire::handle(services, event.payload, Some(stop))
                .instrument(span)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
