//! The vehicle register (R13): goods vehicle types, emission standards, plates, and who acts for a vehicle.

use crate::kernel::input::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

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
