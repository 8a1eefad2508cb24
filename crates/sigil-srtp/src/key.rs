//! Master keys: the secret from which SRTP session keys are derived.

use std::fmt;

use zeroize::{Zeroize, ZeroizeOnDrop};

use crate::Suite;

/// A master key and master salt for one suite, optionally with a master key
/// identifier (MKI) carried in each packet.
///
/// The bytes are wiped when the value is dropped and never appear in `Debug`.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct MasterKey {
    key: Vec<u8>,
    salt: Vec<u8>,
    #[zeroize(skip)]
    mki: Option<Vec<u8>>,
}

/// The key material does not fit the suite.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The master key or master salt has the wrong length for the suite.
    #[error("{suite} needs {expected} bytes of master key and salt, got {actual}")]
    WrongLength {
        /// The suite the key was meant for.
        suite: Suite,
        /// Key length plus salt length the suite requires.
        expected: usize,
        /// What was given.
        actual: usize,
    },
    /// The MKI is empty or longer than 4 bytes.
    #[error("an MKI must be 1 to 4 bytes long, got {0}")]
    MkiLength(usize),
}

impl MasterKey {
    /// Builds a master key from separate key and salt bytes.
    pub fn new(suite: Suite, key: &[u8], salt: &[u8]) -> Result<Self, KeyError> {
        if key.len() != suite.key_len() || salt.len() != suite.salt_len() {
            return Err(KeyError::WrongLength {
                suite,
                expected: suite.inline_len(),
                actual: key.len() + salt.len(),
            });
        }
        Ok(MasterKey {
            key: key.to_vec(),
            salt: salt.to_vec(),
            mki: None,
        })
    }

    /// Builds a master key from SDES `inline:` material: key followed by salt.
    pub fn from_inline(suite: Suite, key_and_salt: &[u8]) -> Result<Self, KeyError> {
        if key_and_salt.len() != suite.inline_len() {
            return Err(KeyError::WrongLength {
                suite,
                expected: suite.inline_len(),
                actual: key_and_salt.len(),
            });
        }
        let (key, salt) = key_and_salt.split_at(suite.key_len());
        Self::new(suite, key, salt)
    }

    /// Attaches a master key identifier (1 to 4 bytes) to this key.
    pub fn with_mki(mut self, mki: &[u8]) -> Result<Self, KeyError> {
        if mki.is_empty() || mki.len() > 4 {
            return Err(KeyError::MkiLength(mki.len()));
        }
        self.mki = Some(mki.to_vec());
        Ok(self)
    }

    /// The master key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// The master salt bytes.
    pub fn salt(&self) -> &[u8] {
        &self.salt
    }

    /// The master key identifier, if any.
    pub fn mki(&self) -> Option<&[u8]> {
        self.mki.as_deref()
    }

    /// Key followed by salt, as carried in SDES `inline:` (the caller should
    /// zeroize the result when done).
    pub fn to_inline(&self) -> zeroize::Zeroizing<Vec<u8>> {
        let mut out = zeroize::Zeroizing::new(Vec::with_capacity(self.key.len() + self.salt.len()));
        out.extend_from_slice(&self.key);
        out.extend_from_slice(&self.salt);
        out
    }
}

impl fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MasterKey")
            .field("key", &format_args!("<{} bytes redacted>", self.key.len()))
            .field(
                "salt",
                &format_args!("<{} bytes redacted>", self.salt.len()),
            )
            .field("mki", &self.mki)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_key_bytes() {
        let key = MasterKey::from_inline(Suite::AesCm128HmacSha1_80, &[0xab; 30]).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.contains("ab") && !shown.contains("171"), "{shown}");
    }

    #[test]
    fn lengths_are_checked() {
        assert!(MasterKey::from_inline(Suite::AesCm128HmacSha1_80, &[0; 46]).is_err());
        assert!(MasterKey::from_inline(Suite::Aes256CmHmacSha1_80, &[0; 46]).is_ok());
        let key = MasterKey::from_inline(Suite::AesCm128HmacSha1_80, &[0; 30]).unwrap();
        assert_eq!(
            key.clone().with_mki(&[]).unwrap_err(),
            KeyError::MkiLength(0)
        );
        assert_eq!(
            key.with_mki(&[1, 2, 3, 4, 5]).unwrap_err(),
            KeyError::MkiLength(5)
        );
    }
}
