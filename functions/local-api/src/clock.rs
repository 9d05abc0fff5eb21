//! The local server's movable clock (development only, never in a Lambda): `POST /_dev/clock` moves
//! "now" for every use case, so that a person can watch licences live through refreshes, signer
//! rotations and expiry.

use chrono::{DateTime, Duration, Utc};
use shared::kernel::time::Clock;
use std::sync::Mutex;

/// The machine's clock, moved by an offset the developer sets.
#[derive(Default)]
pub struct DevClock {
    offset: Mutex<Duration>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ClockError {
    #[error("advance {0:?} is not a duration such as \"400d\", \"2w\" or \"36h\": {1}")]
    BadDuration(String, String),
    #[error("set {0:?} is not an RFC 3339 time such as \"2029-01-01T09:00:00+08:00\"")]
    BadTime(String),
    #[error("the duration is too large")]
    TooLarge,
}

impl DevClock {
    /// How far the clock is ahead of the machine's (negative when set into the past).
    pub fn offset(&self) -> Duration {
        self.offset.lock().map(|o| *o).unwrap_or_else(|_| Duration::zero())
    }

    /// Moves the clock forward by a duration in humantime's notation (`400d`, `2w 3d`, `36h`).
    pub fn advance(&self, text: &str) -> Result<DateTime<Utc>, ClockError> {
        let by =
            humantime::parse_duration(text.trim()).map_err(|e| ClockError::BadDuration(text.into(), e.to_string()))?;
        let by = Duration::from_std(by).map_err(|_| ClockError::TooLarge)?;
        let mut offset = self.offset.lock().map_err(|_| ClockError::TooLarge)?;
        *offset = offset.checked_add(&by).ok_or(ClockError::TooLarge)?;
        drop(offset);
        Ok(self.now())
    }

    /// Sets the clock to an instant.
    pub fn set(&self, text: &str) -> Result<DateTime<Utc>, ClockError> {
        let to = DateTime::parse_from_rfc3339(text.trim()).map_err(|_| ClockError::BadTime(text.into()))?;
        let mut offset = self.offset.lock().map_err(|_| ClockError::TooLarge)?;
        *offset = to.with_timezone(&Utc) - Utc::now();
        drop(offset);
        Ok(self.now())
    }
}

impl Clock for DevClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + self.offset()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advances_and_sets() {
        let clock = DevClock::default();
        let before = Utc::now();
        let moved = clock.advance("400d").expect("advance");
        assert!(moved - before >= Duration::days(400) && moved - before < Duration::days(400) + Duration::minutes(1));
        clock.advance("2w").expect("weeks");
        assert!(clock.offset() >= Duration::days(414));
        let set = clock.set("2030-01-01T09:00:00+08:00").expect("set");
        assert!(
            (set - "2030-01-01T01:00:00Z".parse::<DateTime<Utc>>().expect("time"))
                .num_seconds()
                .abs()
                < 5
        );
        assert!(matches!(clock.advance("soon"), Err(ClockError::BadDuration(..))));
        assert_eq!(clock.set("tomorrow"), Err(ClockError::BadTime("tomorrow".into())));
    }
}
