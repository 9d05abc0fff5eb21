//! The authority's local time (UTC+08:00) and the clock: licence and pass days are local days.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone, Utc};

/// China Standard Time. China has one time zone and no daylight saving, so
/// a fixed offset is exact for every date the product handles.
pub fn local_offset() -> FixedOffset {
    FixedOffset::east_opt(8 * 3600).unwrap_or_else(|| chrono::Offset::fix(&Utc))
}

/// The local date of an instant (before 08:00 in Beijing it is still yesterday in UTC).
pub fn local_date(at: DateTime<Utc>) -> NaiveDate {
    at.with_timezone(&local_offset()).date_naive()
}

/// The instant of a local date and time of day.
pub fn local_instant(day: NaiveDate, time: NaiveTime) -> DateTime<Utc> {
    let local = day.and_time(time);
    local_offset()
        .from_local_datetime(&local)
        .single()
        .map(|t| t.with_timezone(&Utc))
        // A fixed offset maps every local time exactly once; this is unreachable.
        .unwrap_or_else(|| local.and_utc() - chrono::Duration::hours(8))
}

/// Where time comes from: the machine's clock in production, a clock the test sets in tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The machine's clock.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_day_begins_at_sixteen_utc_the_day_before() {
        let day: NaiveDate = "2026-11-26".parse().expect("date");
        let at: DateTime<Utc> = "2026-11-25T16:00:00Z".parse().expect("time");
        assert_eq!(local_instant(day, NaiveTime::MIN), at);
        assert_eq!(local_date(at), day);
    }
}
