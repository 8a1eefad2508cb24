//! The device: a data directory composed into a running SIP endpoint (SPEC E1–E4).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod media;
