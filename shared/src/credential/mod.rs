//! The signed credentials: certificates, the ISO 18013-5 licence document and its presentation, the show code, the barcode and the pages.

pub mod barcode;
pub mod cert;
pub mod iso18013_5;
pub mod mdoc;
pub mod pages;
pub mod pass;
pub mod presentation;
pub mod showcode;
pub mod status_list;
