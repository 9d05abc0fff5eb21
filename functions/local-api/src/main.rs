//! `edl-local`: run the local API, or print the sample register as JSON Lines.

// A command-line tool: its output is for the person at the terminal (Lambda code logs through tracing).
#![allow(clippy::print_stdout)]

use edl_local_api::consoles::{Consoles, SignIn, PREFIX, PUBLISH_USAGE};
use edl_local_api::routes::{routes_from_template, TEMPLATE};
use edl_local_api::server::{serve, LocalApi};
use edl_local_api::{local_services, Storage};
use shared::dev::DevKeys;
use shared::kernel::caller::Role;
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
      is given. The consoles are served at /consoles/ with a development
      sign-in, or with the config.json that EDL_CONSOLE_CONFIG names.
  edl-local samples [--count N] [--seed N]
      Print N sample licences as JSON Lines (the import format of POST /admin/licences).
  edl-local keys bootstrap --iaca-key KMS_KEY --ds-key KMS_KEY
  edl-local keys add-signer --key KMS_KEY
  edl-local keys retire --kid KID
  edl-local keys list
      Administer the certificates in the DynamoDB table TABLE_NAME with keys in
      KMS (AWS credentials and AWS_REGION from the environment): create the
      IACA root and a document signer (both signed through KMS), add a document
      signer for rotation, retire one (it still verifies what it signed).
";

struct Options {
    command: String,
    subcommand: Option<String>,
    iaca_key: Option<String>,
    key: Option<String>,
    kid: Option<String>,
    port: u16,
    samples: Option<usize>,
    seed: u64,
    aws: bool,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut options = Options {
        command: "serve".into(),
        subcommand: None,
        iaca_key: None,
        key: None,
        kid: None,
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
    if options.command == "keys" {
        options.subcommand = iter.next().cloned();
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
            "--iaca-key" => options.iaca_key = Some(value("--iaca-key")?),
            "--ds-key" | "--key" => options.key = Some(value(arg)?),
            "--kid" => options.kid = Some(value("--kid")?),
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
    if args.first().map(String::as_str) == Some("consoles") {
        return match edl_local_api::consoles::command(&args[1..]).await {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("edl-local consoles: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let options = match parse(&args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("edl-local: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match options.command.as_str() {
        "help" => {
            print!("{USAGE}{PUBLISH_USAGE}");
            ExitCode::SUCCESS
        }
        "samples" => {
            let licences = shared::sample::generate(options.samples.unwrap_or(10_000), options.seed);
            print!("{}", shared::sample::to_json_lines(&licences));
            ExitCode::SUCCESS
        }
        "keys" => match keys(&options).await {
            Ok(report) => {
                println!("{report}");
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("edl-local keys: {e}");
                ExitCode::FAILURE
            }
        },
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

/// `edl-local keys ...`: certificates in the deployment's table, keys in KMS.
async fn keys(options: &Options) -> Result<String, String> {
    use shared::adapters::dynamodb::DynamoRecords;
    use shared::adapters::kms::KmsSigner;
    use shared::service::keys::Authority;
    use shared::service::Services;
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME names the deployment's table")?;
    let config = shared::adapters::aws::sdk_config().await;
    let records = Arc::new(DynamoRecords::new(
        shared::adapters::aws::dynamodb_client(&config),
        table,
    ));
    let mut services = Services::new(
        records,
        Arc::new(shared::kernel::time::SystemClock),
        Arc::new(shared::adapters::NoLivenessService),
    );
    services.signer = Some(Arc::new(KmsSigner::new(&config)));
    let authority = Authority::default();
    let entries = match options.subcommand.as_deref() {
        Some("bootstrap") => {
            let iaca = options.iaca_key.as_deref().ok_or("--iaca-key is required")?;
            let ds = options.key.as_deref().ok_or("--ds-key is required")?;
            vec![
                services
                    .install_iaca(&authority, iaca)
                    .await
                    .map_err(|e| e.to_string())?,
                services
                    .add_document_signer(&authority, ds)
                    .await
                    .map_err(|e| e.to_string())?,
            ]
        }
        Some("add-signer") => {
            let key = options.key.as_deref().ok_or("--key is required")?;
            vec![services
                .add_document_signer(&authority, key)
                .await
                .map_err(|e| e.to_string())?]
        }
        Some("retire") => {
            let kid = options.kid.as_deref().ok_or("--kid is required")?;
            vec![services.retire_document_signer(kid).await.map_err(|e| e.to_string())?]
        }
        Some("list") => services.records.trust().await.map_err(|e| e.to_string())?,
        other => return Err(format!("unknown keys command {other:?}; see --help")),
    };
    let lines: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{:?}\t{}\t{:?}\tkey {}\tcreated {}",
                e.role, e.kid, e.status, e.key_id, e.created_at
            )
        })
        .collect();
    Ok(lines.join("\n"))
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
    let consoles = Consoles::from_env().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let api = Arc::new(
        LocalApi::new(
            local.services,
            routes,
            keys,
            local.embedded_photos,
            local.notices,
            local.approvals,
        )
        .with_consoles(consoles),
    );
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
    println!(
        "edl-local: serving {} routes from template.yaml on {base}",
        api.routes.len()
    );
    println!("  records: {storage}; {samples} sample licences loaded");
    for route in &api.routes {
        println!("  {:<7} {:<36} -> {}", route.method, route.path, route.function);
    }
    let sign_in = match api.consoles.config().sign_in {
        SignIn::Development => "development sign-in: pick a role",
        SignIn::Oidc => "OpenID Connect sign-in",
    };
    println!("\nConsoles (reviewer, counter, administrator, verifier, fleet): {base}{PREFIX} ({sign_in})");
    println!("\nDevelopment tokens (valid 12 hours, for this server process only):");
    for role in [
        Role::Holder,
        Role::Clerk,
        Role::Reviewer,
        Role::Officer,
        Role::FleetManager,
        Role::Admin,
    ] {
        let (token, claims) = api.mint(role, None, None, None);
        println!("  {role:<8} (sub {}): {token}", claims.sub);
    }
    println!(
        "\nMint others:  curl -s -X POST {base}/_dev/tokens -d '{{\"role\":\"holder\",\"sub\":\"310104199208152623\"}}'"
    );
    println!("Liveness:     curl -s -X POST {base}/_dev/liveness -d '{{\"holderId\":\"11010519900307451X\"}}'");
    if api.embedded_photos.is_none() {
        println!(
            "Photo events: after an upload to S3, run its checks with\n              curl -s -X POST {base}/_dev/photo-events -d '{{\"key\":\"photos/<application>/<upload>\"}}'"
        );
    }
    println!("Stop with Ctrl-C.");
}
