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

/// A verifier's single-use nonce for a device-bound presentation (see `credential::presentation`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DrawnNonce {
    /// The nonce, base64url without padding, as the verifier hands it to the holder's app.
    pub nonce: String,
    /// Who drew it: only they may present a response over it.
    pub verifier_id: String,
    /// Unix seconds after which it is refused.
    pub expires_at: i64,
}

/// The verifiers' nonces: kept when drawn, consumed once by a conditional delete.
#[async_trait]
pub trait NonceStore: Send + Sync {
    async fn keep_nonce(&self, nonce: &DrawnNonce) -> Result<(), StoreError>;
    /// Consumes the nonce if it is stored, drawn by `verifier_id` and not expired at `now` (Unix
    /// seconds), in one conditional step: `true` once, `false` for every later or other attempt.
    async fn take_nonce(&self, nonce: &str, verifier_id: &str, now: i64) -> Result<bool, StoreError>;
}

/// One shard of an organisation's request counter in one quota window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuotaShard {
    /// The organisation (or, for a verifier without one, its subject).
    pub organisation: String,
    /// Unix seconds when the window began.
    pub window_start: i64,
    pub shard: u32,
}

/// The per-organisation request counters, sharded so that one busy organisation is not one hot key.
#[async_trait]
pub trait QuotaCounter: Send + Sync {
    /// Adds one to the shard unless it already holds `limit`, atomically; whether it was added.
    /// The counter may be forgotten after `expires_at` (Unix seconds).
    async fn count_request(&self, shard: &QuotaShard, limit: u64, expires_at: i64) -> Result<bool, StoreError>;
    /// Adds one miss to the shard a request was counted on, atomically; the shard's misses so far.
    async fn count_miss(&self, shard: &QuotaShard, expires_at: i64) -> Result<u64, StoreError>;
}

/// Where the verification metrics go: CloudWatch (Embedded Metric Format log lines) in AWS, memory in process.
pub trait MetricSink: Send + Sync {
    /// One verification attempt of `organisation`; `miss` when it named nothing real (see `metrics::is_miss`),
    /// with the organisation's misses in the current quota window so far, estimated from its counters.
    fn verification(&self, organisation: &str, miss: bool, window_misses: Option<u64>, at: DateTime<Utc>);
}
