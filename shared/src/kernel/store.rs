//! What a records store can answer instead of a record: every store port of every context fails with these.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The record changed since it was read (optimistic locking); read and try again.
    #[error("the record changed since it was read")]
    Conflict,
    /// The licence already has an open application (the per-holder lock).
    #[error("the licence already has an open application {existing}")]
    OpenApplicationExists { existing: String },
    #[error("the record already exists")]
    AlreadyExists,
    #[error("the records store is unavailable: {0}")]
    Unavailable(String),
    #[error("a stored record could not be read: {0}")]
    Corrupt(String),
    /// A paging cursor this store did not issue.
    #[error("the cursor is not one this service issued")]
    BadCursor,
}
