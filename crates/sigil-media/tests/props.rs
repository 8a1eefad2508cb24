//! Property tests: every parser of outside bytes is total, builders and
//! parsers agree, and the stream survives any datagram.

use std::io::Cursor;
use std::time::{Duration, Instant};

use proptest::prelude::*;
use sigil_media::codec::{alaw_to_linear, linear_to_alaw, linear_to_ulaw, ulaw_to_linear};
use sigil_media::jitter::Inserted;
use sigil_media::rtcp::{
    parse_compound, write_compound, Goodbye, ReceiverReport, ReportBlock, RtcpPacket, SenderReport,
    SourceDescription,
};
use sigil_media::{
    read_wav, Codec, DtmfReceiver, JitterBuffer, MediaConfig, MediaCrypto, MediaStream, Packetizer,
    RtpHeader, TelephoneEvent, WallClock, WavWriter,
};
use sigil_srtp::{MasterKey, Policy, Session, Suite};

fn block() -> impl Strategy<Value = ReportBlock> {
    (
        any::<u32>(),
        any::<u8>(),
        -(1i32 << 23)..(1 << 23),
        any::<[u32; 4]>(),
    )
        .prop_map(|(ssrc, fraction_lost, cumulative_lost, w)| ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost,
            highest_sequence: w[0],
            jitter: w[1],
            last_sr: w[2],
            delay_since_last_sr: w[3],
        })
}

fn packet() -> impl Strategy<Value = RtcpPacket> {
    prop_oneof![
        (
            any::<u32>(),
            any::<u64>(),
            any::<[u32; 3]>(),
            prop::collection::vec(block(), 0..4)
        )
            .prop_map(|(ssrc, ntp_time, w, reports)| RtcpPacket::SenderReport(
                SenderReport {
                    ssrc,
                    ntp_time,
                    rtp_time: w[0],
                    packet_count: w[1],
                    octet_count: w[2],
                    reports,
                }
            )),
        (any::<u32>(), prop::collection::vec(block(), 0..4)).prop_map(|(ssrc, reports)| {
            RtcpPacket::ReceiverReport(ReceiverReport { ssrc, reports })
        }),
        (any::<u32>(), "[a-z0-9@.é-]{0,80}").prop_map(
            |(ssrc, name)| RtcpPacket::SourceDescription(SourceDescription::cname(ssrc, &name))
        ),
        (
            prop::collection::vec(any::<u32>(), 0..5),
            prop::option::of("[ -~]{0,60}")
        )
            .prop_map(|(ssrcs, reason)| RtcpPacket::Goodbye(Goodbye { ssrcs, reason })),
    ]
}

fn clock() -> (Instant, WallClock) {
    let t0 = Instant::now();
    (t0, WallClock::new(t0, Duration::from_secs(1_750_000_000)))
}

fn srtp() -> MediaCrypto {
    let suite = Suite::AesCm128HmacSha1_80;
    let key = MasterKey::new(suite, &[3; 16], &[4; 14]).unwrap();
    MediaCrypto::Srtp {
        send: Box::new(Session::outbound(Policy::new(suite, key.clone())).unwrap()),
        receive: Box::new(Session::inbound(Policy::new(suite, key)).unwrap()),
    }
}

proptest! {
    #[test]
    fn rtp_header_parse_is_total(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        if let Ok(h) = RtpHeader::parse(&bytes) {
            prop_assert!(h.payload_offset <= h.payload_end);
            prop_assert!(h.payload_end <= bytes.len());
            prop_assert_eq!(h.payload(&bytes).len(), h.payload_end - h.payload_offset);
            prop_assert_eq!(h.csrcs(&bytes).count(), usize::from(h.csrc_count));
        }
    }

    #[test]
    fn packetizer_output_parses_back(
        pt in 0u8..128, ssrc: u32, seq: u16, ts: u32,
        payload in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let mut p = Packetizer::with_state(pt, ssrc, seq, ts);
        let mut out = Vec::new();
        p.audio(&mut out, &payload, 160);
        let h = RtpHeader::parse(&out).unwrap();
        prop_assert_eq!((h.payload_type, h.sequence, h.timestamp, h.ssrc, h.marker), (pt, seq, ts, ssrc, true));
        prop_assert_eq!(h.payload(&out), &payload[..]);
    }

    #[test]
    fn rtcp_parse_is_total(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = parse_compound(&bytes);
    }

    #[test]
    fn rtcp_parse_survives_mutations(packets in prop::collection::vec(packet(), 1..4), flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4)) {
        let mut bytes = Vec::new();
        write_compound(&packets, &mut bytes);
        for (at, x) in flips {
            let i = at.index(bytes.len());
            bytes[i] ^= x;
        }
        let _ = parse_compound(&bytes);
    }

    #[test]
    fn rtcp_round_trip(packets in prop::collection::vec(packet(), 1..5)) {
        let mut bytes = Vec::new();
        write_compound(&packets, &mut bytes);
        prop_assert_eq!(bytes.len() % 4, 0);
        prop_assert_eq!(parse_compound(&bytes).unwrap(), packets);
    }

    #[test]
    fn wav_parse_is_total(bytes in prop::collection::vec(any::<u8>(), 0..200)) {
        let _ = read_wav(&bytes);
        // And behind a valid RIFF/WAVE start, so the chunk walk is reached.
        let mut v = b"RIFF\0\0\0\0WAVEfmt \x10\0\0\0\x01\0\x01\0\x40\x1f\0\0\x80\x3e\0\0\x02\0\x10\0".to_vec();
        v.extend_from_slice(&bytes);
        let _ = read_wav(&v);
    }

    #[test]
    fn wav_write_read_round_trip(samples in prop::collection::vec(any::<i16>(), 0..2000)) {
        let mut w = WavWriter::new(Cursor::new(Vec::new())).unwrap();
        for chunk in samples.chunks(160) {
            w.write_samples(chunk).unwrap();
        }
        let bytes = w.finish().unwrap().into_inner();
        prop_assert_eq!(read_wav(&bytes).unwrap(), samples);
    }

    #[test]
    fn telephone_event_round_trip(event: u8, end: bool, volume in 0u8..64, duration: u16) {
        let e = TelephoneEvent { event, end, volume, duration };
        prop_assert_eq!(TelephoneEvent::parse(&e.to_bytes()).unwrap(), e);
    }

    #[test]
    fn dtmf_receiver_is_total(packets in prop::collection::vec((any::<u32>(), prop::collection::vec(any::<u8>(), 0..8)), 0..40)) {
        let mut r = DtmfReceiver::new();
        let mut reported = 0;
        for (ts, payload) in &packets {
            if let Ok(Some(_)) = r.receive(*ts, payload) {
                reported += 1;
            }
        }
        prop_assert!(reported <= packets.len());
    }

    #[test]
    fn jitter_buffer_accounts_for_every_packet(
        target in 1usize..8,
        packets in prop::collection::vec((any::<u16>(), any::<u32>(), 0usize..600, any::<bool>()), 0..60),
    ) {
        let mut jb = JitterBuffer::new(target);
        let mut outcomes = 0u64;
        let mut synced = 0u64;
        for (seq, ts, len, play) in packets {
            let samples = vec![7i16; len];
            let r = jb.insert(seq, ts, &samples);
            outcomes += 1;
            synced += u64::from(r == Inserted::Synced);
            if play {
                let p = jb.playout();
                prop_assert_eq!(p.frame.len(), 160);
            }
        }
        let s = jb.stats();
        prop_assert_eq!(s.buffered + s.late + s.duplicates + s.discarded, outcomes);
        prop_assert_eq!(s.syncs, synced);
    }

    #[test]
    fn jitter_buffer_plays_any_order_of_a_window(perm in Just((0u32..6).collect::<Vec<_>>()).prop_shuffle(), base: u32, seq0: u16) {
        let mut jb = JitterBuffer::new(6);
        // The first packet syncs: send frame 0 first, the rest in any order.
        jb.insert(seq0, base, &[1; 160]);
        for i in perm.into_iter().filter(|&i| i != 0) {
            jb.insert(seq0.wrapping_add(i as u16), base.wrapping_add(i * 160), &[i as i16 + 1; 160]);
        }
        let played: Vec<i16> = (0..12).map(|_| jb.playout().frame[0]).collect();
        prop_assert_eq!(&played[6..], &[1, 2, 3, 4, 5, 6][..]);
    }

    #[test]
    fn g711_round_trips(sample: i16, code: u8) {
        for codec in Codec::ALL {
            let d = codec.decode_sample(codec.encode_sample(sample));
            // Within half a quantisation step (a little over 1/32 of the
            // magnitude at a segment's start, at least 8) unless clipped.
            let err = (i32::from(d) - i32::from(sample)).abs();
            prop_assert!(err <= (i32::from(sample).abs() / 16).max(8) || i32::from(sample).abs() > 32000);
        }
        prop_assert_eq!(linear_to_alaw(alaw_to_linear(code)), code);
        if code != 0x7F {
            prop_assert_eq!(linear_to_ulaw(ulaw_to_linear(code)), code);
        }
    }

    #[test]
    fn stream_receive_is_total(datagrams in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 1..20), mux: bool) {
        let (t0, clock) = clock();
        let config = MediaConfig::new(Codec::Pcmu, "p", clock).with_telephone_event(Some(101)).with_rtcp_mux(mux);
        let mut plain = MediaStream::new(config.clone(), MediaCrypto::Plain, t0);
        let mut secure = MediaStream::new(config, srtp(), t0);
        for (i, d) in datagrams.iter().enumerate() {
            let now = t0 + Duration::from_millis(7 * i as u64);
            plain.receive(d, now);
            plain.receive_rtcp(d, now);
            secure.receive(d, now);
            secure.receive_rtcp(d, now);
            plain.handle_timeout(now);
            secure.handle_timeout(now);
        }
        let s = secure.stats();
        prop_assert_eq!(s.packets_received, 0, "nothing forged passes SRTP");
        while plain.poll_event().is_some() {}
    }

    #[test]
    fn stream_survives_mutated_valid_packets(flips in prop::collection::vec((0usize..40, any::<prop::sample::Index>(), any::<u8>()), 0..20)) {
        let (t0, clock) = clock();
        let config = MediaConfig::new(Codec::Pcma, "p", clock).with_telephone_event(Some(101));
        let mut a = MediaStream::new(config.clone(), MediaCrypto::Plain, t0);
        let mut b = MediaStream::new(config, MediaCrypto::Plain, t0);
        a.send_dtmf('5', Duration::from_millis(100)).unwrap();
        let mut packets = Vec::new();
        for i in 0..40u64 {
            let now = t0 + Duration::from_millis(20 * i);
            a.queue_audio(&[1000; 160]);
            a.handle_timeout(now);
            while let Some(t) = a.poll_transmit() {
                packets.push(t.data);
            }
        }
        for (which, at, x) in flips {
            if let Some(p) = packets.get_mut(which) {
                let i = at.index(p.len());
                p[i] ^= x;
            }
        }
        for (i, p) in packets.iter().enumerate() {
            let now = t0 + Duration::from_millis(20 * i as u64);
            b.receive(p, now);
            b.handle_timeout(now);
        }
        let mut audio = 0;
        while let Some(e) = b.poll_event() {
            audio += u32::from(matches!(e, sigil_media::MediaEvent::Audio { .. }));
        }
        prop_assert_eq!(audio, 40);
    }
}
