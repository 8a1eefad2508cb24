//! The status every entry point returns, its text (`sigil_strerror`) and
//! the mapping from the Rust crates' errors.

use std::ffi::{c_char, c_int};

use sigil_srtp::SrtpError;

/// What an entry point returns: `SIGIL_STATUS_OK` (0) or the reason it
/// failed. `sigil_strerror` gives a sentence for each.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SigilStatus {
    /// Success.
    Ok = 0,
    /// A pointer that must not be NULL was NULL.
    NullPointer = 1,
    /// An argument is out of range, not UTF-8, or not one of the names or
    /// constants the function takes.
    InvalidArgument = 2,
    /// A caller's buffer is too small: for text, `len` says how many bytes
    /// (plus one for the NUL) are needed.
    BufferTooSmall = 3,
    /// An internal error: a Rust panic was caught. A mutable handle it
    /// happened on is poisoned; free it.
    Panic = 4,
    /// The handle is unusable after an earlier `SIGIL_STATUS_PANIC`; free it.
    Poisoned = 5,
    /// The suite name is not one Sigil supports.
    UnknownSuite = 10,
    /// The master key and salt do not have the suite's length, or the MKI is
    /// not 1 to 4 bytes.
    BadKey = 11,
    /// The `a=crypto` line is malformed or cannot be honoured.
    BadCryptoLine = 12,
    /// The SRTP parameters are inconsistent (MKIs, replay window, key
    /// derivation rate, lifetime).
    BadPolicy = 13,
    /// No stream for the packet's SSRC and no default (any-SSRC) key.
    NoStream = 14,
    /// A stream for this SSRC exists already.
    StreamExists = 15,
    /// The packet is too short or its RTP/RTCP header is malformed.
    BadPacket = 16,
    /// Authentication failed: the packet was altered, forged or protected
    /// with another key or roll-over counter.
    AuthFail = 17,
    /// Replay: a packet with this index was already received.
    ReplayFail = 18,
    /// The packet is older than the replay window reaches back.
    ReplayOld = 19,
    /// The packet's MKI names none of the session's master keys.
    UnknownMki = 20,
    /// The master key has protected as many packets as its lifetime allows.
    KeyExpired = 21,
    /// The session already holds as many SSRC streams as allowed.
    StreamLimit = 22,
    /// Protect on an inbound session, or unprotect on an outbound one.
    WrongDirection = 23,
    /// The system random generator failed.
    Random = 24,
    /// The SDP cannot be parsed (or is larger than 64 KiB).
    SdpInvalid = 30,
    /// The offer is declined as a whole: answer 488 Not Acceptable Here.
    OfferRejected = 31,
    /// Policy Standard and the answer has no acceptable crypto line: end
    /// the call (ACK, then BYE).
    SrtpRequired = 32,
    /// The answer breaks the offer/answer rules: end the call.
    InvalidAnswer = 33,
    /// No offer is waiting for an answer.
    NoPendingOffer = 34,
    /// The SRTP settings cannot work (e.g. Standard over UDP without
    /// allowing insecure signaling, no suite).
    BadSettings = 35,
    /// The SDP given as our earlier offer is not one these settings make.
    NotOurOffer = 36,
    /// The server chain did not verify; the diagnosis says why.
    NotVerified = 40,
    /// A file or folder could not be read.
    Io = 41,
    /// The vendor chain file is not a usable certificate file.
    BadVendorChain = 42,
    /// The thing asked for does not exist (e.g. no MAC without a factory
    /// certificate, an index past the end).
    NotFound = 43,
    /// The configuration has errors; the report lists them.
    ConfigInvalid = 50,
}

impl SigilStatus {
    /// The sentence `sigil_strerror` returns, NUL-terminated.
    const fn message(self) -> &'static str {
        match self {
            SigilStatus::Ok => "success\0",
            SigilStatus::NullPointer => "a required pointer argument is NULL\0",
            SigilStatus::InvalidArgument => "an argument is out of range, not UTF-8 or not a known name or constant\0",
            SigilStatus::BufferTooSmall => "the caller's buffer is too small (see the text's len for the size needed)\0",
            SigilStatus::Panic => "internal error: a Rust panic was caught (the handle is poisoned; free it)\0",
            SigilStatus::Poisoned => "the handle is unusable after an earlier internal error; free it\0",
            SigilStatus::UnknownSuite => "unsupported SRTP crypto suite (supported: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AES_256_CM_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32, AEAD_AES_128_GCM, AEAD_AES_256_GCM)\0",
            SigilStatus::BadKey => "the master key and salt do not have the suite's length, or the MKI is not 1 to 4 bytes\0",
            SigilStatus::BadCryptoLine => "the a=crypto line is malformed or cannot be honoured\0",
            SigilStatus::BadPolicy => "inconsistent SRTP parameters (MKIs, replay window, key derivation rate or lifetime)\0",
            SigilStatus::NoStream => "no stream for this SSRC and no default key for any SSRC\0",
            SigilStatus::StreamExists => "a stream for this SSRC exists already\0",
            SigilStatus::BadPacket => "the packet is too short or its RTP/RTCP header is malformed\0",
            SigilStatus::AuthFail => "SRTP authentication failed (packet altered, wrong key or wrong roll-over counter)\0",
            SigilStatus::ReplayFail => "replayed packet: this index was already received\0",
            SigilStatus::ReplayOld => "packet too old: behind the replay window\0",
            SigilStatus::UnknownMki => "the packet's MKI names no master key of this session\0",
            SigilStatus::KeyExpired => "master key lifetime exhausted: negotiate a new key\0",
            SigilStatus::StreamLimit => "stream limit reached: the session holds as many SSRC streams as allowed\0",
            SigilStatus::WrongDirection => "wrong direction: protect needs an outbound session, unprotect an inbound one\0",
            SigilStatus::Random => "the system random generator failed\0",
            SigilStatus::SdpInvalid => "the SDP cannot be parsed or is too large\0",
            SigilStatus::OfferRejected => "the offer is declined: answer 488 Not Acceptable Here\0",
            SigilStatus::SrtpRequired => "SRTP required: the answer has no acceptable crypto line; end the call\0",
            SigilStatus::InvalidAnswer => "the answer breaks the offer/answer rules; end the call\0",
            SigilStatus::NoPendingOffer => "no offer is waiting for an answer\0",
            SigilStatus::BadSettings => "the SRTP settings cannot work (policy, transport or suites)\0",
            SigilStatus::NotOurOffer => "the SDP is not an offer these settings make\0",
            SigilStatus::NotVerified => "the server's certificate chain did not verify\0",
            SigilStatus::Io => "a file or folder could not be read\0",
            SigilStatus::BadVendorChain => "the vendor chain file is not a usable certificate file\0",
            SigilStatus::NotFound => "not found\0",
            SigilStatus::ConfigInvalid => "the configuration has errors\0",
        }
    }

    /// Every status, for `sigil_strerror` and the tests.
    pub const ALL: [SigilStatus; 33] = [
        SigilStatus::Ok,
        SigilStatus::NullPointer,
        SigilStatus::InvalidArgument,
        SigilStatus::BufferTooSmall,
        SigilStatus::Panic,
        SigilStatus::Poisoned,
        SigilStatus::UnknownSuite,
        SigilStatus::BadKey,
        SigilStatus::BadCryptoLine,
        SigilStatus::BadPolicy,
        SigilStatus::NoStream,
        SigilStatus::StreamExists,
        SigilStatus::BadPacket,
        SigilStatus::AuthFail,
        SigilStatus::ReplayFail,
        SigilStatus::ReplayOld,
        SigilStatus::UnknownMki,
        SigilStatus::KeyExpired,
        SigilStatus::StreamLimit,
        SigilStatus::WrongDirection,
        SigilStatus::Random,
        SigilStatus::SdpInvalid,
        SigilStatus::OfferRejected,
        SigilStatus::SrtpRequired,
        SigilStatus::InvalidAnswer,
        SigilStatus::NoPendingOffer,
        SigilStatus::BadSettings,
        SigilStatus::NotOurOffer,
        SigilStatus::NotVerified,
        SigilStatus::Io,
        SigilStatus::BadVendorChain,
        SigilStatus::NotFound,
        SigilStatus::ConfigInvalid,
    ];

    /// The sentence for this status, without the NUL.
    pub fn text(self) -> &'static str {
        self.message().trim_end_matches('\0')
    }
}

impl From<&SrtpError> for SigilStatus {
    fn from(error: &SrtpError) -> Self {
        match error {
            SrtpError::TooShort { .. } | SrtpError::BadHeader { .. } => SigilStatus::BadPacket,
            SrtpError::AuthFailed { .. } => SigilStatus::AuthFail,
            SrtpError::Replayed { .. } => SigilStatus::ReplayFail,
            SrtpError::TooOld { .. } => SigilStatus::ReplayOld,
            SrtpError::UnknownMki { .. } => SigilStatus::UnknownMki,
            SrtpError::LifetimeExhausted { .. } => SigilStatus::KeyExpired,
            SrtpError::StreamLimit { .. } => SigilStatus::StreamLimit,
            SrtpError::SsrcMismatch { .. } => SigilStatus::NoStream,
            SrtpError::BufferTooSmall { .. } => SigilStatus::BufferTooSmall,
            SrtpError::WrongDirection { .. } => SigilStatus::WrongDirection,
            SrtpError::KeyMismatch { .. } => SigilStatus::BadKey,
            _ => SigilStatus::BadPolicy,
        }
    }
}

/// A sentence saying what `status` means: a static NUL-terminated string,
/// never NULL, never to be freed. An unknown value gives "unknown status".
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn sigil_strerror(status: c_int) -> *const c_char {
    let found = SigilStatus::ALL
        .iter()
        .find(|s| **s as c_int == status)
        .map_or("unknown status\0", |s| s.message());
    found.as_ptr().cast()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_distinct_sentence() {
        let mut seen = std::collections::HashSet::new();
        for status in SigilStatus::ALL.iter().skip(1) {
            assert!(status.message().ends_with('\0'));
            assert!(!status.text().contains('\0'));
            seen.insert(status.text());
        }
        assert_eq!(seen.len(), SigilStatus::ALL.len() - 1);
    }
}
