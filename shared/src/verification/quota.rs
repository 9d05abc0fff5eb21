//! Per-organisation verification quotas (requests per window), as configuration, and how one organisation's
//! count is spread over shards so that a busy organisation is not one hot key.
//!
//! An organisation's quota `Q` for a window is split over `shards` counters: shard `i` admits
//! `Q / shards` requests, plus one for the first `Q % shards` shards, so the shards together admit
//! exactly `Q`. A request starts at a random shard and moves on to the next only when that one is full;
//! it is refused (429) when every shard is.

use serde::Deserialize;
use std::collections::BTreeMap;

/// Who may verify how often.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quotas {
    /// The window's length; windows start at multiples of it since the Unix epoch.
    pub window_seconds: i64,
    /// Requests per window of an organisation not named below.
    pub default_requests: u64,
    /// Requests per window of the named organisations (the `org` claim of their verifiers' tokens).
    #[serde(default)]
    pub organisations: BTreeMap<String, u64>,
    /// Counters per organisation and window.
    pub shards: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("the quota configuration is not valid JSON: {0}")]
    Json(String),
    #[error("the quota configuration is not usable: {0}")]
    Unusable(&'static str),
}

impl Quotas {
    /// The shipped quotas: 20,000 verifications an hour per organisation over 8 shards.
    pub fn shipped() -> Quotas {
        Quotas {
            window_seconds: 3600,
            default_requests: 20_000,
            organisations: BTreeMap::new(),
            shards: 8,
        }
    }

    pub fn from_json(text: &str) -> Result<Quotas, QuotaError> {
        let quotas: Quotas = serde_json::from_str(text).map_err(|e| QuotaError::Json(e.to_string()))?;
        if quotas.window_seconds < 1 {
            return Err(QuotaError::Unusable("windowSeconds must be at least 1"));
        }
        if !(1..=64).contains(&quotas.shards) {
            return Err(QuotaError::Unusable("shards must be 1 to 64"));
        }
        Ok(quotas)
    }

    /// The organisation's requests per window.
    pub fn requests_of(&self, organisation: &str) -> u64 {
        self.organisations
            .get(organisation)
            .copied()
            .unwrap_or(self.default_requests)
    }

    /// The start and end (Unix seconds) of the window holding `now`.
    pub fn window(&self, now: i64) -> (i64, i64) {
        let length = self.window_seconds.max(1);
        let start = now - now.rem_euclid(length);
        (start, start + length)
    }

    /// How many requests shard `shard` admits of an organisation's `requests`.
    pub fn shard_limit(&self, requests: u64, shard: u32) -> u64 {
        let shards = u64::from(self.shards.max(1));
        requests / shards + u64::from(u64::from(shard) < requests % shards)
    }
}

impl Default for Quotas {
    fn default() -> Self {
        Quotas::shipped()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shards_admit_exactly_the_quota() {
        let quotas = Quotas::shipped();
        for requests in [0, 1, 7, 8, 9, 20_000, 20_003] {
            let total: u64 = (0..quotas.shards).map(|s| quotas.shard_limit(requests, s)).sum();
            assert_eq!(total, requests);
        }
        assert_eq!(quotas.window(7_199), (3_600, 7_200));
        assert_eq!(quotas.window(7_200), (7_200, 10_800));
    }

    #[test]
    fn configuration_names_organisations_and_is_checked() {
        let quotas = Quotas::from_json(
            r#"{"windowSeconds":60,"defaultRequests":5,"organisations":{"某市公安局":100},"shards":4}"#,
        )
        .unwrap();
        assert_eq!(
            (quotas.requests_of("某市公安局"), quotas.requests_of("神州租车")),
            (100, 5)
        );
        assert!(Quotas::from_json(r#"{"windowSeconds":0,"defaultRequests":5,"shards":4}"#).is_err());
        assert!(Quotas::from_json(r#"{"windowSeconds":60,"defaultRequests":5,"shards":0}"#).is_err());
        assert!(Quotas::from_json(r#"{"windowSeconds":60,"defaultRequests":5,"shards":4,"x":1}"#).is_err());
    }
}
