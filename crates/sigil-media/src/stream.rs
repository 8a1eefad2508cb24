//! [`MediaStream`]: the sans-IO media engine of one call.
//!
//! It owns the 20 ms media clock and the RTCP timer; the driver owns the
//! sockets and the clock and runs this loop:
//!
//! ```text
//! loop {
//!     while let Some(t) = stream.poll_transmit() { socket(t.kind).send_to(&t.data, peer(t.kind)) }
//!     while let Some(e) = stream.poll_event() { play e / report e }
//!     wait for a datagram or until stream.poll_timeout()
//!     datagram on the RTP port  → stream.receive(&datagram, now)
//!     datagram on the RTCP port → stream.receive_rtcp(&datagram, now)
//!     timeout                   → stream.handle_timeout(now)
//! }
//! ```
//!
//! # What allocates
//!
//! Construction allocates everything the packet path needs: the jitter
//! buffer's ring, a receive scratch buffer of [`MAX_DATAGRAM`] bytes, a
//! decode buffer, and bounded queues. Per packet:
//!
//! - sending RTP takes one `Vec<u8>` of header + payload + SRTP trailer
//!   capacity (≈ 200 bytes), handed to the driver in [`MediaTransmit`];
//!   a driver that gives them back with [`MediaStream::recycle`] makes the
//!   send path allocation-free;
//! - receiving RTP (plain or SRTP) allocates nothing;
//! - RTCP (every few seconds) allocates its packet and, when received, the
//!   parsed packets (bounded by the datagram size).
//!
//! `tests/no_alloc.rs` holds the crate to this with a counting allocator.
//!
//! Queues are bounded and drop their oldest entry when full: the send
//! queue ([`SEND_QUEUE_FRAMES`]), transmits ([`MAX_PENDING_TRANSMITS`])
//! and events ([`MAX_PENDING_EVENTS`]).

use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use sigil_srtp::{Session, SrtpError};

use crate::clock::{to_ntp_short, WallClock};
use crate::codec::{Codec, Negotiated, FRAME_DURATION, SAMPLES_PER_FRAME, SAMPLE_RATE};
use crate::dtmf::{DtmfReceiver, DtmfSender};
use crate::jitter::{JitterBuffer, DEFAULT_JITTER_FRAMES};
use crate::rtcp::{
    self, Goodbye, ReceiverReport, ReportBlock, RtcpPacket, SenderReport, SourceDescription,
};
use crate::rtp::{Packetizer, RtpHeader, RTP_HEADER_LEN};
use crate::stats::{round_trip_time, CallStats, PeerReport, ReceptionStats};
use crate::MediaError;

/// Largest datagram accepted; larger ones are counted as malformed.
pub const MAX_DATAGRAM: usize = 2048;
/// Frames of application audio waiting to be sent (200 ms).
pub const SEND_QUEUE_FRAMES: usize = 10;
/// Transmits waiting for [`MediaStream::poll_transmit`].
pub const MAX_PENDING_TRANSMITS: usize = 64;
/// Events waiting for [`MediaStream::poll_event`] (over a second of audio).
pub const MAX_PENDING_EVENTS: usize = 64;
/// Nominal RTCP report interval (RFC 3550 §6.2 minimum).
pub const RTCP_INTERVAL: Duration = Duration::from_secs(5);
/// Ticks handled one by one after a stall; beyond that they are skipped.
const MAX_CATCH_UP_TICKS: u32 = 10;
/// Send buffers kept for reuse.
const POOL: usize = 8;
const FRAME_SAMPLES: u32 = SAMPLES_PER_FRAME as u32;

/// How one call's media runs: what the SDP negotiation decided plus local
/// choices.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaConfig {
    /// The codec, both directions.
    pub codec: Codec,
    /// Its payload type (the codec's static one unless the peer mapped a
    /// dynamic type to it).
    pub payload_type: u8,
    /// The telephone-event payload type, if the peer offered
    /// `telephone-event/8000`; `None` refuses [`MediaStream::send_dtmf`] and
    /// ignores received events.
    pub telephone_event: Option<u8>,
    /// RTCP on the RTP port (RFC 5761), as negotiated by `a=rtcp-mux`.
    pub rtcp_mux: bool,
    /// Jitter buffer target delay in 20 ms frames (1–50).
    pub jitter_frames: usize,
    /// Our RTCP CNAME (e.g. `user@host` or a random id).
    pub cname: String,
    /// Anchor for NTP timestamps in RTCP.
    pub wall_clock: WallClock,
}

impl MediaConfig {
    /// `codec` at its static payload type, no telephone events, no
    /// rtcp-mux, a 60 ms jitter buffer.
    pub fn new(codec: Codec, cname: impl Into<String>, wall_clock: WallClock) -> Self {
        MediaConfig {
            codec,
            payload_type: codec.payload_type(),
            telephone_event: None,
            rtcp_mux: false,
            jitter_frames: DEFAULT_JITTER_FRAMES,
            cname: cname.into(),
            wall_clock,
        }
    }

    /// What [`crate::negotiate`] chose.
    pub fn from_negotiated(
        n: &Negotiated,
        cname: impl Into<String>,
        wall_clock: WallClock,
    ) -> Self {
        MediaConfig {
            payload_type: n.payload_type,
            telephone_event: n.telephone_event,
            ..MediaConfig::new(n.codec, cname, wall_clock)
        }
    }

    /// Sets the telephone-event payload type.
    pub fn with_telephone_event(mut self, payload_type: Option<u8>) -> Self {
        self.telephone_event = payload_type;
        self
    }

    /// Sets rtcp-mux.
    pub fn with_rtcp_mux(mut self, mux: bool) -> Self {
        self.rtcp_mux = mux;
        self
    }

    /// Sets the jitter buffer target in frames (clamped to 1–50).
    pub fn with_jitter_frames(mut self, frames: usize) -> Self {
        self.jitter_frames = frames;
        self
    }
}

/// What the media of a call is protected with.
pub enum MediaCrypto {
    /// Plain RTP and RTCP.
    Plain,
    /// SRTP and SRTCP with the two contexts from the negotiated SDP.
    Srtp {
        /// Protects what we send (our key).
        send: Box<Session>,
        /// Unprotects what we receive (the peer's key).
        receive: Box<Session>,
    },
}

impl fmt::Debug for MediaCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaCrypto::Plain => f.write_str("Plain"),
            MediaCrypto::Srtp { send, .. } => write!(f, "Srtp({})", send.suite()),
        }
    }
}

/// Which socket a [`MediaTransmit`] goes out of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransmitKind {
    /// RTP, to the peer's RTP address.
    Rtp,
    /// RTCP, to the peer's RTCP address (its RTP address with rtcp-mux).
    Rtcp,
}

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaTransmit {
    /// RTP or RTCP.
    pub kind: TransmitKind,
    /// The (SRTP/SRTCP-protected, if so negotiated) datagram.
    pub data: Vec<u8>,
}

/// What the stream tells the application.
// Audio is the common variant (50 a second): inline, it costs no allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaEvent {
    /// The next 20 ms to play, once per tick (silence before the first
    /// packet and during the jitter buffer's initial delay).
    Audio {
        /// 160 samples of 8 kHz PCM.
        frame: [i16; SAMPLES_PER_FRAME],
        /// Whether it stands in for a lost frame.
        concealed: bool,
    },
    /// A DTMF digit the peer sent (reported once).
    Dtmf {
        /// `0`–`9`, `*`, `#`, `A`–`D`.
        digit: char,
    },
    /// The peer sent an RTCP BYE (reported once).
    PeerBye {
        /// Its reason, if it gave one.
        reason: Option<String>,
    },
}

/// The peer's stream as we receive it.
#[derive(Debug, Clone)]
struct Remote {
    ssrc: u32,
    stats: ReceptionStats,
}

/// The sans-IO media engine of one call. See the module docs for the
/// driver loop and what allocates.
#[derive(Debug)]
pub struct MediaStream {
    config: MediaConfig,
    crypto: MediaCrypto,
    packetizer: Packetizer,
    start: Instant,
    tick: u64,
    next_rtcp: Instant,
    stopped: bool,
    send_queue: VecDeque<[i16; SAMPLES_PER_FRAME]>,
    dtmf_out: DtmfSender,
    remote: Option<Remote>,
    ssrc_candidate: Option<(u32, u16)>,
    last_sr: Option<(u32, Instant)>,
    jitter: JitterBuffer,
    dtmf_in: DtmfReceiver,
    peer_bye: bool,
    transmits: VecDeque<MediaTransmit>,
    events: VecDeque<MediaEvent>,
    pool: Vec<Vec<u8>>,
    scratch: Vec<u8>,
    pcm: Vec<i16>,
    stats: CallStats,
    sent_since_report: bool,
    reported_fraction: Option<u8>,
    warned_frame_size: bool,
}

/// A uniform random factor in 0.5..1.5 (RFC 3550 §6.3.1 randomisation).
fn jitter_factor() -> f64 {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        return 1.0;
    }
    0.5 + f64::from(u32::from_be_bytes(b)) / f64::from(u32::MAX)
}

impl MediaStream {
    /// A stream starting its media clock at `now`: the first tick is at
    /// `now`, the first RTCP report about 2.5 s later (half the minimum
    /// interval, randomised, RFC 3550 §6.2).
    pub fn new(config: MediaConfig, crypto: MediaCrypto, now: Instant) -> Self {
        let mut packetizer = Packetizer::new(config.payload_type);
        if let MediaCrypto::Srtp { send, .. } = &crypto {
            packetizer.set_trailer_room(send.rtp_overhead());
        }
        let jitter = JitterBuffer::new(config.jitter_frames);
        MediaStream {
            next_rtcp: now + (RTCP_INTERVAL / 2).mul_f64(jitter_factor()),
            config,
            crypto,
            packetizer,
            start: now,
            tick: 0,
            stopped: false,
            send_queue: VecDeque::with_capacity(SEND_QUEUE_FRAMES),
            dtmf_out: DtmfSender::new(),
            remote: None,
            ssrc_candidate: None,
            last_sr: None,
            stats: CallStats {
                jitter_buffer_delay_ms: jitter.delay_ms(),
                ..CallStats::default()
            },
            jitter,
            dtmf_in: DtmfReceiver::new(),
            peer_bye: false,
            transmits: VecDeque::with_capacity(MAX_PENDING_TRANSMITS),
            events: VecDeque::with_capacity(MAX_PENDING_EVENTS),
            pool: Vec::with_capacity(POOL),
            scratch: Vec::with_capacity(MAX_DATAGRAM),
            pcm: vec![0; MAX_DATAGRAM],
            sent_since_report: false,
            reported_fraction: None,
            warned_frame_size: false,
        }
    }

    /// The configuration.
    pub fn config(&self) -> &MediaConfig {
        &self.config
    }

    /// Our SSRC.
    pub fn ssrc(&self) -> u32 {
        self.packetizer.ssrc()
    }

    /// The peer's SSRC, once it has sent RTP.
    pub fn remote_ssrc(&self) -> Option<u32> {
        self.remote.as_ref().map(|r| r.ssrc)
    }

    /// Whether media is SRTP.
    pub fn is_srtp(&self) -> bool {
        matches!(self.crypto, MediaCrypto::Srtp { .. })
    }

    /// Whether [`MediaStream::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// Queues the application's next 20 ms of audio (160 samples; a frame
    /// of another length is cut or padded with silence). When more than
    /// [`SEND_QUEUE_FRAMES`] wait, the oldest is dropped and counted.
    pub fn queue_audio(&mut self, frame: &[i16]) {
        if self.stopped {
            return;
        }
        if frame.len() != SAMPLES_PER_FRAME && !self.warned_frame_size {
            self.warned_frame_size = true;
            log::warn!(
                "media: audio frames must be {SAMPLES_PER_FRAME} samples, got {}: cut or padded",
                frame.len()
            );
        }
        let mut f = [0i16; SAMPLES_PER_FRAME];
        let n = frame.len().min(SAMPLES_PER_FRAME);
        f[..n].copy_from_slice(&frame[..n]);
        if self.send_queue.len() >= SEND_QUEUE_FRAMES {
            self.send_queue.pop_front();
            self.stats.send_queue_dropped += 1;
        }
        self.send_queue.push_back(f);
    }

    /// Sends `digit` as RFC 4733 telephone events for `duration` (20 ms to
    /// 8 s), after any digits already queued; the digit's packets replace
    /// the audio of the ticks they take.
    pub fn send_dtmf(&mut self, digit: char, duration: Duration) -> Result<(), MediaError> {
        if self.stopped {
            return Err(MediaError::Stopped);
        }
        if self.config.telephone_event.is_none() {
            return Err(MediaError::NoTelephoneEvent);
        }
        self.dtmf_out.queue_digit(digit, duration)?;
        self.stats.dtmf_sent += 1;
        Ok(())
    }

    /// When [`MediaStream::handle_timeout`] wants to be called: the next
    /// 20 ms tick (at start + k · 20 ms, so ticks never drift) or RTCP
    /// report, whichever is first. `None` once stopped.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.stopped {
            return None;
        }
        Some(self.tick_at(self.tick).min(self.next_rtcp))
    }

    fn tick_at(&self, tick: u64) -> Instant {
        self.start + Duration::from_millis(tick.saturating_mul(20))
    }

    /// Runs every tick due at `now` (sends a frame, plays one out) and the
    /// RTCP report if due. After a stall of more than 10 ticks the rest
    /// are skipped: the media clock jumps, nothing is sent for them.
    pub fn handle_timeout(&mut self, now: Instant) {
        if self.stopped {
            return;
        }
        let mut handled = 0;
        while self.tick_at(self.tick) <= now {
            if handled == MAX_CATCH_UP_TICKS {
                let behind = now.duration_since(self.tick_at(self.tick));
                let skip = (behind.as_millis() / FRAME_DURATION.as_millis()) as u64 + 1;
                let skip32 = u32::try_from(skip).unwrap_or(u32::MAX);
                log::debug!("media: {skip} ticks late, skipping them");
                self.packetizer
                    .advance(skip32.saturating_mul(FRAME_SAMPLES));
                self.jitter.skip(skip32);
                self.tick += skip;
                break;
            }
            self.on_tick();
            self.tick += 1;
            handled += 1;
        }
        if now >= self.next_rtcp {
            if let Some(t) = self.report(now, false) {
                self.push_transmit(t);
            }
            self.next_rtcp = now + RTCP_INTERVAL.mul_f64(jitter_factor());
        }
    }

    fn on_tick(&mut self) {
        let timestamp = self.packetizer.next_timestamp();
        let event = match self.config.telephone_event {
            Some(pt) => self.dtmf_out.tick(timestamp).map(|p| (pt, p)),
            None => None,
        };
        if let Some((pt, packet)) = event {
            // The event takes this tick's place in the audio.
            self.send_queue.pop_front();
            let mut buf = self.take_buffer();
            let payload = packet.payload.to_bytes();
            self.packetizer
                .event(&mut buf, pt, packet.marker, packet.timestamp, &payload);
            self.packetizer.advance(FRAME_SAMPLES);
            self.send_rtp(buf, payload.len());
        } else if let Some(frame) = self.send_queue.pop_front() {
            let mut payload = [0u8; SAMPLES_PER_FRAME];
            self.config.codec.encode(&frame, &mut payload);
            let mut buf = self.take_buffer();
            self.packetizer.audio(&mut buf, &payload, FRAME_SAMPLES);
            self.send_rtp(buf, payload.len());
        } else {
            // Nothing to send: silence, the next packet starts a talkspurt.
            self.packetizer.advance(FRAME_SAMPLES);
        }
        let played = self.jitter.playout();
        self.push_event(MediaEvent::Audio {
            concealed: played.concealed(),
            frame: played.frame,
        });
    }

    fn take_buffer(&mut self) -> Vec<u8> {
        self.pool
            .pop()
            .unwrap_or_else(|| Vec::with_capacity(RTP_HEADER_LEN + SAMPLES_PER_FRAME + 32))
    }

    /// Gives a transmitted datagram's buffer back for reuse (at most 8 are
    /// kept), so sending allocates nothing.
    pub fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.pool.len() < POOL && buffer.capacity() <= MAX_DATAGRAM {
            buffer.clear();
            self.pool.push(buffer);
        }
    }

    fn send_rtp(&mut self, mut buf: Vec<u8>, payload_len: usize) {
        if let MediaCrypto::Srtp { send, .. } = &mut self.crypto {
            if let Err(e) = send.protect_rtp(&mut buf) {
                log::warn!("media: cannot protect an RTP packet: {e}");
                return;
            }
        }
        self.stats.packets_sent += 1;
        self.stats.octets_sent += payload_len as u64;
        self.sent_since_report = true;
        self.push_transmit(MediaTransmit {
            kind: TransmitKind::Rtp,
            data: buf,
        });
    }

    fn push_transmit(&mut self, t: MediaTransmit) {
        if self.transmits.len() >= MAX_PENDING_TRANSMITS {
            self.transmits.pop_front();
            log::debug!("media: transmit queue full, oldest datagram dropped");
        }
        self.transmits.push_back(t);
    }

    fn push_event(&mut self, e: MediaEvent) {
        if self.events.len() >= MAX_PENDING_EVENTS {
            self.events.pop_front();
            log::debug!("media: event queue full, oldest event dropped");
        }
        self.events.push_back(e);
    }

    /// The next datagram to send.
    pub fn poll_transmit(&mut self) -> Option<MediaTransmit> {
        self.transmits.pop_front()
    }

    /// The next event for the application.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// Takes a datagram from the RTP port (and RTCP on it with rtcp-mux).
    /// Never fails: what is not good media is counted in [`CallStats`].
    pub fn receive(&mut self, datagram: &[u8], now: Instant) {
        if datagram.len() > MAX_DATAGRAM {
            self.stats.malformed += 1;
            return;
        }
        if self.config.rtcp_mux && rtcp::is_rtcp(datagram) {
            self.receive_rtcp(datagram, now);
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        match &mut self.crypto {
            MediaCrypto::Plain => self.on_rtp(datagram, now),
            MediaCrypto::Srtp { receive, .. } => {
                scratch.clear();
                scratch.extend_from_slice(datagram);
                match receive.unprotect_rtp(&mut scratch) {
                    Ok(()) => self.on_rtp(&scratch, now),
                    Err(e) => self.count_srtp_error(&e),
                }
            }
        }
        self.scratch = scratch;
    }

    /// Takes a datagram from the RTCP port (or one [`MediaStream::receive`]
    /// found to be RTCP). Never fails: bad ones are counted.
    pub fn receive_rtcp(&mut self, datagram: &[u8], now: Instant) {
        if datagram.len() > MAX_DATAGRAM {
            self.stats.malformed += 1;
            return;
        }
        let mut scratch = std::mem::take(&mut self.scratch);
        match &mut self.crypto {
            MediaCrypto::Plain => self.on_rtcp(datagram, now),
            MediaCrypto::Srtp { receive, .. } => {
                scratch.clear();
                scratch.extend_from_slice(datagram);
                match receive.unprotect_rtcp(&mut scratch) {
                    Ok(()) => self.on_rtcp(&scratch, now),
                    Err(e) => self.count_srtp_error(&e),
                }
            }
        }
        self.scratch = scratch;
    }

    fn count_srtp_error(&mut self, e: &SrtpError) {
        match e {
            SrtpError::AuthFailed { .. } => self.stats.srtp_auth_failures += 1,
            SrtpError::Replayed { .. } | SrtpError::TooOld { .. } => self.stats.srtp_replays += 1,
            _ => self.stats.malformed += 1,
        }
    }

    /// Media-clock time of `now` since the start, in samples (wrapping),
    /// the "arrival" of RFC 3550 A.8.
    fn arrival(&self, now: Instant) -> u32 {
        let since = now.saturating_duration_since(self.start);
        (since.as_nanos() * u128::from(SAMPLE_RATE) / 1_000_000_000) as u32
    }

    fn on_rtp(&mut self, packet: &[u8], now: Instant) {
        let header = match RtpHeader::parse(packet) {
            Ok(h) => h,
            Err(e) => {
                log::trace!("media: {e}");
                self.stats.malformed += 1;
                return;
            }
        };
        match &self.remote {
            Some(r) if r.ssrc == header.ssrc => {}
            Some(_) => {
                // Another source: follow it once two consecutive packets
                // show it is the peer's new stream, not a stray.
                let confirmed =
                    self.ssrc_candidate == Some((header.ssrc, header.sequence.wrapping_sub(1)));
                if !confirmed {
                    self.ssrc_candidate = Some((header.ssrc, header.sequence));
                    self.stats.ignored += 1;
                    return;
                }
                log::debug!("media: peer changed SSRC to {:#010x}", header.ssrc);
                self.jitter.reset();
                self.dtmf_in.reset();
                self.last_sr = None;
                self.remote = None;
            }
            None => {}
        }
        self.ssrc_candidate = None;
        let remote = self.remote.get_or_insert_with(|| Remote {
            ssrc: header.ssrc,
            stats: ReceptionStats::new(header.sequence),
        });
        remote.stats.update(header.sequence);
        let payload = header.payload(packet);
        self.stats.packets_received += 1;
        self.stats.octets_received += payload.len() as u64;
        if header.payload_type == self.config.payload_type {
            let arrival = self.arrival(now);
            if let Some(r) = &mut self.remote {
                r.stats.update_jitter(header.timestamp, arrival);
            }
            let n = self.config.codec.decode(payload, &mut self.pcm);
            self.jitter
                .insert(header.sequence, header.timestamp, &self.pcm[..n]);
        } else if Some(header.payload_type) == self.config.telephone_event {
            match self.dtmf_in.receive(header.timestamp, payload) {
                Ok(Some(digit)) => {
                    self.stats.dtmf_received += 1;
                    self.push_event(MediaEvent::Dtmf { digit });
                }
                Ok(None) => {}
                Err(_) => self.stats.malformed += 1,
            }
        } else {
            self.stats.ignored += 1;
        }
    }

    fn on_rtcp(&mut self, data: &[u8], now: Instant) {
        let packets = match rtcp::parse_compound(data) {
            Ok(p) => p,
            Err(e) => {
                log::trace!("media: {e}");
                self.stats.malformed += 1;
                return;
            }
        };
        self.stats.rtcp_received += 1;
        for packet in packets {
            match packet {
                RtcpPacket::SenderReport(sr) => {
                    if self.remote.as_ref().is_none_or(|r| r.ssrc == sr.ssrc) {
                        self.last_sr = Some((sr.ntp_middle(), now));
                    }
                    self.on_report_blocks(&sr.reports, now);
                }
                RtcpPacket::ReceiverReport(rr) => self.on_report_blocks(&rr.reports, now),
                RtcpPacket::Goodbye(bye) => {
                    let ours = self
                        .remote
                        .as_ref()
                        .is_none_or(|r| bye.ssrcs.contains(&r.ssrc));
                    if ours && !self.peer_bye {
                        self.peer_bye = true;
                        self.push_event(MediaEvent::PeerBye { reason: bye.reason });
                    }
                }
                RtcpPacket::SourceDescription(_) | RtcpPacket::Other { .. } => {}
            }
        }
    }

    fn on_report_blocks(&mut self, blocks: &[ReportBlock], now: Instant) {
        let ours = self.packetizer.ssrc();
        for block in blocks.iter().filter(|b| b.ssrc == ours) {
            self.stats.peer = Some(PeerReport::from_block(block));
            let arrival = self.config.wall_clock.ntp_middle(now);
            if let Some(rtt) = round_trip_time(arrival, block) {
                self.stats.rtt_ms = Some(rtt.as_secs_f64() * 1000.0);
            }
        }
    }

    /// Our RTP timestamp at `now`: the next tick's timestamp less the time
    /// to it (RFC 3550 §6.4.1, the SR's RTP timestamp).
    fn rtp_time(&self, now: Instant) -> u32 {
        let next = self.tick_at(self.tick);
        let samples = |d: Duration| (d.as_nanos() * u128::from(SAMPLE_RATE) / 1_000_000_000) as u32;
        let ts = self.packetizer.next_timestamp();
        if now >= next {
            ts.wrapping_add(samples(now - next))
        } else {
            ts.wrapping_sub(samples(next - now))
        }
    }

    /// Builds an RTCP compound packet: SR (if we sent RTP since the last
    /// report) or RR, SDES CNAME, and BYE when `bye`; protected for SRTCP.
    fn report(&mut self, now: Instant, bye: bool) -> Option<MediaTransmit> {
        let ssrc = self.packetizer.ssrc();
        let (last_sr, delay) = match self.last_sr {
            Some((middle, at)) => (middle, to_ntp_short(now.saturating_duration_since(at))),
            None => (0, 0),
        };
        let mut reports = Vec::new();
        if let Some(r) = &mut self.remote {
            if r.stats.is_valid() {
                let block = r.stats.report_block(r.ssrc, last_sr, delay);
                self.reported_fraction = Some(block.fraction_lost);
                reports.push(block);
            }
        }
        let first = if self.sent_since_report {
            RtcpPacket::SenderReport(SenderReport {
                ssrc,
                ntp_time: self.config.wall_clock.ntp(now),
                rtp_time: self.rtp_time(now),
                // RFC 3550: the counts wrap at 2^32.
                packet_count: self.stats.packets_sent as u32,
                octet_count: self.stats.octets_sent as u32,
                reports,
            })
        } else {
            RtcpPacket::ReceiverReport(ReceiverReport { ssrc, reports })
        };
        self.sent_since_report = false;
        let mut data = Vec::with_capacity(128 + self.config.cname.len().min(255));
        first.write(&mut data);
        SourceDescription::cname(ssrc, &self.config.cname).write(&mut data);
        if bye {
            Goodbye {
                ssrcs: vec![ssrc],
                reason: None,
            }
            .write(&mut data);
        }
        if let MediaCrypto::Srtp { send, .. } = &mut self.crypto {
            if let Err(e) = send.protect_rtcp(&mut data) {
                log::warn!("media: cannot protect an RTCP packet: {e}");
                return None;
            }
        }
        self.stats.rtcp_sent += 1;
        Some(MediaTransmit {
            kind: TransmitKind::Rtcp,
            data,
        })
    }

    /// Ends the call's media: returns the final RTCP compound packet with
    /// BYE (`None` if already stopped, or if SRTCP protection failed). No
    /// ticks or reports follow; received datagrams are still counted.
    pub fn stop(&mut self, now: Instant) -> Option<MediaTransmit> {
        if self.stopped {
            return None;
        }
        self.stopped = true;
        self.send_queue.clear();
        self.dtmf_out = DtmfSender::new();
        self.report(now, true)
    }

    /// The call's statistics so far.
    pub fn stats(&self) -> CallStats {
        let mut s = self.stats.clone();
        if let Some(r) = &self.remote {
            s.packets_lost = r.stats.cumulative_lost();
            s.jitter_ms = r.stats.jitter_ms();
            let fraction = self
                .reported_fraction
                .unwrap_or_else(|| r.stats.fraction_lost());
            s.fraction_lost = f64::from(fraction) / 256.0;
        }
        let j = self.jitter.stats();
        s.late_packets = j.late;
        s.duplicate_packets = j.duplicates;
        s.concealed_frames = j.lost;
        s.jitter_buffer_delay_ms = self.jitter.delay_ms();
        s
    }
}
