//! Wiring for a Lambda cold start: the AWS configuration and the services built on it.

use super::dynamodb::DynamoRecords;
use super::NoLivenessService;
use crate::applications::ports::LivenessService;
use crate::kernel::calendar::WorkingCalendar;
use crate::kernel::time::{Clock, SystemClock};
use crate::service::verification::IacaPin;
use crate::service::Services;
use std::sync::Arc;

/// The SDK configuration from the environment (`AWS_REGION`, credentials,
/// and `AWS_ENDPOINT_URL` when pointed at an emulator).
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// A DynamoDB client from the SDK configuration.
pub fn dynamodb_client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodb::Client {
    aws_sdk_dynamodb::Client::new(config)
}

#[derive(Debug, thiserror::Error)]
pub enum WiringError {
    #[error("the environment variable {0} is not set")]
    Missing(&'static str),
    #[error("the environment variable {0} is not valid: {1}")]
    Invalid(&'static str, String),
}

/// What every deployed function has: records in the table named by `TABLE_NAME`; the
/// working-day calendar from `EDL_CALENDAR` when set; the one IACA trusted from
/// `IACA_SHA256` (none without it); the verification quotas from `EDL_QUOTAS` when set;
/// the verification metrics as EMF lines on standard output; the status lists' public base from
/// `EDL_PUBLIC_BASE_URL`. The liveness service is Amazon Rekognition
/// (Face Liveness and CompareFaces) when `LIVENESS=rekognition` in a function built with the `rekognition`
/// feature, judged at `LIVENESS_THRESHOLD` and matched at `FACE_MATCH_THRESHOLD`; otherwise there is none and
/// real-person checks are refused as unavailable. No deployed function has any other (development) one.
/// The ports only some functions have come from the functions below, each compiled only with the cargo
/// feature that links its SDK, so that a function links only the SDKs it uses.
pub fn services_from_environment(config: &aws_config::SdkConfig) -> Result<Services, WiringError> {
    let table = std::env::var("TABLE_NAME").map_err(|_| WiringError::Missing("TABLE_NAME"))?;
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let liveness: Arc<dyn LivenessService> = match std::env::var("LIVENESS").as_deref() {
        #[cfg(feature = "rekognition")]
        Ok("rekognition") => {
            let threshold = threshold("LIVENESS_THRESHOLD", super::rekognition::DEFAULT_THRESHOLD)?;
            Arc::new(super::rekognition::RekognitionLiveness::new(config, threshold))
        }
        _ => Arc::new(NoLivenessService),
    };
    let face_match_threshold = threshold(
        "FACE_MATCH_THRESHOLD",
        crate::service::applications::DEFAULT_FACE_MATCH_THRESHOLD,
    )?;
    let mut services = Services::new(
        Arc::new(DynamoRecords::new(dynamodb_client(config), table)),
        clock,
        liveness,
    );
    services.face_match_threshold = face_match_threshold;
    if let Ok(disclosure) = std::env::var("EDL_DISCLOSURE") {
        services.disclosure = crate::verification::disclosure::Disclosure::from_json(&disclosure)
            .map_err(|e| WiringError::Invalid("EDL_DISCLOSURE", e.to_string()))?;
    }
    // The IACA verification, issuance and signing trust (the template's IacaSha256); none without it.
    if let Some(pin) = std::env::var("IACA_SHA256").ok().filter(|p| !p.is_empty()) {
        let pin = IacaPin::parse(&pin).map_err(|e| WiringError::Invalid("IACA_SHA256", e.to_string()))?;
        services.trust_cache.pin_iaca(pin);
    }
    if let Ok(quotas) = std::env::var("EDL_QUOTAS") {
        services.quotas = crate::verification::quota::Quotas::from_json(&quotas)
            .map_err(|e| WiringError::Invalid("EDL_QUOTAS", e.to_string()))?;
    }
    services.metrics = Arc::new(super::emf::EmfStdout);
    // Where signed documents say their status list is published (the functions that sign have it).
    if let Some(base) = std::env::var("EDL_PUBLIC_BASE_URL").ok().filter(|b| !b.is_empty()) {
        services.status_lists.base_url = base;
    }
    // How long the rollout plan, truck rules and trust material are kept per instance (and public reads cached).
    if let Some(seconds) = std::env::var("EDL_CACHE_SECONDS").ok().filter(|s| !s.is_empty()) {
        services.staleness = crate::kernel::cache::Staleness::parse(&seconds)
            .map_err(|e| WiringError::Invalid("EDL_CACHE_SECONDS", e.to_string()))?;
    }
    if let Ok(calendar) = std::env::var("EDL_CALENDAR") {
        services.calendar =
            WorkingCalendar::from_json(&calendar).map_err(|e| WiringError::Invalid("EDL_CALENDAR", e.to_string()))?;
    }
    Ok(services)
}

/// An environment variable a port needs, or a `WiringError` that names it: a function deployed without it
/// fails at its cold start rather than at its first request.
#[cfg(any(feature = "s3", feature = "eventbridge", feature = "cloudwatch"))]
fn required(name: &'static str) -> Result<String, WiringError> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .ok_or(WiringError::Missing(name))
}

/// The photo store: the private S3 bucket named by `PHOTO_BUCKET`. The same bucket holds the register files of
/// large imports under `imports/` (the functions that start or run import jobs hold it as their `RegisterFiles`).
#[cfg(feature = "s3")]
pub fn photos_from_environment(config: &aws_config::SdkConfig) -> Result<Arc<super::s3::S3Photos>, WiringError> {
    let bucket = required("PHOTO_BUCKET")?;
    Ok(Arc::new(super::s3::S3Photos::new(config, bucket)))
}

/// The signer: KMS, with the keys the trust entries name.
#[cfg(feature = "kms")]
pub fn signer(config: &aws_config::SdkConfig) -> Arc<dyn crate::kernel::signing::Signer> {
    Arc::new(super::kms::KmsSigner::new(config))
}

/// The EventBridge bus named by `EVENT_BUS_NAME`: issuance requests to the issue function and notices to the
/// holders' and fleets' apps.
#[cfg(feature = "eventbridge")]
pub fn event_bus(config: &aws_config::SdkConfig) -> Result<Arc<super::eventbridge::EventBus>, WiringError> {
    let bus = required("EVENT_BUS_NAME")?;
    Ok(Arc::new(super::eventbridge::EventBus::new(config, bus)))
}

/// Where the scheduled key check publishes: CloudWatch, in the namespace named by `EDL_METRICS_NAMESPACE`.
#[cfg(feature = "cloudwatch")]
pub fn key_metrics(config: &aws_config::SdkConfig) -> Result<Arc<dyn crate::kernel::metrics::Metrics>, WiringError> {
    let namespace = required("EDL_METRICS_NAMESPACE")?;
    Ok(Arc::new(super::cloudwatch::CloudWatchMetrics::new(config, namespace)))
}

/// A 0..=100 score threshold from the environment, `default` when unset.
fn threshold(name: &'static str, default: f32) -> Result<f32, WiringError> {
    match std::env::var(name) {
        Ok(text) => match text.parse::<f32>() {
            Ok(value) if (0.0..=100.0).contains(&value) => Ok(value),
            Ok(value) => Err(WiringError::Invalid(name, format!("{value} is outside 0..=100"))),
            Err(e) => Err(WiringError::Invalid(name, e.to_string())),
        },
        Err(_) => Ok(default),
    }
}
