//! Working days for the review service level (R4): weekends, public holidays and make-up working days.

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc, Weekday};
use serde::Deserialize;
use std::collections::BTreeSet;

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WorkingCalendar {
    holidays: BTreeSet<NaiveDate>,
    make_up_days: BTreeSet<NaiveDate>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CalendarFile {
    #[serde(default)]
    holidays: Vec<NaiveDate>,
    #[serde(default)]
    make_up_working_days: Vec<NaiveDate>,
}

impl WorkingCalendar {
    pub fn new(
        holidays: impl IntoIterator<Item = NaiveDate>,
        make_up_days: impl IntoIterator<Item = NaiveDate>,
    ) -> Self {
        WorkingCalendar {
            holidays: holidays.into_iter().collect(),
            make_up_days: make_up_days.into_iter().collect(),
        }
    }

    /// Reads `{"holidays": [...], "makeUpWorkingDays": [...]}`.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let file: CalendarFile = serde_json::from_str(text)?;
        Ok(Self::new(file.holidays, file.make_up_working_days))
    }

    /// The calendar shipped in `shared/data/calendar.json`.
    pub fn shipped() -> Self {
        Self::from_json(include_str!("../../data/calendar.json")).unwrap_or_default()
    }

    pub fn is_working_day(&self, day: NaiveDate) -> bool {
        if self.make_up_days.contains(&day) {
            return true;
        }
        if self.holidays.contains(&day) {
            return false;
        }
        !matches!(day.weekday(), Weekday::Sat | Weekday::Sun)
    }

    /// The first working day strictly after `day`.
    pub fn next_working_day(&self, day: NaiveDate) -> NaiveDate {
        let mut next = day;
        // A year of consecutive holidays is not a calendar; stop looking there.
        for _ in 0..366 {
            next = next.succ_opt().unwrap_or(next);
            if self.is_working_day(next) {
                return next;
            }
        }
        next
    }

    /// When a photo arriving at `arrival` is due: one working day later. A
    /// photo arriving on a day off starts its clock at the beginning of the
    /// next working day. Days are the authority's local days (`offset`).
    pub fn review_due(&self, arrival: DateTime<Utc>, offset: FixedOffset) -> DateTime<Utc> {
        let local = arrival.with_timezone(&offset);
        let (start_day, start_time) = if self.is_working_day(local.date_naive()) {
            (local.date_naive(), local.time())
        } else {
            (self.next_working_day(local.date_naive()), NaiveTime::MIN)
        };
        let due_day = self.next_working_day(start_day);
        offset
            .from_local_datetime(&due_day.and_time(start_time))
            .single()
            .map(|d| d.with_timezone(&Utc))
            .unwrap_or(arrival)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cst() -> FixedOffset {
        FixedOffset::east_opt(8 * 3600).expect("offset")
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("time").with_timezone(&Utc)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn weekdays_are_due_next_working_day_same_time() {
        let calendar = WorkingCalendar::default();
        // Wednesday -> Thursday.
        assert_eq!(
            calendar.review_due(at("2026-11-25T10:30:00+08:00"), cst()),
            at("2026-11-26T10:30:00+08:00")
        );
        // Friday -> Monday.
        assert_eq!(
            calendar.review_due(at("2026-11-27T16:00:00+08:00"), cst()),
            at("2026-11-30T16:00:00+08:00")
        );
        // Saturday: the clock starts Monday 00:00 -> due Tuesday 00:00.
        assert_eq!(
            calendar.review_due(at("2026-11-28T09:00:00+08:00"), cst()),
            at("2026-12-01T00:00:00+08:00")
        );
        // Local days, not UTC days: Thursday 07:00 in Beijing is Wednesday in UTC.
        assert_eq!(
            calendar.review_due(at("2026-11-26T07:00:00+08:00"), cst()),
            at("2026-11-27T07:00:00+08:00")
        );
    }

    #[test]
    fn holidays_and_make_up_days() {
        let calendar = WorkingCalendar::shipped();
        // National Day: Sep 30 (Wed) arrival is due after the Golden Week, on Oct 8.
        assert!(!calendar.is_working_day(day("2026-10-01")));
        assert_eq!(
            calendar.review_due(at("2026-09-30T11:00:00+08:00"), cst()),
            at("2026-10-08T11:00:00+08:00")
        );
        // A make-up Saturday is a working day, and counts.
        assert!(calendar.is_working_day(day("2026-10-10")));
        assert_eq!(
            calendar.review_due(at("2026-10-09T11:00:00+08:00"), cst()),
            at("2026-10-10T11:00:00+08:00")
        );
        // Arriving on a holiday: the clock starts on the next working day.
        assert_eq!(
            calendar.review_due(at("2026-10-03T20:00:00+08:00"), cst()),
            at("2026-10-09T00:00:00+08:00")
        );
        // Spring Festival with its make-up Saturday before it.
        assert!(calendar.is_working_day(day("2026-02-14")));
        assert_eq!(
            calendar.review_due(at("2026-02-13T15:00:00+08:00"), cst()),
            at("2026-02-14T15:00:00+08:00")
        );
        assert_eq!(
            calendar.review_due(at("2026-02-14T15:00:00+08:00"), cst()),
            at("2026-02-24T15:00:00+08:00")
        );
    }

    #[test]
    fn configured_calendar_replaces_the_shipped_one() {
        let calendar = WorkingCalendar::from_json(r#"{"holidays":["2026-11-26"],"makeUpWorkingDays":["2026-11-29"]}"#)
            .expect("json");
        assert_eq!(
            calendar.review_due(at("2026-11-25T10:00:00+08:00"), cst()),
            at("2026-11-27T10:00:00+08:00")
        );
        assert_eq!(
            calendar.review_due(at("2026-11-27T10:00:00+08:00"), cst()),
            at("2026-11-29T10:00:00+08:00")
        );
        assert!(WorkingCalendar::from_json("{\"holidays\": [\"not a date\"]}").is_err());
    }
}
