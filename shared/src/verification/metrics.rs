//! The enumeration signal: per verifier organisation, its verifications and its misses (a serial that names no
//! licence, a wrong check character, a signature that does not verify), as CloudWatch Embedded Metric Format.
//!
//! Each attempt is one EMF object: namespace [`NAMESPACE`], dimension `Organisation`, metrics `Verifications`
//! and `Misses` (0 or 1). No serial, holder or verifier subject goes into it: only the organisation.

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

pub const NAMESPACE: &str = "EDL/Verification";
pub const DIMENSION: &str = "Organisation";
pub const MISSES: &str = "Misses";
pub const VERIFICATIONS: &str = "Verifications";
/// The dimension value of a verifier whose token names no organisation.
pub const NO_ORGANISATION: &str = "(none)";

/// The reasons that mean the presented thing named nothing real: what guessing or walking serials produces,
/// as opposed to a real licence that is expired, superseded or stopped.
pub const MISS_REASONS: [&str; 12] = [
    "unknown-licence",
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
pub fn emf(organisation: &str, miss: bool, at: DateTime<Utc>) -> Value {
    json!({
        "_aws": {
            "Timestamp": at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [[DIMENSION]],
                "Metrics": [
                    { "Name": VERIFICATIONS, "Unit": "Count" },
                    { "Name": MISSES, "Unit": "Count" },
                ],
            }],
        },
        DIMENSION: organisation,
        VERIFICATIONS: 1,
        MISSES: u8::from(miss),
    })
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
        let line = emf("神州租车", true, at).to_string();
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["_aws"]["Timestamp"], 1_795_572_985_000i64);
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Organisation"]])
        );
        assert_eq!(sum(&[line.clone(), line], MISSES, "神州租车"), 2.0);
        let hit = emf("神州租车", false, at).to_string();
        assert_eq!(sum(std::slice::from_ref(&hit), MISSES, "神州租车"), 0.0);
        assert_eq!(sum(&[hit], VERIFICATIONS, "other"), 0.0);
        assert!(is_miss(Some("unknown-licence")) && !is_miss(Some("expired")) && !is_miss(None));
    }
}
