//! Goodbye (BYE, packet type 203; RFC 3550 §6.6).

use super::{begin_packet, finish_packet, MAX_REPORT_BLOCKS};
use crate::MediaError;

/// RTCP packet type of a goodbye.
pub const BYE: u8 = 203;

/// Sources leaving the session, with an optional reason.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Goodbye {
    /// The sources leaving (at most 31 are written).
    pub ssrcs: Vec<u32>,
    /// Why (invalid UTF-8 replaced; cut to 255 bytes when written).
    pub reason: Option<String>,
}

impl Goodbye {
    pub(crate) fn parse(count: u8, body: &[u8], offset: usize) -> Result<Self, MediaError> {
        let need = 4 * usize::from(count);
        let list = body.get(..need).ok_or(MediaError::RtcpMalformed {
            offset,
            reason: "BYE source count exceeds the packet",
        })?;
        let ssrcs = list
            .chunks_exact(4)
            .map(|c| u32::from_be_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let rest = &body[need..];
        let reason = match rest.first() {
            Some(&len) => {
                let text = rest
                    .get(1..1 + usize::from(len))
                    .ok_or(MediaError::RtcpMalformed {
                        offset: offset + 4 + need,
                        reason: "BYE reason runs past the packet",
                    })?;
                Some(String::from_utf8_lossy(text).into_owned())
            }
            None => None,
        };
        Ok(Goodbye { ssrcs, reason })
    }

    /// Appends the packet.
    pub fn write(&self, out: &mut Vec<u8>) {
        let n = self.ssrcs.len().min(MAX_REPORT_BLOCKS);
        let start = begin_packet(out, n as u8, BYE);
        for ssrc in &self.ssrcs[..n] {
            out.extend_from_slice(&ssrc.to_be_bytes());
        }
        if let Some(reason) = &self.reason {
            let mut end = reason.len().min(255);
            while !reason.is_char_boundary(end) {
                end -= 1;
            }
            out.push(end as u8);
            out.extend_from_slice(&reason.as_bytes()[..end]);
        }
        finish_packet(out, start);
    }
}
