//! Revocation an offline verifier can see (issue 12 item 3): each signed document's entry in a published
//! status list, the status each licence state publishes, the lists' shards and the store behind them.
//!
//! A document's index is drawn at random from one of several fixed-size lists (so two documents of one
//! holder cannot be linked by their indices, and a list says nothing about issuance order), claimed by a
//! conditional write of a slot item that frees itself when the document's `validUntil` has passed (a dead
//! document needs no status), and never reused while the document lives. The statuses are kept in shards
//! of a list, each a versioned item, and published as a signed Status List Token that a scheduled job
//! rebuilds when a shard changed or the token nears its end.

use super::edl::{EdlStatus, ElectronicLicence};
use crate::credential::status_list::{INVALID, SUSPENDED, VALID};
use crate::expiry::ExpiryEntry;
use crate::kernel::store::StoreError;
use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Bits per status: 0 valid, 1 invalid (superseded, expired, or a document replaced by a refresh),
/// 2 suspended (stopped by the authority, which may reinstate it).
pub const STATUS_BITS: u8 = 2;
/// Entries per list: 2^20, 256 KiB packed at two bits.
pub const LIST_SIZE: u64 = 1 << 20;
/// Entries per shard: 2^16, 16 KiB packed, well under DynamoDB's 400 KB item limit.
pub const SHARD_ENTRIES: u64 = 1 << 16;
/// Lists when none is configured: 128 x 2^20 = 134 million entries. Thirty million licences hold
/// about 49 million slots at once (each document's slot, and a refreshed document's old one for the
/// ten days until it ends, 0.6 a licence), 36 % of them, so a random draw hits a free slot at the
/// first try nearly two times in three.
pub const DEFAULT_LISTS: u32 = 128;
/// Draws before giving up on finding a free slot (at 36 % full, one in 12 million fails).
pub const CLAIM_ATTEMPTS: usize = 16;
/// Seconds a reader may keep a token (`ttl`, and the answer's `Cache-Control: max-age`).
pub const TOKEN_TTL_SECONDS: u64 = 900;
/// A token's life (`exp - iat`).
pub const TOKEN_HOURS: i64 = 24;
/// The job signs a list again, changed or not, when its token ends within this many hours.
pub const TOKEN_RESIGN_HOURS: i64 = 12;
/// The publication job's period in the deployed stack (`template.yaml`'s schedule).
pub const JOB_MINUTES: i64 = 5;

/// The partitions of the licences whose statuses wait to be published (`STATUS#<shard>` in the sparse `issue`
/// index): a mass change (an expiry night) spreads over this many.
pub const STATUS_MARK_SHARDS: u32 = 8;
/// A mark is left to the writer's own publication for this long before the job publishes it again.
pub const MARK_GRACE_SECONDS: i64 = 60;
/// The most marked licences one run of the job publishes again; the rest waits five minutes.
pub const MARKS_PER_RUN: usize = 2_000;

/// A licence's place among those with statuses to publish: `STATUS#<shard>` / `<marked at>#<serial>`, while its
/// record is marked (see [`ElectronicLicence::status_to_publish`]).
pub fn status_mark_entry(licence: &ElectronicLicence) -> Option<ExpiryEntry> {
    licence.status_to_publish.map(|at| ExpiryEntry {
        bucket: status_mark_bucket(super::outbox::shard_of(&licence.serial) % STATUS_MARK_SHARDS),
        key: format!("{}#{}", super::outbox::sortable(at), licence.serial),
    })
}

/// The partition of one shard of the marks: `STATUS#3`.
pub fn status_mark_bucket(shard: u32) -> String {
    format!("STATUS#{shard}")
}

/// Where a document's status is published: list `list`, entry `idx`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StatusEntry {
    pub list: u32,
    pub idx: u64,
}

/// The entry of a document that a refresh replaced: invalid until the replaced document's own end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RetiredEntry {
    pub list: u32,
    pub idx: u64,
    pub until: DateTime<Utc>,
}

impl RetiredEntry {
    pub fn entry(&self) -> StatusEntry {
        StatusEntry {
            list: self.list,
            idx: self.idx,
        }
    }
}

/// The status the document of a licence in this state publishes.
pub fn published_status(status: &EdlStatus) -> u8 {
    match status {
        EdlStatus::Active => VALID,
        EdlStatus::Stopped { .. } => SUSPENDED,
        EdlStatus::Superseded { .. } | EdlStatus::Expired { .. } => INVALID,
    }
}

/// How the lists are laid out and published, configurable per deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListPolicy {
    /// How many lists documents draw from (`0..lists`).
    pub lists: u32,
    /// Entries per list (a multiple of `SHARD_ENTRIES`).
    pub size: u64,
    /// The public base URL the lists are published under: `<base>/status-lists/<list>`.
    pub base_url: String,
    pub ttl_seconds: u64,
    pub token_life: Duration,
    pub resign_before: Duration,
    /// Whether a document a refresh replaced reads invalid until it ends (true, as shipped), or, false, reads
    /// as its licence does (so that only stopped, superseded and expired licences make entries that are not
    /// valid: a sixteenth of the list size at 1 % revoked; see the README's measures).
    pub replaced_documents_invalid: bool,
}

impl Default for StatusListPolicy {
    fn default() -> Self {
        StatusListPolicy {
            lists: DEFAULT_LISTS,
            size: LIST_SIZE,
            base_url: "https://edl.example.gov.cn".into(),
            ttl_seconds: TOKEN_TTL_SECONDS,
            token_life: Duration::hours(TOKEN_HOURS),
            resign_before: Duration::hours(TOKEN_RESIGN_HOURS),
            replaced_documents_invalid: true,
        }
    }
}

impl StatusListPolicy {
    /// The URI a document names in its `status` and the token in its `sub`.
    pub fn uri(&self, list: u32) -> String {
        format!("{}/status-lists/{list}", self.base_url.trim_end_matches('/'))
    }

    /// The list a path parameter names: decimal digits of a configured list, nothing else.
    pub fn list_named(&self, id: &str) -> Option<u32> {
        if id.is_empty()
            || id.len() > 10
            || !id.bytes().all(|b| b.is_ascii_digit())
            || (id.len() > 1 && id.starts_with('0'))
        {
            return None;
        }
        id.parse::<u32>().ok().filter(|list| *list < self.lists)
    }

    pub fn shards(&self) -> u32 {
        u32::try_from(self.size.div_ceil(SHARD_ENTRIES)).unwrap_or(u32::MAX)
    }

    /// A random entry from two uniform random numbers.
    pub fn draw(&self, list_random: u32, idx_random: u64) -> StatusEntry {
        StatusEntry {
            list: list_random % self.lists.max(1),
            idx: idx_random % self.size.max(1),
        }
    }
}

/// The shard holding `idx`, and the entry's place inside it.
pub fn shard_of(idx: u64) -> (u32, u64) {
    (
        u32::try_from(idx / SHARD_ENTRIES).unwrap_or(u32::MAX),
        idx % SHARD_ENTRIES,
    )
}

/// One shard of a list: `SHARD_ENTRIES` statuses packed as the draft lays them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusShard {
    pub packed: Vec<u8>,
    /// Raised by every write (the writes are conditional on it).
    pub version: u64,
}

impl StatusShard {
    /// A shard of valid entries that was never stored.
    pub fn empty() -> Self {
        StatusShard {
            packed: vec![0; shard_bytes()],
            version: 0,
        }
    }
}

/// Bytes of one packed shard.
pub fn shard_bytes() -> usize {
    usize::try_from(SHARD_ENTRIES / u64::from(8 / STATUS_BITS)).unwrap_or(0)
}

/// A list's published token, signed, with what it was built from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedList {
    pub list: u32,
    /// The Status List Token (a tagged COSE_Sign1), as served.
    pub token: Vec<u8>,
    pub issued_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    /// The version of every shard (0 for one never stored) when the token was built.
    pub shard_versions: Vec<u64>,
}

/// A licence record at the version a status was read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LicenceVersion {
    pub serial: String,
    pub version: u64,
}

/// The status lists' state: the slots taken, the shards, the published tokens.
#[async_trait]
pub trait StatusListStore: Send + Sync {
    /// Takes the slot for `serial`'s document until `until`, if it is free or its last document has
    /// ended (`until` before `now`); whether it was taken.
    async fn claim_status_slot(
        &self,
        entry: StatusEntry,
        serial: &str,
        until: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError>;
    /// One shard as stored, or none if it was never written.
    async fn status_shard(&self, list: u32, shard: u32) -> Result<Option<StatusShard>, StoreError>;
    /// Every stored shard of a list.
    async fn status_shards(&self, list: u32) -> Result<Vec<(u32, StatusShard)>, StoreError>;
    /// Writes a shard whose version was `expected` when read (0: never stored), and when `guard` names a
    /// licence, only while that licence's record is still at the version its statuses were read from
    /// (one transaction), so that a flip never outlives a later change of the licence; `Conflict` otherwise.
    async fn put_status_shard(
        &self,
        list: u32,
        shard: u32,
        packed: &[u8],
        expected: u64,
        guard: Option<&LicenceVersion>,
    ) -> Result<(), StoreError>;
    async fn published_list(&self, list: u32) -> Result<Option<PublishedList>, StoreError>;
    async fn publish_list(&self, published: &PublishedList) -> Result<(), StoreError>;
    /// The serials of up to `limit` licences of one mark shard marked before `before`, oldest first.
    async fn marked_for_publication(
        &self,
        shard: u32,
        before: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<String>, StoreError>;
    /// Clears the licence's mark while its record is still at `version` (whose statuses were published);
    /// `Conflict` when it changed since (its mark then stays, for the job). The version is not raised: the
    /// mark is bookkeeping, and a writer that read the marked record and writes after this puts the mark
    /// back, which costs one more publication and loses none.
    async fn clear_status_mark(&self, serial: &str, version: u64) -> Result<(), StoreError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_ids_are_plain_numbers_of_configured_lists() {
        let policy = StatusListPolicy {
            lists: 4,
            ..StatusListPolicy::default()
        };
        assert_eq!(policy.list_named("0"), Some(0));
        assert_eq!(policy.list_named("3"), Some(3));
        for bad in ["4", "", "01", "-1", "1.0", "x", "99999999999", " 1"] {
            assert_eq!(policy.list_named(bad), None, "{bad:?}");
        }
        assert_eq!(policy.uri(3), "https://edl.example.gov.cn/status-lists/3");
        assert_eq!(policy.shards(), 16);
    }

    #[test]
    fn shards_hold_sixty_five_thousand_entries_in_sixteen_kilobytes() {
        assert_eq!(shard_bytes(), 16 * 1024);
        assert_eq!(shard_of(0), (0, 0));
        assert_eq!(shard_of(SHARD_ENTRIES + 5), (1, 5));
        assert_eq!(shard_of(LIST_SIZE - 1), (15, SHARD_ENTRIES - 1));
    }

    #[test]
    fn each_state_publishes_its_status() {
        let at: DateTime<Utc> = "2026-11-25T00:00:00Z".parse().expect("time");
        assert_eq!(published_status(&EdlStatus::Active), VALID);
        assert_eq!(published_status(&EdlStatus::Expired { at }), INVALID);
        assert_eq!(
            published_status(&EdlStatus::Superseded {
                at,
                reason: "re-issued".into(),
                by_serial: None
            }),
            INVALID
        );
        assert_eq!(
            published_status(&EdlStatus::Stopped {
                at,
                reason: "malicious".into(),
                by: crate::kernel::caller::Actor {
                    id: "r".into(),
                    role: crate::kernel::caller::Role::Reviewer
                }
            }),
            SUSPENDED
        );
    }
}
