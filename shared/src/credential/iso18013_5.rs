//! The ISO/IEC 18013-5 data structures (IssuerSigned, MSO, DeviceResponse, ...) as serde types that keep the exact bytes digests and signatures cover.
//!
//! Every `#6.24(bstr .cbor T)` is a [`Tag24`]: it holds the embedded bytes exactly as
//! received beside the value they decode to, so a digest (IssuerSignedItemBytes) or a
//! signature (MobileSecurityObjectBytes, DeviceAuthenticationBytes) is always computed over
//! what the issuer or the device produced, never over a re-encoding. COSE structures stay
//! coset's types, which keep the protected header's bytes as received. Maps that the
//! standard keys by name refuse a key given twice: two readers of one map could otherwise
//! each see a different value.

use chrono::{DateTime, SubsecRound, Utc};
use ciborium::tag::Required;
use ciborium::Value;
use coset::{AsCborValue, CoseKey, CoseMac0, CoseSign1};
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_bytes::ByteBuf;

/// CBOR tag of an embedded encoded data item (`#6.24(bstr .cbor T)`, RFC 8949 §3.4.5.1).
pub const TAG_ENCODED_CBOR: u64 = 24;
/// CBOR tag of an RFC 3339 date-time (`tdate`).
pub const TAG_TDATE: u64 = 0;
/// CBOR tag of a COSE_Sign1 (RFC 9052); 18013-5 sends it untagged, a tag is no error.
const TAG_COSE_SIGN1: u64 = 18;
/// CBOR tag of a COSE_Mac0 (RFC 9052).
const TAG_COSE_MAC0: u64 = 17;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CborError(pub String);

/// Encodes `value` as CBOR.
pub fn to_vec<T: Serialize + ?Sized>(value: &T) -> Result<Vec<u8>, CborError> {
    let mut bytes = Vec::new();
    ciborium::into_writer(value, &mut bytes).map_err(|e| CborError(e.to_string()))?;
    Ok(bytes)
}

/// Decodes exactly one CBOR item: trailing bytes would be data nobody signed.
pub fn from_slice<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, CborError> {
    let mut rest = bytes;
    let value = ciborium::from_reader(&mut rest).map_err(|e| CborError(format!("CBOR: {e}")))?;
    if !rest.is_empty() {
        return Err(CborError(format!("{} bytes after the CBOR item", rest.len())));
    }
    Ok(value)
}

/// `#6.24(bstr .cbor T)`: the embedded bytes as received and the value they decode to.
#[derive(Debug, Clone, PartialEq)]
pub struct Tag24<T> {
    bytes: Vec<u8>,
    value: T,
}

impl<T: Serialize> Tag24<T> {
    /// Encodes `value` once; these bytes are then what is digested, signed and sent.
    pub fn new(value: T) -> Result<Self, CborError> {
        Ok(Tag24 {
            bytes: to_vec(&value)?,
            value,
        })
    }
}

impl<T: DeserializeOwned> Tag24<T> {
    /// Decodes embedded bytes, keeping them.
    pub fn from_bytes(bytes: Vec<u8>) -> Result<Self, CborError> {
        let value = from_slice(&bytes)?;
        Ok(Tag24 { bytes, value })
    }
}

impl<T> Tag24<T> {
    /// The embedded item's bytes, exactly as received or encoded.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    pub fn value(&self) -> &T {
        &self.value
    }

    /// The encoding of the whole `#6.24(bstr)` item, as 18013-5 digests it (IssuerSignedItemBytes)
    /// and signs it (MobileSecurityObjectBytes, DeviceAuthenticationBytes): the tag and the byte
    /// string's head in their shortest form around the embedded bytes as they are.
    pub fn tagged_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.bytes.len() + 11);
        out.extend_from_slice(&[0xd8, TAG_ENCODED_CBOR as u8]);
        push_byte_string_head(&mut out, self.bytes.len());
        out.extend_from_slice(&self.bytes);
        out
    }
}

/// Appends the CBOR head of a byte string of `len` bytes: major type 2 with the length's shortest argument
/// (`0x40 | len` below 24, then `0x58` to `0x5b` with a 1, 2, 4 or 8 byte length).
pub(crate) fn push_byte_string_head(out: &mut Vec<u8>, len: usize) {
    let len = len as u64;
    match len {
        0..=23 => out.push(0x40 | len as u8),
        24..=0xff => out.extend_from_slice(&[0x58, len as u8]),
        0x100..=0xffff => {
            out.push(0x59);
            out.extend_from_slice(&(len as u16).to_be_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0x5a);
            out.extend_from_slice(&(len as u32).to_be_bytes());
        }
        _ => {
            out.push(0x5b);
            out.extend_from_slice(&len.to_be_bytes());
        }
    }
}

impl<T> Serialize for Tag24<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        Required::<&serde_bytes::Bytes, TAG_ENCODED_CBOR>(serde_bytes::Bytes::new(&self.bytes)).serialize(serializer)
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Tag24<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Required(bytes) = Required::<ByteBuf, TAG_ENCODED_CBOR>::deserialize(deserializer)
            .map_err(|e| D::Error::custom(format!("not #6.24(bstr): {e}")))?;
        Tag24::from_bytes(bytes.into_vec()).map_err(|e| D::Error::custom(e.0))
    }
}

/// A CBOR map whose keys are unique, in the order given: a map with a key twice is refused.
#[derive(Debug, Clone, PartialEq)]
pub struct UniqueMap<K, V>(Vec<(K, V)>);

impl<K: PartialEq, V> UniqueMap<K, V> {
    /// Refuses a key given twice, naming it.
    pub fn new(entries: Vec<(K, V)>) -> Result<Self, K> {
        let mut map = UniqueMap(Vec::with_capacity(entries.len()));
        for (key, value) in entries {
            if map.get(&key).is_some() {
                return Err(key);
            }
            map.0.push((key, value));
        }
        Ok(map)
    }

    pub fn get(&self, key: &K) -> Option<&V> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&K, &V)> {
        self.0.iter().map(|(k, v)| (k, v))
    }
}

impl<K: Serialize, V: Serialize> Serialize for UniqueMap<K, V> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

impl<'de, K: Deserialize<'de> + PartialEq + std::fmt::Debug, V: Deserialize<'de>> Deserialize<'de> for UniqueMap<K, V> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<K, V>(std::marker::PhantomData<(K, V)>);
        impl<'de, K: Deserialize<'de> + PartialEq + std::fmt::Debug, V: Deserialize<'de>> serde::de::Visitor<'de>
            for Visitor<K, V>
        {
            type Value = UniqueMap<K, V>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a map with unique keys")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = access.next_entry()? {
                    entries.push(entry);
                }
                UniqueMap::new(entries).map_err(|key| A::Error::custom(format!("the key {key:?} appears twice")))
            }
        }
        deserializer.deserialize_map(Visitor(std::marker::PhantomData))
    }
}

/// A `tdate`: an RFC 3339 date-time in whole seconds, UTC, tagged 0.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct TDate(pub DateTime<Utc>);

impl Serialize for TDate {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let text = self.0.trunc_subsecs(0).format("%Y-%m-%dT%H:%M:%SZ").to_string();
        Required::<String, TAG_TDATE>(text).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TDate {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let Required(text) =
            Required::<String, TAG_TDATE>::deserialize(deserializer).map_err(|_| D::Error::custom("not a tdate"))?;
        DateTime::parse_from_rfc3339(&text)
            .map(|at| TDate(at.with_timezone(&Utc)))
            .map_err(|e| D::Error::custom(format!("the tdate {text:?}: {e}")))
    }
}

/// Serde through coset's own CBOR mapping for a COSE type held inside an 18013-5 structure.
macro_rules! cose_item {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $tag:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq)]
        pub struct $name(pub $inner);

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                self.0
                    .clone()
                    .to_cbor_value()
                    .map_err(|e| serde::ser::Error::custom(e.to_string()))?
                    .serialize(serializer)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let value = match Value::deserialize(deserializer)? {
                    Value::Tag(tag, inner) if Some(tag) == $tag => *inner,
                    other => other,
                };
                <$inner>::from_cbor_value(value)
                    .map($name)
                    .map_err(|e| D::Error::custom(format!("{}: {e}", stringify!($inner))))
            }
        }
    };
}

cose_item!(
    /// A COSE_Sign1 (issuerAuth, DeviceSignature), untagged or tagged 18.
    Sign1,
    CoseSign1,
    Some(TAG_COSE_SIGN1)
);
cose_item!(
    /// A COSE_Mac0 (DeviceMac), untagged or tagged 17.
    Mac0,
    CoseMac0,
    Some(TAG_COSE_MAC0)
);
cose_item!(
    /// A COSE_Key (the MSO's device key).
    Key,
    CoseKey,
    None
);

/// `IssuerSignedItem`: one disclosed element with its salt and digest ID.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuerSignedItem {
    #[serde(rename = "digestID")]
    pub digest_id: u64,
    pub random: ByteBuf,
    #[serde(rename = "elementIdentifier")]
    pub element_identifier: String,
    #[serde(rename = "elementValue")]
    pub element_value: Value,
}

/// `IssuerNameSpaces`: namespace → its IssuerSignedItemBytes.
pub type IssuerNameSpaces = UniqueMap<String, Vec<Tag24<IssuerSignedItem>>>;

/// `IssuerSigned`: the disclosed elements and the issuer's signature over the MSO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct IssuerSigned {
    /// Optional in 18013-5: an mdoc may disclose no element at all.
    #[serde(rename = "nameSpaces", default, skip_serializing_if = "Option::is_none")]
    pub name_spaces: Option<IssuerNameSpaces>,
    #[serde(rename = "issuerAuth")]
    pub issuer_auth: Sign1,
}

/// `DigestIDs` of one namespace: digest ID → digest.
pub type DigestIds = UniqueMap<u64, ByteBuf>;

/// `ValidityInfo` of the MSO.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ValidityInfo {
    pub signed: TDate,
    #[serde(rename = "validFrom")]
    pub valid_from: TDate,
    #[serde(rename = "validUntil")]
    pub valid_until: TDate,
    #[serde(rename = "expectedUpdate", default, skip_serializing_if = "Option::is_none")]
    pub expected_update: Option<TDate>,
}

/// `DeviceKeyInfo`: the holder device's public key (and what it may sign, which we do not restrict).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceKeyInfo {
    #[serde(rename = "deviceKey")]
    pub device_key: Key,
    #[serde(rename = "keyAuthorizations", default, skip_serializing_if = "Option::is_none")]
    pub key_authorizations: Option<Value>,
    #[serde(rename = "keyInfo", default, skip_serializing_if = "Option::is_none")]
    pub key_info: Option<Value>,
}

/// `MobileSecurityObject`: what the issuer signs.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MobileSecurityObject {
    pub version: String,
    #[serde(rename = "digestAlgorithm")]
    pub digest_algorithm: String,
    #[serde(rename = "valueDigests")]
    pub value_digests: UniqueMap<String, DigestIds>,
    #[serde(rename = "deviceKeyInfo")]
    pub device_key_info: DeviceKeyInfo,
    #[serde(rename = "docType")]
    pub doc_type: String,
    #[serde(rename = "validityInfo")]
    pub validity_info: ValidityInfo,
    /// Where the document's revocation status is published (ISO/IEC 18013-5 second edition,
    /// IETF Token Status List).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
}

/// The MSO's `status`: `{"status_list": {"idx", "uri"}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Status {
    pub status_list: StatusListReference,
}

/// A document's entry in a status list: its index, and the URI of the list's token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusListReference {
    pub idx: u64,
    pub uri: String,
}

/// `DeviceAuth`: exactly one of a device signature or a device MAC.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceAuth {
    #[serde(rename = "deviceSignature", default, skip_serializing_if = "Option::is_none")]
    pub device_signature: Option<Sign1>,
    #[serde(rename = "deviceMac", default, skip_serializing_if = "Option::is_none")]
    pub device_mac: Option<Mac0>,
}

/// `DeviceSigned`: the elements the device itself returns, and its authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceSigned {
    /// DeviceNameSpacesBytes.
    #[serde(rename = "nameSpaces")]
    pub name_spaces: Tag24<Value>,
    #[serde(rename = "deviceAuth")]
    pub device_auth: DeviceAuth,
}

/// `Document`. 18013-5 requires `deviceSigned` in a DeviceResponse; the documents this service
/// hands out for a transfer without a DeviceResponse carry none.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Document {
    #[serde(rename = "docType")]
    pub doc_type: String,
    #[serde(rename = "issuerSigned")]
    pub issuer_signed: IssuerSigned,
    #[serde(rename = "deviceSigned", default, skip_serializing_if = "Option::is_none")]
    pub device_signed: Option<DeviceSigned>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Value>,
}

/// `DeviceResponse`: what a holder's device presents.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceResponse {
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub documents: Option<Vec<Document>>,
    #[serde(rename = "documentErrors", default, skip_serializing_if = "Option::is_none")]
    pub document_errors: Option<Value>,
    pub status: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tag24_keeps_the_bytes_it_was_given() {
        // A non-canonical encoding of 1 (0x18 0x01 instead of 0x01): decoding keeps it as is.
        let embedded = vec![0x18, 0x01];
        let item = Tag24::<u64>::from_bytes(embedded.clone()).unwrap();
        assert_eq!(*item.value(), 1);
        assert_eq!(item.bytes(), embedded);
        assert_eq!(item.tagged_bytes(), [0xd8, 0x18, 0x42, 0x18, 0x01]);
        assert_eq!(to_vec(&item).unwrap(), item.tagged_bytes());
        let round: Tag24<u64> = from_slice(&item.tagged_bytes()).unwrap();
        assert_eq!(round.bytes(), embedded);
    }

    #[test]
    fn tagged_bytes_heads_are_shortest_for_every_length() {
        for len in [0usize, 23, 24, 255, 256, 65535, 65536] {
            let item = Tag24 {
                bytes: vec![0; len],
                value: (),
            };
            let expected = to_vec(&Value::Tag(24, Box::new(Value::Bytes(vec![0; len])))).unwrap();
            assert_eq!(item.tagged_bytes(), expected, "{len}");
        }
    }

    #[test]
    fn tag24_refuses_other_tags_trailing_bytes_and_plain_bytes() {
        let other_tag = to_vec(&Value::Tag(25, Box::new(Value::Bytes(vec![0x01])))).unwrap();
        assert!(from_slice::<Tag24<u64>>(&other_tag).is_err());
        let untagged = to_vec(&Value::Bytes(vec![0x01])).unwrap();
        assert!(from_slice::<Tag24<u64>>(&untagged).is_err());
        let trailing = to_vec(&Value::Tag(24, Box::new(Value::Bytes(vec![0x01, 0x02])))).unwrap();
        assert!(from_slice::<Tag24<u64>>(&trailing).is_err());
        assert!(from_slice::<u64>(&[0x01, 0x02]).is_err());
    }

    #[test]
    fn a_key_twice_is_refused() {
        let twice = Value::Map(vec![
            (Value::Text("a".into()), Value::Integer(1.into())),
            (Value::Text("a".into()), Value::Integer(2.into())),
        ]);
        let err = from_slice::<UniqueMap<String, u64>>(&to_vec(&twice).unwrap()).unwrap_err();
        assert!(err.0.contains("appears twice"), "{err}");
        let once = UniqueMap::new(vec![("b".to_string(), 1u64), ("a".to_string(), 2)]).unwrap();
        let round: UniqueMap<String, u64> = from_slice(&to_vec(&once).unwrap()).unwrap();
        assert_eq!(round, once, "order kept");
        assert_eq!(UniqueMap::new(vec![(1u64, ()), (1, ())]).unwrap_err(), 1);
    }

    #[test]
    fn tdates_are_tagged_text_in_whole_seconds() {
        use chrono::TimeZone;
        let at = Utc.with_ymd_and_hms(2025, 6, 1, 2, 3, 4).unwrap() + chrono::Duration::milliseconds(567);
        let bytes = to_vec(&TDate(at)).unwrap();
        assert_eq!(
            from_slice::<Value>(&bytes).unwrap(),
            Value::Tag(0, Box::new(Value::Text("2025-06-01T02:03:04Z".into())))
        );
        assert_eq!(from_slice::<TDate>(&bytes).unwrap().0, at.trunc_subsecs(0));
        let untagged = to_vec(&Value::Text("2025-06-01T02:03:04Z".into())).unwrap();
        assert!(from_slice::<TDate>(&untagged).is_err());
        let offset = to_vec(&Value::Tag(
            0,
            Box::new(Value::Text("2025-06-01T10:03:04+08:00".into())),
        ))
        .unwrap();
        assert_eq!(from_slice::<TDate>(&offset).unwrap().0, at.trunc_subsecs(0));
    }
}
