//! Call media: RTP packetization (RFC 3550), a G.711 µ-law tone source in
//! 20 ms frames (160 samples at 8 kHz), a sink that counts what arrives, and
//! SRTP or plain RTP as the SDP negotiation decided (SPEC E3).
//!
//! [`MediaStream`] is the sans-IO core: frames in, packets out, packets in,
//! counters out.

use std::time::Duration;

use serde::Serialize;
use sigil_srtp::{Session, SrtpError};

/// Samples per 20 ms frame at 8 kHz.
pub const SAMPLES_PER_FRAME: usize = 160;
/// Frame duration.
pub const FRAME: Duration = Duration::from_millis(20);
/// RTP payload type of PCMU (G.711 µ-law).
pub const PT_PCMU: u8 = 0;
/// Largest datagram read.
pub const MAX_DATAGRAM: usize = 1500;
const RTP_HEADER: usize = 12;

/// Encodes one 16-bit linear sample as G.711 µ-law (ITU-T G.711, bias 0x84, clip 32635).
pub fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    let s = s.min(CLIP) + BIAS;
    // Segment: position of the highest set bit above bit 7.
    let mut exponent = 7u8;
    let mut mask = 0x4000;
    while exponent > 0 && s & mask == 0 {
        exponent -= 1;
        mask >>= 1;
    }
    let mantissa = ((s >> (exponent + 3)) & 0x0F) as u8;
    !(sign | (exponent << 4) | mantissa)
}

/// Decodes one G.711 µ-law byte to a 16-bit linear sample.
pub fn ulaw_to_linear(code: u8) -> i16 {
    let code = !code;
    let sign = code & 0x80;
    let exponent = (code >> 4) & 0x07;
    let mantissa = i32::from(code & 0x0F);
    let magnitude = (((mantissa << 3) + 0x84) << exponent) - 0x84;
    // ok: magnitude ≤ 32124, fits i16.
    let m = magnitude as i16;
    if sign != 0 {
        -m
    } else {
        m
    }
}

/// A sine tone as G.711 µ-law frames of 20 ms.
#[derive(Debug, Clone)]
pub struct ToneSource {
    frequency: f64,
    amplitude: f64,
    sample: u64,
}

impl ToneSource {
    /// A tone of `frequency` Hz at about −6 dBFS.
    pub fn new(frequency: f64) -> Self {
        ToneSource {
            frequency,
            amplitude: 16000.0,
            sample: 0,
        }
    }

    /// The next 20 ms frame: 160 µ-law samples.
    pub fn next_frame(&mut self) -> [u8; SAMPLES_PER_FRAME] {
        let mut frame = [0u8; SAMPLES_PER_FRAME];
        for byte in frame.iter_mut() {
            let t = self.sample as f64 / 8000.0;
            let v = (2.0 * std::f64::consts::PI * self.frequency * t).sin() * self.amplitude;
            // ok: |v| ≤ 16000, fits i16.
            *byte = linear_to_ulaw(v as i16);
            self.sample += 1;
        }
        frame
    }
}

/// A parsed RTP fixed header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Payload type.
    pub payload_type: u8,
    /// Marker bit.
    pub marker: bool,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Offset of the payload in the packet (after CSRCs and extension).
    pub payload_offset: usize,
}

impl RtpHeader {
    /// Reads the header of an RTP packet; `None` when it is not RTP version 2
    /// or is shorter than its header says.
    pub fn parse(packet: &[u8]) -> Option<RtpHeader> {
        let first = *packet.first()?;
        if first >> 6 != 2 || packet.len() < RTP_HEADER {
            return None;
        }
        let cc = usize::from(first & 0x0F);
        let mut offset = RTP_HEADER + 4 * cc;
        if first & 0x10 != 0 {
            let ext = packet.get(offset + 2..offset + 4)?;
            offset += 4 + 4 * usize::from(u16::from_be_bytes([ext[0], ext[1]]));
        }
        if offset > packet.len() {
            return None;
        }
        let second = packet[1];
        Some(RtpHeader {
            payload_type: second & 0x7F,
            marker: second & 0x80 != 0,
            sequence: u16::from_be_bytes([packet[2], packet[3]]),
            timestamp: u32::from_be_bytes([packet[4], packet[5], packet[6], packet[7]]),
            ssrc: u32::from_be_bytes([packet[8], packet[9], packet[10], packet[11]]),
            payload_offset: offset,
        })
    }
}

/// Builds RTP packets for one outgoing stream.
#[derive(Debug, Clone)]
pub struct Packetizer {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    payload_type: u8,
    first: bool,
}

impl Packetizer {
    /// A packetizer with random SSRC, sequence number and timestamp (RFC 3550 §5.1).
    pub fn new(payload_type: u8) -> Self {
        let mut r = [0u8; 10];
        let _ = getrandom::getrandom(&mut r);
        Packetizer {
            ssrc: u32::from_be_bytes([r[0], r[1], r[2], r[3]]),
            sequence: u16::from_be_bytes([r[4], r[5]]) & 0x7FFF,
            timestamp: u32::from_be_bytes([r[6], r[7], r[8], r[9]]),
            payload_type,
            first: true,
        }
    }

    /// The SSRC of the stream.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// One RTP packet carrying `payload` of `samples` samples, with spare
    /// capacity for an SRTP tag.
    pub fn packet(&mut self, payload: &[u8], samples: u32) -> Vec<u8> {
        let mut p = Vec::with_capacity(RTP_HEADER + payload.len() + 16);
        p.push(0x80);
        p.push(self.payload_type | if self.first { 0x80 } else { 0 });
        p.extend_from_slice(&self.sequence.to_be_bytes());
        p.extend_from_slice(&self.timestamp.to_be_bytes());
        p.extend_from_slice(&self.ssrc.to_be_bytes());
        p.extend_from_slice(payload);
        self.first = false;
        self.sequence = self.sequence.wrapping_add(1);
        self.timestamp = self.timestamp.wrapping_add(samples);
        p
    }
}

/// What the media of a call runs on.
pub enum MediaCrypto {
    /// Plain RTP.
    Plain,
    /// SRTP with the two contexts from the negotiated SDP.
    Srtp {
        /// Protects what we send (our key).
        send: Box<Session>,
        /// Unprotects what we receive (the peer's key).
        receive: Box<Session>,
    },
}

impl std::fmt::Debug for MediaCrypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MediaCrypto::Plain => f.write_str("Plain"),
            MediaCrypto::Srtp { send, .. } => write!(f, "Srtp({})", send.suite()),
        }
    }
}

/// Counters of one call's media.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MediaStats {
    /// Frames sent.
    pub frames_sent: u64,
    /// Frames received (after decryption, for SRTP) with the expected payload type.
    pub frames_received: u64,
    /// SRTP packets that failed authentication.
    pub decrypt_failures: u64,
    /// SRTP packets refused as replays (or too old for the replay window).
    pub replays: u64,
    /// Datagrams that were not RTP, or other SRTP errors.
    pub malformed: u64,
    /// Datagrams from an address other than the negotiated peer.
    pub foreign: u64,
}

/// The sans-IO media of one call: frames in → packets out, packets in → counters.
#[derive(Debug)]
pub struct MediaStream {
    crypto: MediaCrypto,
    packetizer: Packetizer,
    tone: ToneSource,
    stats: MediaStats,
}

impl MediaStream {
    /// A stream sending a 440 Hz tone as PCMU, protected per `crypto`.
    pub fn new(crypto: MediaCrypto) -> Self {
        MediaStream {
            crypto,
            packetizer: Packetizer::new(PT_PCMU),
            tone: ToneSource::new(440.0),
            stats: MediaStats::default(),
        }
    }

    /// Whether the media is SRTP.
    pub fn is_srtp(&self) -> bool {
        matches!(self.crypto, MediaCrypto::Srtp { .. })
    }

    /// The next 20 ms of tone as an RTP (or SRTP) packet.
    pub fn next_packet(&mut self) -> Result<Vec<u8>, SrtpError> {
        let frame = self.tone.next_frame();
        let mut packet = self.packetizer.packet(&frame, SAMPLES_PER_FRAME as u32);
        if let MediaCrypto::Srtp { send, .. } = &mut self.crypto {
            send.protect_rtp(&mut packet)?;
        }
        self.stats.frames_sent += 1;
        Ok(packet)
    }

    /// Count one received datagram (decrypting it first for SRTP). Returns the
    /// µ-law payload when it was a good frame.
    pub fn receive(&mut self, datagram: &[u8]) -> Option<Vec<u8>> {
        let mut packet = datagram.to_vec();
        if let MediaCrypto::Srtp { receive, .. } = &mut self.crypto {
            match receive.unprotect_rtp(&mut packet) {
                Ok(()) => {}
                Err(SrtpError::AuthFailed { .. }) => {
                    self.stats.decrypt_failures += 1;
                    return None;
                }
                Err(SrtpError::Replayed { .. } | SrtpError::TooOld { .. }) => {
                    self.stats.replays += 1;
                    return None;
                }
                Err(_) => {
                    self.stats.malformed += 1;
                    return None;
                }
            }
        }
        match RtpHeader::parse(&packet) {
            Some(h) if h.payload_type == PT_PCMU => {
                self.stats.frames_received += 1;
                packet.get(h.payload_offset..).map(<[u8]>::to_vec)
            }
            _ => {
                self.stats.malformed += 1;
                None
            }
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> MediaStats {
        self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sigil_srtp::negotiate::{
        basic_audio_sdp, Negotiator, OfferPolicy, SignalingTransport, SrtpConfig,
    };

    #[test]
    fn ulaw_matches_g711_table_points() {
        // G.711 µ-law: 0 → 0xFF, the extremes → 0x80 / 0x00 (sign bit set = positive after inversion).
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(32767), 0x80);
        assert_eq!(linear_to_ulaw(-32768), 0x00);
        assert_eq!(ulaw_to_linear(0xFF), 0);
        assert_eq!(ulaw_to_linear(0x80), 32124);
        assert_eq!(ulaw_to_linear(0x00), -32124);
        for code in 0..=255u8 {
            // Every code decodes and re-encodes to itself (except negative zero, 0x7F → 0xFF).
            let back = linear_to_ulaw(ulaw_to_linear(code));
            if code != 0x7F {
                assert_eq!(back, code, "code {code:#04x}");
            }
        }
    }

    #[test]
    fn tone_frames_are_160_samples_and_not_silent() {
        let mut t = ToneSource::new(440.0);
        let f = t.next_frame();
        assert_eq!(f.len(), SAMPLES_PER_FRAME);
        let peak = f
            .iter()
            .map(|&c| ulaw_to_linear(c).unsigned_abs())
            .max()
            .unwrap();
        assert!(peak > 10000);
    }

    #[test]
    fn rtp_header_round_trip_and_sequence() {
        let mut p = Packetizer::new(PT_PCMU);
        let a = p.packet(&[0xFF; 160], 160);
        let b = p.packet(&[0xFF; 160], 160);
        let ha = RtpHeader::parse(&a).unwrap();
        let hb = RtpHeader::parse(&b).unwrap();
        assert!(ha.marker && !hb.marker);
        assert_eq!(hb.sequence, ha.sequence.wrapping_add(1));
        assert_eq!(hb.timestamp, ha.timestamp.wrapping_add(160));
        assert_eq!(ha.ssrc, p.ssrc());
        assert_eq!(ha.payload_offset, 12);
        assert_eq!(RtpHeader::parse(&[0x80; 5]), None);
        assert_eq!(RtpHeader::parse(&[0x40; 20]), None);
        assert_eq!(
            RtpHeader::parse(&[0x9F; 20]),
            None,
            "CSRC count beyond the packet"
        );
    }

    fn srtp_pair() -> (MediaCrypto, MediaCrypto) {
        let config = SrtpConfig::new(OfferPolicy::Standard, SignalingTransport::Tls);
        let mut a = Negotiator::new(config.clone()).unwrap();
        let mut b = Negotiator::new(config).unwrap();
        let mut offer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4000, 1);
        a.create_offer(&mut offer).unwrap();
        let mut answer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 5000, 2);
        let nb = b.answer_offer(&offer, &mut answer).unwrap();
        let na = a.accept_answer(&answer).unwrap();
        let crypto = |n: &sigil_srtp::negotiate::Negotiation| {
            let (_, agreement) = n.srtp().next().unwrap();
            let (send, receive) = agreement.sessions().unwrap();
            MediaCrypto::Srtp {
                send: Box::new(send),
                receive: Box::new(receive),
            }
        };
        (crypto(&na), crypto(&nb))
    }

    #[test]
    fn srtp_stream_counts_frames_replays_and_forgeries() {
        let (ca, cb) = srtp_pair();
        let mut a = MediaStream::new(ca);
        let mut b = MediaStream::new(cb);
        let p1 = a.next_packet().unwrap();
        let p2 = a.next_packet().unwrap();
        assert_eq!(p1.len(), 12 + 160 + 10);
        assert_eq!(b.receive(&p1).unwrap().len(), 160);
        assert!(b.receive(&p1).is_none());
        let mut forged = p2.clone();
        forged[20] ^= 1;
        assert!(b.receive(&forged).is_none());
        assert!(b.receive(&p2).is_some());
        let s = b.stats();
        assert_eq!(
            (s.frames_received, s.replays, s.decrypt_failures),
            (2, 1, 1)
        );
        assert_eq!(a.stats().frames_sent, 2);
    }

    #[test]
    fn plain_stream_counts_and_rejects_non_rtp() {
        let mut a = MediaStream::new(MediaCrypto::Plain);
        let mut b = MediaStream::new(MediaCrypto::Plain);
        let p = a.next_packet().unwrap();
        assert_eq!(p.len(), 172);
        assert!(b.receive(&p).is_some());
        assert!(b.receive(b"hello").is_none());
        assert_eq!((b.stats().frames_received, b.stats().malformed), (1, 1));
    }
}
