//! The check log's record of a licence verification (R15): who checked, in which role, why, when, with what result.

use crate::kernel::caller::Role;
use crate::kernel::check_log::LoggedCheck;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One verification, as the audit trail keeps it (R15): who, role, purpose, when, which licence, result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckRecord {
    pub id: String,
    pub at: DateTime<Utc>,
    pub verifier_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    pub role: Role,
    pub purpose: String,
    /// `code`, `barcode`, `mdoc` or `device` (a device-bound presentation).
    pub method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_id: Option<String>,
    pub valid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl LoggedCheck for CheckRecord {
    const LOG: &'static str = "CHECKS";
    const KIND: &'static str = "check";

    fn id(&self) -> &str {
        &self.id
    }

    fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Under the holder when the licence is known.
    fn filed_under(&self) -> Option<&str> {
        self.holder_id.as_deref()
    }
}
