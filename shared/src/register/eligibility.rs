//! Whether a paper licence may have an electronic licence (R1), with every reason it may not.

use super::licence::{Licence, LicenceState};
use chrono::NaiveDate;
use serde::Serialize;

/// One reason a licence is refused; `code` is stable and meant for programs,
/// `message` is meant for the applicant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Refusal {
    pub code: &'static str,
    pub message: &'static str,
}

impl Refusal {
    const NOT_YET_VALID: Refusal = Refusal {
        code: "licence-not-yet-valid",
        message: "The licence's validity period has not begun yet.",
    };
    const VALIDITY_ENDED: Refusal = Refusal {
        code: "licence-validity-ended",
        message: "The licence is past its validity period; renew it first.",
    };

    fn for_state(state: LicenceState) -> Refusal {
        match state {
            LicenceState::Detained => Refusal {
                code: "licence-detained",
                message: "The licence is detained (扣留).",
            },
            LicenceState::Seized => Refusal {
                code: "licence-seized",
                message: "The licence is temporarily seized (暂扣).",
            },
            LicenceState::MedicalOverdue => Refusal {
                code: "medical-examination-overdue",
                message: "The licence is overdue for its medical examination (逾期未体检).",
            },
            LicenceState::ReviewOverdue => Refusal {
                code: "periodic-review-overdue",
                message: "The licence is overdue for its periodic review (逾期未审验).",
            },
            LicenceState::AnnouncedStopped => Refusal {
                code: "licence-announced-stopped",
                message: "The licence has been publicly announced as stopped (公告停止使用).",
            },
            LicenceState::Expired => Refusal {
                code: "licence-expired",
                message: "The licence is registered as expired; renew it first.",
            },
            LicenceState::Cancelled => Refusal {
                code: "licence-cancelled",
                message: "The licence has been cancelled (注销).",
            },
        }
    }
}

/// Every reason the licence cannot get an electronic licence on `today`
/// (the authority's local date); empty when it can.
pub fn refusals(licence: &Licence, today: NaiveDate) -> Vec<Refusal> {
    let mut reasons = Vec::new();
    if today < licence.valid_from {
        reasons.push(Refusal::NOT_YET_VALID);
    }
    // The licence is valid through its last day.
    let expired_flag = licence.states.contains(&LicenceState::Expired);
    if today > licence.valid_to && !expired_flag {
        reasons.push(Refusal::VALIDITY_ENDED);
    }
    let mut states = licence.states.clone();
    states.sort();
    states.dedup();
    reasons.extend(states.into_iter().map(Refusal::for_state));
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sample;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn an_ordinary_licence_is_eligible() {
        let licence = sample::showcase_licences()[0].clone();
        assert!(refusals(&licence, day("2026-11-25")).is_empty());
    }

    #[test]
    fn every_state_is_a_reason_and_all_are_reported() {
        let mut licence = sample::showcase_licences()[0].clone();
        licence.states = LicenceState::ALL.to_vec();
        let codes: Vec<_> = refusals(&licence, day("2026-11-25"))
            .into_iter()
            .map(|r| r.code)
            .collect();
        assert_eq!(codes.len(), LicenceState::ALL.len());
        assert!(codes.contains(&"licence-detained"));
        assert!(codes.contains(&"licence-announced-stopped"));
        assert!(codes.contains(&"medical-examination-overdue"));
    }

    #[test]
    fn validity_is_inclusive_of_its_last_day() {
        let mut licence = sample::showcase_licences()[0].clone();
        licence.valid_from = day("2020-01-01");
        licence.valid_to = day("2026-11-25");
        assert!(refusals(&licence, day("2026-11-25")).is_empty());
        let codes: Vec<_> = refusals(&licence, day("2026-11-26")).iter().map(|r| r.code).collect();
        assert_eq!(codes, vec!["licence-validity-ended"]);
        let codes: Vec<_> = refusals(&licence, day("2019-12-31")).iter().map(|r| r.code).collect();
        assert_eq!(codes, vec!["licence-not-yet-valid"]);
    }
}
