//! `edl-capacity`: run every operation against the AWS emulator, count the calls, and write `docs/capacity.md`.

// A command-line tool: its output is for the person at the terminal.
#![allow(clippy::print_stdout)]

use edl_capacity::model::{model, Profile, TemplateFacts};
use edl_capacity::scenario::{measure, Flow, Options};
use std::process::ExitCode;

const USAGE: &str = "\
edl-capacity: the capacity model from counted calls

USAGE:
  edl-capacity [--out FILE] [--profile FILE] [--runs N] [--expiry-items N]
               [--flows on-file,new-photo,truck,expiry] [--json FILE]

Runs each operation against the AWS emulator at AWS_ENDPOINT_URL (scripts/capacity.sh starts
one) through a counting proxy, then writes the model for the launch profile (defaults, or the
JSON of --profile) to --out (default docs/capacity.md). --json also writes every counted call.
";

struct Arguments {
    out: String,
    profile: Option<String>,
    json: Option<String>,
    runs: usize,
    expiry_items: usize,
    flows: Vec<Flow>,
}

fn parse(args: &[String]) -> Result<Arguments, String> {
    let mut parsed = Arguments {
        out: "docs/capacity.md".into(),
        profile: None,
        json: None,
        runs: 2,
        expiry_items: 1000,
        flows: Flow::ALL.to_vec(),
    };
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let mut value = || iter.next().cloned().ok_or(format!("{arg} needs a value"));
        match arg.as_str() {
            "--out" => parsed.out = value()?,
            "--profile" => parsed.profile = Some(value()?),
            "--json" => parsed.json = Some(value()?),
            "--runs" => parsed.runs = value()?.parse().map_err(|_| "--runs takes a number")?,
            "--expiry-items" => parsed.expiry_items = value()?.parse().map_err(|_| "--expiry-items takes a number")?,
            "--flows" => {
                parsed.flows = value()?
                    .split(',')
                    .map(|f| Flow::parse(f.trim()).ok_or(format!("unknown flow {f}")))
                    .collect::<Result<_, _>>()?
            }
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if parsed.runs < 2 {
        return Err("--runs must be at least 2, to tell shared partitions from each holder's own".into());
    }
    Ok(parsed)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let arguments = match parse(&args) {
        Ok(a) => a,
        Err(e) if e.is_empty() => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("edl-capacity: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
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
