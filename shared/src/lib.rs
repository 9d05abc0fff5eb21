//! The electronic driving licence domain: rules as plain types and functions, the ports they
//! reach the world through, and the adapters behind those ports.

pub mod adapters;
pub mod applications;
pub mod credential;
pub mod crypto;
#[cfg(any(test, feature = "dev"))]
pub mod dev;
pub mod error;
pub mod expiry;
#[cfg(feature = "http")]
pub mod http;
pub mod issuance;
pub mod kernel;
pub mod problem;
pub mod register;
#[cfg(any(test, feature = "dev"))]
pub mod sample;
pub mod service;
pub mod telemetry;
pub mod truck;
pub mod verification;
