//! The enumeration signal: per verifier organisation, its verifications and its misses (a serial that names no
//! licence, a wrong check character, a signature that does not verify), as CloudWatch Embedded Metric Format.
//!
//! Each attempt is one EMF object: namespace [`NAMESPACE`], dimension `Organisation`, metrics `Verifications`
//! and `Misses` (0 or 1); a miss also carries, without dimensions, [`WINDOW_MISSES`]: the organisation's misses
//! so far in the current quota window, estimated from its sharded counters (the shard's count times the
//! shards), so that a plain metric alarm on its maximum fires for whichever organisation walks serials. No
//! serial, holder or verifier subject goes into it: only the organisation.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;

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

/// One attempt as its EMF log line: written straight from borrowed fields (every verification writes one, so it
/// builds no JSON tree first).
pub fn emf_line(organisation: &str, miss: bool, window_misses: Option<u64>, at: DateTime<Utc>) -> String {
    serde_json::to_string(&Attempt::new(organisation, miss, window_misses, at)).unwrap_or_default()
}

/// An EMF metric declaration.
#[derive(Serialize)]
struct MetricDeclaration {
    #[serde(rename = "Name")]
    name: &'static str,
    #[serde(rename = "Unit")]
    unit: &'static str,
}

/// An EMF directive: which of the object's members are metrics, under which dimensions.
#[derive(Serialize)]
struct Directive {
    #[serde(rename = "Namespace")]
    namespace: &'static str,
    #[serde(rename = "Dimensions")]
    dimensions: &'static [&'static [&'static str]],
    #[serde(rename = "Metrics")]
    metrics: &'static [MetricDeclaration],
}

const COUNT: &str = "Count";
/// The attempt's metrics under its organisation, then the window's misses without dimensions (a miss only).
static DIRECTIVES: [Directive; 2] = [
    Directive {
        namespace: NAMESPACE,
        dimensions: &[&[DIMENSION]],
        metrics: &[
            MetricDeclaration {
                name: VERIFICATIONS,
                unit: COUNT,
            },
            MetricDeclaration {
                name: MISSES,
                unit: COUNT,
            },
        ],
    },
    Directive {
        namespace: NAMESPACE,
        dimensions: &[&[]],
        metrics: &[MetricDeclaration {
            name: WINDOW_MISSES,
            unit: COUNT,
        }],
    },
];

/// The `_aws` member.
#[derive(Serialize)]
struct Metadata {
    #[serde(rename = "Timestamp")]
    timestamp: i64,
    #[serde(rename = "CloudWatchMetrics")]
    cloud_watch_metrics: &'static [Directive],
}

/// One attempt's EMF object; the member names are [`DIMENSION`], [`VERIFICATIONS`], [`MISSES`] and
/// [`WINDOW_MISSES`] (the test compares it with an object built from those constants).
#[derive(Serialize)]
struct Attempt<'a> {
    #[serde(rename = "Organisation")]
    organisation: &'a str,
    #[serde(rename = "Verifications")]
    verifications: u8,
    #[serde(rename = "Misses")]
    misses: u8,
    #[serde(rename = "OrganisationWindowMisses", skip_serializing_if = "Option::is_none")]
    window_misses: Option<u64>,
    #[serde(rename = "_aws")]
    aws: Metadata,
}

impl<'a> Attempt<'a> {
    fn new(organisation: &'a str, miss: bool, window_misses: Option<u64>, at: DateTime<Utc>) -> Self {
        let directives = if window_misses.is_some() {
            &DIRECTIVES[..]
        } else {
            &DIRECTIVES[..1]
        };
        Attempt {
            organisation,
            verifications: 1,
            misses: u8::from(miss),
            window_misses,
            aws: Metadata {
                timestamp: at.timestamp_millis(),
                cloud_watch_metrics: directives,
            },
        }
    }
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
    use serde_json::json;

    /// The object as it was first written, from the constants: the typed one must be the same JSON.
    fn oracle(organisation: &str, miss: bool, window_misses: Option<u64>, at: DateTime<Utc>) -> Value {
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

    #[test]
    fn the_line_is_the_object_built_from_the_constants() {
        let at = DateTime::from_timestamp(1_795_572_985, 123_000_000).unwrap_or_default();
        for (miss, window) in [(false, None), (true, None), (true, Some(7)), (false, Some(0))] {
            let line: Value = serde_json::from_str(&emf_line("神州\"租车", miss, window, at)).unwrap();
            assert_eq!(line, oracle("神州\"租车", miss, window, at));
        }
    }

    #[test]
    fn an_attempt_is_one_emf_object_with_the_organisation_only() {
        let at = DateTime::from_timestamp(1_795_572_985, 0).unwrap_or_default();
        let line = emf_line("神州租车", true, Some(3), at);
        let value: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(value["_aws"]["Timestamp"], 1_795_572_985_000i64);
        assert_eq!(
            value["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([["Organisation"]])
        );
        assert_eq!(sum(&[line.clone(), line.clone()], MISSES, "神州租车"), 2.0);
        assert_eq!(value["_aws"]["CloudWatchMetrics"][1]["Dimensions"], json!([[]]));
        assert_eq!(peak_window_misses(std::slice::from_ref(&line)), Some(3.0));
        let hit = emf_line("神州租车", false, None, at);
        assert_eq!(peak_window_misses(std::slice::from_ref(&hit)), None);
        assert_eq!(sum(std::slice::from_ref(&hit), MISSES, "神州租车"), 0.0);
        assert_eq!(sum(&[hit], VERIFICATIONS, "other"), 0.0);
        assert!(is_miss(Some("unknown-licence")) && !is_miss(Some("expired")) && !is_miss(None));
    }
}
