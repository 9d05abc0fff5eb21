//! The short-lived signed "show code" (QR content) of a licence or truck pass: a CWT in an ES256 COSE_Sign1, zlib, Base45, prefix.
//!
//! The pipeline is the EU Digital COVID Certificate's, so any verifier that
//! reads those (COSE_Sign1 tag 18, zlib with header, RFC 9285 Base45) can read
//! ours given our key. Decoding is split from verification so the verifier can
//! look the key up by `kid` between the two, and so that each failure maps to
//! one stable reason code.
//!
//! The payload is an RFC 8392 CWT claims set. Registered claims keep their registered
//! meaning: `iss` (1) is [`ISSUER`], `exp` (4) and `iat` (6) are whole Unix seconds, `cti` (7)
//! is the 8-byte nonce. The rest are private claims, on keys of RFC 8392's private-use range
//! (below -65536): -65537 the kind (`"edl"` or `"trk"`), -65538 the serial, -65539 the colour
//! (`"green"` or `"red"`). Keys are written in RFC 8949 §4.2.1 deterministic order. The
//! prefix's version is 2 (`EDL2:`, `TRK2:`): version 1 put issued-at, expiry and nonce on
//! keys 4, 5 and 6, which CWT readers take for `exp`, `nbf` and `iat`; its codes are refused
//! as `bad-prefix`.

use crate::crypto::Es256Key;
use crate::kernel::signing::{Signer, SignerError};
use ciborium::value::Value;
use coset::cwt::{ClaimName, ClaimsSet, ClaimsSetBuilder, Timestamp};
use coset::{iana, AsCborValue, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Inflated COSE larger than this is refused: a real code is a few hundred bytes.
pub const DEFAULT_MAX_INFLATED: usize = 4096;

/// The `iss` of every code: the issuing authority (the traffic management bureau of the
/// Ministry of Public Security).
pub const ISSUER: &str = "cn.gov.mps.edl";
/// Private claim: the kind of credential, `"edl"` or `"trk"`.
pub const CLAIM_KIND: i64 = -65537;
/// Private claim: the serial of the licence or pass.
pub const CLAIM_SERIAL: i64 = -65538;
/// Private claim: the status colour, `"green"` or `"red"`.
pub const CLAIM_COLOUR: i64 = -65539;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CodeKind {
    Licence,
    TruckPass,
}

impl CodeKind {
    pub fn prefix(self) -> &'static str {
        match self {
            CodeKind::Licence => "EDL2:",
            CodeKind::TruckPass => "TRK2:",
        }
    }

    /// The value of the kind claim; carried inside the signature so that swapping
    /// the (unsigned) prefix cannot turn one kind of code into the other.
    pub fn claim(self) -> &'static str {
        match self {
            CodeKind::Licence => "edl",
            CodeKind::TruckPass => "trk",
        }
    }

    fn from_claim(value: &str) -> Option<Self> {
        match value {
            "edl" => Some(CodeKind::Licence),
            "trk" => Some(CodeKind::TruckPass),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Colour {
    Green,
    Red,
}

impl Colour {
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Red => "red",
        }
    }

    fn parse(value: &str) -> Option<Self> {
        match value {
            "green" => Some(Colour::Green),
            "red" => Some(Colour::Red),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShowClaims {
    pub kind: CodeKind,
    pub serial: String,
    pub colour: Colour,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Makes two codes minted in the same second differ, so a photographed
    /// code cannot be told apart from a fresh one only by its bytes.
    pub nonce: [u8; 8],
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShowCodeError {
    #[error("the code does not start with the expected prefix {expected}")]
    Prefix { expected: &'static str },
    #[error("the code is not valid Base45: {0}")]
    Base45(String),
    #[error("the code is not a valid zlib stream within the size limit: {0}")]
    Compression(String),
    #[error("the code is not valid CBOR: {0}")]
    Cbor(String),
    #[error("the code is not a COSE_Sign1: {0}")]
    NotCoseSign1(String),
    #[error("the code is not signed with ES256")]
    Algorithm,
    #[error("the code names no key (kid)")]
    MissingKid,
    #[error("the code's claims are not valid: {0}")]
    Claims(String),
    #[error("the code's signature does not verify")]
    Signature,
    #[error("the code is not valid yet")]
    NotYetValid,
    #[error("the code has expired")]
    Expired,
    #[error(transparent)]
    Signer(#[from] SignerError),
}

impl ShowCodeError {
    /// Stable reason code, reported by the verifier.
    pub fn code(&self) -> &'static str {
        match self {
            ShowCodeError::Prefix { .. } => "bad-prefix",
            ShowCodeError::Base45(_) => "bad-base45",
            ShowCodeError::Compression(_) => "bad-compression",
            ShowCodeError::Cbor(_) => "bad-cbor",
            ShowCodeError::NotCoseSign1(_) => "not-cose-sign1",
            ShowCodeError::Algorithm => "wrong-algorithm",
            ShowCodeError::MissingKid => "missing-kid",
            ShowCodeError::Claims(_) => "bad-claims",
            ShowCodeError::Signature => "bad-signature",
            ShowCodeError::NotYetValid => "not-yet-valid",
            ShowCodeError::Expired => "expired",
            ShowCodeError::Signer(_) => "signer-unavailable",
        }
    }
}

/// A parsed code whose signature has not been checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCode {
    pub claims: ShowClaims,
    pub kid: Vec<u8>,
    /// The COSE Sig_structure the signature covers, from the protected header
    /// bytes exactly as received (re-encoding could change them).
    pub tbs: Vec<u8>,
    /// Raw r||s as carried in the code (length checked by `verify`).
    pub signature: Vec<u8>,
}

impl SignedCode {
    /// Checks the ES256 signature with the issuer's key (SEC1); a malformed
    /// key or signature is a bad signature too.
    pub fn verify(&self, public_sec1: &[u8]) -> Result<(), ShowCodeError> {
        match Es256Key::from_sec1(public_sec1) {
            Some(key) => self.verify_with(&key),
            None => Err(ShowCodeError::Signature),
        }
    }

    /// [`Self::verify`] with a key parsed once beforehand (the trust set's), over the same bytes.
    pub fn verify_with(&self, key: &Es256Key) -> Result<(), ShowCodeError> {
        if key.verify(&self.tbs, &self.signature) {
            Ok(())
        } else {
            Err(ShowCodeError::Signature)
        }
    }
}

/// Signs `claims` with `key_id` (naming the key to the signer) and `kid`
/// (naming it to verifiers, in the protected header) and returns the code.
pub async fn encode(
    claims: &ShowClaims,
    signer: &dyn Signer,
    key_id: &str,
    kid: &[u8],
) -> Result<String, ShowCodeError> {
    if kid.is_empty() {
        return Err(ShowCodeError::MissingKid);
    }
    let payload = claims_to_cbor(claims)?;
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .key_id(kid.to_vec())
        .build();
    let mut sign1 = CoseSign1Builder::new().protected(protected).payload(payload).build();
    let tbs = sign1.tbs_data(b"");
    let digest: [u8; 32] = Sha256::digest(&tbs).into();
    sign1.signature = signer.sign_digest(key_id, &digest).await?.to_vec();
    let cose = sign1.to_tagged_vec().map_err(|e| ShowCodeError::Cbor(e.to_string()))?;
    let compressed = zlib(&cose)?;
    Ok(format!("{}{}", claims.kind.prefix(), base45_encode(&compressed)))
}

/// Parses a code without checking its signature, step by step, stopping at the first failure.
pub fn decode(code: &str, expected: CodeKind, max_inflated: usize) -> Result<SignedCode, ShowCodeError> {
    let body = code.strip_prefix(expected.prefix()).ok_or(ShowCodeError::Prefix {
        expected: expected.prefix(),
    })?;
    let compressed = base45_decode(body)?;
    let cose = inflate(&compressed, max_inflated)?;
    let value = read_cbor(&cose)?;
    let sign1 = match value {
        Value::Tag(tag, inner) if tag == iana::CborTag::CoseSign1 as u64 => {
            CoseSign1::from_cbor_value(*inner).map_err(|e| ShowCodeError::NotCoseSign1(e.to_string()))?
        }
        Value::Tag(tag, _) => return Err(ShowCodeError::NotCoseSign1(format!("CBOR tag {tag}, not 18"))),
        _ => return Err(ShowCodeError::NotCoseSign1("not tagged 18 (COSE_Sign1)".into())),
    };
    // Only the protected header counts: anything in the unprotected one could
    // have been changed by whoever handed us the code.
    let header = &sign1.protected.header;
    if header.alg != Some(coset::Algorithm::Assigned(iana::Algorithm::ES256)) {
        return Err(ShowCodeError::Algorithm);
    }
    if header.key_id.is_empty() {
        return Err(ShowCodeError::MissingKid);
    }
    let payload = sign1
        .payload
        .as_deref()
        .ok_or_else(|| ShowCodeError::Claims("the payload is detached".into()))?;
    let claims = claims_from_cbor(payload, expected)?;
    Ok(SignedCode {
        claims,
        kid: header.key_id.clone(),
        tbs: sign1.tbs_data(b""),
        signature: sign1.signature.clone(),
    })
}

/// Validity at `now` with `skew` seconds allowance: not before issued_at - skew, not after expires_at + skew.
pub fn check_time(claims: &ShowClaims, now: i64, skew: i64) -> Result<(), ShowCodeError> {
    if now < claims.issued_at.saturating_sub(skew) {
        return Err(ShowCodeError::NotYetValid);
    }
    if now > claims.expires_at.saturating_add(skew) {
        return Err(ShowCodeError::Expired);
    }
    Ok(())
}

pub fn random_nonce() -> [u8; 8] {
    use rand_core::RngCore;
    use std::sync::atomic::{AtomicU64, Ordering};
    let mut nonce = [0u8; 8];
    if rand_core::OsRng.try_fill_bytes(&mut nonce).is_ok() {
        return nonce;
    }
    // The nonce only needs to be unique, not secret: if the OS generator is
    // ever unavailable, a hash of time and a process-wide counter is enough,
    // and failing to mint a code over it would be worse.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let mut hash = Sha256::new();
    hash.update(nanos.to_be_bytes());
    hash.update(COUNTER.fetch_add(1, Ordering::Relaxed).to_be_bytes());
    hash.update(std::process::id().to_be_bytes());
    let digest = hash.finalize();
    nonce.copy_from_slice(&digest[..8]);
    nonce
}

fn claims_to_cbor(claims: &ShowClaims) -> Result<Vec<u8>, ShowCodeError> {
    // coset writes iss, exp, iat, cti and then the private claims in the order given: the
    // deterministic order of RFC 8949 §4.2.1 (1, 4, 6, 7, then -65537, -65538, -65539).
    let set = ClaimsSetBuilder::new()
        .issuer(ISSUER.into())
        .expiration_time(Timestamp::WholeSeconds(claims.expires_at))
        .issued_at(Timestamp::WholeSeconds(claims.issued_at))
        .cwt_id(claims.nonce.to_vec())
        .private_claim(CLAIM_KIND, Value::Text(claims.kind.claim().into()))
        .private_claim(CLAIM_SERIAL, Value::Text(claims.serial.clone()))
        .private_claim(CLAIM_COLOUR, Value::Text(claims.colour.as_str().into()))
        .build();
    let value = set.to_cbor_value().map_err(|e| ShowCodeError::Cbor(e.to_string()))?;
    let mut out = Vec::new();
    ciborium::ser::into_writer(&value, &mut out).map_err(|e| ShowCodeError::Cbor(e.to_string()))?;
    Ok(out)
}

fn claims_from_cbor(payload: &[u8], expected: CodeKind) -> Result<ShowClaims, ShowCodeError> {
    let bad = |why: String| ShowCodeError::Claims(why);
    let value = read_cbor(payload).map_err(|e| bad(format!("payload: {e}")))?;
    // coset refuses a key given twice and ill-typed registered claims.
    let set = ClaimsSet::from_cbor_value(value).map_err(|e| bad(format!("not a CWT claims set: {e}")))?;
    if set.issuer.as_deref() != Some(ISSUER) {
        return Err(bad(format!("the issuer {:?} is not {ISSUER:?}", set.issuer)));
    }
    if set.subject.is_some() || set.audience.is_some() || set.not_before.is_some() {
        return Err(bad("sub, aud and nbf are not used in a show code".into()));
    }
    let seconds = |name: &str, at: Option<Timestamp>| match at {
        Some(Timestamp::WholeSeconds(seconds)) => Ok(seconds),
        Some(Timestamp::FractionalSeconds(_)) => Err(bad(format!("{name} is not in whole seconds"))),
        None => Err(bad(format!("{name} is missing"))),
    };
    let expires_at = seconds("exp", set.expiration_time)?;
    let issued_at = seconds("iat", set.issued_at)?;
    if expires_at < issued_at {
        return Err(bad("expires before it was issued".into()));
    }
    let nonce = set
        .cwt_id
        .ok_or_else(|| bad("cti is missing".into()))
        .and_then(|cti| <[u8; 8]>::try_from(cti.as_slice()).map_err(|_| bad("the cti is not 8 bytes".into())))?;

    let mut private: [Option<String>; 3] = Default::default();
    for (name, value) in set.rest {
        let slot = match name {
            ClaimName::PrivateUse(CLAIM_KIND) => &mut private[0],
            ClaimName::PrivateUse(CLAIM_SERIAL) => &mut private[1],
            ClaimName::PrivateUse(CLAIM_COLOUR) => &mut private[2],
            other => return Err(bad(format!("unknown claim {other:?}"))),
        };
        match value {
            Value::Text(text) => *slot = Some(text),
            _ => return Err(bad(format!("claim {name:?} is not text"))),
        }
    }
    let [kind_claim, serial, colour_claim] = private;
    let missing = |key: i64| bad(format!("claim {key} is missing"));
    let kind_claim = kind_claim.ok_or_else(|| missing(CLAIM_KIND))?;
    let kind = CodeKind::from_claim(&kind_claim).ok_or_else(|| bad(format!("unknown kind {kind_claim:?}")))?;
    if kind != expected {
        return Err(bad(format!("kind {kind_claim:?} does not match the prefix")));
    }
    let serial = serial.ok_or_else(|| missing(CLAIM_SERIAL))?;
    if serial.is_empty() {
        return Err(bad("the serial is empty".into()));
    }
    let colour_claim = colour_claim.ok_or_else(|| missing(CLAIM_COLOUR))?;
    let colour = Colour::parse(&colour_claim).ok_or_else(|| bad(format!("unknown colour {colour_claim:?}")))?;
    Ok(ShowClaims {
        kind,
        serial,
        colour,
        issued_at,
        expires_at,
        nonce,
    })
}

/// One CBOR item and nothing after it.
fn read_cbor(bytes: &[u8]) -> Result<Value, ShowCodeError> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader(&mut rest).map_err(|e| ShowCodeError::Cbor(e.to_string()))?;
    if !rest.is_empty() {
        return Err(ShowCodeError::Cbor(format!("{} bytes after the item", rest.len())));
    }
    Ok(value)
}

fn zlib(data: &[u8]) -> Result<Vec<u8>, ShowCodeError> {
    use std::io::Write;
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|e| ShowCodeError::Compression(e.to_string()))
}

/// Inflates at most `max` bytes into a buffer of `max + 1`: filling it is how we tell "exactly at the cap" from
/// "over it" without ever holding more. The inflater is this thread's, reset for each code: a fresh one
/// allocates and clears its state and 32 KiB window for every verification, several microseconds of a code of a
/// few hundred bytes.
fn inflate(compressed: &[u8], max: usize) -> Result<Vec<u8>, ShowCodeError> {
    use flate2::{Decompress, FlushDecompress, Status};
    use std::cell::RefCell;
    thread_local! {
        static INFLATER: RefCell<Decompress> = RefCell::new(Decompress::new(true));
    }
    let run = |inflater: &mut Decompress| {
        let mut out = Vec::with_capacity(max.saturating_add(1));
        let status = inflater
            .decompress_vec(compressed, &mut out, FlushDecompress::Finish)
            .map_err(|e| ShowCodeError::Compression(e.to_string()))?;
        if out.len() > max {
            return Err(ShowCodeError::Compression(format!("inflates beyond {max} bytes")));
        }
        if status != Status::StreamEnd {
            return Err(ShowCodeError::Compression("the zlib stream ends early".into()));
        }
        if inflater.total_in() != compressed.len() as u64 {
            return Err(ShowCodeError::Compression(
                "bytes after the end of the zlib stream".into(),
            ));
        }
        Ok(out)
    };
    INFLATER.with(|inflater| match inflater.try_borrow_mut() {
        Ok(mut inflater) => {
            inflater.reset(true);
            run(&mut inflater)
        }
        // Never re-entered; were it, a fresh inflater does the same work.
        Err(_) => run(&mut Decompress::new(true)),
    })
}

const BASE45: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// RFC 9285 Base45.
pub fn base45_encode(data: &[u8]) -> String {
    let mut out = String::with_capacity(data.len().div_ceil(2) * 3);
    let mut push = |mut n: u32, digits: usize| {
        for _ in 0..digits {
            out.push(BASE45[(n % 45) as usize] as char);
            n /= 45;
        }
    };
    for pair in data.chunks(2) {
        match *pair {
            [a, b] => push(u32::from(a) * 256 + u32::from(b), 3),
            [a] => push(u32::from(a), 2),
            _ => {}
        }
    }
    out
}

/// Marks a byte that is not one of the 45 characters in [`BASE45_DIGIT`].
const NOT_BASE45: u8 = u8::MAX;

/// The value of each byte as a Base45 digit: one lookup per character of a code on the verification path,
/// rather than a search of the alphabet.
const BASE45_DIGIT: [u8; 256] = {
    let mut table = [NOT_BASE45; 256];
    let mut digit = 0;
    while digit < BASE45.len() {
        table[BASE45[digit] as usize] = digit as u8;
        digit += 1;
    }
    table
};

/// RFC 9285 Base45, strict: only the 45 characters (upper case), no length
/// of the form 3n+1, no group above 65535 (or 255 for a final pair).
pub fn base45_decode(text: &str) -> Result<Vec<u8>, ShowCodeError> {
    // Decoded straight from the text's bytes (no vector of digits first): every character is checked before
    // the length and the groups, so a code wrong in several ways is refused for the same reason as before.
    let text = text.as_bytes();
    if let Some(&c) = text.iter().find(|&&c| BASE45_DIGIT[usize::from(c)] == NOT_BASE45) {
        return Err(ShowCodeError::Base45(format!("invalid character {:?}", c as char)));
    }
    if text.len() % 3 == 1 {
        return Err(ShowCodeError::Base45(format!("invalid length {}", text.len())));
    }
    let digit = |c: u8| u32::from(BASE45_DIGIT[usize::from(c)]);
    let mut out = Vec::with_capacity(text.len() / 3 * 2 + 1);
    for group in text.chunks(3) {
        match *group {
            [c, d, e] => {
                let n = digit(c) + digit(d) * 45 + digit(e) * 45 * 45;
                if n > 0xFFFF {
                    return Err(ShowCodeError::Base45(format!("group value {n} exceeds 65535")));
                }
                out.extend_from_slice(&(n as u16).to_be_bytes());
            }
            [c, d] => {
                let n = digit(c) + digit(d) * 45;
                if n > 0xFF {
                    return Err(ShowCodeError::Base45(format!("final pair value {n} exceeds 255")));
                }
                out.push(n as u8);
            }
            _ => return Err(ShowCodeError::Base45("invalid length".into())),
        }
    }
    Ok(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use async_trait::async_trait;
    use p256::ecdsa::signature::hazmat::PrehashSigner;
    use p256::ecdsa::{Signature, SigningKey};
    use std::io::{Read, Write};

    /// A software signer of our own, so these tests do not wait on crate::crypto.
    pub(crate) struct TestSigner(SigningKey);

    impl TestSigner {
        pub(crate) fn new(seed: u8) -> Self {
            let mut bytes = [0u8; 32];
            bytes[31] = seed.max(1);
            bytes[0] = 0x11;
            TestSigner(SigningKey::from_slice(&bytes).unwrap())
        }
        pub(crate) fn public(&self) -> Vec<u8> {
            self.0.verifying_key().to_encoded_point(false).as_bytes().to_vec()
        }
    }

    #[async_trait]
    impl Signer for TestSigner {
        async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
            if key_id != "test-key" {
                return Err(SignerError::UnknownKey(key_id.into()));
            }
            let sig: Signature = self.0.sign_prehash(digest).unwrap();
            let sig = sig.normalize_s().unwrap_or(sig);
            Ok(sig.to_bytes().into())
        }
        async fn public_key(&self, _key_id: &str) -> Result<Vec<u8>, SignerError> {
            Ok(self.public())
        }
    }

    const NOW: i64 = 1_767_225_600; // 2026-01-01T00:00:00Z

    fn claims(kind: CodeKind) -> ShowClaims {
        ShowClaims {
            kind,
            serial: "11010519900307451X".into(),
            colour: Colour::Green,
            issued_at: NOW,
            expires_at: NOW + 180,
            nonce: [1, 2, 3, 4, 5, 6, 7, 8],
        }
    }

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn make(kind: CodeKind) -> (TestSigner, String) {
        let signer = TestSigner::new(7);
        let code = block_on(encode(&claims(kind), &signer, "test-key", b"kid-1")).unwrap();
        (signer, code)
    }

    fn zlib_raw(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// The inflated COSE of a code, for tampering.
    fn cose_of(code: &str) -> Vec<u8> {
        let body = code.split_once(':').unwrap().1;
        inflate(&base45_decode(body).unwrap(), 1 << 20).unwrap()
    }

    fn pack(kind: CodeKind, cose: &[u8]) -> String {
        format!("{}{}", kind.prefix(), base45_encode(&zlib_raw(cose)))
    }

    /// A COSE_Sign1 with a chosen protected header and payload, signed properly.
    fn sign1_with(protected: coset::Header, payload: Vec<u8>, signer: &TestSigner) -> Vec<u8> {
        let mut s = CoseSign1Builder::new().protected(protected).payload(payload).build();
        let digest: [u8; 32] = Sha256::digest(s.tbs_data(b"")).into();
        s.signature = block_on(signer.sign_digest("test-key", &digest)).unwrap().to_vec();
        s.to_tagged_vec().unwrap()
    }

    fn es256_kid() -> coset::Header {
        HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES256)
            .key_id(b"kid-1".to_vec())
            .build()
    }

    fn int(value: i64) -> Value {
        Value::Integer(value.into())
    }

    fn cbor(v: &Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::ser::into_writer(v, &mut out).unwrap();
        out
    }

    #[test]
    fn base45_rfc9285_vectors() {
        assert_eq!(base45_encode(b"AB"), "BB8");
        assert_eq!(base45_encode(b"Hello!!"), "%69 VD92EX0");
        assert_eq!(base45_encode(b"base-45"), "UJCLQE7W581");
        assert_eq!(base45_decode("QED8WEX0").unwrap(), b"ietf!");
        assert_eq!(base45_decode("%69 VD92EX0").unwrap(), b"Hello!!");
        assert_eq!(base45_decode("").unwrap(), b"");
        for bytes in [
            vec![0u8, 0, 255, 255, 255],
            vec![0],
            vec![255, 255],
            (0..=255).collect(),
        ] {
            assert_eq!(base45_decode(&base45_encode(&bytes)).unwrap(), bytes);
        }
    }

    #[test]
    fn base45_rejects_bad_input() {
        for bad in ["GGW", "ZZZ", ":::", "QED8WEX", "A", "abc", "BB8=", "BB8\n", "ÄB8"] {
            let err = base45_decode(bad).unwrap_err();
            assert_eq!(err.code(), "bad-base45", "{bad:?}");
        }
        // 65535 is the largest triple, "FGW"; one more is refused.
        assert_eq!(base45_decode("FGW").unwrap(), [0xFF, 0xFF]);
        assert!(base45_decode("GGW").is_err());
        // 255 is the largest final pair, "U5"; one more is refused.
        assert_eq!(base45_decode("U5").unwrap(), [0xFF]);
        assert!(base45_decode("V5").is_err());
    }

    #[test]
    fn round_trip_both_kinds() {
        for kind in [CodeKind::Licence, CodeKind::TruckPass] {
            let (signer, code) = make(kind);
            assert!(code.starts_with(kind.prefix()));
            let signed = decode(&code, kind, DEFAULT_MAX_INFLATED).unwrap();
            assert_eq!(signed.claims, claims(kind));
            assert_eq!(signed.kid, b"kid-1");
            signed.verify(&signer.public()).unwrap();
            check_time(&signed.claims, NOW + 60, 0).unwrap();
            // Another key does not verify it.
            assert_eq!(
                signed.verify(&TestSigner::new(9).public()),
                Err(ShowCodeError::Signature)
            );
        }
    }

    #[test]
    fn output_is_standard_cose_a_third_party_can_verify() {
        let (signer, code) = make(CodeKind::Licence);
        let cose = cose_of(&code);
        // Independently of our decoder: tag 18, [protected bstr, {}, payload, sig].
        let Value::Tag(18, inner) = read_cbor(&cose).unwrap() else {
            panic!("not tag 18")
        };
        let Value::Array(items) = *inner else {
            panic!("not an array")
        };
        assert_eq!(items.len(), 4);
        let Value::Bytes(protected) = &items[0] else { panic!() };
        assert_eq!(items[1], Value::Map(vec![]));
        let Value::Bytes(payload) = &items[2] else { panic!() };
        let Value::Bytes(sig) = &items[3] else { panic!() };
        assert_eq!(
            read_cbor(protected).unwrap(),
            Value::Map(vec![(int(1), int(-7)), (int(4), Value::Bytes(b"kid-1".to_vec()))])
        );
        let sig_structure = Value::Array(vec![
            Value::Text("Signature1".into()),
            Value::Bytes(protected.clone()),
            Value::Bytes(vec![]),
            Value::Bytes(payload.clone()),
        ]);
        use p256::ecdsa::signature::Verifier;
        let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&signer.public()).unwrap();
        key.verify(&cbor(&sig_structure), &Signature::from_slice(sig).unwrap())
            .unwrap();
        // And coset's own parser agrees.
        let parsed = CoseSign1::from_tagged_slice(&cose).unwrap();
        parsed
            .verify_signature(b"", |s, tbs| key.verify(tbs, &Signature::from_slice(s).unwrap()))
            .unwrap();
        // The payload is a CWT claims set: iss, exp, iat, cti, then the private claims, in
        // deterministic order, with the values where RFC 8392 registers them.
        let Value::Map(entries) = read_cbor(payload).unwrap() else {
            panic!()
        };
        assert_eq!(
            entries,
            vec![
                (int(1), Value::Text(ISSUER.into())),
                (int(4), int(NOW + 180)),
                (int(6), int(NOW)),
                (int(7), Value::Bytes(vec![1, 2, 3, 4, 5, 6, 7, 8])),
                (int(-65537), Value::Text("edl".into())),
                (int(-65538), Value::Text("11010519900307451X".into())),
                (int(-65539), Value::Text("green".into())),
            ]
        );
    }

    #[test]
    fn missing_or_wrong_prefix() {
        let (_, code) = make(CodeKind::Licence);
        let body = &code["EDL2:".len()..];
        for bad in [
            body.to_string(),
            format!("HC1:{body}"),
            format!("edl1:{body}"),
            format!(" EDL2:{body}"),
            // The first version's prefix: its claims are on other keys.
            format!("EDL1:{body}"),
            String::new(),
        ] {
            let err = decode(&bad, CodeKind::Licence, DEFAULT_MAX_INFLATED).unwrap_err();
            assert_eq!(err.code(), "bad-prefix", "{bad:?}");
        }
    }

    #[test]
    fn the_other_kinds_prefix_is_refused() {
        let (_, truck) = make(CodeKind::TruckPass);
        assert_eq!(
            decode(&truck, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-prefix"
        );
        let (_, licence) = make(CodeKind::Licence);
        assert_eq!(
            decode(&licence, CodeKind::TruckPass, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-prefix"
        );
        // Relabelling a truck pass as a licence is caught by the signed kind claim.
        let relabelled = licence.replacen("EDL2:", "TRK2:", 1);
        assert_eq!(
            decode(&relabelled, CodeKind::TruckPass, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-claims"
        );
    }

    #[test]
    fn broken_base45() {
        let (_, code) = make(CodeKind::Licence);
        let mut lower = code.clone();
        lower.push('a');
        for bad in [
            lower,
            format!("{code}0"),
            code.replacen("EDL2:", "EDL2:#", 1),
            format!("{}_{}", &code[..10], &code[10..]),
        ] {
            assert_eq!(
                decode(&bad, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                    .unwrap_err()
                    .code(),
                "bad-base45"
            );
        }
    }

    #[test]
    fn uncompressed_payload_is_bad_compression() {
        let (_, code) = make(CodeKind::Licence);
        let raw = format!("EDL2:{}", base45_encode(&cose_of(&code)));
        assert_eq!(
            decode(&raw, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-compression"
        );
    }

    #[test]
    fn truncated_or_padded_zlib_is_bad_compression() {
        let (_, code) = make(CodeKind::Licence);
        let z = base45_decode(&code[5..]).unwrap();
        let truncated = format!("EDL2:{}", base45_encode(&z[..z.len() - 3]));
        assert_eq!(
            decode(&truncated, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-compression"
        );
        let mut padded = z.clone();
        padded.extend_from_slice(b"xx");
        let padded = format!("EDL2:{}", base45_encode(&padded));
        assert_eq!(
            decode(&padded, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-compression"
        );
    }

    #[test]
    fn zlib_bomb_stops_at_the_cap() {
        // 10 MB of zeros, streamed into the encoder so the test never holds it.
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let chunk = [0u8; 64 * 1024];
        for _ in 0..160 {
            e.write_all(&chunk).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 16 * 1024, "bomb is {} bytes", bomb.len());
        let code = format!("EDL2:{}", base45_encode(&bomb));
        let err = decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED).unwrap_err();
        assert_eq!(err.code(), "bad-compression");
        // The cap is what bounds the allocation: inflate never holds more than max + 1 bytes.
        let mut decoder = flate2::bufread::ZlibDecoder::new(bomb.as_slice());
        let mut out = Vec::new();
        (&mut decoder)
            .take(DEFAULT_MAX_INFLATED as u64 + 1)
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out.len(), DEFAULT_MAX_INFLATED + 1);
        assert!(out.capacity() < 64 * 1024);
    }

    #[test]
    fn exactly_at_the_cap_is_accepted() {
        let data = vec![b'a'; 100];
        assert_eq!(inflate(&zlib_raw(&data), 100).unwrap(), data);
        assert_eq!(inflate(&zlib_raw(&data), 99).unwrap_err().code(), "bad-compression");
    }

    #[test]
    fn cbor_garbage_is_bad_cbor() {
        let code = pack(CodeKind::Licence, &[0xFF, 0x00, 0x01]);
        assert_eq!(
            decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-cbor"
        );
        let (_, good) = make(CodeKind::Licence);
        let mut trailing = cose_of(&good);
        trailing.push(0x00);
        let code = pack(CodeKind::Licence, &trailing);
        assert_eq!(
            decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-cbor"
        );
    }

    #[test]
    fn cbor_that_is_not_cose_sign1() {
        let signer = TestSigner::new(7);
        let plain_map = cbor(&Value::Map(vec![(int(1), Value::Text("edl".into()))]));
        let mut untagged = sign1_with(
            es256_kid(),
            claims_to_cbor(&claims(CodeKind::Licence)).unwrap(),
            &signer,
        );
        untagged.remove(0); // 0xD2, the tag 18 head
        let mac0 = cbor(&Value::Tag(17, Box::new(Value::Array(vec![]))));
        let three_items = cbor(&Value::Tag(
            18,
            Box::new(Value::Array(vec![
                Value::Bytes(vec![]),
                Value::Map(vec![]),
                Value::Null,
            ])),
        ));
        for cose in [plain_map, untagged, mac0, three_items] {
            let code = pack(CodeKind::Licence, &cose);
            assert_eq!(
                decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                    .unwrap_err()
                    .code(),
                "not-cose-sign1"
            );
        }
    }

    #[test]
    fn wrong_algorithm() {
        let signer = TestSigner::new(7);
        let payload = claims_to_cbor(&claims(CodeKind::Licence)).unwrap();
        let es384 = HeaderBuilder::new()
            .algorithm(iana::Algorithm::ES384)
            .key_id(b"kid-1".to_vec())
            .build();
        let none = HeaderBuilder::new().key_id(b"kid-1".to_vec()).build();
        for protected in [es384, none] {
            let code = pack(CodeKind::Licence, &sign1_with(protected, payload.clone(), &signer));
            let err = decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED).unwrap_err();
            assert_eq!(err, ShowCodeError::Algorithm);
            assert_eq!(err.code(), "wrong-algorithm");
        }
        // ES256 only in the unprotected header does not count.
        let mut s = CoseSign1Builder::new()
            .protected(HeaderBuilder::new().key_id(b"kid-1".to_vec()).build())
            .unprotected(HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build())
            .payload(payload)
            .build();
        s.signature = vec![0; 64];
        let code = pack(CodeKind::Licence, &s.to_tagged_vec().unwrap());
        assert_eq!(
            decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "wrong-algorithm"
        );
    }

    #[test]
    fn no_kid() {
        let signer = TestSigner::new(7);
        let payload = claims_to_cbor(&claims(CodeKind::Licence)).unwrap();
        let protected = HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build();
        let code = pack(CodeKind::Licence, &sign1_with(protected, payload, &signer));
        assert_eq!(
            decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "missing-kid"
        );
        // And we never mint one.
        let err = block_on(encode(&claims(CodeKind::Licence), &signer, "test-key", b"")).unwrap_err();
        assert_eq!(err.code(), "missing-kid");
    }

    #[test]
    fn flipped_bits_fail_verification() {
        let (signer, code) = make(CodeKind::Licence);
        let cose = cose_of(&code);
        let parsed = CoseSign1::from_tagged_slice(&cose).unwrap();

        // A bit in the serial inside the payload: still parses, no longer verifies.
        let mut tampered = parsed.clone();
        let payload = tampered.payload.as_mut().unwrap();
        let at = payload.windows(3).position(|w| w == b"110").unwrap();
        payload[at] ^= 0x01; // '1' -> '0'
        let code1 = pack(CodeKind::Licence, &tampered.to_tagged_vec().unwrap());
        let signed = decode(&code1, CodeKind::Licence, DEFAULT_MAX_INFLATED).unwrap();
        assert_eq!(signed.claims.serial, "01010519900307451X");
        assert_eq!(signed.verify(&signer.public()).unwrap_err().code(), "bad-signature");

        // A bit in the signature.
        let mut tampered = parsed.clone();
        tampered.signature[10] ^= 0x80;
        let code2 = pack(CodeKind::Licence, &tampered.to_tagged_vec().unwrap());
        let signed = decode(&code2, CodeKind::Licence, DEFAULT_MAX_INFLATED).unwrap();
        assert_eq!(signed.verify(&signer.public()).unwrap_err(), ShowCodeError::Signature);

        // A truncated signature and a bad key are failures too, not panics.
        let mut tampered = parsed;
        tampered.signature.truncate(63);
        let code3 = pack(CodeKind::Licence, &tampered.to_tagged_vec().unwrap());
        let signed = decode(&code3, CodeKind::Licence, DEFAULT_MAX_INFLATED).unwrap();
        assert_eq!(signed.verify(&signer.public()).unwrap_err(), ShowCodeError::Signature);
        assert_eq!(signed.verify(&[4, 1, 2]).unwrap_err(), ShowCodeError::Signature);
    }

    #[test]
    fn expired_and_not_yet_valid_with_skew() {
        let c = claims(CodeKind::Licence);
        check_time(&c, c.issued_at, 0).unwrap();
        check_time(&c, c.expires_at, 0).unwrap();
        assert_eq!(check_time(&c, c.expires_at + 1, 0).unwrap_err().code(), "expired");
        check_time(&c, c.expires_at + 30, 30).unwrap();
        assert_eq!(check_time(&c, c.expires_at + 31, 30).unwrap_err().code(), "expired");
        assert_eq!(check_time(&c, c.issued_at - 1, 0).unwrap_err().code(), "not-yet-valid");
        check_time(&c, c.issued_at - 30, 30).unwrap();
        assert_eq!(
            check_time(&c, c.issued_at - 31, 30).unwrap_err(),
            ShowCodeError::NotYetValid
        );
        // No overflow at the edges of time.
        let far = ShowClaims {
            issued_at: i64::MIN,
            expires_at: i64::MAX,
            ..c
        };
        check_time(&far, 0, i64::MAX).unwrap();
    }

    #[test]
    fn claims_with_unknown_missing_or_ill_typed_keys() {
        let signer = TestSigner::new(7);
        let good = claims_to_cbor(&claims(CodeKind::Licence)).unwrap();
        let Value::Map(entries) = read_cbor(&good).unwrap() else {
            panic!()
        };
        let mut variants = Vec::new();
        let mut unknown = entries.clone();
        unknown.push((int(-65540), Value::Text("x".into())));
        variants.push(unknown);
        let mut text_key = entries.clone();
        text_key.push((Value::Text("serial".into()), Value::Text("x".into())));
        variants.push(text_key);
        variants.push(entries[1..].to_vec()); // no issuer
        let mut no_kind = entries.clone();
        no_kind.remove(4);
        variants.push(no_kind);
        let mut duplicate = entries.clone();
        duplicate.push(entries[5].clone());
        variants.push(duplicate);
        let mut other_issuer = entries.clone();
        other_issuer[0].1 = Value::Text("someone else".into());
        variants.push(other_issuer);
        let mut bad_nonce = entries.clone();
        bad_nonce[3].1 = Value::Bytes(vec![1, 2, 3]);
        variants.push(bad_nonce);
        let mut text_iat = entries.clone();
        text_iat[2].1 = Value::Text("2026".into());
        variants.push(text_iat);
        let mut fractional_exp = entries.clone();
        fractional_exp[1].1 = Value::Float((NOW + 180) as f64 + 0.5);
        variants.push(fractional_exp);
        let mut with_nbf = entries.clone();
        with_nbf.push((int(5), int(NOW)));
        variants.push(with_nbf);
        let mut bad_colour = entries.clone();
        bad_colour[6].1 = Value::Text("amber".into());
        variants.push(bad_colour);
        let mut backwards = entries.clone();
        backwards[1].1 = int(NOW - 1);
        variants.push(backwards);
        for map in variants {
            let code = pack(
                CodeKind::Licence,
                &sign1_with(es256_kid(), cbor(&Value::Map(map.clone())), &signer),
            );
            let err = decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED).unwrap_err();
            assert_eq!(err.code(), "bad-claims", "{map:?}");
        }
        // A payload that is not a map at all.
        let code = pack(
            CodeKind::Licence,
            &sign1_with(es256_kid(), cbor(&Value::Array(vec![])), &signer),
        );
        assert_eq!(
            decode(&code, CodeKind::Licence, DEFAULT_MAX_INFLATED)
                .unwrap_err()
                .code(),
            "bad-claims"
        );
    }

    #[test]
    fn signer_failure_is_reported() {
        let signer = TestSigner::new(7);
        let err = block_on(encode(&claims(CodeKind::Licence), &signer, "other-key", b"kid")).unwrap_err();
        assert_eq!(err.code(), "signer-unavailable");
        assert!(matches!(err, ShowCodeError::Signer(SignerError::UnknownKey(_))));
    }

    #[test]
    fn works_with_the_local_signer_adapter() {
        let signer = crate::crypto::LocalSigner::new();
        signer.generate("dsc-1");
        let code = block_on(encode(&claims(CodeKind::TruckPass), &signer, "dsc-1", b"dsc-1")).unwrap();
        let public = block_on(signer.public_key("dsc-1")).unwrap();
        decode(&code, CodeKind::TruckPass, DEFAULT_MAX_INFLATED)
            .unwrap()
            .verify(&public)
            .unwrap();
    }

    #[test]
    fn nonces_differ() {
        assert_ne!(random_nonce(), random_nonce());
    }

    #[test]
    fn a_real_code_is_qr_sized() {
        let (_, code) = make(CodeKind::Licence);
        assert!(code.len() < 300, "{} chars", code.len());
    }
}
