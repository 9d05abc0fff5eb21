//! Independent decoders read what the credential formats write: Python's `cwt` and `cbor2` packages (pinned in
//! scripts/requirements-dev.txt) decode a show code, with no Rust code of ours in the loop.

// A test binary: its helpers fail the test by panicking, as the tests themselves do.
#![allow(clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use shared::credential::showcode::{self, CodeKind, Colour, ShowClaims};
use shared::crypto::LocalSigner;
use shared::ports::Signer;

/// The test venv's python, which scripts/test.sh exports; a missing one fails the test.
fn python() -> String {
    match std::env::var("EDL_PYTHON") {
        Ok(python) if !python.is_empty() => python,
        _ => panic!(
            "EDL_PYTHON is not set. These tests run Python's cwt and cbor2 packages: run scripts/test.sh, \
             or install scripts/requirements-dev.txt into a venv and set EDL_PYTHON=<venv>/bin/python"
        ),
    }
}

/// Runs `script` with `args`; its standard output is one JSON document.
fn run_python(script: &str, args: &[&str]) -> Value {
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(script)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", python()));
    assert!(
        output.status.success(),
        "python failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "python printed no JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// Strips the prefix, Base45 (RFC 9285, written out here), zlib; then python-cwt verifies the
/// COSE_Sign1 with the given JWK and reads the claims, and cbor2 reads the raw claims map.
const READ_SHOW_CODE: &str = r#"
import json, sys, zlib
import cbor2, cwt
from cwt import COSEKey

code, jwk = sys.argv[1], json.loads(sys.argv[2])
prefix, body = code[:5], code[5:]
alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
packed = bytearray()
for i in range(0, len(body), 3):
    digits = [alphabet.index(c) for c in body[i:i + 3]]
    n = sum(d * 45 ** k for k, d in enumerate(digits))
    packed += n.to_bytes(2 if len(digits) == 3 else 1, "big")
cose = zlib.decompress(bytes(packed))

claims = cwt.decode(cose, COSEKey.from_jwk(jwk))
read = cwt.Claims.new(claims)
message = cbor2.loads(cose)
payload = cbor2.loads(message.value[2])
print(json.dumps({
    "prefix": prefix,
    "tag": message.tag,
    "iss": read.iss,
    "exp": read.exp,
    "iat": read.iat,
    "cti": payload[7].hex(),
    "keys": list(payload.keys()),
    "private": {str(k): v for k, v in payload.items() if k < -65536},
}))
"#;

#[tokio::test]
async fn python_cwt_reads_exp_and_iat_of_a_show_code() {
    let signer = LocalSigner::new();
    signer.generate("ds");
    let public = signer.public_key("ds").await.expect("public key");
    // python-cwt checks exp against its own clock, so the code is minted now.
    let now = chrono::Utc::now().timestamp();
    let claims = ShowClaims {
        kind: CodeKind::Licence,
        serial: "11000026112500001234".into(),
        colour: Colour::Red,
        issued_at: now - 5,
        expires_at: now + 300,
        nonce: [9, 8, 7, 6, 5, 4, 3, 2],
    };
    let code = showcode::encode(&claims, &signer, "ds", b"kid-2026")
        .await
        .expect("a code");
    let jwk = json!({
        "kty": "EC",
        "crv": "P-256",
        "alg": "ES256",
        "kid": "kid-2026",
        "x": URL_SAFE_NO_PAD.encode(&public[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&public[33..65]),
    });
    let read = run_python(READ_SHOW_CODE, &[&code, &jwk.to_string()]);
    assert_eq!(read["prefix"], "EDL2:");
    assert_eq!(read["tag"], 18);
    assert_eq!(read["iss"], showcode::ISSUER);
    assert_eq!(read["exp"], json!(claims.expires_at), "{read}");
    assert_eq!(read["iat"], json!(claims.issued_at), "{read}");
    assert_eq!(read["cti"], "0908070605040302");
    assert_eq!(read["keys"], json!([1, 4, 6, 7, -65537, -65538, -65539]));
    assert_eq!(
        read["private"],
        json!({ "-65537": "edl", "-65538": "11000026112500001234", "-65539": "red" })
    );

    // And python-cwt refuses it under another key.
    let other = LocalSigner::new();
    other.generate("other");
    let other_public = other.public_key("other").await.expect("public key");
    let wrong = json!({
        "kty": "EC", "crv": "P-256", "alg": "ES256", "kid": "kid-2026",
        "x": URL_SAFE_NO_PAD.encode(&other_public[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&other_public[33..65]),
    });
    let output = std::process::Command::new(python())
        .arg("-c")
        .arg(READ_SHOW_CODE)
        .args([&code, &wrong.to_string()])
        .output()
        .expect("python runs");
    assert!(!output.status.success(), "python-cwt accepted another key's signature");
}
