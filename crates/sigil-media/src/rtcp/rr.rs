//! Receiver report (RR, packet type 201; RFC 3550 §6.4.2).

use super::report_block::{parse_blocks, ReportBlock, REPORT_BLOCK_LEN};
use super::{begin_packet, finish_packet, MAX_REPORT_BLOCKS};
use crate::MediaError;

/// RTCP packet type of a receiver report.
pub const RR: u8 = 201;

/// A receiver report: reception reports from a participant that has not
/// sent RTP since its last report.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReceiverReport {
    /// The reporter's SSRC.
    pub ssrc: u32,
    /// Reception reports (at most 31 are written).
    pub reports: Vec<ReportBlock>,
}

impl ReceiverReport {
    pub(crate) fn parse(count: u8, body: &[u8], offset: usize) -> Result<Self, MediaError> {
        let ssrc = body.get(..4).ok_or(MediaError::RtcpMalformed {
            offset,
            reason: "RR shorter than its SSRC",
        })?;
        Ok(ReceiverReport {
            ssrc: u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]),
            reports: parse_blocks(&body[4..], count, offset + 8)?,
        })
    }

    /// Appends the packet.
    pub fn write(&self, out: &mut Vec<u8>) {
        let n = self.reports.len().min(MAX_REPORT_BLOCKS);
        out.reserve(8 + n * REPORT_BLOCK_LEN);
        let start = begin_packet(out, n as u8, RR);
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for block in &self.reports[..n] {
            block.write(out);
        }
        finish_packet(out, start);
    }
}
