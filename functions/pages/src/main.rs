//! The pages function's Lambda entry point: draws a licence page as PNG for each request of the licence function.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use tracing::Instrument;

// One thread: an execution environment serves one event at a time (README, Cold starts).
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::telemetry::init_tracing();
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        let span = tracing::info_span!("event", request_id = %event.context.request_id);
        async move { Ok::<_, Error>(edl_pages::handle(event.payload)) }
            .instrument(span)
            .await
    }))
    .await
}
