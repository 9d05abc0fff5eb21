//! `edl-verify`: checks a licence's or a truck pass's show code offline against the published trust document,
//! and says why it fails.

// A command-line tool: its output is for the person at the terminal (Lambda code logs through tracing).
#![allow(clippy::print_stdout)]

use clap::Parser;
use edl_verify::offline::verify;
use std::process::ExitCode;

/// edl-verify: check an electronic driving licence or truck pass show code offline.
///
/// This checks format, key, certificate chain, signature and validity; the live state (a superseded
/// licence, a revoked pass) and whether a pass covers a zone now need POST /verifications or
/// POST /truck/verifications. Exit status 0 when the code verifies.
#[derive(Debug, Parser)]
#[command(name = "edl-verify")]
struct Cli {
    /// The trust document published at GET /.well-known/edl/trust.
    #[arg(long, value_name = "TRUST.json")]
    trust: String,
    /// The moment to check at (RFC 3339); now by default.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// The QR content (EDL2:... or TRK2:...); quote it, as it may hold two spaces in a row.
    code: String,
}

fn main() -> ExitCode {
    let Cli {
        trust: trust_path,
        at,
        code,
    } = Cli::parse();
    let now = match at.as_deref().map(chrono::DateTime::parse_from_rfc3339) {
        None => chrono::Utc::now(),
        Some(Ok(t)) => t.with_timezone(&chrono::Utc),
        Some(Err(e)) => {
            eprintln!("edl-verify: --at is not an RFC 3339 time: {e}");
            return ExitCode::from(2);
        }
    };
    let trust = match std::fs::read_to_string(&trust_path).map(|t| serde_json::from_str::<serde_json::Value>(&t)) {
        Ok(Ok(trust)) => trust,
        Ok(Err(e)) => {
            eprintln!("edl-verify: {trust_path} is not JSON: {e}");
            return ExitCode::from(2);
        }
        Err(e) => {
            eprintln!("edl-verify: cannot read {trust_path}: {e}");
            return ExitCode::from(2);
        }
    };
    match verify(&trust, &code, now) {
        Ok(claims) => {
            let what = match claims.kind {
                shared::credential::showcode::CodeKind::Licence => "licence",
                shared::credential::showcode::CodeKind::TruckPass => "truck pass",
            };
            println!(
                "valid: {what} {} is {} (code issued {}, expires {})",
                claims.serial,
                claims.colour.as_str(),
                chrono::DateTime::from_timestamp(claims.issued_at, 0).unwrap_or_default(),
                chrono::DateTime::from_timestamp(claims.expires_at, 0).unwrap_or_default()
            );
            ExitCode::SUCCESS
        }
        Err((reason, detail)) => {
            println!("invalid: {reason}: {detail}");
            ExitCode::FAILURE
        }
    }
}
