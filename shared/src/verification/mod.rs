//! Verification and trust: whether a licence stands, what each verifier may see, and the check log (R7, R9, R15).

pub mod check;
pub mod disclosure;
pub mod metrics;
pub mod ports;
pub mod quota;
pub mod standing;
