//! Independent decoders read what the credential formats write: Python's `cwt` and `cbor2` packages (pinned in
//! scripts/requirements-dev.txt) decode a show code and a status list token, with no Rust code of ours in the loop.

// A test binary: its helpers fail the test by panicking, as the tests themselves do.
#![allow(clippy::panic)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde_json::{json, Value};
use shared::credential::showcode::{self, CodeKind, Colour, ShowClaims};
use shared::credential::status_list::{self, StatusList, StatusListToken};
use shared::crypto::LocalSigner;
use shared::kernel::signing::Signer;

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

/// cbor2 reads the token (COSE_Sign1 tag 18, its protected header and CWT claims), zlib inflates
/// `lst`, and the draft's packing is applied by hand to read the status of each asked index.
const READ_STATUS_LIST: &str = r#"
import json, sys, zlib
import cbor2

token, indices = bytes.fromhex(sys.argv[1]), json.loads(sys.argv[2])
message = cbor2.loads(token)
protected = cbor2.loads(message.value[0])
claims = cbor2.loads(message.value[2])
status_list = claims[65533]
bits, packed = status_list["bits"], zlib.decompress(status_list["lst"])
per_byte = 8 // bits
def status(index):
    return (packed[index // per_byte] >> ((index % per_byte) * bits)) & ((1 << bits) - 1)
print(json.dumps({
    "tag": message.tag,
    "alg": protected[1],
    "typ": protected[16],
    "sub": claims[2],
    "exp": claims[4],
    "iat": claims[6],
    "ttl": claims[65534],
    "bits": bits,
    "entries": len(packed) * per_byte,
    "statuses": {str(i): status(i) for i in indices},
}))
"#;

#[tokio::test]
async fn python_reads_the_status_list_token() {
    let signer = LocalSigner::new();
    signer.generate("ds");
    let mut list = StatusList::new(2, 1 << 20).expect("a list");
    let set = [(0u64, 1u8), (7, 2), (8, 1), (4_711, 1), (65_536, 2), (1_048_575, 3)];
    for (index, status) in set {
        list.set(index, status).expect("in range");
    }
    let token = StatusListToken {
        uri: "https://edl.example.gov.cn/status/3".into(),
        issued_at: 1_767_225_600,
        expires_at: 1_767_312_000,
        ttl: 43_200,
        list,
    };
    let bytes = status_list::encode(&token, &signer, "ds", b"kid-2026")
        .await
        .expect("a token");
    let asked: Vec<u64> = set.iter().map(|(i, _)| *i).chain([1, 6, 9, 4_710, 1_048_574]).collect();
    let read = run_python(READ_STATUS_LIST, &[&hex::encode(&bytes), &json!(asked).to_string()]);
    assert_eq!(read["tag"], 18);
    assert_eq!(read["alg"], -7);
    assert_eq!(read["typ"], status_list::TOKEN_TYPE);
    assert_eq!(read["sub"], "https://edl.example.gov.cn/status/3");
    assert_eq!(
        (read["iat"].as_i64(), read["exp"].as_i64()),
        (Some(1_767_225_600), Some(1_767_312_000))
    );
    assert_eq!(read["ttl"], 43_200);
    assert_eq!(
        (read["bits"].as_u64(), read["entries"].as_u64()),
        (Some(2), Some(1 << 20))
    );
    for index in asked {
        let ours = token.list.get(index).expect("in range");
        assert_eq!(read["statuses"][index.to_string()], json!(ours), "index {index}");
    }
}
