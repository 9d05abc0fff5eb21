//! One measured cold start: spawn a binary with a Lambda environment pointed at the emulator, time it to its
//! first request for an event and through its first invocation, read its peak resident memory, stop it by id.

use crate::emulator::{Emulator, Outcome};
use bytes::Bytes;
use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

/// What one cold start cost.
#[derive(Debug, Clone)]
pub struct Sample {
    /// From spawn to the first `GET .../invocation/next`: what Lambda reports as Init Duration.
    pub init: Duration,
    /// From handing out the event to the function's answer: the first invocation's duration.
    pub first_invocation: Duration,
    /// The process's peak resident set (`VmHWM`) after its first invocation, in KiB.
    pub peak_rss_kib: u64,
    /// The process's threads after its first invocation (a multi-threaded runtime starts one per CPU at init).
    pub threads: u32,
    /// AWS calls the first invocation made (each answered at once by the emulator).
    pub aws_calls: u32,
    pub outcome: Outcome,
}

#[derive(Debug, thiserror::Error)]
pub enum MeasureError {
    #[error("the Runtime API emulator could not start: {0}")]
    Emulator(std::io::Error),
    #[error("{binary} could not be started: {source}")]
    Spawn { binary: String, source: std::io::Error },
    #[error("{binary} exited ({status}) before answering its first event")]
    Exited { binary: String, status: String },
    #[error("{binary} reported an initialisation error: {body}")]
    Init { binary: String, body: String },
    #[error("{binary} did not answer its first event within {seconds} s")]
    Timeout { binary: String, seconds: u64 },
}

/// Spawns `binary` as Lambda would (its environment from the template plus what the Lambda service sets, every
/// AWS endpoint at an emulator of its own, no retries), feeds it `event`, and measures. The process is always
/// stopped by its id before this returns.
///
/// Each start gets a fresh emulator on a new port: a process stopped just after its answer may already have asked
/// for its next event, and that request, still in flight, must not take the next start's event.
pub async fn cold_start(
    binary: &Path,
    environment: &BTreeMap<String, String>,
    event: Bytes,
    timeout: Duration,
) -> Result<Sample, MeasureError> {
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let emulator = &Emulator::start().await.map_err(MeasureError::Emulator)?;
    emulator.begin(event, "00000000-0000-4000-8000-000000000001");
    let mut command = std::process::Command::new(binary);
    command
        .env_clear()
        .envs(environment)
        .envs(lambda_environment(&name, emulator))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let spawned = Instant::now();
    let mut child = command.spawn().map_err(|source| MeasureError::Spawn {
        binary: name.clone(),
        source,
    })?;
    let result = watch(emulator, &mut child, &name, timeout).await;
    // Stopped by its id in every case; a process that already exited is simply reaped.
    let _ = child.kill();
    let _ = child.wait();
    let observed = result?;
    match (observed.first_next, observed.finished) {
        (_, Some((_, Outcome::InitError(body)))) => Err(MeasureError::Init {
            binary: name,
            body: String::from_utf8_lossy(&body).chars().take(200).collect(),
        }),
        (Some(first_next), Some((answered, outcome))) => Ok(Sample {
            init: first_next.saturating_duration_since(spawned),
            first_invocation: answered.saturating_duration_since(first_next),
            peak_rss_kib: observed.status.peak_rss_kib,
            threads: observed.status.threads,
            aws_calls: observed.aws_calls,
            outcome,
        }),
        _ => Err(MeasureError::Exited {
            binary: name,
            status: "answered without asking for an event".into(),
        }),
    }
}

struct Watched {
    first_next: Option<Instant>,
    finished: Option<(Instant, Outcome)>,
    aws_calls: u32,
    status: ProcessStatus,
}

/// Waits for the first invocation to end, noticing a process that exits first; the times are the emulator's
/// (taken as the requests arrive), so how often this looks does not change them.
async fn watch(
    emulator: &Emulator,
    child: &mut std::process::Child,
    name: &str,
    timeout: Duration,
) -> Result<Watched, MeasureError> {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let look = (tokio::time::Instant::now() + Duration::from_millis(5)).min(deadline);
        if let Some(observed) = emulator.finished(look).await {
            return Ok(Watched {
                first_next: observed.first_next,
                finished: observed.finished,
                aws_calls: observed.aws_calls,
                status: process_status(child.id()),
            });
        }
        if let Ok(Some(status)) = child.try_wait() {
            return Err(MeasureError::Exited {
                binary: name.to_string(),
                status: status.to_string(),
            });
        }
        if tokio::time::Instant::now() >= deadline {
            return Err(MeasureError::Timeout {
                binary: name.to_string(),
                seconds: timeout.as_secs(),
            });
        }
    }
}

/// What the Lambda service sets in a function's environment, pointed at the emulator.
fn lambda_environment(name: &str, emulator: &Emulator) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", emulator.runtime_api()),
        ("AWS_LAMBDA_FUNCTION_NAME", name.to_string()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".into()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256".into()),
        ("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}")),
        ("AWS_LAMBDA_LOG_STREAM_NAME", "coldstart".into()),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into()),
        ("AWS_EXECUTION_ENV", "AWS_Lambda_provided.al2023".into()),
        ("_HANDLER", "bootstrap".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_DEFAULT_REGION", "us-east-1".into()),
        // Lambda hands the role's session credentials through the environment.
        ("AWS_ACCESS_KEY_ID", "coldstart".into()),
        ("AWS_SECRET_ACCESS_KEY", "coldstart".into()),
        ("AWS_SESSION_TOKEN", "coldstart".into()),
        ("AWS_ENDPOINT_URL", emulator.endpoint_url()),
        // One attempt: the emulator's refusal is final, so no retry backoff lands in the first invocation.
        ("AWS_MAX_ATTEMPTS", "1".into()),
        ("TZ", ":UTC".into()),
    ]
}

/// What `/proc/<pid>/status` says of a process.
#[derive(Debug, Default)]
struct ProcessStatus {
    /// `VmHWM`, in KiB.
    peak_rss_kib: u64,
    /// `Threads`.
    threads: u32,
}

/// `VmHWM` and `Threads` from `/proc/<pid>/status` (zero where there is no such file).
fn process_status(pid: u32) -> ProcessStatus {
    let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
        return ProcessStatus::default();
    };
    let field = |name: &str| {
        status.lines().find_map(|line| {
            line.strip_prefix(name)
                .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
    };
    ProcessStatus {
        peak_rss_kib: field("VmHWM:").unwrap_or(0),
        threads: field("Threads:").and_then(|n| u32::try_from(n).ok()).unwrap_or(0),
    }
}
