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
//!
//! # Keying a call from SDP
//!
//! With SDES the keys arrive in an `a=crypto` line ([`sdes`]):
//! [`CryptoAttribute::parse`] reads it, [`CryptoAttribute::check`] decides
//! whether it can be honoured and gives [`CryptoParams`] with ready master
//! keys, and [`CryptoParams::policy`] the [`Policy`] for a [`Session`]. The
//! [`negotiate`] module does the whole offer/answer exchange (the
//! Disabled / Optional / Standard policy) and hands back the two sessions of
//! a call.
//!
//! Here the line carries the master key and salt of RFC 3711 B.3, and the
//! packet is the reference packet libsrtp's test driver protects (its output
//! is in `SPEC.md`'s test vectors):
//!
//! ```
//! use sigil_srtp::{CryptoAttribute, Session, SrtpError, Suite};
//!
//! // The answerer's a=crypto line: tag 1, the suite, inline:<base64 key||salt>.
//! let line = "1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
//! let params = CryptoAttribute::parse(line)?.check()?;
//! assert_eq!(params.suite, Suite::AesCm128HmacSha1_80);
//! let mut sender = Session::outbound(params.policy()?)?;
//! let mut receiver = Session::inbound(params.policy()?)?;
//!
//! // An RTP packet: 12-byte header (SSRC 0xcafebabe, sequence 0x1234), 16 bytes of payload.
//! let rtp = hex("800f1234decafbadcafebabe abababababababababababababababab");
//! let mut packet = rtp.clone();
//! sender.protect_rtp(&mut packet)?;
//! // Header in the clear, payload encrypted, 80-bit authentication tag appended.
//! assert_eq!(packet.len(), rtp.len() + sender.rtp_overhead());
//! assert_eq!(
//!     packet,
//!     hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb"),
//! );
//!
//! // The receiver authenticates, checks replay and decrypts in place.
//! let mut received = packet.clone();
//! receiver.unprotect_rtp(&mut received)?;
//! assert_eq!(received, rtp);
//!
//! // The same packet again is a replay.
//! let mut again = packet.clone();
//! assert!(matches!(receiver.unprotect_rtp(&mut again), Err(SrtpError::Replayed { .. })));
//!
//! // The next packet with one bit flipped on the way fails authentication,
//! // and is left as it was.
//! let mut next = rtp.clone();
//! next[3] = 0x35; // sequence number 0x1235
//! sender.protect_rtp(&mut next)?;
//! next[20] ^= 1;
//! let forged = next.clone();
//! assert!(matches!(receiver.unprotect_rtp(&mut next), Err(SrtpError::AuthFailed { .. })));
//! assert_eq!(next, forged);
//!
//! # fn hex(text: &str) -> Vec<u8> {
//! #     let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
//! #     digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/softphone.rs` runs two such sessions over UDP on 127.0.0.1.
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
