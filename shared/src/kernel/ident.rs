//! The shapes of the product's identifiers: a value outside its pattern is refused (400, naming the field) before
//! it is looked up or stored, so that `../../x` never becomes a key.

use super::input::InvalidInput;

/// A kind of identifier, each with one pattern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identifier {
    /// An administrative division code: six digits (`110000`).
    City,
    /// A rollout wave: 1–8 lowercase letters or digits (`1`, `2a`).
    Wave,
    /// A truck rollout batch: 1–3 digits.
    Batch,
    /// A restricted zone of a city, or a pass type: 1–32 lowercase letters, digits and inner hyphens (`ring-5`).
    Zone,
    /// A licence number: 6–32 letters or digits (a resident identity number is 18 of them).
    LicenceNumber,
    /// An application: a hyphenated UUID (`0193a5b0-0000-7000-8000-000000000001`).
    Application,
    /// A truck pass serial: `TP` and 20 digits.
    PassSerial,
    /// A page of the licence: `front` or `back`, a dot and a lowercase format (`front.png`).
    Page,
    /// A published status list: 1–10 digits (`0`..`127`).
    StatusList,
    /// A large import's job: 32 lowercase hex digits.
    ImportJob,
}

impl Identifier {
    /// The pattern in words, for the problem that refuses a value.
    pub fn pattern(self) -> &'static str {
        match self {
            Identifier::City => "six digits, e.g. 110000",
            Identifier::Wave => "1 to 8 lowercase letters or digits, e.g. 2a",
            Identifier::Batch => "1 to 3 digits",
            Identifier::Zone => "1 to 32 lowercase letters, digits and inner hyphens, e.g. ring-5",
            Identifier::LicenceNumber => "6 to 32 letters or digits",
            Identifier::Application => "a UUID such as 0193a5b0-0000-7000-8000-000000000001",
            Identifier::PassSerial => "TP followed by 20 digits",
            Identifier::Page => "a page name and format such as front.png",
            Identifier::StatusList => "1 to 10 digits, e.g. 7",
            Identifier::ImportJob => "32 lowercase hexadecimal digits",
        }
    }

    /// Whether `value` has this identifier's shape.
    pub fn accepts(self, value: &str) -> bool {
        let digits =
            |v: &str, min: usize, max: usize| (min..=max).contains(&v.len()) && v.bytes().all(|b| b.is_ascii_digit());
        let lower = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
        match self {
            Identifier::City => digits(value, 6, 6),
            Identifier::Wave => (1..=8).contains(&value.len()) && value.bytes().all(lower),
            Identifier::Batch => digits(value, 1, 3),
            Identifier::Zone => {
                (1..=32).contains(&value.len())
                    && value.bytes().all(|b| lower(b) || b == b'-')
                    && !value.starts_with('-')
                    && !value.ends_with('-')
                    && !value.contains("--")
            }
            Identifier::LicenceNumber => {
                (6..=32).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_alphanumeric())
            }
            Identifier::Application => value.len() == 36 && uuid::Uuid::try_parse(value).is_ok(),
            Identifier::PassSerial => value.strip_prefix("TP").is_some_and(|rest| digits(rest, 20, 20)),
            Identifier::Page => value.split_once('.').is_some_and(|(side, format)| {
                (1..=16).contains(&side.len())
                    && side.bytes().all(|b| b.is_ascii_lowercase())
                    && (1..=8).contains(&format.len())
                    && format.bytes().all(lower)
            }),
            Identifier::StatusList => digits(value, 1, 10),
            Identifier::ImportJob => {
                value.len() == 32 && value.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
            }
        }
    }

    /// `value` when it has this identifier's shape; else a refusal naming `field` and quoting a short prefix.
    pub fn check<'v>(self, field: &str, value: &'v str) -> Result<&'v str, InvalidInput> {
        if self.accepts(value) {
            Ok(value)
        } else {
            Err(InvalidInput::field(
                format!("{field} {} is not {}.", crate::problem::quote(value), self.pattern()),
                field,
                format!("must be {}", self.pattern()),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Identifier::*;

    #[test]
    fn each_identifier_has_one_shape() {
        assert!(City.accepts("110000") && !City.accepts("11000") && !City.accepts("../../x"));
        assert!(Wave.accepts("2a") && !Wave.accepts("2A") && !Wave.accepts(""));
        assert!(Zone.accepts("ring-5") && !Zone.accepts("../../x") && !Zone.accepts("-a") && !Zone.accepts("a--b"));
        assert!(LicenceNumber.accepts("11010519900307451X") && !LicenceNumber.accepts("1101/0519"));
        assert!(Application.accepts("0193a5b0-0000-7000-8000-000000000001"));
        assert!(!Application.accepts("0193a5b000007000800000000000000100000"));
        assert!(PassSerial.accepts("TP11000026112583920417") && !PassSerial.accepts("TP1100002611258392041"));
        assert!(Page.accepts("front.png") && Page.accepts("side.gif") && !Page.accepts("front"));
        assert!(Batch.accepts("2") && !Batch.accepts("2x"));
        assert!(StatusList.accepts("7") && StatusList.accepts("127") && !StatusList.accepts("-1"));
        assert!(!StatusList.accepts("x") && !StatusList.accepts("12345678901"));
        let refused = City.check("city", "张").expect_err("refused");
        assert_eq!(refused.errors[0].field, "city");
    }
}
