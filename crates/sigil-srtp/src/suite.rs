//! The SRTP crypto suites of RFC 4568 and RFC 6188.

use std::fmt;
use std::str::FromStr;

/// An SRTP crypto suite, named as in SDES `a=crypto` lines.
///
/// All four use AES in counter mode for confidentiality and HMAC-SHA1 for
/// authentication; they differ in the AES key size and in the length of the
/// SRTP authentication tag. SRTCP always uses an 80-bit tag (RFC 3711 §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Suite {
    /// `AES_CM_128_HMAC_SHA1_80`: AES-128, 80-bit SRTP tag (RFC 4568).
    AesCm128HmacSha1_80,
    /// `AES_CM_128_HMAC_SHA1_32`: AES-128, 32-bit SRTP tag (RFC 4568).
    AesCm128HmacSha1_32,
    /// `AES_256_CM_HMAC_SHA1_80`: AES-256, 80-bit SRTP tag (RFC 6188).
    Aes256CmHmacSha1_80,
    /// `AES_256_CM_HMAC_SHA1_32`: AES-256, 32-bit SRTP tag (RFC 6188).
    Aes256CmHmacSha1_32,
}

impl Suite {
    /// Every supported suite, strongest first (the default preference order).
    pub const ALL: [Suite; 4] = [
        Suite::Aes256CmHmacSha1_80,
        Suite::AesCm128HmacSha1_80,
        Suite::Aes256CmHmacSha1_32,
        Suite::AesCm128HmacSha1_32,
    ];

    /// The RFC 4568 / RFC 6188 name, as written in `a=crypto`.
    pub const fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
            Suite::Aes256CmHmacSha1_80 => "AES_256_CM_HMAC_SHA1_80",
            Suite::Aes256CmHmacSha1_32 => "AES_256_CM_HMAC_SHA1_32",
        }
    }

    /// Length of the master key (and of the session encryption key) in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm128HmacSha1_32 => 16,
            Suite::Aes256CmHmacSha1_80 | Suite::Aes256CmHmacSha1_32 => 32,
        }
    }

    /// Length of the master salt (and of the session salt) in bytes: 112 bits.
    pub const fn salt_len(self) -> usize {
        14
    }

    /// Length of the SDES `inline:` key material: master key followed by master salt.
    pub const fn inline_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// Length of the SRTP authentication tag in bytes.
    pub const fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::Aes256CmHmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 | Suite::Aes256CmHmacSha1_32 => 4,
        }
    }

    /// Length of the SRTCP authentication tag in bytes (always 80 bits).
    pub const fn rtcp_tag_len(self) -> usize {
        10
    }

    /// Length of the session authentication key in bytes (HMAC-SHA1: 160 bits).
    pub const fn auth_key_len(self) -> usize {
        20
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The suite name is not one Sigil supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SRTP crypto suite {name:?} (supported: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AES_256_CM_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32)")]
pub struct UnknownSuite {
    /// The name as it was given.
    pub name: String,
}

impl FromStr for Suite {
    type Err = UnknownSuite;

    /// Parses an RFC 4568 / RFC 6188 suite name. Names are case-sensitive, as
    /// the SDES grammar makes them.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Suite::ALL
            .into_iter()
            .find(|suite| suite.name() == s)
            .ok_or_else(|| UnknownSuite { name: s.to_owned() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for suite in Suite::ALL {
            assert_eq!(suite.name().parse::<Suite>(), Ok(suite));
        }
        assert!("AES_CM_128_HMAC_SHA1_81".parse::<Suite>().is_err());
        assert!("aes_cm_128_hmac_sha1_80".parse::<Suite>().is_err());
    }

    #[test]
    fn lengths_follow_the_rfcs() {
        // RFC 4568 §6.2: 128-bit key, 112-bit salt → 30 bytes of inline key material.
        assert_eq!(Suite::AesCm128HmacSha1_80.inline_len(), 30);
        // RFC 6188 §4: 256-bit key, 112-bit salt → 46 bytes.
        assert_eq!(Suite::Aes256CmHmacSha1_32.inline_len(), 46);
        assert_eq!(Suite::AesCm128HmacSha1_32.rtp_tag_len(), 4);
        assert_eq!(Suite::AesCm128HmacSha1_32.rtcp_tag_len(), 10);
    }
}
