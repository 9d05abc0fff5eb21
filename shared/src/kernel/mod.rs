//! The mechanisms every context shares, each defined once: local time, the working calendar, the caller, metrics,
//! go-live switches, the per-instance caches, identifiers' shapes, input errors, paged lists, the colour, the records
//! store's errors, the review queue, sharding, the show-code cache, the check log, the signer, notices, and versioned
//! update with retry.

pub mod access;
pub mod cache;
pub mod calendar;
pub mod caller;
pub mod check_log;
pub mod golive;
pub mod ident;
pub mod input;
pub mod listing;
pub mod metrics;
pub mod notice;
pub mod queue;
pub mod shard;
pub mod showcode;
pub mod signing;
pub mod store;
pub mod time;
pub mod versioned;

/// The live colour of a credential (R8): green when it is in order. Defined
/// once, where the show code carries it, and used by every context.
pub use crate::credential::showcode::Colour;
