//! What a session protects with: suite, master keys, SSRC binding, replay
//! window, key derivation rate, key lifetime and stream bound.

use crate::{MasterKey, SrtpError, Suite};

/// Which SSRC(s) a session accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Ssrc {
    /// Any SSRC: a stream is created on first use of each SSRC, up to
    /// [`Policy::max_streams`] (libsrtp's `ssrc_any_inbound` /
    /// `ssrc_any_outbound`, depending on the session's direction).
    Any,
    /// Only this SSRC; packets with another SSRC are refused with
    /// [`SrtpError::SsrcMismatch`].
    Specific(u32),
}

/// Default replay window: 128 packets, as libsrtp.
pub const DEFAULT_REPLAY_WINDOW: usize = 128;
/// Smallest replay window accepted (RFC 3711 §3.3.2 asks for at least 64).
pub const MIN_REPLAY_WINDOW: usize = 64;
/// Largest replay window accepted.
pub const MAX_REPLAY_WINDOW: usize = 32768;
/// Default key lifetime for SRTP: 2^48 packets (RFC 3711 §9.2).
pub const DEFAULT_SRTP_LIFETIME: u64 = 1 << 48;
/// Default key lifetime for SRTCP: 2^31 packets (RFC 3711 §9.2).
pub const DEFAULT_SRTCP_LIFETIME: u64 = 1 << 31;
/// Default bound on the number of SSRC streams per session.
pub const DEFAULT_MAX_STREAMS: usize = 64;
/// Largest key derivation rate RFC 3711 §4.3.1 allows: 2^24.
pub const MAX_KDR: u64 = 1 << 24;

/// Everything a [`crate::Session`] needs: the suite, one or more master keys,
/// which SSRCs it serves and the protection parameters.
///
/// Build one with [`Policy::new`] and adjust it with the `with_*` methods:
///
/// ```
/// use sigil_srtp::{MasterKey, Policy, Session, Ssrc, Suite};
/// let suite = Suite::AesCm128HmacSha1_80;
/// let key = MasterKey::from_inline(suite, &[7; 30])?;
/// let policy = Policy::new(suite, key).with_ssrc(Ssrc::Specific(0xdecafbad));
/// let mut sender = Session::outbound(policy)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// With several master keys, every key must carry a distinct MKI of one
/// length: a sender protects with the first key (change it with
/// [`crate::Session::select_key`]); a receiver picks the key named by the MKI
/// of each packet.
#[derive(Debug, Clone)]
pub struct Policy {
    pub(crate) suite: Suite,
    pub(crate) keys: Vec<MasterKey>,
    pub(crate) ssrc: Ssrc,
    pub(crate) replay_window: usize,
    pub(crate) kdr: u64,
    pub(crate) srtp_lifetime: u64,
    pub(crate) srtcp_lifetime: u64,
    pub(crate) max_streams: usize,
}

impl Policy {
    /// A policy for `suite` with one master key, any SSRC, a 128-packet
    /// replay window, key derivation rate 0 (derive once), the RFC 3711 key
    /// lifetimes and at most [`DEFAULT_MAX_STREAMS`] streams.
    pub fn new(suite: Suite, key: MasterKey) -> Self {
        Policy {
            suite,
            keys: vec![key],
            ssrc: Ssrc::Any,
            replay_window: DEFAULT_REPLAY_WINDOW,
            kdr: 0,
            srtp_lifetime: DEFAULT_SRTP_LIFETIME,
            srtcp_lifetime: DEFAULT_SRTCP_LIFETIME,
            max_streams: DEFAULT_MAX_STREAMS,
        }
    }

    /// Adds another master key (it must carry an MKI, as must the others).
    pub fn with_key(mut self, key: MasterKey) -> Self {
        self.keys.push(key);
        self
    }

    /// Binds the policy to one SSRC, or to any.
    pub fn with_ssrc(mut self, ssrc: Ssrc) -> Self {
        self.ssrc = ssrc;
        self
    }

    /// Sets the replay window size in packets (64..=32768; checked when the
    /// session is built).
    pub fn with_replay_window(mut self, packets: usize) -> Self {
        self.replay_window = packets;
        self
    }

    /// Sets the key derivation rate: 0 derives the session keys once;
    /// a power of two `2^n` (n ≤ 24) re-derives them every `2^n` packets
    /// (checked when the session is built).
    pub fn with_key_derivation_rate(mut self, kdr: u64) -> Self {
        self.kdr = kdr;
        self
    }

    /// Sets the master key lifetime in packets, for SRTP and SRTCP alike (as
    /// the SDES `|2^n` lifetime does). The RFC 3711 maxima (2^48 SRTP,
    /// 2^31 SRTCP) still apply when smaller.
    pub fn with_lifetime(mut self, packets: u64) -> Self {
        self.srtp_lifetime = packets.min(DEFAULT_SRTP_LIFETIME);
        self.srtcp_lifetime = packets.min(DEFAULT_SRTCP_LIFETIME);
        self
    }

    /// Sets how many SSRC streams a session may hold (for [`Ssrc::Any`]).
    pub fn with_max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// The master keys, the one used for sending first.
    pub fn keys(&self) -> &[MasterKey] {
        &self.keys
    }

    /// The SSRC binding.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// The replay window size in packets.
    pub fn replay_window(&self) -> usize {
        self.replay_window
    }

    /// The key derivation rate (0 = derive once).
    pub fn key_derivation_rate(&self) -> u64 {
        self.kdr
    }

    /// The SRTP and SRTCP key lifetimes in packets.
    pub fn lifetimes(&self) -> (u64, u64) {
        (self.srtp_lifetime, self.srtcp_lifetime)
    }

    /// The bound on SSRC streams.
    pub fn max_streams(&self) -> usize {
        self.max_streams
    }

    /// The MKI length in bytes (0 when the keys carry none).
    pub fn mki_len(&self) -> usize {
        self.keys
            .first()
            .and_then(|key| key.mki())
            .map_or(0, <[u8]>::len)
    }

    /// Checks every rule a session relies on.
    pub fn validate(&self) -> Result<(), SrtpError> {
        let first = self.keys.first().ok_or(SrtpError::NoMasterKey)?;
        for (index, key) in self.keys.iter().enumerate() {
            if key.key().len() != self.suite.key_len() || key.salt().len() != self.suite.salt_len()
            {
                return Err(SrtpError::KeyMismatch {
                    index,
                    suite: self.suite,
                    source: crate::key::KeyError::WrongLength {
                        suite: self.suite,
                        expected: self.suite.inline_len(),
                        actual: key.key().len() + key.salt().len(),
                    },
                });
            }
        }
        let mki_len = first.mki().map_or(0, <[u8]>::len);
        if self.keys.len() > 1 && mki_len == 0 {
            return Err(SrtpError::MkiConflict {
                reason: "several master keys but the first has no MKI",
            });
        }
        for (i, key) in self.keys.iter().enumerate() {
            if key.mki().map_or(0, <[u8]>::len) != mki_len {
                return Err(SrtpError::MkiConflict {
                    reason: "MKIs of different lengths",
                });
            }
            if self.keys[..i].iter().any(|other| other.mki() == key.mki()) {
                return Err(SrtpError::MkiConflict {
                    reason: "two keys carry the same MKI",
                });
            }
        }
        if !(MIN_REPLAY_WINDOW..=MAX_REPLAY_WINDOW).contains(&self.replay_window) {
            return Err(SrtpError::ReplayWindowSize(self.replay_window));
        }
        if self.kdr != 0 && (!self.kdr.is_power_of_two() || self.kdr > MAX_KDR) {
            return Err(SrtpError::KeyDerivationRate(self.kdr));
        }
        if self.srtp_lifetime == 0 || self.srtcp_lifetime == 0 {
            return Err(SrtpError::ZeroLifetime);
        }
        if self.max_streams == 0 {
            return Err(SrtpError::ZeroStreamLimit);
        }
        Ok(())
    }
}
