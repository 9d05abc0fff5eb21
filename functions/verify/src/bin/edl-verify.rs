//! `edl-verify`: checks a licence's or a truck pass's show code offline against the published trust document,
//! or a signed licence document's status against a downloaded status list, and says why it fails.

// A command-line tool: its output is for the person at the terminal (Lambda code logs through tracing).
#![allow(clippy::print_stdout)]

use clap::Parser;
use edl_verify::offline::verify;
use std::process::ExitCode;

/// edl-verify: check an electronic driving licence or truck pass show code offline.
///
/// With a code: checks format, key, certificate chain, signature and validity; the live state (a
/// superseded licence, a revoked pass) and whether a pass covers a zone now need POST /verifications or
/// POST /truck/verifications. With --mdoc and --status-list: checks the signed licence document and reads
/// its status (valid, invalid, suspended) from the status list it names, downloaded from
/// GET /status-lists/{id}. Exit status 0 when the code verifies, or the document is valid.
#[derive(Debug, Parser)]
#[command(name = "edl-verify")]
struct Cli {
    /// The trust document published at GET /.well-known/edl/trust.
    #[arg(long, value_name = "TRUST.json")]
    trust: String,
    /// The moment to check at (RFC 3339); now by default.
    #[arg(long, value_name = "RFC3339")]
    at: Option<String>,
    /// A signed licence document: a file holding its IssuerSigned CBOR, raw or base64 (GET /licence's `document`).
    #[arg(long, value_name = "FILE", requires = "status_list", conflicts_with = "code")]
    mdoc: Option<String>,
    /// The status list token the document names, as downloaded (application/statuslist+cwt).
    #[arg(long, value_name = "FILE", requires = "mdoc")]
    status_list: Option<String>,
    /// The QR content (EDL2:... or TRK2:...); quote it, as it may hold two spaces in a row.
    #[arg(required_unless_present = "mdoc")]
    code: Option<String>,
}

/// A file's bytes; base64 text is decoded (a document copied from JSON), anything else taken as it is.
fn read_bytes(path: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {path}: {e}"))?;
    let text = std::str::from_utf8(&bytes).map(str::trim).unwrap_or("");
    match base64::engine::general_purpose::STANDARD.decode(text) {
        Ok(decoded) if !text.is_empty() => Ok(decoded),
        _ => Ok(bytes),
    }
}

/// `--mdoc` with `--status-list`: the document's status.
fn check_status(trust: &serde_json::Value, mdoc: &str, list: &str, now: chrono::DateTime<chrono::Utc>) -> ExitCode {
    let (document, token) = match (read_bytes(mdoc), std::fs::read(list)) {
        (Ok(document), Ok(token)) => (document, token),
        (Err(e), _) => {
            eprintln!("edl-verify: {e}");
            return ExitCode::from(2);
        }
        (_, Err(e)) => {
            eprintln!("edl-verify: cannot read {list}: {e}");
            return ExitCode::from(2);
        }
    };
    match edl_verify::offline::document_status(trust, &document, &token, now) {
        Ok(status) => {
            println!(
                "{}: licence {} is {} in {} at {} (list signed {}, ends {})",
                status.word(),
                status.serial.as_deref().unwrap_or("?"),
                status.word(),
                status.uri,
                status.idx,
                chrono::DateTime::from_timestamp(status.list_issued_at, 0).unwrap_or_default(),
                chrono::DateTime::from_timestamp(status.list_expires_at, 0).unwrap_or_default()
            );
            if status.status == shared::credential::status_list::VALID {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err((reason, detail)) => {
            println!("invalid: {reason}: {detail}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let Cli {
        trust: trust_path,
        at,
        mdoc,
        status_list,
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
    if let (Some(mdoc), Some(list)) = (&mdoc, &status_list) {
        return check_status(&trust, mdoc, list, now);
    }
    let Some(code) = code else {
        eprintln!("edl-verify: give a code, or --mdoc with --status-list");
        return ExitCode::from(2);
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
