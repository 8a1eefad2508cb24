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
    /// Why (invalid UTF-8 replaced, at most 255 bytes; cut to 255 bytes when written).
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
                // Invalid UTF-8 is replaced, which can grow the text past the
                // 255 bytes a BYE carries: cut it so what we read is what we write.
                let mut reason = String::from_utf8_lossy(text).into_owned();
                let mut end = reason.len().min(255);
                while !reason.is_char_boundary(end) {
                    end -= 1;
                }
                reason.truncate(end);
                Some(reason)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// 200 invalid bytes become 200 replacement characters (600 bytes of
    /// UTF-8): what is read must still fit what a BYE can carry, so that it
    /// writes back the same (found by the fuzzer).
    #[test]
    fn a_lossy_reason_is_cut_to_what_a_bye_can_carry() {
        let mut body = vec![200u8];
        body.extend_from_slice(&[0xFF; 200]);
        let bye = Goodbye::parse(0, &body, 0).unwrap();
        let reason = bye.reason.clone().unwrap();
        assert!(
            reason.len() <= 255 && reason.chars().all(|c| c == '\u{FFFD}'),
            "{}",
            reason.len()
        );
        let mut out = Vec::new();
        bye.write(&mut out);
        let again = Goodbye::parse(0, &out[4..], 0).unwrap();
        assert_eq!(again, bye);
    }
}
