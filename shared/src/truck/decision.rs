//! The here-and-now decision (R9, R13): whether the truck holding a pass may be in a zone at a moment.

use super::clock::{self, period_text};
use super::pass::{PassStatus, TruckPass};
use super::rules::{CityTruckRules, DayType};
use crate::kernel::calendar::WorkingCalendar;
use crate::kernel::time::local_offset;
use chrono::{DateTime, Utc};
use serde::Serialize;

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
