//! The local API: every HTTP function of `template.yaml` on loopback, with embedded adapters or AWS ones.

pub mod routes;
pub mod server;

use shared::adapters::dynamodb::DynamoRecords;
use shared::adapters::embedded::EmbeddedRecords;
use shared::dev::{DevKeys, DevLiveness};
use shared::domain::rollout::Plan;
use shared::ports::{Clock, Records, StoreError, SystemClock};
use shared::service::{Limits, Services};
use std::sync::Arc;

/// Where the records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// In this process; gone when it stops.
    Embedded,
    /// A DynamoDB table through the AWS SDK: an emulator at `AWS_ENDPOINT_URL`, or AWS itself.
    DynamoDb { table: String, create_table: bool },
}

/// Builds the services the functions run with locally, seeds the rollout plan
/// and loads `samples` licences from the sample register.
pub async fn local_services(storage: &Storage, keys: &DevKeys, samples: usize, seed: u64) -> Result<Services, StoreError> {
    let records: Arc<dyn Records> = match storage {
        Storage::Embedded => Arc::new(EmbeddedRecords::new()),
        Storage::DynamoDb { table, create_table } => {
            let config = shared::adapters::aws::sdk_config().await;
            let client = shared::adapters::aws::dynamodb_client(&config);
            if *create_table {
                DynamoRecords::create_table(&client, table).await?;
            }
            Arc::new(DynamoRecords::new(client, table.clone()))
        }
    };
    records.seed_rollout(&Plan::default_plan()).await?;
    if samples > 0 {
        let licences = shared::sample::generate(samples, seed);
        for chunk in licences.chunks(1000) {
            records.import_licences(chunk).await?;
        }
    }
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    Ok(Services {
        records,
        liveness: Arc::new(DevLiveness {
            keys: keys.clone(),
            clock: clock.clone(),
        }),
        clock,
        issuer: None,
        limits: Limits::default(),
    })
}
