//! The paper driving licence as the authority's register holds it (R1, R7).

use crate::kernel::input::FieldError;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The national vehicle-class codes printed on a licence (准驾车型).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum VehicleClass {
    A1,
    A2,
    A3,
    B1,
    B2,
    C1,
    C2,
    C3,
    C4,
    C5,
    D,
    E,
    F,
    M,
    N,
    P,
}

impl VehicleClass {
    pub const ALL: [VehicleClass; 16] = [
        Self::A1,
        Self::A2,
        Self::A3,
        Self::B1,
        Self::B2,
        Self::C1,
        Self::C2,
        Self::C3,
        Self::C4,
        Self::C5,
        Self::D,
        Self::E,
        Self::F,
        Self::M,
        Self::N,
        Self::P,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::A1 => "A1",
            Self::A2 => "A2",
            Self::A3 => "A3",
            Self::B1 => "B1",
            Self::B2 => "B2",
            Self::C1 => "C1",
            Self::C2 => "C2",
            Self::C3 => "C3",
            Self::C4 => "C4",
            Self::C5 => "C5",
            Self::D => "D",
            Self::E => "E",
            Self::F => "F",
            Self::M => "M",
            Self::N => "N",
            Self::P => "P",
        }
    }

    /// The rule printed on the back page for this class code (R6).
    pub fn rule(self) -> &'static str {
        match self {
            Self::A1 => "大型载客汽车",
            Self::A2 => "重型牵引挂车",
            Self::A3 => "城市公交车",
            Self::B1 => "中型载客汽车",
            Self::B2 => "大型货车",
            Self::C1 => "小型汽车",
            Self::C2 => "小型自动挡汽车",
            Self::C3 => "低速载货汽车",
            Self::C4 => "三轮汽车",
            Self::C5 => "残疾人专用小型自动挡载客汽车",
            Self::D => "普通三轮摩托车",
            Self::E => "普通二轮摩托车",
            Self::F => "轻便摩托车",
            Self::M => "轮式自行机械车",
            Self::N => "无轨电车",
            Self::P => "有轨电车",
        }
    }
}

impl fmt::Display for VehicleClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Sex {
    Male,
    Female,
}

/// A state flag of the paper licence; several can hold at once (detained and
/// overdue for its medical examination, say). No flag at all means "normal".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenceState {
    /// 扣留
    Detained,
    /// 暂扣
    Seized,
    /// 逾期未体检
    MedicalOverdue,
    /// 逾期未审验
    ReviewOverdue,
    /// 公告停止使用
    AnnouncedStopped,
    /// 超过有效期
    Expired,
    /// 注销
    Cancelled,
}

impl LicenceState {
    pub const ALL: [LicenceState; 7] = [
        Self::Detained,
        Self::Seized,
        Self::MedicalOverdue,
        Self::ReviewOverdue,
        Self::AnnouncedStopped,
        Self::Expired,
        Self::Cancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Self::Detained => "detained",
            Self::Seized => "seized",
            Self::MedicalOverdue => "medical_overdue",
            Self::ReviewOverdue => "review_overdue",
            Self::AnnouncedStopped => "announced_stopped",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }
}

/// The vehicle management office that issued the licence; its code is the
/// city's administrative division code, which is also the rollout unit (R2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct IssuingAuthority {
    pub code: String,
    pub name: String,
}

/// Points at which a licence is red and the holder must re-study (R8).
pub const MAX_POINTS: u8 = 12;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Licence {
    /// The licence number (in China the holder's identity number, but kept apart).
    pub number: String,
    /// The holder's identity number; the holder's login subject.
    pub holder_id: String,
    pub name: String,
    pub sex: Sex,
    /// ISO 3166-1 alpha-3.
    pub nationality: String,
    pub birth_date: NaiveDate,
    pub address: String,
    pub first_issue_date: NaiveDate,
    pub classes: Vec<VehicleClass>,
    pub valid_from: NaiveDate,
    pub valid_to: NaiveDate,
    pub issuing_authority: IssuingAuthority,
    pub archive_number: String,
    pub points: u8,
    /// Empty when the licence is in order.
    #[serde(default)]
    pub states: Vec<LicenceState>,
    /// Whether the register holds a compliant photo (R3).
    pub photo_on_file: bool,
    /// The register's photo of the holder: the SHA-256 of its normalised portrait, kept in the photo store
    /// at [`register_photo_key`]. An on-file application needs it; without it the holder sends a new photo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub photo_sha256: Option<String>,
    /// On import only: the photo itself (JPEG or PNG, base64), which the import normalises and stores,
    /// setting `photo_sha256`. Never stored in the record.
    #[serde(default, skip_serializing)]
    pub photo_image: Option<String>,
    /// Optimistic-locking version, managed by the store; ignored on import.
    #[serde(default)]
    pub version: u64,
}

fn field(field: &'static str, message: impl Into<String>) -> FieldError {
    FieldError {
        field,
        message: message.into(),
    }
}

/// The largest `photoImage` an import line may carry: a 2 MiB photo in base64.
pub const MAX_PHOTO_IMAGE_CHARS: usize = (2 * 1024 * 1024usize).div_ceil(3) * 4;

/// Where the register's photo with this SHA-256 is kept (content-addressed: one object per image).
pub fn register_photo_key(sha256: &str) -> String {
    format!("register/{sha256}.jpg")
}

impl Licence {
    /// Whether a state flag stops the electronic licence from standing (R1; `verification::standing`):
    /// expired, cancelled, announced stopped, detained or seized. Overdue examinations and reviews only turn
    /// the code red.
    pub fn is_held(&self) -> bool {
        self.states.iter().any(|state| {
            matches!(
                state,
                LicenceState::Expired
                    | LicenceState::Cancelled
                    | LicenceState::AnnouncedStopped
                    | LicenceState::Detained
                    | LicenceState::Seized
            )
        })
    }

    /// The city the licence belongs to for the staged rollout (R2).
    pub fn city_code(&self) -> &str {
        &self.issuing_authority.code
    }

    /// Every problem with the record, so that an import report names them all.
    pub fn validate(&self) -> Vec<FieldError> {
        let mut errors = Vec::new();
        if !is_plain_identifier(&self.number, 6, 32) {
            errors.push(field("number", "must be 6 to 32 letters or digits"));
        }
        if self.nationality == "CHN" {
            if !is_valid_resident_id(&self.holder_id) {
                errors.push(field(
                    "holderId",
                    "is not a valid 18-character resident identity number (GB 11643 check digit)",
                ));
            }
        } else if !is_plain_identifier(&self.holder_id, 6, 32) {
            errors.push(field("holderId", "must be 6 to 32 letters or digits"));
        }
        let name_len = self.name.trim().chars().count();
        if name_len == 0 || name_len > 64 {
            errors.push(field("name", "must be 1 to 64 characters"));
        }
        if self.nationality.len() != 3 || !self.nationality.chars().all(|c| c.is_ascii_uppercase()) {
            errors.push(field("nationality", "must be an ISO 3166-1 alpha-3 code such as CHN"));
        }
        let address_len = self.address.trim().chars().count();
        if address_len == 0 || address_len > 200 {
            errors.push(field("address", "must be 1 to 200 characters"));
        }
        if self.classes.is_empty() {
            errors.push(field("classes", "must name at least one vehicle class"));
        }
        let mut sorted = self.classes.clone();
        sorted.sort();
        sorted.dedup();
        if sorted.len() != self.classes.len() {
            errors.push(field("classes", "names a class twice"));
        }
        if self.valid_to <= self.valid_from {
            errors.push(field("validTo", "must be after validFrom"));
        }
        if self.first_issue_date < self.birth_date {
            errors.push(field("firstIssueDate", "is before the birth date"));
        }
        if self.issuing_authority.code.len() != 6 || !self.issuing_authority.code.chars().all(|c| c.is_ascii_digit()) {
            errors.push(field(
                "issuingAuthority.code",
                "must be a 6-digit administrative division code",
            ));
        }
        if self.issuing_authority.name.trim().is_empty() {
            errors.push(field("issuingAuthority.name", "must not be empty"));
        }
        if !is_plain_identifier(&self.archive_number, 6, 32) {
            errors.push(field("archiveNumber", "must be 6 to 32 letters or digits"));
        }
        if self.points > MAX_POINTS {
            errors.push(field("points", format!("must be 0 to {MAX_POINTS}")));
        }
        if let Some(sha) = &self.photo_sha256 {
            if sha.len() != 64 || !sha.chars().all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) {
                errors.push(field(
                    "photoSha256",
                    "must be 64 lowercase hexadecimal digits (a SHA-256)",
                ));
            }
        }
        if self
            .photo_image
            .as_ref()
            .is_some_and(|i| i.len() > MAX_PHOTO_IMAGE_CHARS)
        {
            errors.push(field("photoImage", "is larger than a 2 MiB photo in base64"));
        }
        if (self.photo_sha256.is_some() || self.photo_image.is_some()) && !self.photo_on_file {
            errors.push(field("photoOnFile", "must be true when the line carries a photo"));
        }
        let mut states = self.states.clone();
        states.sort();
        states.dedup();
        if states.len() != self.states.len() {
            errors.push(field("states", "names a state twice"));
        }
        errors
    }
}

fn is_plain_identifier(value: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&value.len()) && value.chars().all(|c| c.is_ascii_alphanumeric())
}

/// GB 11643-1999: 17 digits and a check character (0-9 or X).
pub fn is_valid_resident_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    if bytes.len() != 18 || !bytes[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    resident_id_check_char(&id[..17]) == Some(bytes[17] as char)
}

/// The check character for the first 17 digits of a resident identity number.
pub fn resident_id_check_char(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in first17.chars().zip(WEIGHTS) {
        sum += c.to_digit(10)? * w;
    }
    Some(CHECK[(sum % 11) as usize] as char)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resident_id_check_digit() {
        assert!(is_valid_resident_id("11010519900307451X"));
        assert!(is_valid_resident_id("310104199208152623"));
        assert!(!is_valid_resident_id("310104199208152624"));
        assert!(!is_valid_resident_id("31010419920815262"));
        assert!(!is_valid_resident_id("3101041992081526２3"));
    }
}
