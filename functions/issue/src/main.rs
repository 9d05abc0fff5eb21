//! The issue function's Lambda entry point: wire the AWS adapters once per cold start, then handle events.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::adapters::aws;
use tracing::Instrument;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let config = aws::sdk_config().await?;
    let services = aws::services_from_environment(&config)?;
    let context = &shared::service::Issuing {
        signing: shared::service::Signing::new(services, aws::signer(&config)),
        photos: aws::photos_from_environment(&config)?,
        notices: shared::service::Notices(aws::event_bus(&config)?),
    };
    run(service_fn(
        move |event: LambdaEvent<CloudWatchEvent<edl_issue::Approved>>| async move {
            let span = tracing::info_span!("event", request_id = %event.context.request_id);
            let Some(approved) = event.payload.detail else {
                return Err(Error::from("the event has no detail"));
            };
            edl_issue::handle(context, approved)
                .instrument(span)
                .await
                .map_err(Error::from)
        },
    ))
    .await
}
