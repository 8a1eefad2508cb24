//! The errors of SRTP and SRTCP processing.

use crate::key::KeyError;
use crate::Suite;

/// Why a policy could not be built, or why a packet could not be protected or
/// unprotected.
///
/// Packet errors never carry key material; they carry the SSRC and packet
/// index where that helps an integrator find the stream at fault.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SrtpError {
    /// The packet is shorter than its headers, trailer and tag require.
    #[error("packet too short: {len} bytes, at least {needed} needed")]
    TooShort {
        /// Length of the packet as given.
        len: usize,
        /// Minimum length for this kind of packet under this policy.
        needed: usize,
    },
    /// The RTP or RTCP header is malformed (wrong version, header longer than
    /// the packet, ...).
    #[error("malformed {kind} header: {reason}")]
    BadHeader {
        /// `"RTP"` or `"RTCP"`.
        kind: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The authentication tag does not match: the packet was altered, forged,
    /// or protected with another key (or another roll-over counter).
    #[error(
        "authentication failed for SSRC {ssrc:#010x} (packet altered, wrong key or wrong ROC)"
    )]
    AuthFailed {
        /// SSRC named in the packet header.
        ssrc: u32,
    },
    /// A packet with this index was already accepted on this stream.
    #[error("replayed packet: SSRC {ssrc:#010x} index {index} was already received")]
    Replayed {
        /// SSRC of the stream.
        ssrc: u32,
        /// The packet index (48-bit SRTP index or 31-bit SRTCP index).
        index: u64,
    },
    /// The packet is older than the replay window reaches back.
    #[error("packet too old: SSRC {ssrc:#010x} index {index} is behind the replay window")]
    TooOld {
        /// SSRC of the stream.
        ssrc: u32,
        /// The packet index (48-bit SRTP index or 31-bit SRTCP index).
        index: u64,
    },
    /// The packet carries a master key identifier that matches none of the
    /// policy's master keys.
    #[error("unknown MKI {mki} ({mki:#x}): no master key of this session has it")]
    UnknownMki {
        /// The MKI found in the packet, as the big-endian number SDES writes
        /// in `|MKI:len` (at most 4 bytes).
        mki: u32,
    },
    /// The master key has protected or unprotected as many packets as its
    /// lifetime allows; a new key must be negotiated (RFC 3711 §9.2).
    #[error("master key lifetime exhausted after {packets} {kind} packets: negotiate a new key")]
    LifetimeExhausted {
        /// `"SRTP"` or `"SRTCP"`.
        kind: &'static str,
        /// The lifetime that was reached.
        packets: u64,
    },
    /// A packet for a new SSRC arrived but the session already holds as many
    /// streams as its policy allows.
    #[error("stream limit reached: the session already has {limit} SSRC streams")]
    StreamLimit {
        /// The policy's `max_streams`.
        limit: usize,
    },
    /// The packet's SSRC is not the one the policy is bound to.
    #[error("SSRC {got:#010x} does not match the policy's SSRC {expected:#010x}")]
    SsrcMismatch {
        /// The SSRC the policy names.
        expected: u32,
        /// The SSRC found in the packet.
        got: u32,
    },
    /// The output buffer cannot hold the result.
    #[error("output buffer too small: {needed} bytes needed, {available} available")]
    BufferTooSmall {
        /// Bytes the result needs.
        needed: usize,
        /// Bytes the buffer has.
        available: usize,
    },
    /// `protect_*` was called on a session built with [`crate::Session::inbound`],
    /// or `unprotect_*` on one built with [`crate::Session::outbound`].
    #[error("this session is for {direction} packets only")]
    WrongDirection {
        /// `"inbound"` or `"outbound"`: what the session was built for.
        direction: &'static str,
    },
    /// [`crate::Session::select_key`] named a key the policy does not have.
    #[error("no master key number {index}: the policy has {count}")]
    NoSuchKey {
        /// The position asked for.
        index: usize,
        /// How many master keys the policy has.
        count: usize,
    },
    /// The policy has no master key.
    #[error("an SRTP policy needs at least one master key")]
    NoMasterKey,
    /// A master key does not fit the policy's suite.
    #[error("master key {index} does not fit {suite}: {source}")]
    KeyMismatch {
        /// Position of the key in the policy (0 = the first).
        index: usize,
        /// The policy's suite.
        suite: Suite,
        /// What is wrong with it.
        source: KeyError,
    },
    /// Several master keys were given but they do not all carry an MKI of the
    /// same length, or two carry the same MKI.
    #[error("master keys need distinct MKIs of one length when a policy has several keys or any key has an MKI: {reason}")]
    MkiConflict {
        /// What is wrong.
        reason: &'static str,
    },
    /// The replay window size is outside 64..=32768.
    #[error("replay window size {0} is outside 64..=32768")]
    ReplayWindowSize(usize),
    /// The key derivation rate is neither 0 nor a power of two up to 2^24
    /// (RFC 3711 §4.3.1).
    #[error("key derivation rate {0} is not 0 or a power of two up to 2^24")]
    KeyDerivationRate(u64),
    /// A key lifetime of zero packets was given.
    #[error("a key lifetime must be at least one packet")]
    ZeroLifetime,
    /// The stream limit is zero.
    #[error("the stream limit must be at least 1")]
    ZeroStreamLimit,
}
