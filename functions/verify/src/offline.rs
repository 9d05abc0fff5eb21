//! Offline verification of a show code (a licence's or a truck pass's) from the published trust document alone
//! (the `edl-verify` command).

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use shared::credential::{cert, showcode};

/// The document signers or IACA certificates of a trust document, by kid.
fn certificates(trust: &serde_json::Value, key: &str) -> Vec<(String, Vec<u8>)> {
    trust[key]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(|i| {
                    let kid = i["kid"].as_str()?.to_string();
                    let der = STANDARD.decode(i["certificate"].as_str()?).ok()?;
                    Some((kid, der))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Verifies `code` at `now` against `trust`; the claims, or the failed step's reason code and why.
pub fn verify(
    trust: &serde_json::Value,
    code: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<showcode::ShowClaims, (String, String)> {
    let failure = |reason: &str, detail: String| (reason.to_string(), detail);
    // Same order as the online check: format, key, chain, signature, validity.
    // The prefix says which kind to expect; the signed kind claim must agree.
    let kind = if code.trim().starts_with(showcode::CodeKind::TruckPass.prefix()) {
        showcode::CodeKind::TruckPass
    } else {
        showcode::CodeKind::Licence
    };
    let signed = showcode::decode(code.trim(), kind, showcode::DEFAULT_MAX_INFLATED)
        .map_err(|e| failure(e.code(), e.to_string()))?;
    let kid = String::from_utf8_lossy(&signed.kid).into_owned();
    let signers = certificates(trust, "documentSigners");
    let (_, ds) = signers
        .iter()
        .find(|(k, _)| *k == kid)
        .ok_or_else(|| failure("unknown-kid", format!("no published document signer has kid {kid:?}")))?;
    let iacas = certificates(trust, "iaca");
    let signed_at = chrono::DateTime::from_timestamp(signed.claims.issued_at, 0).unwrap_or(now);
    let chained = iacas
        .iter()
        .any(|(_, iaca)| cert::verify_document_signer(iaca, ds, signed_at).is_ok());
    if !chained {
        return Err(failure(
            "untrusted-certificate",
            "the document signer's certificate does not chain to a published IACA".into(),
        ));
    }
    let public = cert::public_key_of(ds).map_err(|e| failure("untrusted-certificate", e.to_string()))?;
    signed.verify(&public).map_err(|e| failure(e.code(), e.to_string()))?;
    showcode::check_time(&signed.claims, now.timestamp(), 30).map_err(|e| failure(e.code(), e.to_string()))?;
    Ok(signed.claims)
}
