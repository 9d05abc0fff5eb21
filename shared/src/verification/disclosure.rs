//! What each verifier may see (R9): the officer's fields and each relying party's purpose, as configuration.

use super::standing::may_drive;
use crate::credential::iso18013_5::push_byte_string_head;
use crate::credential::mdoc::ByteSpan;
use crate::issuance::edl::{self, ElectronicLicence};
use crate::register::change::ChangeRecord;
use crate::register::licence::{Licence, VehicleClass};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use chrono::{DateTime, Datelike as _, NaiveDate, Utc};
use serde::Deserialize;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Every field a verifier can be shown.
pub const FIELDS: [&str; 18] = [
    "name",
    "sex",
    "birthDate",
    "nationality",
    "licenceNumber",
    "classes",
    "firstIssueDate",
    "mayDrive",
    "validFrom",
    "validTo",
    "issuingAuthority",
    "address",
    "archiveNumber",
    "points",
    "states",
    "colour",
    "record",
    "portrait",
];

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct PurposeRule {
    #[serde(default)]
    pub description: String,
    pub fields: Vec<String>,
}

/// Who sees what: the officer's fields and each relying-party purpose's.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Disclosure {
    pub officer: Vec<String>,
    pub purposes: BTreeMap<String, PurposeRule>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DisclosureError {
    #[error("the disclosure configuration is not valid JSON: {0}")]
    Json(String),
    #[error("the disclosure configuration names an unknown field {0}")]
    UnknownField(String),
}

impl Disclosure {
    /// Reads and checks a configuration: every field it names must exist.
    pub fn from_json(text: &str) -> Result<Disclosure, DisclosureError> {
        let disclosure: Disclosure = serde_json::from_str(text).map_err(|e| DisclosureError::Json(e.to_string()))?;
        let named = disclosure
            .officer
            .iter()
            .chain(disclosure.purposes.values().flat_map(|p| p.fields.iter()));
        for field in named {
            if !FIELDS.contains(&field.as_str()) {
                return Err(DisclosureError::UnknownField(field.clone()));
            }
        }
        Ok(disclosure)
    }

    /// The configuration shipped in `shared/data/disclosure.json`.
    pub fn shipped() -> Disclosure {
        Self::from_json(include_str!("../../data/disclosure.json")).unwrap_or(Disclosure {
            officer: FIELDS.iter().map(|f| f.to_string()).collect(),
            purposes: BTreeMap::new(),
        })
    }
}

/// The portrait signed into a licence's mdoc, as its media type and its base64 (standard, padded), when it has
/// one: cut out of the stored document's base64 where the record says where the portrait lies, else decoded out
/// of the document as a record written before documents told it is.
fn portrait_image(issuer_signed: &str, span: Option<ByteSpan>) -> Option<(&'static str, String)> {
    if let Some(cut) = span.and_then(|span| portrait_cut(issuer_signed, span)) {
        return Some(cut);
    }
    let issuer_signed = STANDARD.decode(issuer_signed).ok()?;
    let image = crate::credential::mdoc::portrait_of(&issuer_signed)?;
    Some((media_type_of(&image)?, STANDARD.encode(image)))
}

/// The portrait's media type, told from its first bytes (an approved upload may be a PNG).
fn media_type_of(image: &[u8]) -> Option<&'static str> {
    if image.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if image.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

/// The portrait's base64 cut out of the document's `issuer_signed` base64, without decoding the document: its
/// bytes start at a multiple of 3, so its whole 3-byte groups are the document's base64 quanta as they are, and
/// only its last 1 or 2 bytes are encoded again (with padding). The bytes before it must be the CBOR head of a
/// byte string of exactly its length; anything that does not fit says None and the document is decoded instead.
fn portrait_cut(issuer_signed: &str, span: ByteSpan) -> Option<(&'static str, String)> {
    if !span.offset.is_multiple_of(3) || span.length == 0 {
        return None;
    }
    let start = span.offset / 3 * 4;
    let whole = span.length / 3 * 4;
    let body = issuer_signed.get(start..start + whole)?;
    let tail = match span.length % 3 {
        0 => Vec::new(),
        rest => {
            let mut last = STANDARD
                .decode(issuer_signed.get(start + whole..start + whole + 4)?)
                .ok()?;
            last.truncate(rest);
            (last.len() == rest).then_some(last)?
        }
    };
    let mut head = Vec::with_capacity(9);
    push_byte_string_head(&mut head, span.length);
    let before = start.checked_sub(head.len().div_ceil(3) * 4)?;
    let preceding = STANDARD.decode(issuer_signed.get(before..start)?).ok()?;
    if !preceding.ends_with(&head) {
        return None;
    }
    // The first bytes tell the media type: a PNG signature is 8 bytes, 3 quanta.
    let mut first = STANDARD.decode(body.get(..12).unwrap_or(body)).ok()?;
    first.extend_from_slice(&tail);
    let media_type = media_type_of(&first)?;
    let mut data = String::with_capacity(whole + 4);
    data.push_str(body);
    STANDARD.encode_string(&tail, &mut data);
    Some((media_type, data))
}

/// A date as `YYYY-MM-DD`, written directly: chrono's `format` reads its pattern again on every call, and an
/// officer's answer carries four dates (about a microsecond of a verification). Years outside 0..=9999, which
/// chrono writes with a sign, are left to chrono.
fn iso_date(d: NaiveDate) -> String {
    if (0..=9999).contains(&d.year()) {
        format!("{:04}-{:02}-{:02}", d.year(), d.month(), d.day())
    } else {
        d.format("%Y-%m-%d").to_string()
    }
}

/// The fields `allowed` of this licence, and nothing else.
#[allow(clippy::too_many_arguments)]
pub fn disclose(
    allowed: &[String],
    edl: &ElectronicLicence,
    licence: &Licence,
    changes: &[ChangeRecord],
    class: Option<VehicleClass>,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Map<String, Value> {
    let date = |d: NaiveDate| json!(iso_date(d));
    let mut out = Map::new();
    for field in allowed {
        let value = match field.as_str() {
            "name" => json!(licence.name),
            "sex" => json!(licence.sex),
            "birthDate" => date(licence.birth_date),
            "nationality" => json!(licence.nationality),
            "licenceNumber" => json!(licence.number),
            "classes" => json!(licence.classes),
            "firstIssueDate" => date(licence.first_issue_date),
            "mayDrive" => match class {
                Some(class) => json!({ "class": class, "allowed": may_drive(edl, licence, class, today, now) }),
                None => continue,
            },
            "validFrom" => date(licence.valid_from),
            "validTo" => date(licence.valid_to),
            "issuingAuthority" => json!(licence.issuing_authority.name),
            "address" => json!(licence.address),
            "archiveNumber" => json!(licence.archive_number),
            "points" => json!(licence.points),
            "states" => json!(licence.states),
            "colour" => json!(edl::colour(licence, today)),
            "record" => json!(changes
                .iter()
                .map(|c| json!({ "at": c.at, "reason": c.reason, "changed": c.changed }))
                .collect::<Vec<_>>()),
            // The officer compares the face in front of them with the one the licence was issued with: the
            // portrait signed into the licence's mdoc, as issued (R9).
            "portrait" => match portrait_image(&edl.issuer_signed, edl.portrait_span) {
                Some((media_type, data)) => json!({
                    "mediaType": media_type,
                    "data": data,
                }),
                None => continue,
            },
            _ => continue,
        };
        out.insert(field.clone(), value);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credential::mdoc::tests::{issued_with_portrait, portrait_of_length};

    /// The portrait cut out of the stored base64 is the portrait decoded out of the document, byte for byte, for
    /// every length mod 3 and whatever came before it; a span that does not fit falls back to decoding.
    #[tokio::test]
    async fn the_cut_portrait_is_the_decoded_one() {
        for extra in 0..3 {
            let authority = format!("北京市公安局公安交通管理局{}", "x".repeat(extra));
            for length in [
                3, 4, 5, 6, 7, 8, 9, 10, 11, 22, 23, 24, 25, 26, 254, 255, 256, 257, 4095, 4096, 4097,
            ] {
                let mut portrait = portrait_of_length(length);
                if length >= 8 && length % 2 == 0 {
                    portrait[..8].copy_from_slice(b"\x89PNG\r\n\x1a\n");
                }
                let mdoc = issued_with_portrait(&portrait, &authority).await;
                let stored = STANDARD.encode(&mdoc.issuer_signed);
                let span = mdoc.aligned_span.expect("aligned");
                let decoded = portrait_image(&stored, None).expect("a portrait");
                assert_eq!(decoded.1, STANDARD.encode(&portrait));
                assert_eq!(portrait_cut(&stored, span), Some(decoded.clone()), "length {length}");
                assert_eq!(portrait_image(&stored, Some(span)), Some(decoded.clone()));
                // Spans that do not fit the document are not trusted: the portrait is decoded instead.
                for wrong in [
                    ByteSpan {
                        offset: span.offset + 1,
                        ..span
                    },
                    ByteSpan {
                        offset: span.offset + 3,
                        ..span
                    },
                    ByteSpan {
                        length: span.length + 1,
                        ..span
                    },
                    ByteSpan {
                        offset: stored.len(),
                        ..span
                    },
                ] {
                    assert_eq!(portrait_cut(&stored, wrong), None, "{wrong:?}");
                    assert_eq!(portrait_image(&stored, Some(wrong)), Some(decoded.clone()));
                }
            }
        }
        // Not an image: no portrait either way.
        let mdoc = issued_with_portrait(b"GIF89a", "x").await;
        let stored = STANDARD.encode(&mdoc.issuer_signed);
        assert_eq!(portrait_image(&stored, mdoc.aligned_span), None);
        assert_eq!(portrait_image(&stored, None), None);
    }

    /// The dates written directly read as chrono writes them, at the edges of the years chrono pads and past them.
    #[test]
    fn dates_read_as_chrono_writes_them() {
        let mut dates: Vec<NaiveDate> = [
            (0, 1, 1),
            (9, 12, 31),
            (999, 2, 28),
            (1970, 1, 1),
            (2024, 2, 29),
            (9999, 12, 31),
        ]
        .iter()
        .filter_map(|&(y, m, d)| NaiveDate::from_ymd_opt(y, m, d))
        .collect();
        dates.extend(
            [-1, 10_000, 262_000]
                .iter()
                .filter_map(|&y| NaiveDate::from_ymd_opt(y, 6, 15)),
        );
        assert_eq!(dates.len(), 9);
        for d in dates {
            assert_eq!(iso_date(d), d.format("%Y-%m-%d").to_string(), "{d:?}");
        }
    }

    #[test]
    fn shipped_disclosure_is_valid_and_unknown_fields_are_refused() {
        let shipped = Disclosure::from_json(include_str!("../../data/disclosure.json")).expect("valid");
        assert!(shipped.purposes.contains_key("car_rental"));
        assert!(!shipped.purposes["car_rental"].fields.contains(&"address".to_string()));
        assert_eq!(
            Disclosure::from_json(r#"{"officer":["name","shoeSize"],"purposes":{}}"#),
            Err(DisclosureError::UnknownField("shoeSize".into()))
        );
    }
}
