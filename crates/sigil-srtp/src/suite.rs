//! The SRTP crypto suites of RFC 4568, RFC 6188 and RFC 7714.

use std::fmt;
use std::str::FromStr;

/// An SRTP crypto suite, named as in SDES `a=crypto` lines.
///
/// The four AES-CM suites use AES in counter mode for confidentiality and
/// HMAC-SHA1 for authentication; they differ in the AES key size and in the
/// length of the SRTP authentication tag, and SRTCP always uses an 80-bit tag
/// (RFC 3711 §3.4). The two AEAD suites (RFC 7714) use AES-GCM with a 16-byte
/// tag for SRTP and SRTCP alike, a 96-bit salt and no separate
/// authentication key.
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
    /// `AEAD_AES_128_GCM`: AES-128-GCM, 16-byte tag (RFC 7714).
    AeadAes128Gcm,
    /// `AEAD_AES_256_GCM`: AES-256-GCM, 16-byte tag (RFC 7714).
    AeadAes256Gcm,
}

impl Suite {
    /// Every supported suite, strongest first (the default preference order,
    /// as pjsip orders them: AEAD before AES-CM, 256 before 128, 80-bit tags
    /// before 32-bit ones).
    pub const ALL: [Suite; 6] = [
        Suite::AeadAes256Gcm,
        Suite::AeadAes128Gcm,
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
            Suite::AeadAes128Gcm => "AEAD_AES_128_GCM",
            Suite::AeadAes256Gcm => "AEAD_AES_256_GCM",
        }
    }

    /// Whether the suite is an AEAD (AES-GCM, RFC 7714) rather than AES-CM
    /// with HMAC-SHA1.
    pub const fn is_aead(self) -> bool {
        matches!(self, Suite::AeadAes128Gcm | Suite::AeadAes256Gcm)
    }

    /// Length of the master key (and of the session encryption key) in bytes.
    pub const fn key_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::AesCm128HmacSha1_32 | Suite::AeadAes128Gcm => 16,
            Suite::Aes256CmHmacSha1_80 | Suite::Aes256CmHmacSha1_32 | Suite::AeadAes256Gcm => 32,
        }
    }

    /// Length of the master salt (and of the session salt) in bytes: 112 bits
    /// for AES-CM (RFC 3711), 96 bits for AES-GCM (RFC 7714 §11).
    pub const fn salt_len(self) -> usize {
        if self.is_aead() {
            12
        } else {
            14
        }
    }

    /// Length of the SDES `inline:` key material: master key followed by master salt.
    pub const fn inline_len(self) -> usize {
        self.key_len() + self.salt_len()
    }

    /// Length of the SRTP authentication tag in bytes (for AES-GCM the
    /// AEAD tag that ends the ciphertext).
    pub const fn rtp_tag_len(self) -> usize {
        match self {
            Suite::AesCm128HmacSha1_80 | Suite::Aes256CmHmacSha1_80 => 10,
            Suite::AesCm128HmacSha1_32 | Suite::Aes256CmHmacSha1_32 => 4,
            Suite::AeadAes128Gcm | Suite::AeadAes256Gcm => 16,
        }
    }

    /// Length of the SRTCP authentication tag in bytes (80 bits for AES-CM,
    /// the 16-byte AEAD tag for AES-GCM).
    pub const fn rtcp_tag_len(self) -> usize {
        if self.is_aead() {
            16
        } else {
            10
        }
    }

    /// Length of the session authentication key in bytes (HMAC-SHA1: 160
    /// bits; none for AES-GCM, whose tag comes from the cipher key).
    pub const fn auth_key_len(self) -> usize {
        if self.is_aead() {
            0
        } else {
            20
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The suite name is not one Sigil supports.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unsupported SRTP crypto suite {name:?} (supported: AEAD_AES_256_GCM, AEAD_AES_128_GCM, AES_256_CM_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_32)")]
pub struct UnknownSuite {
    /// The name as it was given.
    pub name: String,
}

impl FromStr for Suite {
    type Err = UnknownSuite;

    /// Parses an RFC 4568 / RFC 6188 / RFC 7714 suite name. Names are case-sensitive, as
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
        // RFC 7714 §14.1 (SDES) and §14.2 (the DTLS-SRTP profiles' transform
        // parameters): 128/256-bit key, 96-bit salt, 16-octet tag.
        assert_eq!(Suite::AeadAes128Gcm.inline_len(), 28);
        assert_eq!(Suite::AeadAes256Gcm.inline_len(), 44);
        assert_eq!(Suite::AeadAes128Gcm.rtp_tag_len(), 16);
        assert_eq!(Suite::AeadAes256Gcm.rtcp_tag_len(), 16);
        assert_eq!("AEAD_AES_256_GCM".parse(), Ok(Suite::AeadAes256Gcm));
    }
}
