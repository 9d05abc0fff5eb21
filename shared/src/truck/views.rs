//! A city's rules as an app renders them (R13): every choice of the application form with whether the city accepts it.

use super::request::MAX_WINDOWS;
use super::rules::{CityTruckRules, HourRestriction, PassType, Zone};
use super::vehicle::{EmissionStandard, VehicleType};
use crate::kernel::golive::Availability;
use chrono::{DateTime, Utc};
use serde::Serialize;

/// A vehicle type as the rules view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VehicleTypeView {
    pub code: VehicleType,
    pub name: &'static str,
    /// Never let in: no pass.
    pub banned: bool,
}

/// An emission standard as the rules view shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EmissionView {
    pub code: EmissionStandard,
    pub name: &'static str,
    /// At or above the city's minimum: a pass may be issued.
    pub accepted: bool,
}

/// A city's truck and pass rules in a form an app renders as is: every
/// choice of the application form with whether the city accepts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RulesView {
    pub city: String,
    pub name: String,
    pub batch: u8,
    pub availability: Availability,
    pub rules_version: u64,
    /// Times of day are in this offset.
    pub utc_offset: &'static str,
    pub zones: Vec<Zone>,
    pub restricted_hours: Vec<HourRestriction>,
    pub vehicle_types: Vec<VehicleTypeView>,
    pub min_emission: EmissionStandard,
    pub emission_standards: Vec<EmissionView>,
    pub pass_types: Vec<PassType>,
    pub max_windows: usize,
}

pub fn rules_view(rules: &CityTruckRules, now: DateTime<Utc>) -> RulesView {
    RulesView {
        city: rules.city.clone(),
        name: rules.name.clone(),
        batch: rules.batch,
        availability: rules.availability(now),
        rules_version: rules.rules_version,
        utc_offset: "+08:00",
        zones: rules.zones.clone(),
        restricted_hours: rules.restricted_hours.clone(),
        vehicle_types: VehicleType::ALL
            .iter()
            .map(|&t| VehicleTypeView {
                code: t,
                name: t.name(),
                banned: rules.banned_vehicle_types.contains(&t),
            })
            .collect(),
        min_emission: rules.min_emission,
        emission_standards: EmissionStandard::ALL
            .iter()
            .map(|&e| EmissionView {
                code: e,
                name: e.name(),
                accepted: e >= rules.min_emission,
            })
            .collect(),
        pass_types: rules.pass_types.clone(),
        max_windows: MAX_WINDOWS,
    }
}
