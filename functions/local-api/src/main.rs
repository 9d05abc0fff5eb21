//! `edl-local`: run the local API, or print the sample register as JSON Lines.

use edl_local_api::routes::{routes_from_template, TEMPLATE};
use edl_local_api::server::{serve, LocalApi};
use edl_local_api::{local_services, Storage};
use shared::dev::DevKeys;
use shared::domain::caller::Role;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

const USAGE: &str = "\
edl-local: the electronic driving licence API on your machine

USAGE:
  edl-local [serve] [--port N] [--samples N] [--seed N]
      Serve every HTTP function of template.yaml on 127.0.0.1 (default port 3000)
      with in-process storage and N sample licences (default 10000).
      With AWS_ENDPOINT_URL set (e.g. a running ministack) or --aws, records go
      to the DynamoDB table TABLE_NAME (default edl-local) and photos to the S3
      bucket PHOTO_BUCKET (default edl-photos-local) instead; both are created
      when AWS_ENDPOINT_URL is set, and samples are loaded only when --samples
      is given.
  edl-local samples [--count N] [--seed N]
      Print N sample licences as JSON Lines (the import format of POST /admin/licences).
";

struct Options {
    command: String,
    port: u16,
    samples: Option<usize>,
    seed: u64,
    aws: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        command: "serve".into(),
        port: 3000,
        samples: None,
        seed: 2026,
        aws: false,
    };
    let mut iter = args.iter().peekable();
    if let Some(first) = iter.peek() {
        if !first.starts_with('-') {
            options.command = (*first).clone();
            iter.next();
        }
    }
    while let Some(arg) = iter.next() {
        let mut value = |name: &str| iter.next().cloned().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--port" => options.port = value("--port")?.parse().map_err(|_| "--port takes a number")?,
            "--samples" | "--count" => {
                options.samples = Some(value(arg)?.parse().map_err(|_| format!("{arg} takes a number"))?)
            }
            "--seed" => options.seed = value("--seed")?.parse().map_err(|_| "--seed takes a number")?,
            "--aws" => options.aws = true,
            "-h" | "--help" => options.command = "help".into(),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    Ok(options)
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init_tracing();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("edl-local: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match options.command.as_str() {
        "help" => {
            print!("{USAGE}");
            ExitCode::SUCCESS
        }
        "samples" => {
            let licences = shared::sample::generate(options.samples.unwrap_or(10_000), options.seed);
            print!("{}", shared::sample::to_json_lines(&licences));
            ExitCode::SUCCESS
        }
        "serve" => match run(options).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("edl-local: {e}");
                ExitCode::FAILURE
            }
        },
        other => {
            eprintln!("edl-local: unknown command {other}\n\n{USAGE}");
            ExitCode::from(2)
        }
    }
}

async fn run(options: Options) -> Result<(), String> {
    let routes = routes_from_template(TEMPLATE).map_err(|e| e.to_string())?;
    let endpoint = std::env::var("AWS_ENDPOINT_URL").ok().filter(|e| !e.is_empty());
    let storage = if endpoint.is_some() || options.aws {
        Storage::Aws {
            table: std::env::var("TABLE_NAME").unwrap_or_else(|_| "edl-local".into()),
            bucket: std::env::var("PHOTO_BUCKET").unwrap_or_else(|_| "edl-photos-local".into()),
            create: endpoint.is_some(),
        }
    } else {
        Storage::Embedded
    };
    let samples = match (&storage, options.samples) {
        (_, Some(n)) => n,
        (Storage::Embedded, None) => 10_000,
        (Storage::Aws { .. }, None) => 0,
    };
    let keys = DevKeys::random();
    let address = SocketAddr::from((Ipv4Addr::LOCALHOST, options.port));
    let local = local_services(&storage, &keys, samples, options.seed, &format!("http://{address}"))
        .await
        .map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let api = Arc::new(LocalApi::new(local.services, routes, keys, local.embedded_photos));
    print_banner(&api, &storage, samples, address);
    tokio::select! {
        served = serve(api, listener) => served.map_err(|e| e.to_string()),
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}

fn print_banner(api: &LocalApi, storage: &Storage, samples: usize, address: SocketAddr) {
    let base = format!("http://{address}");
    let storage = match storage {
        Storage::Embedded => "in-process (embedded adapters)".to_string(),
        Storage::Aws { table, bucket, .. } => format!(
            "DynamoDB table {table} and S3 bucket {bucket} at {}",
            std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| "AWS".into())
        ),
    };
    println!("edl-local: serving {} routes from template.yaml on {base}", api.routes.len());
    println!("  records: {storage}; {samples} sample licences loaded");
    for route in &api.routes {
        println!("  {:<7} {:<36} -> {}", route.method, route.path, route.function);
    }
    println!("\nDevelopment tokens (valid 12 hours, for this server process only):");
    for role in [Role::Holder, Role::Clerk, Role::Reviewer, Role::Admin] {
        let (token, claims) = api.mint(role, None, None, None);
        println!("  {role:<8} (sub {}): {token}", claims.sub);
    }
    println!(
        "\nMint others:  curl -s -X POST {base}/_dev/tokens -d '{{\"role\":\"holder\",\"sub\":\"310104199208152623\"}}'"
    );
    println!(
        "Liveness:     curl -s -X POST {base}/_dev/liveness -d '{{\"holderId\":\"11010519900307451X\"}}'"
    );
    if api.embedded_photos.is_none() {
        println!(
            "Photo events: after an upload to S3, run its checks with\n              curl -s -X POST {base}/_dev/photo-events -d '{{\"key\":\"photos/<application>/<upload>\"}}'"
        );
    }
    println!("Stop with Ctrl-C.");
}
