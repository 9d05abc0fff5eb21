//! Whether an electronic licence stands today (R7, R9): its status, the paper licence's validity and states.

use crate::issuance::edl::{self, EdlStatus, ElectronicLicence};
use crate::kernel::Colour;
use crate::register::licence::{Licence, LicenceState, VehicleClass};
use chrono::{DateTime, NaiveDate, Utc};

/// Why an electronic licence does not stand, as a stable code.
pub fn standing(
    edl: &ElectronicLicence,
    licence: &Licence,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> Result<(), &'static str> {
    match &edl.status {
        EdlStatus::Superseded { .. } => return Err("superseded"),
        EdlStatus::Stopped { .. } => return Err("stopped"),
        EdlStatus::Expired { .. } => return Err("licence-expired"),
        EdlStatus::Active => {}
    }
    if now > edl.valid_until || today > licence.valid_to || licence.states.contains(&LicenceState::Expired) {
        return Err("licence-expired");
    }
    if licence.states.contains(&LicenceState::Cancelled) {
        return Err("licence-cancelled");
    }
    if licence.states.contains(&LicenceState::AnnouncedStopped) {
        return Err("licence-announced-stopped");
    }
    if licence.states.contains(&LicenceState::Detained) || licence.states.contains(&LicenceState::Seized) {
        return Err("licence-suspended");
    }
    Ok(())
}

/// Whether the holder may drive `class` today: the licence stands, holds
/// the class, is green (no 12 points, nothing overdue).
pub fn may_drive(
    edl: &ElectronicLicence,
    licence: &Licence,
    class: VehicleClass,
    today: NaiveDate,
    now: DateTime<Utc>,
) -> bool {
    standing(edl, licence, today, now).is_ok()
        && licence.classes.contains(&class)
        && edl::colour(licence, today) == Colour::Green
}
