//! The review queue: what waits for staff (photos, truck passes), earliest due first, a page at a time.

use super::input::InvalidInput;
use super::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// A reviewer's request for a page: `GET /reviews?limit=&cursor=&overdue=`, `GET /truck/reviews?...`.
#[derive(Debug, Clone, Default)]
pub struct QueueRequest {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
    /// Only the items already past their due time.
    pub overdue: bool,
}

impl QueueRequest {
    /// The store's query for this request at `now`, the page size checked.
    pub fn query(self, now: DateTime<Utc>) -> Result<QueueQuery, InvalidInput> {
        let limit = self.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(InvalidInput::new(format!("limit must be 1 to {MAX_PAGE}.")));
        }
        Ok(QueueQuery {
            limit,
            after: self.cursor,
            due_before: self.overdue.then_some(now),
        })
    }
}

/// One page of a review queue as a reviewer reads it: photo reviews, or truck passes.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewPage<T> {
    pub at: DateTime<Utc>,
    pub items: Vec<T>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

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
