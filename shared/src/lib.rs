//! The electronic driving licence domain: rules as plain types and functions, the ports they
//! reach the world through, and the adapters behind those ports.

pub mod adapters;
pub mod credential;
pub mod crypto;
pub mod dev;
pub mod domain;
#[cfg(feature = "http")]
pub mod http;
pub mod kernel;
pub mod ports;
pub mod problem;
pub mod sample;
pub mod service;
pub mod telemetry;
