//! The AWS KMS adapter of the signer port: ES256 signatures with keys that never leave KMS.

use super::on_first_use::OnFirstUse;
use crate::crypto::{der_signature_to_raw, p256_sec1_from_spki};
use crate::kernel::signing::{Signer, SignerError};
use async_trait::async_trait;
use aws_sdk_kms::error::DisplayErrorContext;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{KeySpec, KeyUsageType, MessageType, SigningAlgorithmSpec};
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// Signs SHA-256 digests with asymmetric `ECC_NIST_P256` KMS keys.
pub struct KmsSigner {
    client: OnFirstUse<aws_sdk_kms::Client>,
    /// Public keys by key id: a KMS key's public key never changes, and GetPublicKey
    /// has its own (low) request quota.
    public_keys: Mutex<HashMap<String, Vec<u8>>>,
}

impl KmsSigner {
    /// The SDK client, built by the first request that needs it.
    fn client(&self) -> &aws_sdk_kms::Client {
        self.client.get()
    }

    pub fn new(config: &aws_config::SdkConfig) -> Self {
        let config = config.clone();
        Self::on(OnFirstUse::new(move || aws_sdk_kms::Client::new(&config)))
    }

    pub fn from_client(client: aws_sdk_kms::Client) -> Self {
        Self::on(OnFirstUse::built(client))
    }

    fn on(client: OnFirstUse<aws_sdk_kms::Client>) -> Self {
        Self {
            client,
            public_keys: Mutex::new(HashMap::new()),
        }
    }

    fn cached(&self, key_id: &str) -> Option<Vec<u8>> {
        // The cache only ever gains complete entries, so a poisoned lock still guards good data.
        let cache = self.public_keys.lock().unwrap_or_else(PoisonError::into_inner);
        cache.get(key_id).cloned()
    }

    fn remember(&self, key_id: &str, public: &[u8]) {
        let mut cache = self.public_keys.lock().unwrap_or_else(PoisonError::into_inner);
        cache.insert(key_id.to_string(), public.to_vec());
    }
}

/// What a KMS failure means to the caller: a key that may not sign now, a key that does
/// not exist, or KMS being unreachable or refusing for another reason.
fn classify(key_id: &str, disabled: bool, unknown: bool, what: &str, detail: String) -> SignerError {
    if disabled {
        SignerError::Disabled(key_id.to_string())
    } else if unknown {
        SignerError::UnknownKey(key_id.to_string())
    } else {
        SignerError::Unavailable(format!("KMS {what} with key {key_id}: {detail}"))
    }
}

#[async_trait]
impl Signer for KmsSigner {
    async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
        // DIGEST: we hash locally, so messages of any size can be signed (RAW stops at 4096 bytes)
        // and only 32 bytes travel to KMS.
        let output = self
            .client()
            .sign()
            .key_id(key_id)
            .message(Blob::new(digest.to_vec()))
            .message_type(MessageType::Digest)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| {
                let detail = DisplayErrorContext(&e).to_string();
                let service = e.as_service_error();
                classify(
                    key_id,
                    service.is_some_and(|s| s.is_disabled_exception() || s.is_kms_invalid_state_exception()),
                    service.is_some_and(|s| s.is_not_found_exception()),
                    "Sign",
                    detail,
                )
            })?;
        let signature = output
            .signature()
            .ok_or_else(|| SignerError::Malformed(format!("KMS Sign with key {key_id} returned no signature")))?;
        der_signature_to_raw(signature.as_ref())
    }

    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError> {
        if let Some(public) = self.cached(key_id) {
            return Ok(public);
        }
        let output = self
            .client()
            .get_public_key()
            .key_id(key_id)
            .send()
            .await
            .map_err(|e| {
                let detail = DisplayErrorContext(&e).to_string();
                let service = e.as_service_error();
                classify(
                    key_id,
                    service.is_some_and(|s| s.is_disabled_exception() || s.is_kms_invalid_state_exception()),
                    // An ARN that cannot name a key names no key.
                    service.is_some_and(|s| s.is_not_found_exception() || s.is_invalid_arn_exception()),
                    "GetPublicKey",
                    detail,
                )
            })?;
        // A key of another kind would sign something no verifier of ours accepts.
        if let Some(spec) = output.key_spec() {
            if *spec != KeySpec::EccNistP256 {
                return Err(SignerError::Malformed(format!(
                    "KMS key {key_id} is {spec}, not ECC_NIST_P256"
                )));
            }
        }
        if let Some(usage) = output.key_usage() {
            if *usage != KeyUsageType::SignVerify {
                return Err(SignerError::Malformed(format!(
                    "KMS key {key_id} is for {usage}, not SIGN_VERIFY"
                )));
            }
        }
        let spki = output
            .public_key()
            .ok_or_else(|| SignerError::Malformed(format!("KMS GetPublicKey for {key_id} returned no key")))?;
        let public = p256_sec1_from_spki(spki.as_ref())?;
        self.remember(key_id, &public);
        Ok(public)
    }
}

/// Creates a new P-256 signing key in KMS and returns its key id; for the administrator's
/// bootstrap command and for tests.
pub async fn create_signing_key(config: &aws_config::SdkConfig, description: &str) -> Result<String, SignerError> {
    let client = aws_sdk_kms::Client::new(config);
    let output = client
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .description(description)
        .send()
        .await
        .map_err(|e| SignerError::Unavailable(format!("KMS CreateKey: {}", DisplayErrorContext(&e))))?;
    output
        .key_metadata()
        .map(|metadata| metadata.key_id().to_string())
        .filter(|id| !id.is_empty())
        .ok_or_else(|| SignerError::Malformed("KMS CreateKey returned no key id".into()))
}
