//! An application for a pass and every reason a city refuses it (R13): its rules applied to the
//! request, with the vehicle's other passes for overlap.

use super::clock::TimeWindow;
use super::pass::{PassStatus, TruckPass};
use super::rules::CityTruckRules;
use super::vehicle::{plate_is_valid, EmissionStandard, VehicleType};
use crate::kernel::golive::Availability;
use crate::kernel::time::{local_date, local_offset};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;

/// How many daily time windows one pass may carry: enough for a morning and
/// an evening delivery round and a spare, and it keeps the record and the
/// signed credential small.
pub const MAX_WINDOWS: usize = 4;

/// An application for a pass, by a driver or a fleet manager.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassRequest {
    pub plate: String,
    pub vehicle_type: VehicleType,
    pub emission: EmissionStandard,
    /// The vehicle's owner, whom the pass belongs to.
    pub owner_id: String,
    /// The fleet the vehicle belongs to, whose manager may see and manage the pass.
    #[serde(default)]
    pub fleet_id: Option<String>,
    pub city: String,
    pub pass_type: String,
    pub zones: Vec<String>,
    pub valid_from: NaiveDate,
    /// Inclusive: the pass is valid through its last day.
    pub valid_to: NaiveDate,
    pub windows: Vec<TimeWindow>,
}

/// One reason a pass is refused; `code` is stable and meant for programs,
/// `message` is meant for the applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub code: &'static str,
    pub message: String,
}

pub(super) fn refusal(code: &'static str, message: String) -> Refusal {
    Refusal { code, message }
}

/// What an application needs to know of a vehicle's other passes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassSummary {
    pub id: String,
    pub plate: String,
    pub city: String,
    pub pass_type: String,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub status: PassStatus,
}

impl From<&TruckPass> for PassSummary {
    fn from(pass: &TruckPass) -> Self {
        PassSummary {
            id: pass.id.clone(),
            plate: pass.plate.clone(),
            city: pass.city.clone(),
            pass_type: pass.pass_type.clone(),
            valid_from: pass.valid_from,
            valid_to: pass.valid_to,
            status: pass.status.clone(),
        }
    }
}

fn dates_intersect(a: (NaiveDate, NaiveDate), b: (NaiveDate, NaiveDate)) -> bool {
    a.0 <= b.1 && b.0 <= a.1
}

/// Every reason the city refuses the request at `now`; empty when a pass may
/// be issued (or queued for review). `existing` may hold any of the vehicle's
/// passes: only pending and active ones in the same city count.
///
/// Dates are compared with the local date of `now`, derived here rather than
/// passed in, so that a caller cannot hand in the UTC date by mistake (before
/// 08:00 in Beijing it is still yesterday in UTC).
pub fn refusals(
    rules: &CityTruckRules,
    request: &PassRequest,
    existing: &[PassSummary],
    now: DateTime<Utc>,
) -> Vec<Refusal> {
    let mut reasons = Vec::new();
    let today = local_date(now);

    // Rules of one city applied to another's request would issue a pass the
    // city never agreed to; the caller picks the rules by the request's city.
    if request.city != rules.city {
        reasons.push(refusal(
            "city-mismatch",
            format!(
                "The request is for city {} but was checked against {}'s rules.",
                request.city, rules.city
            ),
        ));
    }
    match rules.availability(now) {
        Availability::Live { .. } => {}
        Availability::Scheduled { opens_at } => reasons.push(refusal(
            "city-not-live",
            format!(
                "{} joins the electronic truck pass at {}.",
                rules.name,
                opens_at
                    .with_timezone(&local_offset())
                    .format("%Y-%m-%d %H:%M (UTC+08:00)")
            ),
        )),
        Availability::NotScheduled => reasons.push(refusal(
            "city-not-live",
            format!("{} has not joined the electronic truck pass yet.", rules.name),
        )),
    }
    if !plate_is_valid(&request.plate) {
        reasons.push(refusal(
            "plate-invalid",
            format!(
                "{:?} is not a plate: a province abbreviation, a capital letter, then 5 letters or digits (6 for new energy).",
                request.plate
            ),
        ));
    }
    if rules.banned_vehicle_types.contains(&request.vehicle_type) {
        reasons.push(refusal(
            "vehicle-type-banned",
            format!(
                "{} does not let {} ({}) into its restricted zones at all.",
                rules.name,
                request.vehicle_type.name(),
                request.vehicle_type.code()
            ),
        ));
    }
    if request.emission < rules.min_emission {
        reasons.push(refusal(
            "emission-below-minimum",
            format!(
                "{} issues passes only to vehicles of {} or better; this vehicle is {}.",
                rules.name,
                rules.min_emission.name(),
                request.emission.name()
            ),
        ));
    }
    let pass_type = rules.pass_type(&request.pass_type);
    if pass_type.is_none() {
        let offered: Vec<&str> = rules.pass_types.iter().map(|t| t.id.as_str()).collect();
        reasons.push(refusal(
            "unknown-pass-type",
            format!(
                "{} issues no pass type {:?}; it issues {}.",
                rules.name,
                request.pass_type,
                offered.join(", ")
            ),
        ));
    }
    if request.zones.is_empty() {
        reasons.push(refusal("no-zone", "Name at least one zone the pass is for.".into()));
    }
    let mut seen = BTreeSet::new();
    for zone in &request.zones {
        if seen.insert(zone.as_str()) && rules.zone(zone).is_none() {
            reasons.push(refusal(
                "unknown-zone",
                format!("{} has no restricted zone {zone:?}.", rules.name),
            ));
        }
    }
    let dates_ordered = request.valid_from <= request.valid_to;
    if !dates_ordered {
        reasons.push(refusal(
            "dates-invalid",
            format!(
                "The pass ends ({}) before it begins ({}).",
                request.valid_to, request.valid_from
            ),
        ));
    }
    if request.valid_from < today {
        reasons.push(refusal(
            "dates-invalid",
            format!(
                "The pass cannot begin in the past ({}; today is {today}).",
                request.valid_from
            ),
        ));
    }
    if let (Some(pass_type), true) = (pass_type, dates_ordered) {
        let days = (request.valid_to - request.valid_from).num_days() + 1;
        if days > i64::from(pass_type.max_days) {
            reasons.push(refusal(
                "too-long",
                format!(
                    "A {} lasts at most {} days; {} to {} is {days}.",
                    pass_type.name, pass_type.max_days, request.valid_from, request.valid_to
                ),
            ));
        }
    }
    if request.windows.is_empty() {
        reasons.push(refusal("no-window", "Name at least one daily time window.".into()));
    }
    if request.windows.len() > MAX_WINDOWS {
        reasons.push(refusal(
            "too-many-windows",
            format!(
                "A pass carries at most {MAX_WINDOWS} daily time windows; this asks for {}.",
                request.windows.len()
            ),
        ));
    }
    for window in request.windows.iter().filter(|w| !w.is_valid()) {
        reasons.push(refusal(
            "window-invalid",
            format!(
                "The window {window} does not end after it starts; a window crossing midnight is two windows, one ending at 24:00."
            ),
        ));
    }
    if let (Some(pass_type), true) = (pass_type, dates_ordered) {
        let requested = (request.valid_from, request.valid_to);
        let others = existing
            .iter()
            .filter(|p| p.status.is_live() && p.city == request.city && p.plate == request.plate);
        for other in others {
            // Either pass forbidding company is enough: otherwise whether a
            // vehicle ends up with two passes would depend on which it applied
            // for first. A type the city no longer offers keeps the stricter reading.
            let other_allows = rules.pass_type(&other.pass_type).is_some_and(|t| t.allow_overlap);
            if dates_intersect(requested, (other.valid_from, other.valid_to))
                && !(pass_type.allow_overlap && other_allows)
            {
                reasons.push(refusal(
                    "overlapping-pass",
                    format!(
                        "{} already has pass {} from {} to {}, and {} does not allow overlapping passes.",
                        request.plate, other.id, other.valid_from, other.valid_to, rules.name
                    ),
                ));
            }
        }
    }
    reasons
}
