//! RFC 9457 problem details: the one shape every error leaves the API in.

use serde::Serialize;
use serde_json::{Map, Value};

pub const CONTENT_TYPE: &str = "application/problem+json";

/// How much of a refused value a problem quotes: enough to recognise it, never the value itself when it is large
/// (a 4 MB bad import must not come back as a 4 MB problem).
pub const QUOTED_CHARS: usize = 64;

/// The longest `detail` a problem carries, whatever went into it (a parser's message can embed what it read).
pub const MAX_DETAIL: usize = 512;

/// At most `max` characters of `text`, cut on a character boundary and marked with "…" when cut.
pub fn shorten(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

/// A refused value as a problem quotes it: in quotes, escaped, and at most [`QUOTED_CHARS`] characters of it.
pub fn quote(value: &str) -> String {
    match value.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{:?}…", &value[..cut]),
        None => format!("{value:?}"),
    }
}

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
            detail: shorten(&detail.into(), MAX_DETAIL),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn problems_quote_a_short_prefix_cut_on_a_character_boundary() {
        assert_eq!(quote("110000"), "\"110000\"");
        let long = "张".repeat(1000);
        let quoted = quote(&long);
        assert_eq!(quoted, format!("{:?}…", "张".repeat(QUOTED_CHARS)));
        assert_eq!(shorten("abc", 2), "ab…");
        assert_eq!(shorten("ab", 2), "ab");
        let problem = Problem::new(400, "invalid-request", "Invalid request", "x".repeat(5_000_000));
        assert!(problem.to_json().len() < 2 * MAX_DETAIL);
    }
}
