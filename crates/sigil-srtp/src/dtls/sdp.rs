//! The SDP attributes of DTLS-SRTP: `a=fingerprint` (RFC 8122 §5, hash of
//! the certificate a peer will present) and `a=setup` (RFC 4145 §4, with the
//! DTLS roles of RFC 5763 §5 and RFC 8842 §5).
//!
//! Both parsers are total: any text gives a value or an error naming what is
//! wrong, and never panics; lengths are bounded.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// Longest `a=fingerprint` value accepted, in bytes (a SHA-512 fingerprint
/// is 191 characters plus its hash name).
pub const MAX_FINGERPRINT_LEN: usize = 256;

/// A certificate fingerprint as carried in `a=fingerprint:sha-256 AB:CD:…`.
///
/// Sigil makes and checks SHA-256 fingerprints (RFC 8122 §5: SHA-256 is the
/// hash every endpoint must support). Fingerprints with another hash parse
/// (so that an offer carrying several is understood) but never match.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Fingerprint {
    algorithm: String,
    bytes: Vec<u8>,
}

/// Why an `a=fingerprint` or `a=setup` value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DtlsSdpError {
    /// The value is longer than [`MAX_FINGERPRINT_LEN`].
    #[error("a=fingerprint value is {len} bytes long, more than the {max} accepted")]
    TooLong {
        /// Length of the value.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The value is not `hash-func SP fingerprint`.
    #[error(
        "a=fingerprint must be '<hash function> <hex pairs separated by colons>', got {value:?}"
    )]
    Malformed {
        /// The value as given (a fingerprint is public: it may be shown).
        value: String,
    },
    /// A fingerprint byte is not two hexadecimal digits.
    #[error("a=fingerprint byte {position} ({pair:?}) is not two hexadecimal digits")]
    BadHex {
        /// 1-based position of the byte.
        position: usize,
        /// What was found.
        pair: String,
    },
    /// The hash is SHA-256 but the fingerprint does not have 32 bytes.
    #[error("an sha-256 fingerprint has 32 bytes, this one has {len}")]
    WrongLength {
        /// Bytes found.
        len: usize,
    },
    /// `a=setup` is not one of `active`, `passive`, `actpass`, `holdconn`.
    #[error("a=setup must be active, passive, actpass or holdconn, got {value:?}")]
    BadSetup {
        /// The value as given.
        value: String,
    },
}

impl Fingerprint {
    /// The SHA-256 fingerprint of a DER certificate.
    pub fn sha256_of(certificate_der: &[u8]) -> Fingerprint {
        Fingerprint {
            algorithm: "sha-256".to_owned(),
            bytes: Sha256::digest(certificate_der).to_vec(),
        }
    }

    /// The hash function name, lower case (`sha-256`).
    pub fn algorithm(&self) -> &str {
        &self.algorithm
    }

    /// The fingerprint bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Whether `certificate_der` has this fingerprint. Only SHA-256
    /// fingerprints can match.
    pub fn matches(&self, certificate_der: &[u8]) -> bool {
        self.algorithm == "sha-256" && *self == Fingerprint::sha256_of(certificate_der)
    }

    /// Parses an `a=fingerprint` value: a hash function name (RFC 8122 §5,
    /// case-insensitive), one or more spaces, then hex pairs joined by `:`.
    pub fn parse(value: &str) -> Result<Fingerprint, DtlsSdpError> {
        if value.len() > MAX_FINGERPRINT_LEN {
            return Err(DtlsSdpError::TooLong {
                len: value.len(),
                max: MAX_FINGERPRINT_LEN,
            });
        }
        let malformed = || DtlsSdpError::Malformed {
            value: value.to_owned(),
        };
        let mut parts = value.trim().split_ascii_whitespace();
        let (Some(algorithm), Some(hex), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(malformed());
        };
        let token_char = |c: char| c.is_ascii_alphanumeric() || "-_.!%*+`'~".contains(c);
        if !algorithm.chars().all(token_char) {
            return Err(malformed());
        }
        let mut bytes = Vec::with_capacity(64);
        for (i, pair) in hex.split(':').enumerate() {
            let byte = (pair.len() == 2)
                .then(|| u8::from_str_radix(pair, 16).ok())
                .flatten()
                .filter(|_| pair.bytes().all(|b| b.is_ascii_hexdigit()))
                .ok_or_else(|| DtlsSdpError::BadHex {
                    position: i + 1,
                    pair: pair.chars().take(8).collect(),
                })?;
            bytes.push(byte);
        }
        let algorithm = algorithm.to_ascii_lowercase();
        if algorithm == "sha-256" && bytes.len() != 32 {
            return Err(DtlsSdpError::WrongLength { len: bytes.len() });
        }
        Ok(Fingerprint { algorithm, bytes })
    }
}

impl fmt::Display for Fingerprint {
    /// `sha-256 AB:CD:…`, as written in `a=fingerprint` (upper-case hex, RFC 8122 §5).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.algorithm)?;
        for (i, b) in self.bytes.iter().enumerate() {
            write!(f, "{}{b:02X}", if i == 0 { ' ' } else { ':' })?;
        }
        Ok(())
    }
}

impl fmt::Debug for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Fingerprint({self})")
    }
}

impl FromStr for Fingerprint {
    type Err = DtlsSdpError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Fingerprint::parse(s)
    }
}

/// `a=setup` (RFC 4145 §4): which side opens the DTLS association.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Setup {
    /// `active`: this side is the DTLS client.
    Active,
    /// `passive`: this side is the DTLS server.
    Passive,
    /// `actpass`: either; an offerer must use it (RFC 8842 §5.2), the
    /// answerer then picks `active` or `passive`.
    Actpass,
    /// `holdconn`: no association for now.
    Holdconn,
}

impl Setup {
    /// The attribute value.
    pub const fn name(self) -> &'static str {
        match self {
            Setup::Active => "active",
            Setup::Passive => "passive",
            Setup::Actpass => "actpass",
            Setup::Holdconn => "holdconn",
        }
    }

    /// What an answerer says to an offer with `offered`: `active` unless the
    /// offerer insists on being active (RFC 5763 §5: an answerer SHOULD be
    /// active). `None` for `holdconn`.
    pub const fn answer_to(offered: Setup) -> Option<Setup> {
        match offered {
            Setup::Actpass | Setup::Passive => Some(Setup::Active),
            Setup::Active => Some(Setup::Passive),
            Setup::Holdconn => None,
        }
    }

    /// Whether the side that says this is the DTLS client. `actpass` and
    /// `holdconn` decide nothing.
    pub const fn is_client(self) -> Option<bool> {
        match self {
            Setup::Active => Some(true),
            Setup::Passive => Some(false),
            Setup::Actpass | Setup::Holdconn => None,
        }
    }
}

impl fmt::Display for Setup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Setup {
    type Err = DtlsSdpError;
    /// Parses an `a=setup` value (case-insensitive, surrounding spaces allowed).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        [
            Setup::Active,
            Setup::Passive,
            Setup::Actpass,
            Setup::Holdconn,
        ]
        .into_iter()
        .find(|setup| setup.name().eq_ignore_ascii_case(t))
        .ok_or_else(|| DtlsSdpError::BadSetup {
            value: s.chars().take(32).collect(),
        })
    }
}
