//! The mechanisms every context shares, each defined once: local time, the working calendar, the caller,
//! go-live switches, input errors, the colour.

pub mod calendar;
pub mod caller;
pub mod golive;
pub mod input;
pub mod time;

/// The live colour of a credential (R8): green when it is in order. Defined
/// once, where the show code carries it, and used by every context.
pub use crate::credential::showcode::Colour;
