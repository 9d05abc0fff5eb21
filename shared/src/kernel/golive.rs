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
/// `goLiveAt` is required: switching off is an explicit `null`, never an empty body (`{}` once switched a wave off).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SwitchRequest {
    #[serde(deserialize_with = "present_or_null")]
    pub go_live_at: Option<String>,
}

/// A field that must be present, and may be `null`: with `deserialize_with`, serde no longer reads a missing
/// `Option` as `None` but refuses it ("missing field").
fn present_or_null<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer)
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
                            "goLiveAt must be \"now\", an RFC 3339 time such as 2026-12-01T00:00:00+08:00, or null; got {}.",
                            crate::problem::quote(text)
                        ))
                    })?
                    .with_timezone(&Utc),
            ),
        };
        Ok(Switch { go_live_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_off_is_an_explicit_null() {
        let off: SwitchRequest = serde_json::from_str(r#"{"goLiveAt":null}"#).expect("null switches off");
        assert_eq!(off.go_live_at, None);
        let missing = serde_json::from_str::<SwitchRequest>("{}").expect_err("goLiveAt is required");
        assert!(missing.to_string().contains("missing field `goLiveAt`"), "{missing}");
    }
}
