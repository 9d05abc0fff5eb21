//! The benchmark's table: per binary, the medians of its runs and their ratio to the bare binary's medians
//! measured in the same run.

use crate::emulator::Outcome;
use crate::measure::Sample;
use std::fmt::Write as _;
use std::time::Duration;

/// One binary's runs.
#[derive(Debug, Clone, Default)]
pub struct Runs {
    pub binary: String,
    /// The binary's size on disk as built (the release profile strips it).
    pub size_bytes: u64,
    pub samples: Vec<Sample>,
    /// Runs that failed, with why.
    pub failures: Vec<String>,
}

impl Runs {
    pub fn median_init(&self) -> Option<Duration> {
        median(self.samples.iter().map(|s| s.init).collect())
    }

    pub fn median_first_invocation(&self) -> Option<Duration> {
        median(self.samples.iter().map(|s| s.first_invocation).collect())
    }

    pub fn median_peak_rss_kib(&self) -> Option<u64> {
        median(self.samples.iter().map(|s| s.peak_rss_kib).collect())
    }

    pub fn median_threads(&self) -> Option<u32> {
        median(self.samples.iter().map(|s| s.threads).collect())
    }

    /// How the first invocation ended, as the last sample saw it.
    fn outcome(&self) -> String {
        match self.samples.last().map(|s| &s.outcome) {
            Some(Outcome::Response(body)) => answer_status(body),
            Some(Outcome::Error(_)) => "error".into(),
            Some(Outcome::InitError(_)) => "init error".into(),
            None => "—".into(),
        }
    }
}

/// An API Gateway answer's status code, or "answered" for an event function's reply.
fn answer_status(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|answer| answer.get("statusCode").and_then(|code| code.as_u64()))
        .map(|code| code.to_string())
        .unwrap_or_else(|| "answered".into())
}

fn median<T: Ord + Copy>(mut values: Vec<T>) -> Option<T> {
    values.sort_unstable();
    values.get(values.len() / 2).copied()
}

fn ms(duration: Duration) -> String {
    format!("{:.1} ms", duration.as_secs_f64() * 1000.0)
}

fn ratio(value: Duration, base: Duration) -> String {
    if base.is_zero() {
        return "—".into();
    }
    format!("{:.2}×", value.as_secs_f64() / base.as_secs_f64())
}

/// The Markdown table: the bare binary first, then every function; ratios against the bare binary.
pub fn table(bare: &Runs, functions: &[Runs]) -> String {
    let base_init = bare.median_init().unwrap_or_default();
    let base_total = base_init + bare.median_first_invocation().unwrap_or_default();
    let mut out = String::from(
        "| binary | init | init ÷ bare | first invocation | init + first ÷ bare | AWS calls | answer | threads | peak RSS | size | runs |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n",
    );
    for runs in std::iter::once(bare).chain(functions) {
        let (Some(init), Some(first)) = (runs.median_init(), runs.median_first_invocation()) else {
            let _ = writeln!(
                out,
                "| {} | failed: {} | | | | | | | | {:.1} MB | 0 |",
                runs.binary,
                runs.failures.first().map(String::as_str).unwrap_or("no run"),
                runs.size_bytes as f64 / 1e6
            );
            continue;
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {:.1} MiB | {:.1} MB | {}{} |",
            runs.binary,
            ms(init),
            ratio(init, base_init),
            ms(first),
            ratio(init + first, base_total),
            runs.samples.last().map(|s| s.aws_calls).unwrap_or_default(),
            runs.outcome(),
            runs.median_threads().unwrap_or_default(),
            runs.median_peak_rss_kib().unwrap_or_default() as f64 / 1024.0,
            runs.size_bytes as f64 / 1e6,
            runs.samples.len(),
            if runs.failures.is_empty() {
                String::new()
            } else {
                format!(" ({} failed)", runs.failures.len())
            },
        );
    }
    let failures: Vec<String> = std::iter::once(bare)
        .chain(functions)
        .flat_map(|runs| runs.failures.iter().map(move |f| format!("- {}: {f}", runs.binary)))
        .collect();
    if !failures.is_empty() {
        let _ = writeln!(out, "\nFailed runs (left out of the medians):\n{}", failures.join("\n"));
    }
    out
}
