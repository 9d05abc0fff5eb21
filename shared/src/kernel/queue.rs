//! The review queue: what waits for staff (photos, truck passes), earliest due first, a page at a time.

use super::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueQuery {
    pub limit: usize,
    /// The `next` of the previous page.
    pub after: Option<String>,
    /// Only items due before this time (the overdue ones, when it is now).
    pub due_before: Option<DateTime<Utc>>,
}

/// One page of what waits for review.
#[derive(Debug, Clone, PartialEq)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// Opaque cursor for the next page; none on the last page.
    pub next: Option<String>,
}

/// Records of one kind (`T`) waiting for staff review, earliest due first
/// (which is also oldest first: the due time grows with the arrival time).
#[async_trait]
pub trait ReviewQueue<T>: Send + Sync {
    async fn waiting(&self, query: &QueueQuery) -> Result<Page<T>, StoreError>;
}
