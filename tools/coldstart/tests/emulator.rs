//! The cold-start benchmark's parts on real processes: the bare binary measured through the emulator (twice: each
//! start has an emulator of its own, so the first one's late request cannot take the second's event), a binary
//! that dies at once reported (not waited on), an AWS call refused at once, and a function's environment read
//! from the template; and what every function is built with.

use bytes::Bytes;
use edl_coldstart::emulator::{Emulator, Outcome};
use edl_coldstart::functions::{code_uri, environment, FUNCTIONS};
use edl_coldstart::measure::{cold_start, MeasureError};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;
use std::time::Duration;

#[tokio::test]
async fn the_bare_binary_starts_and_echoes_its_event() {
    let binary = Path::new(env!("CARGO_BIN_EXE_coldstart-bare"));
    for _ in 0..2 {
        let event = Bytes::from_static(br#"{"ping":1}"#);
        let sample = cold_start(binary, &BTreeMap::new(), event.clone(), Duration::from_secs(30))
            .await
            .unwrap();
        assert_eq!(sample.outcome, Outcome::Response(event));
        assert!(sample.init > Duration::ZERO);
        assert!(
            sample.peak_rss_kib > 0,
            "the peak RSS is read before the process is stopped"
        );
        assert!(sample.threads > 0, "and its threads with it");
        assert_eq!(sample.aws_calls, 0);
    }
}

#[tokio::test]
async fn a_binary_that_exits_at_once_is_reported_not_waited_on() {
    let failed = cold_start(
        Path::new("/bin/false"),
        &BTreeMap::new(),
        Bytes::from_static(b"{}"),
        Duration::from_secs(30),
    )
    .await;
    assert!(matches!(failed, Err(MeasureError::Exited { .. })), "{failed:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_aws_call_is_refused_at_once_and_counted() {
    let emulator = Emulator::start().await.unwrap();
    emulator.begin(Bytes::from_static(b"{}"), "r");
    let address = emulator.runtime_api();
    let answer = tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        stream
            .write_all(b"POST / HTTP/1.1\r\nhost: x\r\nx-amz-target: DynamoDB_20120810.GetItem\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}")
            .unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        answer
    })
    .await
    .unwrap();
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("ResourceNotFoundException"), "{answer}");
    assert_eq!(emulator.observed().aws_calls, 1);
}

#[test]
fn every_function_has_its_template_environment_and_sample_event() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for function in FUNCTIONS {
        let variables = environment(&root.join("template.yaml"), function.binary).unwrap();
        assert!(
            variables.contains_key("TABLE_NAME"),
            "{}: {variables:?}",
            function.binary
        );
        assert!(
            variables
                .values()
                .all(|value| !value.contains("${") && !value.starts_with('!')),
            "{}: {variables:?}",
            function.binary
        );
        assert!(root.join("events").join(function.event).is_file(), "{}", function.event);
    }
    let issue = environment(&root.join("template.yaml"), "issue").unwrap();
    assert!(
        issue["PHOTO_BUCKET"].starts_with("edl-photos-000000000000-us-east-1"),
        "{issue:?}"
    );
    assert!(environment(&root.join("template.yaml"), "no-such-function").is_err());
}

/// `sam build` runs cargo in each function's `CodeUri`: that must be the directory of the function's own package,
/// so that cargo selects it alone (the workspace root would unify every function's features into each binary).
#[test]
fn every_function_is_built_from_its_own_package_directory() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for function in FUNCTIONS {
        let directory = code_uri(&root.join("template.yaml"), function.binary).unwrap();
        assert_ne!(directory, ".", "{}", function.binary);
        let manifest = std::fs::read_to_string(root.join(&directory).join("Cargo.toml")).unwrap();
        assert!(
            manifest.contains(&format!("name = \"{}\"", function.package)),
            "{}: {directory} is not the directory of {}",
            function.binary,
            function.package
        );
        assert!(
            manifest.contains(&format!("name = \"{}\"", function.binary)),
            "{}: {directory}/Cargo.toml has no binary {}",
            function.binary,
            function.binary
        );
    }
}

/// Every function, and the baseline it is measured against, is linked at a fixed address by the same build script
/// (docs/adr/0002-fixed-address-functions.md); the stack test reads the ELF type of what SAM's build produced.
#[test]
fn every_function_and_the_baseline_are_linked_by_the_fixed_address_build_script() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let script = root.join("functions/no-pie.rs");
    assert!(std::fs::read_to_string(&script).unwrap().contains("-no-pie"));
    for function in FUNCTIONS {
        let directory = root.join(code_uri(&root.join("template.yaml"), function.binary).unwrap());
        let manifest = std::fs::read_to_string(directory.join("Cargo.toml")).unwrap();
        let build = manifest
            .lines()
            .find_map(|line| line.strip_prefix("build = \""))
            .and_then(|rest| rest.strip_suffix('"'))
            .unwrap_or_else(|| panic!("{}: no build script", function.binary));
        assert_eq!(
            directory.join(build).canonicalize().unwrap(),
            script.canonicalize().unwrap(),
            "{}",
            function.binary
        );
    }
    let baseline = std::fs::read_to_string(root.join("tools/coldstart/Cargo.toml")).unwrap();
    assert!(baseline.contains("build = \"../../functions/no-pie.rs\""));
}

/// Every function serves its events on one thread (`current_thread`): an execution environment hands it one event at
/// a time, and a multi-threaded runtime would start a worker per CPU at every cold start, none of which would ever
/// have work. `edl-coldstart` shows each binary's threads after its first invocation.
#[test]
fn every_function_serves_on_one_thread() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    for function in FUNCTIONS {
        let directory = root.join(code_uri(&root.join("template.yaml"), function.binary).unwrap());
        let main = std::fs::read_to_string(directory.join("src/main.rs")).unwrap();
        let runtimes: Vec<&str> = main.lines().filter(|line| line.starts_with("#[tokio::main")).collect();
        assert_eq!(
            runtimes,
            ["#[tokio::main(flavor = \"current_thread\")]"],
            "{}",
            function.binary
        );
    }
}

/// aws-lc's C is compiled for size in every function (0.9 MB each on arm64) but verify, which checks P-256
/// signatures on every request (2.7 times slower at "z"): verify, and what the verification benchmark builds from the
/// workspace root, keep opt-level 3.
#[test]
fn aws_lc_is_compiled_for_speed_only_where_signatures_are_verified_per_request() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap();
    let read = |path: &Path| -> toml::Table { toml::from_str(&std::fs::read_to_string(path).unwrap()).unwrap() };
    let level = |document: &toml::Table| {
        document
            .get("profile")
            .and_then(|profile| profile.get("release"))
            .and_then(|release| release.get("package"))
            .and_then(|package| package.get("aws-lc-sys"))
            .and_then(|aws_lc| aws_lc.get("opt-level"))
            .cloned()
    };
    // What cargo gives aws-lc's C when it builds in `directory`, as `sam build` does: the `.cargo/config.toml` in that
    // directory or the nearest above it that sets it (configuration outranks the manifest), else the manifest's.
    let opt_level = |directory: &Path| {
        let mut here = directory.canonicalize().unwrap();
        loop {
            let config = here.join(".cargo/config.toml");
            if let Some(level) = config.exists().then(|| level(&read(&config))).flatten() {
                return level;
            }
            if here == root || !here.pop() {
                break;
            }
        }
        level(&read(&root.join("Cargo.toml"))).unwrap()
    };
    for function in FUNCTIONS {
        let directory = root.join(code_uri(&root.join("template.yaml"), function.binary).unwrap());
        let expected = if function.binary == "verify" {
            toml::Value::Integer(3)
        } else {
            toml::Value::String("z".into())
        };
        assert_eq!(opt_level(&directory), expected, "{}", function.binary);
    }
    assert_eq!(opt_level(&root), toml::Value::Integer(3));
}
