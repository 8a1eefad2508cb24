//! Receiver statistics of RFC 3550 Appendix A (sequence tracking, loss,
//! interarrival jitter), round-trip time from report blocks (§6.4.1), and
//! the per-call [`CallStats`] summary.

use std::time::Duration;

use serde::Serialize;

use crate::clock::from_ntp_short;
use crate::codec::SAMPLE_RATE;
use crate::rtcp::{ReportBlock, MAX_CUMULATIVE_LOST, MIN_CUMULATIVE_LOST};

const SEQ_MOD: u32 = 1 << 16;
/// A forward jump of fewer sequence numbers is packet loss, not a restart.
const MAX_DROPOUT: u32 = 3000;
/// A backward step of fewer sequence numbers is reordering or a duplicate.
const MAX_MISORDER: u32 = 100;
/// Sequential packets a new source needs before it counts (probation).
const MIN_SEQUENTIAL: u32 = 2;

/// The state RFC 3550 A.1 keeps per source, with the loss accounting of
/// A.3 and the jitter estimate of A.8.
#[derive(Debug, Clone)]
pub struct ReceptionStats {
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u32,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    transit: Option<i64>,
    jitter: f64,
}

impl ReceptionStats {
    /// The state for a source whose first packet had sequence number `seq`
    /// (that packet is then given to [`ReceptionStats::update`] too).
    pub fn new(seq: u16) -> Self {
        let mut s = ReceptionStats {
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: 0,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            transit: None,
            jitter: 0.0,
        };
        s.init(seq);
        s.max_seq = seq.wrapping_sub(1);
        s
    }

    fn init(&mut self, seq: u16) {
        self.base_seq = u32::from(seq);
        self.max_seq = seq;
        self.bad_seq = SEQ_MOD + 1; // matches no sequence number
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// Takes the sequence number of a received packet (A.1). Returns
    /// whether it counts: `false` while the source is on probation and for
    /// a packet far outside the sequence (the first of a possible restart;
    /// a second, consecutive one restarts the count).
    pub fn update(&mut self, seq: u16) -> bool {
        let delta = u32::from(seq.wrapping_sub(self.max_seq));
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init(seq);
                    self.received += 1;
                    return true;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return false;
        }
        if delta < MAX_DROPOUT {
            if seq < self.max_seq {
                // Wrapped: one more cycle of 2^16.
                self.cycles = self.cycles.wrapping_add(SEQ_MOD);
            }
            self.max_seq = seq;
        } else if delta <= SEQ_MOD - MAX_MISORDER {
            if u32::from(seq) == self.bad_seq {
                // Two sequential packets after a big jump: the source
                // restarted without telling us.
                self.init(seq);
            } else {
                self.bad_seq = (u32::from(seq) + 1) & (SEQ_MOD - 1);
                return false;
            }
        }
        // else: a duplicate or reordered packet, counted as received.
        self.received += 1;
        true
    }

    /// Takes the RTP timestamp and arrival time (in the same units, the
    /// media clock) of a received audio packet: the A.8 jitter estimate.
    pub fn update_jitter(&mut self, rtp_timestamp: u32, arrival: u32) {
        let transit = i64::from(arrival.wrapping_sub(rtp_timestamp) as i32);
        if let Some(previous) = self.transit {
            let d = (transit - previous).abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// Whether the source has passed probation.
    pub fn is_valid(&self) -> bool {
        self.probation == 0
    }

    /// Extended highest sequence number received (cycles · 2^16 + max).
    pub fn extended_max(&self) -> u32 {
        self.cycles.wrapping_add(u32::from(self.max_seq))
    }

    /// Packets counted as received (duplicates included, as A.3 does).
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Packets expected: extended highest minus first, plus one.
    pub fn expected(&self) -> u64 {
        if !self.is_valid() {
            return 0;
        }
        (u64::from(self.extended_max()) + 1).saturating_sub(u64::from(self.base_seq))
    }

    /// Packets lost since the start: expected minus received (negative
    /// with duplicates).
    pub fn cumulative_lost(&self) -> i64 {
        self.expected() as i64 - self.received as i64
    }

    /// Fraction lost since the previous call, in 1/256 (A.3); starts the
    /// next interval.
    pub fn take_fraction_lost(&mut self) -> u8 {
        let fraction = self.fraction_lost();
        self.expected_prior = self.expected();
        self.received_prior = self.received;
        fraction
    }

    /// Fraction lost so far in the current interval, in 1/256, without
    /// starting a new one.
    pub fn fraction_lost(&self) -> u8 {
        let expected_interval = self.expected().saturating_sub(self.expected_prior);
        let received_interval = self.received.saturating_sub(self.received_prior);
        let lost_interval = expected_interval as i64 - received_interval as i64;
        if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        }
    }

    /// Interarrival jitter in timestamp units.
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }

    /// Interarrival jitter in milliseconds (8 kHz clock).
    pub fn jitter_ms(&self) -> f64 {
        self.jitter * 1000.0 / f64::from(SAMPLE_RATE)
    }

    /// A report block about source `ssrc`, starting the next loss
    /// interval; `last_sr` and `delay_since_last_sr` as for
    /// [`ReportBlock`].
    pub fn report_block(
        &mut self,
        ssrc: u32,
        last_sr: u32,
        delay_since_last_sr: u32,
    ) -> ReportBlock {
        let lost = self.cumulative_lost().clamp(
            i64::from(MIN_CUMULATIVE_LOST),
            i64::from(MAX_CUMULATIVE_LOST),
        ) as i32;
        ReportBlock {
            ssrc,
            fraction_lost: self.take_fraction_lost(),
            cumulative_lost: lost,
            highest_sequence: self.extended_max(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        }
    }
}

/// The round-trip time a report block gives (RFC 3550 §6.4.1): arrival
/// time minus LSR minus DLSR, all in 16.16 NTP seconds. `None` when the
/// block carries no LSR or the result is negative (clocks or a bogus
/// block).
pub fn round_trip_time(arrival_ntp_middle: u32, block: &ReportBlock) -> Option<Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let rtt = arrival_ntp_middle
        .wrapping_sub(block.last_sr)
        .wrapping_sub(block.delay_since_last_sr);
    // Above 2^31 the subtraction went negative.
    (rtt < 0x8000_0000).then(|| from_ntp_short(rtt))
}

/// What the peer reports about the audio we send (its report blocks about
/// our SSRC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct PeerReport {
    /// Fraction of our packets it lost in its last interval (0.0–1.0).
    pub fraction_lost: f64,
    /// Our packets it lost since the start.
    pub packets_lost: i64,
    /// The interarrival jitter it measures, in milliseconds.
    pub jitter_ms: f64,
}

impl PeerReport {
    /// The view a report block gives.
    pub fn from_block(block: &ReportBlock) -> Self {
        PeerReport {
            fraction_lost: block.fraction_lost_ratio(),
            packets_lost: i64::from(block.cumulative_lost),
            jitter_ms: f64::from(block.jitter) * 1000.0 / f64::from(SAMPLE_RATE),
        }
    }
}

/// The statistics of one call's media (SPEC E7), ready to serialise.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct CallStats {
    /// RTP packets sent (audio and telephone events).
    pub packets_sent: u64,
    /// RTP payload octets sent.
    pub octets_sent: u64,
    /// RTP packets received and accepted (after SRTP).
    pub packets_received: u64,
    /// RTP payload octets received.
    pub octets_received: u64,
    /// Packets lost since the start (RFC 3550 A.3; negative with duplicates).
    pub packets_lost: i64,
    /// Fraction lost in the last reporting interval (0.0–1.0).
    pub fraction_lost: f64,
    /// Interarrival jitter of what we receive, in milliseconds.
    pub jitter_ms: f64,
    /// Round-trip time from the peer's latest report, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// What the peer reports about what we send.
    pub peer: Option<PeerReport>,
    /// RTCP compound packets sent.
    pub rtcp_sent: u64,
    /// RTCP compound packets received and accepted.
    pub rtcp_received: u64,
    /// SRTP/SRTCP packets that failed authentication.
    pub srtp_auth_failures: u64,
    /// SRTP/SRTCP packets refused as replays (or too old for the window).
    pub srtp_replays: u64,
    /// Datagrams that were not valid RTP/RTCP (or other SRTP errors).
    pub malformed: u64,
    /// Packets of a payload type not negotiated, or of an unknown SSRC.
    pub ignored: u64,
    /// Packets that arrived after their playout time.
    pub late_packets: u64,
    /// Duplicate packets dropped by the jitter buffer.
    pub duplicate_packets: u64,
    /// Frames missing at playout and concealed (repeated or silent).
    pub concealed_frames: u64,
    /// The delay the jitter buffer adds, in milliseconds.
    pub jitter_buffer_delay_ms: u32,
    /// Frames the application queued faster than they were sent, dropped.
    pub send_queue_dropped: u64,
    /// DTMF digits sent.
    pub dtmf_sent: u64,
    /// DTMF digits received.
    pub dtmf_received: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(s: &mut ReceptionStats, seqs: impl IntoIterator<Item = u16>) {
        for seq in seqs {
            s.update(seq);
        }
    }

    #[test]
    fn probation_then_counting() {
        let mut s = ReceptionStats::new(100);
        assert!(!s.update(100));
        assert!(s.update(101));
        assert!(s.is_valid());
        feed(&mut s, 102..=110);
        assert_eq!(
            (s.expected(), s.received(), s.cumulative_lost()),
            (10, 10, 0)
        );
    }

    #[test]
    fn probation_restarts_on_a_gap() {
        let mut s = ReceptionStats::new(10);
        assert!(!s.update(10));
        assert!(!s.update(50));
        assert!(s.update(51));
        assert_eq!(s.expected(), 1);
    }

    #[test]
    fn loss_and_fraction_per_interval() {
        let mut s = ReceptionStats::new(0);
        feed(&mut s, (0..=100).filter(|n| n % 10 != 5));
        // Base is 1 (the probation packet 0 is not counted): 1..=100.
        assert_eq!(s.expected(), 100);
        assert_eq!(s.cumulative_lost(), 10);
        assert_eq!(s.take_fraction_lost(), 25); // 10/100 · 256
        feed(&mut s, 101..=200);
        assert_eq!(s.take_fraction_lost(), 0);
        let b = s.report_block(7, 0, 0);
        assert_eq!((b.cumulative_lost, b.highest_sequence), (10, 200));
    }

    #[test]
    fn sequence_wrap_counts_cycles() {
        let mut s = ReceptionStats::new(65530);
        feed(&mut s, (65530..=65535).chain(0..10));
        assert_eq!(s.extended_max(), 65536 + 9);
        assert_eq!(s.expected(), 15);
        assert_eq!(s.cumulative_lost(), 0);
    }

    #[test]
    fn duplicates_reordering_and_restart() {
        let mut s = ReceptionStats::new(1000);
        feed(&mut s, [1000, 1001, 1002, 1004, 1003, 1003]);
        assert_eq!(s.extended_max(), 1004);
        assert_eq!(s.cumulative_lost(), -1, "a duplicate counts as received");
        // A jump of 30000: ignored once, accepted as a restart when confirmed.
        assert!(!s.update(31000));
        assert!(s.update(1005));
        assert!(!s.update(40000));
        assert!(s.update(40001));
        assert_eq!(
            (s.extended_max(), s.expected(), s.received()),
            (40001, 1, 1)
        );
    }

    #[test]
    fn jitter_estimate() {
        let mut s = ReceptionStats::new(0);
        // Perfectly regular arrival: no jitter.
        for i in 0..50u32 {
            s.update_jitter(i * 160, 5000 + i * 160);
        }
        assert_eq!(s.jitter(), 0);
        // Arrival alternating between on time and 40 samples (5 ms) late:
        // every |D| is 40, so the estimate converges to 40.
        for i in 50..2000u32 {
            let noise = if i % 2 == 0 { 40 } else { 0 };
            s.update_jitter(i * 160, 5000 + i * 160 + noise);
        }
        assert!((s.jitter() as i64 - 40).abs() <= 1, "{}", s.jitter());
        assert!((s.jitter_ms() - 5.0).abs() < 0.2);
    }

    #[test]
    fn rtt_from_lsr_and_dlsr() {
        // RFC 3550 §6.4.1's example: A = 0xb710_8000 (46864.5 s),
        // LSR = 0xb705_2000 (46853.125 s), DLSR = 0x0005_4000 (5.25 s):
        // RTT = 6.125 s.
        let block = ReportBlock {
            last_sr: 0xb705_2000,
            delay_since_last_sr: 0x0005_4000,
            ..ReportBlock::default()
        };
        assert_eq!(
            round_trip_time(0xb710_8000, &block),
            Some(Duration::from_millis(6125))
        );
        assert_eq!(round_trip_time(0xb705_2000, &block), None);
        assert_eq!(round_trip_time(1, &ReportBlock::default()), None);
    }
}
