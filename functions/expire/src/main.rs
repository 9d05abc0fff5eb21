//! The expire function's Lambda entry point: wire the records once per cold start, then run on each schedule event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use tracing::Instrument;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let services = shared::adapters::aws::services_from_environment().await?;
    let services = &services;
    run(service_fn(move |event: LambdaEvent<edl_expire::Trigger>| async move {
        let span = tracing::info_span!("event", request_id = %event.context.request_id);
        match event.payload {
            edl_expire::Trigger::Job {
                job: edl_expire::Job::Sweep,
            } => {
                let stop = edl_expire::import_stop(event.context.deadline, std::time::SystemTime::now());
                async {
                    let sweep = edl_expire::sweep(services).await?;
                    // What failed to re-drive is a metric, and its alarm says when the sweep keeps failing.
                    shared::adapters::emf::EmfStdout.sweep(&sweep);
                    let imports = edl_expire::imports(services, Some(stop)).await?;
                    Ok::<_, edl_expire::ExpireError>(serde_json::json!({ "sweep": sweep, "imports": imports }))
                }
                .instrument(span)
                .await
                .map_err(Error::from)
            }
            edl_expire::Trigger::Upload(upload) => {
                let stop = edl_expire::import_stop(event.context.deadline, std::time::SystemTime::now());
                edl_expire::upload(services, *upload, Some(stop))
                    .instrument(span)
                    .await
                    .map(|report| serde_json::json!(report))
                    .map_err(Error::from)
            }
            edl_expire::Trigger::Schedule(schedule) => {
                let stop = edl_expire::stop_at(event.context.deadline, std::time::SystemTime::now());
                edl_expire::handle(services, *schedule, Some(stop))
                    .instrument(span)
                    .await
                    .map(|report| serde_json::json!(report))
                    .map_err(Error::from)
            }
        }
    }))
    .await
}
