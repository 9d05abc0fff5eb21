//! Complaints about input, field by field and line by line, and the JSON Lines import of register records.

use serde::de::DeserializeOwned;
use serde::Serialize;
use std::collections::HashSet;

/// Why a field of an imported or changed record is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

/// A field-level complaint about input, with where it was found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct InputError {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    pub field: String,
    pub message: String,
}

impl From<FieldError> for InputError {
    fn from(e: FieldError) -> Self {
        InputError {
            line: None,
            field: e.field.into(),
            message: e.message,
        }
    }
}

/// A request refused for what it carries: what was wrong, and each field's complaint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{detail}")]
pub struct InvalidInput {
    pub detail: String,
    pub errors: Vec<InputError>,
}

impl InvalidInput {
    pub fn new(detail: impl Into<String>) -> InvalidInput {
        InvalidInput {
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// Refused for one field.
    pub fn field(detail: impl Into<String>, field: &str, message: impl Into<String>) -> InvalidInput {
        InvalidInput {
            detail: detail.into(),
            errors: vec![InputError {
                line: None,
                field: field.into(),
                message: message.into(),
            }],
        }
    }
}

/// How many records an import took.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportReport {
    pub imported: usize,
}

/// An import of register records as JSON Lines: every line parsed and
/// checked, every error reported with its line, nothing kept when one is wrong.
pub struct JsonLinesImport {
    /// The record's name, singular (`licence`, `vehicle`).
    pub what: &'static str,
    pub max_lines: usize,
    /// The field that must be unique within one import.
    pub key_field: &'static str,
}

/// Each line of a piece of JSON Lines: the records that parsed and passed their checks, with their line
/// numbers, and every complaint about the others.
#[derive(Debug)]
pub struct ParsedLines<T> {
    pub records: Vec<(usize, T)>,
    pub errors: Vec<InputError>,
}

impl<T> ParsedLines<T> {
    /// How many distinct lines were refused.
    pub fn refused_lines(&self) -> usize {
        self.errors.iter().filter_map(|e| e.line).collect::<HashSet<_>>().len()
    }
}

impl JsonLinesImport {
    /// Every non-blank line of `body`, numbered from `first_line`: parsed, checked by `problems`, and its key
    /// checked unique within `body`. A refused line never reaches `records`, so an importer writes only whole
    /// lines that passed.
    pub fn parse_lines<T: DeserializeOwned>(
        &self,
        body: &str,
        first_line: usize,
        key: impl Fn(&T) -> String,
        problems: impl Fn(&mut T) -> Vec<FieldError>,
    ) -> ParsedLines<T> {
        let what = self.what;
        let mut parsed = ParsedLines {
            records: Vec::new(),
            errors: Vec::new(),
        };
        let mut seen = HashSet::new();
        for (index, line) in body.lines().enumerate() {
            let line_no = first_line + index;
            if line.trim().is_empty() {
                continue;
            }
            match serde_json::from_str::<T>(line) {
                Ok(mut record) => {
                    let found = problems(&mut record);
                    let key = key(&record);
                    let repeated = !seen.insert(key.clone());
                    if repeated {
                        parsed.errors.push(InputError {
                            line: Some(line_no),
                            field: self.key_field.into(),
                            message: format!("{what} {key} appears twice in this import"),
                        });
                    }
                    if !found.is_empty() {
                        parsed.errors.extend(found.into_iter().map(|p| InputError {
                            line: Some(line_no),
                            ..p.into()
                        }));
                    } else if !repeated {
                        parsed.records.push((line_no, record));
                    }
                }
                Err(e) => parsed.errors.push(InputError {
                    line: Some(line_no),
                    field: "(line)".into(),
                    message: format!("not a {what} record: {e}"),
                }),
            }
        }
        parsed
    }

    /// The synchronous import: all lines or none, at most `max_lines` of them.
    pub fn parse<T: DeserializeOwned>(
        &self,
        body: &str,
        key: impl Fn(&T) -> String,
        problems: impl Fn(&mut T) -> Vec<FieldError>,
    ) -> Result<Vec<T>, InvalidInput> {
        let what = self.what;
        let lines = body.lines().filter(|line| !line.trim().is_empty()).count();
        if lines > self.max_lines {
            return Err(InvalidInput::new(format!(
                "An import holds at most {} {what}s; split the file.",
                self.max_lines
            )));
        }
        let mut parsed = self.parse_lines(body, 1, key, problems);
        if !parsed.errors.is_empty() {
            let refused = parsed.refused_lines();
            parsed.errors.truncate(100);
            return Err(InvalidInput {
                detail: format!("{refused} line(s) are not valid {what} records; nothing was imported."),
                errors: parsed.errors,
            });
        }
        if parsed.records.is_empty() {
            return Err(InvalidInput::new(format!("The import holds no {what} records.")));
        }
        Ok(parsed.records.into_iter().map(|(_, record)| record).collect())
    }
}
