//! Go-live: the licence's cities and waves (R2) and the truck pass's cities (R13) open at a time an administrator sets.

use super::input::InvalidInput;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Whether something switched on by a go-live time is open at a given moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum Availability {
    Live { since: DateTime<Utc> },
    Scheduled { opens_at: DateTime<Utc> },
    NotScheduled,
}

impl Availability {
    /// Open since `go_live_at` once it has come; scheduled before; not scheduled without one.
    pub fn at(go_live_at: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Availability {
        match go_live_at {
            Some(at) if at <= now => Availability::Live { since: at },
            Some(at) => Availability::Scheduled { opens_at: at },
            None => Availability::NotScheduled,
        }
    }
}

/// A switch an administrator makes: a go-live time, or `None` to switch off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Switch {
    pub go_live_at: Option<DateTime<Utc>>,
}

/// `PUT /admin/rollout/...`, `PUT /admin/truck/rollout/...`: `"now"`, an RFC 3339 time, or null to switch off.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchRequest {
    pub go_live_at: Option<String>,
}

impl SwitchRequest {
    /// The switch this request asks for at `now`.
    pub fn switch(&self, now: DateTime<Utc>) -> Result<Switch, InvalidInput> {
        let go_live_at = match self.go_live_at.as_deref() {
            None => None,
            Some("now") => Some(now),
            Some(text) => Some(
                DateTime::parse_from_rfc3339(text)
                    .map_err(|_| {
                        InvalidInput::new(format!(
                            "goLiveAt must be \"now\", an RFC 3339 time such as 2026-12-01T00:00:00+08:00, or null; got {text:?}."
                        ))
                    })?
                    .with_timezone(&Utc),
            ),
        };
        Ok(Switch { go_live_at })
    }
}
