//! Layered trust store and rustls server-certificate verifiers (SPEC T2, T5, TS1–TS5).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
