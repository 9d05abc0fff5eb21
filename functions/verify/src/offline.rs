//! Offline verification from the published trust document alone (the `edl-verify` command): a show code (a
//! licence's or a truck pass's), and a signed licence document's status read from a downloaded status list.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use shared::credential::{cert, mdoc, showcode, status_list};

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

/// A document's status as a downloaded status list says it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentStatus {
    /// The document's serial (the domestic namespace's), when it carries one.
    pub serial: Option<String>,
    pub uri: String,
    pub idx: u64,
    /// The draft's value: 0 valid, 1 invalid, 2 suspended.
    pub status: u8,
    /// When the list was signed and when it ends (Unix seconds).
    pub list_issued_at: i64,
    pub list_expires_at: i64,
}

impl DocumentStatus {
    /// The status in words.
    pub fn word(&self) -> &'static str {
        match self.status {
            status_list::VALID => "valid",
            status_list::INVALID => "invalid",
            status_list::SUSPENDED => "suspended",
            _ => "unknown",
        }
    }
}

/// The document signer certificate of `kid` in the trust document, if it chains to a published IACA at `at`.
fn trusted_signer(
    trust: &serde_json::Value,
    kid: &str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<u8>, (String, String)> {
    let failure = |reason: &str, detail: String| (reason.to_string(), detail);
    let signers = certificates(trust, "documentSigners");
    let (_, ds) = signers
        .iter()
        .find(|(k, _)| *k == kid)
        .ok_or_else(|| failure("unknown-kid", format!("no published document signer has kid {kid:?}")))?;
    let chained = certificates(trust, "iaca")
        .iter()
        .any(|(_, iaca)| cert::verify_document_signer(iaca, ds, at).is_ok());
    if chained {
        Ok(ds.clone())
    } else {
        Err(failure(
            "untrusted-certificate",
            "the document signer's certificate does not chain to a published IACA".into(),
        ))
    }
}

/// Checks a signed licence document (`IssuerSigned` CBOR) at `now` against `trust`, then reads its status from
/// `token`, the status list its MSO names, downloaded from `GET /status-lists/{id}`: the token's signer must be a
/// published document signer under a published IACA, its signature must verify, it must not have ended (`exp`),
/// and its `sub` must be the URI the document names. The document's status, or the failed step's reason and why.
pub fn document_status(
    trust: &serde_json::Value,
    issuer_signed: &[u8],
    token: &[u8],
    now: chrono::DateTime<chrono::Utc>,
) -> Result<DocumentStatus, (String, String)> {
    let failure = |reason: &str, detail: String| (reason.to_string(), detail);
    let document =
        mdoc::verify_issuer_signed(issuer_signed, now, 30).map_err(|e| failure("bad-document", e.to_string()))?;
    let published = certificates(trust, "documentSigners");
    let ds = published
        .iter()
        .find(|(_, der)| *der == document.document_signer_der)
        .ok_or_else(|| failure("untrusted-certificate", "the document's signer is not published".into()))?;
    trusted_signer(trust, &ds.0, document.signed)?;
    let status = document
        .status
        .ok_or_else(|| failure("no-status", "the document names no status list".into()))?;
    let signed = status_list::decode(token).map_err(|e| failure("bad-status-list", e.to_string()))?;
    let kid = String::from_utf8_lossy(&signed.kid).into_owned();
    let issued_at = chrono::DateTime::from_timestamp(signed.token.issued_at, 0).unwrap_or(now);
    let list_signer = trusted_signer(trust, &kid, issued_at)?;
    let public = cert::public_key_of(&list_signer).map_err(|e| failure("untrusted-certificate", e.to_string()))?;
    signed
        .verify(&public)
        .map_err(|e| failure("bad-signature", e.to_string()))?;
    if signed.token.expires_at <= now.timestamp() {
        return Err(failure(
            "status-list-expired",
            format!(
                "the status list ended at {}: download it again",
                chrono::DateTime::from_timestamp(signed.token.expires_at, 0).unwrap_or_default()
            ),
        ));
    }
    if signed.token.uri != status.uri {
        return Err(failure(
            "wrong-status-list",
            format!("the document names {}, the list is {}", status.uri, signed.token.uri),
        ));
    }
    let value = signed
        .token
        .list
        .get(status.idx)
        .map_err(|e| failure("bad-status-list", e.to_string()))?;
    let serial = document
        .elements
        .get(mdoc::DOMESTIC_NAMESPACE)
        .and_then(|elements| elements.get("licence_serial"))
        .and_then(|serial| serial.as_str())
        .map(str::to_string);
    Ok(DocumentStatus {
        serial,
        uri: status.uri,
        idx: status.idx,
        status: value,
        list_issued_at: signed.token.issued_at,
        list_expires_at: signed.token.expires_at,
    })
}
