//! Source description (SDES, packet type 202; RFC 3550 §6.5): the CNAME.

use super::{begin_packet, finish_packet, MAX_REPORT_BLOCKS};
use crate::MediaError;

/// RTCP packet type of a source description.
pub const SDES: u8 = 202;
/// SDES item type of the canonical name.
pub const CNAME: u8 = 1;

/// One SDES chunk: a source and its CNAME (other items are skipped when
/// reading and never written).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: u32,
    /// Its canonical name, if the chunk has one (invalid UTF-8 replaced).
    pub cname: Option<String>,
}

/// A source description packet.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SourceDescription {
    /// The chunks (at most 31 are written).
    pub chunks: Vec<SdesChunk>,
}

impl SourceDescription {
    /// A description of one source by its CNAME.
    pub fn cname(ssrc: u32, cname: &str) -> Self {
        SourceDescription {
            chunks: vec![SdesChunk {
                ssrc,
                cname: Some(cname.to_string()),
            }],
        }
    }

    pub(crate) fn parse(count: u8, body: &[u8], offset: usize) -> Result<Self, MediaError> {
        let bad = |at: usize, reason| MediaError::RtcpMalformed {
            offset: offset + 4 + at,
            reason,
        };
        let mut chunks = Vec::with_capacity(usize::from(count));
        let mut at = 0;
        for _ in 0..count {
            let ssrc = body
                .get(at..at + 4)
                .ok_or(bad(at, "SDES chunk count exceeds the packet"))?;
            let ssrc = u32::from_be_bytes([ssrc[0], ssrc[1], ssrc[2], ssrc[3]]);
            let chunk_start = at;
            at += 4;
            let mut cname = None;
            loop {
                let item_type = *body.get(at).ok_or(bad(at, "SDES chunk without end item"))?;
                if item_type == 0 {
                    // The end item, then zeros up to the next 32-bit boundary.
                    at += 1;
                    at += (4 - (at - chunk_start) % 4) % 4;
                    if at > body.len() {
                        return Err(bad(chunk_start, "SDES chunk padding runs past the packet"));
                    }
                    break;
                }
                let len = usize::from(
                    *body
                        .get(at + 1)
                        .ok_or(bad(at, "SDES item without length"))?,
                );
                let text = body
                    .get(at + 2..at + 2 + len)
                    .ok_or(bad(at, "SDES item runs past the packet"))?;
                if item_type == CNAME && cname.is_none() {
                    cname = Some(cut(String::from_utf8_lossy(text).into_owned()));
                }
                at += 2 + len;
            }
            chunks.push(SdesChunk { ssrc, cname });
        }
        Ok(SourceDescription { chunks })
    }

    /// Appends the packet. A CNAME longer than 255 bytes is cut (at a
    /// character boundary).
    pub fn write(&self, out: &mut Vec<u8>) {
        let n = self.chunks.len().min(MAX_REPORT_BLOCKS);
        let start = begin_packet(out, n as u8, SDES);
        for chunk in &self.chunks[..n] {
            let chunk_start = out.len();
            out.extend_from_slice(&chunk.ssrc.to_be_bytes());
            if let Some(cname) = &chunk.cname {
                let end = cut_len(cname);
                out.push(CNAME);
                out.push(end as u8);
                out.extend_from_slice(&cname.as_bytes()[..end]);
            }
            // End item (at least one zero), padded to 32 bits.
            out.push(0);
            while (out.len() - chunk_start) % 4 != 0 {
                out.push(0);
            }
        }
        finish_packet(out, start);
    }
}

/// Where a CNAME is cut to fit an SDES item (255 bytes, at a character
/// boundary).
fn cut_len(cname: &str) -> usize {
    let mut end = cname.len().min(255);
    while !cname.is_char_boundary(end) {
        end -= 1;
    }
    end
}

/// A received CNAME as it would be written back: invalid UTF-8 replaced
/// (which can lengthen it) and then cut as [`SourceDescription::write`]
/// cuts, so that what is read is what is written.
fn cut(mut cname: String) -> String {
    cname.truncate(cut_len(&cname));
    cname
}
