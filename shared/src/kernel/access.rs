//! Who may do what: the access policy as one table (role × action), with the ownership or office rule
//! each action adds, and the routes that reach it.
//!
//! The use cases ask [`rule`] for an action's roles (a caller holding none of them is refused with
//! 403 before anything is read); the ownership and office rules named in `scope` are applied where
//! the record is read, and a record outside them answers as not found (no leak of its existence).

use super::caller::Role::{self, Admin, Clerk, FleetManager, Holder, Officer, RelyingParty, Reviewer};

/// Everything a caller can ask for that needs a role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    OpenApplication,
    ReadApplication,
    WithdrawApplication,
    StartLivenessCheck,
    ConfirmLiveness,
    UploadPhoto,
    ReviewQueue,
    OpenReview,
    DecideReview,
    ShowLicence,
    LicenceChecks,
    VerifyLicence,
    DrawNonce,
    ImportLicences,
    ReadRegister,
    ChangeLicence,
    ReadRollout,
    SwitchCity,
    SwitchWave,
    ListSigningKeys,
    ApplyForPass,
    ReadPass,
    ListPasses,
    WithdrawPass,
    ShowPass,
    PassChecks,
    PassReviewQueue,
    DecidePass,
    RevokePass,
    ImportVehicles,
    ReadTruckRules,
    ChangeTruckRules,
    SwitchTruckCity,
    SwitchTruckBatch,
    VerifyPass,
}

/// One row of the policy.
#[derive(Debug, Clone, Copy)]
pub struct Rule {
    pub action: Action,
    /// How a refusal names the action ("Opening an application needs the role clerk or holder.").
    pub what: &'static str,
    /// The roles that may, in the order a caller holding several acts in.
    pub roles: &'static [Role],
    /// Whose records, beyond the role: the ownership or office rule.
    pub scope: &'static str,
    /// The routes (`template.yaml`'s) that ask for this action.
    pub routes: &'static [&'static str],
}

const ANY: &str = "any";
const OWN: &str = "the holder's own only";

/// The access policy. Routes without a row are public (the truck cities' rules, the trust material, the
/// revocation status lists).
pub const POLICY: &[Rule] = &[
    Rule {
        action: Action::OpenApplication,
        what: "Opening an application",
        roles: &[Clerk, Holder],
        scope: "a holder for their own licence; a clerk at the licence's issuing office (R12)",
        routes: &["POST /applications"],
    },
    Rule {
        action: Action::ReadApplication,
        what: "Reading an application",
        roles: &[Reviewer, Clerk, Holder],
        scope: "a reviewer any; a clerk their office's (or their own as a holder); a holder their own",
        routes: &["GET /applications/{id}"],
    },
    Rule {
        action: Action::WithdrawApplication,
        what: "Withdrawing an application",
        roles: &[Holder],
        scope: OWN,
        routes: &["DELETE /applications/{id}"],
    },
    Rule {
        action: Action::StartLivenessCheck,
        what: "Starting a real-person check",
        roles: &[Holder],
        scope: OWN,
        routes: &["POST /applications/{id}/liveness-sessions"],
    },
    Rule {
        action: Action::ConfirmLiveness,
        what: "Confirming the photo on file",
        roles: &[Holder],
        scope: OWN,
        routes: &["POST /applications/{id}/liveness"],
    },
    Rule {
        action: Action::UploadPhoto,
        what: "Uploading a photo",
        roles: &[Holder],
        scope: OWN,
        routes: &["POST /applications/{id}/photo-uploads"],
    },
    Rule {
        action: Action::ReviewQueue,
        what: "The review queue",
        roles: &[Reviewer, Admin],
        scope: "any; the administrator watches the backlog (R4), only reviewers open and decide",
        routes: &["GET /reviews"],
    },
    Rule {
        action: Action::OpenReview,
        what: "Opening a review",
        roles: &[Reviewer],
        scope: ANY,
        routes: &["GET /reviews/{id}"],
    },
    Rule {
        action: Action::DecideReview,
        what: "Deciding a review",
        roles: &[Reviewer],
        scope: ANY,
        routes: &["POST /reviews/{id}/decision"],
    },
    Rule {
        action: Action::ShowLicence,
        what: "Showing a licence",
        roles: &[Holder],
        scope: OWN,
        routes: &["GET /licence", "GET /licence/code", "GET /licence/pages/{page}"],
    },
    Rule {
        action: Action::LicenceChecks,
        what: "Listing who checked a licence",
        roles: &[Holder],
        scope: OWN,
        routes: &["GET /licence/checks"],
    },
    Rule {
        action: Action::VerifyLicence,
        what: "Verifying a licence",
        roles: &[Officer, RelyingParty],
        scope: "any code shown to them; a relying party sees only its purpose's fields (R9)",
        routes: &["POST /verifications"],
    },
    Rule {
        action: Action::DrawNonce,
        what: "Drawing a verification nonce",
        roles: &[Officer, RelyingParty],
        scope: "their own: a nonce is consumed only by a presentation from the verifier who drew it",
        routes: &["POST /verifications/nonces"],
    },
    Rule {
        action: Action::ImportLicences,
        what: "Importing licences",
        roles: &[Admin],
        scope: ANY,
        routes: &["POST /admin/licences", "POST /admin/imports"],
    },
    Rule {
        action: Action::ReadRegister,
        what: "Reading the register",
        roles: &[Admin],
        scope: ANY,
        routes: &["GET /admin/licences/{number}", "GET /admin/imports/{id}"],
    },
    Rule {
        action: Action::ChangeLicence,
        what: "Changing a licence",
        roles: &[Admin],
        scope: ANY,
        routes: &["PATCH /admin/licences/{number}"],
    },
    Rule {
        action: Action::ReadRollout,
        what: "Reading the rollout",
        roles: &[Admin],
        scope: ANY,
        routes: &["GET /admin/rollout"],
    },
    Rule {
        action: Action::SwitchCity,
        what: "Switching a city",
        roles: &[Admin],
        scope: ANY,
        routes: &["PUT /admin/rollout/cities/{city}"],
    },
    Rule {
        action: Action::SwitchWave,
        what: "Switching a wave",
        roles: &[Admin],
        scope: ANY,
        routes: &["PUT /admin/rollout/waves/{wave}"],
    },
    Rule {
        action: Action::ListSigningKeys,
        what: "Listing the signing keys",
        roles: &[Admin],
        scope: ANY,
        routes: &["GET /admin/keys"],
    },
    Rule {
        action: Action::ApplyForPass,
        what: "Applying for a truck pass",
        roles: &[FleetManager, Holder],
        scope: "the vehicle's registered owner or its fleet's manager",
        routes: &["POST /truck/passes"],
    },
    Rule {
        action: Action::ReadPass,
        what: "Reading a truck pass",
        roles: &[Holder, FleetManager, Reviewer, Admin],
        scope: "staff any; otherwise the vehicle's owner or its fleet's manager",
        routes: &["GET /truck/passes/{id}"],
    },
    Rule {
        action: Action::ListPasses,
        what: "Listing truck passes",
        roles: &[Holder, FleetManager],
        scope: "the passes of the caller's vehicles and fleet",
        routes: &["GET /truck/passes"],
    },
    Rule {
        action: Action::WithdrawPass,
        what: "Withdrawing a truck pass",
        roles: &[Holder, FleetManager],
        scope: "the vehicle's owner or its fleet's manager",
        routes: &["DELETE /truck/passes/{id}"],
    },
    Rule {
        action: Action::ShowPass,
        what: "Showing a truck pass",
        roles: &[Holder, FleetManager],
        scope: "the vehicle's owner or its fleet's manager",
        routes: &["GET /truck/passes/{id}/code"],
    },
    Rule {
        action: Action::PassChecks,
        what: "Listing who checked a truck pass",
        roles: &[Holder, FleetManager, Admin],
        scope: "the administrator any; otherwise the vehicle's owner or its fleet's manager",
        routes: &["GET /truck/passes/{id}/checks"],
    },
    Rule {
        action: Action::PassReviewQueue,
        what: "The truck pass review queue",
        roles: &[Reviewer, Admin],
        scope: "any; the administrator watches the backlog, only reviewers decide",
        routes: &["GET /truck/reviews"],
    },
    Rule {
        action: Action::DecidePass,
        what: "Deciding a truck pass",
        roles: &[Reviewer],
        scope: ANY,
        routes: &["POST /truck/reviews/{id}/decision"],
    },
    Rule {
        action: Action::RevokePass,
        what: "Revoking a truck pass",
        roles: &[Admin],
        scope: ANY,
        routes: &["POST /admin/truck/passes/{id}/revocation"],
    },
    Rule {
        action: Action::ImportVehicles,
        what: "Importing vehicles",
        roles: &[Admin],
        scope: ANY,
        routes: &["POST /admin/vehicles"],
    },
    Rule {
        action: Action::ReadTruckRules,
        what: "Reading a city's truck rules",
        roles: &[Admin],
        scope: ANY,
        routes: &["GET /admin/truck/cities/{city}"],
    },
    Rule {
        action: Action::ChangeTruckRules,
        what: "Changing a city's truck rules",
        roles: &[Admin],
        scope: ANY,
        routes: &["PUT /admin/truck/cities/{city}"],
    },
    Rule {
        action: Action::SwitchTruckCity,
        what: "Switching a city's truck pass",
        roles: &[Admin],
        scope: ANY,
        routes: &["PUT /admin/truck/rollout/cities/{city}"],
    },
    Rule {
        action: Action::SwitchTruckBatch,
        what: "Switching a batch of truck pass cities",
        roles: &[Admin],
        scope: ANY,
        routes: &["PUT /admin/truck/rollout/batches/{batch}"],
    },
    Rule {
        action: Action::VerifyPass,
        what: "Verifying a truck pass",
        roles: &[Officer],
        scope: "any pass shown to them",
        routes: &["POST /truck/verifications"],
    },
];

/// The policy's row for `action`; none is a refusal (the tests check every action has one).
pub fn rule(action: Action) -> Option<&'static Rule> {
    POLICY.iter().find(|r| r.action == action)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every action, checked exhaustively: a new action does not compile here until it is listed.
    fn every_action() -> Vec<Action> {
        use Action::*;
        let all = vec![
            OpenApplication,
            ReadApplication,
            WithdrawApplication,
            StartLivenessCheck,
            ConfirmLiveness,
            UploadPhoto,
            ReviewQueue,
            OpenReview,
            DecideReview,
            ShowLicence,
            LicenceChecks,
            VerifyLicence,
            DrawNonce,
            ImportLicences,
            ReadRegister,
            ChangeLicence,
            ReadRollout,
            SwitchCity,
            SwitchWave,
            ListSigningKeys,
            ApplyForPass,
            ReadPass,
            ListPasses,
            WithdrawPass,
            ShowPass,
            PassChecks,
            PassReviewQueue,
            DecidePass,
            RevokePass,
            ImportVehicles,
            ReadTruckRules,
            ChangeTruckRules,
            SwitchTruckCity,
            SwitchTruckBatch,
            VerifyPass,
        ];
        for action in &all {
            match action {
                OpenApplication | ReadApplication | WithdrawApplication | StartLivenessCheck | ConfirmLiveness
                | UploadPhoto | ReviewQueue | OpenReview | DecideReview | ShowLicence | LicenceChecks
                | VerifyLicence | DrawNonce | ImportLicences | ReadRegister | ChangeLicence | ReadRollout
                | SwitchCity | SwitchWave | ListSigningKeys | ApplyForPass | ReadPass | ListPasses | WithdrawPass
                | ShowPass | PassChecks | PassReviewQueue | DecidePass | RevokePass | ImportVehicles
                | ReadTruckRules | ChangeTruckRules | SwitchTruckCity | SwitchTruckBatch | VerifyPass => {}
            }
        }
        all
    }

    #[test]
    fn every_action_has_exactly_one_row_and_every_route_one_action() {
        let all = every_action();
        for action in &all {
            assert_eq!(POLICY.iter().filter(|r| r.action == *action).count(), 1, "{action:?}");
            assert!(
                !rule(*action).is_some_and(|r| r.roles.is_empty()),
                "{action:?} has no role"
            );
        }
        assert_eq!(POLICY.len(), all.len());
        let mut routes: Vec<&str> = POLICY.iter().flat_map(|r| r.routes.iter().copied()).collect();
        let count = routes.len();
        routes.sort();
        routes.dedup();
        assert_eq!(routes.len(), count, "a route is in two rows");
    }
}
