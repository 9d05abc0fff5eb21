//! The review queue: what waits for staff (photos, truck passes), earliest due first, a page at a time.

use super::input::InvalidInput;
use super::shard::shard_of;
use super::store::StoreError;
use async_trait::async_trait;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Utc};
use serde::Serialize;

pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;

/// Each queue is split this many ways in the `queue` index (`REVIEW#<shard>`), the shard drawn from the item's id.
/// A launch day puts about 100 entries a second into the photo queue and takes as many out (photo checks and
/// decisions, one write unit each now that the index holds keys only): four shards take about 25 a second each, a
/// fortieth of a partition's 1,000. A page reads every shard, so more shards would cost every reviewer's page more
/// queries for headroom it does not need.
pub const QUEUE_SHARDS: u32 = 4;

/// The partition of a queue entry: `REVIEW#<shard>`, or `REVIEW#reported#<shard>` once the expiry job reported it
/// overdue, so that the job's next pass reads only what it has not reported yet.
pub fn queue_partition(queue: &str, id: &str, reported: bool) -> String {
    let shard = shard_of(id, QUEUE_SHARDS);
    if reported {
        format!("{queue}#reported#{shard}")
    } else {
        format!("{queue}#{shard}")
    }
}

/// Every partition a page of `queue` reads: the shards, the reported shards unless only the unreported are
/// asked for, and the unsharded partition (`REVIEW`) where entries written before sharding wait until rewritten.
pub fn queue_partitions(queue: &str, unreported_only: bool) -> Vec<String> {
    let shards = 0..QUEUE_SHARDS;
    let mut partitions: Vec<String> = shards.clone().map(|shard| format!("{queue}#{shard}")).collect();
    if !unreported_only {
        partitions.extend(shards.map(|shard| format!("{queue}#reported#{shard}")));
    }
    partitions.push(queue.to_string());
    partitions
}

/// A queue entry's place, its sort key in every shard: due time, then id, as text that sorts in time order.
pub fn queue_position(due: DateTime<Utc>, id: &str) -> String {
    format!("{}#{id}", due.to_rfc3339_opts(chrono::SecondsFormat::Micros, true))
}

/// The opaque cursor of a page: the last position it listed (base64url), the same whichever shard held it.
pub fn encode_cursor(position: &str) -> String {
    URL_SAFE_NO_PAD.encode(position)
}

/// A cursor back to the position it names; anything else is a bad cursor.
pub fn decode_cursor(cursor: &str) -> Result<String, StoreError> {
    URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .filter(|position| {
            position
                .split_once('#')
                .is_some_and(|(due, id)| DateTime::parse_from_rfc3339(due).is_ok() && !id.is_empty())
        })
        .ok_or(StoreError::BadCursor)
}

/// What one shard gave for a page: its first entries after the cursor (position order), and whether it has more.
#[derive(Debug, Clone, PartialEq)]
pub struct ShardPage<T> {
    pub entries: Vec<(String, T)>,
    pub more: bool,
}

/// Merges the shards' pages into the queue's page, earliest due first: the first `limit` entries of all shards.
/// Each shard gave its first `limit` after the cursor, so none it left out can be among them; the next page starts
/// after the last one listed, in every shard, so nothing is skipped or repeated. An entry seen in two shards (a
/// moved entry read in both while the index catches up) is listed once.
pub fn merge_shards<T>(shards: Vec<ShardPage<T>>, limit: usize) -> (Vec<(String, T)>, Option<String>) {
    let mut more = shards.iter().any(|s| s.more);
    let mut merged: Vec<(String, T)> = shards.into_iter().flat_map(|s| s.entries).collect();
    merged.sort_by(|a, b| a.0.cmp(&b.0));
    merged.dedup_by(|a, b| a.0 == b.0);
    more |= merged.len() > limit;
    merged.truncate(limit);
    let next = if more {
        merged.last().map(|(position, _)| encode_cursor(position))
    } else {
        None
    };
    (merged, next)
}

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
            unreported_only: false,
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
    /// Only items the expiry job has not reported overdue yet (its own pass); reviewers see them all.
    pub unreported_only: bool,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn at(minute: u32) -> DateTime<Utc> {
        format!("2026-12-01T08:{minute:02}:00Z").parse().expect("time")
    }

    #[test]
    fn shards_merge_earliest_due_first_and_page_without_loss_or_repeat() {
        // Twelve entries, due a minute apart, dealt over four shards in turn; pages of three.
        let entries: Vec<(String, u32)> = (0..12)
            .map(|i| (queue_position(at(i), &format!("id{i:02}")), i))
            .collect();
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..10 {
            let cursor = after.as_deref().map(decode_cursor).transpose().expect("cursor");
            let shards: Vec<ShardPage<u32>> = (0..4)
                .map(|shard| {
                    let rest: Vec<(String, u32)> = entries
                        .iter()
                        .filter(|(p, i)| i % 4 == shard && cursor.as_ref().is_none_or(|c| p > c))
                        .cloned()
                        .collect();
                    ShardPage {
                        more: rest.len() > 3,
                        entries: rest.into_iter().take(3).collect(),
                    }
                })
                .collect();
            let (page, next) = merge_shards(shards, 3);
            assert!(page.len() <= 3);
            seen.extend(page.into_iter().map(|(_, i)| i));
            match next {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, (0..12).collect::<Vec<_>>());
    }

    #[test]
    fn an_entry_read_in_two_shards_is_listed_once() {
        let position = queue_position(at(1), "a");
        let shard = |entries: Vec<(String, u8)>| ShardPage { entries, more: false };
        let (page, next) = merge_shards(vec![shard(vec![(position.clone(), 1)]), shard(vec![(position, 1)])], 5);
        assert_eq!(page.len(), 1);
        assert_eq!(next, None);
    }

    #[test]
    fn partitions_and_cursors() {
        assert_eq!(queue_partitions("REVIEW", true).len(), QUEUE_SHARDS as usize + 1);
        let all = queue_partitions("REVIEW", false);
        assert_eq!(all.len(), 2 * QUEUE_SHARDS as usize + 1);
        assert!(all.contains(&queue_partition("REVIEW", "x", true)));
        assert!(all.contains(&queue_partition("REVIEW", "x", false)));
        assert_eq!(all.last().map(String::as_str), Some("REVIEW"));
        let position = queue_position(at(5), "app-1");
        assert_eq!(decode_cursor(&encode_cursor(&position)).expect("cursor"), position);
        assert!(decode_cursor("not a cursor").is_err());
        assert!(decode_cursor(&encode_cursor("yesterday#x")).is_err());
    }
}
