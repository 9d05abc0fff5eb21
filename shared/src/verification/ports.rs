//! The verification context's port: the trust material, certificates and the keys behind them.

use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustRole {
    Iaca,
    DocumentSigner,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrustStatus {
    /// Signs new documents (document signers) or anchors the chain (IACA).
    Active,
    /// No longer signs, still verifies what it signed.
    Retired,
}

/// A certificate and the signing key behind it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrustEntry {
    pub kid: String,
    pub role: TrustRole,
    /// The signer's key id (a KMS key id or ARN, or a local key name).
    pub key_id: String,
    /// DER, base64.
    pub certificate: String,
    pub status: TrustStatus,
    pub created_at: DateTime<Utc>,
}

/// Certificates and the keys behind them (IACA root, document signers).
#[async_trait]
pub trait TrustStore: Send + Sync {
    async fn save_trust(&self, entry: &TrustEntry) -> Result<(), StoreError>;
    async fn trust(&self) -> Result<Vec<TrustEntry>, StoreError>;
}
