//! The published status lists (issue 12 item 3): a random entry for every signed document, the entries'
//! statuses kept in step with the licences, the signed tokens rebuilt by a scheduled job and served as stored.

use super::{ServiceError, Services, Signing};
use crate::credential::status_list::{self, StatusList, StatusListToken, VALID};
use crate::issuance::budget::{budget_day, SignCounter};
use crate::issuance::edl::ElectronicLicence;
use crate::issuance::status::{
    shard_bytes, shard_of, LicenceVersion, PublishedList, StatusEntry, StatusShard, CLAIM_ATTEMPTS, MARKS_PER_RUN,
    MARK_GRACE_SECONDS, STATUS_BITS, STATUS_MARK_SHARDS,
};
use crate::kernel::versioned::retry_on_conflict;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;

/// What one run of the publication job did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StatusListReport {
    pub at: DateTime<Utc>,
    /// Marked licences whose statuses were published again before the lists were signed.
    pub reconciled: u32,
    /// Marked licences whose publication failed again (they stay marked for the next run).
    pub reconcile_failed: u32,
    /// Lists looked at.
    pub lists: u32,
    /// Lists whose token was signed again (a shard changed, or the token neared its end).
    pub published: u32,
    /// Signatures asked of the signer.
    pub signs: u32,
    /// Whether the status lists' part of the day's signing budget was spent: the lists not signed keep their
    /// token (a day long, signed again twelve hours before its end) until the next day's part.
    pub budget_reached: bool,
    /// Why publication stopped, when no signer could sign: the tokens stay as they were.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signer_unavailable: Option<String>,
}

/// A published token as served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedList {
    pub token: Vec<u8>,
    /// Seconds a reader may keep it.
    pub max_age: u64,
}

fn random_u64() -> Result<u64, ServiceError> {
    let mut random = [0u8; 8];
    rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut random)
        .map_err(|e| ServiceError::Unavailable(format!("the random source failed: {e}")))?;
    Ok(u64::from_le_bytes(random))
}

/// Sets entry `offset` of a packed shard; whether it changed.
fn set_in(packed: &mut [u8], offset: u64, status: u8) -> bool {
    let per_byte = u64::from(8 / STATUS_BITS);
    let Ok(byte) = usize::try_from(offset / per_byte) else {
        return false;
    };
    let Some(slot) = packed.get_mut(byte) else {
        return false;
    };
    // Below 8 and a multiple of the bits: fits in a u8.
    let shift = (offset % per_byte) as u8 * STATUS_BITS;
    let mask = (((1u16 << STATUS_BITS) - 1) as u8) << shift;
    let next = (*slot & !mask) | ((status << shift) & mask);
    let changed = next != *slot;
    *slot = next;
    changed
}

impl Services {
    /// Draws a random free entry for `serial`'s document, which ends at `until`, claims it (never one
    /// another living document holds) and makes sure it reads valid, before the document is signed.
    pub(crate) async fn draw_status_entry(
        &self,
        serial: &str,
        until: DateTime<Utc>,
    ) -> Result<StatusEntry, ServiceError> {
        let now = self.now();
        for _ in 0..CLAIM_ATTEMPTS {
            let entry = self.status_lists.draw((random_u64()? >> 32) as u32, random_u64()?);
            if self.records.claim_status_slot(entry, serial, until, now).await? {
                // A slot freed by a document that ended may still read invalid or suspended; another
                // entry's write to the same shard meanwhile is read again.
                let valid = [(entry, VALID)];
                retry_on_conflict(CLAIM_ATTEMPTS, || self.set_statuses(&valid, None)).await?;
                return Ok(entry);
            }
        }
        Err(ServiceError::Unavailable(format!(
            "no free status list entry in {CLAIM_ATTEMPTS} draws: add lists"
        )))
    }

    /// Sets each entry's status in its shard (read, set, a write conditional on the shard's version and,
    /// with `guard`, the licence's); a conflict is returned for the caller to read again.
    async fn set_statuses(
        &self,
        statuses: &[(StatusEntry, u8)],
        guard: Option<&LicenceVersion>,
    ) -> Result<(), ServiceError> {
        let mut by_shard: BTreeMap<(u32, u32), Vec<(u64, u8)>> = BTreeMap::new();
        for (entry, status) in statuses {
            let (shard, offset) = shard_of(entry.idx);
            by_shard.entry((entry.list, shard)).or_default().push((offset, *status));
        }
        for ((list, shard), changes) in by_shard {
            let stored = self.records.status_shard(list, shard).await?;
            let mut current = stored.unwrap_or_else(StatusShard::empty);
            current.packed.resize(shard_bytes(), 0);
            let mut changed = false;
            for (offset, status) in changes {
                changed |= set_in(&mut current.packed, offset, status);
            }
            if changed {
                self.records
                    .put_status_shard(list, shard, &current.packed, current.version, guard)
                    .await?;
            }
        }
        Ok(())
    }

    /// Publishes (in the shards; the job signs) the statuses of the licence's entries as its record says
    /// now: its document's entry as its state, the entries of documents a refresh replaced invalid until
    /// those documents end (or, by the policy's choice, as the licence). Each write holds only while the record is unchanged, so a later change (a
    /// stop after a refresh, say) is never overwritten by an earlier one's statuses.
    pub(crate) async fn publish_statuses(&self, serial: &str) -> Result<(), ServiceError> {
        let mut last = ServiceError::Conflict;
        for _ in 0..CLAIM_ATTEMPTS {
            let Some(edl) = self.records.electronic_licence(serial).await? else {
                return Ok(());
            };
            match self.set_statuses(&self.statuses_of(&edl), Some(&guard_of(&edl))).await {
                Ok(()) => {
                    if edl.status_to_publish.is_some() {
                        // A change since the read keeps (or puts back) its mark: the job publishes it.
                        match self.records.clear_status_mark(serial, edl.version).await {
                            Ok(()) | Err(crate::kernel::store::StoreError::Conflict) => {}
                            Err(e) => return Err(e.into()),
                        }
                    }
                    return Ok(());
                }
                Err(ServiceError::Conflict) => last = ServiceError::Conflict,
                Err(e) => return Err(e),
            }
        }
        Err(last)
    }

    /// After a licence's record was written (marked as having statuses to publish): its statuses published and
    /// the mark cleared, or the failure logged. The record is the truth and was written; its mark keeps it in
    /// the `STATUS#` partitions, and the status list job publishes it within its next runs.
    pub(crate) async fn publish_statuses_after_write(&self, serial: &str) {
        if let Err(e) = self.publish_statuses(serial).await {
            tracing::warn!(serial = %serial, error = %e, "status list entry not updated yet; the job will publish it");
        }
    }

    /// The job's first step: every licence marked more than a grace period ago (its writer's own publication
    /// failed, or has not finished) is published again from its record as it is now, at most `MARKS_PER_RUN`
    /// a run, oldest first in each shard. Answers how many were published and how many failed again.
    async fn publish_marked(&self, now: DateTime<Utc>) -> Result<(u32, u32), ServiceError> {
        let before = now - chrono::Duration::seconds(MARK_GRACE_SECONDS);
        let (mut published, mut failed) = (0u32, 0u32);
        let mut left = MARKS_PER_RUN;
        for shard in 0..STATUS_MARK_SHARDS {
            if left == 0 {
                break;
            }
            let serials = self.records.marked_for_publication(shard, before, left).await?;
            left = left.saturating_sub(serials.len());
            for serial in serials {
                match self.publish_statuses(&serial).await {
                    Ok(()) => published += 1,
                    // Left marked for the next run; the others are still published.
                    Err(e) => {
                        failed += 1;
                        tracing::error!(serial = %serial, error = %e, "a marked licence's statuses could not be published");
                    }
                }
            }
        }
        Ok((published, failed))
    }

    fn statuses_of(&self, edl: &ElectronicLicence) -> Vec<(StatusEntry, u8)> {
        let now = self.now();
        let replaced = if self.status_lists.replaced_documents_invalid {
            status_list::INVALID
        } else {
            edl.published_status()
        };
        let mut statuses: Vec<(StatusEntry, u8)> = edl
            .retired_entries
            .iter()
            .filter(|retired| retired.until >= now)
            .map(|retired| (retired.entry(), replaced))
            .collect();
        if let Some(entry) = edl.status_entry {
            statuses.push((entry, edl.published_status()));
        }
        statuses
    }

    /// The stored token of list `id` (`GET /status-lists/{id}`): no signing, no shard read. An id that
    /// names no configured list is 404; a list not yet published (before the job's first run) 503.
    pub async fn status_list_token(&self, id: &str) -> Result<ServedList, ServiceError> {
        let not_found = || ServiceError::NotFound {
            what: "status list",
            id: id.chars().take(40).collect(),
        };
        let list = self.status_lists.list_named(id).ok_or_else(not_found)?;
        let published = self.records.published_list(list).await?.ok_or_else(|| {
            ServiceError::Unavailable(format!(
                "status list {list} is not published yet; retry in a few minutes"
            ))
        })?;
        Ok(ServedList {
            token: published.token,
            max_age: self.status_lists.ttl_seconds,
        })
    }
}

impl Signing {
    /// The publication job: first the marked licences' statuses (see `publish_marked`), then every list whose shards changed since its token was built, or whose token ends
    /// within the policy's margin, is built from its shards and signed again by a document signer; the
    /// others keep their token. A signer failure stops the run and leaves every token as it was.
    pub async fn run_status_lists(&self) -> Result<StatusListReport, ServiceError> {
        let now = self.now();
        let (reconciled, reconcile_failed) = self.publish_marked(now).await?;
        let policy = &self.status_lists;
        let mut report = StatusListReport {
            at: now,
            reconciled,
            reconcile_failed,
            lists: policy.lists,
            published: 0,
            signs: 0,
            budget_reached: false,
            signer_unavailable: None,
        };
        let day = budget_day(now);
        let part = self.signing_budget.status_list_part(policy.lists);
        for list in 0..policy.lists {
            let shards = self.records.status_shards(list).await?;
            let mut versions = vec![0u64; policy.shards() as usize];
            let mut packed = vec![0u8; shard_bytes() * versions.len()];
            for (shard, stored) in &shards {
                let Some(version) = versions.get_mut(*shard as usize) else {
                    continue;
                };
                *version = stored.version;
                let start = *shard as usize * shard_bytes();
                let len = stored.packed.len().min(shard_bytes());
                packed[start..start + len].copy_from_slice(&stored.packed[..len]);
            }
            let published = self.records.published_list(list).await?;
            let fresh = published
                .as_ref()
                .is_some_and(|p| p.shard_versions == versions && p.expires_at - policy.resign_before > now);
            if fresh {
                continue;
            }
            // Taken before signing: the day's part is the most every list can need, every run.
            if !self.records.take_signs(day, SignCounter::StatusLists, 1, part).await? {
                report.budget_reached = true;
                break;
            }
            match self.sign_list(list, packed, versions, now).await {
                Ok(published) => {
                    report.signs += 1;
                    self.records.publish_list(&published).await?;
                    report.published += 1;
                }
                Err(ServiceError::Unavailable(why)) => {
                    report.signs += 1;
                    report.signer_unavailable = Some(why);
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        match &report.signer_unavailable {
            Some(why) => tracing::error!(published = report.published, error = %why, "status list publication stopped"),
            None => tracing::info!(
                published = report.published,
                lists = report.lists,
                "status lists published"
            ),
        }
        Ok(report)
    }

    async fn sign_list(
        &self,
        list: u32,
        packed: Vec<u8>,
        versions: Vec<u64>,
        now: DateTime<Utc>,
    ) -> Result<PublishedList, ServiceError> {
        let policy = &self.status_lists;
        let expires_at = now + policy.token_life;
        let active = self.signer_for(expires_at).await?;
        let token = StatusListToken {
            uri: policy.uri(list),
            issued_at: now.timestamp(),
            expires_at: expires_at.timestamp(),
            ttl: policy.ttl_seconds,
            list: StatusList::from_packed(STATUS_BITS, packed)
                .map_err(|e| ServiceError::Unavailable(format!("status list {list}: {e}")))?,
        };
        let bytes = status_list::encode(&token, &*self.signer, &active.key_id, active.kid.as_bytes())
            .await
            .map_err(|e| ServiceError::Unavailable(format!("status list {list} could not be signed: {e}")))?;
        Ok(PublishedList {
            list,
            token: bytes,
            issued_at: now,
            expires_at,
            shard_versions: versions,
        })
    }
}

impl Services {
    /// The status an entry holds in the shards now (what the next token will say).
    pub async fn stored_status(&self, entry: StatusEntry) -> Result<u8, ServiceError> {
        let (shard, offset) = shard_of(entry.idx);
        let packed = match self.records.status_shard(entry.list, shard).await? {
            Some(stored) => stored.packed,
            None => return Ok(VALID),
        };
        let list = StatusList::from_packed(STATUS_BITS, packed)
            .map_err(|e| ServiceError::Unavailable(format!("status shard unreadable: {e}")))?;
        list.get(offset)
            .map_err(|e| ServiceError::Unavailable(format!("status shard unreadable: {e}")))
    }
}

fn guard_of(edl: &ElectronicLicence) -> LicenceVersion {
    LicenceVersion {
        serial: edl.serial.clone(),
        version: edl.version,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_set_in_its_bits_only() {
        let mut packed = vec![0u8; 4];
        assert!(set_in(&mut packed, 5, 2));
        assert_eq!(packed, [0, 0b0000_1000, 0, 0]);
        assert!(!set_in(&mut packed, 5, 2), "unchanged");
        assert!(set_in(&mut packed, 4, 1));
        assert_eq!(packed[1], 0b0000_1001);
        assert!(set_in(&mut packed, 5, 0));
        assert_eq!(packed[1], 0b0000_0001);
        assert!(!set_in(&mut packed, 99, 1), "beyond the shard");
    }
}
