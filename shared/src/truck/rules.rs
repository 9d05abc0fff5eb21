//! Each city's truck rules (R13): its restricted zones and hours, the vehicles it bans, the emission
//! minimum, the pass types it issues, its go-live, and their history.

use super::clock::{self, period_covers, period_is_valid, period_text};
use super::vehicle::{EmissionStandard, VehicleType};
use crate::kernel::calendar::WorkingCalendar;
use crate::kernel::caller::Actor;
use crate::kernel::golive::Availability;
use crate::kernel::ident::Identifier;
use crate::kernel::input::FieldError;
use crate::kernel::time::local_offset;
use crate::kernel::versioned::SHIPPED_VERSION;
use crate::problem::{quote, shorten};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// A named restricted area of a city.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Zone {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub description: String,
}

/// Which kind of day a restriction applies on, by the working calendar
/// (holidays are rest days, make-up Saturdays working days).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DayType {
    WorkingDay,
    RestDay,
}

impl DayType {
    pub fn of(calendar: &WorkingCalendar, day: NaiveDate) -> DayType {
        if calendar.is_working_day(day) {
            DayType::WorkingDay
        } else {
            DayType::RestDay
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            Self::WorkingDay => "working_day",
            Self::RestDay => "rest_day",
        }
    }
}

/// A period of the day, on one type of day, during which a truck in any of
/// the city's zones needs a pass covering it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HourRestriction {
    pub day_type: DayType,
    #[serde(with = "clock::start")]
    pub from: NaiveTime,
    /// Exclusive; 00:00 ("24:00") is the end of the day.
    #[serde(with = "clock::end")]
    pub to: NaiveTime,
}

/// A kind of pass a city issues, with its limits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PassType {
    /// Stable, e.g. "short" or "long".
    pub id: String,
    pub name: String,
    /// The longest validity, in days counting the first and the last.
    pub max_days: u32,
    /// Whether an application waits in the review queue rather than being issued at once.
    pub needs_review: bool,
    /// Whether a pass of this type may run alongside another pass of the same vehicle.
    pub allow_overlap: bool,
}

/// One city's truck rules. Every list is required in the file, so that a
/// misspelt key fails loudly rather than silently lifting a restriction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CityTruckRules {
    /// Administrative division code, the same as the rollout's city code.
    pub city: String,
    pub name: String,
    /// 1: the first 70 cities; 2: the next 175.
    pub batch: u8,
    /// When the city joins the electronic pass; `None` until the administrator schedules it.
    pub go_live_at: Option<DateTime<Utc>>,
    pub zones: Vec<Zone>,
    pub restricted_hours: Vec<HourRestriction>,
    /// Types never allowed into the zones: no pass is issued for them.
    pub banned_vehicle_types: Vec<VehicleType>,
    /// Vehicles below this standard get no pass.
    pub min_emission: EmissionStandard,
    pub pass_types: Vec<PassType>,
    /// Raised by every change of the terms; an issued pass records the version it was issued under.
    pub rules_version: u64,
    /// The stored record's version (optimistic locking), raised by every stored
    /// change, including a go-live switch that leaves the terms alone.
    #[serde(default)]
    pub version: u64,
}

impl CityTruckRules {
    pub fn availability(&self, now: DateTime<Utc>) -> Availability {
        Availability::at(self.go_live_at, now)
    }

    pub fn zone(&self, id: &str) -> Option<&Zone> {
        self.zones.iter().find(|z| z.id == id)
    }

    pub fn pass_type(&self, id: &str) -> Option<&PassType> {
        self.pass_types.iter().find(|t| t.id == id)
    }

    /// The restriction in force at `at` (local time, day type from the
    /// calendar), if any.
    pub fn restriction_at(&self, calendar: &WorkingCalendar, at: DateTime<Utc>) -> Option<&HourRestriction> {
        let local = at.with_timezone(&local_offset());
        let day_type = DayType::of(calendar, local.date_naive());
        self.restricted_hours
            .iter()
            .find(|r| r.day_type == day_type && period_covers(r.from, r.to, local.time()))
    }

    /// Every problem with the rules, so that an administrator's change is
    /// refused with all of them at once.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut problem = |field: &'static str, message: String| problems.push(FieldError { field, message });
        if !Identifier::City.accepts(&self.city) {
            problem(
                "city",
                format!("{} is not a six-digit division code", quote(&self.city)),
            );
        }
        if self.name.trim().is_empty() {
            problem("name", "must not be empty".into());
        }
        if self.batch == 0 {
            problem("batch", "batches are numbered from 1".into());
        }
        if self.zones.is_empty() {
            problem("zones", "a city joining the pass restricts at least one zone".into());
        }
        let mut zone_ids = BTreeSet::new();
        for zone in &self.zones {
            if zone.name.trim().is_empty() {
                problem("zones", "every zone has an id and a name".into());
            }
            if !Identifier::Zone.accepts(&zone.id) {
                problem(
                    "zones",
                    format!("zone id {} is not {}", quote(&zone.id), Identifier::Zone.pattern()),
                );
            }
            if !zone_ids.insert(zone.id.as_str()) {
                problem("zones", format!("zone id {} is used twice", quote(&zone.id)));
            }
        }
        for restriction in &self.restricted_hours {
            if !period_is_valid(restriction.from, restriction.to) {
                problem(
                    "restrictedHours",
                    format!(
                        "{} {} crosses midnight; write it as two periods",
                        restriction.day_type.code(),
                        period_text(restriction.from, restriction.to)
                    ),
                );
            }
        }
        if self.pass_types.is_empty() {
            problem(
                "passTypes",
                "a city joining the pass issues at least one pass type".into(),
            );
        }
        let mut type_ids = BTreeSet::new();
        for pass_type in &self.pass_types {
            if pass_type.name.trim().is_empty() {
                problem("passTypes", "every pass type has an id and a name".into());
            }
            if !Identifier::Zone.accepts(&pass_type.id) {
                problem(
                    "passTypes",
                    format!(
                        "pass type id {} is not {}",
                        quote(&pass_type.id),
                        Identifier::Zone.pattern()
                    ),
                );
            }
            if !type_ids.insert(pass_type.id.as_str()) {
                problem(
                    "passTypes",
                    format!("pass type id {} is used twice", quote(&pass_type.id)),
                );
            }
            if pass_type.max_days == 0 {
                problem(
                    "passTypes",
                    format!("pass type {} allows no days", quote(&pass_type.id)),
                );
            }
        }
        problems
    }
}

/// Every city's truck rules.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TruckRulebook {
    pub cities: Vec<CityTruckRules>,
}

impl TruckRulebook {
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// The rules shipped in `shared/data/truck-cities.json`.
    pub fn shipped() -> Self {
        // The file is part of the crate and checked by a test, so a parse
        // failure is a build defect; fall back to no cities rather than panic.
        Self::from_json(include_str!("../../data/truck-cities.json")).unwrap_or_default()
    }

    pub fn city(&self, code: &str) -> Option<&CityTruckRules> {
        self.cities.iter().find(|c| c.city == code)
    }

    /// The rules in force: the stored cities (an administrator's changes and switches), and this rulebook's for
    /// those not stored, at [`SHIPPED_VERSION`]; by city code, as the records list them. Nothing needs seeding.
    pub fn overlaid_with(&self, stored: Vec<CityTruckRules>) -> TruckRulebook {
        let mut cities: BTreeMap<String, CityTruckRules> = self
            .cities
            .iter()
            .map(|c| {
                let shipped = CityTruckRules {
                    version: SHIPPED_VERSION,
                    ..c.clone()
                };
                (c.city.clone(), shipped)
            })
            .collect();
        cities.extend(stored.into_iter().map(|c| (c.city.clone(), c)));
        TruckRulebook {
            cities: cities.into_values().collect(),
        }
    }

    /// Every city's problems, and cities listed twice.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut codes = BTreeSet::new();
        for city in &self.cities {
            if !codes.insert(city.city.as_str()) {
                problems.push(FieldError {
                    field: "cities",
                    message: format!("city {} is listed twice", quote(&city.city)),
                });
            }
            problems.extend(city.problems().into_iter().map(|p| FieldError {
                field: p.field,
                message: format!("{}: {}", shorten(&city.city, 16), p.message),
            }));
        }
        problems
    }
}

/// A change of a city's truck rules or of its go-live, kept as its history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TruckRulesChange {
    pub city: String,
    pub at: DateTime<Utc>,
    pub by: Actor,
    /// `rules` (the terms changed) or `go-live`.
    pub what: String,
    pub rules_version_before: u64,
    pub rules_version_after: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_live_before: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub go_live_after: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
}
