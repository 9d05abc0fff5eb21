//! The cold-start benchmark's parts: the functions and their sample events, their environment read from
//! `template.yaml`, the Runtime API emulator, one measured spawn, and the table of medians.

pub mod emulator;
pub mod functions;
pub mod measure;
pub mod report;
