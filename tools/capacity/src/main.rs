//! `edl-capacity`: run every operation against the AWS emulator, count the calls, and write `docs/capacity.md`.

// A command-line tool: its output is for the person at the terminal.
#![allow(clippy::print_stdout)]

use clap::Parser;
use edl_capacity::model::{model, Profile, TemplateFacts};
use edl_capacity::scenario::{measure, Flow, Options};
use std::process::ExitCode;

/// edl-capacity: the capacity model from counted calls.
///
/// Runs each operation against the AWS emulator at AWS_ENDPOINT_URL (scripts/capacity.sh starts one)
/// through a counting proxy, then writes the model for the launch profile (defaults, or the JSON of
/// --profile) to --out. --json also writes every counted call.
#[derive(Debug, Parser)]
#[command(name = "edl-capacity")]
struct Arguments {
    /// Where the model is written.
    #[arg(long, value_name = "FILE", default_value = "docs/capacity.md")]
    out: String,
    /// The launch profile as JSON (the defaults when left out).
    #[arg(long, value_name = "FILE")]
    profile: Option<String>,
    /// Also write every counted call here.
    #[arg(long, value_name = "FILE")]
    json: Option<String>,
    /// Runs of each flow; at least 2, to tell shared partitions from each holder's own.
    #[arg(long, default_value_t = 2, value_parser = at_least_two)]
    runs: usize,
    #[arg(long, default_value_t = 1000)]
    expiry_items: usize,
    /// The flows to run, comma-separated: on-file, new-photo, truck, expiry (all by default).
    #[arg(long, value_delimiter = ',', value_parser = flow, default_values = ["on-file", "new-photo", "truck", "expiry"])]
    flows: Vec<Flow>,
}

fn at_least_two(text: &str) -> Result<usize, String> {
    match text.parse::<usize>() {
        Ok(n) if n >= 2 => Ok(n),
        _ => Err("--runs must be at least 2, to tell shared partitions from each holder's own".into()),
    }
}

fn flow(name: &str) -> Result<Flow, String> {
    Flow::parse(name.trim()).ok_or(format!("unknown flow {name}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let arguments = Arguments::parse();
    match run(arguments).await {
        Ok(summary) => {
            println!("{summary}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("edl-capacity: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(arguments: Arguments) -> Result<String, String> {
    let upstream = std::env::var("AWS_ENDPOINT_URL")
        .ok()
        .filter(|u| !u.is_empty())
        .ok_or("AWS_ENDPOINT_URL is not set: run scripts/capacity.sh, which starts the emulator")?;
    let profile: Profile = match &arguments.profile {
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?;
            serde_json::from_str(&text).map_err(|e| format!("{path} is not a valid profile: {e}"))?
        }
        None => Profile::default(),
    };
    let template = TemplateFacts::read(edl_local_api::routes::TEMPLATE).map_err(|e| e.to_string())?;
    let options = Options {
        upstream: upstream.clone(),
        flows: arguments.flows,
        runs: arguments.runs,
        expiry_items: arguments.expiry_items,
    };
    let measurement = measure(&options).await.map_err(|e| e.to_string())?;
    if let Some(path) = &arguments.json {
        let json = serde_json::to_string_pretty(&measurement).map_err(|e| e.to_string())?;
        std::fs::write(path, json).map_err(|e| format!("cannot write {path}: {e}"))?;
    }
    let model = model(&measurement, &profile, &template);
    let generated = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let emulator = format!(
        "ministack {}",
        std::env::var("EDL_MINISTACK_VERSION").unwrap_or_default()
    )
    .trim()
    .to_string();
    let text = edl_capacity::report::markdown(&model, &generated, &emulator);
    if let Some(parent) = std::path::Path::new(&arguments.out).parent() {
        if !parent.as_os_str().is_empty() {
            std::fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
    }
    std::fs::write(&arguments.out, text).map_err(|e| format!("cannot write {}: {e}", arguments.out))?;
    let first = model
        .quotas
        .first()
        .map(|q| format!("{} ({:.0}% used at the profile)", q.quota, q.utilisation() * 100.0))
        .unwrap_or_default();
    Ok(format!("wrote {}; binds first: {first}", arguments.out))
}
