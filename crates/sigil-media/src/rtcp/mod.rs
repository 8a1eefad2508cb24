//! RTCP (RFC 3550 §6): compound packets read from any bytes and built for
//! our reports, one file per packet type, and the RFC 5761 test that tells
//! RTCP from RTP on a multiplexed port.
//!
//! [`parse_compound`] is total: any input gives the packets or an error
//! naming the offset at fault. It checks the version, the length of every
//! packet and the padding; it skips packet types it does not know (APP,
//! feedback, XR) as [`RtcpPacket::Other`]. [`write_compound`] writes what
//! it is given in order; our reports are SR or RR first, then SDES CNAME,
//! then BYE when leaving (RFC 3550 §6.1).

mod bye;
mod report_block;
mod rr;
mod sdes;
mod sr;

pub use bye::{Goodbye, BYE};
pub use report_block::{ReportBlock, MAX_CUMULATIVE_LOST, MIN_CUMULATIVE_LOST, REPORT_BLOCK_LEN};
pub use rr::{ReceiverReport, RR};
pub use sdes::{SdesChunk, SourceDescription, CNAME, SDES};
pub use sr::{SenderReport, SR};

use crate::MediaError;

/// Length of the common RTCP header.
pub const RTCP_HEADER_LEN: usize = 4;
/// Most report blocks (or SDES chunks, or BYE sources) one packet holds:
/// the 5-bit count.
pub const MAX_REPORT_BLOCKS: usize = 31;
/// Most packets [`parse_compound`] returns from one datagram.
pub const MAX_COMPOUND_PACKETS: usize = 64;

/// One packet of an RTCP compound packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// Sender report.
    SenderReport(SenderReport),
    /// Receiver report.
    ReceiverReport(ReceiverReport),
    /// Source description.
    SourceDescription(SourceDescription),
    /// Goodbye.
    Goodbye(Goodbye),
    /// A packet type this crate does not read (APP, RTPFB, PSFB, XR, …).
    Other {
        /// Its packet type.
        packet_type: u8,
    },
}

impl RtcpPacket {
    /// Appends the packet (nothing for [`RtcpPacket::Other`]).
    pub fn write(&self, out: &mut Vec<u8>) {
        match self {
            RtcpPacket::SenderReport(p) => p.write(out),
            RtcpPacket::ReceiverReport(p) => p.write(out),
            RtcpPacket::SourceDescription(p) => p.write(out),
            RtcpPacket::Goodbye(p) => p.write(out),
            RtcpPacket::Other { .. } => {}
        }
    }
}

/// Whether a datagram on an rtcp-mux port is RTCP rather than RTP (RFC 5761
/// §4): version 2 and a second byte of 192–223, where RTP would have a
/// payload type of 64–95 (with or without the marker bit).
pub fn is_rtcp(datagram: &[u8]) -> bool {
    matches!(datagram, [first, second, _, _, ..] if first >> 6 == 2 && (192..=223).contains(second))
}

/// Reads an RTCP compound packet (after SRTCP unprotection, if any).
///
/// Fails on an empty input, a version other than 2, a length field that
/// runs past the datagram, bad padding, a packet whose count does not fit
/// its length, or more than [`MAX_COMPOUND_PACKETS`] packets. Allocation is
/// bounded by the input's length.
pub fn parse_compound(data: &[u8]) -> Result<Vec<RtcpPacket>, MediaError> {
    if data.is_empty() {
        return Err(MediaError::RtcpMalformed {
            offset: 0,
            reason: "empty datagram",
        });
    }
    let mut packets = Vec::new();
    let mut at = 0;
    while at < data.len() {
        if packets.len() >= MAX_COMPOUND_PACKETS {
            return Err(MediaError::RtcpMalformed {
                offset: at,
                reason: "too many packets in one compound packet",
            });
        }
        let bad = |reason| MediaError::RtcpMalformed { offset: at, reason };
        let header = data
            .get(at..at + RTCP_HEADER_LEN)
            .ok_or(bad("header runs past the datagram"))?;
        if header[0] >> 6 != 2 {
            return Err(bad("version is not 2"));
        }
        let padded = header[0] & 0x20 != 0;
        let count = header[0] & 0x1F;
        let packet_type = header[1];
        let words = usize::from(u16::from_be_bytes([header[2], header[3]]));
        let end = at + 4 * (words + 1);
        let packet = data
            .get(at..end)
            .ok_or(bad("length field runs past the datagram"))?;
        let mut body = &packet[RTCP_HEADER_LEN..];
        if padded {
            let pad = usize::from(
                *body
                    .last()
                    .ok_or(bad("padding bit set on an empty packet"))?,
            );
            if pad == 0 || pad > body.len() {
                return Err(bad("padding count does not fit the packet"));
            }
            body = &body[..body.len() - pad];
        }
        packets.push(match packet_type {
            SR => RtcpPacket::SenderReport(SenderReport::parse(count, body, at)?),
            RR => RtcpPacket::ReceiverReport(ReceiverReport::parse(count, body, at)?),
            SDES => RtcpPacket::SourceDescription(SourceDescription::parse(count, body, at)?),
            BYE => RtcpPacket::Goodbye(Goodbye::parse(count, body, at)?),
            other => RtcpPacket::Other { packet_type: other },
        });
        at = end;
    }
    Ok(packets)
}

/// Appends the packets as one compound packet.
pub fn write_compound(packets: &[RtcpPacket], out: &mut Vec<u8>) {
    for p in packets {
        p.write(out);
    }
}

/// Starts a packet: writes the header with length 0; returns its offset.
pub(crate) fn begin_packet(out: &mut Vec<u8>, count: u8, packet_type: u8) -> usize {
    let start = out.len();
    out.push(0x80 | (count & 0x1F));
    out.push(packet_type);
    out.extend_from_slice(&[0, 0]);
    start
}

/// Ends the packet begun at `start`: zero-pads to 32 bits and writes the
/// length in words minus one.
pub(crate) fn finish_packet(out: &mut Vec<u8>, start: usize) {
    while (out.len() - start) % 4 != 0 {
        out.push(0);
    }
    // Our packets are at most a few KiB: the word count fits 16 bits.
    let words = ((out.len() - start) / 4 - 1) as u16;
    if let Some(len) = out.get_mut(start + 2..start + 4) {
        len.copy_from_slice(&words.to_be_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn block(ssrc: u32) -> ReportBlock {
        ReportBlock {
            ssrc,
            fraction_lost: 12,
            cumulative_lost: 40,
            highest_sequence: 70_000,
            jitter: 33,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 999,
        }
    }

    #[test]
    fn compound_round_trip() {
        let packets = vec![
            RtcpPacket::SenderReport(SenderReport {
                ssrc: 1,
                ntp_time: 0xE000_0000_8000_0000,
                rtp_time: 8000,
                packet_count: 50,
                octet_count: 8000,
                reports: vec![block(2)],
            }),
            RtcpPacket::SourceDescription(SourceDescription::cname(1, "door@sigil")),
            RtcpPacket::Goodbye(Goodbye {
                ssrcs: vec![1],
                reason: Some("call ended".into()),
            }),
        ];
        let mut out = Vec::new();
        write_compound(&packets, &mut out);
        assert_eq!(out.len() % 4, 0);
        assert_eq!(parse_compound(&out).unwrap(), packets);
        let rr = vec![RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: 9,
            reports: vec![block(3), block(4)],
        })];
        out.clear();
        write_compound(&rr, &mut out);
        assert_eq!(out.len(), 8 + 48);
        assert_eq!(parse_compound(&out).unwrap(), rr);
        assert_eq!(out[0], 0x82);
    }

    #[test]
    fn known_bytes_from_a_hand_built_packet() {
        // RR with no blocks + SDES CNAME "ab" + an APP packet, padded.
        let bytes = [
            0x80, 201, 0, 1, 0, 0, 0, 7, // RR ssrc 7
            0x81, 202, 0, 3, 0, 0, 0, 7, 1, 2, b'a', b'b', 0, 0, 0, 0, // SDES
            0xA0, 204, 0, 3, 0, 0, 0, 7, b'n', b'a', b'm', b'e', 0, 0, 0,
            4, // APP, 4 bytes padding
        ];
        let p = parse_compound(&bytes).unwrap();
        assert_eq!(p.len(), 3);
        assert_eq!(
            p[0],
            RtcpPacket::ReceiverReport(ReceiverReport {
                ssrc: 7,
                reports: vec![]
            })
        );
        assert_eq!(
            p[1],
            RtcpPacket::SourceDescription(SourceDescription::cname(7, "ab"))
        );
        assert_eq!(p[2], RtcpPacket::Other { packet_type: 204 });
    }

    #[test]
    fn malformed_compounds_are_refused() {
        let mut ok = Vec::new();
        ReceiverReport {
            ssrc: 5,
            reports: vec![block(6)],
        }
        .write(&mut ok);
        for cut in 0..ok.len() {
            assert!(parse_compound(&ok[..cut]).is_err(), "cut {cut}");
        }
        let mut v1 = ok.clone();
        v1[0] = 0x41;
        assert!(parse_compound(&v1).is_err());
        let mut count = ok.clone();
        count[0] = 0x82; // two blocks claimed, one present
        assert!(parse_compound(&count).is_err());
        let mut pad = ok.clone();
        pad[0] |= 0x20;
        *pad.last_mut().unwrap() = 0;
        assert!(parse_compound(&pad).is_err());
        let sdes = [0x81, 202, 0, 1, 0, 0, 0, 7]; // chunk without end item
        assert!(parse_compound(&sdes).is_err());
        let bye = [0x81, 203, 0, 1, 0, 0, 0, 7, 9, b'x', 0, 0];
        assert!(parse_compound(&bye[..8]).is_ok());
        let bye_long = [0x81, 203, 0, 2, 0, 0, 0, 7, 9, b'x', 0, 0];
        assert!(parse_compound(&bye_long).is_err());
        let many: Vec<u8> = [0x80, 204, 0, 0].repeat(MAX_COMPOUND_PACKETS + 1);
        assert!(parse_compound(&many).is_err());
        assert!(parse_compound(&many[..4 * MAX_COMPOUND_PACKETS]).is_ok());
    }

    #[test]
    fn rtcp_mux_demultiplexing() {
        assert!(is_rtcp(&[0x80, 200, 0, 6]));
        assert!(is_rtcp(&[0x81, 201, 0, 7]));
        assert!(is_rtcp(&[0x80, 223, 0, 0]));
        // RTP with PT 0 / 8 / 101, marker or not.
        for pt in [0u8, 8, 101, 0x80, 0x88, 0xE5] {
            assert!(!is_rtcp(&[0x80, pt, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0]));
        }
        assert!(!is_rtcp(&[0x80, 224, 0, 0]));
        assert!(!is_rtcp(&[0x80, 200]));
        assert!(!is_rtcp(&[0x00, 200, 0, 0]));
    }

    #[test]
    fn long_cname_is_cut_at_255_bytes() {
        let name = "é".repeat(200);
        let mut out = Vec::new();
        SourceDescription::cname(1, &name).write(&mut out);
        let p = parse_compound(&out).unwrap();
        let RtcpPacket::SourceDescription(s) = &p[0] else {
            panic!("{p:?}")
        };
        assert_eq!(s.chunks[0].cname.as_deref().map(str::len), Some(254));
    }
}
