//! The mechanisms every context shares, each defined once: local time, the caller, the colour.

pub mod time;

/// The live colour of a credential (R8): green when it is in order. Defined
/// once, where the show code carries it, and used by every context.
pub use crate::credential::showcode::Colour;
