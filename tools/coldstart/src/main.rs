//! `edl-coldstart`: builds the Lambda functions and a bare `lambda_runtime` binary with one profile, starts each
//! many times under the Runtime API emulator, interleaved, and prints init, first invocation, peak memory and
//! size with their ratio to the bare binary measured in the same run; or, for a Lambda architecture this machine
//! cannot run, builds them as `sam build` does for it and prints their sizes.

// A command-line tool: its table is its output.
#![allow(clippy::print_stdout)]

use clap::{Parser, ValueEnum};
use edl_coldstart::functions::{self, Function, BARE, FUNCTIONS};
use edl_coldstart::measure;
use edl_coldstart::report::{self, Runs};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Build {
    /// As `sam build` does: `cargo build --bin <Binary>` in the function's `CodeUri` (its package's directory),
    /// naming no package, so cargo selects that package alone with its own features (what is deployed).
    Sam,
    /// Each function's package on its own (`-p <package> --bin <Binary>`): only that function's features.
    Package,
}

/// A Lambda architecture, as `cargo lambda build` names it.
#[derive(Debug, Clone, Copy, ValueEnum)]
enum Architecture {
    Arm64,
    #[value(name = "x86-64")]
    X86_64,
}

impl Architecture {
    fn flag(self) -> &'static str {
        match self {
            Architecture::Arm64 => "--arm64",
            Architecture::X86_64 => "--x86-64",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Architecture::Arm64 => "arm64",
            Architecture::X86_64 => "x86_64",
        }
    }
}

#[derive(Debug, Parser)]
#[command(about = "Cold starts of the Lambda functions against a bare lambda_runtime binary")]
struct Arguments {
    /// Measured starts of each binary (interleaved); the table shows medians.
    #[arg(long, default_value_t = 15, value_parser = clap::value_parser!(u32).range(3..))]
    runs: u32,
    /// The cargo profile every binary is built with (release is what SAM deploys).
    #[arg(long, default_value = "release")]
    profile: String,
    /// How the functions are built.
    #[arg(long, value_enum, default_value_t = Build::Sam)]
    build: Build,
    /// Measure the binaries an earlier run of the same profile and build left in `target/coldstart/`.
    #[arg(long)]
    no_build: bool,
    /// Only these functions (by binary name, comma separated); all of them by default.
    #[arg(long, value_delimiter = ',')]
    functions: Vec<String>,
    /// How long one start may take to answer its first event.
    #[arg(long, default_value_t = 30)]
    timeout_seconds: u64,
    /// Start nothing: build every function for this Lambda architecture as `sam build` does (`cargo lambda build`
    /// in its `CodeUri`, cross-compiled through zig) and print its size and its size deflated (the zip Lambda
    /// downloads). template.yaml deploys arm64. It measures no start, so the options of a measured run are refused.
    #[arg(long, value_enum, conflicts_with_all = ["runs", "build", "no_build", "timeout_seconds"])]
    sizes_for: Option<Architecture>,
}

#[derive(Debug, thiserror::Error)]
enum BenchError {
    #[error("unknown function {0}; the functions are {1}")]
    UnknownFunction(String, String),
    #[error("cargo could not be run: {0}")]
    Cargo(std::io::Error),
    #[error("cargo build failed ({0})")]
    Build(String),
    #[error("cargo lambda build failed ({0}); scripts/venv.sh (which every test script runs) installs cargo-lambda and zig into .venv")]
    LambdaBuild(String),
    #[error("{0}: {1}")]
    File(PathBuf, std::io::Error),
    #[error(transparent)]
    Template(#[from] functions::TemplateError),
}

fn main() -> ExitCode {
    let arguments = Arguments::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("edl-coldstart: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(arguments)) {
        Ok(table) => {
            print!("{table}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("edl-coldstart: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(arguments: Arguments) -> Result<String, BenchError> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let chosen = chosen(&arguments.functions)?;
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"));
    if let Some(architecture) = arguments.sizes_for {
        return sizes(&root, &target, &arguments.profile, architecture, &chosen);
    }
    let build_name = format!("{:?}", arguments.build).to_lowercase();
    let built = target.join("coldstart").join(&arguments.profile).join(&build_name);
    if !arguments.no_build {
        build(&root, &target, &built, &arguments.profile, arguments.build, &chosen)?;
    }
    let template = root.join("template.yaml");
    let mut candidates: Vec<(PathBuf, BTreeMap<String, String>, bytes::Bytes, Runs)> = Vec::new();
    let bare = built.join(BARE);
    candidates.push((
        bare.clone(),
        BTreeMap::new(),
        bytes::Bytes::from_static(br#"{"ping":1}"#),
        runs_of(BARE, &bare)?,
    ));
    for function in &chosen {
        let binary = built.join(function.binary);
        let event = std::fs::read(root.join("events").join(function.event))
            .map_err(|e| BenchError::File(root.join("events").join(function.event), e))?;
        candidates.push((
            binary.clone(),
            functions::environment(&template, function.binary)?,
            event.into(),
            runs_of(function.binary, &binary)?,
        ));
    }
    let timeout = Duration::from_secs(arguments.timeout_seconds);
    let count = candidates.len();
    for run in 0..arguments.runs as usize {
        eprintln!("run {}/{}", run + 1, arguments.runs);
        // Interleaved, each run in a rotated order, so that a noisy moment of the machine spreads over every binary.
        for offset in 0..count {
            let (binary, environment, event, runs) = &mut candidates[(run + offset) % count];
            match measure::cold_start(binary, environment, event.clone(), timeout).await {
                Ok(sample) => runs.samples.push(sample),
                Err(e) => runs.failures.push(e.to_string()),
            }
        }
    }
    let mut all = candidates.into_iter().map(|(_, _, _, runs)| runs);
    let bare = all.next().unwrap_or_default();
    let functions: Vec<Runs> = all.collect();
    Ok(format!(
        "Cold starts, profile `{}`, built `{}`, {} interleaved runs, medians:\n\n{}",
        arguments.profile,
        build_name,
        arguments.runs,
        report::table(&bare, &functions)
    ))
}

fn chosen(names: &[String]) -> Result<Vec<Function>, BenchError> {
    if names.is_empty() {
        return Ok(FUNCTIONS.to_vec());
    }
    names
        .iter()
        .map(|name| {
            FUNCTIONS.iter().copied().find(|f| f.binary == name).ok_or_else(|| {
                let all: Vec<&str> = FUNCTIONS.iter().map(|f| f.binary).collect();
                BenchError::UnknownFunction(name.clone(), all.join(", "))
            })
        })
        .collect()
}

fn runs_of(name: &str, binary: &Path) -> Result<Runs, BenchError> {
    let size_bytes = std::fs::metadata(binary)
        .map_err(|e| BenchError::File(binary.to_path_buf(), e))?
        .len();
    Ok(Runs {
        binary: name.to_string(),
        size_bytes,
        ..Runs::default()
    })
}

/// Builds the bare binary and the functions with `profile`, then copies them into `into`, so that the binaries
/// of one way of building are not replaced by another's.
fn build(
    root: &Path,
    target: &Path,
    into: &Path,
    profile: &str,
    how: Build,
    chosen: &[Function],
) -> Result<(), BenchError> {
    std::fs::create_dir_all(into).map_err(|e| BenchError::File(into.to_path_buf(), e))?;
    let output = target.join(match profile {
        "dev" | "test" => "debug",
        "bench" => "release",
        other => other,
    });
    cargo(root, profile, &["-p", "edl-coldstart", "--bin", BARE])?;
    copy(&output.join(BARE), &into.join(BARE))?;
    match how {
        Build::Sam => {
            let template = root.join("template.yaml");
            for function in chosen {
                let directory = root.join(functions::code_uri(&template, function.binary)?);
                cargo(&directory, profile, &["--bin", function.binary])?;
                copy(&output.join(function.binary), &into.join(function.binary))?;
            }
        }
        Build::Package => {
            for function in chosen {
                cargo(root, profile, &["-p", function.package, "--bin", function.binary])?;
                copy(&output.join(function.binary), &into.join(function.binary))?;
            }
        }
    }
    Ok(())
}

/// `cargo build` in `directory` (the workspace root, or a function's package directory).
fn cargo(directory: &Path, profile: &str, arguments: &[&str]) -> Result<(), BenchError> {
    eprintln!(
        "({}) cargo build --profile {profile} {}",
        directory.display(),
        arguments.join(" ")
    );
    let mut command = cargo_in(directory);
    command
        .args(["build", "--locked", "--profile", profile])
        .args(arguments);
    build_to_end(command, BenchError::Build)
}

/// Cargo (the one running this tool, when it does) in `directory`.
fn cargo_in(directory: &Path) -> std::process::Command {
    let mut command = std::process::Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    command.current_dir(directory);
    command
}

/// Runs a build to its end; `failed` says how one that did not succeed failed.
fn build_to_end(mut command: std::process::Command, failed: fn(String) -> BenchError) -> Result<(), BenchError> {
    let status = command.status().map_err(BenchError::Cargo)?;
    if status.success() {
        Ok(())
    } else {
        Err(failed(status.to_string()))
    }
}

/// Every chosen function built for `architecture` as `sam build` builds it, and the table of their sizes.
fn sizes(
    root: &Path,
    target: &Path,
    profile: &str,
    architecture: Architecture,
    chosen: &[Function],
) -> Result<String, BenchError> {
    let template = root.join("template.yaml");
    // cargo-lambda and zig as scripts/venv.sh installs them, before whatever else the path holds.
    let mut path = vec![root.join(".venv/bin")];
    path.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
    let path = std::env::join_paths(path).map_err(|e| BenchError::LambdaBuild(e.to_string()))?;
    let mut rows = Vec::new();
    for function in chosen {
        let directory = root.join(functions::code_uri(&template, function.binary)?);
        cargo_lambda(&directory, &path, profile, architecture, function.binary)?;
        let bootstrap = target.join("lambda").join(function.binary).join("bootstrap");
        let binary = std::fs::read(&bootstrap).map_err(|e| BenchError::File(bootstrap.clone(), e))?;
        rows.push(report::Size {
            binary: function.binary.to_string(),
            bytes: binary.len() as u64,
            deflated_bytes: report::deflated_len(&binary),
        });
    }
    Ok(format!(
        "Sizes, profile `{profile}`, built for {} as `sam build` builds them:\n\n{}",
        architecture.name(),
        report::sizes(&rows)
    ))
}

/// `cargo lambda build` in a function's directory, with `path` as the tools' search path.
fn cargo_lambda(
    directory: &Path,
    path: &std::ffi::OsStr,
    profile: &str,
    architecture: Architecture,
    binary: &str,
) -> Result<(), BenchError> {
    let profile_arguments: Vec<&str> = if profile == "release" {
        vec!["--release"]
    } else {
        vec!["--profile", profile]
    };
    eprintln!(
        "({}) cargo lambda build {} {} --bin {binary}",
        directory.display(),
        profile_arguments.join(" "),
        architecture.flag()
    );
    let mut command = cargo_in(directory);
    command
        .env("PATH", path)
        .args(["lambda", "build", "--locked", architecture.flag(), "--bin", binary])
        .args(&profile_arguments);
    build_to_end(command, BenchError::LambdaBuild)
}

fn copy(from: &Path, to: &Path) -> Result<(), BenchError> {
    std::fs::copy(from, to)
        .map(|_| ())
        .map_err(|e| BenchError::File(from.to_path_buf(), e))
}
