//! The signer: ES256 with keys held elsewhere (KMS in AWS, memory locally); every signed document and code uses it.

use async_trait::async_trait;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignerError {
    /// The key exists but may not sign (disabled, pending deletion).
    #[error("the signing key {0} is disabled")]
    Disabled(String),
    #[error("there is no signing key {0}")]
    UnknownKey(String),
    #[error("the signer is unavailable: {0}")]
    Unavailable(String),
    #[error("the signer returned a malformed answer: {0}")]
    Malformed(String),
}

/// ES256 (ECDSA P-256 with SHA-256) signing with keys held elsewhere: in
/// KMS in AWS, in memory locally. The caller hashes; the key never leaves.
#[async_trait]
pub trait Signer: Send + Sync {
    /// Signs a SHA-256 digest the caller computed; the raw 64-byte r||s
    /// signature COSE expects, with S normalised to the lower half of the order.
    async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError>;
    /// The key's public point, SEC1 uncompressed (0x04 || x || y).
    async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError>;
}
