//! Wiring for a Lambda cold start: the AWS configuration and the services built on it.

use super::dynamodb::DynamoRecords;
use super::NoLivenessService;
use crate::applications::ports::LivenessService;
use crate::kernel::calendar::WorkingCalendar;
use crate::kernel::time::{Clock, SystemClock};
use crate::service::verification::IacaPin;
use crate::service::Services;
use std::sync::Arc;

/// The roots AWS's service endpoints chain to (Amazon Root CA 1 to 4 and the Starfield Services root that
/// cross-signs them), compiled in: a cold start reads no trust store, and nothing else is trusted by default.
pub const AWS_TRUST_ROOTS: &str = include_str!("aws-trust-roots.pem");

/// The SDK configuration from the environment (`AWS_REGION`, credentials,
/// and `AWS_ENDPOINT_URL` when pointed at an emulator), every client's HTTPS trusting [`tls_context`].
pub async fn sdk_config() -> Result<aws_config::SdkConfig, WiringError> {
    use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};
    let https = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::AwsLc))
        .tls_context(tls_context()?)
        .build_https();
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https);
    // In Lambda the function's role credentials are in its environment (and refreshed with it): read them there
    // instead of building the default chain at every cold start (an STS client, which parses the endpoint
    // partition table and compiles its patterns, and an IMDS client, neither of which a function ever uses).
    if std::env::var_os("AWS_LAMBDA_FUNCTION_NAME").is_some() && std::env::var_os("AWS_ACCESS_KEY_ID").is_some() {
        loader = loader.credentials_provider(aws_config::environment::EnvironmentVariableCredentialsProvider::new());
    }
    Ok(loader.load().await)
}

/// What the SDK's HTTPS connections trust: [`AWS_TRUST_ROOTS`]. The SDK's default client reads the system's whole
/// trust store while a function initialises (about 7 ms of a cold start, for some 150 roots of which AWS uses
/// five). Where `SSL_CERT_FILE` or `SSL_CERT_DIR` names a bundle (an endpoint behind a TLS-inspecting proxy, or
/// the emulator of the stack test), that bundle is trusted as well, read when the first connection is made.
fn tls_context() -> Result<aws_smithy_http_client::tls::TlsContext, WiringError> {
    use aws_smithy_http_client::tls::{TlsContext, TrustStore};
    let bundle_named = ["SSL_CERT_FILE", "SSL_CERT_DIR"]
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()));
    let trust = TrustStore::empty()
        .with_native_roots(bundle_named)
        .with_pem_certificate(AWS_TRUST_ROOTS.as_bytes());
    TlsContext::builder()
        .with_trust_store(trust)
        .build()
        .map_err(|e| WiringError::Tls(e.to_string()))
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
    #[error("the HTTPS client could not be built: {0}")]
    Tls(String),
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
#[cfg(any(feature = "s3", feature = "eventbridge", feature = "cloudwatch", feature = "lambda"))]
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

/// The pages function named by `PAGES_FUNCTION`, which draws the licence's PNG pages.
#[cfg(feature = "lambda")]
pub fn page_function(
    config: &aws_config::SdkConfig,
) -> Result<Arc<dyn crate::credential::pages::PageRenderer>, WiringError> {
    let name = required("PAGES_FUNCTION")?;
    Ok(Arc::new(super::lambda::PageFunction::new(config, name)))
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

#[cfg(test)]
mod tests {
    use super::*;
    use rustls::client::danger::ServerCertVerifier;
    use rustls::client::WebPkiServerVerifier;
    use rustls_pki_types::pem::PemObject;
    use rustls_pki_types::{CertificateDer, ServerName, UnixTime};
    use std::time::Duration;

    /// The roots as the SDK's HTTPS client reads them (aws-smithy-http-client parses each PEM certificate and
    /// panics on one it cannot add, so every one must parse here).
    fn roots() -> rustls::RootCertStore {
        let mut roots = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(AWS_TRUST_ROOTS.as_bytes()) {
            roots.add(certificate.expect("a PEM certificate")).expect("a root");
        }
        roots
    }

    fn stored_chain() -> Vec<CertificateDer<'static>> {
        CertificateDer::pem_slice_iter(include_bytes!("../../testdata/aws-endpoint-chain.pem"))
            .collect::<Result<Vec<_>, _>>()
            .expect("the stored chain")
    }

    fn verify(roots: rustls::RootCertStore, host: &str, at_unix: u64) -> Result<(), rustls::Error> {
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
            .build()
            .expect("a verifier");
        let chain = stored_chain();
        let (leaf, intermediates) = chain.split_first().expect("a leaf");
        let host = ServerName::try_from(host.to_string()).expect("a host name");
        verifier
            .verify_server_cert(
                leaf,
                intermediates,
                &host,
                &[],
                UnixTime::since_unix_epoch(Duration::from_secs(at_unix)),
            )
            .map(|_| ())
    }

    /// 2023-05-15T00:00:00Z, inside the stored leaf's validity.
    const WHILE_SERVED: u64 = 1_684_108_800;
    const ENDPOINT: &str = "search-managed-os-7drxn7jm4edbwzqaga.eu-west-3.es.amazonaws.com";

    #[test]
    fn the_compiled_in_roots_are_the_five_aws_chains_to() {
        assert_eq!(roots().len(), 5);
    }

    #[test]
    fn the_compiled_in_roots_verify_a_real_aws_endpoint_chain_offline() {
        verify(roots(), ENDPOINT, WHILE_SERVED).expect("the endpoint's chain verifies under Amazon Root CA 1");
    }

    #[test]
    fn the_same_chain_fails_for_another_host_after_its_expiry_and_without_the_roots() {
        let wrong_host = verify(roots(), "dynamodb.eu-west-3.amazonaws.com", WHILE_SERVED);
        assert!(
            matches!(wrong_host, Err(rustls::Error::InvalidCertificate(_))),
            "{wrong_host:?}"
        );
        let expired = verify(roots(), ENDPOINT, 1_700_000_000);
        assert!(
            matches!(
                expired,
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::ExpiredContext { .. }
                )) | Err(rustls::Error::InvalidCertificate(rustls::CertificateError::Expired))
            ),
            "{expired:?}"
        );
        // Amazon Root CA 2 to 4 and the Starfield root alone: the chain needs Root CA 1, so the set is what decides.
        let mut without_root_1 = rustls::RootCertStore::empty();
        for certificate in CertificateDer::pem_slice_iter(AWS_TRUST_ROOTS.as_bytes()).skip(1) {
            without_root_1
                .add(certificate.expect("a PEM certificate"))
                .expect("a root");
        }
        let untrusted = verify(without_root_1, ENDPOINT, WHILE_SERVED);
        assert!(
            matches!(
                untrusted,
                Err(rustls::Error::InvalidCertificate(
                    rustls::CertificateError::UnknownIssuer
                ))
            ),
            "{untrusted:?}"
        );
    }
}
