//! SRTP/SRTCP sessions: one direction, one policy, per-SSRC streams.

use std::collections::HashMap;
use std::fmt;

use subtle::ConstantTimeEq;

use crate::buffer::PacketBuffer;
use crate::crypto::{Kdf, Kind, SessionKeys};
use crate::policy::{Policy, Ssrc};
use crate::replay::{Refusal, ReplayWindow};
use crate::{SrtpError, Suite};

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

const SRTCP_TAG_LEN: usize = 10;
const SRTCP_INDEX_LEN: usize = 4;
const SRTCP_MAX_INDEX: u64 = 1 << 31;
const RTP_HEADER_LEN: usize = 12;
const RTCP_HEADER_LEN: usize = 8;

/// One master key with its derived session keys and usage counters.
struct KeySlot {
    mki: [u8; 4],
    kdf: Kdf,
    rtp: SessionKeys,
    rtcp: SessionKeys,
    srtp_used: u64,
    srtcp_used: u64,
}

/// Session keys derived for master key `slot` and derivation epoch `r`
/// (r = index DIV kdr) under a non-zero key derivation rate.
#[derive(Clone)]
struct Derived {
    slot: usize,
    r: u64,
    keys: SessionKeys,
}

/// Which of the two places of an [`EpochKeys`] holds the keys a packet uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    Current,
    Scratch,
}

/// The derived session keys of one stream and kind (SRTP or SRTCP) under a
/// non-zero key derivation rate: at most one derivation per epoch change,
/// whatever arrives.
///
/// `current` holds the keys of the newest epoch a packet was protected in or
/// authenticated in. Keys of any other epoch are derived into `scratch` and
/// stay there until a packet that uses them authenticates: only then does
/// [`EpochKeys::commit`] make them current (the previous current keys move to
/// `scratch`, where late packets of the previous epoch find them). A forged
/// packet therefore never replaces the keys in use, and a run of forged
/// packets claiming one epoch finds that epoch's keys in `scratch` after the
/// first. Derived keys depend only on the master key and the epoch, so
/// keeping them after a failed packet is safe.
///
/// Allocated with the stream (or the session), so the packet path never
/// allocates; replaced keys are wiped when dropped.
#[derive(Default)]
struct EpochKeys {
    current: Option<Derived>,
    scratch: Option<Derived>,
}

impl EpochKeys {
    /// The keys of (`slot`, `r`) and where they are, derived into the
    /// scratch place first when neither place holds them.
    fn locate(
        &mut self,
        slot: usize,
        r: u64,
        derive: impl FnOnce() -> SessionKeys,
    ) -> (&SessionKeys, Place) {
        let holds = |d: &Derived| d.slot == slot && d.r == r;
        if let Some(d) = self.current.as_ref().filter(|d| holds(d)) {
            return (&d.keys, Place::Current);
        }
        if !self.scratch.as_ref().is_some_and(holds) {
            // Wipes the keys of the epoch held before.
            self.scratch = None;
        }
        let d = self.scratch.get_or_insert_with(|| Derived {
            slot,
            r,
            keys: derive(),
        });
        (&d.keys, Place::Scratch)
    }

    /// The keys at `place`, if any.
    fn get(&self, place: Place) -> Option<&Derived> {
        match place {
            Place::Current => self.current.as_ref(),
            Place::Scratch => self.scratch.as_ref(),
        }
    }

    /// Called once the packet that used the keys at `place` was protected or
    /// authenticated: keys of an epoch at least as new as the current one
    /// become current.
    fn commit(&mut self, place: Place) {
        if place != Place::Scratch {
            return;
        }
        let newer = match (&self.current, &self.scratch) {
            (_, None) => false,
            (None, Some(_)) => true,
            (Some(current), Some(scratch)) => scratch.r >= current.r,
        };
        if newer {
            std::mem::swap(&mut self.current, &mut self.scratch);
        }
    }
}

/// The derived keys of one stream (or, in the session, of packets whose
/// stream does not exist yet), SRTP and SRTCP.
#[derive(Default)]
struct StreamEpochs {
    rtp: EpochKeys,
    rtcp: EpochKeys,
}

/// The state of one SSRC.
struct Stream {
    ssrc: u32,
    /// Accepted (or, outbound, sent) SRTP indices; its top is ROC ‖ s_l.
    rtp: ReplayWindow,
    /// ROC assumed before the first packet (set by [`Session::set_roc`]).
    roc_hint: u32,
    /// Inbound: accepted SRTCP indices.
    rtcp: ReplayWindow,
    /// Outbound: the next SRTCP index to send.
    rtcp_next: u64,
    /// Session keys of epochs other than 0 (only with a non-zero KDR).
    epochs: Option<Box<StreamEpochs>>,
}

impl Stream {
    fn new(ssrc: u32, window: usize, kdr: bool) -> Stream {
        Stream {
            ssrc,
            rtp: ReplayWindow::new(window),
            roc_hint: 0,
            rtcp: ReplayWindow::new(window),
            rtcp_next: 0,
            epochs: kdr.then(Box::default),
        }
    }
}

/// The session keys of `kind` for epoch `r` of master key `slot_index`: the
/// slot's own for epoch 0, else those `epochs` holds or derives (counted in
/// `derivations`). `spare` stands in for `epochs` when there is none (never
/// the case with a non-zero KDR, whose streams always have one).
#[inline]
fn keys_for<'a>(
    slot: &'a KeySlot,
    slot_index: usize,
    kind: Kind,
    r: u64,
    epochs: Option<&'a mut EpochKeys>,
    spare: &'a mut Option<EpochKeys>,
    derivations: &mut u64,
) -> (&'a SessionKeys, Option<Place>) {
    if r == 0 {
        let keys = match kind {
            Kind::Srtp => &slot.rtp,
            Kind::Srtcp => &slot.rtcp,
        };
        return (keys, None);
    }
    let epochs = match epochs {
        Some(epochs) => epochs,
        None => spare.insert(EpochKeys::default()),
    };
    let (keys, place) = epochs.locate(slot_index, r, || {
        *derivations += 1;
        slot.kdf.session_keys(kind, r)
    });
    (keys, Some(place))
}

/// RFC 3711 Appendix A: the index of a packet with sequence number `seq`
/// given the highest index seen so far (`None` before the first packet, when
/// `roc_hint` is the roll-over counter to assume). `None` when the estimate
/// runs past 2^48.
#[inline]
fn estimate_index(top: Option<u64>, roc_hint: u32, seq: u16) -> Option<u64> {
    let Some(top) = top else {
        return Some((u64::from(roc_hint) << 16) | u64::from(seq));
    };
    let roc = top >> 16;
    let s_l = (top & 0xffff) as u16;
    let v = if s_l < 0x8000 {
        if u32::from(seq) > u32::from(s_l) + 0x8000 {
            // ROC − 1; at ROC 0 there is no earlier cycle, so (as libsrtp
            // does) take it as a jump forward within cycle 0.
            roc.saturating_sub(1)
        } else {
            roc
        }
    } else if u32::from(s_l) - 0x8000 > u32::from(seq) {
        roc + 1
    } else {
        roc
    };
    if v > u64::from(u32::MAX) {
        return None;
    }
    Some((v << 16) | u64::from(seq))
}

/// Parses an RTP header: (header length, sequence number, SSRC).
#[inline]
fn rtp_header(packet: &[u8]) -> Result<(usize, u16, u32), SrtpError> {
    let (Some(&first), Some(seq), Some(ssrc)) =
        (packet.first(), packet.get(2..4), packet.get(8..12))
    else {
        return Err(SrtpError::TooShort {
            len: packet.len(),
            needed: RTP_HEADER_LEN,
        });
    };
    if first >> 6 != 2 {
        return Err(SrtpError::BadHeader {
            kind: "RTP",
            reason: "version is not 2",
        });
    }
    let seq = u16::from_be_bytes([seq[0], seq[1]]);
    let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
    let mut len = RTP_HEADER_LEN + 4 * usize::from(first & 0x0f);
    if first & 0x10 != 0 {
        let Some(ext) = packet.get(len + 2..len + 4) else {
            return Err(SrtpError::BadHeader {
                kind: "RTP",
                reason: "header extension runs past the end of the packet",
            });
        };
        len += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
    }
    if len > packet.len() {
        return Err(SrtpError::BadHeader {
            kind: "RTP",
            reason: "CSRC list or header extension runs past the end of the packet",
        });
    }
    Ok((len, seq, ssrc))
}

/// Parses the fixed RTCP header: the sender SSRC.
#[inline]
fn rtcp_ssrc(packet: &[u8]) -> Result<u32, SrtpError> {
    let (Some(&first), Some(ssrc)) = (packet.first(), packet.get(4..8)) else {
        return Err(SrtpError::TooShort {
            len: packet.len(),
            needed: RTCP_HEADER_LEN,
        });
    };
    if first >> 6 != 2 {
        return Err(SrtpError::BadHeader {
            kind: "RTCP",
            reason: "version is not 2",
        });
    }
    Ok(u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]))
}

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
/// packet costs only its AES-CM keystream and HMAC-SHA1 compressions.
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
    /// 80-bit tag.
    pub fn rtcp_overhead(&self) -> usize {
        SRTCP_INDEX_LEN + self.mki_len + SRTCP_TAG_LEN
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

    /// The roll-over counter of `ssrc`: the ROC of the highest packet index
    /// seen (or the value set with [`Session::set_roc`] before any packet).
    /// `None` when the session has no stream for `ssrc`.
    pub fn roc(&self, ssrc: u32) -> Option<u32> {
        let stream = self.streams.get(*self.by_ssrc.get(&ssrc)?)?;
        Some(match stream.rtp.top() {
            Some(top) => (top >> 16) as u32,
            None => stream.roc_hint,
        })
    }

    /// Sets the roll-over counter of `ssrc`, for a late joiner that learns it
    /// out of band (creating the stream if needed). On a stream that has
    /// already seen packets this keeps the highest sequence number, replaces
    /// its ROC and forgets the replay history.
    pub fn set_roc(&mut self, ssrc: u32, roc: u32) -> Result<(), SrtpError> {
        let index = self.stream_index(ssrc)?;
        if let Some(stream) = self.streams.get_mut(index) {
            match stream.rtp.top() {
                Some(top) => stream
                    .rtp
                    .reset(Some((u64::from(roc) << 16) | (top & 0xffff))),
                None => stream.roc_hint = roc,
            }
        }
        Ok(())
    }

    /// Packets protected (outbound) or accepted (inbound) so far with master
    /// key `index`: (SRTP, SRTCP).
    pub fn key_usage(&self, index: usize) -> Option<(u64, u64)> {
        self.keys
            .get(index)
            .map(|slot| (slot.srtp_used, slot.srtcp_used))
    }

    fn add_stream(&mut self, ssrc: u32) -> usize {
        let index = self.streams.len();
        self.streams
            .push(Stream::new(ssrc, self.window, self.kdr_shift.is_some()));
        self.by_ssrc.insert(ssrc, index);
        index
    }

    #[inline]
    fn find_stream(&mut self, ssrc: u32) -> Option<usize> {
        if self.streams.get(self.last).is_some_and(|s| s.ssrc == ssrc) {
            return Some(self.last);
        }
        let found = self.by_ssrc.get(&ssrc).copied();
        if let Some(index) = found {
            self.last = index;
        }
        found
    }

    /// The stream `ssrc` has, if any, once `ssrc` is checked against the
    /// policy and, for a new stream, against the stream limit.
    #[inline]
    fn admit(&mut self, ssrc: u32) -> Result<Option<usize>, SrtpError> {
        if let Ssrc::Specific(expected) = self.ssrc {
            if expected != ssrc {
                return Err(SrtpError::SsrcMismatch {
                    expected,
                    got: ssrc,
                });
            }
        }
        let existing = self.find_stream(ssrc);
        if existing.is_none() && self.streams.len() >= self.max_streams {
            return Err(SrtpError::StreamLimit {
                limit: self.max_streams,
            });
        }
        Ok(existing)
    }

    /// The stream for `ssrc`, checked as by [`Session::admit`]; created if new.
    #[inline]
    fn stream_index(&mut self, ssrc: u32) -> Result<usize, SrtpError> {
        if let Some(index) = self.admit(ssrc)? {
            return Ok(index);
        }
        let index = self.add_stream(ssrc);
        self.last = index;
        Ok(index)
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

    // ---------------------------------------------------------------- SRTP

    /// Protects the RTP packet in `buf[..len]` in place, writing the MKI and
    /// tag after it; `buf` must have [`Session::rtp_overhead`] spare bytes.
    /// Returns the SRTP packet length.
    pub fn protect_rtp_slice(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.check_direction(Direction::Outbound)?;
        let packet = buf.get(..len).ok_or(SrtpError::BufferTooSmall {
            needed: len,
            available: buf.len(),
        })?;
        let (header_len, seq, ssrc) = rtp_header(packet)?;
        let total = len + self.mki_len + self.rtp_tag_len;
        if buf.len() < total {
            return Err(SrtpError::BufferTooSmall {
                needed: total,
                available: buf.len(),
            });
        }
        let si = self.stream_index(ssrc)?;
        let slot_index = self.active;
        let r_shift = self.kdr_shift;
        let (Some(slot), Some(stream)) = (self.keys.get_mut(slot_index), self.streams.get_mut(si))
        else {
            return Err(SrtpError::NoMasterKey);
        };
        if slot.srtp_used >= self.srtp_lifetime {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTP",
                packets: self.srtp_lifetime,
            });
        }
        let index = estimate_index(stream.rtp.top(), stream.roc_hint, seq).ok_or(
            SrtpError::LifetimeExhausted {
                kind: "SRTP",
                packets: 1 << 48,
            },
        )?;
        stream
            .rtp
            .check(index)
            .map_err(|why| refusal(why, ssrc, index))?;
        let r = r_shift.map_or(0, |shift| index >> shift);
        let mut spare = None;
        let (keys, place) = keys_for(
            slot,
            slot_index,
            Kind::Srtp,
            r,
            stream.epochs.as_deref_mut().map(|e| &mut e.rtp),
            &mut spare,
            &mut self.derivations,
        );
        let iv = keys.iv(ssrc, index);
        let (head, trailer) = buf.split_at_mut(len);
        if let Some(payload) = head.get_mut(header_len..) {
            keys.cipher.apply_keystream(&iv, payload);
        }
        let roc = ((index >> 16) as u32).to_be_bytes();
        let tag = keys.auth.mac(head, &roc);
        let (mki, tag_out) = trailer.split_at_mut(self.mki_len);
        mki.copy_from_slice(&slot.mki[..self.mki_len]);
        if let (Some(out), Some(t)) = (
            tag_out.get_mut(..self.rtp_tag_len),
            tag.get(..self.rtp_tag_len),
        ) {
            out.copy_from_slice(t);
        }
        stream.rtp.accept(index);
        if let (Some(place), Some(epochs)) = (place, stream.epochs.as_deref_mut()) {
            epochs.rtp.commit(place);
        }
        slot.srtp_used += 1;
        Ok(total)
    }

    /// Unprotects the SRTP packet filling `buf` in place: checks replay and
    /// the tag, then decrypts. Returns the RTP packet length (the MKI and tag
    /// are left behind it). On error `buf` is unchanged.
    pub fn unprotect_rtp_slice(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        self.check_direction(Direction::Inbound)?;
        let len = buf.len();
        let trailer = self.mki_len + self.rtp_tag_len;
        let (header_len, seq, ssrc) = rtp_header(buf)?;
        if len < header_len + trailer {
            return Err(SrtpError::TooShort {
                len,
                needed: header_len + trailer,
            });
        }
        let end = len - trailer;
        let slot_index = self.slot_for_mki(&buf[end..end + self.mki_len])?;
        let existing = self.admit(ssrc)?;
        let Some(slot) = self.keys.get(slot_index) else {
            return Err(SrtpError::NoMasterKey);
        };
        if slot.srtp_used >= self.srtp_lifetime {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTP",
                packets: self.srtp_lifetime,
            });
        }
        let stream = existing.and_then(|i| self.streams.get_mut(i));
        let (top, hint) = stream
            .as_ref()
            .map_or((None, 0), |s| (s.rtp.top(), s.roc_hint));
        let index = estimate_index(top, hint, seq).ok_or(SrtpError::TooOld {
            ssrc,
            index: u64::from(seq),
        })?;
        if let Some(stream) = &stream {
            stream
                .rtp
                .check(index)
                .map_err(|why| refusal(why, ssrc, index))?;
        }
        let r = self.kdr_shift.map_or(0, |shift| index >> shift);
        // Keys of another epoch are looked up (or derived) in the stream's
        // scratch place and kept there until the packet authenticates.
        let epochs = match stream {
            Some(stream) => stream.epochs.as_deref_mut(),
            None => self.new_streams.as_deref_mut(),
        };
        let mut spare = None;
        let (keys, place) = keys_for(
            slot,
            slot_index,
            Kind::Srtp,
            r,
            epochs.map(|e| &mut e.rtp),
            &mut spare,
            &mut self.derivations,
        );
        let roc = ((index >> 16) as u32).to_be_bytes();
        let tag = keys.auth.mac(&buf[..end], &roc);
        let received = &buf[end + self.mki_len..];
        if !bool::from(tag[..self.rtp_tag_len].ct_eq(received)) {
            return Err(SrtpError::AuthFailed { ssrc });
        }
        let iv = keys.iv(ssrc, index);
        keys.cipher.apply_keystream(&iv, &mut buf[header_len..end]);
        // Authentic: now, and only now, move the stream's state.
        let si = match existing {
            Some(i) => i,
            None => self.stream_index(ssrc)?,
        };
        if let Some(stream) = self.streams.get_mut(si) {
            stream.rtp.accept(index);
            if let (Some(place), Some(epochs)) = (place, stream.epochs.as_deref_mut()) {
                match existing {
                    Some(_) => epochs.rtp.commit(place),
                    // A new stream starts with the keys its first packet authenticated with.
                    None => {
                        epochs.rtp.current = self
                            .new_streams
                            .as_deref()
                            .and_then(|n| n.rtp.get(place))
                            .cloned();
                    }
                }
            }
        }
        if let Some(slot) = self.keys.get_mut(slot_index) {
            slot.srtp_used += 1;
        }
        Ok(end)
    }

    /// Protects the RTP packet in `packet` in place, appending MKI and tag.
    /// No allocation when `packet` has [`Session::rtp_overhead`] spare
    /// capacity. On error `packet` is unchanged.
    pub fn protect_rtp<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
    ) -> Result<(), SrtpError> {
        let overhead = self.rtp_overhead();
        self.protect_in_place(packet, overhead, Self::protect_rtp_slice)
    }

    /// Unprotects the SRTP packet in `packet` in place, truncating MKI and
    /// tag. On error `packet` is unchanged.
    pub fn unprotect_rtp<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
    ) -> Result<(), SrtpError> {
        let n = self.unprotect_rtp_slice(packet.packet_bytes())?;
        packet.set_packet_len(n);
        Ok(())
    }

    /// Protects `packet` into `out` (which needs `packet.len()` +
    /// [`Session::rtp_overhead`] bytes); returns the SRTP length.
    pub fn protect_rtp_into(&mut self, packet: &[u8], out: &mut [u8]) -> Result<usize, SrtpError> {
        copy_into(packet, out, packet.len() + self.rtp_overhead())?;
        self.protect_rtp_slice(out, packet.len())
    }

    /// Unprotects `packet` into `out` (which needs `packet.len()` bytes);
    /// returns the RTP length.
    pub fn unprotect_rtp_into(
        &mut self,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SrtpError> {
        let dst = copy_into(packet, out, packet.len())?;
        self.unprotect_rtp_slice(dst)
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

    // --------------------------------------------------------------- SRTCP

    /// Protects the RTCP compound packet in `buf[..len]` in place, appending
    /// E flag ‖ SRTCP index, MKI and the 80-bit tag; `buf` must have
    /// [`Session::rtcp_overhead`] spare bytes. Returns the SRTCP length.
    pub fn protect_rtcp_slice(&mut self, buf: &mut [u8], len: usize) -> Result<usize, SrtpError> {
        self.check_direction(Direction::Outbound)?;
        let packet = buf.get(..len).ok_or(SrtpError::BufferTooSmall {
            needed: len,
            available: buf.len(),
        })?;
        let ssrc = rtcp_ssrc(packet)?;
        let total = len + self.rtcp_overhead();
        if buf.len() < total {
            return Err(SrtpError::BufferTooSmall {
                needed: total,
                available: buf.len(),
            });
        }
        let si = self.stream_index(ssrc)?;
        let slot_index = self.active;
        let r_shift = self.kdr_shift;
        let (Some(slot), Some(stream)) = (self.keys.get_mut(slot_index), self.streams.get_mut(si))
        else {
            return Err(SrtpError::NoMasterKey);
        };
        if slot.srtcp_used >= self.srtcp_lifetime {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTCP",
                packets: self.srtcp_lifetime,
            });
        }
        let index = stream.rtcp_next;
        if index >= SRTCP_MAX_INDEX {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTCP",
                packets: SRTCP_MAX_INDEX,
            });
        }
        let r = r_shift.map_or(0, |shift| index >> shift);
        let mut spare = None;
        let (keys, place) = keys_for(
            slot,
            slot_index,
            Kind::Srtcp,
            r,
            stream.epochs.as_deref_mut().map(|e| &mut e.rtcp),
            &mut spare,
            &mut self.derivations,
        );
        let iv = keys.iv(ssrc, index);
        keys.cipher
            .apply_keystream(&iv, &mut buf[RTCP_HEADER_LEN..len]);
        let e_index = (0x8000_0000u32 | index as u32).to_be_bytes();
        buf[len..len + SRTCP_INDEX_LEN].copy_from_slice(&e_index);
        let tag = keys.auth.mac(&buf[..len + SRTCP_INDEX_LEN], &[]);
        let mki_at = len + SRTCP_INDEX_LEN;
        buf[mki_at..mki_at + self.mki_len].copy_from_slice(&slot.mki[..self.mki_len]);
        buf[mki_at + self.mki_len..total].copy_from_slice(&tag[..SRTCP_TAG_LEN]);
        stream.rtcp_next += 1;
        if let (Some(place), Some(epochs)) = (place, stream.epochs.as_deref_mut()) {
            epochs.rtcp.commit(place);
        }
        slot.srtcp_used += 1;
        Ok(total)
    }

    /// Unprotects the SRTCP packet filling `buf` in place. Returns the RTCP
    /// length. On error `buf` is unchanged.
    pub fn unprotect_rtcp_slice(&mut self, buf: &mut [u8]) -> Result<usize, SrtpError> {
        self.check_direction(Direction::Inbound)?;
        let len = buf.len();
        let ssrc = rtcp_ssrc(buf)?;
        let needed = RTCP_HEADER_LEN + self.rtcp_overhead();
        if len < needed {
            return Err(SrtpError::TooShort { len, needed });
        }
        let tag_at = len - SRTCP_TAG_LEN;
        let mki_at = tag_at - self.mki_len;
        let end = mki_at - SRTCP_INDEX_LEN;
        let word = u32::from_be_bytes([buf[end], buf[end + 1], buf[end + 2], buf[end + 3]]);
        let encrypted = word & 0x8000_0000 != 0;
        let index = u64::from(word & 0x7fff_ffff);
        let slot_index = self.slot_for_mki(&buf[mki_at..tag_at])?;
        let existing = self.admit(ssrc)?;
        let Some(slot) = self.keys.get(slot_index) else {
            return Err(SrtpError::NoMasterKey);
        };
        if slot.srtcp_used >= self.srtcp_lifetime {
            return Err(SrtpError::LifetimeExhausted {
                kind: "SRTCP",
                packets: self.srtcp_lifetime,
            });
        }
        let stream = existing.and_then(|i| self.streams.get_mut(i));
        if let Some(stream) = &stream {
            stream
                .rtcp
                .check(index)
                .map_err(|why| refusal(why, ssrc, index))?;
        }
        let r = self.kdr_shift.map_or(0, |shift| index >> shift);
        let epochs = match stream {
            Some(stream) => stream.epochs.as_deref_mut(),
            None => self.new_streams.as_deref_mut(),
        };
        let mut spare = None;
        let (keys, place) = keys_for(
            slot,
            slot_index,
            Kind::Srtcp,
            r,
            epochs.map(|e| &mut e.rtcp),
            &mut spare,
            &mut self.derivations,
        );
        let tag = keys.auth.mac(&buf[..mki_at], &[]);
        if !bool::from(tag[..SRTCP_TAG_LEN].ct_eq(&buf[tag_at..])) {
            return Err(SrtpError::AuthFailed { ssrc });
        }
        if encrypted {
            let iv = keys.iv(ssrc, index);
            keys.cipher
                .apply_keystream(&iv, &mut buf[RTCP_HEADER_LEN..end]);
        }
        let si = match existing {
            Some(i) => i,
            None => self.stream_index(ssrc)?,
        };
        if let Some(stream) = self.streams.get_mut(si) {
            stream.rtcp.accept(index);
            if let (Some(place), Some(epochs)) = (place, stream.epochs.as_deref_mut()) {
                match existing {
                    Some(_) => epochs.rtcp.commit(place),
                    None => {
                        epochs.rtcp.current = self
                            .new_streams
                            .as_deref()
                            .and_then(|n| n.rtcp.get(place))
                            .cloned();
                    }
                }
            }
        }
        if let Some(slot) = self.keys.get_mut(slot_index) {
            slot.srtcp_used += 1;
        }
        Ok(end)
    }

    /// Protects the RTCP packet in `packet` in place, appending the SRTCP
    /// trailer. On error `packet` is unchanged.
    pub fn protect_rtcp<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
    ) -> Result<(), SrtpError> {
        let overhead = self.rtcp_overhead();
        self.protect_in_place(packet, overhead, Self::protect_rtcp_slice)
    }

    /// Unprotects the SRTCP packet in `packet` in place, truncating the
    /// trailer. On error `packet` is unchanged.
    pub fn unprotect_rtcp<B: PacketBuffer + ?Sized>(
        &mut self,
        packet: &mut B,
    ) -> Result<(), SrtpError> {
        let n = self.unprotect_rtcp_slice(packet.packet_bytes())?;
        packet.set_packet_len(n);
        Ok(())
    }

    /// Protects `packet` into `out` (which needs `packet.len()` +
    /// [`Session::rtcp_overhead`] bytes); returns the SRTCP length.
    pub fn protect_rtcp_into(&mut self, packet: &[u8], out: &mut [u8]) -> Result<usize, SrtpError> {
        copy_into(packet, out, packet.len() + self.rtcp_overhead())?;
        self.protect_rtcp_slice(out, packet.len())
    }

    /// Unprotects `packet` into `out` (which needs `packet.len()` bytes);
    /// returns the RTCP length.
    pub fn unprotect_rtcp_into(
        &mut self,
        packet: &[u8],
        out: &mut [u8],
    ) -> Result<usize, SrtpError> {
        let dst = copy_into(packet, out, packet.len())?;
        self.unprotect_rtcp_slice(dst)
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
        let keys = kdf.session_keys(Kind::Srtp, u64::from(seq) >> shift);
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

    #[test]
    fn index_estimation_follows_appendix_a() {
        // Before any packet: the hinted ROC.
        assert_eq!(estimate_index(None, 3, 7), Some((3 << 16) | 7));
        // In order.
        assert_eq!(estimate_index(Some(100), 0, 101), Some(101));
        // Wrap forward: s_l high, seq low → ROC + 1.
        assert_eq!(estimate_index(Some(0xfff0), 0, 0x0005), Some(0x1_0005));
        // Late packet from before the wrap: s_l low, seq high → ROC − 1.
        assert_eq!(estimate_index(Some(0x1_0005), 0, 0xfff0), Some(0xfff0));
        // ... but not below index 0: in cycle 0 that is a jump forward.
        assert_eq!(estimate_index(Some(0x0005), 0, 0xfff0), Some(0xfff0));
        // Reorder without wrap.
        assert_eq!(estimate_index(Some(0x2_8000), 0, 0x7fff), Some(0x2_7fff));
        assert_eq!(estimate_index(Some(0x2_7fff), 0, 0x8000), Some(0x2_8000));
        // At the very end of the index space the sender stops.
        assert_eq!(estimate_index(Some(0xffff_ffff_fff0), 0, 0x0001), None);
    }
}
