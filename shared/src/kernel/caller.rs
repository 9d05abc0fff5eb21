//! Who is calling (the subject and roles the authority's login vouched for in its JWT claims), and who did something.

use serde::{Deserialize, Serialize};
use std::fmt;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// A driver: applies, shows their licence.
    Holder,
    /// Vehicle management office staff at the counter (R12).
    Clerk,
    /// Authority staff working the photo review queue (R4).
    Reviewer,
    /// A police terminal (R9).
    Officer,
    /// An insurer, car-rental desk or employer (R9).
    RelyingParty,
    /// Switches cities on and feeds licence changes.
    Admin,
    /// Manages a fleet's truck passes (R13); the fleet is the caller's organisation.
    FleetManager,
    /// The scheduled jobs.
    Scheduler,
    /// The service itself (automatic photo checks, issuance); never granted by a token.
    System,
}

impl Role {
    pub const ALL: [Role; 8] = [
        Role::Holder,
        Role::Clerk,
        Role::Reviewer,
        Role::Officer,
        Role::RelyingParty,
        Role::Admin,
        Role::FleetManager,
        Role::Scheduler,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Holder => "holder",
            Role::Clerk => "clerk",
            Role::Reviewer => "reviewer",
            Role::Officer => "officer",
            Role::RelyingParty => "relying_party",
            Role::Admin => "admin",
            Role::FleetManager => "fleet_manager",
            Role::Scheduler => "scheduler",
            Role::System => "system",
        }
    }

    /// A role a token may grant (`System` is not one of them).
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Who did something: the caller's subject and the role they acted in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Actor {
    pub id: String,
    pub role: Role,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Caller {
    /// The login subject; for a holder, their identity number.
    pub id: String,
    pub roles: Vec<Role>,
    /// A clerk's vehicle management office (its city code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office: Option<String>,
    /// A verifier's organisation; a fleet manager's fleet.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation: Option<String>,
}

impl Caller {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }

    /// The caller as the actor of something done in `role`.
    pub fn actor(&self, role: Role) -> Actor {
        Actor {
            id: self.id.clone(),
            role,
        }
    }

    /// The first of `roles` the caller holds, in the order given.
    pub fn acting_as(&self, roles: &[Role]) -> Option<Role> {
        roles.iter().copied().find(|r| self.has(*r))
    }
}

/// Parses a roles claim as API Gateway renders it: `holder`, `holder clerk`,
/// `holder,clerk` or `[holder clerk]` (how a JSON array claim arrives).
/// Unknown role names are ignored: they grant nothing.
pub fn parse_roles(claim: &str) -> Vec<Role> {
    let mut roles: Vec<Role> = claim
        .trim()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .split(|c: char| c == ',' || c.is_whitespace())
        .map(|s| s.trim_matches('"'))
        .filter_map(Role::parse)
        .collect();
    roles.dedup();
    roles
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_claim_shapes() {
        assert_eq!(parse_roles("holder"), vec![Role::Holder]);
        assert_eq!(parse_roles("[holder clerk]"), vec![Role::Holder, Role::Clerk]);
        assert_eq!(
            parse_roles("holder,relying_party"),
            vec![Role::Holder, Role::RelyingParty]
        );
        assert_eq!(parse_roles("[\"admin\",\"root\"]"), vec![Role::Admin]);
        assert!(parse_roles("").is_empty());
        assert!(
            parse_roles("system").is_empty(),
            "no token grants the service's own role"
        );
    }
}
