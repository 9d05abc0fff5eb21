//! The cold-start baseline: a `lambda_runtime` function that answers its event with the event, and nothing else.

use lambda_runtime::{run, service_fn, Error, LambdaEvent};

#[tokio::main]
async fn main() -> Result<(), Error> {
    run(service_fn(|event: LambdaEvent<serde_json::Value>| async move {
        Ok::<_, Error>(event.payload)
    }))
    .await
}
