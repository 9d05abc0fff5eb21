//! The truck pass and its life (R13): opened from a request, reviewed, active, revoked, withdrawn or
//! expired; its terms fixed as issued; and the record of each check of it.

use super::clock::TimeWindow;
use super::request::{refusal, refusals, PassRequest, PassSummary, Refusal};
use super::rules::CityTruckRules;
use super::vehicle::{EmissionStandard, VehicleType};
use crate::kernel::caller::Actor;
use crate::kernel::check_log::LoggedCheck;
use crate::kernel::time::local_instant;
use chrono::{DateTime, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// How long a pass's copies listed under its vehicle, owner and fleet are kept after its last day: what bounds
/// those lists (and the vehicle's overlap check) per key.
pub const PASS_COPY_RETENTION_DAYS: i64 = 366;

/// Where a pass is in its life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum PassStatus {
    PendingReview,
    Active,
    Rejected {
        at: DateTime<Utc>,
        reason: String,
        by: Actor,
    },
    Revoked {
        at: DateTime<Utc>,
        reason: String,
        by: Actor,
    },
    /// The owner or the fleet's manager gave the pass up (or withdrew the application).
    Withdrawn {
        at: DateTime<Utc>,
        by: Actor,
    },
    Expired {
        at: DateTime<Utc>,
    },
}

impl PassStatus {
    pub fn code(&self) -> &'static str {
        match self {
            Self::PendingReview => "pending_review",
            Self::Active => "active",
            Self::Rejected { .. } => "rejected",
            Self::Revoked { .. } => "revoked",
            Self::Withdrawn { .. } => "withdrawn",
            Self::Expired { .. } => "expired",
        }
    }

    /// Pending and active passes hold their dates: they count against overlap.
    pub fn is_live(&self) -> bool {
        matches!(self, Self::PendingReview | Self::Active)
    }
}

impl fmt::Display for PassStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code().replace('_', " ").as_str())
    }
}

/// One recorded step of a pass; `by` is `None` for the scheduled job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassEvent {
    pub at: DateTime<Utc>,
    pub action: String,
    pub by: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// A city-access pass. Its terms (zones, dates, windows) are fixed when it
/// is made and `rules_version` records the rules they were granted under:
/// a city changing its rules later does not change passes already issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TruckPass {
    pub id: String,
    pub serial: String,
    pub plate: String,
    pub vehicle_type: VehicleType,
    pub emission: EmissionStandard,
    pub city: String,
    pub pass_type: String,
    pub zones: Vec<String>,
    pub valid_from: NaiveDate,
    /// Inclusive.
    pub valid_to: NaiveDate,
    pub windows: Vec<TimeWindow>,
    pub owner_id: String,
    #[serde(default)]
    pub fleet_id: Option<String>,
    pub rules_version: u64,
    pub status: PassStatus,
    /// When the pass became active (at once for an automatic type, on approval otherwise).
    pub issued_at: Option<DateTime<Utc>>,
    /// While pending: when staff should have decided (one working day, as for photos).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_due_at: Option<DateTime<Utc>>,
    /// The signed credential (an mdoc `IssuerSigned`, base64) once the pass is active.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub history: Vec<PassEvent>,
    /// Optimistic-locking version; every stored change increments it.
    pub version: u64,
}

/// The identifiers and the actor of a new pass, chosen by the caller.
#[derive(Debug, Clone)]
pub struct PassOpening {
    pub id: String,
    pub serial: String,
    /// The driver or fleet manager applying.
    pub by: Actor,
    pub at: DateTime<Utc>,
}

/// An action the pass's life does not allow from where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Cannot {action} a pass that is {from}.")]
pub struct IllegalPassTransition {
    pub action: &'static str,
    pub from: &'static str,
}

impl TruckPass {
    /// Checks the request and makes the pass: active at once for a type
    /// without review, pending review otherwise. Refused with every reason.
    pub fn open(
        rules: &CityTruckRules,
        request: &PassRequest,
        existing: &[PassSummary],
        opening: PassOpening,
    ) -> Result<TruckPass, Vec<Refusal>> {
        let reasons = refusals(rules, request, existing, opening.at);
        if !reasons.is_empty() {
            return Err(reasons);
        }
        let Some(pass_type) = rules.pass_type(&request.pass_type) else {
            // refusals() reports an unknown type; kept so this cannot issue without one.
            return Err(vec![refusal(
                "unknown-pass-type",
                format!("No pass type {:?}.", request.pass_type),
            )]);
        };
        let mut seen = BTreeSet::new();
        let zones: Vec<String> = request
            .zones
            .iter()
            .filter(|z| seen.insert(z.as_str()))
            .cloned()
            .collect();
        let mut history = vec![PassEvent {
            at: opening.at,
            action: "applied".into(),
            by: Some(opening.by.clone()),
            detail: Some(format!("{} under rules version {}", pass_type.id, rules.rules_version)),
        }];
        let (status, issued_at) = if pass_type.needs_review {
            (PassStatus::PendingReview, None)
        } else {
            history.push(PassEvent {
                at: opening.at,
                action: "issued".into(),
                by: None,
                detail: Some("pass type issued without review".into()),
            });
            (PassStatus::Active, Some(opening.at))
        };
        Ok(TruckPass {
            id: opening.id,
            serial: opening.serial,
            plate: request.plate.clone(),
            vehicle_type: request.vehicle_type,
            emission: request.emission,
            city: request.city.clone(),
            pass_type: pass_type.id.clone(),
            zones,
            valid_from: request.valid_from,
            valid_to: request.valid_to,
            windows: request.windows.clone(),
            owner_id: request.owner_id.clone(),
            fleet_id: request.fleet_id.clone(),
            rules_version: rules.rules_version,
            status,
            issued_at,
            review_due_at: None,
            document: None,
            created_at: opening.at,
            history,
            version: 1,
        })
    }

    /// When the pass's copies under its vehicle, owner and fleet may be removed (by the store's TTL): a year after
    /// its last day, when it no longer overlaps an application nor interests its owner's list. The pass itself
    /// stays, readable by its serial.
    pub fn copies_expire_at(&self) -> DateTime<Utc> {
        self.ends_at() + chrono::Duration::days(PASS_COPY_RETENTION_DAYS)
    }

    /// The moment the pass's last day ends (local midnight after `valid_to`).
    pub fn ends_at(&self) -> DateTime<Utc> {
        let next_day = self.valid_to.succ_opt().unwrap_or(self.valid_to);
        local_instant(next_day, NaiveTime::MIN)
    }

    fn require(&self, action: &'static str, allowed: &[&str]) -> Result<(), IllegalPassTransition> {
        if allowed.contains(&self.status.code()) {
            Ok(())
        } else {
            Err(self.illegal(action))
        }
    }

    fn illegal(&self, action: &'static str) -> IllegalPassTransition {
        IllegalPassTransition {
            action,
            from: self.status.code(),
        }
    }

    fn record(&mut self, at: DateTime<Utc>, action: &str, by: Option<&Actor>, detail: Option<String>) {
        self.history.push(PassEvent {
            at,
            action: action.into(),
            by: by.cloned(),
            detail,
        });
    }

    /// A reviewer approves a pending pass: it becomes active. A pass whose
    /// last day has passed cannot be approved any more; the job expires it.
    pub fn approve(&mut self, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("approve", &["pending_review"])?;
        if at >= self.ends_at() {
            return Err(self.illegal("approve (its last day has passed)"));
        }
        self.status = PassStatus::Active;
        self.issued_at = Some(at);
        self.review_due_at = None;
        self.record(at, "approved", Some(by), None);
        Ok(())
    }

    /// A reviewer rejects a pending pass, saying why.
    pub fn reject(&mut self, reason: &str, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("reject", &["pending_review"])?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(self.illegal("reject without a reason"));
        }
        self.review_due_at = None;
        self.status = PassStatus::Rejected {
            at,
            reason: reason.to_string(),
            by: by.clone(),
        };
        self.record(at, "rejected", Some(by), Some(reason.to_string()));
        Ok(())
    }

    /// An administrator revokes an active pass, saying why. A pending one is
    /// rejected instead.
    pub fn revoke(&mut self, reason: &str, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("revoke", &["active"])?;
        let reason = reason.trim();
        if reason.is_empty() {
            return Err(self.illegal("revoke without a reason"));
        }
        self.status = PassStatus::Revoked {
            at,
            reason: reason.to_string(),
            by: by.clone(),
        };
        self.record(at, "revoked", Some(by), Some(reason.to_string()));
        Ok(())
    }

    /// The owner or the fleet's manager gives up a pending or active pass,
    /// which frees its dates for another.
    pub fn withdraw(&mut self, by: &Actor, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("withdraw", &["pending_review", "active"])?;
        self.status = PassStatus::Withdrawn { at, by: by.clone() };
        self.review_due_at = None;
        self.record(at, "withdrawn", Some(by), None);
        Ok(())
    }

    /// The scheduled job expires a pass once its last day has ended; a
    /// pending one never reviewed in time is expired too, freeing its dates.
    pub fn expire(&mut self, at: DateTime<Utc>) -> Result<(), IllegalPassTransition> {
        self.require("expire", &["pending_review", "active"])?;
        if at < self.ends_at() {
            return Err(self.illegal("expire before its last day has ended"));
        }
        self.review_due_at = None;
        self.status = PassStatus::Expired { at };
        self.record(at, "expired", None, None);
        Ok(())
    }
}

/// One verification of a pass by an officer (R9, R15), kept under the pass
/// so its owner and fleet see who checked it, where and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PassCheck {
    pub id: String,
    pub at: DateTime<Utc>,
    pub verifier_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
    /// `code` or `mdoc`.
    pub method: String,
    /// The pass the credential named, when it could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial: Option<String>,
    pub zone: String,
    /// The moment asked about (now, unless the officer named another).
    pub moment: DateTime<Utc>,
    /// The credential verified and the pass is live.
    pub valid: bool,
    /// The truck may be in the zone at that moment.
    pub allowed: bool,
    pub reason: String,
}

impl LoggedCheck for PassCheck {
    const LOG: &'static str = "PASSCHECKS";
    const KIND: &'static str = "pass-check";

    fn id(&self) -> &str {
        &self.id
    }

    fn at(&self) -> DateTime<Utc> {
        self.at
    }

    /// Under the serial its verified credential named; the caller sets
    /// `serial` only then.
    fn filed_under(&self) -> Option<&str> {
        self.serial.as_deref()
    }
}
