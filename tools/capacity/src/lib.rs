//! The capacity model from counted calls: every operation run against the AWS emulator through a counting proxy, turned into quota use and cost at a launch profile.

pub mod ledger;
pub mod model;
pub mod proxy;
pub mod report;
pub mod scenario;
