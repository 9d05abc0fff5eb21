//! The local API: every HTTP function of `template.yaml` on loopback, with embedded adapters or AWS ones.

pub mod routes;
pub mod server;

use shared::adapters::dynamodb::DynamoRecords;
use shared::adapters::embedded::EmbeddedRecords;
use shared::adapters::embedded_photos::EmbeddedPhotos;
use shared::adapters::s3::S3Photos;
use shared::dev::{DevKeys, DevLiveness};
use shared::domain::rollout::Plan;
use shared::ports::{Clock, PhotoStore, Records, SystemClock};
use shared::service::Services;
use std::sync::Arc;

/// Where the records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// In this process; gone when it stops.
    Embedded,
    /// A DynamoDB table and an S3 bucket through the AWS SDK: an emulator at
    /// `AWS_ENDPOINT_URL` (which creates them), or AWS itself.
    Aws { table: String, bucket: String, create: bool },
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot prepare the records: {0}")]
    Records(#[from] shared::ports::StoreError),
    #[error("cannot prepare the photo store: {0}")]
    Photos(#[from] shared::ports::PhotoStoreError),
}

/// The local services, and the embedded photo store when there is one (the
/// local server plays S3 for it).
pub struct Local {
    pub services: Services,
    pub embedded_photos: Option<Arc<EmbeddedPhotos>>,
}

/// Builds the services the functions run with locally, seeds the rollout plan
/// and loads `samples` licences from the sample register. `base_url` is where
/// the local server answers (for the embedded photo store's links).
pub async fn local_services(
    storage: &Storage,
    keys: &DevKeys,
    samples: usize,
    seed: u64,
    base_url: &str,
) -> Result<Local, LocalError> {
    let mut embedded_photos = None;
    let (records, photos): (Arc<dyn Records>, Arc<dyn PhotoStore>) = match storage {
        Storage::Embedded => {
            let photos = Arc::new(EmbeddedPhotos::new(keys.clone(), base_url));
            embedded_photos = Some(photos.clone());
            (Arc::new(EmbeddedRecords::new()), photos)
        }
        Storage::Aws { table, bucket, create } => {
            let config = shared::adapters::aws::sdk_config().await;
            let client = shared::adapters::aws::dynamodb_client(&config);
            let photos = S3Photos::new(&config, bucket.clone());
            if *create {
                DynamoRecords::create_table(&client, table).await?;
                photos.create_bucket().await?;
            }
            (Arc::new(DynamoRecords::new(client, table.clone())), Arc::new(photos))
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
    let liveness = Arc::new(DevLiveness {
        keys: keys.clone(),
        clock: clock.clone(),
    });
    Ok(Local {
        services: Services::new(records, clock, liveness).with_photos(photos),
        embedded_photos,
    })
}
