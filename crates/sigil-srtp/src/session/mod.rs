//! SRTP/SRTCP sessions: one direction, one policy, per-SSRC streams.

mod keys;
mod srtcp;
mod srtp;
mod stream;

use std::collections::HashMap;
use std::fmt;

use crate::buffer::PacketBuffer;
use crate::crypto::{Kdf, Kind};
use crate::policy::{Policy, Ssrc};
use crate::replay::Refusal;
use crate::{SrtpError, Suite};

use keys::{KeySlot, StreamEpochs};
use stream::Stream;

/// Whether a session protects (sends) or unprotects (receives).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Built by [`Session::outbound`]: `protect_*` only.
    Outbound,
    /// Built by [`Session::inbound`]: `unprotect_*` only.
    Inbound,
}

impl Direction {
    fn name(self) -> &'static str {
        match self {
            Direction::Outbound => "outbound",
            Direction::Inbound => "inbound",
        }
    }
}

const SRTCP_INDEX_LEN: usize = 4;

/// An MKI (at most 4 bytes) as a big-endian number.
fn mki_value(mki: &[u8]) -> u32 {
    mki.iter()
        .take(4)
        .fold(0, |acc, &b| (acc << 8) | u32::from(b))
}

fn refusal(refusal: Refusal, ssrc: u32, index: u64) -> SrtpError {
    match refusal {
        Refusal::Replayed => SrtpError::Replayed { ssrc, index },
        Refusal::TooOld => SrtpError::TooOld { ssrc, index },
    }
}

/// An SRTP/SRTCP session for one direction: it protects outgoing packets
/// ([`Session::outbound`]) or unprotects incoming ones ([`Session::inbound`]).
///
/// A session holds one stream per SSRC (roll-over counter, replay window,
/// SRTCP index). With [`Ssrc::Any`] a stream is created on the first packet of
/// each SSRC (inbound: only once that packet has authenticated), up to
/// [`Policy::with_max_streams`]. Session keys are derived once when the
/// session is built (and again every `kdr` packets with a non-zero key
/// derivation rate); the AES key schedules and HMAC pad states are kept, so a
/// packet costs only its AES-CM keystream and HMAC-SHA1 compressions (or,
/// for the AEAD suites, its AES-GCM pass).
///
/// The packet methods never allocate, except when a new stream is created.
/// Every key is wiped when the session is dropped; `Debug` shows no key bytes.
///
/// ```
/// use sigil_srtp::{MasterKey, Policy, Session, Suite};
/// let suite = Suite::AesCm128HmacSha1_80;
/// let key = MasterKey::from_inline(suite, &[7; 30])?;
/// let mut tx = Session::outbound(Policy::new(suite, key.clone()))?;
/// let mut rx = Session::inbound(Policy::new(suite, key))?;
///
/// let mut packet = vec![0x80, 0, 0, 1, 0, 0, 0, 0, 0xde, 0xca, 0xfb, 0xad];
/// packet.extend_from_slice(b"hello");
/// let plain = packet.clone();
/// tx.protect_rtp(&mut packet)?;
/// assert_eq!(packet.len(), plain.len() + tx.rtp_overhead());
/// rx.unprotect_rtp(&mut packet)?;
/// assert_eq!(packet, plain);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Session {
    direction: Direction,
    suite: Suite,
    ssrc: Ssrc,
    rtp_tag_len: usize,
    rtcp_tag_len: usize,
    /// AES-GCM (RFC 7714): tag before MKI, AEAD instead of AES-CM + HMAC.
    aead: bool,
    /// AEAD suites: room to keep a ciphertext while it is opened, so that a
    /// forged packet is left unchanged (empty for AES-CM).
    scratch: Vec<u8>,
    mki_len: usize,
    window: usize,
    /// log2 of the key derivation rate, or `None` for KDR 0.
    kdr_shift: Option<u32>,
    max_streams: usize,
    srtp_lifetime: u64,
    srtcp_lifetime: u64,
    keys: Vec<KeySlot>,
    active: usize,
    streams: Vec<Stream>,
    by_ssrc: HashMap<u32, usize>,
    last: usize,
    /// Keys derived for packets whose stream does not exist yet (inbound
    /// with [`Ssrc::Any`], non-zero KDR): an authentic packet's stream takes
    /// them over.
    new_streams: Option<Box<StreamEpochs>>,
    /// Session-key derivations run so far.
    derivations: u64,
}

impl fmt::Debug for Session {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Session")
            .field("direction", &self.direction)
            .field("suite", &self.suite)
            .field("ssrc", &self.ssrc)
            .field("master_keys", &self.keys.len())
            .field("mki_len", &self.mki_len)
            .field("replay_window", &self.window)
            .field("streams", &self.streams.len())
            .finish_non_exhaustive()
    }
}

impl Session {
    /// A session that protects packets sent with `policy`.
    pub fn outbound(policy: Policy) -> Result<Session, SrtpError> {
        Session::build(policy, Direction::Outbound)
    }

    /// A session that unprotects packets received with `policy`.
    pub fn inbound(policy: Policy) -> Result<Session, SrtpError> {
        Session::build(policy, Direction::Inbound)
    }

    fn build(policy: Policy, direction: Direction) -> Result<Session, SrtpError> {
        policy.validate()?;
        let suite = policy.suite;
        let keys = policy
            .keys
            .iter()
            .map(|key| {
                let kdf = Kdf::new(suite, key.key(), key.salt());
                let mut mki = [0u8; 4];
                if let Some(m) = key.mki() {
                    mki[..m.len()].copy_from_slice(m);
                }
                KeySlot {
                    mki,
                    rtp: kdf.session_keys(Kind::Srtp, 0),
                    rtcp: kdf.session_keys(Kind::Srtcp, 0),
                    kdf,
                    srtp_used: 0,
                    srtcp_used: 0,
                }
            })
            .collect();
        let mut session = Session {
            direction,
            suite,
            ssrc: policy.ssrc,
            rtp_tag_len: suite.rtp_tag_len(),
            rtcp_tag_len: suite.rtcp_tag_len(),
            aead: suite.is_aead(),
            scratch: if suite.is_aead() && direction == Direction::Inbound {
                vec![0; crate::gcm::RESTORE_LEN]
            } else {
                Vec::new()
            },
            mki_len: policy.mki_len(),
            window: policy.replay_window,
            kdr_shift: (policy.kdr != 0).then(|| policy.kdr.trailing_zeros()),
            max_streams: policy.max_streams,
            srtp_lifetime: policy.srtp_lifetime,
            srtcp_lifetime: policy.srtcp_lifetime,
            keys,
            active: 0,
            streams: Vec::new(),
            by_ssrc: HashMap::new(),
            last: 0,
            new_streams: (policy.kdr != 0).then(Box::default),
            // SRTP and SRTCP keys of epoch 0 for every master key, above.
            derivations: 2 * policy.keys.len() as u64,
        };
        if let Ssrc::Specific(ssrc) = policy.ssrc {
            session.add_stream(ssrc);
        }
        Ok(session)
    }

    /// How many times this session has derived session keys from a master
    /// key (RFC 3711 §4.3): twice per master key (SRTP and SRTCP) when it is
    /// built, and with a non-zero key derivation rate once more for each
    /// derivation epoch (r = index DIV kdr) a stream moves into, per stream
    /// and kind. Forged packets cost at most one derivation per epoch they
    /// claim, and never replace the keys in use.
    pub fn key_derivations(&self) -> u64 {
        self.derivations
    }

    /// Whether this session protects or unprotects.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The suite.
    pub fn suite(&self) -> Suite {
        self.suite
    }

    /// Bytes `protect_rtp` appends: MKI plus SRTP tag.
    pub fn rtp_overhead(&self) -> usize {
        self.mki_len + self.rtp_tag_len
    }

    /// Bytes `protect_rtcp` appends: E flag and SRTCP index, MKI and the
    /// tag (80 bits for AES-CM, 16 bytes for AES-GCM).
    pub fn rtcp_overhead(&self) -> usize {
        SRTCP_INDEX_LEN + self.mki_len + self.rtcp_tag_len
    }

    /// How many SSRC streams the session holds.
    pub fn stream_count(&self) -> usize {
        self.streams.len()
    }

    /// Chooses which master key (by position in the policy) protects from
    /// now on (outbound sessions; inbound ones follow each packet's MKI).
    pub fn select_key(&mut self, index: usize) -> Result<(), SrtpError> {
        if index >= self.keys.len() {
            return Err(SrtpError::NoSuchKey {
                index,
                count: self.keys.len(),
            });
        }
        self.active = index;
        Ok(())
    }

    /// Chooses the master key whose MKI is `mki` for protecting.
    pub fn select_key_by_mki(&mut self, mki: &[u8]) -> Result<(), SrtpError> {
        let index = self
            .keys
            .iter()
            .position(|slot| mki.len() == self.mki_len && slot.mki[..self.mki_len] == *mki)
            .ok_or(SrtpError::UnknownMki {
                mki: mki_value(mki),
            })?;
        self.active = index;
        Ok(())
    }

    /// Packets protected (outbound) or accepted (inbound) so far with master
    /// key `index`: (SRTP, SRTCP).
    pub fn key_usage(&self, index: usize) -> Option<(u64, u64)> {
        self.keys
            .get(index)
            .map(|slot| (slot.srtp_used, slot.srtcp_used))
    }

    fn check_direction(&self, wanted: Direction) -> Result<(), SrtpError> {
        if self.direction == wanted {
            Ok(())
        } else {
            Err(SrtpError::WrongDirection {
                direction: self.direction.name(),
            })
        }
    }

    /// The key slot named by the MKI at `mki` (the first slot without MKI).
    #[inline]
    fn slot_for_mki(&self, mki: &[u8]) -> Result<usize, SrtpError> {
        if self.mki_len == 0 {
            return Ok(0);
        }
        self.keys
            .iter()
            .position(|slot| slot.mki[..self.mki_len] == *mki)
            .ok_or(SrtpError::UnknownMki {
                mki: mki_value(mki),
            })
    }

    /// Runs `protect` (a `protect_*_slice`) on `packet` grown by `overhead`
    /// bytes and keeps the length it returns; on error `packet` is unchanged.
    #[inline(always)]
    fn protect_in_place<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
        overhead: usize,
        protect: impl FnOnce(&mut Self, &mut [u8], usize) -> Result<usize, SrtpError>,
    ) -> Result<(), SrtpError> {
        let len = packet.packet_len();
        packet.set_packet_len(len + overhead);
        match protect(self, packet.packet_bytes(), len) {
            Ok(n) => {
                packet.set_packet_len(n);
                Ok(())
            }
            Err(e) => {
                packet.set_packet_len(len);
                Err(e)
            }
        }
    }
}

/// Copies `packet` to the front of `out`, which the caller needs to be
/// `needed` bytes long (that is what a too-short `out` is told).
fn copy_into<'a>(
    packet: &[u8],
    out: &'a mut [u8],
    needed: usize,
) -> Result<&'a mut [u8], SrtpError> {
    let available = out.len();
    let dst = out
        .get_mut(..packet.len())
        .ok_or(SrtpError::BufferTooSmall { needed, available })?;
    dst.copy_from_slice(packet);
    Ok(dst)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::MasterKey;

    /// SRTP of `seq` (SSRC 0x11223344, 24-byte payload) built straight from
    /// RFC 3711: the session keys of epoch `seq >> shift` from the KDF, the
    /// AES-CM keystream, the HMAC over header, payload and ROC 0, an 80-bit
    /// tag. No session, no cache.
    fn reference_srtp(kdf: &Kdf, shift: u32, seq: u16) -> Vec<u8> {
        let crate::crypto::SessionKeys::Cm(keys) =
            kdf.session_keys(Kind::Srtp, u64::from(seq) >> shift)
        else {
            unreachable!("an AES-CM suite")
        };
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend((0..24u8).map(|i| i ^ seq as u8));
        let iv = keys.iv(0x1122_3344, u64::from(seq));
        keys.cipher.apply_keystream(&iv, &mut p[12..]);
        let tag = keys.auth.mac(&p, &[0; 4]);
        p.extend_from_slice(&tag[..10]);
        p
    }

    #[test]
    fn kdr_sessions_use_the_keys_of_each_packets_epoch() {
        let suite = Suite::AesCm128HmacSha1_80;
        let material: Vec<u8> = (0..30).map(|i| i * 7 + 1).collect();
        let kdf = Kdf::new(suite, &material[..16], &material[16..]);
        let key = MasterKey::from_inline(suite, &material).unwrap();
        let policy = Policy::new(suite, key).with_key_derivation_rate(8);
        let mut tx = Session::outbound(policy.clone()).unwrap();
        let mut rx = Session::inbound(policy).unwrap();
        for seq in 0..64u16 {
            let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0x11, 0x22, 0x33, 0x44];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p.extend((0..24u8).map(|i| i ^ seq as u8));
            tx.protect_rtp(&mut p).unwrap();
            assert_eq!(p, reference_srtp(&kdf, 3, seq), "protect seq {seq}");
        }
        // Receive out of order across epochs, with forgeries of other epochs
        // in between; every authentic packet decrypts.
        let order = [0u16, 9, 1, 17, 8, 10, 33, 16, 18, 2, 34, 63, 32, 62, 40];
        for seq in order {
            let mut forged = reference_srtp(&kdf, 3, seq.wrapping_add(24));
            if let Some(last) = forged.last_mut() {
                *last ^= 1;
            }
            assert!(rx.unprotect_rtp(&mut forged).is_err());
            let mut p = reference_srtp(&kdf, 3, seq);
            rx.unprotect_rtp(&mut p)
                .unwrap_or_else(|e| panic!("unprotect seq {seq}: {e}"));
            assert_eq!(
                &p[12..],
                (0..24u8).map(|i| i ^ seq as u8).collect::<Vec<_>>()
            );
        }
    }
}

#[cfg(test)]
mod rfc7714;
