//! The expire function's Lambda entry point: wire the records, the event bus and the bucket once per cold start, then run on each schedule event.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use shared::adapters::aws;
use tracing::Instrument;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    let config = aws::sdk_config().await?;
    let services = aws::services_from_environment(&config)?;
    let bus = aws::event_bus(&config)?;
    // One bucket: the register's portraits, and the import jobs' register files under imports/.
    let bucket = aws::photos_from_environment(&config)?;
    let context = &shared::service::Expiring {
        services,
        issuer: bus.clone(),
        notices: shared::service::Notices(bus),
        register_files: bucket.clone(),
        photos: bucket,
    };
    run(service_fn(move |event: LambdaEvent<edl_expire::Trigger>| async move {
        let span = tracing::info_span!("event", request_id = %event.context.request_id);
        match event.payload {
            edl_expire::Trigger::Job {
                job: edl_expire::Job::Sweep,
            } => {
                let stop = edl_expire::import_stop(event.context.deadline, std::time::SystemTime::now());
                async {
                    let sweep = edl_expire::sweep(context).await?;
                    // What failed to re-drive is a metric, and its alarm says when the sweep keeps failing.
                    shared::adapters::emf::EmfStdout.sweep(&sweep);
                    let imports = edl_expire::imports(context, Some(stop)).await?;
                    Ok::<_, edl_expire::ExpireError>(serde_json::json!({ "sweep": sweep, "imports": imports }))
                }
                .instrument(span)
                .await
                .map_err(Error::from)
            }
            edl_expire::Trigger::Upload(upload) => {
                let stop = edl_expire::import_stop(event.context.deadline, std::time::SystemTime::now());
                edl_expire::upload(context, *upload, Some(stop))
                    .instrument(span)
                    .await
                    .map(|report| serde_json::json!(report))
                    .map_err(Error::from)
            }
            edl_expire::Trigger::Schedule(schedule) => {
                let stop = edl_expire::stop_at(event.context.deadline, std::time::SystemTime::now());
                edl_expire::handle(context, *schedule, Some(stop))
                    .instrument(span)
                    .await
                    .map(|report| serde_json::json!(report))
                    .map_err(Error::from)
            }
        }
    }))
    .await
}
