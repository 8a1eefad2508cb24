//! SRTP and SRTCP (RFC 3711, RFC 6188), SDES keys in SDP (RFC 4568) and the
//! Disabled / Optional / Standard SDP SRTP offer policy (SPEC M1–M3).
//!
//! The crate is usable alone: it knows nothing of SIP and does no I/O.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod key;
pub mod negotiate;
pub mod sdes;
pub mod suite;

pub use key::MasterKey;
pub use suite::Suite;
