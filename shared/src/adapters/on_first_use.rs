//! An AWS SDK client built when a request first needs it, so that a cold start builds only the clients every request uses.
//!
//! Building a client resolves its service's endpoint rules: each SDK crate parses its own copy of the partition
//! table and compiles its patterns, about 0.2 ms of a cold start per client (`edl-coldstart`, `perf`). DynamoDB,
//! which every request reads, is built at init; S3, EventBridge, KMS, Lambda, Rekognition and CloudWatch, which only
//! some requests use, wait for the first request that does.

use std::sync::{Arc, OnceLock};

/// A client of type `C`, built at most once, by the first caller of [`OnFirstUse::get`]; clones share it.
pub struct OnFirstUse<C> {
    inner: Arc<Inner<C>>,
}

struct Inner<C> {
    client: OnceLock<C>,
    build: Box<dyn Fn() -> C + Send + Sync>,
}

impl<C> OnFirstUse<C> {
    /// A client that `build` makes at its first use.
    pub fn new(build: impl Fn() -> C + Send + Sync + 'static) -> Self {
        OnFirstUse {
            inner: Arc::new(Inner {
                client: OnceLock::new(),
                build: Box::new(build),
            }),
        }
    }

    /// A client already built (a test's own client, configured for an emulator).
    pub fn built(client: C) -> Self
    where
        C: Clone + Send + Sync + 'static,
    {
        let given = Self::new(move || client.clone());
        given.get();
        given
    }

    /// The client, built now if no request has needed it before.
    pub fn get(&self) -> &C {
        self.inner.client.get_or_init(|| (self.inner.build)())
    }

    /// Whether a request has needed the client yet (what the tests observe; nothing in production asks).
    #[cfg(test)]
    fn is_built(&self) -> bool {
        self.inner.client.get().is_some()
    }
}

impl<C> Clone for OnFirstUse<C> {
    fn clone(&self) -> Self {
        OnFirstUse {
            inner: Arc::clone(&self.inner),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[test]
    fn a_client_is_built_at_its_first_use_once_and_shared_by_clones() {
        let builds = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&builds);
        let client = OnFirstUse::new(move || counted.fetch_add(1, Ordering::SeqCst) + 100);
        let clone = client.clone();
        assert_eq!(
            builds.load(Ordering::SeqCst),
            0,
            "nothing is built before a request needs it"
        );
        assert!(!client.is_built());
        assert_eq!(*clone.get(), 100);
        assert_eq!(*client.get(), 100, "the clone's first use built it for both");
        assert_eq!(builds.load(Ordering::SeqCst), 1);
        assert!(client.is_built());
    }

    #[test]
    fn a_client_given_built_is_used_as_it_is() {
        let client = OnFirstUse::built(7_u32);
        assert!(client.is_built());
        assert_eq!(*client.get(), 7);
    }
}
