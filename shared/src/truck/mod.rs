//! Truck city-access passes (R13): each city's truck rules, who may have a pass, its life, and whether it covers a place and a moment.

pub mod clock;
pub mod decision;
pub mod pass;
pub mod ports;
pub mod request;
pub mod rules;
pub mod vehicle;
pub mod views;

#[cfg(test)]
mod tests;
