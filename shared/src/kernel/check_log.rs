//! The check log (R15): every verification of a credential, filed where its holder (or its pass's owner and
//! fleet) reads who checked it, when and why; newest first.

use super::shard::shard_of;
use super::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
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

/// A day's unmatched checks are split this many ways (`CHECKS#unmatched#<day>#<shard>`), by the check's id. Every
/// check that names nothing known lands there: at the launch profile's 500 verifications a second all failing (a
/// misconfigured verifier, an attack) a shard takes about 63 writes a second, and at the verification route's
/// throttle (3,000 a second) 375, still under a partition's 1,000.
pub const UNMATCHED_SHARDS: u32 = 8;

/// The partition of one unmatched check: `<log>#unmatched#<day>#<shard>`, the shard drawn from its id so that a
/// retried check finds itself stored.
pub fn unmatched_partition(log: &str, day: NaiveDate, check_id: &str) -> String {
    format!(
        "{log}#unmatched#{}#{}",
        day.format("%Y-%m-%d"),
        shard_of(check_id, UNMATCHED_SHARDS)
    )
}

#[async_trait]
pub trait CheckLog<C: LoggedCheck>: Send + Sync {
    async fn record(&self, check: &C) -> Result<(), StoreError>;
    /// The checks filed under `subject`, newest first.
    async fn checks_of(&self, subject: &str, limit: usize) -> Result<Vec<C>, StoreError>;
}
