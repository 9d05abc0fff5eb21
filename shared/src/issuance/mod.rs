//! Issuance and showing: the electronic licence as issued, its serial and its live colour (R6, R7, R8, R11).

pub mod budget;
pub mod document;
pub mod edl;
pub mod outbox;
pub mod ports;
pub mod status;
