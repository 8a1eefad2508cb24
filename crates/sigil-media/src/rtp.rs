//! RTP (RFC 3550 §5): the fixed header, read from any bytes, and the
//! [`Packetizer`] that numbers and stamps one outgoing stream.

use crate::MediaError;

/// Length of the RTP fixed header (no CSRC, no extension).
pub const RTP_HEADER_LEN: usize = 12;
/// The RTP version this crate speaks.
pub const RTP_VERSION: u8 = 2;

/// A parsed RTP header.
///
/// Parsing is total: [`RtpHeader::parse`] returns an error for any input
/// that is not a well-formed RTP version 2 packet and never reads outside
/// the slice.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RtpHeader {
    /// Marker bit (first packet of a talkspurt for audio, start of a
    /// telephone event).
    pub marker: bool,
    /// Payload type (7 bits).
    pub payload_type: u8,
    /// Sequence number.
    pub sequence: u16,
    /// Timestamp, in units of the payload's clock.
    pub timestamp: u32,
    /// Synchronisation source.
    pub ssrc: u32,
    /// Number of contributing sources (0–15) following the fixed header.
    pub csrc_count: u8,
    /// The header extension's profile-defined id and length in bytes (not
    /// counting its 4-byte preamble), when the X bit is set.
    pub extension: Option<(u16, usize)>,
    /// Offset of the payload in the packet (after CSRCs and extension).
    pub payload_offset: usize,
    /// End of the payload: the packet length less any padding.
    pub payload_end: usize,
}

impl RtpHeader {
    /// Reads the header of an RTP packet.
    ///
    /// Fails when the packet is shorter than 12 bytes, is not version 2,
    /// when the CSRC list or extension runs past its end, or when the
    /// padding count (P bit) is zero or does not fit.
    pub fn parse(packet: &[u8]) -> Result<RtpHeader, MediaError> {
        let len = packet.len();
        let fixed: &[u8; RTP_HEADER_LEN] = packet
            .get(..RTP_HEADER_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(MediaError::RtpTooShort { len })?;
        let version = fixed[0] >> 6;
        if version != RTP_VERSION {
            return Err(MediaError::RtpVersion { version });
        }
        let padding = fixed[0] & 0x20 != 0;
        let has_extension = fixed[0] & 0x10 != 0;
        let csrc_count = fixed[0] & 0x0F;
        let mut offset = RTP_HEADER_LEN + 4 * usize::from(csrc_count);
        let overrun = |header_len| MediaError::RtpHeaderOverrun { header_len, len };
        let mut extension = None;
        if has_extension {
            let preamble = packet.get(offset..offset + 4).ok_or(overrun(offset + 4))?;
            let id = u16::from_be_bytes([preamble[0], preamble[1]]);
            let ext_len = 4 * usize::from(u16::from_be_bytes([preamble[2], preamble[3]]));
            offset += 4 + ext_len;
            extension = Some((id, ext_len));
        }
        if offset > len {
            return Err(overrun(offset));
        }
        let mut payload_end = len;
        if padding {
            let available = len - offset;
            let count = usize::from(packet[len - 1]);
            if count == 0 || count > available {
                return Err(MediaError::RtpPadding {
                    padding: count,
                    available,
                });
            }
            payload_end = len - count;
        }
        Ok(RtpHeader {
            marker: fixed[1] & 0x80 != 0,
            payload_type: fixed[1] & 0x7F,
            sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
            timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
            ssrc: u32::from_be_bytes([fixed[8], fixed[9], fixed[10], fixed[11]]),
            csrc_count,
            extension,
            payload_offset: offset,
            payload_end,
        })
    }

    /// The payload of `packet` (the packet this header was parsed from):
    /// empty if `packet` is another, shorter one.
    pub fn payload<'p>(&self, packet: &'p [u8]) -> &'p [u8] {
        packet
            .get(self.payload_offset..self.payload_end)
            .unwrap_or_default()
    }

    /// The contributing sources listed in `packet` (the packet this header
    /// was parsed from).
    pub fn csrcs<'p>(&self, packet: &'p [u8]) -> impl Iterator<Item = u32> + 'p {
        let end = RTP_HEADER_LEN + 4 * usize::from(self.csrc_count);
        packet
            .get(RTP_HEADER_LEN..end)
            .unwrap_or_default()
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
    }
}

/// Numbers and stamps the packets of one outgoing RTP stream (one SSRC).
///
/// SSRC, first sequence number and first timestamp are random (RFC 3550
/// §5.1). The media timestamp advances by the samples of each frame, whether
/// a frame is sent ([`Packetizer::audio`]) or skipped as silence
/// ([`Packetizer::advance`]); the first packet and the first after a silence
/// carry the marker bit. Telephone events ([`Packetizer::event`]) share the
/// sequence space but carry their own timestamp.
#[derive(Debug, Clone)]
pub struct Packetizer {
    ssrc: u32,
    sequence: u16,
    timestamp: u32,
    payload_type: u8,
    marker_next: bool,
    trailer_room: usize,
}

impl Packetizer {
    /// A packetizer for `payload_type` with random SSRC, sequence number and
    /// timestamp (RFC 3550 §5.1).
    pub fn new(payload_type: u8) -> Self {
        let mut r = [0u8; 10];
        if let Err(e) = getrandom::getrandom(&mut r) {
            // Still a working stream, just a predictable one.
            log::warn!("media: no random source for SSRC and RTP sequence ({e})");
        }
        Packetizer::with_state(
            payload_type,
            u32::from_be_bytes([r[0], r[1], r[2], r[3]]),
            // RFC 3550 §5.1 suggests a random start; keeping it below 2^15
            // leaves room before the first wrap (as libsrtp's examples do).
            u16::from_be_bytes([r[4], r[5]]) & 0x7FFF,
            u32::from_be_bytes([r[6], r[7], r[8], r[9]]),
        )
    }

    /// A packetizer with the given SSRC, next sequence number and next
    /// timestamp (for tests and for continuing a stream).
    pub fn with_state(payload_type: u8, ssrc: u32, sequence: u16, timestamp: u32) -> Self {
        Packetizer {
            ssrc,
            sequence,
            timestamp,
            payload_type: payload_type & 0x7F,
            marker_next: true,
            trailer_room: 0,
        }
    }

    /// Reserve `bytes` beyond each packet for what SRTP appends (MKI and
    /// tag), so protecting in place does not reallocate.
    pub fn set_trailer_room(&mut self, bytes: usize) {
        self.trailer_room = bytes;
    }

    /// The stream's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The sequence number the next packet gets.
    pub fn next_sequence(&self) -> u16 {
        self.sequence
    }

    /// The media timestamp of the next frame.
    pub fn next_timestamp(&self) -> u32 {
        self.timestamp
    }

    /// The payload type of audio packets.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// Writes one audio packet into `out` (cleared first): `payload` of
    /// `samples` samples at the current media timestamp, which then
    /// advances by `samples`.
    pub fn audio(&mut self, out: &mut Vec<u8>, payload: &[u8], samples: u32) {
        let marker = std::mem::take(&mut self.marker_next);
        self.write(out, self.payload_type, marker, self.timestamp, payload);
        self.timestamp = self.timestamp.wrapping_add(samples);
    }

    /// Writes one packet of another payload type (a telephone event) with
    /// its own `marker` and `timestamp` into `out` (cleared first); the media
    /// timestamp does not move.
    pub fn event(
        &mut self,
        out: &mut Vec<u8>,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) {
        self.write(out, payload_type & 0x7F, marker, timestamp, payload);
    }

    /// Lets `samples` of media time pass without an audio packet (silence,
    /// or a frame sent as a telephone event); the next audio packet starts a
    /// talkspurt and carries the marker bit.
    pub fn advance(&mut self, samples: u32) {
        self.timestamp = self.timestamp.wrapping_add(samples);
        self.marker_next = true;
    }

    fn write(
        &mut self,
        out: &mut Vec<u8>,
        payload_type: u8,
        marker: bool,
        timestamp: u32,
        payload: &[u8],
    ) {
        out.clear();
        out.reserve(RTP_HEADER_LEN + payload.len() + self.trailer_room);
        out.push(RTP_VERSION << 6);
        out.push(payload_type | if marker { 0x80 } else { 0 });
        out.extend_from_slice(&self.sequence.to_be_bytes());
        out.extend_from_slice(&timestamp.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(payload);
        self.sequence = self.sequence.wrapping_add(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packetizer_numbers_stamps_and_marks() {
        let mut p = Packetizer::with_state(0, 0xdecafbad, 0xFFFF, u32::MAX - 100);
        p.set_trailer_room(10);
        let mut a = Vec::new();
        p.audio(&mut a, &[0xFF; 160], 160);
        assert!(a.capacity() >= 12 + 160 + 10);
        let mut b = Vec::new();
        p.audio(&mut b, &[0xFF; 160], 160);
        let (ha, hb) = (RtpHeader::parse(&a).unwrap(), RtpHeader::parse(&b).unwrap());
        assert!(ha.marker && !hb.marker);
        assert_eq!((ha.sequence, hb.sequence), (0xFFFF, 0));
        assert_eq!(hb.timestamp, ha.timestamp.wrapping_add(160));
        assert_eq!((ha.ssrc, ha.payload_type), (0xdecafbad, 0));
        assert_eq!(ha.payload(&a), &[0xFF; 160][..]);
        // Silence: the timestamp moves on and the next packet is marked.
        p.advance(160);
        p.audio(&mut b, &[1; 160], 160);
        let hc = RtpHeader::parse(&b).unwrap();
        assert!(hc.marker);
        assert_eq!(hc.sequence, 1);
        assert_eq!(hc.timestamp, ha.timestamp.wrapping_add(480));
        // An event shares the sequence space, not the media clock.
        p.event(&mut b, 101, true, 7, &[1, 2, 3, 4]);
        let hd = RtpHeader::parse(&b).unwrap();
        assert_eq!((hd.sequence, hd.timestamp, hd.payload_type), (2, 7, 101));
        assert_eq!(p.next_timestamp(), ha.timestamp.wrapping_add(640));
    }

    #[test]
    fn random_packetizers_differ() {
        let (a, b) = (Packetizer::new(0), Packetizer::new(0));
        assert_ne!(
            (a.ssrc(), a.next_timestamp()),
            (b.ssrc(), b.next_timestamp())
        );
        assert!(a.next_sequence() < 0x8000);
    }

    #[test]
    fn header_with_csrcs_extension_and_padding() {
        let mut p = vec![0xB2, 0x88, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        p.extend_from_slice(&[0, 0, 0, 0xA, 0, 0, 0, 0xB]); // 2 CSRCs
        p.extend_from_slice(&[0xBE, 0xDE, 0, 1, 1, 2, 3, 4]); // 1-word extension
        p.extend_from_slice(&[9, 9, 9, 0, 0, 3]); // payload + 3 bytes padding
        let h = RtpHeader::parse(&p).unwrap();
        assert!(h.marker);
        assert_eq!(h.payload_type, 8);
        assert_eq!(h.csrcs(&p).collect::<Vec<_>>(), vec![0xA, 0xB]);
        assert_eq!(h.extension, Some((0xBEDE, 4)));
        assert_eq!(h.payload(&p), &[9, 9, 9]);
    }

    #[test]
    fn malformed_headers_are_refused() {
        assert!(matches!(
            RtpHeader::parse(&[0x80; 5]),
            Err(MediaError::RtpTooShort { len: 5 })
        ));
        assert!(matches!(
            RtpHeader::parse(&[0x40; 20]),
            Err(MediaError::RtpVersion { version: 1 })
        ));
        assert!(matches!(
            RtpHeader::parse(&[0x8F; 20]),
            Err(MediaError::RtpHeaderOverrun { header_len: 72, .. })
        ));
        let mut ext = vec![0x90, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF];
        assert!(matches!(
            RtpHeader::parse(&ext),
            Err(MediaError::RtpHeaderOverrun { .. })
        ));
        ext.truncate(14);
        assert!(RtpHeader::parse(&ext).is_err());
        let mut pad = vec![0xA0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0];
        assert!(matches!(
            RtpHeader::parse(&pad),
            Err(MediaError::RtpPadding { padding: 0, .. })
        ));
        pad[13] = 3;
        assert!(matches!(
            RtpHeader::parse(&pad),
            Err(MediaError::RtpPadding {
                padding: 3,
                available: 2
            })
        ));
    }
}
