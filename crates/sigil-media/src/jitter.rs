//! The receive jitter buffer: decoded audio placed by RTP timestamp, played
//! out 20 ms at a time behind a fixed target delay.
//!
//! Audio is kept in a ring of samples addressed by RTP timestamp, so
//! reordering needs no sorting, any packet duration works (10, 20, 30 ms …),
//! and nothing is allocated after construction. The owner calls
//! [`JitterBuffer::playout`] every 20 ms.
//!
//! - The first packet (and each re-sync) starts playout `target` frames
//!   later: that is the buffer's added delay.
//! - A packet whose audio is already there is a duplicate; one behind the
//!   playout point is late. Both are dropped and counted.
//! - A frame with no audio at playout is lost: it is concealed by repeating
//!   the last frame, attenuated, for up to three frames, then silence.
//! - A packet too far ahead for the ring moves the playout point forward
//!   (the sender's clock runs fast, or we stalled); one more than two
//!   seconds away from the playout point (the sender restarted its
//!   timestamps) re-syncs once a second packet confirms it.
//! - Timestamps and sequence numbers wrap around.

use serde::Serialize;

use crate::codec::{SAMPLES_PER_FRAME, SAMPLE_RATE};

/// Default target delay: 3 frames (60 ms).
pub const DEFAULT_JITTER_FRAMES: usize = 3;
/// Largest target delay accepted: 50 frames (1 s).
pub const MAX_JITTER_FRAMES: usize = 50;
/// Frames of room beyond the target for packets that arrive early.
const SLACK_FRAMES: usize = 12;
/// Further than this from the playout point (in samples, 2 s), a packet
/// belongs to a restarted stream rather than a late or early one.
const RESYNC_DISTANCE: i64 = 2 * SAMPLE_RATE as i64;
/// Gains of the repeated frames concealing consecutive losses; silence after.
const CONCEAL_GAINS: [f32; 3] = [0.7, 0.4, 0.15];
const FRAME: u32 = SAMPLES_PER_FRAME as u32;

/// What [`JitterBuffer::insert`] did with a packet's audio.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Inserted {
    /// Stored for playout.
    Buffered,
    /// Started (or restarted) the stream: playout begins after the target delay.
    Synced,
    /// Its audio was already stored: dropped.
    Duplicate,
    /// Behind the playout point: dropped.
    Late,
    /// Far from the playout point: dropped, remembered as the possible
    /// start of a restarted stream.
    OutOfRange,
    /// Empty, or longer than the buffer can hold: dropped.
    Unusable,
}

/// What kind of frame [`JitterBuffer::playout`] returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum PlayoutKind {
    /// No packet received yet: silence.
    Idle,
    /// Received audio (silence where a partial frame had gaps).
    Audio,
    /// The frame was missing: a repetition of the last one, attenuated.
    Concealed,
    /// The frame was missing and concealment ran out: silence.
    Lost,
}

/// One 20 ms frame of playout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Playout {
    /// 160 samples.
    pub frame: [i16; SAMPLES_PER_FRAME],
    /// Where they came from.
    pub kind: PlayoutKind,
}

impl Playout {
    /// Whether the frame stands in for missing audio.
    pub fn concealed(&self) -> bool {
        matches!(self.kind, PlayoutKind::Concealed | PlayoutKind::Lost)
    }
}

/// Counters of a [`JitterBuffer`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct JitterStats {
    /// Packets stored.
    pub buffered: u64,
    /// Frames played from received audio.
    pub played: u64,
    /// Frames missing at playout (concealed or silent).
    pub lost: u64,
    /// Packets dropped because they were behind the playout point.
    pub late: u64,
    /// Packets dropped because their audio was already stored.
    pub duplicates: u64,
    /// Stored frames discarded when the playout point jumped forward.
    pub overflow: u64,
    /// Times playout (re)started on a new timestamp base.
    pub syncs: u64,
    /// Packets dropped as out of range or unusable.
    pub discarded: u64,
}

#[derive(Debug, Clone, Copy)]
struct Playing {
    /// Timestamp of the next sample to play.
    play: u32,
    /// Timestamp of the packet that synced; missing frames before it are
    /// the initial delay, not losses.
    start: u32,
    /// End (timestamp after the last sample) of the newest audio stored.
    newest_end: u32,
}

/// A fixed-delay jitter buffer of 8 kHz audio. See the module docs.
#[derive(Debug, Clone)]
pub struct JitterBuffer {
    target: usize,
    samples: Vec<i16>,
    filled: Vec<bool>,
    mask: usize,
    state: Option<Playing>,
    candidate: Option<(u16, u32)>,
    last_frame: [i16; SAMPLES_PER_FRAME],
    conceal_run: usize,
    stats: JitterStats,
}

/// `a − b` for wrapping 32-bit timestamps, as a signed distance.
fn ts_diff(a: u32, b: u32) -> i64 {
    i64::from(a.wrapping_sub(b) as i32)
}

impl JitterBuffer {
    /// A buffer delaying playout by `target_frames` 20 ms frames (clamped to
    /// 1..=[`MAX_JITTER_FRAMES`]). Allocates its ring here, once.
    pub fn new(target_frames: usize) -> Self {
        let target = target_frames.clamp(1, MAX_JITTER_FRAMES);
        let size = ((target + SLACK_FRAMES) * SAMPLES_PER_FRAME).next_power_of_two();
        JitterBuffer {
            target,
            samples: vec![0; size],
            filled: vec![false; size],
            mask: size - 1,
            state: None,
            candidate: None,
            last_frame: [0; SAMPLES_PER_FRAME],
            conceal_run: CONCEAL_GAINS.len(),
            stats: JitterStats::default(),
        }
    }

    /// The target delay in frames.
    pub fn target_frames(&self) -> usize {
        self.target
    }

    /// The delay the buffer adds, in milliseconds (target frames × 20).
    pub fn delay_ms(&self) -> u32 {
        // target ≤ 50: fits.
        self.target as u32 * 20
    }

    /// Audio stored ahead of the playout point, in milliseconds.
    pub fn buffered_ms(&self) -> u32 {
        self.state.map_or(0, |s| {
            let ahead = ts_diff(s.newest_end, s.play).max(0);
            (ahead * 1000 / i64::from(SAMPLE_RATE)) as u32
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> JitterStats {
        self.stats
    }

    /// Forgets the stream (the peer changed SSRC): the next packet syncs.
    pub fn reset(&mut self) {
        self.clear_all();
        self.state = None;
        self.candidate = None;
        self.conceal_run = CONCEAL_GAINS.len();
    }

    fn window(&self) -> i64 {
        (self.mask + 1) as i64
    }

    fn clear_all(&mut self) {
        self.filled.iter_mut().for_each(|f| *f = false);
    }

    /// Stores the decoded audio of one packet: `samples` starting at RTP
    /// `timestamp`. `sequence` is the packet's RTP sequence number (used to
    /// confirm a re-sync by two consecutive packets).
    pub fn insert(&mut self, sequence: u16, timestamp: u32, samples: &[i16]) -> Inserted {
        let len = samples.len();
        let room = self.window() as usize - self.target * SAMPLES_PER_FRAME;
        if len == 0 || len > room {
            self.stats.discarded += 1;
            return Inserted::Unusable;
        }
        let Some(state) = self.state else {
            self.sync(timestamp);
            self.store(timestamp, samples);
            return Inserted::Synced;
        };
        let diff = ts_diff(timestamp, state.play);
        if !(-RESYNC_DISTANCE..RESYNC_DISTANCE).contains(&diff) {
            let confirmed = self.candidate.is_some_and(|(seq, ts)| {
                sequence == seq.wrapping_add(1)
                    && (0..RESYNC_DISTANCE).contains(&ts_diff(timestamp, ts))
            });
            if confirmed {
                self.clear_all();
                self.sync(timestamp);
                self.store(timestamp, samples);
                return Inserted::Synced;
            }
            self.candidate = Some((sequence, timestamp));
            self.stats.discarded += 1;
            return Inserted::OutOfRange;
        }
        self.candidate = None;
        if diff < 0 {
            self.stats.late += 1;
            return Inserted::Late;
        }
        if self.filled[timestamp as usize & self.mask] {
            self.stats.duplicates += 1;
            return Inserted::Duplicate;
        }
        // len ≤ room, diff < 2 s: no overflow.
        if diff + len as i64 > self.window() {
            // Too far ahead for the ring: move playout so that this packet
            // is `target` frames away, discarding what is skipped.
            let new_play = timestamp.wrapping_sub(self.target as u32 * FRAME);
            self.advance_to(new_play);
        }
        self.store(timestamp, samples);
        Inserted::Buffered
    }

    fn sync(&mut self, timestamp: u32) {
        self.stats.syncs += 1;
        self.candidate = None;
        self.state = Some(Playing {
            play: timestamp.wrapping_sub(self.target as u32 * FRAME),
            start: timestamp,
            newest_end: timestamp,
        });
    }

    fn store(&mut self, timestamp: u32, samples: &[i16]) {
        for (i, &s) in samples.iter().enumerate() {
            let at = timestamp.wrapping_add(i as u32) as usize & self.mask;
            self.samples[at] = s;
            self.filled[at] = true;
        }
        let end = timestamp.wrapping_add(samples.len() as u32);
        if let Some(state) = &mut self.state {
            if ts_diff(end, state.newest_end) > 0 {
                state.newest_end = end;
            }
        }
        self.stats.buffered += 1;
    }

    /// Moves the playout point forward to `new_play`, discarding (and
    /// counting) the stored frames it passes.
    fn advance_to(&mut self, new_play: u32) {
        let Some(state) = &mut self.state else {
            return;
        };
        let skip = ts_diff(new_play, state.play).max(0) as usize;
        let from = state.play;
        state.play = new_play;
        let mut discarded = 0;
        for frame in 0..skip.min(self.mask + 1).div_ceil(SAMPLES_PER_FRAME) {
            let mut had = false;
            for i in 0..SAMPLES_PER_FRAME {
                let at =
                    from.wrapping_add((frame * SAMPLES_PER_FRAME + i) as u32) as usize & self.mask;
                had |= std::mem::take(&mut self.filled[at]);
            }
            discarded += u64::from(had);
        }
        self.stats.overflow += discarded;
    }

    /// The next 20 ms of audio; call it every 20 ms.
    pub fn playout(&mut self) -> Playout {
        let Some(state) = &mut self.state else {
            return Playout {
                frame: [0; SAMPLES_PER_FRAME],
                kind: PlayoutKind::Idle,
            };
        };
        let play = state.play;
        let before_start = ts_diff(play, state.start) < 0;
        state.play = play.wrapping_add(FRAME);
        let mut frame = [0i16; SAMPLES_PER_FRAME];
        let mut any = false;
        for (i, out) in frame.iter_mut().enumerate() {
            let at = play.wrapping_add(i as u32) as usize & self.mask;
            if std::mem::take(&mut self.filled[at]) {
                *out = self.samples[at];
                any = true;
            }
        }
        if any {
            self.stats.played += 1;
            self.conceal_run = 0;
            self.last_frame = frame;
            return Playout {
                frame,
                kind: PlayoutKind::Audio,
            };
        }
        if before_start {
            // The initial delay: silence, not a loss.
            return Playout {
                frame,
                kind: PlayoutKind::Idle,
            };
        }
        self.stats.lost += 1;
        let kind = match CONCEAL_GAINS.get(self.conceal_run) {
            Some(&gain) => {
                for (out, &last) in frame.iter_mut().zip(&self.last_frame) {
                    // |gain| < 1: no overflow.
                    *out = (f32::from(last) * gain) as i16;
                }
                PlayoutKind::Concealed
            }
            None => PlayoutKind::Lost,
        };
        self.conceal_run = self.conceal_run.saturating_add(1);
        Playout { frame, kind }
    }

    /// Lets `frames` playout periods pass unplayed (the owner was stalled):
    /// what they held is discarded, without counting losses.
    pub fn skip(&mut self, frames: u32) {
        if let Some(state) = self.state {
            let new_play = state.play.wrapping_add(frames.saturating_mul(FRAME));
            if i64::from(frames) * i64::from(FRAME) >= RESYNC_DISTANCE {
                self.reset();
            } else {
                self.advance_to(new_play);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A frame whose samples all equal `n` (to recognise it at playout).
    fn f(n: i16) -> [i16; 160] {
        [n; 160]
    }

    fn kinds(jb: &mut JitterBuffer, n: usize) -> Vec<(PlayoutKind, i16)> {
        (0..n)
            .map(|_| {
                let p = jb.playout();
                (p.kind, p.frame[0])
            })
            .collect()
    }

    use PlayoutKind::{Audio, Concealed, Idle, Lost};

    #[test]
    fn in_order_with_the_target_delay() {
        let mut jb = JitterBuffer::new(3);
        assert_eq!(jb.delay_ms(), 60);
        assert_eq!(jb.playout().kind, Idle);
        let mut played = Vec::new();
        for i in 0..10u16 {
            jb.insert(100 + i, 1000 + u32::from(i) * 160, &f(i as i16 + 1));
            let p = jb.playout();
            played.push((p.kind, p.frame[0]));
        }
        // Three frames of delay, then the frames in order.
        assert_eq!(&played[..3], &[(Idle, 0), (Idle, 0), (Idle, 0)]);
        assert_eq!(
            &played[3..],
            &(1..=7).map(|n| (Audio, n)).collect::<Vec<_>>()[..]
        );
        assert_eq!(jb.buffered_ms(), 60);
        assert_eq!(jb.stats().played, 7);
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn reordered_within_the_window() {
        let mut jb = JitterBuffer::new(3);
        // 0, 2, 1, 4, 3, 5
        for (seq, n) in [(0u16, 0u32), (2, 2), (1, 1), (4, 4), (3, 3), (5, 5)] {
            assert_ne!(jb.insert(seq, n * 160, &f(n as i16 + 1)), Inserted::Late);
        }
        let got = kinds(&mut jb, 9);
        assert_eq!(
            &got[3..],
            &(1..=6).map(|n| (Audio, n)).collect::<Vec<_>>()[..]
        );
        assert_eq!(jb.stats().lost, 0);
    }

    #[test]
    fn duplicates_and_late_packets_are_dropped_and_counted() {
        let mut jb = JitterBuffer::new(2);
        jb.insert(0, 0, &f(1));
        assert_eq!(jb.insert(0, 0, &f(9)), Inserted::Duplicate);
        jb.insert(1, 160, &f(2));
        kinds(&mut jb, 4); // delay, 1, 2
        assert_eq!(jb.insert(1, 160, &f(2)), Inserted::Late);
        assert_eq!(jb.insert(0, 0, &f(1)), Inserted::Late);
        let s = jb.stats();
        assert_eq!((s.duplicates, s.late, s.played), (1, 2, 2));
    }

    #[test]
    fn lost_frames_are_concealed_then_silent() {
        let mut jb = JitterBuffer::new(1);
        jb.insert(0, 0, &f(1000));
        let got = kinds(&mut jb, 7);
        assert_eq!(got[0], (Idle, 0));
        assert_eq!(got[1], (Audio, 1000));
        assert_eq!(got[2], (Concealed, 700));
        assert_eq!(got[3], (Concealed, 400));
        assert_eq!(got[4], (Concealed, 150));
        assert_eq!(got[5], (Lost, 0));
        assert_eq!(jb.stats().lost, 5);
        // Audio again resets the concealment.
        jb.insert(6, 6 * 160, &f(5));
        jb.insert(8, 8 * 160, &f(6));
        let got = kinds(&mut jb, 4);
        assert_eq!(
            got,
            vec![(Audio, 5), (Concealed, 3), (Audio, 6), (Concealed, 4)]
        );
    }

    #[test]
    fn timestamp_and_sequence_wrap() {
        let mut jb = JitterBuffer::new(3);
        let base = u32::MAX - 3 * 160 + 1;
        for i in 0..8u32 {
            let seq = 65533u16.wrapping_add(i as u16);
            let r = jb.insert(seq, base.wrapping_add(i * 160), &f(i as i16 + 1));
            assert!(
                matches!(r, Inserted::Buffered | Inserted::Synced),
                "{i}: {r:?}"
            );
        }
        let got = kinds(&mut jb, 11);
        assert_eq!(
            &got[3..],
            &(1..=8).map(|n| (Audio, n)).collect::<Vec<_>>()[..]
        );
    }

    #[test]
    fn a_timestamp_jump_resyncs_after_confirmation() {
        let mut jb = JitterBuffer::new(2);
        jb.insert(10, 5000, &f(1));
        kinds(&mut jb, 3);
        // One stray packet far away is ignored…
        assert_eq!(jb.insert(11, 900_000, &f(7)), Inserted::OutOfRange);
        assert_eq!(jb.insert(12, 5000, &f(2)), Inserted::Late);
        // …two consecutive ones restart the stream there.
        assert_eq!(jb.insert(5000, 77_000_000, &f(3)), Inserted::OutOfRange);
        assert_eq!(jb.insert(5001, 77_000_160, &f(4)), Inserted::Synced);
        let got = kinds(&mut jb, 4);
        assert_eq!(got, vec![(Idle, 0), (Idle, 0), (Audio, 4), (Concealed, 2)]);
        assert_eq!(jb.stats().syncs, 2);
    }

    #[test]
    fn early_packets_move_playout_forward() {
        let mut jb = JitterBuffer::new(3);
        jb.insert(0, 0, &f(1));
        // A packet 30 frames ahead: beyond the ring (16 + slack frames).
        assert_eq!(jb.insert(30, 30 * 160, &f(2)), Inserted::Buffered);
        let got = kinds(&mut jb, 4);
        assert_eq!(got[3], (Audio, 2));
        assert_eq!(jb.stats().overflow, 1);
    }

    #[test]
    fn other_packet_durations() {
        // 10 ms packets fill half frames; one missing half is silence.
        let mut jb = JitterBuffer::new(1);
        for i in [0u32, 1, 3] {
            jb.insert(i as u16, i * 80, &[i as i16 + 1; 80]);
        }
        jb.playout();
        let a = jb.playout();
        assert_eq!((a.frame[0], a.frame[80]), (1, 2));
        let b = jb.playout();
        assert_eq!((b.kind, b.frame[0], b.frame[80]), (Audio, 0, 4));
        assert_eq!(jb.insert(9, 0, &[]), Inserted::Unusable);
        assert_eq!(jb.insert(9, 0, &vec![0; 5000]), Inserted::Unusable);
    }

    #[test]
    fn skip_and_reset() {
        let mut jb = JitterBuffer::new(1);
        jb.insert(0, 0, &f(1));
        jb.insert(1, 160, &f(2));
        jb.insert(2, 320, &f(3));
        jb.skip(2);
        assert_eq!(jb.playout().frame[0], 2);
        jb.skip(1000);
        assert_eq!(jb.playout().kind, Idle);
        jb.insert(50, 50_000, &f(4));
        jb.reset();
        assert_eq!(jb.playout().kind, Idle);
    }
}
