//! Applications and review: the application's state machine, the photo rules (R5) and staff review
//! decisions (R3, R4, R12, R15).

pub mod application;
pub mod photo;
pub mod portrait;
pub mod ports;
pub mod review;
