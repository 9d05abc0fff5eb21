//! Per-instance caches of what changes rarely (the rollout plan, the truck rules, the trust material): one
//! mechanism, so that each is read from the records at most once per staleness period per function instance,
//! judged by the injected clock, and a write through the same instance is seen by it at once.

use chrono::{DateTime, Duration, Utc};
use std::future::Future;
use std::sync::{Arc, Mutex};

/// How long a cached value is used before it is read again, unless configured (`EDL_CACHE_SECONDS`): a change
/// made through another function instance is seen everywhere within this time.
pub const DEFAULT_STALENESS_SECONDS: i64 = 60;

/// The longest staleness a deployment may configure: the public reads' `Cache-Control: max-age` follows it, and a
/// revoked signer or a city switched off must not stay trusted or open for long.
pub const MAX_STALENESS_SECONDS: i64 = 900;

/// How long values are kept, shared by every cache of an instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Staleness(Duration);

/// A staleness outside `0..=MAX_STALENESS_SECONDS` seconds.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a cache staleness is a whole number of seconds from 0 (no caching) to {MAX_STALENESS_SECONDS}")]
pub struct InvalidStaleness;

impl Staleness {
    pub fn seconds(seconds: i64) -> Result<Staleness, InvalidStaleness> {
        if (0..=MAX_STALENESS_SECONDS).contains(&seconds) {
            Ok(Staleness(Duration::seconds(seconds)))
        } else {
            Err(InvalidStaleness)
        }
    }

    /// `"60"` as the configuration states it.
    pub fn parse(text: &str) -> Result<Staleness, InvalidStaleness> {
        text.trim()
            .parse::<i64>()
            .map_err(|_| InvalidStaleness)
            .and_then(Staleness::seconds)
    }

    pub fn as_seconds(&self) -> i64 {
        self.0.num_seconds()
    }
}

impl Default for Staleness {
    fn default() -> Self {
        Staleness(Duration::seconds(DEFAULT_STALENESS_SECONDS))
    }
}

/// One value read from the records, with the instant it was read.
pub struct Cached<T> {
    slot: Mutex<Option<(DateTime<Utc>, Arc<T>)>>,
}

impl<T> Default for Cached<T> {
    fn default() -> Self {
        Cached { slot: Mutex::new(None) }
    }
}

impl<T> Cached<T> {
    /// The value if it was read less than `staleness` before `now`. One read "after" `now` (the clock moved back)
    /// is not trusted: it is read again.
    pub fn fresh(&self, now: DateTime<Utc>, staleness: Staleness) -> Option<Arc<T>> {
        let slot = self.slot.lock().ok()?;
        let (read_at, value) = slot.as_ref()?;
        (now >= *read_at && now - *read_at < staleness.0).then(|| value.clone())
    }

    /// Keeps `value`, read at `now`.
    pub fn keep(&self, now: DateTime<Utc>, value: T) -> Arc<T> {
        let value = Arc::new(value);
        if let Ok(mut slot) = self.slot.lock() {
            *slot = Some((now, value.clone()));
        }
        value
    }

    /// Forgets the value (after a write through this instance), so that the next read sees the write.
    pub fn forget(&self) {
        if let Ok(mut slot) = self.slot.lock() {
            *slot = None;
        }
    }

    /// The fresh value, or the one `read` returns (kept from `now`). The lock is never held across the read: a
    /// Lambda instance serves one request at a time, and two reads racing in a local server both keep a value.
    pub async fn get_or_read<E, F, Fut>(&self, now: DateTime<Utc>, staleness: Staleness, read: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(value) = self.fresh(now, staleness) {
            return Ok(value);
        }
        let value = read().await?;
        Ok(self.keep(now, value))
    }

    /// Reads again whatever is cached, and keeps it (what a write decides on must be current).
    pub async fn read_again<E, F, Fut>(&self, now: DateTime<Utc>, read: F) -> Result<Arc<T>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let value = read().await?;
        Ok(self.keep(now, value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_800_000_000 + seconds, 0).unwrap_or_default()
    }

    #[tokio::test]
    async fn a_value_is_read_once_per_staleness_period() {
        let cache = Cached::<u32>::default();
        let staleness = Staleness::seconds(60).expect("staleness");
        let reads = std::sync::atomic::AtomicU32::new(0);
        let read = || async { Ok::<_, ()>(reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1) };
        assert_eq!(*cache.get_or_read(at(0), staleness, read).await.expect("read"), 1);
        assert_eq!(*cache.get_or_read(at(59), staleness, read).await.expect("cached"), 1);
        assert_eq!(*cache.get_or_read(at(60), staleness, read).await.expect("stale"), 2);
        // A clock moved back reads again rather than trusting a value from its future.
        assert_eq!(*cache.get_or_read(at(10), staleness, read).await.expect("back"), 3);
        cache.forget();
        assert_eq!(*cache.get_or_read(at(11), staleness, read).await.expect("forgotten"), 4);
    }

    #[tokio::test]
    async fn no_staleness_reads_every_time_and_a_failed_read_keeps_nothing() {
        let cache = Cached::<u32>::default();
        let none = Staleness::seconds(0).expect("zero");
        assert_eq!(
            *cache
                .get_or_read(at(0), none, || async { Ok::<_, ()>(1) })
                .await
                .expect("read"),
            1
        );
        assert_eq!(
            *cache
                .get_or_read(at(0), none, || async { Ok::<_, ()>(2) })
                .await
                .expect("read"),
            2
        );
        let staleness = Staleness::default();
        cache.forget();
        assert!(cache
            .get_or_read(at(0), staleness, || async { Err::<u32, _>(()) })
            .await
            .is_err());
        assert!(cache.fresh(at(0), staleness).is_none());
    }

    #[test]
    fn the_staleness_is_bounded() {
        assert_eq!(Staleness::parse("60").map(|s| s.as_seconds()), Ok(60));
        assert_eq!(Staleness::parse("901"), Err(InvalidStaleness));
        assert_eq!(Staleness::parse("-1"), Err(InvalidStaleness));
        assert_eq!(Staleness::parse("soon"), Err(InvalidStaleness));
        assert_eq!(Staleness::default().as_seconds(), DEFAULT_STALENESS_SECONDS);
    }
}
