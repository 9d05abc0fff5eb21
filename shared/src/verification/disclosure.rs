//! What each verifier may see (R9): the officer's fields and each relying party's purpose, as configuration.

use super::standing::may_drive;
use crate::issuance::edl::{self, ElectronicLicence};
use crate::register::change::ChangeRecord;
use crate::register::licence::{Licence, VehicleClass};
use base64::Engine as _;
use chrono::{DateTime, NaiveDate, Utc};
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

/// The portrait signed into a licence's mdoc, with its media type told from its first bytes (an approved upload
/// may be a PNG), when it has one.
fn portrait_image(edl: &ElectronicLicence) -> Option<(&'static str, Vec<u8>)> {
    let issuer_signed = base64::engine::general_purpose::STANDARD
        .decode(&edl.issuer_signed)
        .ok()?;
    let image = crate::credential::mdoc::portrait_of(&issuer_signed)?;
    let media_type = if image.starts_with(&[0xFF, 0xD8, 0xFF]) {
        "image/jpeg"
    } else if image.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else {
        return None;
    };
    Some((media_type, image))
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
    let date = |d: NaiveDate| json!(d.format("%Y-%m-%d").to_string());
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
            "portrait" => match portrait_image(edl) {
                Some((media_type, image)) => json!({
                    "mediaType": media_type,
                    "data": base64::engine::general_purpose::STANDARD.encode(image),
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
