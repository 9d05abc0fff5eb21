//! Times of day, written "HH:MM" exactly (no seconds, no single-digit hours), and the daily periods built of them: a city's
//! restricted hours and a pass's time windows. The end of a period may be written "24:00", the end of
//! the day, which is held as 00:00: a period ends where it starts only when it is the whole day.

use chrono::{NaiveTime, Timelike};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

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
    if is_end && text == "24:00" {
        return Ok(NaiveTime::MIN);
    }
    // Exactly five characters, so that chrono's lenient fields cannot take `9:00`, seconds or fractions.
    let parsed = if text.len() == 5 {
        NaiveTime::parse_from_str(text, "%H:%M").ok()
    } else {
        None
    };
    parsed.ok_or_else(|| {
        format!(
            "{} is not a time of day written HH:MM, 00:00 to 23:59{}",
            crate::problem::quote(text),
            if is_end { " (or 24:00, the end of the day)" } else { "" }
        )
    })
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

/// Whether `[from, to)` is a period within one day; a `to` of 00:00 is the
/// end of the day. Periods crossing midnight are not accepted: a night
/// period is written as two, one ending at 24:00 and one starting at 00:00,
/// which also makes plain which day's type each half belongs to.
pub(super) fn period_is_valid(from: NaiveTime, to: NaiveTime) -> bool {
    to == NaiveTime::MIN || from < to
}

/// Whether `time` is in `[from, to)`: the start is inclusive, the end exclusive.
pub(super) fn period_covers(from: NaiveTime, to: NaiveTime, time: NaiveTime) -> bool {
    period_is_valid(from, to) && time >= from && (to == NaiveTime::MIN || time < to)
}

pub(super) fn period_text(from: NaiveTime, to: NaiveTime) -> String {
    format!("{}–{}", format(from, false), format(to, true))
}

/// A daily period in which the pass lets the truck into its zones.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TimeWindow {
    #[serde(with = "start")]
    pub from: NaiveTime,
    /// Exclusive; 00:00 ("24:00") is the end of the day.
    #[serde(with = "end")]
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
