//! SDES: the `a=crypto` attribute of RFC 4568 (key parameters and session parameters).
//!
//! An `a=crypto` line carries a tag, a crypto-suite name, one or more key
//! parameters (`inline:<base64 key‖salt>[|lifetime][|MKI:length]`) and
//! optional session parameters (`KDR=`, `UNENCRYPTED_SRTP`, `WSH=` …):
//!
//! ```text
//! a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4 KDR=10
//! ```
//!
//! Handling is done in two steps, so that a line we cannot honour is skipped
//! with a reason and never half-used:
//!
//! 1. [`CryptoAttribute::parse`] checks the RFC 4568 grammar (strict base64,
//!    bounded lengths and counts) and keeps everything, including suites and
//!    session parameters Sigil does not know;
//! 2. [`CryptoAttribute::check`] decides whether Sigil can honour the line:
//!    a supported suite, key material of the suite's exact length, MKIs that
//!    fit, lifetimes within RFC 3711 limits, and only session parameters Sigil
//!    implements. The result, [`CryptoParams`], holds ready [`MasterKey`]s.
//!
//! Writing goes the other way: build a [`CryptoAttribute`] (usually with
//! [`CryptoAttribute::from_params`]) and format it with `Display` or
//! [`CryptoAttribute::to_attribute`] for `sdp-types`.
//!
//! Key material is held in zeroizing buffers and never appears in `Debug`
//! output or in error messages.
//!
//! [`MasterKey`]: crate::key::MasterKey

mod check;
mod key_params;
mod parse;
mod session_params;
mod write;

use std::fmt;

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;

use crate::key::KeyError;
use crate::Suite;

pub use check::CryptoParams;
pub use key_params::{KeyParam, Lifetime, Mki};
pub use session_params::{FecOrder, SessionParam};

/// Longest `a=crypto` attribute value accepted, in bytes.
pub const MAX_ATTRIBUTE_LEN: usize = 4096;
/// Most key parameters (master keys) accepted in one line or one `FEC_KEY=`.
pub const MAX_KEY_PARAMS: usize = 16;
/// Most session parameters accepted in one line.
pub const MAX_SESSION_PARAMS: usize = 16;
/// Longest base64 key-salt string accepted (enough for any registered suite).
pub const MAX_KEY_SALT_CHARS: usize = 256;
/// The largest master key lifetime RFC 3711 allows for SRTP: 2^48 packets.
pub const MAX_LIFETIME: u64 = 1 << 48;
/// Longest MKI Sigil supports, in bytes (RFC 4568 allows up to 128).
pub const MAX_MKI_LEN: u8 = 4;
/// Largest replay window a `WSH=` hint may ask for and still be accepted by
/// [`CryptoAttribute::check`] (a larger value makes the line unusable).
/// A session keyed from the line gets at most [`MAX_PEER_REPLAY_WINDOW`].
pub const MAX_WSH: u32 = 32768;
/// Largest replay window a peer's `WSH=` hint gives a session built from its
/// `a=crypto` line ([`CryptoParams::policy`]): 1024 packets, about 20 s of
/// 20 ms audio.
///
/// `WSH=` is the peer's wish, not ours to grant in full: each stream keeps
/// an SRTP and an SRTCP window, so a 1024-packet window costs 512 bytes per
/// stream while the 32768 packets the parser accepts ([`MAX_WSH`]) would cost
/// 16 KiB per stream, for up to [`crate::policy::DEFAULT_MAX_STREAMS`]
/// streams per session on a small device. Larger hints are capped to this
/// value with a warning in the log; a hint below the default window keeps
/// the default ([`crate::policy::DEFAULT_REPLAY_WINDOW`]).
pub const MAX_PEER_REPLAY_WINDOW: usize = 1024;

/// Strict base64: the standard alphabet, no stray characters and no non-zero
/// trailing bits. Padding may be present (then it must be correct) or left out,
/// as some stacks leave it out of 46-byte AES-256 keys.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(false),
);

/// Why an `a=crypto` line is malformed or cannot be honoured.
///
/// Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdesError {
    /// The attribute value is longer than [`MAX_ATTRIBUTE_LEN`].
    #[error("a=crypto line is {len} bytes long, more than the {max} accepted")]
    TooLong {
        /// Length of the value.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The line does not follow the RFC 4568 grammar.
    #[error("malformed a=crypto line at byte {at}: expected {expected}")]
    Syntax {
        /// Byte offset in the attribute value where parsing stopped.
        at: usize,
        /// What was expected there.
        expected: &'static str,
    },
    /// More key parameters or session parameters than accepted.
    #[error("a=crypto line has more than {max} {what}")]
    TooMany {
        /// `"key parameters"` or `"session parameters"`.
        what: &'static str,
        /// The limit.
        max: usize,
    },
    /// A key method other than `inline`.
    #[error("key method {method:?} is not supported (only inline)")]
    UnsupportedKeyMethod {
        /// The method name as written.
        method: String,
    },
    /// The key-salt is not valid base64 (bad character, bad padding or
    /// non-zero trailing bits).
    #[error("the inline key is not valid base64")]
    BadBase64,
    /// The lifetime is zero or does not fit in 64 bits.
    #[error("key lifetime {value} is not a valid packet count")]
    BadLifetime {
        /// The lifetime as written.
        value: String,
    },
    /// The MKI length is outside 1..=128 or its value does not fit its length.
    #[error("MKI {value}:{length} is malformed (length 1..=128 bytes, value must fit)")]
    BadMki {
        /// The MKI value as written.
        value: String,
        /// The MKI length as written.
        length: String,
    },
    /// A session parameter Sigil knows has a value outside its grammar.
    #[error("session parameter {param} has an invalid value {value:?}")]
    BadSessionParamValue {
        /// The parameter name.
        param: &'static str,
        /// The value as written.
        value: String,
    },
    /// The suite is not one Sigil supports.
    #[error("crypto suite {name} is not supported")]
    UnknownSuite {
        /// The suite name as written.
        name: String,
    },
    /// The key material does not have the suite's length.
    #[error("{suite} needs {expected} bytes of inline key and salt, the line has {actual}")]
    WrongKeyLength {
        /// The suite of the line.
        suite: Suite,
        /// Key plus salt length of the suite.
        expected: usize,
        /// Decoded length found.
        actual: usize,
    },
    /// The lifetime exceeds what RFC 3711 allows.
    #[error("key lifetime {lifetime} exceeds the 2^48 packets RFC 3711 allows")]
    LifetimeTooLong {
        /// The lifetime in packets.
        lifetime: u64,
    },
    /// An MKI longer than Sigil supports.
    #[error("MKI length {length} bytes is not supported (at most {max})")]
    MkiTooLong {
        /// The MKI length from the line.
        length: u8,
        /// [`MAX_MKI_LEN`].
        max: u8,
    },
    /// Several keys without distinct MKIs of one length.
    #[error("several keys need distinct MKIs of one length")]
    MkiConflict,
    /// A mandatory session parameter Sigil does not know (RFC 4568 §6.3.7:
    /// unknown parameters without a leading `-` make the line invalid).
    #[error("unknown mandatory session parameter {name:?}")]
    UnknownSessionParam {
        /// The parameter as written (name, and value if any).
        name: String,
    },
    /// A known session parameter Sigil deliberately does not implement.
    #[error("session parameter {name} is not supported: {why}")]
    UnsupportedSessionParam {
        /// The parameter name.
        name: &'static str,
        /// Why not.
        why: &'static str,
    },
    /// The operating system's random generator failed.
    #[error("the system random generator failed: {0}")]
    Random(getrandom::Error),
    /// The key material was rejected by [`MasterKey`].
    ///
    /// [`MasterKey`]: crate::key::MasterKey
    #[error("key material rejected: {0}")]
    Key(#[from] KeyError),
}

/// The crypto-suite field: a suite Sigil supports, or any other name.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SuiteName {
    /// One of the four supported suites.
    Known(Suite),
    /// Any other name (e.g. `AEAD_AES_256_GCM`, `F8_128_HMAC_SHA1_80`).
    Other(String),
}

impl SuiteName {
    /// The name as written in the line.
    pub fn as_str(&self) -> &str {
        match self {
            SuiteName::Known(suite) => suite.name(),
            SuiteName::Other(name) => name,
        }
    }

    /// The supported suite, if it is one.
    pub fn suite(&self) -> Option<Suite> {
        match self {
            SuiteName::Known(suite) => Some(*suite),
            SuiteName::Other(_) => None,
        }
    }
}

impl From<&str> for SuiteName {
    fn from(name: &str) -> Self {
        match name.parse::<Suite>() {
            Ok(suite) => SuiteName::Known(suite),
            Err(_) => SuiteName::Other(name.to_owned()),
        }
    }
}

impl From<Suite> for SuiteName {
    fn from(suite: Suite) -> Self {
        SuiteName::Known(suite)
    }
}

impl fmt::Display for SuiteName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An `a=crypto` attribute (RFC 4568 §9.1), parsed but not yet judged.
///
/// `Display` writes the attribute value (what follows `a=crypto:`); it
/// contains the key, so write it only into SDP bodies, never into logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CryptoAttribute {
    /// The tag (1 to 9 decimal digits) that the answer repeats.
    pub tag: u32,
    /// The crypto-suite name.
    pub suite: SuiteName,
    /// The key parameters, at least one.
    pub keys: Vec<KeyParam>,
    /// The session parameters, in the order written.
    pub params: Vec<SessionParam>,
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 4568 §4 example key (30 bytes once decoded).
    const RFC_KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    #[test]
    fn parses_the_rfc_example() {
        let line = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY}|2^20|1:4");
        let attr = CryptoAttribute::parse(&line).unwrap();
        assert_eq!(attr.tag, 1);
        assert_eq!(attr.suite, SuiteName::Known(Suite::AesCm128HmacSha1_80));
        assert_eq!(attr.keys.len(), 1);
        assert_eq!(attr.keys[0].key_salt().len(), 30);
        assert_eq!(attr.keys[0].lifetime, Some(Lifetime::PowerOfTwo(20)));
        assert_eq!(
            attr.keys[0].mki,
            Some(Mki {
                value: 1,
                length: 4
            })
        );
        assert_eq!(attr.to_string(), line);
        let params = attr.check().unwrap();
        assert_eq!(params.lifetime, Some(1 << 20));
        assert_eq!(params.keys[0].mki(), Some(&[0, 0, 0, 1][..]));
    }

    #[test]
    fn mki_without_lifetime_and_decimal_lifetime() {
        let attr = CryptoAttribute::parse(&format!(
            "7 AES_CM_128_HMAC_SHA1_32 inline:{RFC_KEY}|1066:4"
        ))
        .unwrap();
        assert_eq!(attr.keys[0].lifetime, None);
        assert_eq!(
            attr.keys[0].mki,
            Some(Mki {
                value: 1066,
                length: 4
            })
        );
        let attr = CryptoAttribute::parse(&format!(
            "7 AES_CM_128_HMAC_SHA1_32 inline:{RFC_KEY}|1000000"
        ))
        .unwrap();
        assert_eq!(attr.keys[0].lifetime, Some(Lifetime::Packets(1_000_000)));
    }

    #[test]
    fn bad_base64_is_refused_without_echoing_the_key() {
        for key in [
            "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGV", // trailing bits set
            "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz=", // wrong padding
            "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubG=z", // padding inside
        ] {
            let err = CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{key}"))
                .unwrap_err();
            assert!(!err.to_string().contains("WVNf"), "{err}");
        }
        let err = CryptoAttribute::parse("1 AES_CM_128_HMAC_SHA1_80 inline:WVNf*X19").unwrap_err();
        assert!(matches!(err, SdesError::Syntax { .. }), "{err:?}");
    }

    #[test]
    fn unknown_mandatory_and_optional_parameters() {
        let attr =
            CryptoAttribute::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY} FOO=1"))
                .unwrap();
        assert_eq!(
            attr.check().unwrap_err(),
            SdesError::UnknownSessionParam {
                name: "FOO=1".into()
            }
        );
        let attr = CryptoAttribute::parse(&format!(
            "1 AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY} -FOO=1"
        ))
        .unwrap();
        assert!(attr.check().is_ok());
    }
}
