//! Truck city-access passes (R13): each city's truck rules, who may have a pass, its life, and whether it covers a place and a moment.

use crate::kernel::calendar::WorkingCalendar;
use crate::kernel::caller::Actor;
use crate::kernel::golive::Availability;
use crate::kernel::input::FieldError;
use crate::kernel::time::{local_date, local_instant, local_offset};
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// How many daily time windows one pass may carry: enough for a morning and
/// an evening delivery round and a spare, and it keeps the record and the
/// signed credential small.
pub const MAX_WINDOWS: usize = 4;

/// The provinces' one-character abbreviations that begin a plate.
const PROVINCES: &str = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼";

/// The kind of goods vehicle, as cities restrict them. Ordered from the
/// lightest to the most dangerous.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VehicleType {
    LightTruck,
    MediumTruck,
    HeavyTruck,
    TractorTrailer,
    HazardousGoods,
}

impl VehicleType {
    pub const ALL: [VehicleType; 5] = [
        Self::LightTruck,
        Self::MediumTruck,
        Self::HeavyTruck,
        Self::TractorTrailer,
        Self::HazardousGoods,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::LightTruck => "light_truck",
            Self::MediumTruck => "medium_truck",
            Self::HeavyTruck => "heavy_truck",
            Self::TractorTrailer => "tractor_trailer",
            Self::HazardousGoods => "hazardous_goods",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::LightTruck => "轻型货车",
            Self::MediumTruck => "中型货车",
            Self::HeavyTruck => "重型货车",
            Self::TractorTrailer => "半挂牵引车",
            Self::HazardousGoods => "危险货物运输车",
        }
    }
}

impl fmt::Display for VehicleType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// The national emission stage of the vehicle. Ordered from the oldest to the
/// cleanest, so a city's minimum is an "at least" comparison; a new-energy
/// vehicle has no exhaust and meets every minimum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EmissionStandard {
    #[serde(rename = "china_3")]
    China3,
    #[serde(rename = "china_4")]
    China4,
    #[serde(rename = "china_5")]
    China5,
    #[serde(rename = "china_6a")]
    China6a,
    #[serde(rename = "china_6b")]
    China6b,
    #[serde(rename = "new_energy")]
    NewEnergy,
}

impl EmissionStandard {
    pub const ALL: [EmissionStandard; 6] = [
        Self::China3,
        Self::China4,
        Self::China5,
        Self::China6a,
        Self::China6b,
        Self::NewEnergy,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::China3 => "china_3",
            Self::China4 => "china_4",
            Self::China5 => "china_5",
            Self::China6a => "china_6a",
            Self::China6b => "china_6b",
            Self::NewEnergy => "new_energy",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::China3 => "国三",
            Self::China4 => "国四",
            Self::China5 => "国五",
            Self::China6a => "国六a",
            Self::China6b => "国六b",
            Self::NewEnergy => "新能源",
        }
    }
}

impl fmt::Display for EmissionStandard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Times of day are written "HH:MM" (seconds optional). The end of a period
/// may be written "24:00", the end of the day, which is held as 00:00: a
/// period ends where it starts only when it is the whole day.
pub mod clock {
    use chrono::{NaiveTime, Timelike};
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn format(time: NaiveTime, is_end: bool) -> String {
        if is_end && time == NaiveTime::MIN {
            "24:00".to_string()
        } else if time.second() == 0 && time.nanosecond() == 0 {
            time.format("%H:%M").to_string()
        } else {
            time.format("%H:%M:%S%.f").to_string()
        }
    }

    fn parse(text: &str, is_end: bool) -> Result<NaiveTime, String> {
        if is_end && (text == "24:00" || text == "24:00:00") {
            return Ok(NaiveTime::MIN);
        }
        text.parse::<NaiveTime>()
            .map_err(|e| format!("{text:?} is not a time of day (HH:MM): {e}"))
    }

    pub mod start {
        use super::*;

        pub fn serialize<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&format(*time, false))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
            let text = String::deserialize(deserializer)?;
            parse(&text, false).map_err(serde::de::Error::custom)
        }
    }

    pub mod end {
        use super::*;

        pub fn serialize<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(&format(*time, true))
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
            let text = String::deserialize(deserializer)?;
            parse(&text, true).map_err(serde::de::Error::custom)
        }
    }
}

/// Whether `[from, to)` is a period within one day; a `to` of 00:00 is the
/// end of the day. Periods crossing midnight are not accepted: a night
/// period is written as two, one ending at 24:00 and one starting at 00:00,
/// which also makes plain which day's type each half belongs to.
fn period_is_valid(from: NaiveTime, to: NaiveTime) -> bool {
    to == NaiveTime::MIN || from < to
}

/// Whether `time` is in `[from, to)`: the start is inclusive, the end exclusive.
fn period_covers(from: NaiveTime, to: NaiveTime, time: NaiveTime) -> bool {
    period_is_valid(from, to) && time >= from && (to == NaiveTime::MIN || time < to)
}

fn period_text(from: NaiveTime, to: NaiveTime) -> String {
    format!("{}–{}", clock::format(from, false), clock::format(to, true))
}

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
        if self.city.len() != 6 || !self.city.chars().all(|c| c.is_ascii_digit()) {
            problem("city", format!("{:?} is not a six-digit division code", self.city));
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
            if zone.id.trim().is_empty() || zone.name.trim().is_empty() {
                problem("zones", "every zone has an id and a name".into());
            }
            if !zone_ids.insert(zone.id.as_str()) {
                problem("zones", format!("zone id {:?} is used twice", zone.id));
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
            if pass_type.id.trim().is_empty() || pass_type.name.trim().is_empty() {
                problem("passTypes", "every pass type has an id and a name".into());
            }
            if !type_ids.insert(pass_type.id.as_str()) {
                problem("passTypes", format!("pass type id {:?} is used twice", pass_type.id));
            }
            if pass_type.max_days == 0 {
                problem("passTypes", format!("pass type {:?} allows no days", pass_type.id));
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

    /// Every city's problems, and cities listed twice.
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        let mut codes = BTreeSet::new();
        for city in &self.cities {
            if !codes.insert(city.city.as_str()) {
                problems.push(FieldError {
                    field: "cities",
                    message: format!("city {} is listed twice", city.city),
                });
            }
            problems.extend(city.problems().into_iter().map(|p| FieldError {
                field: p.field,
                message: format!("{}: {}", city.city, p.message),
            }));
        }
        problems
    }
}

/// Whether a string is a Chinese plate: a province abbreviation, the
/// issuing office's capital letter, then five letters or digits (six on a
/// new-energy plate). Letters are capitals: a plate is stored as printed.
pub fn plate_is_valid(plate: &str) -> bool {
    let mut chars = plate.chars();
    let province = chars.next().is_some_and(|c| PROVINCES.contains(c));
    let office = chars.next().is_some_and(|c| c.is_ascii_uppercase());
    let rest: Vec<char> = chars.collect();
    province
        && office
        && (rest.len() == 5 || rest.len() == 6)
        && rest.iter().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A daily period in which the pass lets the truck into its zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeWindow {
    #[serde(with = "clock::start")]
    pub from: NaiveTime,
    /// Exclusive; 00:00 ("24:00") is the end of the day.
    #[serde(with = "clock::end")]
    pub to: NaiveTime,
}

impl TimeWindow {
    pub fn is_valid(&self) -> bool {
        period_is_valid(self.from, self.to)
    }

    pub fn covers(&self, time: NaiveTime) -> bool {
        period_covers(self.from, self.to, time)
    }
}

impl fmt::Display for TimeWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&period_text(self.from, self.to))
    }
}

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

fn refusal(code: &'static str, message: String) -> Refusal {
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

/// Where a pass is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum PassStatus {
    PendingReview,
    Active,
    Rejected {
        at: DateTime<Utc>,
        reason: String,
        by: Actor,
    },
    Revoked {
        at: DateTime<Utc>,
        reason: String,
        by: Actor,
    },
    /// The owner or the fleet's manager gave the pass up (or withdrew the application).
    Withdrawn {
        at: DateTime<Utc>,
        by: Actor,
    },
    Expired {
        at: DateTime<Utc>,
    },
}

impl PassStatus {
    pub fn code(&self) -> &'static str {
        match self {
            Self::PendingReview => "pending_review",
            Self::Active => "active",
            Self::Rejected { .. } => "rejected",
            Self::Revoked { .. } => "revoked",
            Self::Withdrawn { .. } => "withdrawn",
            Self::Expired { .. } => "expired",
        }
    }

    /// Pending and active passes hold their dates: they count against overlap.
    pub fn is_live(&self) -> bool {
        matches!(self, Self::PendingReview | Self::Active)
    }
}

impl fmt::Display for PassStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code().replace('_', " ").as_str())
    }
}

/// One recorded step of a pass; `by` is `None` for the scheduled job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassEvent {
    pub at: DateTime<Utc>,
    pub action: String,
    pub by: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A city-access pass. Its terms (zones, dates, windows) are fixed when it
/// is made and `rules_version` records the rules they were granted under:
/// a city changing its rules later does not change passes already issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TruckPass {
    pub id: String,
    pub serial: String,
    pub plate: String,
    pub vehicle_type: VehicleType,
    pub emission: EmissionStandard,
    pub city: String,
    pub pass_type: String,
    pub zones: Vec<String>,
    pub valid_from: NaiveDate,
    /// Inclusive.
    pub valid_to: NaiveDate,
    pub windows: Vec<TimeWindow>,
    pub owner_id: String,
    #[serde(default)]
    pub fleet_id: Option<String>,
    pub rules_version: u64,
    pub status: PassStatus,
    /// When the pass became active (at once for an automatic type, on approval otherwise).
    pub issued_at: Option<DateTime<Utc>>,
    /// While pending: when staff should have decided (one working day, as for photos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_due_at: Option<DateTime<Utc>>,
    /// The signed credential (an mdoc `IssuerSigned`, base64) once the pass is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub history: Vec<PassEvent>,
    /// Optimistic-locking version; every stored change increments it.
    pub version: u64,
}

/// The identifiers and the actor of a new pass, chosen by the caller.
#[derive(Debug, Clone)]
pub struct PassOpening {
    pub id: String,
    pub serial: String,
    /// The driver or fleet manager applying.
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// An action the pass's life does not allow from where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Cannot {action} a pass that is {from}.")]
pub struct IllegalPassTransition {
    pub action: &'static str,
    pub from: &'static str,
}

impl TruckPass {
    /// Checks the request and makes the pass: active at once for a type
    /// without review, pending review otherwise. Refused with every reason.
    pub fn open(
        rules: &CityTruckRules,
        request: &PassRequest,
        existing: &[PassSummary],
        opening: PassOpening,
    ) -> Result<TruckPass, Vec<Refusal>> {
        let reasons = refusals(rules, request, existing, opening.at);
        if !reasons.is_empty() {
            return Err(reasons);
        }
        let Some(pass_type) = rules.pass_type(&request.pass_type) else {
            // refusals() reports an unknown type; kept so this cannot issue without one.
            return Err(vec![refusal(
                "unknown-pass-type",
                format!("No pass type {:?}.", request.pass_type),
            )]);
        };
        let mut seen = BTreeSet::new();
        let zones: Vec<String> = request
            .zones
            .iter()
            .filter(|z| seen.insert(z.as_str()))
            .cloned()
            .collect();
        let mut history = vec![PassEvent {
            at: opening.at,
            action: "applied".into(),
            by: Some(opening.by.clone()),
            detail: Some(format!("{} under rules version {}", pass_type.id, rules.rules_version)),
        }];
        let (status, issued_at) = if pass_type.needs_review {
            (PassStatus::PendingReview, None)
        } else {
            history.push(PassEvent {
                at: opening.at,
                action: "issued".into(),
                by: None,
                detail: Some("pass type issued without review".into()),
            });
            (PassStatus::Active, Some(opening.at))
        };
        Ok(TruckPass {
            id: opening.id,
            serial: opening.serial,
            plate: request.plate.clone(),
            vehicle_type: request.vehicle_type,
            emission: request.emission,
            city: request.city.clone(),
            pass_type: pass_type.id.clone(),
            zones,
            valid_from: request.valid_from,
            valid_to: request.valid_to,
            windows: request.windows.clone(),
            owner_id: request.owner_id.clone(),
            fleet_id: request.fleet_id.clone(),
            rules_version: rules.rules_version,
            status,
            issued_at,
            review_due_at: None,
            document: None,
            created_at: opening.at,
            history,
            version: 1,
        })
    }

    /// The moment the pass's last day ends (local midnight after `valid_to`).
    pub fn ends_at(&self) -> DateTime<Utc> {
        let next_day = self.valid_to.succ_opt().unwrap_or(self.valid_to);
        local_instant(next_day, NaiveTime::MIN)
    }

    fn require(&self, action: &'static str, allowed: &[&str]) -> Result<(), IllegalPassTransition> {
        if allowed.contains(&self.status.code()) {
            Ok(())
        } else {
            Err(self.illegal(action))
        }
    }

    fn illegal(&self, action: &'static str) -> IllegalPassTransition {
        IllegalPassTransition {
            action,
            from: self.status.code(),
        }
    }

    fn record(&mut self, at: DateTime<Utc>, action: &str, by: Option<&Actor>, detail: Option<String>) {
        self.history.push(PassEvent {
            at,
            action: action.into(),
            by: by.cloned(),
            detail,
        });
    }

    /// A reviewer approves a pending pass: it becomes active. A pass whose
    /// last day has passed cannot be approved any more; the job expires it.
    pub fn approve(&mut self, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("approve", &["pending_review"])?;
        if at >= self.ends_at() {
            return Err(self.illegal("approve (its last day has passed)"));
        }
        self.status = PassStatus::Active;
        self.issued_at = Some(at);
        self.review_due_at = None;
        self.record(at, "approved", Some(by), None);
        Ok(())
    }

    /// A reviewer rejects a pending pass, saying why.
    pub fn reject(&mut self, reason: &str, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("reject", &["pending_review"])?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(self.illegal("reject without a reason"));
        }
        self.review_due_at = None;
        self.status = PassStatus::Rejected {
            at,
            reason: reason.to_string(),
            by: by.clone(),
        };
        self.record(at, "rejected", Some(by), Some(reason.to_string()));
        Ok(())
    }

    /// An administrator revokes an active pass, saying why. A pending one is
    /// rejected instead.
    pub fn revoke(&mut self, reason: &str, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("revoke", &["active"])?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(self.illegal("revoke without a reason"));
        }
        self.status = PassStatus::Revoked {
            at,
            reason: reason.to_string(),
            by: by.clone(),
        };
        self.record(at, "revoked", Some(by), Some(reason.to_string()));
        Ok(())
    }

    /// The owner or the fleet's manager gives up a pending or active pass,
    /// which frees its dates for another.
    pub fn withdraw(&mut self, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("withdraw", &["pending_review", "active"])?;
        self.status = PassStatus::Withdrawn { at, by: by.clone() };
        self.review_due_at = None;
        self.record(at, "withdrawn", Some(by), None);
        Ok(())
    }

    /// The scheduled job expires a pass once its last day has ended; a
    /// pending one never reviewed in time is expired too, freeing its dates.
    pub fn expire(&mut self, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("expire", &["pending_review", "active"])?;
        if at < self.ends_at() {
            return Err(self.illegal("expire before its last day has ended"));
        }
        self.review_due_at = None;
        self.status = PassStatus::Expired { at };
        self.record(at, "expired", None, None);
        Ok(())
    }
}

/// Whether a truck may be where it is: the answer an officer sees.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    pub allowed: bool,
    /// One of "within-pass", "no-restriction-now", "unknown-zone",
    /// "other-city", "revoked", "expired", "not-active", "outside-dates",
    /// "zone-not-covered", "outside-window".
    pub reason: &'static str,
    pub message: String,
}

fn decision(allowed: bool, reason: &'static str, message: String) -> Decision {
    Decision {
        allowed,
        reason,
        message,
    }
}

/// Whether the truck holding `pass` may be in `zone` of the city whose
/// current `rules` are given, at `at`. Outside the restricted hours of the
/// day's type it may, pass or no pass. Within them it needs a live pass for
/// this city that covers the zone, the local date and the time of day within
/// one of its windows. The hours are the city's current ones (the law where
/// the truck is now); the zones, dates and windows are the pass's own, as issued.
pub fn allowed_here_and_now(
    pass: &TruckPass,
    rules: &CityTruckRules,
    calendar: &WorkingCalendar,
    zone: &str,
    at: DateTime<Utc>,
) -> Decision {
    let local = at.with_timezone(&local_offset());
    let (date, time) = (local.date_naive(), local.time());
    // A person reads the message: the second is enough.
    let clock_text = clock::format(chrono::Timelike::with_nanosecond(&time, 0).unwrap_or(time), false);
    // An officer's terminal offers the city's zones; anything else is an input
    // mistake, and answering "allowed" to a typo would be the wrong way to fail.
    let Some(zone_info) = rules.zone(zone) else {
        return decision(
            false,
            "unknown-zone",
            format!("{} has no restricted zone {zone:?}.", rules.name),
        );
    };
    let day_type = DayType::of(calendar, date);
    let Some(restriction) = rules.restriction_at(calendar, at) else {
        return decision(
            true,
            "no-restriction-now",
            format!(
                "Trucks are not restricted in {} at {clock_text} on {date} (a {}); no pass is needed.",
                zone_info.name,
                day_type.code().replace('_', " ")
            ),
        );
    };
    let restricted = format!(
        "{} is restricted {} on a {}",
        zone_info.name,
        period_text(restriction.from, restriction.to),
        restriction.day_type.code().replace('_', " ")
    );
    if pass.city != rules.city {
        return decision(
            false,
            "other-city",
            format!(
                "{restricted}, and pass {} is for city {}, not {}.",
                pass.serial, pass.city, rules.name
            ),
        );
    }
    match &pass.status {
        PassStatus::Active => {}
        PassStatus::Revoked {
            at: revoked_at, reason, ..
        } => {
            return decision(
                false,
                "revoked",
                format!(
                    "{restricted}, and pass {} was revoked at {}: {reason}.",
                    pass.serial,
                    revoked_at.to_rfc3339()
                ),
            );
        }
        PassStatus::Expired { .. } => {
            return decision(
                false,
                "expired",
                format!("{restricted}, and pass {} has expired.", pass.serial),
            );
        }
        PassStatus::PendingReview | PassStatus::Rejected { .. } | PassStatus::Withdrawn { .. } => {
            return decision(
                false,
                "not-active",
                format!("{restricted}, and pass {} is {}, not active.", pass.serial, pass.status),
            );
        }
    }
    if date < pass.valid_from || date > pass.valid_to {
        return decision(
            false,
            "outside-dates",
            format!(
                "{restricted}, and pass {} is valid from {} to {}, not on {date}.",
                pass.serial, pass.valid_from, pass.valid_to
            ),
        );
    }
    if !pass.zones.iter().any(|z| z == zone) {
        return decision(
            false,
            "zone-not-covered",
            format!("{restricted}, and pass {} does not cover it.", pass.serial),
        );
    }
    match pass.windows.iter().find(|w| w.covers(time)) {
        Some(window) => decision(
            true,
            "within-pass",
            format!(
                "{restricted}; pass {} covers it on {date} at {clock_text} (window {window}).",
                pass.serial
            ),
        ),
        None => {
            let windows: Vec<String> = pass.windows.iter().map(ToString::to_string).collect();
            decision(
                false,
                "outside-window",
                format!(
                    "{restricted}, and pass {} allows only {} ({clock_text} now).",
                    pass.serial,
                    windows.join(", ")
                ),
            )
        }
    }
}

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

/// A goods vehicle as the vehicle register knows it: what a pass is for and
/// who may apply for one (its owner, or the manager of the fleet it runs in).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Vehicle {
    pub plate: String,
    pub vehicle_type: VehicleType,
    pub emission: EmissionStandard,
    /// The registered owner's identity number (a person or a company's credit code).
    pub owner_id: String,
    /// The fleet (transport company) the vehicle runs in, whose manager acts for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fleet_id: Option<String>,
}

impl Vehicle {
    pub fn problems(&self) -> Vec<FieldError> {
        let mut problems = Vec::new();
        if !plate_is_valid(&self.plate) {
            problems.push(FieldError {
                field: "plate",
                message: format!("{:?} is not a plate", self.plate),
            });
        }
        if self.owner_id.trim().is_empty() || self.owner_id.len() > 64 {
            problems.push(FieldError {
                field: "ownerId",
                message: "must be 1 to 64 characters".into(),
            });
        }
        if self
            .fleet_id
            .as_ref()
            .is_some_and(|f| f.trim().is_empty() || f.len() > 64)
        {
            problems.push(FieldError {
                field: "fleetId",
                message: "must be 1 to 64 characters when present".into(),
            });
        }
        problems
    }
}

/// One verification of a pass by an officer (R9, R15), kept under the pass
/// so its owner and fleet see who checked it, where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassCheck {
    pub id: String,
    pub at: DateTime<Utc>,
    pub verifier_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// `code` or `mdoc`.
    pub method: String,
    /// The pass the credential named, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub zone: String,
    /// The moment asked about (now, unless the officer named another).
    pub moment: DateTime<Utc>,
    /// The credential verified and the pass is live.
    pub valid: bool,
    /// The truck may be in the zone at that moment.
    pub allowed: bool,
    pub reason: String,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kernel::caller::Role;
    use chrono::Duration;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn t(s: &str) -> NaiveTime {
        s.parse().expect("time of day")
    }

    fn window(from: &str, to: &str) -> TimeWindow {
        TimeWindow {
            from: t(from),
            to: t(to),
        }
    }

    fn actor(id: &str, role: Role) -> Actor {
        Actor { id: id.into(), role }
    }

    /// A Beijing-like city: restricted 06:00–23:00 on working days and
    /// 09:00–17:00 on rest days; "shared" passes may overlap each other.
    fn rules() -> CityTruckRules {
        serde_json::from_value(serde_json::json!({
            "city": "110000",
            "name": "北京市",
            "batch": 1,
            "goLiveAt": "2026-11-20T00:00:00+08:00",
            "zones": [
                {"id": "ring-5", "name": "五环内", "description": "五环路以内"},
                {"id": "ring-6", "name": "六环内", "description": "五环至六环"}
            ],
            "restrictedHours": [
                {"dayType": "working_day", "from": "06:00", "to": "23:00"},
                {"dayType": "rest_day", "from": "09:00", "to": "17:00"}
            ],
            "bannedVehicleTypes": ["tractor_trailer", "hazardous_goods"],
            "minEmission": "china_5",
            "passTypes": [
                {"id": "short", "name": "临时通行证", "maxDays": 7, "needsReview": false, "allowOverlap": false},
                {"id": "long", "name": "长期通行证", "maxDays": 90, "needsReview": true, "allowOverlap": false},
                {"id": "shared", "name": "共享通行证", "maxDays": 30, "needsReview": false, "allowOverlap": true}
            ],
            "rulesVersion": 3
        }))
        .expect("rules")
    }

    /// Wednesday 2026-11-25, 10:00 in Beijing.
    fn now() -> DateTime<Utc> {
        at("2026-11-25T10:00:00+08:00")
    }

    fn request() -> PassRequest {
        PassRequest {
            plate: "京A12345".into(),
            vehicle_type: VehicleType::MediumTruck,
            emission: EmissionStandard::China6a,
            owner_id: "11010519900307451X".into(),
            fleet_id: Some("fleet-1".into()),
            city: "110000".into(),
            pass_type: "short".into(),
            zones: vec!["ring-5".into()],
            valid_from: day("2026-11-25"),
            valid_to: day("2026-11-30"),
            windows: vec![window("06:00", "12:00"), window("20:00", "00:00")],
        }
    }

    fn opening() -> PassOpening {
        PassOpening {
            id: "pass-1".into(),
            serial: "TP-0001".into(),
            by: actor("11010519900307451X", Role::Holder),
            at: now(),
        }
    }

    fn codes(reasons: &[Refusal]) -> Vec<&'static str> {
        reasons.iter().map(|r| r.code).collect()
    }

    fn summary(id: &str, pass_type: &str, from: &str, to: &str) -> PassSummary {
        PassSummary {
            id: id.into(),
            plate: "京A12345".into(),
            city: "110000".into(),
            pass_type: pass_type.into(),
            valid_from: day(from),
            valid_to: day(to),
            status: PassStatus::Active,
        }
    }

    fn active_pass() -> TruckPass {
        TruckPass::open(&rules(), &request(), &[], opening()).expect("issued")
    }

    /// 2026-11-26 (Thursday) is a holiday, 2026-11-29 (Sunday) a make-up working day.
    fn calendar() -> WorkingCalendar {
        WorkingCalendar::new([day("2026-11-26")], [day("2026-11-29")])
    }

    #[test]
    fn a_good_request_has_no_refusal() {
        assert_eq!(refusals(&rules(), &request(), &[], now()), vec![]);
    }

    #[test]
    fn every_refusal_is_reported_at_once() {
        let mut rules = rules();
        rules.go_live_at = None;
        let request = PassRequest {
            plate: "AB12345".into(),
            vehicle_type: VehicleType::HazardousGoods,
            emission: EmissionStandard::China4,
            owner_id: "x".into(),
            fleet_id: None,
            city: "310000".into(),
            pass_type: "monthly".into(),
            zones: vec!["ring-5".into(), "ring-9".into(), "ring-9".into(), "inner".into()],
            valid_from: day("2026-11-20"),
            valid_to: day("2026-11-19"),
            windows: vec![window("22:00", "06:00"), window("08:00", "08:00")],
        };
        let codes = codes(&refusals(&rules, &request, &[], now()));
        assert_eq!(
            codes,
            vec![
                "city-mismatch",
                "city-not-live",
                "plate-invalid",
                "vehicle-type-banned",
                "emission-below-minimum",
                "unknown-pass-type",
                "unknown-zone",
                "unknown-zone",
                "dates-invalid",
                "dates-invalid",
                "window-invalid",
                "window-invalid",
            ]
        );
    }

    #[test]
    fn each_refusal_alone() {
        let check = |change: &dyn Fn(&mut PassRequest), expected: &[&str]| {
            let mut request = request();
            change(&mut request);
            assert_eq!(
                codes(&refusals(&rules(), &request, &[], now())),
                expected,
                "{request:?}"
            );
        };
        check(&|r| r.plate = "京a12345".into(), &["plate-invalid"]);
        check(
            &|r| r.vehicle_type = VehicleType::TractorTrailer,
            &["vehicle-type-banned"],
        );
        check(&|r| r.emission = EmissionStandard::China4, &["emission-below-minimum"]);
        check(&|r| r.pass_type = "year".into(), &["unknown-pass-type"]);
        check(&|r| r.zones = vec![], &["no-zone"]);
        check(
            &|r| r.zones = vec!["ring-5".into(), "tiananmen".into()],
            &["unknown-zone"],
        );
        check(&|r| r.valid_from = day("2026-11-24"), &["dates-invalid"]);
        check(&|r| r.valid_to = day("2026-11-24"), &["dates-invalid"]);
        // Seven days counting both ends is the limit of a short pass.
        check(&|r| r.valid_to = day("2026-12-01"), &[]);
        check(&|r| r.valid_to = day("2026-12-02"), &["too-long"]);
        check(&|r| r.windows = vec![], &["no-window"]);
        check(
            &|r| r.windows = vec![window("08:00", "09:00"); 5],
            &["too-many-windows"],
        );
        check(&|r| r.windows = vec![window("12:00", "11:00")], &["window-invalid"]);
        // A window crossing midnight is refused; the same hours as two windows are not.
        check(&|r| r.windows = vec![window("22:00", "02:00")], &["window-invalid"]);
        check(
            &|r| r.windows = vec![window("22:00", "00:00"), window("00:00", "02:00")],
            &[],
        );
        check(&|r| r.windows = vec![window("00:00", "00:00")], &[]);
    }

    #[test]
    fn city_not_live_says_when_it_opens() {
        let mut rules = rules();
        rules.go_live_at = Some(at("2026-12-01T00:00:00+08:00"));
        let reasons = refusals(&rules, &request(), &[], now());
        assert_eq!(codes(&reasons), vec!["city-not-live"]);
        assert!(
            reasons[0].message.contains("2026-12-01 00:00"),
            "{}",
            reasons[0].message
        );
        rules.go_live_at = None;
        let reasons = refusals(&rules, &request(), &[], now());
        assert!(reasons[0].message.contains("not joined"), "{}", reasons[0].message);
    }

    #[test]
    fn today_is_the_local_date() {
        // 07:00 on the 25th in Beijing is still the 24th in UTC: a pass from
        // the 25th does not begin in the past, one from the 24th does.
        let early = at("2026-11-25T07:00:00+08:00");
        assert!(refusals(&rules(), &request(), &[], early).is_empty());
        let mut request = request();
        request.valid_from = day("2026-11-24");
        assert_eq!(codes(&refusals(&rules(), &request, &[], early)), vec!["dates-invalid"]);
    }

    #[test]
    fn overlap_is_refused_when_either_pass_forbids_it() {
        let rules = rules();
        // The new short pass forbids overlap: an existing pass intersecting on
        // either side (or inside) refuses it, one merely adjacent does not.
        for (from, to) in [
            ("2026-11-20", "2026-11-25"),
            ("2026-11-30", "2026-12-05"),
            ("2026-11-27", "2026-11-27"),
        ] {
            let existing = [summary("old", "short", from, to)];
            let reasons = refusals(&rules, &request(), &existing, now());
            assert_eq!(codes(&reasons), vec!["overlapping-pass"], "{from}..{to}");
            assert!(reasons[0].message.contains("old"));
        }
        let adjacent = [
            summary("before", "short", "2026-11-18", "2026-11-24"),
            summary("after", "short", "2026-12-01", "2026-12-07"),
        ];
        assert!(refusals(&rules, &request(), &adjacent, now()).is_empty());

        // Two passes of a type that allows overlap may run together...
        let mut shared = request();
        shared.pass_type = "shared".into();
        let existing = [summary("old", "shared", "2026-11-20", "2026-12-10")];
        assert!(refusals(&rules, &shared, &existing, now()).is_empty());
        // ...but not alongside one that forbids it, whichever came first.
        let existing = [summary("old", "short", "2026-11-26", "2026-11-27")];
        assert_eq!(
            codes(&refusals(&rules, &shared, &existing, now())),
            vec!["overlapping-pass"]
        );
        let existing = [summary("old", "shared", "2026-11-26", "2026-11-27")];
        assert_eq!(
            codes(&refusals(&rules, &request(), &existing, now())),
            vec!["overlapping-pass"]
        );
    }

    #[test]
    fn only_live_passes_of_the_same_vehicle_and_city_count_against_overlap() {
        let by = actor("admin-1", Role::Admin);
        let mut others = Vec::new();
        for status in [
            PassStatus::Revoked {
                at: now(),
                reason: "x".into(),
                by: by.clone(),
            },
            PassStatus::Rejected {
                at: now(),
                reason: "x".into(),
                by: by.clone(),
            },
            PassStatus::Expired { at: now() },
        ] {
            let mut s = summary("dead", "short", "2026-11-25", "2026-11-26");
            s.status = status;
            others.push(s);
        }
        let mut other_plate = summary("other-plate", "short", "2026-11-25", "2026-11-26");
        other_plate.plate = "京B54321".into();
        let mut other_city = summary("other-city", "short", "2026-11-25", "2026-11-26");
        other_city.city = "310000".into();
        others.extend([other_plate, other_city]);
        assert!(refusals(&rules(), &request(), &others, now()).is_empty());
        let mut pending = summary("pending", "long", "2026-11-25", "2026-11-26");
        pending.status = PassStatus::PendingReview;
        others.push(pending);
        assert_eq!(
            codes(&refusals(&rules(), &request(), &others, now())),
            vec!["overlapping-pass"]
        );
    }

    #[test]
    fn plates() {
        assert!(plate_is_valid("京A12345"));
        assert!(plate_is_valid("粤B123456"), "new energy");
        assert!(plate_is_valid("川AD1234X"));
        assert!(!plate_is_valid("AB12345"));
        assert!(!plate_is_valid("京a12345"));
        assert!(!plate_is_valid("京A1234"));
        assert!(!plate_is_valid("京A1234567"));
        assert!(!plate_is_valid("京A12 45"));
        assert!(!plate_is_valid("台A12345"));
        assert!(!plate_is_valid("京"));
        assert!(!plate_is_valid(""));
    }

    #[test]
    fn ordering_supports_at_least_comparisons() {
        assert!(EmissionStandard::China3 < EmissionStandard::China4);
        assert!(EmissionStandard::China6a < EmissionStandard::China6b);
        assert!(EmissionStandard::NewEnergy > EmissionStandard::China6b);
        assert!(VehicleType::LightTruck < VehicleType::HeavyTruck);
        let codes: Vec<String> = EmissionStandard::ALL
            .iter()
            .map(|e| {
                serde_json::to_value(e)
                    .expect("json")
                    .as_str()
                    .unwrap_or_default()
                    .to_string()
            })
            .collect();
        assert_eq!(
            codes,
            ["china_3", "china_4", "china_5", "china_6a", "china_6b", "new_energy"]
        );
        for e in EmissionStandard::ALL {
            assert_eq!(serde_json::to_value(e).expect("json"), e.code());
        }
        for v in VehicleType::ALL {
            assert_eq!(serde_json::to_value(v).expect("json"), v.code());
        }
    }

    #[test]
    fn automatic_types_are_issued_at_once_reviewed_ones_wait() {
        let pass = active_pass();
        assert_eq!(pass.status, PassStatus::Active);
        assert_eq!(pass.issued_at, Some(now()));
        assert_eq!(pass.rules_version, 3);
        assert_eq!(pass.version, 1);
        assert_eq!(pass.history.len(), 2);

        let mut long = request();
        long.pass_type = "long".into();
        long.zones = vec!["ring-5".into(), "ring-6".into(), "ring-5".into()];
        let pass = TruckPass::open(&rules(), &long, &[], opening()).expect("queued");
        assert_eq!(pass.status, PassStatus::PendingReview);
        assert_eq!(pass.issued_at, None);
        assert_eq!(pass.zones, vec!["ring-5", "ring-6"]);

        let mut bad = request();
        bad.vehicle_type = VehicleType::HazardousGoods;
        let reasons = TruckPass::open(&rules(), &bad, &[], opening()).expect_err("refused");
        assert_eq!(codes(&reasons), vec!["vehicle-type-banned"]);
    }

    #[test]
    fn transitions() {
        let reviewer = actor("reviewer-1", Role::Reviewer);
        let admin = actor("admin-1", Role::Admin);
        let mut long = request();
        long.pass_type = "long".into();
        let pending = TruckPass::open(&rules(), &long, &[], opening()).expect("queued");

        // Approve: only a pending pass, and only before its last day has ended.
        let mut pass = pending.clone();
        pass.approve(&reviewer, at("2026-11-25T11:00:00+08:00"))
            .expect("approve");
        assert_eq!(pass.status, PassStatus::Active);
        assert_eq!(pass.issued_at, Some(at("2026-11-25T11:00:00+08:00")));
        let err = pass.approve(&reviewer, now()).expect_err("twice");
        assert_eq!(err.from, "active");
        assert_eq!(err.to_string(), "Cannot approve a pass that is active.");
        let mut late = pending.clone();
        assert!(late.approve(&reviewer, at("2026-12-01T00:00:00+08:00")).is_err());

        // Reject: only a pending pass, with a reason.
        let mut rejected = pending.clone();
        assert!(rejected.reject("  ", &reviewer, now()).is_err());
        rejected
            .reject("no delivery contract", &reviewer, now())
            .expect("reject");
        assert!(matches!(&rejected.status, PassStatus::Rejected { reason, .. } if reason == "no delivery contract"));
        assert!(rejected.approve(&reviewer, now()).is_err());
        assert!(rejected.revoke("x", &admin, now()).is_err());
        assert!(rejected.expire(at("2026-12-02T00:00:00+08:00")).is_err());
        assert!(pass.reject("x", &reviewer, now()).is_err());

        // Revoke: only an active pass, with a reason.
        let mut pending_revoke = pending.clone();
        assert_eq!(
            pending_revoke.revoke("x", &admin, now()).expect_err("pending").from,
            "pending_review"
        );
        assert!(pass.revoke("", &admin, now()).is_err());
        pass.revoke("forged delivery contract", &admin, at("2026-11-26T09:00:00+08:00"))
            .expect("revoke");
        assert_eq!(pass.status.code(), "revoked");
        assert!(pass.revoke("again", &admin, now()).is_err());
        assert!(pass.expire(at("2026-12-02T00:00:00+08:00")).is_err());

        // Expire: from the local midnight after the last day, active or pending.
        let mut active = active_pass();
        assert_eq!(active.ends_at(), at("2026-12-01T00:00:00+08:00"));
        assert!(active.expire(at("2026-11-30T23:59:59+08:00")).is_err());
        active.expire(at("2026-12-01T00:00:00+08:00")).expect("expire");
        assert_eq!(
            active.status,
            PassStatus::Expired {
                at: at("2026-12-01T00:00:00+08:00")
            }
        );
        assert!(active.expire(at("2026-12-02T00:00:00+08:00")).is_err());
        assert!(active.revoke("x", &admin, now()).is_err());
        let mut stale = pending;
        stale.expire(at("2026-12-01T03:00:00+08:00")).expect("expire pending");
        assert_eq!(stale.history.last().map(|e| e.action.as_str()), Some("expired"));
    }

    #[test]
    fn zone_and_time_at_the_boundaries() {
        let (pass, rules, calendar) = (active_pass(), rules(), calendar());
        let decide = |zone: &str, when: &str| allowed_here_and_now(&pass, &rules, &calendar, zone, at(when));
        let reason = |zone: &str, when: &str| decide(zone, when).reason;

        // Wednesday: restricted 06:00–23:00; the pass has 06:00–12:00 and 20:00–24:00.
        assert_eq!(reason("ring-5", "2026-11-25T06:00:00+08:00"), "within-pass");
        assert_eq!(reason("ring-5", "2026-11-25T11:59:59+08:00"), "within-pass");
        assert_eq!(reason("ring-5", "2026-11-25T12:00:00+08:00"), "outside-window");
        assert_eq!(reason("ring-5", "2026-11-25T19:59:59+08:00"), "outside-window");
        assert_eq!(reason("ring-5", "2026-11-25T20:00:00+08:00"), "within-pass");
        assert_eq!(reason("ring-5", "2026-11-25T22:59:59+08:00"), "within-pass");
        // The restriction's own boundaries: start inclusive, end exclusive.
        assert_eq!(reason("ring-5", "2026-11-25T05:59:59+08:00"), "no-restriction-now");
        assert_eq!(reason("ring-5", "2026-11-25T23:00:00+08:00"), "no-restriction-now");
        // Another zone of the city, or one it does not have.
        assert_eq!(reason("ring-6", "2026-11-25T10:00:00+08:00"), "zone-not-covered");
        let unknown = decide("ring-9", "2026-11-25T10:00:00+08:00");
        assert!(!unknown.allowed);
        assert_eq!(unknown.reason, "unknown-zone");
        // Dates: the first and last day are covered, the days around them not.
        assert_eq!(reason("ring-5", "2026-11-24T10:00:00+08:00"), "outside-dates");
        assert_eq!(reason("ring-5", "2026-11-30T21:00:00+08:00"), "within-pass");
        assert_eq!(reason("ring-5", "2026-12-01T10:00:00+08:00"), "outside-dates");

        let within = decide("ring-5", "2026-11-25T10:00:00+08:00");
        assert!(within.allowed);
        assert!(within.message.contains("06:00–12:00"), "{}", within.message);
        let outside = decide("ring-5", "2026-11-25T13:00:00+08:00");
        assert!(!outside.allowed);
        assert!(outside.message.contains("20:00–24:00"), "{}", outside.message);
        assert!(decide("ring-6", "2026-11-25T05:00:00+08:00").allowed);
    }

    #[test]
    fn rest_days_and_working_days_by_the_calendar() {
        let (pass, rules, calendar) = (active_pass(), rules(), calendar());
        let reason = |when: &str| allowed_here_and_now(&pass, &rules, &calendar, "ring-5", at(when)).reason;
        // Thursday the 26th is a holiday: rest-day hours 09:00–17:00.
        assert_eq!(reason("2026-11-26T08:00:00+08:00"), "no-restriction-now");
        assert_eq!(reason("2026-11-26T13:00:00+08:00"), "outside-window");
        assert_eq!(reason("2026-11-26T17:00:00+08:00"), "no-restriction-now");
        // The same hours on a plain working Friday are restricted.
        assert_eq!(reason("2026-11-27T08:00:00+08:00"), "within-pass");
        assert_eq!(reason("2026-11-27T17:00:00+08:00"), "outside-window");
        // Saturday is a rest day; Sunday the 29th a make-up working day.
        assert_eq!(reason("2026-11-28T18:00:00+08:00"), "no-restriction-now");
        assert_eq!(reason("2026-11-29T18:00:00+08:00"), "outside-window");
        // The local day decides: Friday 07:00 in Beijing is Thursday (the holiday) in UTC.
        assert_eq!(reason("2026-11-27T07:00:00+08:00"), "within-pass");
        // Outside restricted hours it is allowed whatever the pass's state.
        let mut revoked = pass.clone();
        revoked
            .revoke("x", &actor("admin-1", Role::Admin), now())
            .expect("revoke");
        let night = allowed_here_and_now(&revoked, &rules, &calendar, "ring-5", at("2026-11-28T20:00:00+08:00"));
        assert!(night.allowed);
        assert_eq!(night.reason, "no-restriction-now");
    }

    #[test]
    fn the_pass_state_decides_within_restricted_hours() {
        let (rules, calendar) = (rules(), calendar());
        let when = at("2026-11-25T10:00:00+08:00");
        let admin = actor("admin-1", Role::Admin);
        let mut revoked = active_pass();
        revoked.revoke("forged contract", &admin, now()).expect("revoke");
        let answer = allowed_here_and_now(&revoked, &rules, &calendar, "ring-5", when);
        assert_eq!((answer.allowed, answer.reason), (false, "revoked"));
        assert!(answer.message.contains("forged contract"));

        let mut expired = active_pass();
        expired.valid_to = day("2026-11-25");
        expired.expire(at("2026-11-26T00:00:00+08:00")).expect("expire");
        let answer = allowed_here_and_now(&expired, &rules, &calendar, "ring-5", at("2026-11-26T10:00:00+08:00"));
        assert_eq!((answer.allowed, answer.reason), (false, "expired"));

        let mut long = request();
        long.pass_type = "long".into();
        let pending = TruckPass::open(&rules, &long, &[], opening()).expect("queued");
        let answer = allowed_here_and_now(&pending, &rules, &calendar, "ring-5", when);
        assert_eq!((answer.allowed, answer.reason), (false, "not-active"));

        let mut elsewhere = rules.clone();
        elsewhere.city = "310000".into();
        elsewhere.name = "上海市".into();
        let answer = allowed_here_and_now(&active_pass(), &elsewhere, &calendar, "ring-5", when);
        assert_eq!((answer.allowed, answer.reason), (false, "other-city"));
    }

    #[test]
    fn a_rule_change_does_not_alter_an_issued_pass() {
        let pass = active_pass();
        let before = pass.clone();
        let calendar = calendar();
        // The city shortens its passes, adds a zone, renames one, raises the
        // emission minimum and bans medium trucks.
        let mut changed = rules();
        changed.rules_version = 4;
        changed.zones.push(Zone {
            id: "ring-4".into(),
            name: "四环内".into(),
            description: String::new(),
        });
        changed.zones[0].name = "五环路以内".into();
        changed.pass_types[0].max_days = 3;
        changed.min_emission = EmissionStandard::China6b;
        changed.banned_vehicle_types.push(VehicleType::MediumTruck);
        // A new application for the same terms is now refused...
        let mut again = request();
        again.valid_from = day("2026-12-01");
        again.valid_to = day("2026-12-06");
        assert_eq!(
            codes(&refusals(&changed, &again, &[], now())),
            vec!["vehicle-type-banned", "emission-below-minimum", "too-long"]
        );
        // ...while the issued pass keeps its terms and the version it was issued under.
        assert_eq!(pass, before);
        assert_eq!(pass.rules_version, 3);
        assert_eq!(pass.zones, vec!["ring-5"]);
        assert_eq!(pass.windows, vec![window("06:00", "12:00"), window("20:00", "00:00")]);
        let answer = allowed_here_and_now(&pass, &changed, &calendar, "ring-5", at("2026-11-30T10:00:00+08:00"));
        assert_eq!((answer.allowed, answer.reason), (true, "within-pass"));
        // The new zone is not added to it.
        let answer = allowed_here_and_now(&pass, &changed, &calendar, "ring-4", at("2026-11-30T10:00:00+08:00"));
        assert_eq!(answer.reason, "zone-not-covered");
    }

    #[test]
    fn times_read_and_write_as_clock_times() {
        let w: TimeWindow = serde_json::from_str(r#"{"from":"20:00","to":"24:00"}"#).expect("window");
        assert_eq!(w, window("20:00", "00:00"));
        assert_eq!(
            serde_json::to_value(w).expect("json"),
            serde_json::json!({"from": "20:00", "to": "24:00"})
        );
        let w: TimeWindow = serde_json::from_str(r#"{"from":"06:30:15","to":"07:00:00"}"#).expect("window");
        assert_eq!(
            serde_json::to_value(w).expect("json"),
            serde_json::json!({"from": "06:30:15", "to": "07:00"})
        );
        assert!(serde_json::from_str::<TimeWindow>(r#"{"from":"24:00","to":"06:00"}"#).is_err());
        assert!(serde_json::from_str::<TimeWindow>(r#"{"from":"6 am","to":"07:00"}"#).is_err());
        let pass = active_pass();
        let json = serde_json::to_string(&pass).expect("json");
        assert_eq!(serde_json::from_str::<TruckPass>(&json).expect("back"), pass);
    }

    #[test]
    fn the_rules_view_is_what_an_app_renders() {
        let view = serde_json::to_value(rules_view(&rules(), now())).expect("json");
        assert_eq!(view["availability"]["status"], "live");
        assert_eq!(view["zones"][0]["name"], "五环内");
        assert_eq!(
            view["restrictedHours"][1],
            serde_json::json!({"dayType": "rest_day", "from": "09:00", "to": "17:00"})
        );
        assert_eq!(
            view["vehicleTypes"][4],
            serde_json::json!({"code": "hazardous_goods", "name": "危险货物运输车", "banned": true})
        );
        assert_eq!(view["vehicleTypes"][0]["banned"], false);
        assert_eq!(view["emissionStandards"][1]["accepted"], false);
        assert_eq!(
            view["emissionStandards"][2],
            serde_json::json!({"code": "china_5", "name": "国五", "accepted": true})
        );
        assert_eq!(view["passTypes"][1]["needsReview"], true);
        assert_eq!(view["passTypes"][0]["maxDays"], 7);
        assert_eq!(view["utcOffset"], "+08:00");
        assert_eq!(view["maxWindows"], 4);
        let mut later = rules();
        later.go_live_at = None;
        assert_eq!(
            serde_json::to_value(rules_view(&later, now())).expect("json")["availability"]["status"],
            "not_scheduled"
        );
    }

    #[test]
    fn the_shipped_rulebook_parses_and_is_consistent() {
        let text = include_str!("../../data/truck-cities.json");
        let book = TruckRulebook::from_json(text).expect("parses");
        assert_eq!(book, TruckRulebook::shipped());
        assert!(book.cities.len() >= 6);
        assert_eq!(book.problems(), vec![]);
        for city in &book.cities {
            let mut zones: Vec<&str> = city.zones.iter().map(|z| z.id.as_str()).collect();
            zones.sort_unstable();
            zones.dedup();
            assert_eq!(zones.len(), city.zones.len(), "{}", city.city);
            let mut types: Vec<&str> = city.pass_types.iter().map(|p| p.id.as_str()).collect();
            types.sort_unstable();
            types.dedup();
            assert_eq!(types.len(), city.pass_types.len(), "{}", city.city);
        }
        let opening = at("2026-11-20T00:00:00+08:00");
        let beijing = book.city("110000").expect("beijing");
        assert_eq!(beijing.zone("ring-5").map(|z| z.name.as_str()), Some("五环内"));
        assert_eq!(beijing.availability(opening), Availability::Live { since: opening });
        assert!(matches!(
            beijing.availability(opening - Duration::seconds(1)),
            Availability::Scheduled { .. }
        ));
        for code in ["310000", "440100", "440300", "510100"] {
            assert_eq!(book.city(code).map(|c| c.batch), Some(1), "{code}");
            assert!(matches!(
                book.city(code).map(|c| c.availability(now())),
                Some(Availability::Live { .. })
            ));
        }
        let zhanjiang = book.city("440800").expect("zhanjiang");
        assert_eq!(zhanjiang.batch, 2);
        assert_eq!(zhanjiang.availability(now()), Availability::NotScheduled);
        // The shipped cities use the rollout's division codes.
        let plan = crate::register::rollout::Plan::default_plan();
        for city in &book.cities {
            assert!(plan.cities.iter().any(|c| c.code == city.city), "{}", city.city);
        }
    }

    #[test]
    fn problems_name_every_mistake() {
        let mut bad = rules();
        bad.city = "beijing".into();
        bad.zones.push(bad.zones[0].clone());
        bad.pass_types.push(bad.pass_types[0].clone());
        bad.pass_types[1].max_days = 0;
        bad.restricted_hours.push(HourRestriction {
            day_type: DayType::WorkingDay,
            from: t("22:00"),
            to: t("06:00"),
        });
        let fields: Vec<&str> = bad.problems().iter().map(|p| p.field).collect();
        assert_eq!(
            fields,
            vec!["city", "zones", "restrictedHours", "passTypes", "passTypes"]
        );
        let book = TruckRulebook {
            cities: vec![rules(), rules()],
        };
        assert_eq!(book.problems().len(), 1);
        // A misspelt list is a parse error, not a lifted restriction.
        let mut json = serde_json::to_value(rules()).expect("json");
        let map = json.as_object_mut().expect("object");
        let banned = map.remove("bannedVehicleTypes").expect("field");
        map.insert("bannedVehicleType".into(), banned);
        assert!(serde_json::from_value::<CityTruckRules>(json).is_err());
    }

    #[test]
    fn a_withdrawn_pass_frees_its_dates_and_leaves_the_expiry_index() {
        let (rules, calendar) = (rules(), calendar());
        let mut pass = active_pass();
        let entry = crate::expiry::pass_entry(&pass).expect("an active pass waits for expiry");
        assert_eq!(entry.bucket, "PASS#2026-11-30");
        let owner = actor("11010519900307451X", Role::Holder);
        pass.withdraw(&owner, now()).expect("withdraw");
        assert_eq!(pass.status.code(), "withdrawn");
        assert!(!pass.status.is_live(), "its dates no longer count against overlap");
        assert_eq!(crate::expiry::pass_entry(&pass), None);
        assert!(pass.withdraw(&owner, now()).is_err(), "once only");
        assert!(
            pass.expire(at("2026-12-01T01:00:00+08:00")).is_err(),
            "ended passes do not expire"
        );
        let decision = allowed_here_and_now(&pass, &rules, &calendar, "ring-5", at("2026-11-25T10:00:00+08:00"));
        assert_eq!((decision.allowed, decision.reason), (false, "not-active"));
        let again = refusals(&rules, &request(), &[PassSummary::from(&pass)], now());
        assert!(again.is_empty(), "{again:?}");
    }

    #[test]
    fn vehicles_are_checked_before_they_enter_the_register() {
        let vehicle = Vehicle {
            plate: "京B20001".into(),
            vehicle_type: VehicleType::MediumTruck,
            emission: EmissionStandard::China6b,
            owner_id: "91110105MA01TRUCK1".into(),
            fleet_id: Some("91110105MA01TRUCK1".into()),
        };
        assert!(vehicle.problems().is_empty());
        let broken = Vehicle {
            plate: "B20001".into(),
            owner_id: " ".into(),
            fleet_id: Some(String::new()),
            ..vehicle
        };
        let fields: Vec<&str> = broken.problems().iter().map(|p| p.field).collect();
        assert_eq!(fields, vec!["plate", "ownerId", "fleetId"]);
    }
}
