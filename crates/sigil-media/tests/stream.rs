//! Two MediaStreams back to back on a simulated network with a fake clock:
//! tone, RTCP and RTT, loss, reordering, DTMF, SRTP tampering, BYE.

use std::time::{Duration, Instant};

use sigil_media::tone::{dominant_frequency, tone_ratio};
use sigil_media::{
    Codec, MediaConfig, MediaCrypto, MediaEvent, MediaStream, MediaTransmit, ToneSource,
    TransmitKind, WallClock,
};
use sigil_srtp::{MasterKey, Policy, Session, Suite};

const MS: Duration = Duration::from_millis(1);

/// What the network does to one datagram from A to B: deliver after the
/// base delay plus `extra`, or drop it; may also alter it.
type Filter = Box<dyn FnMut(&mut MediaTransmit, u64) -> Option<Duration>>;

struct Side {
    stream: MediaStream,
    tone: ToneSource,
    heard: Vec<i16>,
    concealed: u64,
    digits: Vec<char>,
    byes: u32,
    inbox: Vec<(Instant, MediaTransmit)>,
    sent_rtp: u64,
}

impl Side {
    fn new(stream: MediaStream, frequency: f64) -> Self {
        Side {
            stream,
            tone: ToneSource::new(frequency),
            heard: Vec::new(),
            concealed: 0,
            digits: Vec::new(),
            byes: 0,
            inbox: Vec::new(),
            sent_rtp: 0,
        }
    }

    fn drain_events(&mut self) {
        while let Some(e) = self.stream.poll_event() {
            match e {
                MediaEvent::Audio { frame, concealed } => {
                    self.heard.extend_from_slice(&frame);
                    self.concealed += u64::from(concealed);
                }
                MediaEvent::Dtmf { digit } => self.digits.push(digit),
                MediaEvent::PeerBye { .. } => self.byes += 1,
            }
        }
    }
}

struct Call {
    t0: Instant,
    now: Instant,
    a: Side,
    b: Side,
    delay: Duration,
    a_to_b: Filter,
    ticks_queued: u64,
}

fn clock(t0: Instant) -> WallClock {
    WallClock::new(t0, Duration::from_secs(1_750_000_000))
}

fn config(t0: Instant, name: &str) -> MediaConfig {
    MediaConfig::new(Codec::Pcmu, name, clock(t0)).with_telephone_event(Some(101))
}

fn srtp_pair() -> (MediaCrypto, MediaCrypto) {
    let suite = Suite::AesCm128HmacSha1_80;
    let key = |b: u8| MasterKey::new(suite, &[b; 16], &[b ^ 0x5a; 14]).unwrap();
    let session = |b: u8, out: bool| {
        let policy = Policy::new(suite, key(b));
        Box::new(if out {
            Session::outbound(policy).unwrap()
        } else {
            Session::inbound(policy).unwrap()
        })
    };
    (
        MediaCrypto::Srtp {
            send: session(1, true),
            receive: session(2, false),
        },
        MediaCrypto::Srtp {
            send: session(2, true),
            receive: session(1, false),
        },
    )
}

impl Call {
    fn new(
        a: MediaConfig,
        b: MediaConfig,
        crypto: (MediaCrypto, MediaCrypto),
        t0: Instant,
    ) -> Self {
        Call {
            t0,
            now: t0,
            a: Side::new(MediaStream::new(a, crypto.0, t0), 440.0),
            b: Side::new(MediaStream::new(b, crypto.1, t0), 1000.0),
            delay: 30 * MS,
            a_to_b: Box::new(|_, _| Some(Duration::ZERO)),
            ticks_queued: 0,
        }
    }

    fn plain(t0: Instant) -> Self {
        Call::new(
            config(t0, "a@sigil"),
            config(t0, "b@sigil"),
            (MediaCrypto::Plain, MediaCrypto::Plain),
            t0,
        )
    }

    /// Collect what both sides transmit into the other's inbox.
    fn route(&mut self) {
        while let Some(mut t) = self.a.stream.poll_transmit() {
            if t.kind == TransmitKind::Rtp {
                self.a.sent_rtp += 1;
            }
            if let Some(extra) = (self.a_to_b)(&mut t, self.a.sent_rtp) {
                self.b.inbox.push((self.now + self.delay + extra, t));
            }
        }
        while let Some(t) = self.b.stream.poll_transmit() {
            if t.kind == TransmitKind::Rtp {
                self.b.sent_rtp += 1;
            }
            self.a.inbox.push((self.now + self.delay, t));
        }
    }

    fn deliver(side: &mut Side, now: Instant, mux: bool) {
        let mut i = 0;
        while i < side.inbox.len() {
            if side.inbox[i].0 <= now {
                let (_, t) = side.inbox.remove(i);
                match (t.kind, mux) {
                    (TransmitKind::Rtcp, false) => side.stream.receive_rtcp(&t.data, now),
                    _ => side.stream.receive(&t.data, now),
                }
                side.stream.recycle(t.data);
            } else {
                i += 1;
            }
        }
    }

    /// Runs the call until `until` (from the start), both sides sending
    /// their tone.
    fn run(&mut self, until: Duration) {
        let end = self.t0 + until;
        loop {
            let next_delivery = self
                .a
                .inbox
                .iter()
                .chain(&self.b.inbox)
                .map(|(t, _)| *t)
                .min();
            let next = [
                self.a.stream.poll_timeout(),
                self.b.stream.poll_timeout(),
                next_delivery,
            ]
            .into_iter()
            .flatten()
            .min();
            let Some(next) = next.filter(|n| *n <= end) else {
                self.now = end;
                break;
            };
            assert!(next >= self.now, "time went backwards");
            self.now = next;
            // The application produces one frame per 20 ms.
            while self.t0 + 20 * MS * self.ticks_queued as u32 <= self.now {
                self.a.stream.queue_audio(&self.a.tone.next_frame());
                self.b.stream.queue_audio(&self.b.tone.next_frame());
                self.ticks_queued += 1;
            }
            let mux_a = self.a.stream.config().rtcp_mux;
            let mux_b = self.b.stream.config().rtcp_mux;
            Call::deliver(&mut self.a, self.now, mux_a);
            Call::deliver(&mut self.b, self.now, mux_b);
            self.a.stream.handle_timeout(self.now);
            self.b.stream.handle_timeout(self.now);
            self.route();
            self.a.drain_events();
            self.b.drain_events();
        }
    }
}

fn assert_tone(heard: &[i16], frequency: f64, min_purity: f64) {
    // Skip the first 200 ms (jitter buffer delay, start-up).
    let audio = &heard[1600..];
    let (found, purity) = dominant_frequency(audio, 100.0, 3900.0).expect("silence");
    assert_eq!(found, frequency, "purity {purity}");
    assert!(purity >= min_purity, "tone purity {purity} < {min_purity}");
}

#[test]
fn plain_call_exchanges_tone_and_rtcp_both_ways() {
    let t0 = Instant::now();
    let mut call = Call::plain(t0);
    // 12 s: at least two reports each way (the first within 3.75 s, the
    // next 2.5–7.5 s later), so both sides see the other's answer to its SR.
    call.run(Duration::from_secs(12));
    let (a, b) = (call.a.stream.stats(), call.b.stream.stats());
    // Ticks at 0, 20 ms, … 12 s: each side sent every one and heard all but
    // the last two in flight.
    assert_eq!(a.packets_sent, 601);
    assert_eq!(b.packets_received, 599, "{b:?}");
    assert_eq!(b.packets_lost, 0);
    assert_eq!(b.concealed_frames, 0);
    assert_eq!(call.b.heard.len(), 601 * 160);
    assert_tone(&call.b.heard, 440.0, 0.95);
    assert_tone(&call.a.heard, 1000.0, 0.95);
    // At least one RTCP report each way (first one within 3.75 s), with an
    // RTT of twice the 30 ms one-way delay.
    for s in [&a, &b] {
        assert!(s.rtcp_sent >= 1 && s.rtcp_received >= 1, "{s:?}");
        let rtt = s.rtt_ms.expect("an RTT");
        assert!((rtt - 60.0).abs() < 1.0, "rtt {rtt}");
        let peer = s.peer.expect("a peer report");
        assert_eq!(peer.packets_lost, 0);
    }
    assert_eq!(b.jitter_buffer_delay_ms, 60);
    assert!(b.jitter_ms < 1.0, "{}", b.jitter_ms);
    assert_eq!(b.octets_received, b.packets_received * 160);
    // Serialisable.
    fn is_serialize<T: serde::Serialize>(_: &T) {}
    is_serialize(&b);
}

#[test]
fn srtp_call_with_rtcp_mux() {
    let t0 = Instant::now();
    let (ca, cb) = srtp_pair();
    let mut call = Call::new(
        config(t0, "a").with_rtcp_mux(true),
        config(t0, "b").with_rtcp_mux(true),
        (ca, cb),
        t0,
    );
    assert!(call.a.stream.is_srtp());
    call.run(Duration::from_secs(12));
    let (a, b) = (call.a.stream.stats(), call.b.stream.stats());
    assert_tone(&call.b.heard, 440.0, 0.95);
    assert_tone(&call.a.heard, 1000.0, 0.95);
    assert_eq!(
        b.srtp_auth_failures + b.malformed + b.srtp_replays,
        0,
        "{b:?}"
    );
    assert!(a.rtt_ms.is_some() && b.rtt_ms.is_some(), "{a:?} {b:?}");
    assert!(b.rtcp_received >= 1);
}

#[test]
fn loss_shows_in_fraction_lost_and_concealment() {
    let t0 = Instant::now();
    let mut call = Call::plain(t0);
    // Drop every 10th RTP packet from A.
    call.a_to_b =
        Box::new(|t, n| (t.kind == TransmitKind::Rtcp || n % 10 != 0).then_some(Duration::ZERO));
    call.run(Duration::from_secs(12));
    let b = call.b.stream.stats();
    // 601 packets sent, 60 dropped; the last two are still in flight.
    assert_eq!(b.packets_lost, 59, "{b:?}");
    assert!(
        (0.07..=0.13).contains(&b.fraction_lost),
        "{}",
        b.fraction_lost
    );
    assert!((59..=60).contains(&b.concealed_frames), "{b:?}");
    assert_eq!(call.b.concealed, b.concealed_frames);
    // A hears about it from B's reports.
    let peer = call.a.stream.stats().peer.expect("peer report");
    assert!(peer.packets_lost >= 10, "{peer:?}");
    // Concealed tone is still the tone.
    assert_tone(&call.b.heard, 440.0, 0.6);
}

#[test]
fn reordering_is_absorbed_by_the_jitter_buffer() {
    let t0 = Instant::now();
    let mut call = Call::plain(t0);
    // Every 5th packet is held back 25 ms: it arrives after the next one.
    call.a_to_b = Box::new(|t, n| {
        Some(if t.kind == TransmitKind::Rtp && n % 5 == 0 {
            25 * MS
        } else {
            Duration::ZERO
        })
    });
    call.run(Duration::from_secs(3));
    let b = call.b.stream.stats();
    assert_eq!(
        (b.packets_lost, b.late_packets, b.concealed_frames),
        (0, 0, 0),
        "{b:?}"
    );
    assert!(
        b.jitter_ms > 0.5,
        "reordering shows as jitter: {}",
        b.jitter_ms
    );
    assert_tone(&call.b.heard, 440.0, 0.95);
}

#[test]
fn dtmf_digits_arrive_once_each_even_with_loss() {
    let t0 = Instant::now();
    let mut call = Call::plain(t0);
    // Lose every 7th packet, and duplicate nothing: each digit survives.
    call.a_to_b =
        Box::new(|t, n| (t.kind == TransmitKind::Rtcp || n % 7 != 0).then_some(Duration::ZERO));
    call.run(Duration::from_millis(500));
    for d in "19*#AD0".chars() {
        call.a
            .stream
            .send_dtmf(d, Duration::from_millis(100))
            .unwrap();
    }
    call.run(Duration::from_secs(4));
    assert_eq!(call.b.digits.iter().collect::<String>(), "19*#AD0");
    assert_eq!(call.b.stream.stats().dtmf_received, 7);
    assert_eq!(call.a.stream.stats().dtmf_sent, 7);
    // The tone carried on around the digits.
    assert_tone(&call.b.heard[..], 440.0, 0.5);
}

#[test]
fn dtmf_refused_without_telephone_event() {
    let t0 = Instant::now();
    let cfg = MediaConfig::new(Codec::Pcma, "x", clock(t0));
    let mut s = MediaStream::new(cfg, MediaCrypto::Plain, t0);
    let err = s.send_dtmf('5', Duration::from_millis(100)).unwrap_err();
    assert!(err.to_string().contains("telephone-event"), "{err}");
    let mut s = MediaStream::new(config(t0, "x"), MediaCrypto::Plain, t0);
    assert!(s.send_dtmf('Z', Duration::from_millis(100)).is_err());
    assert!(s.send_dtmf('5', Duration::from_millis(100)).is_ok());
}

#[test]
fn tampered_srtp_is_counted_as_auth_failures() {
    let t0 = Instant::now();
    let mut call = Call::new(config(t0, "a"), config(t0, "b"), srtp_pair(), t0);
    // Flip a payload bit in every 20th RTP packet, and one RTCP packet.
    let mut rtcp_seen = 0;
    call.a_to_b = Box::new(move |t, n| {
        match t.kind {
            TransmitKind::Rtp if n % 20 == 0 => t.data[20] ^= 1,
            TransmitKind::Rtcp => {
                rtcp_seen += 1;
                if rtcp_seen == 1 {
                    t.data[10] ^= 1;
                }
            }
            _ => {}
        }
        Some(Duration::ZERO)
    });
    call.run(Duration::from_secs(5));
    let b = call.b.stream.stats();
    // 12 RTP packets (20, 40, … 240) and the first RTCP report.
    assert_eq!(b.srtp_auth_failures, 13, "{b:?}");
    assert_eq!(b.packets_lost, 12);
    assert_tone(&call.b.heard, 440.0, 0.8);
}

#[test]
fn replayed_srtp_is_counted() {
    let t0 = Instant::now();
    let (ca, cb) = srtp_pair();
    let mut a = MediaStream::new(config(t0, "a"), ca, t0);
    let mut b = MediaStream::new(config(t0, "b"), cb, t0);
    a.queue_audio(&[0; 160]);
    a.handle_timeout(t0);
    let p = a.poll_transmit().unwrap();
    b.receive(&p.data, t0);
    b.receive(&p.data, t0);
    let s = b.stats();
    assert_eq!((s.packets_received, s.srtp_replays), (1, 1));
}

#[test]
fn bye_ends_the_call_once() {
    let t0 = Instant::now();
    let mut call = Call::plain(t0);
    call.run(Duration::from_secs(1));
    let bye = call.a.stream.stop(call.now).expect("a BYE");
    assert_eq!(bye.kind, TransmitKind::Rtcp);
    assert!(call.a.stream.stop(call.now).is_none());
    assert_eq!(call.a.stream.poll_timeout(), None);
    call.b.stream.receive_rtcp(&bye.data, call.now);
    call.b.stream.receive_rtcp(&bye.data, call.now);
    call.b.drain_events();
    assert_eq!(call.b.byes, 1);
    assert!(call
        .a
        .stream
        .send_dtmf('1', Duration::from_millis(50))
        .is_err());
}

#[test]
fn ticks_do_not_drift_and_stalls_are_bounded() {
    let t0 = Instant::now();
    let mut s = MediaStream::new(config(t0, "x"), MediaCrypto::Plain, t0);
    assert_eq!(s.poll_timeout(), Some(t0));
    // Called late (7 ms) each time, the next tick is still on the 20 ms grid.
    for k in 0..10u32 {
        s.handle_timeout(t0 + 20 * MS * k + 7 * MS);
    }
    assert_eq!(s.poll_timeout(), Some(t0 + 200 * MS));
    // A 10 s stall: a bounded number of events, then back on the grid.
    s.handle_timeout(t0 + Duration::from_secs(10) + 5 * MS);
    let mut audio = 0;
    while let Some(e) = s.poll_event() {
        audio += u32::from(matches!(e, MediaEvent::Audio { .. }));
    }
    assert!(audio <= 64, "{audio}");
    assert_eq!(
        s.poll_timeout().map(|t| t > t0 + Duration::from_secs(10)),
        Some(true)
    );
}

#[test]
fn send_queue_is_bounded() {
    let t0 = Instant::now();
    let mut s = MediaStream::new(config(t0, "x"), MediaCrypto::Plain, t0);
    for _ in 0..25 {
        s.queue_audio(&[1; 160]);
    }
    s.queue_audio(&[1; 10]); // padded
    assert_eq!(s.stats().send_queue_dropped, 16);
    s.handle_timeout(t0);
    let t = s.poll_transmit().unwrap();
    assert_eq!(t.data.len(), 12 + 160);
}

#[test]
fn peer_ssrc_change_is_followed_after_two_packets() {
    let t0 = Instant::now();
    let mut b = MediaStream::new(config(t0, "b"), MediaCrypto::Plain, t0);
    let mut now = t0;
    for round in 0..2 {
        let mut a = MediaStream::new(config(t0, "a"), MediaCrypto::Plain, now);
        for _ in 0..10 {
            a.queue_audio(&ToneSource::default().next_frame());
            a.handle_timeout(now);
            while let Some(t) = a.poll_transmit() {
                b.receive(&t.data, now);
            }
            b.handle_timeout(now);
            now += 20 * MS;
        }
        assert_eq!(b.remote_ssrc(), Some(a.ssrc()), "round {round}");
    }
    assert_eq!(b.stats().ignored, 1);
}

#[test]
fn tone_detector_sees_a_different_tone_as_different() {
    let t0 = Instant::now();
    let mut call = Call::plain(t0);
    call.run(Duration::from_secs(1));
    assert!(tone_ratio(&call.b.heard[1600..], 440.0) > 0.9);
    assert!(tone_ratio(&call.b.heard[1600..], 1000.0) < 0.05);
}
