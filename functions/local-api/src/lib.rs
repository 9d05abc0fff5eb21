//! The local API: every HTTP function of `template.yaml` on loopback, with embedded adapters or AWS ones.

pub mod clock;
pub mod consoles;
pub mod routes;
pub mod server;

use shared::adapters::dynamodb::DynamoRecords;
use shared::adapters::embedded::notices::{ChannelIssuer, EmbeddedNotices};
use shared::adapters::embedded::photos::EmbeddedPhotos;
use shared::adapters::embedded::EmbeddedRecords;
use shared::adapters::kms::KmsSigner;
use shared::adapters::s3::S3Photos;
use shared::adapters::Records;
use shared::applications::ports::PhotoStore;
use shared::crypto::LocalSigner;
use shared::dev::{DevKeys, DevLiveness};
use shared::kernel::metrics::RecordedMetrics;
use shared::kernel::signing::Signer;
use shared::kernel::time::Clock;
use shared::register::ports::RegisterFiles;
use shared::service::keys::Authority;
use shared::service::{Ports, Services};
use std::sync::Arc;

use clock::DevClock;

/// Where the records live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Storage {
    /// In this process; gone when it stops.
    Embedded,
    /// A DynamoDB table and an S3 bucket through the AWS SDK: an emulator at
    /// `AWS_ENDPOINT_URL` (which creates them), or AWS itself.
    Aws {
        table: String,
        bucket: String,
        create: bool,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum LocalError {
    #[error("cannot prepare the records: {0}")]
    Records(#[from] shared::kernel::store::StoreError),
    #[error("cannot prepare the photo store: {0}")]
    Photos(#[from] shared::applications::ports::PhotoStoreError),
    #[error("cannot prepare the signing keys: {0}")]
    Keys(String),
    #[error("cannot prepare the AWS clients: {0}")]
    Aws(#[from] shared::adapters::aws::WiringError),
}

/// The local services, and the embedded photo store when there is one (the
/// local server plays S3 for it).
pub struct Local {
    pub services: Services,
    /// Every function's ports: each request is served by its function's context over them.
    pub ports: Ports,
    pub embedded_photos: Option<Arc<EmbeddedPhotos>>,
    pub notices: Arc<EmbeddedNotices>,
    /// Approved applications waiting for the issuance task.
    pub approvals: tokio::sync::mpsc::UnboundedReceiver<String>,
    /// The clock every use case reads, moved by `POST /_dev/clock`.
    pub clock: Arc<DevClock>,
    /// Makes the next document signer's key, for `POST /_dev/keys/signers`.
    pub key_maker: KeyMaker,
    /// The development liveness service, whose sessions `POST /_dev/liveness` finishes.
    pub liveness: Arc<DevLiveness>,
}

/// Where a new document signer's key is made: in this process, or in KMS (the emulator or AWS).
#[derive(Clone)]
pub enum KeyMaker {
    Embedded(Arc<LocalSigner>),
    Kms(Box<aws_config::SdkConfig>),
}

impl KeyMaker {
    /// A new signing key's id.
    pub async fn new_key(&self) -> Result<String, LocalError> {
        match self {
            KeyMaker::Embedded(signer) => {
                let id = format!("local-document-signer-{}", uuid::Uuid::new_v4().simple());
                signer.generate(&id);
                Ok(id)
            }
            KeyMaker::Kms(sdk) => shared::adapters::kms::create_signing_key(sdk, "edl-local document signer")
                .await
                .map_err(|e| LocalError::Keys(e.to_string())),
        }
    }
}

/// Status lists the local server publishes (128 deployed; see `shared::issuance::status`).
pub const LOCAL_STATUS_LISTS: u32 = 8;

/// The records, photos, signer and key maker of one storage choice.
type Adapters = (
    Arc<dyn Records>,
    Arc<dyn PhotoStore>,
    Arc<dyn RegisterFiles>,
    Arc<dyn Signer>,
    KeyMaker,
);

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
    let mut config = None;
    let (records, photos, files, signer, key_maker): Adapters = match storage {
        Storage::Embedded => {
            let photos = Arc::new(EmbeddedPhotos::new(keys.clone(), base_url));
            embedded_photos = Some(photos.clone());
            let signer = Arc::new(LocalSigner::new());
            signer.generate(LOCAL_IACA_KEY);
            signer.generate(LOCAL_DOCUMENT_SIGNER_KEY);
            (
                Arc::new(EmbeddedRecords::new()),
                photos.clone(),
                photos,
                signer.clone(),
                KeyMaker::Embedded(signer),
            )
        }
        Storage::Aws { table, bucket, create } => {
            let sdk = shared::adapters::aws::sdk_config().await?;
            let client = shared::adapters::aws::dynamodb_client(&sdk);
            let photos = Arc::new(S3Photos::new(&sdk, bucket.clone()));
            if *create {
                DynamoRecords::create_table(&client, table).await?;
                photos.create_bucket().await?;
            }
            let signer = KmsSigner::new(&sdk);
            config = Some(sdk.clone());
            (
                Arc::new(DynamoRecords::new(client, table.clone())),
                photos.clone(),
                photos,
                Arc::new(signer),
                KeyMaker::Kms(Box::new(sdk)),
            )
        }
    };
    // The rollout plan and truck rules are not seeded: the shipped ones stand for what is not stored.
    if samples > 0 {
        records.import_vehicles(&shared::sample::showcase_vehicles()).await?;
        let licences = shared::sample::generate(samples, seed);
        for chunk in licences.chunks(1000) {
            records.import_licences(chunk).await?;
        }
        // The register's photos on file the sample licences name (R3).
        shared::sample::seed_photos(photos.as_ref()).await?;
    }
    let dev_clock = Arc::new(DevClock::default());
    let clock: Arc<dyn Clock> = dev_clock.clone();
    let liveness = Arc::new(DevLiveness::new(clock.clone()));
    let notices = Arc::new(EmbeddedNotices::default());
    let (sender, approvals) = tokio::sync::mpsc::unbounded_channel();
    let mut services = Services::new(records, clock, liveness.clone());
    let ports = Ports {
        photos,
        register_files: files,
        signer,
        issuer: Arc::new(ChannelIssuer { sender }),
        notifier: notices.clone(),
        // The key check's metrics stay in the process (`POST /_dev/jobs/refresh` answers with them).
        key_metrics: Arc::new(RecordedMetrics::default()),
        pages: Arc::new(shared::credential::pages::InProcess),
    };
    // Documents name the local server's own status lists; fewer lists than deployed (`LOCAL_STATUS_LISTS`),
    // so that publishing them all (at start and on `POST /_dev/jobs/status-lists`) takes a moment.
    services.status_lists.base_url = base_url.to_string();
    services.status_lists.lists = LOCAL_STATUS_LISTS;
    // The embedded store starts empty: certify the in-memory keys. Against an
    // emulator, create KMS keys the first time; against AWS, the operator runs
    // `edl-local keys bootstrap` once.
    let signing = ports.signing(&services);
    if services.records.trust().await?.is_empty() {
        let authority = Authority::default();
        let (iaca_key, ds_key) = match (storage, &config) {
            (Storage::Embedded, _) => (LOCAL_IACA_KEY.to_string(), LOCAL_DOCUMENT_SIGNER_KEY.to_string()),
            (Storage::Aws { create: true, .. }, Some(sdk)) => {
                let iaca = shared::adapters::kms::create_signing_key(sdk, "edl-local IACA root")
                    .await
                    .map_err(|e| LocalError::Keys(e.to_string()))?;
                let ds = shared::adapters::kms::create_signing_key(sdk, "edl-local document signer")
                    .await
                    .map_err(|e| LocalError::Keys(e.to_string()))?;
                (iaca, ds)
            }
            _ => {
                tracing::warn!("no certificates installed: run `edl-local keys bootstrap` before issuing");
                return Ok(Local {
                    services,
                    ports,
                    embedded_photos,
                    notices,
                    approvals,
                    clock: dev_clock,
                    key_maker,
                    liveness,
                });
            }
        };
        signing
            .install_iaca(&authority, &iaca_key)
            .await
            .map_err(|e| LocalError::Keys(e.to_string()))?;
        signing
            .add_document_signer(&authority, &ds_key)
            .await
            .map_err(|e| LocalError::Keys(e.to_string()))?;
    }
    // The lists exist from the start (the deployed job publishes every five minutes).
    match signing.run_status_lists().await {
        Ok(report) if report.signer_unavailable.is_none() => {}
        Ok(report) => tracing::warn!(why = ?report.signer_unavailable, "status lists not published"),
        Err(e) => tracing::warn!(error = %e, "status lists not published"),
    }
    Ok(Local {
        services,
        ports,
        embedded_photos,
        notices,
        approvals,
        clock: dev_clock,
        key_maker,
        liveness,
    })
}

/// Whether the local server may serve development tokens and routes: with its own storage, or against an AWS
/// emulator on this machine (`AWS_ENDPOINT_URL` on loopback); never against real AWS (`--aws` without an
/// endpoint, or an endpoint elsewhere), whose table and keys are a deployment's.
pub fn development_allowed(aws: bool, endpoint: Option<&str>) -> bool {
    match endpoint {
        Some(url) => url
            .parse::<http::Uri>()
            .ok()
            .and_then(|uri| uri.host().map(str::to_string))
            .is_some_and(|host| {
                matches!(
                    host.to_ascii_lowercase().as_str(),
                    "127.0.0.1" | "localhost" | "[::1]" | "::1"
                )
            }),
        None => !aws,
    }
}

/// The in-memory key names of the embedded signer.
pub const LOCAL_IACA_KEY: &str = "local-iaca";
pub const LOCAL_DOCUMENT_SIGNER_KEY: &str = "local-document-signer-1";
