//! ES256 building blocks: strict DER↔raw signature conversion, verification, and (development code) the in-memory signer.

use crate::kernel::signing::SignerError;
use p256::ecdsa::signature::hazmat::PrehashVerifier;
use p256::ecdsa::{Signature, VerifyingKey};
// What the in-process signer (development code, below) needs.
#[cfg(any(test, feature = "dev"))]
use crate::kernel::signing::Signer;
#[cfg(any(test, feature = "dev"))]
use async_trait::async_trait;
#[cfg(any(test, feature = "dev"))]
use p256::ecdsa::signature::hazmat::PrehashSigner;
#[cfg(any(test, feature = "dev"))]
use p256::ecdsa::SigningKey;
#[cfg(any(test, feature = "dev"))]
use rand_core::OsRng;
#[cfg(any(test, feature = "dev"))]
use std::collections::HashMap;
#[cfg(any(test, feature = "dev"))]
use std::sync::{Mutex, PoisonError};

/// Converts a DER `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (what KMS returns)
/// to the raw 64-byte `r || s` COSE expects, with S in the lower half of the order.
///
/// The parse is the `ecdsa` crate's, which is strict DER on purpose: a signature is the one
/// thing we embed in every credential, and accepting BER leniency here would let a faulty
/// signer produce credentials some verifiers reject.
pub fn der_signature_to_raw(der: &[u8]) -> Result<[u8; 64], SignerError> {
    let signature = Signature::from_der(der)
        .map_err(|_| SignerError::Malformed("ECDSA signature: not a strict DER ECDSA-Sig-Value for P-256".into()))?;
    Ok(low_s_bytes(&signature))
}

/// The raw `r || s` of `signature` with S normalised to the lower half of the order,
/// since COSE verifiers commonly reject high-S signatures.
fn low_s_bytes(signature: &Signature) -> [u8; 64] {
    let normalised = signature.normalize_s().unwrap_or(*signature);
    normalised.to_bytes().into()
}

/// Converts a raw 64-byte `r || s` signature to DER `ECDSA-Sig-Value`, as X.509 carries it.
pub fn raw_signature_to_der(raw: &[u8]) -> Result<Vec<u8>, SignerError> {
    let signature = Signature::from_slice(raw)
        .map_err(|_| SignerError::Malformed("a raw ES256 signature is 64 bytes of two non-zero scalars".into()))?;
    Ok(signature.to_der().as_bytes().to_vec())
}

/// The P-256 key of a SubjectPublicKeyInfo, refusing any other algorithm or curve: the one
/// place a public key is read from SPKI (certificates, KMS).
pub fn p256_public_key(spki: spki::SubjectPublicKeyInfoRef<'_>) -> Result<p256::PublicKey, spki::Error> {
    p256::PublicKey::try_from(spki)
}

/// The SEC1 uncompressed point of a P-256 key given as a DER SubjectPublicKeyInfo (what
/// KMS `GetPublicKey` returns), refusing any other algorithm or curve and trailing bytes.
pub fn p256_sec1_from_spki(spki_der: &[u8]) -> Result<Vec<u8>, SignerError> {
    use der::Decode;
    let key = spki::SubjectPublicKeyInfoRef::from_der(spki_der)
        .map_err(spki::Error::from)
        .and_then(p256_public_key)
        .map_err(|e| SignerError::Malformed(format!("public key: not a P-256 SubjectPublicKeyInfo: {e}")))?;
    Ok(sec1_uncompressed(&key))
}

/// The SEC1 uncompressed encoding (`04 || x || y`) of a P-256 key.
pub fn sec1_uncompressed(key: &p256::PublicKey) -> Vec<u8> {
    p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(key, false)
        .as_bytes()
        .to_vec()
}

/// SHA-256 of `bytes`, the digest `Signer::sign_digest` takes.
pub fn sha256(bytes: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(bytes).into()
}

/// A P-256 public key parsed once for ES256 verification: what the trust set holds for each document signer, so
/// that the key the show codes verify with is not parsed again for every code.
///
/// It runs on aws-lc-rs, which the SDK's TLS already links and which verifies P-256 several times faster than
/// RustCrypto's p256 on the same machine (the verify benchmark measures both). It accepts exactly the keys p256's
/// `VerifyingKey::from_sec1_bytes` accepts (a SEC1 point, uncompressed or compressed, on the curve, not the
/// identity): aws-lc-rs alone would also take a DER SubjectPublicKeyInfo where a point is expected.
#[derive(Clone, Debug)]
pub struct Es256Key(aws_lc_rs::signature::ParsedPublicKey);

impl Es256Key {
    /// The key of a SEC1 point (`04 || x || y`, or `02`/`03 || x`); `None` for anything else.
    pub fn from_sec1(public_sec1: &[u8]) -> Option<Es256Key> {
        use aws_lc_rs::signature::{ParsedPublicKey, ECDSA_P256_SHA256_FIXED};
        let point = matches!(
            (public_sec1.len(), public_sec1.first()),
            (65, Some(0x04)) | (33, Some(0x02 | 0x03))
        );
        if !point {
            return None;
        }
        ParsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, public_sec1)
            .ok()
            .map(Es256Key)
    }

    /// Whether `raw_signature` (64 bytes of `r || s`, each in 1..n) is this key's ES256 signature over
    /// `message`, the bytes exactly as received. Either S verifies, as in p256: low S is a rule for what
    /// we sign ([`der_signature_to_raw`], the signers), and no verification requires it.
    pub fn verify(&self, message: &[u8], raw_signature: &[u8]) -> bool {
        self.0.verify_sig(message, raw_signature).is_ok()
    }

    /// The SEC1 bytes the key was read from.
    pub fn sec1(&self) -> &[u8] {
        self.0.as_ref()
    }
}

/// Verifies an ES256 signature (raw `r || s`) over `message` with a SEC1 public key: every verification on the
/// hot path (show codes, mdoc issuer and device signatures, certificate chains) comes here or to a parsed
/// [`Es256Key`]; a malformed key verifies nothing.
pub fn verify_es256(public_sec1: &[u8], message: &[u8], raw_signature: &[u8]) -> bool {
    Es256Key::from_sec1(public_sec1).is_some_and(|key| key.verify(message, raw_signature))
}

/// Verifies an ES256 signature (raw `r || s`) over a SHA-256 digest computed by the caller.
///
/// Still RustCrypto's p256, on purpose: nothing on a request path verifies a digest (every verifier holds the
/// signed bytes and goes through [`verify_es256`]); its callers are the signer tests, where an implementation
/// independent of the one verifying the messages is a cross-check rather than a cost.
pub fn verify_es256_digest(public_sec1: &[u8], digest: &[u8; 32], raw_signature: &[u8]) -> bool {
    match (
        VerifyingKey::from_sec1_bytes(public_sec1),
        Signature::from_slice(raw_signature),
    ) {
        (Ok(key), Ok(signature)) => key.verify_prehash(digest, &signature).is_ok(),
        _ => false,
    }
}

/// The in-process signer is development code: the local server and the tests sign with it, no deployed function
/// (they sign with KMS).
#[cfg(any(test, feature = "dev"))]
pub use local::LocalSigner;

#[cfg(any(test, feature = "dev"))]
mod local {
    use super::*;

    struct LocalKey {
        key: SigningKey,
        enabled: bool,
    }

    /// The software adapter of the signer port, for the local server and fast tests: P-256 keys
    /// held in memory by key id, behaving like KMS where callers can tell (disabled keys refuse
    /// to sign, unknown keys are reported as such).
    #[derive(Default)]
    pub struct LocalSigner {
        keys: Mutex<HashMap<String, LocalKey>>,
    }

    impl LocalSigner {
        pub fn new() -> Self {
            Self::default()
        }

        /// Creates (or replaces) the key `key_id` with a fresh random P-256 key.
        pub fn generate(&self, key_id: &str) {
            self.insert(key_id, SigningKey::random(&mut OsRng));
        }

        /// Stores a given key under `key_id`, enabled; for deployments that derive stable keys.
        pub fn insert(&self, key_id: &str, key: SigningKey) {
            // A map insert cannot be left half done by a panic elsewhere, so a poisoned lock
            // still guards a consistent map.
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            keys.insert(key_id.to_string(), LocalKey { key, enabled: true });
        }

        /// Disables the key: it keeps its public key but refuses to sign, as a disabled KMS key does.
        pub fn disable(&self, key_id: &str) {
            let mut keys = self.keys.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(entry) = keys.get_mut(key_id) {
                entry.enabled = false;
            }
        }
    }

    #[async_trait]
    impl Signer for LocalSigner {
        async fn sign_digest(&self, key_id: &str, digest: &[u8; 32]) -> Result<[u8; 64], SignerError> {
            let keys = self
                .keys
                .lock()
                .map_err(|_| SignerError::Unavailable("the local key store lock is poisoned".into()))?;
            let entry = keys
                .get(key_id)
                .ok_or_else(|| SignerError::UnknownKey(key_id.to_string()))?;
            if !entry.enabled {
                return Err(SignerError::Disabled(key_id.to_string()));
            }
            let signature: Signature = entry
                .key
                .sign_prehash(digest)
                .map_err(|e| SignerError::Unavailable(format!("local signing failed: {e}")))?;
            Ok(low_s_bytes(&signature))
        }

        /// Answers for disabled keys too: a public key stays public, and the KMS adapter
        /// answers from its cache after a key is disabled as well.
        async fn public_key(&self, key_id: &str) -> Result<Vec<u8>, SignerError> {
            let keys = self
                .keys
                .lock()
                .map_err(|_| SignerError::Unavailable("the local key store lock is poisoned".into()))?;
            let entry = keys
                .get(key_id)
                .ok_or_else(|| SignerError::UnknownKey(key_id.to_string()))?;
            Ok(entry.key.verifying_key().to_encoded_point(false).as_bytes().to_vec())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use p256::ecdsa::signature::Signer as _;
    use sha2::{Digest, Sha256};

    /// Minimal DER INTEGER of an unsigned big-endian magnitude.
    fn der_uint(bytes: &[u8]) -> Vec<u8> {
        let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len() - 1);
        let mut content = bytes[start..].to_vec();
        if content[0] & 0x80 != 0 {
            content.insert(0, 0);
        }
        let mut out = vec![0x02, content.len() as u8];
        out.extend(content);
        out
    }

    fn der_seq(parts: &[&[u8]]) -> Vec<u8> {
        let body: Vec<u8> = parts.concat();
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    fn der_of(signature: &Signature) -> Vec<u8> {
        let (r, s) = signature.split_bytes();
        der_seq(&[&der_uint(&r), &der_uint(&s)])
    }

    fn is_low_s(raw: &[u8]) -> bool {
        Signature::from_slice(raw).unwrap().normalize_s().is_none()
    }

    fn key() -> SigningKey {
        SigningKey::random(&mut OsRng)
    }

    fn public(key: &SigningKey) -> Vec<u8> {
        key.verifying_key().to_encoded_point(false).as_bytes().to_vec()
    }

    /// Signs numbered messages until one's signature satisfies `wanted`.
    fn find_signature(key: &SigningKey, wanted: impl Fn(&Signature) -> bool) -> (Vec<u8>, Signature) {
        for i in 0..20_000u32 {
            let message = format!("message {i}").into_bytes();
            let signature: Signature = key.sign(&message);
            if wanted(&signature) {
                return (message, signature);
            }
        }
        panic!("no such signature in 20000 tries");
    }

    #[test]
    fn our_der_helper_matches_the_ecdsa_crate() {
        let key = key();
        let signature: Signature = key.sign(b"hello");
        assert_eq!(der_of(&signature), signature.to_der().as_bytes());
    }

    #[test]
    fn r_and_s_with_high_bit_are_33_byte_integers_and_convert() {
        let key = key();
        let (message, signature) = find_signature(&key, |sig| {
            let (r, s) = sig.split_bytes();
            r[0] & 0x80 != 0 && s[0] & 0x80 != 0
        });
        let der = der_of(&signature);
        assert_eq!(&der[2..5], &[0x02, 33, 0x00], "r has a leading zero");
        let raw = der_signature_to_raw(&der).unwrap();
        assert!(verify_es256(&public(&key), &message, &raw));
    }

    #[test]
    fn short_r_is_left_padded() {
        let key = key();
        // A 31-byte magnitude without its high bit set is a 31-byte INTEGER.
        let (message, signature) = find_signature(&key, |sig| {
            let r = sig.split_bytes().0;
            r[0] == 0 && r[1] & 0x80 == 0
        });
        let der = signature.to_der().as_bytes().to_vec();
        assert!(der[3] <= 31, "r is at most 31 bytes in DER: {}", hex::encode(&der));
        let raw = der_signature_to_raw(&der).unwrap();
        assert_eq!(raw[0], 0);
        assert_eq!(&raw[..32], signature.split_bytes().0.as_slice());
        assert!(verify_es256(&public(&key), &message, &raw));
    }

    #[test]
    fn short_s_is_left_padded() {
        let key = key();
        let (message, signature) =
            find_signature(&key, |sig| sig.normalize_s().unwrap_or(*sig).split_bytes().1[0] == 0);
        let signature = signature.normalize_s().unwrap_or(signature);
        let raw = der_signature_to_raw(signature.to_der().as_bytes()).unwrap();
        assert_eq!(raw[32], 0);
        assert!(verify_es256(&public(&key), &message, &raw));
    }

    #[test]
    fn high_s_becomes_low_s_and_still_verifies() {
        let key = key();
        let message = b"a message signed with a high S";
        let low: Signature = key.sign(message);
        let low = low.normalize_s().unwrap_or(low);
        let high = Signature::from_scalars(low.r(), -*low.s()).unwrap();
        assert!(!is_low_s(&high.to_bytes()));
        assert!(
            verify_es256(&public(&key), message, &high.to_bytes()),
            "high S verifies in p256"
        );

        let raw = der_signature_to_raw(&der_of(&high)).unwrap();
        assert_eq!(raw, <[u8; 64]>::from(low.to_bytes()));
        assert!(is_low_s(&raw));
        assert!(verify_es256(&public(&key), message, &raw));
        let digest: [u8; 32] = Sha256::digest(message).into();
        assert!(verify_es256_digest(&public(&key), &digest, &raw));
    }

    #[test]
    fn malformed_signatures_are_rejected() {
        let key = key();
        let signature: Signature = key.sign(b"x");
        let good = der_of(&signature);
        let (r, s) = signature.split_bytes();
        let order_minus_nothing = [0xffu8; 32];

        let mut trailing = good.clone();
        trailing.push(0);
        let mut wrong_tag = good.clone();
        wrong_tag[0] = 0x31;
        let mut truncated = good.clone();
        truncated.pop();
        let mut long_form = vec![0x30, 0x81, good[1]];
        long_form.extend(&good[2..]);
        let r_der = der_uint(&r);
        let s_der = der_uint(&s);
        let mut inner_trailing_body = [r_der.clone(), s_der.clone(), vec![0x05, 0x00]].concat();
        let inner_trailing = {
            let mut out = vec![0x30, inner_trailing_body.len() as u8];
            out.append(&mut inner_trailing_body);
            out
        };
        let negative_r = der_seq(&[&[0x02, 0x01, 0x80], &s_der]);
        let zero_r = der_seq(&[&[0x02, 0x01, 0x00], &s_der]);
        let empty_r = der_seq(&[&[0x02, 0x00], &s_der]);
        let padded_r = der_seq(&[&[&[0x02, 0x03, 0x00, 0x00][..], &[0x01]].concat(), &s_der]);
        let padded_small = der_seq(&[&[0x02, 0x02, 0x00, 0x01], &s_der]);
        let thirty_three = der_seq(&[&[&[0x02, 33, 0x01][..], &[0x11; 32]].concat(), &s_der]);
        let above_order = der_seq(&[&der_uint(&order_minus_nothing), &s_der]);
        let r_integer_tag_wrong = der_seq(&[&[&[0x04, 32][..], &r].concat(), &s_der]);
        let missing_s = der_seq(&[&r_der]);

        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("garbage", b"not a signature at all".to_vec()),
            ("raw r||s", signature.to_bytes().to_vec()),
            ("trailing byte after the sequence", trailing),
            ("wrong outer tag", wrong_tag),
            ("truncated", truncated),
            ("long-form length", long_form),
            ("bytes after s", inner_trailing),
            ("negative r", negative_r),
            ("zero r", zero_r),
            ("empty r", empty_r),
            ("two leading zeros", padded_r),
            ("superfluous leading zero", padded_small),
            ("33 significant bytes", thirty_three),
            ("r above the order", above_order),
            ("r as OCTET STRING", r_integer_tag_wrong),
            ("missing s", missing_s),
        ];
        for (name, der) in cases {
            match der_signature_to_raw(&der) {
                Err(SignerError::Malformed(_)) => {}
                other => panic!("{name}: expected Malformed, got {other:?}"),
            }
        }
        assert!(der_signature_to_raw(&good).is_ok());
    }

    #[test]
    fn verification_rejects_wrong_message_key_and_garbage() {
        let key = key();
        let signature: Signature = key.sign(b"right");
        let raw = signature.to_bytes();
        assert!(verify_es256(&public(&key), b"right", &raw));
        assert!(!verify_es256(&public(&key), b"wrong", &raw));
        assert!(!verify_es256(&public(&SigningKey::random(&mut OsRng)), b"right", &raw));
        assert!(!verify_es256(b"not a key", b"right", &raw));
        assert!(!verify_es256(&public(&key), b"right", &raw[..63]));
        assert!(!verify_es256(&public(&key), b"right", &[0u8; 64]));
    }

    /// aws-lc-rs (what verify_es256 runs on) and RustCrypto's p256 agree on good, tampered,
    /// high-S, malformed and wrong-key signatures.
    #[test]
    fn verification_agrees_with_p256() {
        use p256::ecdsa::signature::Verifier as _;
        let p256_verifies = |public: &[u8], message: &[u8], raw: &[u8]| match (
            VerifyingKey::from_sec1_bytes(public),
            Signature::from_slice(raw),
        ) {
            (Ok(key), Ok(signature)) => key.verify(message, &signature).is_ok(),
            _ => false,
        };
        for i in 0..64u32 {
            let key = key();
            let message = format!("message {i}").into_bytes();
            let signature: Signature = key.sign(&message);
            let low = signature.normalize_s().unwrap_or(signature);
            let high = Signature::from_scalars(low.r(), -*low.s()).unwrap();
            let mut flipped = low.to_bytes().to_vec();
            flipped[(i % 64) as usize] ^= 1 << (i % 8);
            let cases: Vec<(Vec<u8>, Vec<u8>, Vec<u8>)> = vec![
                (public(&key), message.clone(), low.to_bytes().to_vec()),
                (public(&key), message.clone(), high.to_bytes().to_vec()),
                (public(&key), message.clone(), flipped),
                (public(&key), b"another message".to_vec(), low.to_bytes().to_vec()),
                (
                    public(&SigningKey::random(&mut OsRng)),
                    message.clone(),
                    low.to_bytes().to_vec(),
                ),
                (public(&key), message.clone(), low.to_bytes()[..63].to_vec()),
                (public(&key), message.clone(), [0u8; 64].to_vec()),
                (public(&key)[..64].to_vec(), message.clone(), low.to_bytes().to_vec()),
            ];
            for (n, (public, message, raw)) in cases.iter().enumerate() {
                let expected = p256_verifies(public, message, raw);
                assert_eq!(verify_es256(public, message, raw), expected, "case {n} of message {i}");
                // The parsed key the trust set holds decides the same.
                let parsed = Es256Key::from_sec1(public).is_some_and(|key| key.verify(message, raw));
                assert_eq!(parsed, expected, "case {n} of message {i}, parsed key");
            }
            assert!(verify_es256(&cases[0].0, &cases[0].1, &cases[0].2));
            assert!(verify_es256(&cases[1].0, &cases[1].1, &cases[1].2), "high S verifies");
        }
    }

    /// The keys aws-lc-rs is given are the ones p256 reads: a SEC1 point, uncompressed or compressed. A DER
    /// SubjectPublicKeyInfo (which aws-lc-rs alone would read), the identity, a hybrid encoding, a bare
    /// coordinate, a point off the curve and wrong lengths are refused, as p256 refuses them; a compact point,
    /// which p256 reads for about half of all keys, is refused always.
    #[test]
    fn key_encodings_agree_with_p256() {
        use p256::ecdsa::signature::Verifier as _;
        use p256::pkcs8::EncodePublicKey;
        let key = key();
        let message = b"which keys verify";
        let signature: Signature = key.sign(message);
        let raw = signature.to_bytes().to_vec();
        let uncompressed = public(&key);
        let compressed = key.verifying_key().to_encoded_point(true).as_bytes().to_vec();
        let spki = key.verifying_key().to_public_key_der().unwrap().as_bytes().to_vec();
        let hybrid = [&[0x06 | (uncompressed[64] & 1)][..], &uncompressed[1..]].concat();
        let compact = [&[0x05][..], &uncompressed[1..33]].concat();
        let mut off_curve = uncompressed.clone();
        off_curve[64] ^= 1;
        let mut bad_tag = uncompressed.clone();
        bad_tag[0] = 0x02;
        let cases: Vec<(&str, Vec<u8>, bool)> = vec![
            ("uncompressed point", uncompressed.clone(), true),
            ("compressed point", compressed, true),
            ("DER SubjectPublicKeyInfo", spki, false),
            ("identity", vec![0x00], false),
            ("hybrid point", hybrid, false),
            ("compact point", compact, false),
            ("x and y without a tag", uncompressed[1..].to_vec(), false),
            ("x alone", uncompressed[1..33].to_vec(), false),
            ("point off the curve", off_curve, false),
            ("uncompressed length, compressed tag", bad_tag, false),
            ("a trailing byte", [&uncompressed[..], &[0]].concat(), false),
            ("empty", vec![], false),
        ];
        for (name, public, verifies) in cases {
            let p256 = VerifyingKey::from_sec1_bytes(&public).is_ok_and(|key| key.verify(message, &signature).is_ok());
            // p256 reads a compact point (tag 0x05, x alone) as the point of that x whose y is the smaller root:
            // the key's own point for about half of all keys. No certificate or COSE key carries that form, and
            // ours refuses it always: stricter than p256, never laxer.
            if name != "compact point" {
                assert_eq!(p256, verifies, "{name}: p256");
            }
            assert_eq!(verify_es256(&public, message, &raw), verifies, "{name}");
            assert_eq!(Es256Key::from_sec1(&public).is_some(), verifies, "{name}: parsed");
        }
        assert_eq!(Es256Key::from_sec1(&uncompressed).unwrap().sec1(), &uncompressed[..]);
    }

    #[test]
    fn raw_to_der_round_trips() {
        let key = key();
        let signature: Signature = key.sign(b"round trip");
        let signature = signature.normalize_s().unwrap_or(signature);
        let der = raw_signature_to_der(&signature.to_bytes()).unwrap();
        assert_eq!(
            der_signature_to_raw(&der).unwrap(),
            <[u8; 64]>::from(signature.to_bytes())
        );
        assert!(matches!(
            raw_signature_to_der(&[0u8; 64]),
            Err(SignerError::Malformed(_))
        ));
        assert!(matches!(
            raw_signature_to_der(&[1u8; 10]),
            Err(SignerError::Malformed(_))
        ));
    }

    #[test]
    fn spki_public_keys_are_read_only_for_p256() {
        use p256::pkcs8::EncodePublicKey;
        let key = key();
        let spki = key.verifying_key().to_public_key_der().unwrap();
        assert_eq!(p256_sec1_from_spki(spki.as_bytes()).unwrap(), public(&key));
        let mut other_curve = spki.as_bytes().to_vec();
        // The last arc of prime256v1 (…3.1.7) becomes …3.1.6.
        let arc = other_curve.windows(3).position(|w| w == [0x03, 0x01, 0x07]).unwrap();
        other_curve[arc + 2] = 0x06;
        assert!(matches!(
            p256_sec1_from_spki(&other_curve),
            Err(SignerError::Malformed(_))
        ));
        let mut trailing = spki.as_bytes().to_vec();
        trailing.push(0);
        assert!(matches!(p256_sec1_from_spki(&trailing), Err(SignerError::Malformed(_))));
        assert!(matches!(p256_sec1_from_spki(b"junk"), Err(SignerError::Malformed(_))));
    }

    #[tokio::test]
    async fn local_signer_signs_low_s_and_mirrors_kms_errors() {
        let signer = LocalSigner::new();
        signer.generate("iaca");
        let public = signer.public_key("iaca").await.unwrap();
        assert_eq!(public.len(), 65);
        assert_eq!(public[0], 0x04);
        for i in 0..32 {
            let message = format!("document {i}");
            let digest: [u8; 32] = Sha256::digest(message.as_bytes()).into();
            let raw = signer.sign_digest("iaca", &digest).await.unwrap();
            assert!(verify_es256(&public, message.as_bytes(), &raw));
            assert!(verify_es256_digest(&public, &digest, &raw));
            assert!(is_low_s(&raw));
        }
        assert_eq!(
            signer.sign_digest("nope", &[0; 32]).await,
            Err(SignerError::UnknownKey("nope".into()))
        );
        assert_eq!(
            signer.public_key("nope").await,
            Err(SignerError::UnknownKey("nope".into()))
        );
        signer.disable("iaca");
        assert_eq!(
            signer.sign_digest("iaca", &[0; 32]).await,
            Err(SignerError::Disabled("iaca".into()))
        );
        assert_eq!(signer.public_key("iaca").await, Ok(public));
    }
}
