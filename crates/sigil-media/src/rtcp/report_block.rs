//! The reception report block shared by SR and RR (RFC 3550 §6.4.1).

use crate::MediaError;

/// Length of one report block.
pub const REPORT_BLOCK_LEN: usize = 24;

/// What a receiver reports about one source it hears.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReportBlock {
    /// The source this block is about.
    pub ssrc: u32,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Packets lost since the start (24-bit signed: duplicates can make
    /// it negative), clamped to −2^23..2^23−1.
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles << 16 | seq).
    pub highest_sequence: u32,
    /// Interarrival jitter, in timestamp units.
    pub jitter: u32,
    /// Middle 32 bits of the NTP timestamp of the last SR received from
    /// the source (0: none yet).
    pub last_sr: u32,
    /// Delay since that SR was received, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// Largest cumulative loss a report block can carry.
pub const MAX_CUMULATIVE_LOST: i32 = (1 << 23) - 1;
/// Smallest (most negative) cumulative loss a report block can carry.
pub const MIN_CUMULATIVE_LOST: i32 = -(1 << 23);

fn word(b: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

impl ReportBlock {
    /// Reads one block from exactly [`REPORT_BLOCK_LEN`] bytes.
    pub fn parse(b: &[u8], offset: usize) -> Result<ReportBlock, MediaError> {
        if b.len() != REPORT_BLOCK_LEN {
            return Err(MediaError::RtcpMalformed {
                offset,
                reason: "report block is not 24 bytes",
            });
        }
        let lost = word(b, 4) & 0x00FF_FFFF;
        // Sign-extend the 24-bit two's complement value.
        let cumulative_lost = ((lost << 8) as i32) >> 8;
        Ok(ReportBlock {
            ssrc: word(b, 0),
            fraction_lost: b[4],
            cumulative_lost,
            highest_sequence: word(b, 8),
            jitter: word(b, 12),
            last_sr: word(b, 16),
            delay_since_last_sr: word(b, 20),
        })
    }

    /// Appends the block's 24 bytes.
    pub fn write(&self, out: &mut Vec<u8>) {
        let lost = self
            .cumulative_lost
            .clamp(MIN_CUMULATIVE_LOST, MAX_CUMULATIVE_LOST) as u32
            & 0x00FF_FFFF;
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        out.extend_from_slice(&(u32::from(self.fraction_lost) << 24 | lost).to_be_bytes());
        out.extend_from_slice(&self.highest_sequence.to_be_bytes());
        out.extend_from_slice(&self.jitter.to_be_bytes());
        out.extend_from_slice(&self.last_sr.to_be_bytes());
        out.extend_from_slice(&self.delay_since_last_sr.to_be_bytes());
    }

    /// Fraction lost as a number from 0.0 to 1.0.
    pub fn fraction_lost_ratio(&self) -> f64 {
        f64::from(self.fraction_lost) / 256.0
    }
}

/// Reads `count` blocks filling the start of `b`.
pub(crate) fn parse_blocks(
    b: &[u8],
    count: u8,
    offset: usize,
) -> Result<Vec<ReportBlock>, MediaError> {
    let need = usize::from(count) * REPORT_BLOCK_LEN;
    let blocks = b.get(..need).ok_or(MediaError::RtcpMalformed {
        offset,
        reason: "report count exceeds the packet length",
    })?;
    blocks
        .chunks_exact(REPORT_BLOCK_LEN)
        .enumerate()
        .map(|(i, c)| ReportBlock::parse(c, offset + i * REPORT_BLOCK_LEN))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_negative_loss() {
        let b = ReportBlock {
            ssrc: 0x01020304,
            fraction_lost: 25,
            cumulative_lost: -3,
            highest_sequence: 0x0001_0005,
            jitter: 77,
            last_sr: 0xAABB_CCDD,
            delay_since_last_sr: 65536,
        };
        let mut v = Vec::new();
        b.write(&mut v);
        assert_eq!(v.len(), REPORT_BLOCK_LEN);
        assert_eq!(&v[4..8], &[25, 0xFF, 0xFF, 0xFD]);
        assert_eq!(ReportBlock::parse(&v, 0).unwrap(), b);
        let big = ReportBlock {
            cumulative_lost: i32::MAX,
            ..b
        };
        v.clear();
        big.write(&mut v);
        assert_eq!(
            ReportBlock::parse(&v, 0).unwrap().cumulative_lost,
            MAX_CUMULATIVE_LOST
        );
        assert!(ReportBlock::parse(&v[..23], 0).is_err());
    }
}
