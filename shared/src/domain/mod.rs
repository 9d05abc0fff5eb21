//! The rules of the electronic licence, free of I/O.

pub mod application;
pub mod caller;
pub mod change;
pub mod eligibility;
pub mod licence;
pub mod rollout;
