//! Complaints about input: what an administrator's record or change got wrong, field by field.

/// Why a field of an imported or changed record is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}
