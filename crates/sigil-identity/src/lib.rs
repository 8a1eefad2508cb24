//! Device identity: factory certificate, override, web certificate, mutual TLS, minting (SPEC ID1–ID8).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
