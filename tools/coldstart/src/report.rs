//! The benchmark's table: per binary, the medians of its runs and their ratio to the bare binary's medians
//! measured in the same run; and the sizes of binaries built for another architecture.

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

/// A binary built for a Lambda architecture: its size, and deflated as Lambda's zip holds it.
#[derive(Debug, Clone)]
pub struct Size {
    pub binary: String,
    pub bytes: u64,
    pub deflated_bytes: u64,
}

/// The length of `bytes` deflated at the default level, as a zip (cargo lambda's, SAM's) stores a file.
pub fn deflated_len(bytes: &[u8]) -> u64 {
    use std::io::Write as _;
    let mut encoder = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing to a Vec cannot fail.
    match encoder.write_all(bytes).and_then(|()| encoder.finish()) {
        Ok(deflated) => deflated.len() as u64,
        Err(_) => 0,
    }
}

/// The Markdown table of sizes, with issue 18's 8 MB.
pub fn sizes(rows: &[Size]) -> String {
    let mut out = String::from("| binary | size | deflated (zip) | under 8 MB |\n| --- | --- | --- | --- |\n");
    for row in rows {
        let _ = writeln!(
            out,
            "| {} | {:.2} MB | {:.2} MB | {} |",
            row.binary,
            // Truncated, not rounded: 7,999,999 bytes is under 8 MB and shows so.
            (row.bytes / 10_000) as f64 / 100.0,
            row.deflated_bytes as f64 / 1e6,
            if row.bytes < 8_000_000 { "yes" } else { "no" }
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sizes_table_holds_each_binary_to_8_mb_and_deflates_as_a_zip_would() {
        let repetitive = vec![7u8; 1_000_000];
        assert!(deflated_len(&repetitive) < 10_000);
        // A byte sequence without repetition deflates to about its own length.
        let mut state = 0x2545_f491_u32;
        let noise: Vec<u8> = (0..100_000)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                state as u8
            })
            .collect();
        assert!(deflated_len(&noise) > 99_000);
        let table = sizes(&[
            Size {
                binary: "small".into(),
                bytes: 7_999_999,
                deflated_bytes: 3_000_000,
            },
            Size {
                binary: "large".into(),
                bytes: 8_000_000,
                deflated_bytes: 3_100_000,
            },
        ]);
        assert!(table.contains("| small | 7.99 MB | 3.00 MB | yes |"), "{table}");
        assert!(table.contains("| large | 8.00 MB | 3.10 MB | no |"), "{table}");
    }
}
