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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct InputError {
    #[serde(skip_serializing_if = "Option::is_none")]
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

impl JsonLinesImport {
    pub fn parse<T: DeserializeOwned>(
        &self,
        body: &str,
        key: impl Fn(&T) -> String,
        problems: impl Fn(&mut T) -> Vec<FieldError>,
    ) -> Result<Vec<T>, InvalidInput> {
        let what = self.what;
        let mut records = Vec::new();
        let mut errors = Vec::new();
        let mut seen = HashSet::new();
        for (index, line) in body.lines().enumerate() {
            let line_no = index + 1;
            if line.trim().is_empty() {
                continue;
            }
            if records.len() + errors.len() >= self.max_lines {
                return Err(InvalidInput::new(format!(
                    "An import holds at most {} {what}s; split the file.",
                    self.max_lines
                )));
            }
            match serde_json::from_str::<T>(line) {
                Ok(mut record) => {
                    let found = problems(&mut record);
                    let key = key(&record);
                    if !seen.insert(key.clone()) {
                        errors.push(InputError {
                            line: Some(line_no),
                            field: self.key_field.into(),
                            message: format!("{what} {key} appears twice in this import"),
                        });
                    }
                    if found.is_empty() {
                        records.push(record);
                    } else {
                        errors.extend(found.into_iter().map(|p| InputError {
                            line: Some(line_no),
                            ..p.into()
                        }));
                    }
                }
                Err(e) => errors.push(InputError {
                    line: Some(line_no),
                    field: "(line)".into(),
                    message: format!("not a {what} record: {e}"),
                }),
            }
        }
        if !errors.is_empty() {
            let lines: HashSet<_> = errors.iter().filter_map(|e| e.line).collect();
            errors.truncate(100);
            return Err(InvalidInput {
                detail: format!(
                    "{} line(s) are not valid {what} records; nothing was imported.",
                    lines.len()
                ),
                errors,
            });
        }
        if records.is_empty() {
            return Err(InvalidInput::new(format!("The import holds no {what} records.")));
        }
        Ok(records)
    }
}
