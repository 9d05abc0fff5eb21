//! The enumeration signal: per verifier organisation, its verifications and its misses (a serial that names no
//! licence, a wrong check character, a signature that does not verify), as CloudWatch Embedded Metric Format.
//!
//! Each attempt is one EMF object: namespace [`NAMESPACE`], dimension `Organisation`, metrics `Verifications`
//! and `Misses` (0 or 1); a miss also carries, without dimensions, [`WINDOW_MISSES`]: the organisation's misses
//! so far in the current quota window, estimated from its sharded counters (the shard's count times the
//! shards), so that a plain metric alarm on its maximum fires for whichever organisation walks serials. No
//! serial, holder or verifier subject goes into it: only the organisation.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub const NAMESPACE: &str = "EDL/Verification";
pub const DIMENSION: &str = "Organisation";
pub const MISSES: &str = "Misses";
pub const VERIFICATIONS: &str = "Verifications";
/// The misses of the organisation with this attempt's, in the current quota window (see the module's header).
pub const WINDOW_MISSES: &str = "OrganisationWindowMisses";
/// The dimension value of a verifier whose token names no organisation.
pub const NO_ORGANISATION: &str = "(none)";

/// The reasons that mean the presented thing named nothing real: what guessing or walking serials produces,
/// as opposed to a real licence that is expired, superseded or stopped.
pub const MISS_REASONS: [&str; 13] = [
    "unknown-licence",
    "unknown-pass",
    "bad-check-character",
    "bad-signature",
    "unknown-kid",
    "untrusted-certificate",
    "digest-mismatch",
    "bad-device-signature",
    "doc-type-mismatch",
    "unknown-nonce",
    "bad-base45",
    "bad-prefix",
    // A bare serial from a verifier who may not look serials up (refused before any lookup).
    "barcode-not-allowed",
];

pub fn is_miss(reason: Option<&str>) -> bool {
    reason.is_some_and(|r| MISS_REASONS.contains(&r))
}

/// One attempt as an EMF object (one log line).
pub fn emf(organisation: &str, miss: bool, window_misses: Option<u64>, at: DateTime<Utc>) -> Value {
    let mut directives = vec![json!({
        "Namespace": NAMESPACE,
        "Dimensions": [[DIMENSION]],
        "Metrics": [
            { "Name": VERIFICATIONS, "Unit": "Count" },
            { "Name": MISSES, "Unit": "Count" },
        ],
    })];
    let mut object = json!({
        DIMENSION: organisation,
        VERIFICATIONS: 1,
        MISSES: u8::from(miss),
    });
    if let Some(misses) = window_misses {
        directives.push(json!({
            "Namespace": NAMESPACE,
            "Dimensions": [[]],
            "Metrics": [{ "Name": WINDOW_MISSES, "Unit": "Count" }],
        }));
        object[WINDOW_MISSES] = json!(misses);
    }
    object["_aws"] = json!({
        "Timestamp": at.timestamp_millis(),
        "CloudWatchMetrics": directives,
    });
    object
}

/// The largest [`WINDOW_MISSES`] over EMF lines, as the alarm's `Maximum` statistic reads it.
pub fn peak_window_misses(lines: &[String]) -> Option<f64> {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|v| v[WINDOW_MISSES].as_f64())
        .reduce(f64::max)
}

/// The sum of `metric` over EMF lines for `organisation`, as CloudWatch would aggregate them.
pub fn sum(lines: &[String], metric: &str, organisation: &str) -> f64 {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|v| v[DIMENSION] == organisation && v["_aws"]["CloudWatchMetrics"][0]["Namespace"] == NAMESPACE)
        .filter_map(|v| v[metric].as_f64())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_attempt_is_one_emf_object_with_the_organisation_only() {
        let at = DateTime::from_timestamp(1_795_572_985, 0).unwrap_or_default();
        let line = emf("神州租车", true, Some(3), at).to_string();
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["_aws"]["Timestamp"], 1_795_572_985_000i64);
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Organisation"]])
        );
        assert_eq!(sum(&[line.clone(), line.clone()], MISSES, "神州租车"), 2.0);
        assert_eq!(value["_aws"]["CloudWatchMetrics"][1]["Dimensions"], json!([[]]));
        assert_eq!(peak_window_misses(std::slice::from_ref(&line)), Some(3.0));
        let hit = emf("神州租车", false, None, at).to_string();
        assert_eq!(peak_window_misses(std::slice::from_ref(&hit)), None);
        assert_eq!(sum(std::slice::from_ref(&hit), MISSES, "神州租车"), 0.0);
        assert_eq!(sum(&[hit], VERIFICATIONS, "other"), 0.0);
        assert!(is_miss(Some("unknown-licence")) && !is_miss(Some("expired")) && !is_miss(None));
    }
}
