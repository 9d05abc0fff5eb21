//! `edl-load`: a bounded load generator. It starts the local API backed by the AWS emulator (never AWS itself),
//! drives it with the launch mix of holders from a fixed number of workers until a request budget, a journey
//! count or a time limit is reached, prints throughput and latency percentiles per operation, and then checks
//! that nothing was lost: every approved application issued, no licence issued twice, no lock left behind.

// A command-line tool: its report is its output.
#![allow(clippy::print_stdout)]

mod checks;
mod client;
mod journeys;

// The ID photos the tests upload (they pass every automatic check; a seed makes each file different). Their
// encoders panic only on a drawing that cannot be encoded, which the fixed drawings never are.
#[allow(dead_code, clippy::panic)]
#[path = "../../../tests/support/images.rs"]
mod images;

use clap::Parser;
use client::Api;
use journeys::{Journey, Kind, Outcome, Tokens};
use serde_json::json;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::process::{Child, ExitCode, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Parser)]
#[command(about = "The launch mix against the local API backed by the AWS emulator, bounded in requests and time")]
struct Arguments {
    /// Holders who apply (at most; fewer if the register has fewer eligible holders).
    #[arg(long, default_value_t = 200)]
    journeys: usize,
    /// No new journey starts once this many requests were sent.
    #[arg(long, default_value_t = 5_000)]
    max_requests: usize,
    /// No new journey starts after this many seconds.
    #[arg(long, default_value_t = 300)]
    seconds: u64,
    /// Journeys under way at once.
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// The share of holders who send a new photo (reviewed) rather than use the one on file.
    #[arg(long, default_value_t = 0.3)]
    new_photo_share: f64,
    /// Sample licences the local API loads into the emulator's table.
    #[arg(long, default_value_t = 1_000)]
    samples: usize,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// The local API's binary (built by `cargo build -p edl-local-api`).
    #[arg(long)]
    local_bin: Option<PathBuf>,
}

#[derive(Debug, thiserror::Error)]
enum LoadError {
    #[error("AWS_ENDPOINT_URL must name the emulator on loopback (scripts/load.sh starts one); it is {0:?}")]
    NotLoopback(Option<String>),
    #[error("the local API could not be started from {0}: {1}")]
    Spawn(PathBuf, std::io::Error),
    #[error("the local API exited before it answered ({0})")]
    Exited(String),
    #[error("the local API did not answer within {0} s")]
    NotReady(u64),
    #[error("setup: {0}")]
    Setup(String),
    #[error("no free loopback port: {0}")]
    Port(std::io::Error),
    #[error(transparent)]
    Checks(#[from] checks::CheckError),
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("edl-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(arguments)) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("edl-load: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The local API's process, stopped by its id when dropped.
struct LocalApi(Child);

impl Drop for LocalApi {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn run(arguments: Arguments) -> Result<bool, LoadError> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok();
    if !endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://127.0.0.1:") || e.starts_with("http://localhost:"))
    {
        return Err(LoadError::NotLoopback(endpoint));
    }
    let run_id = uuid::Uuid::new_v4().simple().to_string()[..8].to_string();
    let table = format!("edl-load-{run_id}");
    let port = std::net::TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map_err(LoadError::Port)?
        .port();
    let binary = arguments.local_bin.clone().unwrap_or_else(|| {
        std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"))
            .join("debug/edl-local")
    });
    eprintln!(
        "starting the local API on 127.0.0.1:{port} with {} sample licences in table {table}",
        arguments.samples
    );
    let mut local = LocalApi(
        std::process::Command::new(&binary)
            .args(["--port", &port.to_string(), "--samples", &arguments.samples.to_string()])
            .args(["--seed", &arguments.seed.to_string()])
            .env("TABLE_NAME", &table)
            .env("PHOTO_BUCKET", format!("edl-load-{run_id}"))
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| LoadError::Spawn(binary.clone(), e))?,
    );
    let api = Arc::new(Api::new(format!("http://127.0.0.1:{port}")));
    ready(&api, &mut local).await?;
    let tokens = setup(&api).await?;
    let floor = floor(&api).await;
    let journeys = journeys(&arguments);
    let planned = journeys.len();
    eprintln!("{planned} journeys, {} workers", arguments.concurrency);

    let queue = Arc::new(Mutex::new(journeys.into_iter().collect::<VecDeque<_>>()));
    let outcomes = Arc::new(Mutex::new(Vec::new()));
    let tokens = Arc::new(tokens);
    let started = Instant::now();
    let deadline = started + Duration::from_secs(arguments.seconds);
    let mut workers = Vec::new();
    for _ in 0..arguments.concurrency.max(1) {
        let (api, queue, outcomes, tokens) = (api.clone(), queue.clone(), outcomes.clone(), tokens.clone());
        let max_requests = arguments.max_requests;
        workers.push(tokio::spawn(async move {
            loop {
                if api.recorder.requests() >= max_requests || Instant::now() >= deadline {
                    break;
                }
                let next = queue.lock().unwrap_or_else(|p| p.into_inner()).pop_front();
                let Some(journey) = next else { break };
                let outcome = journeys::run(&api, &tokens, journey).await;
                outcomes.lock().unwrap_or_else(|p| p.into_inner()).push(outcome);
            }
        }));
    }
    for worker in workers {
        let _ = worker.await;
    }
    let elapsed = started.elapsed();
    let requests = api.recorder.requests();
    let operations = api.recorder.operations();
    let outcomes: Vec<Outcome> = std::mem::take(&mut *outcomes.lock().unwrap_or_else(|p| p.into_inner()));

    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    let dynamodb = aws_sdk_dynamodb::Client::new(&config);
    let findings = checks::check(&api, &dynamodb, &table, &outcomes).await?;
    drop(local);

    let measured = Measured {
        planned,
        elapsed,
        requests,
        operations,
        floor,
    };
    println!("{}", report(&arguments, &measured, &outcomes, &findings));
    Ok(!findings.lost_anything())
}

async fn ready(api: &Api, local: &mut LocalApi) -> Result<(), LoadError> {
    let limit = 300;
    let until = Instant::now() + Duration::from_secs(limit);
    while Instant::now() < until {
        if let Ok(Some(status)) = local.0.try_wait() {
            return Err(LoadError::Exited(status.to_string()));
        }
        if let Ok(answer) = api.call("(setup)", "GET", "/truck/cities", None, None).await {
            if answer.status == 200 {
                return Ok(());
            }
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    Err(LoadError::NotReady(limit))
}

/// The local API's floor, measured in the same run before the load: the median of 51 sequential requests it
/// refuses at its edge (no token), touching no storage. Each operation's median is also shown divided by it.
async fn floor(api: &Api) -> Duration {
    let mut samples = Vec::new();
    for _ in 0..51 {
        let started = Instant::now();
        if let Ok(answer) = api.call("(baseline)", "GET", "/licence", None, None).await {
            if answer.status == 401 {
                samples.push(started.elapsed());
            }
        }
    }
    samples.sort_unstable();
    samples.get(samples.len() / 2).copied().unwrap_or_default()
}

/// Every wave switched on now (so that every eligible holder may apply), and the staff's tokens.
async fn setup(api: &Api) -> Result<Tokens, LoadError> {
    let token = |role: &'static str| async move {
        api.call("(setup)", "POST", "/_dev/tokens", None, Some(&json!({ "role": role })))
            .await
            .ok()
            .and_then(|a| a.body["token"].as_str().map(str::to_string))
            .ok_or_else(|| LoadError::Setup(format!("no development token for {role}")))
    };
    let admin = token("admin").await?;
    for wave in shared::register::rollout::Plan::default_plan().waves {
        let answer = api
            .call(
                "(setup)",
                "PUT",
                &format!("/admin/rollout/waves/{}", wave.id),
                Some(&admin),
                Some(&json!({ "goLiveAt": "now" })),
            )
            .await
            .map_err(|e| LoadError::Setup(e.to_string()))?;
        if answer.status != 200 {
            return Err(LoadError::Setup(format!(
                "wave {} not switched on: {} {}",
                wave.id,
                answer.status,
                journeys::prefix(&answer.body)
            )));
        }
    }
    Ok(Tokens {
        officer: token("officer").await?,
        reviewer: token("reviewer").await?,
    })
}

/// The holders who apply: the sample register's eligible licences (the same register the local API loads),
/// each with the photo on file or, for the stated share and for those without one, a new photo.
fn journeys(arguments: &Arguments) -> Vec<Journey> {
    let today = shared::kernel::time::local_date(chrono::Utc::now());
    let mut draw = arguments.seed | 1;
    let mut next = move || {
        // xorshift64: a fixed, seeded sequence, so a run's mix can be repeated.
        draw ^= draw << 13;
        draw ^= draw >> 7;
        draw ^= draw << 17;
        (draw >> 11) as f64 / (1u64 << 53) as f64
    };
    shared::sample::generate(arguments.samples, arguments.seed)
        .into_iter()
        .filter(|licence| shared::register::eligibility::refusals(licence, today).is_empty())
        .take(arguments.journeys)
        .enumerate()
        .map(|(i, licence)| Journey {
            kind: if !licence.photo_on_file || next() < arguments.new_photo_share {
                Kind::NewPhoto
            } else {
                Kind::OnFile
            },
            holder: licence.holder_id,
            licence: licence.number,
            seed: i as u32 + 1,
        })
        .collect()
}

/// What the run measured.
struct Measured {
    planned: usize,
    elapsed: Duration,
    requests: usize,
    operations: std::collections::BTreeMap<&'static str, client::Operation>,
    floor: Duration,
}

fn report(arguments: &Arguments, measured: &Measured, outcomes: &[Outcome], findings: &checks::Findings) -> String {
    let Measured {
        planned,
        elapsed,
        requests,
        operations,
        floor,
    } = measured;
    let (planned, requests, floor) = (*planned, *requests, *floor);
    let seconds = elapsed.as_secs_f64().max(1e-9);
    let on_file = outcomes.iter().filter(|o| o.journey.kind == Kind::OnFile).count();
    let completed = outcomes.iter().filter(|o| o.stopped.is_none()).count();
    let mut out = format!(
        "Load: {} of {planned} journeys run ({on_file} photo on file, {} new photo) by {} workers in {:.1} s; \
         {completed} reached a verified licence.\n\
         {requests} requests: {:.1} requests/s, {:.2} journeys/s.\n\
         Baseline (same run, before the load): a request refused at the local API's edge, median {:.2} ms.\n\n\
         | operation | requests | p50 | p50 ÷ baseline | p90 | p99 | max | answers |\n\
         | --- | --- | --- | --- | --- | --- | --- | --- |\n",
        outcomes.len(),
        outcomes.len() - on_file,
        arguments.concurrency,
        seconds,
        requests as f64 / seconds,
        completed as f64 / seconds,
        floor.as_secs_f64() * 1000.0,
    );
    for (name, operation) in operations {
        let mut latencies = operation.latencies.clone();
        latencies.sort_unstable();
        let at = |q: f64| {
            let index = ((latencies.len() as f64 * q).ceil() as usize).clamp(1, latencies.len().max(1)) - 1;
            latencies
                .get(index)
                .map(|d| format!("{:.1} ms", d.as_secs_f64() * 1000.0))
                .unwrap_or_default()
        };
        let answers: Vec<String> = operation.statuses.iter().map(|(s, n)| format!("{s}×{n}")).collect();
        let median = latencies
            .get(latencies.len().saturating_sub(1) / 2)
            .copied()
            .unwrap_or_default();
        let ratio = if floor.is_zero() {
            "—".to_string()
        } else {
            format!("{:.0}×", median.as_secs_f64() / floor.as_secs_f64())
        };
        out.push_str(&format!(
            "| {name} | {} | {} | {ratio} | {} | {} | {} | {} |\n",
            latencies.len(),
            at(0.5),
            at(0.9),
            at(0.99),
            at(1.0),
            answers.join(" ")
        ));
    }
    let stopped: Vec<&String> = outcomes.iter().filter_map(|o| o.stopped.as_ref()).collect();
    if !stopped.is_empty() {
        out.push_str(&format!(
            "\n{} journeys stopped early; the first: {}\n",
            stopped.len(),
            stopped[0]
        ));
    }
    out.push_str(&format!(
        "\nAfterwards: applications by state {:?}; approved but not issued: {}; issued twice: {}; \
         locks left by finished journeys: {}; electronic licences in the table: {}; open-application locks: {}.\n{}\n",
        findings.states,
        findings.approved_unissued.len(),
        findings.issued_twice.len(),
        findings.leaked_locks,
        findings.licences,
        findings.locks,
        if findings.lost_anything() {
            "LOST WORK: see above."
        } else {
            "Nothing lost."
        }
    ));
    out
}
