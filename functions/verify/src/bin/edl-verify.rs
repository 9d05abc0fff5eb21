//! `edl-verify`: checks a licence's or a truck pass's show code offline against the published trust document,
//! and says why it fails.

// A command-line tool: its output is for the person at the terminal (Lambda code logs through tracing).
#![allow(clippy::print_stdout)]

use edl_verify::offline::verify;
use std::process::ExitCode;

const USAGE: &str = "\
edl-verify: check an electronic driving licence or truck pass show code offline

USAGE:
  edl-verify --trust TRUST.json [--at RFC3339] CODE
      TRUST.json is the document published at GET /.well-known/edl/trust.
      CODE is the QR content (EDL2:... or TRK2:...). Exit status 0 when the code
      verifies. This checks format, key, certificate chain, signature and
      validity; the live state (a superseded licence, a revoked pass) and
      whether a pass covers a zone now need POST /verifications or
      POST /truck/verifications.
";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut trust_path = None;
    let mut at = None;
    let mut code = None;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "--trust" => trust_path = iter.next().cloned(),
            "--at" => at = iter.next().cloned(),
            "-h" | "--help" => {
                print!("{USAGE}");
                return ExitCode::SUCCESS;
            }
            other => code = Some(other.to_string()),
        }
    }
    let (Some(trust_path), Some(code)) = (trust_path, code) else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
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
