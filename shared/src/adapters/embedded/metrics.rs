//! The metrics port in process: the same EMF lines CloudWatch would receive, kept (the latest
//! [`KEPT`]) so that the local server and the tests can read what a deployment would measure.

use crate::verification::metrics::emf_line;
use crate::verification::ports::MetricSink;
use chrono::{DateTime, Utc};
use std::collections::VecDeque;
use std::sync::Mutex;

pub const KEPT: usize = 100_000;

#[derive(Default)]
pub struct EmbeddedMetrics {
    lines: Mutex<VecDeque<String>>,
}

impl EmbeddedMetrics {
    /// The kept EMF lines, oldest first.
    pub fn lines(&self) -> Vec<String> {
        self.lines
            .lock()
            .map(|l| l.iter().cloned().collect())
            .unwrap_or_default()
    }
}

impl MetricSink for EmbeddedMetrics {
    fn verification(&self, organisation: &str, miss: bool, window_misses: Option<u64>, at: DateTime<Utc>) {
        if let Ok(mut lines) = self.lines.lock() {
            if lines.len() == KEPT {
                lines.pop_front();
            }
            lines.push_back(emf_line(organisation, miss, window_misses, at));
        }
    }
}
