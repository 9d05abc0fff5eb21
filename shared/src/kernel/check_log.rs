//! The check log (R15): every verification of a credential, filed where its holder (or its pass's owner and
//! fleet) reads who checked it, when and why; newest first.

use super::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// A record of one verification, as a check log files it.
pub trait LoggedCheck: Serialize + DeserializeOwned + Clone + Send + Sync + 'static {
    /// The log's name in the store: one log per kind of credential.
    const LOG: &'static str;
    /// The record's kind, as a store labels it.
    const KIND: &'static str;
    fn id(&self) -> &str;
    fn at(&self) -> DateTime<Utc>;
    /// Whom the check is filed under (a holder, a pass serial); `None` when
    /// the credential named nothing known, filed under the day's unmatched checks.
    fn filed_under(&self) -> Option<&str>;
}

#[async_trait]
pub trait CheckLog<C: LoggedCheck>: Send + Sync {
    async fn record(&self, check: &C) -> Result<(), StoreError>;
    /// The checks filed under `subject`, newest first.
    async fn checks_of(&self, subject: &str, limit: usize) -> Result<Vec<C>, StoreError>;
}
