//! The metrics port: numbers an operator's alarms watch (days of signing left), published by scheduled checks.

use async_trait::async_trait;
use std::sync::Mutex;

/// One measurement, in a unit of CloudWatch's (`Count`, `None`, ...).
#[derive(Debug, Clone, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub value: f64,
    pub unit: &'static str,
}

#[derive(Debug, thiserror::Error)]
#[error("metrics could not be published: {0}")]
pub struct MetricsError(pub String);

#[async_trait]
pub trait Metrics: Send + Sync {
    async fn publish(&self, metrics: &[Metric]) -> Result<(), MetricsError>;
}

/// Metrics kept in process (the local server, tests): the last value of each name.
#[derive(Default)]
pub struct RecordedMetrics {
    published: Mutex<Vec<Metric>>,
}

impl RecordedMetrics {
    /// Every metric published so far, oldest first.
    pub fn published(&self) -> Vec<Metric> {
        self.published.lock().map(|p| p.clone()).unwrap_or_default()
    }

    /// The last value published under `name`.
    pub fn last(&self, name: &str) -> Option<f64> {
        self.published().iter().rev().find(|m| m.name == name).map(|m| m.value)
    }
}

#[async_trait]
impl Metrics for RecordedMetrics {
    async fn publish(&self, metrics: &[Metric]) -> Result<(), MetricsError> {
        let mut published = self.published.lock().map_err(|_| MetricsError("poisoned".into()))?;
        published.extend_from_slice(metrics);
        Ok(())
    }
}
