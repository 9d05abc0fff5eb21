//! Changes the administrator feeds into the register: points, states, renewal (R7, R11).

use super::licence::{IssuingAuthority, Licence, LicenceState, VehicleClass};
use crate::kernel::caller::Actor;
use crate::kernel::input::FieldError;
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Renewal {
    #[serde(default)]
    pub valid_from: Option<NaiveDate>,
    pub valid_to: NaiveDate,
    #[serde(default)]
    pub classes: Option<Vec<VehicleClass>>,
    #[serde(default)]
    pub issuing_authority: Option<IssuingAuthority>,
}

/// A change to one licence. Fields left out stay as they are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LicenceChange {
    #[serde(default)]
    pub points: Option<u8>,
    /// The complete new set of state flags (empty: back to normal).
    #[serde(default)]
    pub states: Option<Vec<LicenceState>>,
    #[serde(default)]
    pub photo_on_file: Option<bool>,
    #[serde(default)]
    pub renewal: Option<Renewal>,
    /// Why: a violation, a court decision, a renewal at the counter...
    pub reason: String,
    /// When given, the change applies only to this version (If-Match semantics).
    #[serde(default)]
    pub expected_version: Option<u64>,
}

/// What a change did, kept under the licence as its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeRecord {
    pub licence_number: String,
    pub at: DateTime<Utc>,
    pub by: Actor,
    pub reason: String,
    pub changed: Vec<String>,
    /// Classes, validity or issuing authority changed: the electronic licence
    /// made from the old data is no longer valid and the holder applies again (R11).
    pub supersedes_electronic_licence: bool,
    pub version: u64,
}

/// The licence after the change, and the names of the fields that changed.
pub fn apply(licence: &Licence, change: &LicenceChange) -> Result<(Licence, Vec<String>), Vec<FieldError>> {
    let mut next = licence.clone();
    let mut changed = Vec::new();
    let mut errors = Vec::new();
    if change.reason.trim().is_empty() || change.reason.chars().count() > 500 {
        errors.push(FieldError {
            field: "reason",
            message: "must say why, in 1 to 500 characters".into(),
        });
    }
    if let Some(points) = change.points {
        if points != next.points {
            next.points = points;
            changed.push("points".to_string());
        }
    }
    if let Some(states) = &change.states {
        let mut states = states.clone();
        states.sort();
        if states != next.states {
            next.states = states;
            changed.push("states".to_string());
        }
    }
    if let Some(photo) = change.photo_on_file {
        if photo != next.photo_on_file {
            next.photo_on_file = photo;
            changed.push("photoOnFile".to_string());
        }
    }
    if let Some(renewal) = &change.renewal {
        if let Some(from) = renewal.valid_from {
            if from != next.valid_from {
                next.valid_from = from;
                changed.push("validFrom".to_string());
            }
        }
        if renewal.valid_to != next.valid_to {
            next.valid_to = renewal.valid_to;
            changed.push("validTo".to_string());
            // A renewed licence is no longer expired.
            next.states.retain(|s| *s != LicenceState::Expired);
        }
        if let Some(classes) = &renewal.classes {
            if classes != &next.classes {
                next.classes = classes.clone();
                changed.push("classes".to_string());
            }
        }
        if let Some(authority) = &renewal.issuing_authority {
            if authority != &next.issuing_authority {
                next.issuing_authority = authority.clone();
                changed.push("issuingAuthority".to_string());
            }
        }
    }
    errors.extend(next.validate());
    if errors.is_empty() {
        Ok((next, changed))
    } else {
        Err(errors)
    }
}

/// Whether the changed fields invalidate an electronic licence made before (R11).
pub fn supersedes_electronic_licence(changed: &[String]) -> bool {
    changed
        .iter()
        .any(|f| matches!(f.as_str(), "classes" | "validFrom" | "validTo" | "issuingAuthority"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    fn change() -> LicenceChange {
        LicenceChange {
            points: None,
            states: None,
            photo_on_file: None,
            renewal: None,
            reason: "test".into(),
            expected_version: None,
        }
    }

    #[test]
    fn points_change_does_not_supersede() {
        let licence = sample::showcase_licences()[0].clone();
        let (next, changed) = apply(
            &licence,
            &LicenceChange {
                points: Some(6),
                ..change()
            },
        )
        .expect("ok");
        assert_eq!(next.points, 6);
        assert_eq!(changed, vec!["points"]);
        assert!(!supersedes_electronic_licence(&changed));
    }

    #[test]
    fn renewal_supersedes_and_clears_expired() {
        let mut licence = sample::showcase_licences()[0].clone();
        licence.states = vec![LicenceState::Expired];
        let renewal = Renewal {
            valid_from: None,
            valid_to: licence.valid_to + chrono::Days::new(3650),
            classes: None,
            issuing_authority: None,
        };
        let (next, changed) = apply(
            &licence,
            &LicenceChange {
                renewal: Some(renewal),
                ..change()
            },
        )
        .expect("ok");
        assert!(next.states.is_empty());
        assert!(supersedes_electronic_licence(&changed));
    }

    #[test]
    fn invalid_change_reports_every_problem() {
        let licence = sample::showcase_licences()[0].clone();
        let errors = apply(
            &licence,
            &LicenceChange {
                points: Some(13),
                reason: " ".into(),
                ..change()
            },
        )
        .expect_err("refused");
        let fields: Vec<_> = errors.iter().map(|e| e.field).collect();
        assert!(fields.contains(&"reason"));
        assert!(fields.contains(&"points"));
    }
}
