//! SIP over TLS: connector, acceptor, RFC 5922 identity, keep-alive, diagnostics (SPEC T1–T5, S2–S4).
#![forbid(unsafe_code)]
#![warn(missing_docs)]
