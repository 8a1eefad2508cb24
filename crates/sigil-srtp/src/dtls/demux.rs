//! Telling DTLS, STUN and RTP/RTCP apart on one UDP port by the first byte
//! (RFC 7983 §7, updating RFC 5764 §5.1.2), and RTP from RTCP by the
//! payload type (RFC 5761 §4).

/// What a datagram received on a media port is, judged by its first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Demuxed {
    /// First byte 0..=3: STUN (ICE connectivity checks).
    Stun,
    /// First byte 16..=19: ZRTP.
    Zrtp,
    /// First byte 20..=63: a DTLS record.
    Dtls,
    /// First byte 64..=79: TURN channel data.
    TurnChannel,
    /// First byte 128..=191 and a payload type outside 64..=95: RTP (SRTP).
    Rtp,
    /// First byte 128..=191 and a payload type in 64..=95 (RFC 5761 §4,
    /// RTCP packet types 192..=223): RTCP (SRTCP).
    Rtcp,
    /// Empty, or a first byte no protocol of RFC 7983 uses: drop it.
    Unknown,
}

/// Classifies `datagram` (RFC 7983 §7). Total: any bytes give an answer.
///
/// ```
/// use sigil_srtp::dtls::{demux, Demuxed};
/// assert_eq!(demux(&[22, 0xfe, 0xfd]), Demuxed::Dtls);
/// assert_eq!(demux(&[0x80, 0x00, 0, 1]), Demuxed::Rtp);
/// assert_eq!(demux(&[0x80, 200, 0, 6]), Demuxed::Rtcp);
/// assert_eq!(demux(&[]), Demuxed::Unknown);
/// ```
pub fn demux(datagram: &[u8]) -> Demuxed {
    let Some(&first) = datagram.first() else {
        return Demuxed::Unknown;
    };
    match first {
        0..=3 => Demuxed::Stun,
        16..=19 => Demuxed::Zrtp,
        20..=63 => Demuxed::Dtls,
        64..=79 => Demuxed::TurnChannel,
        128..=191 => match datagram.get(1).map(|b| b & 0x7f) {
            Some(64..=95) => Demuxed::Rtcp,
            Some(_) => Demuxed::Rtp,
            None => Demuxed::Unknown,
        },
        _ => Demuxed::Unknown,
    }
}
