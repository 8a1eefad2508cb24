//! A whole MediaStream on arbitrary datagrams (RTP, RTCP, rtcp-mux, plain
//! and SRTP): never panics, keeps producing one audio frame per tick, and
//! nothing forged gets through SRTP.
//!
//! The first byte picks rtcp-mux (bit 0); the rest is split into datagrams
//! by length bytes, delivered 7 ms apart to both streams' RTP and RTCP ports.
#![no_main]

use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sigil_media::{Codec, MediaConfig, MediaCrypto, MediaEvent, MediaStream, WallClock};
use sigil_srtp::{MasterKey, Policy, Session, Suite};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, mut rest)) = data.split_first() else {
        return;
    };
    let t0 = Instant::now();
    let clock = WallClock::new(t0, Duration::from_secs(1_750_000_000));
    let config = MediaConfig::new(Codec::Pcmu, "fuzz", clock)
        .with_telephone_event(Some(101))
        .with_rtcp_mux(mode & 1 != 0);
    let suite = Suite::AesCm128HmacSha1_80;
    let Ok(key) = MasterKey::new(suite, &[7u8; 16], &[9u8; 14]) else {
        return;
    };
    let (Ok(send), Ok(receive)) = (
        Session::outbound(Policy::new(suite, key.clone())),
        Session::inbound(Policy::new(suite, key)),
    ) else {
        return;
    };
    let mut plain = MediaStream::new(config.clone(), MediaCrypto::Plain, t0);
    let mut srtp = MediaStream::new(
        config,
        MediaCrypto::Srtp {
            send: Box::new(send),
            receive: Box::new(receive),
        },
        t0,
    );
    let mut now = t0;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (datagram, next) = tail.split_at(n);
        rest = next;
        for s in [&mut plain, &mut srtp] {
            s.receive(datagram, now);
            s.receive_rtcp(datagram, now);
            s.handle_timeout(now);
            while s.poll_transmit().is_some() {}
        }
        now += Duration::from_millis(7);
    }
    assert_eq!(srtp.stats().packets_received, 0);
    plain.handle_timeout(now);
    let mut audio = 0;
    while let Some(e) = plain.poll_event() {
        audio += u32::from(matches!(e, MediaEvent::Audio { .. }));
    }
    assert!(audio >= 1);
});
