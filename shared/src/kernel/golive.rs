//! Go-live: the licence's cities and waves (R2) and the truck pass's cities (R13) open at a time an administrator sets.

use chrono::{DateTime, Utc};
use serde::Serialize;

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
