//! The refresh function's Lambda entry point: wire the records, the signer and the metrics once per cold start, then run on each schedule event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::adapters::aws;
use tracing::Instrument;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let config = aws::sdk_config().await?;
    let services = aws::services_from_environment(&config)?;
    // A refresh re-signs the portrait the current document carries: no photo store.
    let mut services = services;
    services.signing_budget =
        edl_refresh::signing_budget_from(std::env::var("EDL_REFRESH_SIGNS_PER_DAY").ok().as_deref())?;
    let context = &shared::service::Refreshing {
        signing: shared::service::Signing::new(services, aws::signer(&config)),
        key_metrics: aws::key_metrics(&config)?,
    };
    let options = &shared::service::refresh::RefreshOptions::default();
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let span = tracing::info_span!("event", request_id = %event.context.request_id);
        let stop = edl_refresh::stop_at(event.context.deadline, std::time::SystemTime::now());
        async move {
            match edl_refresh::job_of(event.payload)? {
                edl_refresh::Job::Refresh(scheduled) => {
                    let run = edl_refresh::handle(context, *scheduled, options, Some(stop)).await?;
                    serde_json::to_value(run).map_err(Error::from)
                }
                edl_refresh::Job::StatusLists => {
                    let report = edl_refresh::publish_status_lists(context).await?;
                    serde_json::to_value(report).map_err(Error::from)
                }
            }
        }
        .instrument(span)
        .await
    }))
    .await
}
