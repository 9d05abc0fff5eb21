//! RFC 9457 problem details: the one shape every error leaves the API in.

use serde::Serialize;
use serde_json::{Map, Value};

pub const CONTENT_TYPE: &str = "application/problem+json";

/// A problem document. `type` is stable per failure (`urn:edl:problem:<slug>`);
/// `detail` is for people; extension members carry what programs need.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    #[serde(flatten)]
    pub extensions: Map<String, Value>,
}

impl Problem {
    pub fn new(status: u16, slug: &str, title: &str, detail: impl Into<String>) -> Problem {
        Problem {
            kind: format!("urn:edl:problem:{slug}"),
            title: title.into(),
            status,
            detail: detail.into(),
            extensions: Map::new(),
        }
    }

    pub fn with(mut self, key: &str, value: impl Serialize) -> Problem {
        if let Ok(value) = serde_json::to_value(value) {
            self.extensions.insert(key.into(), value);
        }
        self
    }

    pub fn slug(&self) -> &str {
        self.kind.trim_start_matches("urn:edl:problem:")
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| {
            format!(
                "{{\"type\":\"{}\",\"status\":{},\"title\":\"problem\"}}",
                self.kind, self.status
            )
        })
    }
}
