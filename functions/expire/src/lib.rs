//! The expire function: on each EventBridge schedule, one resumable run of the expiry job; on the five-minute
//! schedule (input `{"job":"sweep"}`), the issuance sweep, then the large imports' chunks until the run's time is
//! up; on an import file's upload (S3 `ObjectCreated` under `imports/`), that import's chunks.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use aws_lambda_events::event::s3::S3Event;
use serde::Deserialize;
use shared::service::expiry::{ExpiryOptions, ExpiryReport};
use shared::service::imports::ImportRunReport;
use shared::service::sweep::SweepReport;
use shared::service::{ServiceError, Services};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long before the Lambda deadline the run stops asking for work: a page
/// under way (at most `expiry::DEFAULT_PAGE` records) finishes well inside it.
pub const STOP_MARGIN: Duration = Duration::from_secs(20);

/// How long one invocation imports chunks: under the sweep's five-minute period, so that two sweeps never work
/// on one job together (an upload's run and a sweep may; the chunk commits keep that safe, only wasteful).
pub const IMPORT_BUDGET: Duration = Duration::from_secs(240);

/// When an invocation stops importing: at its budget, or before the Lambda deadline if that comes first.
pub fn import_stop(deadline_ms: u64, now: SystemTime) -> Instant {
    stop_at(deadline_ms, now).min(Instant::now() + IMPORT_BUDGET)
}

#[derive(Debug, thiserror::Error)]
pub enum ExpireError {
    /// A dependency failed (DynamoDB): Lambda retries the event, then sends it
    /// to the dead-letter queue; what was done stays done.
    #[error("the expiry run failed: {0}")]
    Failed(#[from] ServiceError),
}

/// When to stop, from the invocation's deadline (milliseconds since the
/// epoch, as the Lambda runtime reports it), leaving `STOP_MARGIN`.
pub fn stop_at(deadline_ms: u64, now: SystemTime) -> Instant {
    let now_ms = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let remaining = Duration::from_millis(u64::try_from(u128::from(deadline_ms).saturating_sub(now_ms)).unwrap_or(0));
    Instant::now() + remaining.saturating_sub(STOP_MARGIN)
}

/// What a schedule asks for: the sweep's rule passes a constant input; the expiry rules pass their event.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum Trigger {
    Job { job: Job },
    Upload(Box<S3Event>),
    Schedule(Box<CloudWatchEvent<serde_json::Value>>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Job {
    Sweep,
}

/// Re-drives approvals still not issued (`shared::service::sweep`). A failure to read the outbox is
/// an error (Lambda retries; the next sweep runs five minutes on in any case).
pub async fn sweep(services: &Services) -> Result<SweepReport, ExpireError> {
    Ok(services.sweep_approvals().await?)
}

/// The import jobs with work left, until `stop` (after the sweep, on its five-minute schedule): a job whose
/// run ended early (a crash, the time limit) goes on from its last committed chunk, and one whose upload event
/// was lost starts.
pub async fn imports(services: &Services, stop: Option<Instant>) -> Result<ImportRunReport, ExpireError> {
    Ok(services.run_imports(stop).await?)
}

/// An import file arrived: its job runs until `stop`; what is left, the next sweep continues.
pub async fn upload(
    services: &Services,
    event: S3Event,
    stop: Option<Instant>,
) -> Result<ImportRunReport, ExpireError> {
    let mut report = ImportRunReport::default();
    for record in event.records {
        if !record
            .event_name
            .as_deref()
            .is_some_and(|n| n.starts_with("ObjectCreated"))
        {
            continue;
        }
        let Some(key) = record.s3.object.key.as_deref() else {
            continue;
        };
        let run = services.import_file_arrived(key, stop).await?;
        report.jobs += run.jobs;
        report.chunks += run.chunks;
        report.finished.extend(run.finished);
        report.more |= run.more;
    }
    Ok(report)
}

/// Runs the job once. The event only says that the schedule fired: the
/// job's own clock decides what is due, so a late or repeated event is harmless.
pub async fn handle(
    services: &Services,
    event: CloudWatchEvent<serde_json::Value>,
    stop: Option<Instant>,
) -> Result<ExpiryReport, ExpireError> {
    tracing::info!(
        event = event.id.as_deref().unwrap_or(""),
        scheduled_for = %event.time.to_rfc3339(),
        "expiry run started"
    );
    Ok(services.run_expiry(stop, &ExpiryOptions::default()).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sweep_input_and_a_schedule_event_are_told_apart() {
        let sweep: Trigger = serde_json::from_str(r#"{"job":"sweep"}"#).expect("sweep");
        assert!(matches!(sweep, Trigger::Job { job: Job::Sweep }));
        let schedule: Trigger = serde_json::from_value(serde_json::json!({
            "version": "0", "id": "e1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-25T17:00:00Z", "region": "cn-north-1",
            "resources": [], "detail": {}
        }))
        .expect("schedule");
        assert!(matches!(schedule, Trigger::Schedule(_)));
        assert!(serde_json::from_str::<Trigger>(r#"{"job":"other"}"#).is_err());
        let upload: Trigger = serde_json::from_value(serde_json::json!({
            "Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "cn-north-1",
                "eventTime": "2026-11-25T17:00:00Z", "eventName": "ObjectCreated:Post",
                "userIdentity": {"principalId": "A"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {"s3SchemaVersion": "1.0", "configurationId": "c",
                       "bucket": {"name": "b", "ownerIdentity": {"principalId": "A"}, "arn": "arn:aws:s3:::b"},
                       "object": {"key": "imports/0123456789abcdef0123456789abcdef.jsonl", "size": 10,
                                  "eTag": "e", "sequencer": "1"}}
            }]
        }))
        .expect("upload");
        assert!(matches!(upload, Trigger::Upload(_)));
    }

    #[test]
    fn stops_twenty_seconds_before_the_deadline() {
        let now = SystemTime::now();
        let now_ms = u64::try_from(now.duration_since(UNIX_EPOCH).expect("clock").as_millis()).expect("ms");
        let before = Instant::now();
        let stop = stop_at(now_ms + 900_000, now);
        let left = stop.duration_since(before);
        assert!(
            left >= Duration::from_secs(880) && left < Duration::from_secs(881),
            "{left:?}"
        );
        // A deadline already inside the margin (or past) stops at once.
        assert!(stop_at(now_ms + 5_000, now) <= Instant::now());
        assert!(stop_at(0, now) <= Instant::now());
    }
}
