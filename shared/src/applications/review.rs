//! Staff review of a photo (R4, R5, R15): the decision, and the reasons a photo can be refused.

use crate::kernel::caller::Actor;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Why a reviewer refuses a photo: the authority's photo rules (R5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RejectionReason {
    BackgroundNotWhite,
    UnevenLight,
    NotUpright,
    ShouldersNotLevel,
    ExpressionNotNatural,
    NotFacingCamera,
    LightClothing,
    HeadCovered,
    HairCoversFaceOrEars,
    HeavyMakeUp,
    Uniform,
    MaskSunglassesOrOrnaments,
    ExaggeratedPoseOrGesture,
    EyesClosed,
    UnlawfulOrOffensive,
    OlderThanSixMonths,
    RetouchedOrComposite,
    NotTheHolder,
}

impl RejectionReason {
    pub const ALL: [RejectionReason; 18] = [
        Self::BackgroundNotWhite,
        Self::UnevenLight,
        Self::NotUpright,
        Self::ShouldersNotLevel,
        Self::ExpressionNotNatural,
        Self::NotFacingCamera,
        Self::LightClothing,
        Self::HeadCovered,
        Self::HairCoversFaceOrEars,
        Self::HeavyMakeUp,
        Self::Uniform,
        Self::MaskSunglassesOrOrnaments,
        Self::ExaggeratedPoseOrGesture,
        Self::EyesClosed,
        Self::UnlawfulOrOffensive,
        Self::OlderThanSixMonths,
        Self::RetouchedOrComposite,
        Self::NotTheHolder,
    ];

    /// What the applicant is told, so that the next photo is right.
    pub fn message(self) -> &'static str {
        match self {
            Self::BackgroundNotWhite => "The background must be plain white.",
            Self::UnevenLight => "The light must be even, without shadows on the face or background.",
            Self::NotUpright => "The head must be upright, not tilted.",
            Self::ShouldersNotLevel => "The shoulders must be level.",
            Self::ExpressionNotNatural => "The expression must be natural.",
            Self::NotFacingCamera => "Face the camera directly.",
            Self::LightClothing => "Wear dark clothes.",
            Self::HeadCovered => "The head must be bare: no hat, cap or scarf.",
            Self::HairCoversFaceOrEars => "Hair must not cover the face or the ears.",
            Self::HeavyMakeUp => "No heavy make-up.",
            Self::Uniform => "Do not wear a uniform.",
            Self::MaskSunglassesOrOrnaments => "No mask, sunglasses or ornaments.",
            Self::ExaggeratedPoseOrGesture => "No exaggerated pose or gesture, and eyes open.",
            Self::EyesClosed => "The eyes must be open.",
            Self::UnlawfulOrOffensive => "The photo shows something unlawful or offensive.",
            Self::OlderThanSixMonths => "The photo must have been taken within the last 6 months.",
            Self::RetouchedOrComposite => {
                "Facial features must not be retouched and the photo must not be a composite."
            }
            Self::NotTheHolder => "The photo does not show the licence holder.",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Approve,
    Reject,
    /// A malicious or abusive upload (R15): the application ends and the
    /// holder's electronic licence, if any, is stopped.
    Malicious,
}

/// A reviewer's decision with everything needed to trace it: who, when, what, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReviewDecision {
    pub verdict: Verdict,
    #[serde(default)]
    pub reasons: Vec<RejectionReason>,
    #[serde(default)]
    pub note: String,
    pub by: Actor,
    pub at: DateTime<Utc>,
    /// The photo decided on.
    pub upload_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecisionError {
    #[error("A rejection names at least one reason from the photo rules.")]
    RejectionWithoutReason,
    #[error("An approval carries no rejection reasons.")]
    ApprovalWithReasons,
    #[error("Marking an upload malicious needs a note saying why.")]
    MaliciousWithoutNote,
    #[error("The note is limited to 1000 characters.")]
    NoteTooLong,
}

/// Checks that a decision is complete before it is applied.
pub fn validate(verdict: Verdict, reasons: &[RejectionReason], note: &str) -> Result<(), DecisionError> {
    if note.chars().count() > 1000 {
        return Err(DecisionError::NoteTooLong);
    }
    match verdict {
        Verdict::Approve if !reasons.is_empty() => Err(DecisionError::ApprovalWithReasons),
        Verdict::Reject if reasons.is_empty() => Err(DecisionError::RejectionWithoutReason),
        Verdict::Malicious if note.trim().is_empty() => Err(DecisionError::MaliciousWithoutNote),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reason_codes_are_stable_kebab_case() {
        assert_eq!(
            serde_json::to_string(&RejectionReason::MaskSunglassesOrOrnaments).expect("json"),
            "\"mask-sunglasses-or-ornaments\""
        );
        assert!(serde_json::from_str::<RejectionReason>("\"too-pretty\"").is_err());
        for reason in RejectionReason::ALL {
            assert!(reason.message().ends_with('.'));
        }
    }

    #[test]
    fn decisions_must_be_complete() {
        assert_eq!(
            validate(Verdict::Reject, &[], "x"),
            Err(DecisionError::RejectionWithoutReason)
        );
        assert_eq!(
            validate(Verdict::Approve, &[RejectionReason::Uniform], ""),
            Err(DecisionError::ApprovalWithReasons)
        );
        assert_eq!(
            validate(Verdict::Malicious, &[], " "),
            Err(DecisionError::MaliciousWithoutNote)
        );
        assert!(validate(Verdict::Reject, &[RejectionReason::EyesClosed], "").is_ok());
        assert!(validate(Verdict::Approve, &[], "").is_ok());
    }
}
