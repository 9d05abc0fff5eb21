//! The build script of every Lambda function (and of the cold-start baseline): links its binaries at a fixed address.
//!
//! A position-independent executable this size carries some 23,000 relative relocations, applied and their pages
//! copied at every cold start: about 0.3 ms of verify's 2.4 ms init, and 0.6 MB of its file (`edl-coldstart`).
//! What that costs in address randomisation, and why we accept it: `docs/adr/0002-fixed-address-functions.md`.

// A build script speaks to cargo on its standard output.
#![allow(clippy::print_stdout)]

fn main() {
    if std::env::var("CARGO_CFG_TARGET_OS").as_deref() == Ok("linux") {
        println!("cargo:rustc-link-arg-bins=-no-pie");
    }
}
