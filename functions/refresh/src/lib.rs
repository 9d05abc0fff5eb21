//! The refresh function: on its hourly schedule, one run of the document refresh within its share of the day's
//! signing budget, then the key check; on its five-minute schedule, the status lists' publication.

use aws_lambda_events::event::cloudwatch_events::CloudWatchEvent;
use serde::Serialize;
use shared::issuance::budget::SigningBudget;
use shared::service::keys::KeyHealth;
use shared::service::refresh::{RefreshOptions, RefreshReport};
use shared::service::status_lists::StatusListReport;
use shared::service::{Refreshing, ServiceError, Signing};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long before the Lambda deadline the run stops asking for work: a page under way (at
/// most a hundred documents, eight signed at a time) finishes well inside it.
pub const STOP_MARGIN: Duration = Duration::from_secs(30);

#[derive(Debug, thiserror::Error)]
pub enum RefreshError {
    /// A dependency failed (DynamoDB, CloudWatch): the next scheduled run starts again; what was
    /// done stays done.
    #[error("the refresh run failed: {0}")]
    Failed(#[from] ServiceError),
    #[error("the environment variable {0} is not valid: {1}")]
    Configuration(&'static str, String),
    /// An event neither schedule sends.
    #[error("the event is neither the hourly schedule's nor {{\"job\":\"status-lists\"}}: {0}")]
    Event(String),
}

/// What a schedule asked for.
#[derive(Debug)]
pub enum Job {
    /// The hourly schedule's EventBridge event: the document refresh and the key check.
    Refresh(Box<CloudWatchEvent<serde_json::Value>>),
    /// The five-minute schedule's constant input `{"job":"status-lists"}`.
    StatusLists,
}

/// Which job an invocation's event asks for.
pub fn job_of(event: serde_json::Value) -> Result<Job, RefreshError> {
    if event.get("job").and_then(|j| j.as_str()) == Some("status-lists") {
        return Ok(Job::StatusLists);
    }
    serde_json::from_value(event)
        .map(|event| Job::Refresh(Box::new(event)))
        .map_err(|e| RefreshError::Event(e.to_string()))
}

/// One run of the status lists' publication: the lists that changed or near their end signed again and stored.
pub async fn publish_status_lists(signing: &Signing) -> Result<StatusListReport, RefreshError> {
    Ok(signing.run_status_lists().await?)
}

/// What one invocation did.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshRun {
    pub refresh: RefreshReport,
    pub keys: KeyHealth,
}

/// The scheduled jobs' signing budget from the environment: `EDL_REFRESH_SIGNS_PER_DAY` (the signatures the
/// refresh runs and the status list tokens may take together in one local day; the default when unset).
pub fn signing_budget_from(signs_per_day: Option<&str>) -> Result<SigningBudget, RefreshError> {
    let mut budget = SigningBudget::default();
    if let Some(text) = signs_per_day {
        budget.signs_per_day = text.trim().parse().map_err(|e: std::num::ParseIntError| {
            RefreshError::Configuration("EDL_REFRESH_SIGNS_PER_DAY", e.to_string())
        })?;
    }
    Ok(budget)
}

/// When to stop, from the invocation's deadline (milliseconds since the epoch), leaving `STOP_MARGIN`.
pub fn stop_at(deadline_ms: u64, now: SystemTime) -> Instant {
    let now_ms = now.duration_since(UNIX_EPOCH).map(|d| d.as_millis()).unwrap_or(0);
    let remaining = Duration::from_millis(u64::try_from(u128::from(deadline_ms).saturating_sub(now_ms)).unwrap_or(0));
    Instant::now() + remaining.saturating_sub(STOP_MARGIN)
}

/// Runs the refresh once, then the key check. The event only says that the schedule fired: the
/// job's own clock decides what is due, so a late or repeated event is harmless.
pub async fn handle(
    refreshing: &Refreshing,
    event: CloudWatchEvent<serde_json::Value>,
    options: &RefreshOptions,
    stop: Option<Instant>,
) -> Result<RefreshRun, RefreshError> {
    tracing::info!(
        event = event.id.as_deref().unwrap_or(""),
        scheduled_for = %event.time.to_rfc3339(),
        "refresh run started"
    );
    let refresh = refreshing.run_refresh(stop, options).await?;
    let keys = refreshing.check_keys().await?;
    Ok(RefreshRun { refresh, keys })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_comes_from_the_environment() {
        assert_eq!(signing_budget_from(None).expect("default").signs_per_day, 2_160_000);
        assert_eq!(signing_budget_from(Some("6000")).expect("set").signs_per_day, 6_000);
        assert!(matches!(
            signing_budget_from(Some("lots")),
            Err(RefreshError::Configuration("EDL_REFRESH_SIGNS_PER_DAY", _))
        ));
    }

    #[test]
    fn the_event_names_the_job() {
        assert!(matches!(
            job_of(serde_json::json!({"job": "status-lists"})),
            Ok(Job::StatusLists)
        ));
        let scheduled = serde_json::json!({
            "version": "0", "id": "1", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": "2026-11-25T01:45:00Z", "region": "cn-north-1",
            "resources": [], "detail": {}
        });
        assert!(matches!(job_of(scheduled), Ok(Job::Refresh(_))));
        assert!(matches!(
            job_of(serde_json::json!({"job": "everything"})),
            Err(RefreshError::Event(_))
        ));
    }

    #[test]
    fn stops_thirty_seconds_before_the_deadline() {
        let now = SystemTime::now();
        let now_ms = u64::try_from(now.duration_since(UNIX_EPOCH).expect("clock").as_millis()).expect("ms");
        assert!(stop_at(now_ms + 10_000, now) <= Instant::now());
        let left = stop_at(now_ms + 900_000, now).duration_since(Instant::now());
        assert!(
            left > Duration::from_secs(860) && left <= Duration::from_secs(870),
            "{left:?}"
        );
    }
}
