//! SRTP and SRTCP (RFC 3711, RFC 6188, AES-GCM per RFC 7714), SDES keys in SDP (RFC 4568) and the
//! Disabled / Optional / Standard SDP SRTP offer policy (SPEC M1–M3).
//!
//! The crate is usable alone: it knows nothing of SIP and does no I/O.
//!
//! # Protecting and unprotecting
//!
//! A [`Policy`] names the [`Suite`], the [`MasterKey`]s (with optional MKI),
//! the SSRC binding ([`Ssrc`]), the replay window, the key derivation rate and
//! the key lifetime. A [`Session`] is built from it for one direction:
//! [`Session::outbound`] protects, [`Session::inbound`] unprotects. Packets are
//! processed in place ([`Session::protect_rtp`], [`Session::unprotect_rtp`],
//! [`Session::protect_rtcp`], [`Session::unprotect_rtcp`] on `Vec<u8>` or
//! `BytesMut`; the `_slice` variants on `&mut [u8]`) or out of place (the
//! `_into` variants). Failures are [`SrtpError`]s.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod buffer;
mod crypto;
pub mod dtls;
pub mod error;
mod gcm;
pub mod key;
pub mod negotiate;
pub mod policy;
mod replay;
pub mod sdes;
pub mod session;
pub mod suite;

pub use buffer::PacketBuffer;
pub use error::SrtpError;
pub use key::MasterKey;
pub use negotiate::{
    Negotiation, Negotiator, OfferPolicy, SignalingTransport, SrtpAgreement, SrtpConfig,
};
pub use policy::{Policy, Ssrc};
pub use sdes::{CryptoAttribute, CryptoParams};
pub use session::{Direction, Session};
pub use suite::Suite;
