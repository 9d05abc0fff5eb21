//! `edl-local`: run the local API, or print the sample register as JSON Lines.

// A command-line tool: its output is for the person at the terminal (Lambda code logs through tracing).
#![allow(clippy::print_stdout)]

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use clap::{Args, Parser, Subcommand};
use edl_local_api::consoles::{Consoles, Publish, SignIn, PREFIX};
use edl_local_api::routes::{routes_from_template, TEMPLATE};
use edl_local_api::server::{serve, LocalApi};
use edl_local_api::{local_services, Storage};
use shared::dev::DevKeys;
use shared::kernel::caller::Role;
use shared::service::verification::IacaPin;
use shared::verification::ports::TrustRole;
use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::sync::Arc;

/// edl-local: the electronic driving licence API on your machine.
#[derive(Debug, Parser)]
#[command(name = "edl-local", args_conflicts_with_subcommands = true)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// `edl-local` with no command serves.
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve every HTTP function of template.yaml on 127.0.0.1 (what edl-local does with no command).
    ///
    /// Storage is in-process, with sample licences. With AWS_ENDPOINT_URL set (e.g. a running ministack) or --aws, records go to the DynamoDB table
    /// TABLE_NAME (default edl-local) and photos to the S3 bucket PHOTO_BUCKET (default edl-photos-local)
    /// instead; both are created when AWS_ENDPOINT_URL is set, and samples are loaded only when --samples
    /// is given. The consoles are served at /consoles/ with a development sign-in, or with the config.json
    /// that EDL_CONSOLE_CONFIG names. With the AWS adapters, IACA_SHA256 is the fingerprint of the IACA to
    /// trust when this run did not create it (a deployed stack's, or an emulator's from an earlier run);
    /// without it nothing verifies or signs.
    Serve(ServeArgs),
    /// Print sample licences as JSON Lines (the import format of POST /admin/licences).
    Samples {
        /// How many licences.
        #[arg(long, visible_alias = "samples", default_value_t = 10_000)]
        count: usize,
        #[arg(long, default_value_t = 2026)]
        seed: u64,
    },
    /// Administer the certificates in the deployment's table, with keys in KMS.
    ///
    /// The table is TABLE_NAME; AWS credentials and AWS_REGION come from the environment.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The browser consoles of a deployment.
    #[command(subcommand)]
    Consoles(ConsolesCommand),
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[arg(long, default_value_t = 3000)]
    port: u16,
    /// Sample licences to load (10,000 in memory by default; none with the AWS adapters unless given).
    #[arg(long)]
    samples: Option<usize>,
    #[arg(long, default_value_t = 2026)]
    seed: u64,
    /// Use the AWS adapters (DynamoDB, S3) even without AWS_ENDPOINT_URL.
    #[arg(long)]
    aws: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Create the IACA root and a document signer, both signed through KMS.
    ///
    /// Prints the IACA certificate's SHA-256 fingerprint: the stack's IacaSha256 parameter.
    Bootstrap {
        #[arg(long, value_name = "KMS_KEY")]
        iaca_key: String,
        #[arg(long, value_name = "KMS_KEY")]
        ds_key: String,
    },
    /// Add a document signer, for rotation.
    ///
    /// It is certified under the IACA that IACA_SHA256 names (a row alone is never trusted).
    AddSigner {
        #[arg(long, value_name = "KMS_KEY")]
        key: String,
    },
    /// Retire a document signer (it still verifies what it signed).
    Retire {
        #[arg(long)]
        kid: String,
    },
    /// List the certificates.
    List,
}

#[derive(Debug, Subcommand)]
enum ConsolesCommand {
    /// Upload the consoles and their config.json to the stack's ConsoleBucket.
    ///
    /// The consoles (consoles/dist, compiled in) sign in at the OpenID Connect issuer with the client id (PKCE) and calling the API at API_URL (the
    /// stack outputs ConsoleBucketName, ApiUrl; the parameters JwtIssuer, ConsoleClientId, ConsoleLoginOrigin).
    Publish(Publish),
}

#[tokio::main]
async fn main() -> ExitCode {
    shared::telemetry::init_tracing();
    let cli = Cli::parse();
    let (what, outcome) = match cli.command {
        None => ("edl-local", run(cli.serve).await.map(|()| String::new())),
        Some(Command::Serve(serve)) => ("edl-local", run(serve).await.map(|()| String::new())),
        Some(Command::Samples { count, seed }) => {
            let licences = shared::sample::generate(count, seed);
            print!("{}", shared::sample::to_json_lines(&licences));
            return ExitCode::SUCCESS;
        }
        Some(Command::Keys(command)) => ("edl-local keys", keys(command).await),
        Some(Command::Consoles(ConsolesCommand::Publish(publish))) => (
            "edl-local consoles",
            edl_local_api::consoles::publish_command(publish).await,
        ),
    };
    match outcome {
        Ok(report) => {
            if !report.is_empty() {
                println!("{report}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{what}: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `edl-local keys ...`: certificates in the deployment's table, keys in KMS.
async fn keys(command: KeysCommand) -> Result<String, String> {
    use shared::adapters::dynamodb::DynamoRecords;
    use shared::adapters::kms::KmsSigner;
    use shared::service::keys::Authority;
    use shared::service::{Services, Signing};
    let table = std::env::var("TABLE_NAME").map_err(|_| "TABLE_NAME names the deployment's table")?;
    let config = shared::adapters::aws::sdk_config().await.map_err(|e| e.to_string())?;
    let records = Arc::new(DynamoRecords::new(
        shared::adapters::aws::dynamodb_client(&config),
        table,
    ));
    let services = Services::new(
        records,
        Arc::new(shared::kernel::time::SystemClock),
        Arc::new(shared::adapters::NoLivenessService),
    );
    pin_from_environment(&services)?;
    let services = Signing::new(services, Arc::new(KmsSigner::new(&config)));
    let authority = Authority::default();
    let bootstrap = matches!(command, KeysCommand::Bootstrap { .. });
    let entries = match command {
        KeysCommand::Bootstrap { iaca_key, ds_key } => vec![
            services
                .install_iaca(&authority, &iaca_key)
                .await
                .map_err(|e| e.to_string())?,
            services
                .add_document_signer(&authority, &ds_key)
                .await
                .map_err(|e| e.to_string())?,
        ],
        KeysCommand::AddSigner { key } => vec![services
            .add_document_signer(&authority, &key)
            .await
            .map_err(|e| e.to_string())?],
        KeysCommand::Retire { kid } => vec![services.retire_document_signer(&kid).await.map_err(|e| e.to_string())?],
        KeysCommand::List => services.records.trust().await.map_err(|e| e.to_string())?,
    };
    let pinned = services.trust_cache.iaca_pin();
    let mut lines: Vec<String> = entries
        .iter()
        .map(|e| {
            let mut line = format!(
                "{:?}\t{}\t{:?}\tkey {}\tcreated {}",
                e.role, e.kid, e.status, e.key_id, e.created_at
            );
            if e.role == TrustRole::Iaca {
                let fingerprint = STANDARD.decode(&e.certificate).map(|der| IacaPin::of(&der));
                if let Ok(fingerprint) = fingerprint {
                    let mark = if pinned == Some(fingerprint) { " (pinned)" } else { "" };
                    line.push_str(&format!("\tsha256 {fingerprint}{mark}"));
                }
            }
            line
        })
        .collect();
    if bootstrap {
        if let Some(pin) = pinned {
            lines.push(format!(
                "\nIACA fingerprint: {pin}\nDeploy with it, so that the functions trust this IACA and no other:\n  \
                 sam deploy --parameter-overrides IacaSha256={pin} (and your other parameters)"
            ));
        }
    }
    Ok(lines.join("\n"))
}

/// Pins the IACA named by `IACA_SHA256`, when set.
fn pin_from_environment(services: &shared::service::Services) -> Result<(), String> {
    if let Some(text) = std::env::var("IACA_SHA256").ok().filter(|t| !t.is_empty()) {
        let pin = IacaPin::parse(&text).map_err(|e| format!("IACA_SHA256: {e}"))?;
        services.trust_cache.pin_iaca(pin);
    }
    Ok(())
}

async fn run(options: ServeArgs) -> Result<(), String> {
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
    // In memory the server makes its own IACA each start and trusts it; with AWS adapters it trusts the
    // one it just created, or the one IACA_SHA256 names.
    if matches!(storage, Storage::Aws { .. }) {
        pin_from_environment(&local.services)?;
    }
    let consoles = Consoles::from_env().map_err(|e| e.to_string())?;
    let listener = tokio::net::TcpListener::bind(address)
        .await
        .map_err(|e| format!("cannot listen on {address}: {e}"))?;
    let development = edl_local_api::development_allowed(options.aws, endpoint.as_deref());
    let api = LocalApi::new(
        local.services,
        local.ports,
        routes,
        keys,
        local.embedded_photos,
        local.notices,
        local.approvals,
    )
    .with_consoles(consoles)
    .with_development(local.clock, local.key_maker)
    .with_liveness(local.liveness);
    let api = Arc::new(if development { api } else { api.against_real_aws() });
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
        "edl-local: serving {} routes from template.yaml on {base} ({})",
        api.routes.len(),
        shared::dev::DEVELOPMENT_CODE
    );
    println!("  records: {storage}; {samples} sample licences loaded");
    match api.services.trust_cache.iaca_pin() {
        Some(pin) => println!("  trusted IACA (SHA-256): {pin}"),
        None => println!("  no IACA trusted: set IACA_SHA256 (edl-local keys list prints the fingerprints); nothing verifies or signs"),
    }
    for route in &api.routes {
        println!("  {:<7} {:<36} -> {}", route.method, route.path, route.function);
    }
    let sign_in = match api.consoles.config().sign_in {
        SignIn::Development => "development sign-in: pick a role",
        SignIn::Oidc => "OpenID Connect sign-in",
    };
    println!("\nConsoles (reviewer, counter, administrator, verifier, fleet): {base}{PREFIX} ({sign_in})");
    if !api.development_allowed() {
        println!(
            "\nAgainst real AWS: no development token is accepted and no /_dev/ route is served; \
             only requests addressed to loopback are answered. Stop with Ctrl-C."
        );
        return;
    }
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
    println!("Liveness:     after POST /applications/<id>/liveness-sessions, finish the session as the app would with\n              curl -s -X POST {base}/_dev/liveness -d '{{\"sessionId\":\"<session>\"}}'");
    println!("Time travel:  curl -s -X POST {base}/_dev/clock -d '{{\"advance\":\"400d\"}}'   (then POST /_dev/jobs/refresh, /_dev/jobs/expire, /_dev/jobs/status-lists)");
    if api.embedded_photos.is_none() {
        println!(
            "Photo events: after an upload to S3, run its checks with\n              curl -s -X POST {base}/_dev/photo-events -d '{{\"key\":\"photos/<application>/<upload>\"}}'"
        );
    }
    println!(
        "Imports:      after uploading a register file with the form POST /admin/imports answered, run the job with\n              curl -s -X POST {base}/_dev/jobs/imports"
    );
    println!("Stop with Ctrl-C.");
}
