//! The register and rollout: the paper licence as the authority feeds it, who may have an electronic
//! licence (R1), and the cities and waves switched on (R2).

pub mod change;
pub mod eligibility;
pub mod import_job;
pub mod licence;
pub mod ports;
pub mod rollout;
