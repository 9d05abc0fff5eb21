//! The rules of the electronic licence, free of I/O.

pub mod application;
pub mod calendar;
pub mod caller;
pub mod change;
pub mod edl;
pub mod eligibility;
pub mod expiry;
pub mod licence;
pub mod photo;
pub mod review;
pub mod rollout;
pub mod truck;
pub mod verification;
