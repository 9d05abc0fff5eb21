//! The metrics port in AWS: CloudWatch Embedded Metric Format objects on standard output, one a line, which
//! Lambda sends to the function's log group and CloudWatch turns into metrics (no PutMetricData call, no IAM):
//! the verification metrics, and the outbox sweep's.

use crate::service::sweep::SweepReport;
use crate::verification::metrics::emf_line;
use crate::verification::ports::MetricSink;
use chrono::{DateTime, Utc};
use std::io::Write;

pub struct EmfStdout;

impl MetricSink for EmfStdout {
    fn verification(&self, organisation: &str, miss: bool, window_misses: Option<u64>, at: DateTime<Utc>) {
        let line = emf_line(organisation, miss, window_misses, at);
        // A metric lost to a closed stdout is not worth failing the verification for.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// The outbox sweep's namespace: what the sweep re-drove and what failed (the `SweepFailuresAlarm` watches it).
pub const SWEEP_NAMESPACE: &str = "EDL/Outbox";
/// Approvals not re-driven and notices not delivered by one sweep (each waits for the next sweep).
pub const SWEEP_FAILURES: &str = "SweepFailures";
/// Approvals the sweep handed to issuance again.
pub const APPROVALS_REDRIVEN: &str = "ApprovalsRedriven";
/// Notices the sweep delivered again.
pub const NOTICES_REDELIVERED: &str = "NoticesRedelivered";

/// One sweep as an EMF object: its failures and what it re-drove, without dimensions (no id of anyone in it).
pub fn sweep_emf(report: &SweepReport) -> serde_json::Value {
    serde_json::json!({
        SWEEP_FAILURES: report.failures(),
        APPROVALS_REDRIVEN: report.redriven,
        NOTICES_REDELIVERED: report.notices_delivered,
        "_aws": {
            "Timestamp": report.at.timestamp_millis(),
            "CloudWatchMetrics": [{
                "Namespace": SWEEP_NAMESPACE,
                "Dimensions": [[]],
                "Metrics": [
                    { "Name": SWEEP_FAILURES, "Unit": "Count" },
                    { "Name": APPROVALS_REDRIVEN, "Unit": "Count" },
                    { "Name": NOTICES_REDELIVERED, "Unit": "Count" },
                ],
            }],
        },
    })
}

impl EmfStdout {
    /// Publishes one sweep's counts (a line on standard output, which Lambda sends to CloudWatch).
    pub fn sweep(&self, report: &SweepReport) {
        let _ = writeln!(std::io::stdout().lock(), "{}", sweep_emf(report));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_sweep_line_counts_its_failures_in_the_alarmed_metric() {
        let at = Utc::now();
        let report = SweepReport {
            at,
            approved_before: at,
            read: 3,
            redriven: 1,
            already_done: 0,
            failed: 2,
            notices_read: 4,
            notices_delivered: 1,
            notices_failed: 3,
            complete: true,
        };
        let line = sweep_emf(&report);
        assert_eq!(line[SWEEP_FAILURES], 5);
        assert_eq!(line[APPROVALS_REDRIVEN], 1);
        assert_eq!(line[NOTICES_REDELIVERED], 1);
        let directive = &line["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(directive["Namespace"], SWEEP_NAMESPACE);
        assert_eq!(directive["Metrics"][0]["Name"], SWEEP_FAILURES);
        assert_eq!(line["_aws"]["Timestamp"], at.timestamp_millis());
    }
}
