//! Sender report (SR, packet type 200; RFC 3550 §6.4.1).

use super::report_block::{parse_blocks, ReportBlock, REPORT_BLOCK_LEN};
use super::{begin_packet, finish_packet, MAX_REPORT_BLOCKS};
use crate::MediaError;

/// RTCP packet type of a sender report.
pub const SR: u8 = 200;
const SENDER_INFO_LEN: usize = 24;

/// A sender report: what the sender sent, when, plus its reception reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SenderReport {
    /// The sender's SSRC.
    pub ssrc: u32,
    /// Wall-clock time of the report as a 64-bit NTP timestamp.
    pub ntp_time: u64,
    /// The same instant in the RTP timestamp units of the sender's media.
    pub rtp_time: u32,
    /// RTP packets sent since the start.
    pub packet_count: u32,
    /// RTP payload octets sent since the start.
    pub octet_count: u32,
    /// Reception reports (at most 31 are written).
    pub reports: Vec<ReportBlock>,
}

impl SenderReport {
    pub(crate) fn parse(count: u8, body: &[u8], offset: usize) -> Result<Self, MediaError> {
        let info = body
            .get(..SENDER_INFO_LEN)
            .ok_or(MediaError::RtcpMalformed {
                offset,
                reason: "SR shorter than its sender info",
            })?;
        let w =
            |at: usize| u32::from_be_bytes([info[at], info[at + 1], info[at + 2], info[at + 3]]);
        let reports = parse_blocks(
            &body[SENDER_INFO_LEN..],
            count,
            offset + 4 + SENDER_INFO_LEN,
        )?;
        Ok(SenderReport {
            ssrc: w(0),
            ntp_time: u64::from(w(4)) << 32 | u64::from(w(8)),
            rtp_time: w(12),
            packet_count: w(16),
            octet_count: w(20),
            reports,
        })
    }

    /// Appends the packet.
    pub fn write(&self, out: &mut Vec<u8>) {
        let n = self.reports.len().min(MAX_REPORT_BLOCKS);
        out.reserve(4 + SENDER_INFO_LEN + n * REPORT_BLOCK_LEN);
        let start = begin_packet(out, n as u8, SR);
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&self.ntp_time.to_be_bytes());
        out.extend_from_slice(&self.rtp_time.to_be_bytes());
        out.extend_from_slice(&self.packet_count.to_be_bytes());
        out.extend_from_slice(&self.octet_count.to_be_bytes());
        for block in &self.reports[..n] {
            block.write(out);
        }
        finish_packet(out, start);
    }

    /// The middle 32 bits of the NTP timestamp: what a receiver echoes as
    /// LSR.
    pub fn ntp_middle(&self) -> u32 {
        (self.ntp_time >> 16) as u32
    }
}
