//! Session parameters of RFC 4568 §6.3 (`KDR=`, `UNENCRYPTED_SRTP`, `WSH=` …).

use super::KeyParam;

/// The order of FEC and SRTP processing (`FEC_ORDER=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FecOrder {
    /// `FEC_SRTP`: FEC is applied before SRTP (the default).
    FecSrtp,
    /// `SRTP_FEC`: FEC is applied after SRTP.
    SrtpFec,
}

/// One SRTP session parameter of RFC 4568 §6.3.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionParam {
    /// `KDR=n`: key derivation rate 2^n packets (n in 0..=24).
    Kdr(u8),
    /// `UNENCRYPTED_SRTP`: SRTP payloads are not encrypted.
    UnencryptedSrtp,
    /// `UNENCRYPTED_SRTCP`: SRTCP packets are not encrypted.
    UnencryptedSrtcp,
    /// `UNAUTHENTICATED_SRTP`: SRTP packets carry no authentication tag.
    UnauthenticatedSrtp,
    /// `FEC_ORDER=`: order of FEC and SRTP processing.
    FecOrder(FecOrder),
    /// `FEC_KEY=`: separate master keys for the FEC stream.
    FecKey(Vec<KeyParam>),
    /// `WSH=n`: replay window size hint, at least 64.
    Wsh(u32),
    /// Anything else, as written. A leading `-` marks it optional.
    Extension(String),
}

impl SessionParam {
    /// Whether this is an unknown parameter marked optional with a leading `-`.
    pub fn is_optional_extension(&self) -> bool {
        matches!(self, SessionParam::Extension(name) if name.starts_with('-'))
    }
}
