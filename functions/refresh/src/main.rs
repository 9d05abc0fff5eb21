//! The refresh function's Lambda entry point: wire the records, the signer and the metrics once per cold start, then run on each schedule event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let mut services = shared::adapters::aws::services_from_environment().await?;
    // A refresh re-signs the portrait the current document carries: no photo store.
    if services.signer.is_none() {
        return Err("the refresh function needs its signer".into());
    }
    let namespace = std::env::var("EDL_METRICS_NAMESPACE").map_err(|_| "EDL_METRICS_NAMESPACE is not set")?;
    let config = shared::adapters::aws::sdk_config().await;
    services.key_metrics = Some(std::sync::Arc::new(
        shared::adapters::cloudwatch::CloudWatchMetrics::new(&config, namespace),
    ));
    services.signing_budget =
        edl_refresh::signing_budget_from(std::env::var("EDL_REFRESH_SIGNS_PER_DAY").ok().as_deref())?;
    let options = shared::service::refresh::RefreshOptions::default();
    let (services, options) = (&services, &options);
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        let span = tracing::info_span!("event", request_id = %event.context.request_id);
        let stop = edl_refresh::stop_at(event.context.deadline, std::time::SystemTime::now());
        async move {
            match edl_refresh::job_of(event.payload)? {
                edl_refresh::Job::Refresh(scheduled) => {
                    let run = edl_refresh::handle(services, *scheduled, options, Some(stop)).await?;
                    serde_json::to_value(run).map_err(Error::from)
                }
                edl_refresh::Job::StatusLists => {
                    let report = edl_refresh::publish_status_lists(services).await?;
                    serde_json::to_value(report).map_err(Error::from)
                }
            }
        }
        .instrument(span)
        .await
    }))
    .await
}
