//! Lists that grow with one key (a vehicle's, an owner's, a fleet's truck passes), read a bounded page at a time,
//! newest first, resumed from an opaque cursor: no list endpoint reads a partition whole.

use super::input::InvalidInput;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, SecondsFormat, Utc};

pub const DEFAULT_LIST_PAGE: usize = 20;
pub const MAX_LIST_PAGE: usize = 100;
/// The longest id a cursor may name (pass serials are far shorter).
const MAX_CURSOR_ID: usize = 64;

/// Where a page ended: the time and id of its last (oldest) item. The next page holds what sorts after it in the
/// newest-first order, i.e. `(at, id)` strictly below.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPosition {
    pub at: DateTime<Utc>,
    pub id: String,
}

impl ListPosition {
    /// The cursor a client sends back: opaque (base64url of the time and id), not to be built by hand.
    pub fn cursor(&self) -> String {
        let text = format!("{}|{}", self.at.to_rfc3339_opts(SecondsFormat::Micros, true), self.id);
        URL_SAFE_NO_PAD.encode(text)
    }

    /// The position a cursor names; anything this service did not write (or changed) is refused.
    pub fn from_cursor(cursor: &str) -> Result<ListPosition, InvalidInput> {
        let invalid = || InvalidInput::new("cursor is not one this service gave: use the next of the previous page.");
        let bytes = URL_SAFE_NO_PAD.decode(cursor.trim()).map_err(|_| invalid())?;
        let text = String::from_utf8(bytes).map_err(|_| invalid())?;
        let (at, id) = text.split_once('|').ok_or_else(invalid)?;
        let at = DateTime::parse_from_rfc3339(at)
            .map_err(|_| invalid())?
            .with_timezone(&Utc);
        let id_is_valid = !id.is_empty()
            && id.len() <= MAX_CURSOR_ID
            && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !id_is_valid {
            return Err(invalid());
        }
        Ok(ListPosition { at, id: id.into() })
    }

    /// Whether an item at `(at, id)` comes after this position in newest-first order.
    pub fn precedes(&self, at: DateTime<Utc>, id: &str) -> bool {
        (at, id) < (self.at, self.id.as_str())
    }
}

/// A caller's request for a page: `?limit=&cursor=`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    pub limit: Option<usize>,
    pub cursor: Option<String>,
}

impl ListRequest {
    /// The page to read, its size and cursor checked.
    pub fn query(&self) -> Result<ListQuery, InvalidInput> {
        let limit = self.limit.unwrap_or(DEFAULT_LIST_PAGE);
        if !(1..=MAX_LIST_PAGE).contains(&limit) {
            return Err(InvalidInput::new(format!("limit must be 1 to {MAX_LIST_PAGE}.")));
        }
        let after = self.cursor.as_deref().map(ListPosition::from_cursor).transpose()?;
        Ok(ListQuery { limit, after })
    }
}

/// What a store reads: at most `limit` items, newest first, after `after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListQuery {
    pub limit: usize,
    pub after: Option<ListPosition>,
}

impl ListQuery {
    /// The same page with one more item: a store read of `limit + 1` says whether another page follows.
    pub fn with_one_more(&self) -> ListQuery {
        ListQuery {
            limit: self.limit + 1,
            after: self.after.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_names_its_position_and_nothing_else_passes() {
        let at: DateTime<Utc> = "2026-12-05T03:00:00.123456Z".parse().expect("time");
        let position = ListPosition {
            at,
            id: "TP-110000-ABC".into(),
        };
        assert_eq!(ListPosition::from_cursor(&position.cursor()), Ok(position.clone()));
        for forged in [
            "",
            "not base64!",
            "bm9waXBl",
            &URL_SAFE_NO_PAD.encode("2026-12-05T03:00:00Z|a b"),
        ] {
            assert!(ListPosition::from_cursor(forged).is_err(), "{forged}");
        }
        assert!(position.precedes(at, "TP-110000-ABB"));
        assert!(!position.precedes(at, "TP-110000-ABC"));
        assert!(!position.precedes(at + chrono::Duration::seconds(1), "A"));
    }

    #[test]
    fn the_limit_is_bounded() {
        let request = |limit| ListRequest { limit, cursor: None };
        assert_eq!(request(None).query().map(|q| q.limit), Ok(DEFAULT_LIST_PAGE));
        assert!(request(Some(0)).query().is_err());
        assert!(request(Some(MAX_LIST_PAGE + 1)).query().is_err());
        assert_eq!(request(Some(MAX_LIST_PAGE)).query().map(|q| q.limit), Ok(MAX_LIST_PAGE));
    }
}
