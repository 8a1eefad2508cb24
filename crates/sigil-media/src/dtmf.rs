//! DTMF as RFC 4733 telephone events: the 4-byte payload, a sender that
//! turns a digit into its packets, and a receiver that reports each digit
//! once.

use std::collections::VecDeque;
use std::time::Duration;

use crate::codec::SAMPLES_PER_FRAME;
use crate::MediaError;

/// Length of a telephone-event payload.
pub const EVENT_LEN: usize = 4;
/// Volume we send: −10 dBm0 (RFC 4733 §2.3.4 ranges 0 to −63).
pub const DEFAULT_VOLUME: u8 = 10;
/// Shortest digit accepted.
pub const MIN_DIGIT: Duration = Duration::from_millis(20);
/// Longest digit accepted: what one event's 16-bit duration holds at 8 kHz
/// with room to spare.
pub const MAX_DIGIT: Duration = Duration::from_millis(8000);
/// Digits that may wait to be sent.
pub const DIGIT_QUEUE: usize = 32;
/// Times the final packet (E bit) is sent (RFC 4733 §2.5.1.4).
const END_REPEATS: u8 = 3;
/// 20 ms ticks of audio between two queued digits.
const INTER_DIGIT_GAP: u8 = 2;
/// An event this far (in samples, 10 s) behind the newest one belongs to a
/// restarted stream, not to an old digit.
const STALE: i64 = 80_000;

const DIGITS: [char; 16] = [
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', '*', '#', 'A', 'B', 'C', 'D',
];

/// The event code of a DTMF digit (`0`–`9` → 0–9, `*` → 10, `#` → 11,
/// `A`–`D` → 12–15; letters in either case).
pub fn digit_to_event(digit: char) -> Option<u8> {
    let digit = digit.to_ascii_uppercase();
    DIGITS.iter().position(|&d| d == digit).map(|p| p as u8)
}

/// The DTMF digit of an event code 0–15; `None` for other events (flash,
/// modem tones, …).
pub fn event_to_digit(event: u8) -> Option<char> {
    DIGITS.get(usize::from(event)).copied()
}

/// An RFC 4733 telephone-event payload (§2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TelephoneEvent {
    /// Event code (0–15 are the DTMF digits).
    pub event: u8,
    /// E bit: the final packet(s) of the event.
    pub end: bool,
    /// Power level in −dBm0 (6 bits, 0–63).
    pub volume: u8,
    /// Duration so far, in timestamp units (samples at 8 kHz).
    pub duration: u16,
}

impl TelephoneEvent {
    /// Reads a payload: the first 4 bytes (several events in one packet, as
    /// §2.5.1.5 allows for redundancy, are not used here: the first counts).
    pub fn parse(payload: &[u8]) -> Result<TelephoneEvent, MediaError> {
        let b: &[u8; EVENT_LEN] = payload
            .get(..EVENT_LEN)
            .and_then(|b| b.try_into().ok())
            .ok_or(MediaError::TelephoneEventTooShort { len: payload.len() })?;
        Ok(TelephoneEvent {
            event: b[0],
            end: b[1] & 0x80 != 0,
            // bit 6 is reserved: ignored on receipt.
            volume: b[1] & 0x3F,
            duration: u16::from_be_bytes([b[2], b[3]]),
        })
    }

    /// The 4-byte payload.
    pub fn to_bytes(&self) -> [u8; EVENT_LEN] {
        let d = self.duration.to_be_bytes();
        [
            self.event,
            (if self.end { 0x80 } else { 0 }) | (self.volume & 0x3F),
            d[0],
            d[1],
        ]
    }

    /// The DTMF digit, if the event is one.
    pub fn digit(&self) -> Option<char> {
        event_to_digit(self.event)
    }
}

/// One telephone-event packet to send: RTP marker, RTP timestamp (the
/// event's start) and payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DtmfPacket {
    /// Set on the first packet of an event.
    pub marker: bool,
    /// RTP timestamp: where the event began; the same for all its packets.
    pub timestamp: u32,
    /// The event payload.
    pub payload: TelephoneEvent,
}

#[derive(Debug, Clone, Copy)]
struct Sending {
    event: u8,
    timestamp: u32,
    total: u16,
    elapsed: u16,
    ends_sent: u8,
}

/// Turns queued digits into telephone-event packets, one per 20 ms tick.
///
/// A digit of duration D starts at the media timestamp of the tick it
/// begins on; every tick sends a packet with that timestamp and the
/// duration so far (marker on the first); the packet that reaches D has the
/// E bit and is sent three times in all. Digits queue (at most
/// [`DIGIT_QUEUE`]) with 40 ms of audio between them.
#[derive(Debug, Clone)]
pub struct DtmfSender {
    queue: VecDeque<(u8, u16)>,
    current: Option<Sending>,
    gap: u8,
}

impl Default for DtmfSender {
    fn default() -> Self {
        DtmfSender::new()
    }
}

impl DtmfSender {
    /// An idle sender.
    pub fn new() -> Self {
        DtmfSender {
            queue: VecDeque::with_capacity(DIGIT_QUEUE),
            current: None,
            gap: 0,
        }
    }

    /// Queues `digit` to be sent for `duration` (20 ms to 8 s).
    pub fn queue_digit(&mut self, digit: char, duration: Duration) -> Result<(), MediaError> {
        let event = digit_to_event(digit).ok_or(MediaError::UnknownDtmfDigit { digit })?;
        if !(MIN_DIGIT..=MAX_DIGIT).contains(&duration) {
            return Err(MediaError::DtmfDuration {
                ms: duration.as_millis(),
            });
        }
        if self.queue.len() >= DIGIT_QUEUE {
            return Err(MediaError::DtmfQueueFull {
                capacity: DIGIT_QUEUE,
            });
        }
        // ≤ 8000 ms × 8 = 64000 samples: fits u16.
        let samples = (duration.as_millis() * 8) as u16;
        self.queue.push_back((event, samples));
        Ok(())
    }

    /// Whether a digit is being sent or waiting.
    pub fn is_busy(&self) -> bool {
        self.current.is_some() || !self.queue.is_empty()
    }

    /// The packet for this 20 ms tick, whose media timestamp is
    /// `timestamp`; `None` when the tick carries audio instead.
    pub fn tick(&mut self, timestamp: u32) -> Option<DtmfPacket> {
        if self.current.is_none() {
            if self.gap > 0 {
                self.gap -= 1;
                return None;
            }
            let (event, total) = self.queue.pop_front()?;
            self.current = Some(Sending {
                event,
                timestamp,
                total,
                elapsed: 0,
                ends_sent: 0,
            });
        }
        let s = self.current.as_mut()?;
        let marker = s.elapsed == 0;
        if s.elapsed < s.total {
            s.elapsed = s
                .elapsed
                .saturating_add(SAMPLES_PER_FRAME as u16)
                .min(s.total);
        }
        let end = s.elapsed == s.total;
        if end {
            s.ends_sent += 1;
        }
        let packet = DtmfPacket {
            marker,
            timestamp: s.timestamp,
            payload: TelephoneEvent {
                event: s.event,
                end,
                volume: DEFAULT_VOLUME,
                duration: s.elapsed,
            },
        };
        if s.ends_sent >= END_REPEATS {
            self.current = None;
            self.gap = INTER_DIGIT_GAP;
        }
        Some(packet)
    }
}

/// Reports each received DTMF digit once.
///
/// An event is known by its RTP timestamp: the first packet seen of a new
/// timestamp reports the digit (so a lost first packet or lost end packets
/// do not lose the digit), later packets of it (updates, the repeated end
/// packets, duplicates) and packets of older events are ignored. A long
/// event split into segments (RFC 4733 §2.5.1.3, beyond 8 s) is reported
/// once per segment.
#[derive(Debug, Clone, Default)]
pub struct DtmfReceiver {
    newest: Option<u32>,
    ended: bool,
}

impl DtmfReceiver {
    /// A receiver that has seen nothing.
    pub fn new() -> Self {
        DtmfReceiver::default()
    }

    /// Forgets past events (the peer's stream restarted).
    pub fn reset(&mut self) {
        *self = DtmfReceiver::default();
    }

    /// Whether the newest event has ended (E bit seen).
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// Takes one telephone-event packet with RTP `timestamp`: the digit it
    /// starts, if it starts one.
    pub fn receive(&mut self, timestamp: u32, payload: &[u8]) -> Result<Option<char>, MediaError> {
        let event = TelephoneEvent::parse(payload)?;
        if let Some(newest) = self.newest {
            let behind = i64::from(newest.wrapping_sub(timestamp) as i32);
            if behind == 0 {
                self.ended |= event.end;
                return Ok(None);
            }
            if (1..STALE).contains(&behind) {
                return Ok(None);
            }
        }
        self.newest = Some(timestamp);
        self.ended = event.end;
        Ok(event.digit())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digits_and_events() {
        for (i, d) in "0123456789*#ABCD".chars().enumerate() {
            assert_eq!(digit_to_event(d), Some(i as u8));
            assert_eq!(event_to_digit(i as u8), Some(d));
        }
        assert_eq!(digit_to_event('b'), Some(13));
        assert_eq!(digit_to_event('E'), None);
        assert_eq!(event_to_digit(16), None);
    }

    #[test]
    fn payload_round_trip_and_known_bytes() {
        // RFC 4733 §2.3: event 5, E, volume 10, duration 800.
        let e = TelephoneEvent {
            event: 5,
            end: true,
            volume: 10,
            duration: 800,
        };
        assert_eq!(e.to_bytes(), [5, 0x8A, 0x03, 0x20]);
        assert_eq!(TelephoneEvent::parse(&[5, 0xCA, 3, 0x20, 99]).unwrap(), e);
        assert!(matches!(
            TelephoneEvent::parse(&[1, 2, 3]),
            Err(MediaError::TelephoneEventTooShort { len: 3 })
        ));
    }

    #[test]
    fn sender_packets_for_one_digit() {
        let mut s = DtmfSender::new();
        s.queue_digit('7', Duration::from_millis(100)).unwrap();
        let mut packets = Vec::new();
        let mut ts = 1000u32;
        while s.is_busy() {
            if let Some(p) = s.tick(ts) {
                packets.push(p);
            }
            ts += 160;
        }
        assert_eq!(packets.len(), 5 + 2);
        assert!(packets
            .iter()
            .all(|p| p.timestamp == 1000 && p.payload.event == 7));
        assert!(packets[0].marker && packets[1..].iter().all(|p| !p.marker));
        let durations: Vec<u16> = packets.iter().map(|p| p.payload.duration).collect();
        assert_eq!(durations, vec![160, 320, 480, 640, 800, 800, 800]);
        let ends: Vec<bool> = packets.iter().map(|p| p.payload.end).collect();
        assert_eq!(ends, vec![false, false, false, false, true, true, true]);
    }

    #[test]
    fn sender_queues_digits_with_a_gap_and_refuses_nonsense() {
        let mut s = DtmfSender::new();
        s.queue_digit('1', Duration::from_millis(30)).unwrap();
        s.queue_digit('#', Duration::from_millis(20)).unwrap();
        let ticks: Vec<Option<(u32, u16, bool)>> = (0..9u32)
            .map(|i| {
                s.tick(i * 160)
                    .map(|p| (p.timestamp, p.payload.duration, p.payload.end))
            })
            .collect();
        assert_eq!(
            ticks,
            vec![
                Some((0, 160, false)),
                Some((0, 240, true)),
                Some((0, 240, true)),
                Some((0, 240, true)),
                None,
                None,
                Some((960, 160, true)),
                Some((960, 160, true)),
                Some((960, 160, true)),
            ]
        );
        assert!(!s.is_busy());
        assert!(matches!(
            s.queue_digit('x', Duration::from_millis(100)),
            Err(MediaError::UnknownDtmfDigit { digit: 'x' })
        ));
        assert!(matches!(
            s.queue_digit('1', Duration::from_secs(9)),
            Err(MediaError::DtmfDuration { ms: 9000 })
        ));
        assert!(s.queue_digit('1', Duration::from_millis(10)).is_err());
        for _ in 0..DIGIT_QUEUE {
            s.queue_digit('1', Duration::from_millis(50)).unwrap();
        }
        assert!(matches!(
            s.queue_digit('1', Duration::from_millis(50)),
            Err(MediaError::DtmfQueueFull { .. })
        ));
    }

    #[test]
    fn receiver_reports_once_despite_loss_duplicates_and_reordering() {
        let mut s = DtmfSender::new();
        for d in "159#".chars() {
            s.queue_digit(d, Duration::from_millis(80)).unwrap();
        }
        let mut packets = Vec::new();
        for i in 0..60u32 {
            if let Some(p) = s.tick(50_000 + i * 160) {
                packets.push(p);
            }
        }
        // Lose every first packet and one end packet, duplicate others,
        // deliver a stale one late.
        let mut delivered = Vec::new();
        for (i, p) in packets.iter().enumerate() {
            if p.marker || i == 5 {
                continue;
            }
            delivered.push(*p);
            if i % 3 == 0 {
                delivered.push(*p);
            }
        }
        delivered.push(packets[2]);
        let mut r = DtmfReceiver::new();
        let got: String = delivered
            .iter()
            .filter_map(|p| r.receive(p.timestamp, &p.payload.to_bytes()).unwrap())
            .collect();
        assert_eq!(got, "159#");
        assert!(r.ended());
        // Non-digit events are not reported; short payloads are errors.
        assert_eq!(r.receive(90_000, &[16, 0, 0, 160]).unwrap(), None);
        assert!(r.receive(90_160, &[1]).is_err());
        // After a reset an old timestamp is new again.
        r.reset();
        assert_eq!(r.receive(50_000, &[3, 0, 0, 160]).unwrap(), Some('3'));
    }
}
