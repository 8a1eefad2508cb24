//! Key parameters: the `inline:` key‖salt with its optional lifetime and MKI.

use std::fmt;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::MAX_MKI_LEN;
use crate::key::MasterKey;

/// A master key lifetime, kept in the form it was written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Lifetime {
    /// `2^n` packets.
    PowerOfTwo(u8),
    /// A decimal packet count.
    Packets(u64),
}

impl Lifetime {
    /// The lifetime in packets (saturating at `u64::MAX` for `2^64` and above).
    pub fn packets(self) -> u64 {
        match self {
            Lifetime::PowerOfTwo(n) => 1u64.checked_shl(u32::from(n)).unwrap_or(u64::MAX),
            Lifetime::Packets(n) => n,
        }
    }
}

/// A master key identifier as written in SDES: a decimal value and a length in
/// bytes (the MKI field carried in each packet is the value, big-endian, in
/// that many bytes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mki {
    /// The MKI value.
    pub value: u64,
    /// Length of the MKI field in packets, in bytes (1..=128).
    pub length: u8,
}

impl Mki {
    /// The MKI field bytes, if the length is one Sigil supports
    /// ([`MAX_MKI_LEN`] bytes at most).
    pub fn to_bytes(self) -> Option<Vec<u8>> {
        if self.length == 0 || self.length > MAX_MKI_LEN {
            return None;
        }
        let bytes = self.value.to_be_bytes();
        // ok: length is 1..=4 here, so the split point is 4..=7, inside the 8 bytes.
        let (high, low) = bytes.split_at(bytes.len() - usize::from(self.length));
        if high.iter().any(|&b| b != 0) {
            return None;
        }
        Some(low.to_vec())
    }

    /// The SDES form of MKI bytes (1 to 8 bytes).
    pub fn from_bytes(bytes: &[u8]) -> Option<Mki> {
        if bytes.is_empty() || bytes.len() > 8 {
            return None;
        }
        let value = bytes.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        Some(Mki {
            value,
            length: u8::try_from(bytes.len()).ok()?,
        })
    }

    pub(super) fn fits(self) -> bool {
        self.length >= 8 || self.value >> (u32::from(self.length) * 8) == 0
    }
}

/// One `inline:` key parameter: decoded key‖salt, optional lifetime and MKI.
///
/// The key bytes are zeroized on drop and never shown by `Debug`.
#[derive(Clone)]
pub struct KeyParam {
    pub(super) key_salt: Zeroizing<Vec<u8>>,
    /// The master key lifetime, if stated.
    pub lifetime: Option<Lifetime>,
    /// The MKI, if stated.
    pub mki: Option<Mki>,
}

impl KeyParam {
    /// A key parameter from raw key‖salt bytes.
    pub fn new(key_salt: &[u8]) -> Self {
        KeyParam {
            key_salt: Zeroizing::new(key_salt.to_vec()),
            lifetime: None,
            mki: None,
        }
    }

    /// The key parameter that announces `key` (its MKI included, if any).
    pub fn from_master_key(key: &MasterKey) -> Self {
        KeyParam {
            key_salt: key.to_inline(),
            lifetime: None,
            mki: key.mki().and_then(Mki::from_bytes),
        }
    }

    /// The decoded key‖salt bytes.
    pub fn key_salt(&self) -> &[u8] {
        &self.key_salt
    }
}

impl PartialEq for KeyParam {
    fn eq(&self, other: &Self) -> bool {
        bool::from(self.key_salt.as_slice().ct_eq(other.key_salt.as_slice()))
            && self.lifetime == other.lifetime
            && self.mki == other.mki
    }
}

impl Eq for KeyParam {}

impl fmt::Debug for KeyParam {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyParam")
            .field(
                "key_salt",
                &format_args!("<{} bytes redacted>", self.key_salt.len()),
            )
            .field("lifetime", &self.lifetime)
            .field("mki", &self.mki)
            .finish()
    }
}
