//! The show-code cache: a credential's current code (a licence's or a truck pass's), kept for reuse until shortly
//! before it expires.

use super::store::StoreError;
use super::Colour;
use crate::credential::showcode::CodeKind;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// A show code kept for reuse until shortly before it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CachedShowCode {
    pub code: String,
    pub colour: Colour,
    pub issued_at: i64,
    pub expires_at: i64,
}

/// Where each credential's current show code is kept, by its kind and serial.
#[async_trait]
pub trait ShowCodeCache: Send + Sync {
    async fn cached_code(&self, kind: CodeKind, serial: &str) -> Result<Option<CachedShowCode>, StoreError>;
    /// Replaces the credential's current code.
    async fn keep_code(&self, kind: CodeKind, serial: &str, code: &CachedShowCode) -> Result<(), StoreError>;
}
