//! The electronic licence as issued: its serial, status, and live colour (R7, R8, R11).

use crate::kernel::caller::Actor;
use crate::kernel::Colour;
use crate::register::licence::{Licence, LicenceState, MAX_POINTS};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case", rename_all_fields = "camelCase")]
pub enum EdlStatus {
    Active,
    /// Replaced by a newer electronic licence, or made invalid by a change of
    /// classes, validity or issuing authority (R11).
    Superseded {
        at: DateTime<Utc>,
        reason: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        by_serial: Option<String>,
    },
    /// Stopped by the authority, e.g. after a malicious upload (R15).
    Stopped {
        at: DateTime<Utc>,
        reason: String,
        by: Actor,
    },
    /// Its validity (the paper licence's last day) ended; set by the scheduled job.
    Expired {
        at: DateTime<Utc>,
    },
}

/// One issued electronic licence. It lives as long as the paper licence and its status allow
/// (`valid_until`); the signed document it carries is short-lived and re-signed without the holder
/// doing anything (`document_*`, see `crate::issuance::document`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElectronicLicence {
    /// 28 digits: city code, issue date (yyMMdd), 16 random digits ([`SERIAL_DIGITS`]).
    pub serial: String,
    pub licence_number: String,
    pub holder_id: String,
    pub application_id: String,
    /// The document signer's key id (`kid`) that signed the current document.
    pub kid: String,
    pub issued_at: DateTime<Utc>,
    pub valid_from: DateTime<Utc>,
    /// The electronic licence's last second: the paper licence's last day, 23:59:59 local.
    pub valid_until: DateTime<Utc>,
    /// When the current signed document was signed (the MSO's `signed` and `validFrom`). A record
    /// written before documents had their own life reads as signed and ended at the epoch, so the
    /// holder's next `GET /licence` re-signs it.
    #[serde(default)]
    pub document_signed_at: DateTime<Utc>,
    /// The current signed document's end (the MSO's `validUntil`): weeks after signing, never after `valid_until`.
    #[serde(default)]
    pub document_valid_until: DateTime<Utc>,
    /// How many times the document was signed again since issuance.
    #[serde(default)]
    pub refreshes: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portrait_key: Option<String>,
    /// The current document: the ISO 18013-5 `IssuerSigned` CBOR, base64.
    pub issuer_signed: String,
    /// Where the current document's portrait lies in its `IssuerSigned` CBOR, at an offset that is a multiple
    /// of 3, so that the officer's disclosure cuts its base64 out of `issuer_signed` instead of decoding the
    /// document; none for a document signed before documents told it (those are decoded as before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub portrait_span: Option<crate::credential::mdoc::ByteSpan>,
    /// The current document's entry in a published status list (the MSO's `status`); none for a
    /// document signed before documents carried one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_entry: Option<super::status::StatusEntry>,
    /// Entries of documents a refresh replaced, published invalid until each replaced document ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub retired_entries: Vec<super::status::RetiredEntry>,
    /// The paper licence is held by a state flag of the register ([`Licence::is_held`]: detained, seized,
    /// announced stopped, cancelled, expired). The electronic licence stays active, so that lifting the hold
    /// reinstates it, and its status list entry reads suspended meanwhile.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub register_hold: bool,
    /// Set by the write that changes what the licence publishes (its status, its hold, its entries), cleared
    /// once the status list shards say so: while set, the licence waits in the sparse `issue` index under
    /// `STATUS#<shard>` and the status list job publishes it again (a flip that failed after the write is
    /// never lost). The time of the first change not yet published.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_to_publish: Option<DateTime<Utc>>,
    #[serde(flatten)]
    pub status: EdlStatus,
    pub version: u64,
}

impl ElectronicLicence {
    pub fn is_active(&self) -> bool {
        self.status == EdlStatus::Active
    }

    /// What its current document's status list entry reads: its status, and suspended while the register
    /// holds an active licence.
    pub fn published_status(&self) -> u8 {
        if self.is_active() && self.register_hold {
            crate::credential::status_list::SUSPENDED
        } else {
            super::status::published_status(&self.status)
        }
    }

    /// Marks the licence as having statuses to publish, in the same write that changes them. An earlier mark
    /// not yet cleared keeps its time, so that a licence that keeps changing is still published in turn.
    pub fn mark_status_to_publish(&mut self, at: DateTime<Utc>) {
        self.status_to_publish.get_or_insert(at);
    }

    /// Marks an active licence whose validity has ended as expired; false
    /// (and nothing changed) when it is still valid or no longer active.
    pub fn expire(&mut self, at: DateTime<Utc>) -> bool {
        if !self.is_active() || at <= self.valid_until {
            return false;
        }
        self.status = EdlStatus::Expired { at };
        true
    }
}

/// Why a licence shows red (R8), with stable codes.
pub fn red_reasons(licence: &Licence, today: NaiveDate) -> Vec<&'static str> {
    let mut reasons = Vec::new();
    if today > licence.valid_to || licence.states.contains(&LicenceState::Expired) {
        reasons.push("renewal-overdue");
    }
    if licence.states.contains(&LicenceState::ReviewOverdue) {
        reasons.push("review-overdue");
    }
    if licence.states.contains(&LicenceState::MedicalOverdue) {
        reasons.push("medical-examination-overdue");
    }
    if licence.points >= MAX_POINTS {
        reasons.push("twelve-points");
    }
    if licence.states.contains(&LicenceState::Detained) {
        reasons.push("detained");
    }
    if licence.states.contains(&LicenceState::Seized) {
        reasons.push("seized");
    }
    if licence.states.contains(&LicenceState::AnnouncedStopped) {
        reasons.push("announced-stopped");
    }
    if licence.states.contains(&LicenceState::Cancelled) {
        reasons.push("cancelled");
    }
    reasons
}

/// The live colour of the show code: green when the licence is in order.
pub fn colour(licence: &Licence, today: NaiveDate) -> Colour {
    if red_reasons(licence, today).is_empty() {
        Colour::Green
    } else {
        Colour::Red
    }
}

/// The random digits of a serial: 10^16 values (53.1 bits), so that a guessed serial of a known city and
/// day names a licence with odds of (licences that city issued that day) in 10^16.
pub const RANDOM_DIGITS: usize = 16;
/// A serial's length: the city (6), the day (6), the random digits.
pub const SERIAL_DIGITS: usize = 12 + RANDOM_DIGITS;
const RANDOM_RANGE: u64 = 10_000_000_000_000_000;

/// A fresh serial: the city, the day, and sixteen random digits from `random` (64 random bits; the modulo's
/// bias, under 2^64 mod 10^16 in 2^64, is below one part in a thousand).
pub fn new_serial(city_code: &str, issued_on: NaiveDate, random: u64) -> String {
    format!("{city_code}{}{:016}", issued_on.format("%y%m%d"), random % RANDOM_RANGE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn green_when_in_order_red_for_each_reason() {
        let mut licence = sample::showcase_licences()[0].clone();
        assert_eq!(colour(&licence, day("2026-11-25")), Colour::Green);
        licence.points = 12;
        assert_eq!(red_reasons(&licence, day("2026-11-25")), vec!["twelve-points"]);
        licence.points = 11;
        licence.states = vec![LicenceState::Seized, LicenceState::ReviewOverdue];
        assert_eq!(
            red_reasons(&licence, day("2026-11-25")),
            vec!["review-overdue", "seized"]
        );
        licence.states.clear();
        assert_eq!(red_reasons(&licence, day("2032-06-19")), vec!["renewal-overdue"]);
        assert_eq!(
            colour(&licence, day("2032-06-18")),
            Colour::Green,
            "valid through its last day"
        );
    }

    #[test]
    fn serials_are_twenty_eight_digits() {
        let serial = new_serial("110000", day("2026-11-25"), 1234);
        assert_eq!(serial, "1100002611250000000000001234");
        assert_eq!(serial.len(), SERIAL_DIGITS);
        assert_eq!(new_serial("110000", day("2026-11-25"), u64::MAX).len(), SERIAL_DIGITS);
    }

    #[test]
    fn a_record_from_before_documents_had_their_own_life_reads_as_ended() {
        let json = serde_json::json!({
            "serial": "11000026112500001234",
            "licenceNumber": "11010519900307451X",
            "holderId": "11010519900307451X",
            "applicationId": "app-1",
            "kid": "ds-1",
            "issuedAt": "2026-11-25T02:00:00Z",
            "validFrom": "2026-11-25T02:00:00Z",
            "validUntil": "2032-06-18T15:59:59Z",
            "issuerSigned": "",
            "status": "active",
            "version": 3,
        });
        let licence: ElectronicLicence = serde_json::from_value(json).expect("an older record");
        assert_eq!(licence.document_valid_until, DateTime::<Utc>::UNIX_EPOCH);
        assert_eq!(licence.refreshes, 0);
        let policy = crate::issuance::document::DocumentPolicy::default();
        assert!(policy.show_refresh_due(&licence, "2026-12-01T00:00:00Z".parse().expect("time")));
    }

    #[test]
    fn status_is_stored_flat() {
        let json = serde_json::to_value(EdlStatus::Superseded {
            at: "2026-11-25T00:00:00Z".parse().expect("time"),
            reason: "renewal".into(),
            by_serial: None,
        })
        .expect("json");
        assert_eq!(json["status"], "superseded");
        assert_eq!(json["reason"], "renewal");
        let json = serde_json::to_value(EdlStatus::Expired {
            at: "2026-11-26T00:00:00Z".parse().expect("time"),
        })
        .expect("json");
        assert_eq!(json["status"], "expired");
        assert_eq!(json["at"], "2026-11-26T00:00:00Z");
    }
}
