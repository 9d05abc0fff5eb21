//! IETF Token Status List (draft-ietf-oauth-status-list) in its CBOR form: the compressed bit array, and the status list token as a signed CWT.
//!
//! A Status List holds one status of `bits` bits (1, 2, 4 or 8) for every index, packed
//! least-significant bits first (index 0 is the lowest `bits` bits of the first byte), and is
//! carried as `{"bits": uint, "lst": bstr}` where `lst` is the packed bytes zlib-deflated
//! (RFC 1950). A Status List Token is a COSE_Sign1 ES256 (protected header `typ` (16)
//! `application/statuslist+cwt`, `kid`) over a CWT claims set: `sub` (2) the list's URI, `iat`
//! (6), `exp` (4), `ttl` (65534, seconds a reader may cache it) and `status_list` (65533).
//! A signed document points at its entry with the MSO's `status: {"status_list": {"idx",
//! "uri"}}` ([`super::iso18013_5::Status`]).
//!
//! Decoding is split from verification, as for the show code, so that a reader can look the
//! key up by `kid` between the two.

use crate::crypto::{sha256, verify_es256};
use crate::kernel::signing::{Signer, SignerError};
use ciborium::Value;
use coset::{iana, CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use std::io::{Read, Write};

/// The CWT claims a token carries (RFC 8392 `sub`, `exp`, `iat`; the draft's `status_list`,
/// `ttl`). coset's claims set cannot read the draft's two, which IANA has not registered yet.
const CLAIM_SUB: i64 = 2;
const CLAIM_EXP: i64 = 4;
const CLAIM_IAT: i64 = 6;
pub const CLAIM_STATUS_LIST: i64 = 65533;
pub const CLAIM_TTL: i64 = 65534;
/// The COSE header parameter `typ` (RFC 9596).
const HEADER_TYP: i64 = 16;
/// The media type in the token's `typ` header.
pub const TOKEN_TYPE: &str = "application/statuslist+cwt";
/// The draft's status values.
pub const VALID: u8 = 0x00;
pub const INVALID: u8 = 0x01;
pub const SUSPENDED: u8 = 0x02;
/// An inflated list larger than this is refused: 16 MiB holds 134 million one-bit entries.
pub const MAX_INFLATED: usize = 16 << 20;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatusListError {
    #[error("{0} bits per status: the draft allows 1, 2, 4 or 8")]
    Bits(u8),
    #[error("index {index} is beyond the list's {size} entries")]
    Index { index: u64, size: u64 },
    #[error("status {status} does not fit in {bits} bits")]
    Status { status: u8, bits: u8 },
    #[error("the compressed list is not a zlib stream within the size limit: {0}")]
    Compression(String),
    #[error("the status list token is malformed: {0}")]
    Malformed(String),
    #[error("the status list token's signature does not verify")]
    Signature,
    #[error(transparent)]
    Signer(#[from] SignerError),
}

/// A list of statuses, `bits` bits each, packed as the draft lays them out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusList {
    bits: u8,
    packed: Vec<u8>,
}

impl StatusList {
    /// `size` entries, all [`VALID`]. `size` is rounded up to whole bytes.
    pub fn new(bits: u8, size: u64) -> Result<Self, StatusListError> {
        check_bits(bits)?;
        let per_byte = u64::from(8 / bits);
        let bytes =
            usize::try_from(size.div_ceil(per_byte)).map_err(|_| StatusListError::Index { index: size, size })?;
        Ok(StatusList {
            bits,
            packed: vec![0; bytes],
        })
    }

    /// A list from statuses already packed as the draft lays them out (a store's shards laid end to end).
    pub fn from_packed(bits: u8, packed: Vec<u8>) -> Result<Self, StatusListError> {
        check_bits(bits)?;
        Ok(StatusList { bits, packed })
    }

    /// The packed statuses, as the draft lays them out.
    pub fn packed(&self) -> &[u8] {
        &self.packed
    }

    pub fn bits(&self) -> u8 {
        self.bits
    }

    /// How many entries the list holds.
    pub fn size(&self) -> u64 {
        self.packed.len() as u64 * u64::from(8 / self.bits)
    }

    /// The byte holding entry `index`, and the entry's shift inside it.
    fn position(&self, index: u64) -> Result<(usize, u8), StatusListError> {
        let per_byte = u64::from(8 / self.bits);
        let byte = usize::try_from(index / per_byte)
            .ok()
            .filter(|b| *b < self.packed.len());
        let byte = byte.ok_or(StatusListError::Index {
            index,
            size: self.size(),
        })?;
        // Below 8 and a multiple of bits: fits in a u8.
        let shift = (index % per_byte) as u8 * self.bits;
        Ok((byte, shift))
    }

    fn mask(&self) -> u8 {
        (((1u16 << self.bits) - 1) & 0xff) as u8
    }

    pub fn get(&self, index: u64) -> Result<u8, StatusListError> {
        let (byte, shift) = self.position(index)?;
        Ok((self.packed[byte] >> shift) & self.mask())
    }

    pub fn set(&mut self, index: u64, status: u8) -> Result<(), StatusListError> {
        if status & !self.mask() != 0 {
            return Err(StatusListError::Status {
                status,
                bits: self.bits,
            });
        }
        let (byte, shift) = self.position(index)?;
        let mask = self.mask() << shift;
        self.packed[byte] = (self.packed[byte] & !mask) | (status << shift);
        Ok(())
    }

    /// The draft's CBOR `StatusList`: `{"bits", "lst"}` with `lst` zlib-deflated.
    fn to_wire(&self) -> Result<WireList, StatusListError> {
        let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        encoder
            .write_all(&self.packed)
            .map_err(|e| StatusListError::Compression(e.to_string()))?;
        let lst = encoder
            .finish()
            .map_err(|e| StatusListError::Compression(e.to_string()))?;
        Ok(WireList {
            bits: self.bits,
            lst: ByteBuf::from(lst),
        })
    }

    fn from_wire(wire: WireList) -> Result<Self, StatusListError> {
        check_bits(wire.bits)?;
        let mut decoder = flate2::bufread::ZlibDecoder::new(wire.lst.as_slice());
        let mut packed = Vec::new();
        (&mut decoder)
            .take(MAX_INFLATED as u64 + 1)
            .read_to_end(&mut packed)
            .map_err(|e| StatusListError::Compression(e.to_string()))?;
        if packed.len() > MAX_INFLATED {
            return Err(StatusListError::Compression(format!(
                "inflates beyond {MAX_INFLATED} bytes"
            )));
        }
        if !decoder.get_ref().is_empty() {
            return Err(StatusListError::Compression(
                "bytes after the end of the zlib stream".into(),
            ));
        }
        Ok(StatusList {
            bits: wire.bits,
            packed,
        })
    }
}

fn check_bits(bits: u8) -> Result<(), StatusListError> {
    match bits {
        1 | 2 | 4 | 8 => Ok(()),
        other => Err(StatusListError::Bits(other)),
    }
}

/// The CBOR `StatusList` map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct WireList {
    bits: u8,
    lst: ByteBuf,
}

/// What a Status List Token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusListToken {
    /// The URI the list is published at, which documents name in their `status`.
    pub uri: String,
    /// Unix seconds.
    pub issued_at: i64,
    /// Unix seconds.
    pub expires_at: i64,
    /// Seconds a reader may keep it before fetching it again.
    pub ttl: u64,
    pub list: StatusList,
}

/// A decoded token whose signature has not been checked yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedStatusList {
    pub token: StatusListToken,
    pub kid: Vec<u8>,
    tbs: Vec<u8>,
    signature: Vec<u8>,
}

impl SignedStatusList {
    /// Checks the ES256 signature with the issuer's key (SEC1) over the bytes as received.
    pub fn verify(&self, public_sec1: &[u8]) -> Result<(), StatusListError> {
        if verify_es256(public_sec1, &self.tbs, &self.signature) {
            Ok(())
        } else {
            Err(StatusListError::Signature)
        }
    }
}

/// Signs `token` with `key_id` (naming the key to the signer) and `kid` (naming it to readers):
/// the token as a tagged COSE_Sign1, ready to publish.
pub async fn encode(
    token: &StatusListToken,
    signer: &dyn Signer,
    key_id: &str,
    kid: &[u8],
) -> Result<Vec<u8>, StatusListError> {
    let malformed = |e: coset::CoseError| StatusListError::Malformed(e.to_string());
    let list = Value::serialized(&token.list.to_wire()?).map_err(|e| StatusListError::Malformed(e.to_string()))?;
    let int = |i: i64| Value::Integer(i.into());
    // Keys in RFC 8949 §4.2.1 deterministic order.
    let claims = Value::Map(vec![
        (int(CLAIM_SUB), Value::Text(token.uri.clone())),
        (int(CLAIM_EXP), int(token.expires_at)),
        (int(CLAIM_IAT), int(token.issued_at)),
        (int(CLAIM_STATUS_LIST), list),
        (int(CLAIM_TTL), Value::Integer(token.ttl.into())),
    ]);
    let mut payload = Vec::new();
    ciborium::into_writer(&claims, &mut payload).map_err(|e| StatusListError::Malformed(e.to_string()))?;
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ES256)
        .value(HEADER_TYP, Value::Text(TOKEN_TYPE.into()))
        .key_id(kid.to_vec())
        .build();
    let mut sign1 = CoseSign1Builder::new().protected(protected).payload(payload).build();
    sign1.signature = signer
        .sign_digest(key_id, &sha256(&sign1.tbs_data(b"")))
        .await?
        .to_vec();
    sign1.to_tagged_vec().map_err(malformed)
}

/// Parses a token (tagged or not) without checking its signature.
pub fn decode(bytes: &[u8]) -> Result<SignedStatusList, StatusListError> {
    let bad = |why: String| StatusListError::Malformed(why);
    let sign1 = CoseSign1::from_tagged_slice(bytes)
        .or_else(|_| CoseSign1::from_slice(bytes))
        .map_err(|e| bad(format!("not a COSE_Sign1: {e}")))?;
    let header = &sign1.protected.header;
    if header.alg != Some(coset::Algorithm::Assigned(iana::Algorithm::ES256)) {
        return Err(bad("not signed with ES256".into()));
    }
    let typ = header
        .rest
        .iter()
        .find(|(label, _)| *label == coset::Label::Int(HEADER_TYP))
        .map(|(_, value)| value);
    if typ != Some(&Value::Text(TOKEN_TYPE.into())) {
        return Err(bad(format!("its typ is not {TOKEN_TYPE}")));
    }
    let payload = sign1
        .payload
        .as_deref()
        .ok_or_else(|| bad("the payload is detached".into()))?;
    let mut rest = payload;
    let claims: Value = ciborium::from_reader(&mut rest).map_err(|e| bad(format!("the claims: {e}")))?;
    if !rest.is_empty() {
        return Err(bad("bytes after the claims".into()));
    }
    let Value::Map(claims) = claims else {
        return Err(bad("the claims are not a map".into()));
    };
    let (mut uri, mut issued_at, mut expires_at, mut ttl, mut list) = (None, None, None, None, None);
    let mut seen = std::collections::BTreeSet::new();
    for (key, value) in claims {
        let Some(key) = key.as_integer().and_then(|k| i64::try_from(k).ok()) else {
            continue; // a text-keyed claim of someone else's says nothing about statuses
        };
        if !seen.insert(key) {
            return Err(bad(format!("claim {key} appears twice")));
        }
        let whole = |value: &Value| value.as_integer().and_then(|i| i64::try_from(i).ok());
        match key {
            CLAIM_SUB => uri = Some(value.into_text().map_err(|_| bad("sub is not text".into()))?),
            CLAIM_IAT => issued_at = Some(whole(&value).ok_or_else(|| bad("iat is not whole seconds".into()))?),
            CLAIM_EXP => expires_at = Some(whole(&value).ok_or_else(|| bad("exp is not whole seconds".into()))?),
            CLAIM_TTL => {
                let seconds = whole(&value).and_then(|t| u64::try_from(t).ok());
                ttl = Some(seconds.ok_or_else(|| bad("ttl is not an unsigned integer".into()))?);
            }
            CLAIM_STATUS_LIST => {
                let wire: WireList = value
                    .deserialized()
                    .map_err(|e| bad(format!("status_list is not {{bits, lst}}: {e}")))?;
                list = Some(StatusList::from_wire(wire)?);
            }
            // Other claims (an aggregation URI, say) do not change what the list says.
            _ => {}
        }
    }
    let missing = |what: &str| bad(format!("{what} is missing"));
    Ok(SignedStatusList {
        token: StatusListToken {
            uri: uri.ok_or_else(|| missing("sub"))?,
            issued_at: issued_at.ok_or_else(|| missing("iat"))?,
            expires_at: expires_at.ok_or_else(|| missing("exp"))?,
            ttl: ttl.ok_or_else(|| missing("ttl"))?,
            list: list.ok_or_else(|| missing("status_list"))?,
        },
        kid: header.key_id.clone(),
        tbs: sign1.tbs_data(b""),
        signature: sign1.signature.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::showcode::tests::TestSigner;

    fn block_on<F: std::future::Future>(f: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
            .block_on(f)
    }

    fn list_of(bits: u8, statuses: &[u8]) -> StatusList {
        let mut list = StatusList::new(bits, statuses.len() as u64).unwrap();
        for (index, status) in statuses.iter().enumerate() {
            list.set(index as u64, *status).unwrap();
        }
        list
    }

    /// The draft's own examples of the packing (section "Status List").
    #[test]
    fn statuses_are_packed_as_the_draft_lays_them_out() {
        let one_bit = list_of(1, &[1, 0, 0, 1, 1, 1, 0, 1, 1, 1, 0, 0, 0, 1, 0, 1]);
        assert_eq!(one_bit.packed, [0xB9, 0xA3]);
        let two_bits = list_of(2, &[1, 2, 0, 3, 0, 1, 0, 1, 1, 2, 3, 3]);
        assert_eq!(two_bits.packed, [0xC9, 0x44, 0xF9]);
        assert_eq!(two_bits.get(3).unwrap(), 3);
        assert_eq!(two_bits.get(9).unwrap(), 2);
        let mut eight_bits = StatusList::new(8, 3).unwrap();
        eight_bits.set(1, 0xAB).unwrap();
        assert_eq!(eight_bits.packed, [0, 0xAB, 0]);
    }

    #[test]
    fn setting_one_entry_leaves_its_neighbours() {
        for bits in [1, 2, 4, 8] {
            let mut list = StatusList::new(bits, 64).unwrap();
            let top = ((1u16 << bits) - 1) as u8;
            list.set(17, top).unwrap();
            list.set(18, top).unwrap();
            list.set(17, VALID).unwrap();
            assert_eq!(
                (list.get(16).unwrap(), list.get(17).unwrap(), list.get(18).unwrap()),
                (0, 0, top)
            );
        }
    }

    #[test]
    fn out_of_range_is_refused() {
        assert_eq!(StatusList::new(3, 8), Err(StatusListError::Bits(3)));
        let mut list = StatusList::new(1, 16).unwrap();
        assert_eq!(list.size(), 16);
        assert_eq!(list.get(16), Err(StatusListError::Index { index: 16, size: 16 }));
        assert_eq!(
            list.set(3, SUSPENDED),
            Err(StatusListError::Status { status: 2, bits: 1 })
        );
        assert_eq!(StatusList::new(2, 5).unwrap().size(), 8, "whole bytes");
    }

    fn token(list: StatusList) -> StatusListToken {
        StatusListToken {
            uri: "https://edl.example.gov.cn/status/7".into(),
            issued_at: 1_767_225_600,
            expires_at: 1_767_225_600 + 86_400,
            ttl: 3_600,
            list,
        }
    }

    #[test]
    fn a_token_round_trips_and_is_signed() {
        let signer = TestSigner::new(5);
        let mut list = StatusList::new(2, 100_000).unwrap();
        list.set(4_711, INVALID).unwrap();
        list.set(99_999, SUSPENDED).unwrap();
        let bytes = block_on(encode(&token(list.clone()), &signer, "test-key", b"ds-1")).unwrap();
        // A hundred thousand two-bit entries, nearly all valid, compress to almost nothing.
        assert!(bytes.len() < 400, "{} bytes", bytes.len());
        let signed = decode(&bytes).unwrap();
        assert_eq!(signed.token, token(list));
        assert_eq!(signed.kid, b"ds-1");
        signed.verify(&signer.public()).unwrap();
        assert_eq!(
            signed.verify(&TestSigner::new(6).public()),
            Err(StatusListError::Signature)
        );
        assert_eq!(signed.token.list.get(4_711).unwrap(), INVALID);

        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert_eq!(
            decode(&flipped).unwrap().verify(&signer.public()),
            Err(StatusListError::Signature)
        );
    }

    #[test]
    fn what_is_not_a_status_list_token_is_refused() {
        let signer = TestSigner::new(5);
        let sign = |protected: coset::Header, claims: Value| {
            let mut payload = Vec::new();
            ciborium::into_writer(&claims, &mut payload).unwrap();
            let mut sign1 = CoseSign1Builder::new().protected(protected).payload(payload).build();
            sign1.signature = block_on(signer.sign_digest("test-key", &sha256(&sign1.tbs_data(b""))))
                .unwrap()
                .to_vec();
            sign1.to_tagged_vec().unwrap()
        };
        let typed = || {
            HeaderBuilder::new()
                .algorithm(iana::Algorithm::ES256)
                .value(HEADER_TYP, Value::Text(TOKEN_TYPE.into()))
        };
        let int = |i: i64| Value::Integer(i.into());
        let wire = Value::serialized(&StatusList::new(1, 8).unwrap().to_wire().unwrap()).unwrap();
        let claims = |entries: Vec<(i64, Value)>| Value::Map(entries.into_iter().map(|(k, v)| (int(k), v)).collect());
        let complete = vec![
            (2, Value::Text("https://x".into())),
            (4, int(2)),
            (6, int(1)),
            (CLAIM_STATUS_LIST, wire.clone()),
            (CLAIM_TTL, int(60)),
        ];
        assert!(decode(&sign(typed().build(), claims(complete.clone()))).is_ok());
        let untyped = HeaderBuilder::new().algorithm(iana::Algorithm::ES256).build();
        let bomb = {
            let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
            encoder.write_all(&vec![0u8; MAX_INFLATED + 1]).unwrap();
            Value::Map(vec![
                (Value::Text("bits".into()), int(1)),
                (Value::Text("lst".into()), Value::Bytes(encoder.finish().unwrap())),
            ])
        };
        let mut with_bomb = complete.clone();
        with_bomb[3].1 = bomb;
        let mut twice = complete.clone();
        twice.push((4, int(3)));
        for (what, token) in [
            ("no typ", sign(untyped, claims(complete.clone()))),
            ("no ttl", sign(typed().build(), claims(complete[..4].to_vec()))),
            (
                "no list",
                sign(typed().build(), claims([&complete[..3], &complete[4..]].concat())),
            ),
            ("a zlib bomb", sign(typed().build(), claims(with_bomb))),
            ("a claim twice", sign(typed().build(), claims(twice))),
            ("garbage", b"\x01\x02".to_vec()),
        ] {
            assert!(decode(&token).is_err(), "{what}");
        }
    }
}
