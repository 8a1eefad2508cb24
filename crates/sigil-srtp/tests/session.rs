//! Behaviour of sessions: streams, ROC, MKI, KDR, lifetimes and errors.

use sigil_srtp::{Direction, MasterKey, Policy, Session, SrtpError, Ssrc, Suite};

const SUITE: Suite = Suite::AesCm128HmacSha1_80;

fn key(byte: u8) -> MasterKey {
    MasterKey::from_inline(SUITE, &[byte; 30]).unwrap()
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x55; 33]);
    p
}

fn rtcp(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x66; 20]);
    p
}

fn pair(policy: Policy) -> (Session, Session) {
    (
        Session::outbound(policy.clone()).unwrap(),
        Session::inbound(policy).unwrap(),
    )
}

#[test]
fn roc_follows_wrap_reordering_across_it_and_late_packets() {
    let (mut tx, mut rx) = pair(Policy::new(SUITE, key(1)));
    let seqs: Vec<u16> = (65500..=65535).chain(0..40).collect();
    let protected: Vec<Vec<u8>> = seqs
        .iter()
        .map(|&s| {
            let mut p = rtp(s, 9);
            tx.protect_rtp(&mut p).unwrap();
            p
        })
        .collect();
    assert_eq!(tx.roc(9), Some(1));
    // Deliver: pre-wrap run, then a post-wrap packet, then late pre-wrap ones.
    let order: Vec<usize> = (0..30)
        .chain([40, 41, 30, 31, 32])
        .chain(33..40)
        .chain(42..76)
        .collect();
    for &i in &order {
        let mut p = protected[i].clone();
        rx.unprotect_rtp(&mut p)
            .unwrap_or_else(|e| panic!("seq {}: {e}", seqs[i]));
        assert_eq!(p, rtp(seqs[i], 9));
    }
    assert_eq!(rx.roc(9), Some(1));
}

#[test]
fn late_joiner_needs_the_roc() {
    let (mut tx, _) = pair(Policy::new(SUITE, key(2)));
    tx.set_roc(77, 5).unwrap();
    let mut p = rtp(1000, 77);
    tx.protect_rtp(&mut p).unwrap();
    assert_eq!(tx.roc(77), Some(5));

    // Without the ROC the receiver computes the wrong tag.
    let mut rx = Session::inbound(Policy::new(SUITE, key(2))).unwrap();
    assert!(matches!(
        rx.unprotect_rtp(&mut p.clone()),
        Err(SrtpError::AuthFailed { ssrc: 77 })
    ));
    assert_eq!(rx.stream_count(), 0, "a failed packet creates no stream");
    rx.set_roc(77, 5).unwrap();
    rx.unprotect_rtp(&mut p).unwrap();
    assert_eq!(p, rtp(1000, 77));
    assert_eq!(rx.roc(77), Some(5));
}

#[test]
fn several_master_keys_selected_by_mki() {
    let k1 = key(1).with_mki(&[1]).unwrap();
    let k2 = key(2).with_mki(&[2]).unwrap();
    let policy = Policy::new(SUITE, k1).with_key(k2);
    let (mut tx, mut rx) = pair(policy);
    let mut a = rtp(1, 3);
    tx.protect_rtp(&mut a).unwrap();
    tx.select_key_by_mki(&[2]).unwrap();
    let mut b = rtp(2, 3);
    tx.protect_rtp(&mut b).unwrap();
    assert_eq!(a[a.len() - 11], 1);
    assert_eq!(b[b.len() - 11], 2);
    rx.unprotect_rtp(&mut b).unwrap();
    rx.unprotect_rtp(&mut a).unwrap();
    assert_eq!(rx.key_usage(0), Some((1, 0)));
    assert_eq!(rx.key_usage(1), Some((1, 0)));

    let mut c = rtp(3, 3);
    tx.protect_rtp(&mut c).unwrap();
    let n = c.len();
    c[n - 11] = 9;
    assert_eq!(
        rx.unprotect_rtp(&mut c),
        Err(SrtpError::UnknownMki { mki: 9 })
    );
    assert!(tx.select_key_by_mki(&[3]).is_err());
}

#[test]
fn policy_rules_are_checked() {
    let err = |p: Policy| Session::outbound(p).unwrap_err();
    assert_eq!(
        err(Policy::new(SUITE, key(1)).with_replay_window(63)),
        SrtpError::ReplayWindowSize(63)
    );
    assert_eq!(
        err(Policy::new(SUITE, key(1)).with_replay_window(32769)),
        SrtpError::ReplayWindowSize(32769)
    );
    assert!(Session::inbound(Policy::new(SUITE, key(1)).with_replay_window(32768)).is_ok());
    assert_eq!(
        err(Policy::new(SUITE, key(1)).with_key_derivation_rate(3)),
        SrtpError::KeyDerivationRate(3)
    );
    assert_eq!(
        err(Policy::new(SUITE, key(1)).with_key_derivation_rate(1 << 25)),
        SrtpError::KeyDerivationRate(1 << 25)
    );
    assert!(matches!(
        err(Policy::new(SUITE, key(1)).with_key(key(2))),
        SrtpError::MkiConflict { .. }
    ));
    let k1 = key(1).with_mki(&[1]).unwrap();
    assert!(matches!(
        err(Policy::new(SUITE, k1.clone()).with_key(key(2).with_mki(&[1, 0]).unwrap())),
        SrtpError::MkiConflict { .. }
    ));
    assert!(matches!(
        err(Policy::new(SUITE, k1.clone()).with_key(key(2).with_mki(&[1]).unwrap())),
        SrtpError::MkiConflict { .. }
    ));
    let k256 = MasterKey::from_inline(Suite::Aes256CmHmacSha1_80, &[0; 46]).unwrap();
    assert!(matches!(
        err(Policy::new(SUITE, k256)),
        SrtpError::KeyMismatch { index: 0, .. }
    ));
    assert_eq!(
        err(Policy::new(SUITE, key(1)).with_lifetime(0)),
        SrtpError::ZeroLifetime
    );
    assert_eq!(
        err(Policy::new(SUITE, key(1)).with_max_streams(0)),
        SrtpError::ZeroStreamLimit
    );
}

#[test]
fn key_lifetime_is_enforced() {
    let (mut tx, mut rx) = pair(Policy::new(SUITE, key(4)).with_lifetime(3));
    let mut sent = Vec::new();
    for seq in 0..3 {
        let mut p = rtp(seq, 1);
        tx.protect_rtp(&mut p).unwrap();
        sent.push(p);
    }
    let mut p = rtp(3, 1);
    let before = p.clone();
    assert_eq!(
        tx.protect_rtp(&mut p),
        Err(SrtpError::LifetimeExhausted {
            kind: "SRTP",
            packets: 3
        })
    );
    assert_eq!(p, before, "a refused packet is left as it was");
    // SRTCP counts separately.
    let mut c = rtcp(1);
    tx.protect_rtcp(&mut c).unwrap();
    for mut p in sent {
        rx.unprotect_rtp(&mut p).unwrap();
    }
    assert_eq!(rx.key_usage(0), Some((3, 0)));
}

#[test]
fn streams_are_bounded_and_bound_to_the_policy_ssrc() {
    let (mut tx, mut rx) = pair(Policy::new(SUITE, key(5)).with_max_streams(2));
    let mut packets = Vec::new();
    for ssrc in [10, 11, 12] {
        let mut p = rtp(1, ssrc);
        let result = tx.protect_rtp(&mut p);
        if ssrc == 12 {
            assert_eq!(result, Err(SrtpError::StreamLimit { limit: 2 }));
        } else {
            result.unwrap();
            packets.push(p);
        }
    }
    for mut p in packets {
        rx.unprotect_rtp(&mut p).unwrap();
    }
    assert_eq!(rx.stream_count(), 2);
    let (mut tx3, _) = pair(Policy::new(SUITE, key(5)));
    let mut p = rtp(1, 12);
    tx3.protect_rtp(&mut p).unwrap();
    assert_eq!(
        rx.unprotect_rtp(&mut p),
        Err(SrtpError::StreamLimit { limit: 2 })
    );

    let (mut tx, _) = pair(Policy::new(SUITE, key(5)).with_ssrc(Ssrc::Specific(10)));
    assert_eq!(
        tx.protect_rtp(&mut rtp(1, 11)),
        Err(SrtpError::SsrcMismatch {
            expected: 10,
            got: 11
        })
    );
}

#[test]
fn directions_are_enforced() {
    let (mut tx, mut rx) = pair(Policy::new(SUITE, key(6)));
    assert_eq!(tx.direction(), Direction::Outbound);
    assert!(matches!(
        tx.unprotect_rtp(&mut rtp(1, 1)),
        Err(SrtpError::WrongDirection { .. })
    ));
    assert!(matches!(
        rx.protect_rtcp(&mut rtcp(1)),
        Err(SrtpError::WrongDirection { .. })
    ));
}

#[test]
fn malformed_packets_are_typed_errors() {
    let (mut tx, mut rx) = pair(Policy::new(SUITE, key(7)));
    assert!(matches!(
        tx.protect_rtp(&mut vec![0x80; 5]),
        Err(SrtpError::TooShort { len: 5, .. })
    ));
    let mut v1 = rtp(1, 1);
    v1[0] = 0x40;
    assert!(matches!(
        tx.protect_rtp(&mut v1),
        Err(SrtpError::BadHeader { kind: "RTP", .. })
    ));
    let mut csrc = rtp(1, 1);
    csrc[0] = 0x8f; // 15 CSRCs: 60 bytes, more than the packet has
    assert!(matches!(
        tx.protect_rtp(&mut csrc),
        Err(SrtpError::BadHeader { .. })
    ));
    // A header-only SRTP packet without room for a tag.
    assert!(matches!(
        rx.unprotect_rtp(&mut rtp(1, 1)[..15].to_vec()),
        Err(SrtpError::TooShort { .. })
    ));
    assert!(matches!(
        rx.unprotect_rtcp(&mut vec![0x80, 200, 0, 1, 0, 0, 0, 1, 0, 0]),
        Err(SrtpError::TooShort { .. })
    ));
    // Out-of-place with a short output buffer.
    let mut out = [0u8; 20];
    assert!(matches!(
        tx.protect_rtp_into(&rtp(1, 1), &mut out),
        Err(SrtpError::BufferTooSmall { .. })
    ));
    // In place on a plain slice: the caller leaves room for the trailer.
    let plain = rtp(1, 1);
    let mut buf = [0u8; 128];
    buf[..plain.len()].copy_from_slice(&plain);
    let n = tx.protect_rtp_slice(&mut buf, plain.len()).unwrap();
    assert_eq!(n, plain.len() + 10);
    let m = rx.unprotect_rtp_slice(&mut buf[..n]).unwrap();
    assert_eq!(&buf[..m], &plain[..]);
}

/// In place on a slice with more room than the trailer needs, for every
/// suite (the AEAD ones put the tag before the MKI): only the packet's bytes
/// are written, the spare bytes behind it stay as they were.
#[test]
fn protect_in_a_larger_slice_leaves_the_spare_bytes_alone() {
    for suite in Suite::ALL {
        let master =
            MasterKey::from_inline(suite, &vec![9; suite.key_len() + suite.salt_len()]).unwrap();
        let (mut tx, mut rx) = pair(Policy::new(suite, master));
        let plain = rtp(1, 1);
        let mut buf = [0xa5u8; 256];
        buf[..plain.len()].copy_from_slice(&plain);
        let n = tx.protect_rtp_slice(&mut buf, plain.len()).unwrap();
        assert_eq!(n, plain.len() + tx.rtp_overhead(), "{suite}");
        assert!(
            buf[n..].iter().all(|&b| b == 0xa5),
            "{suite}: bytes past the packet written"
        );
        let m = rx.unprotect_rtp_slice(&mut buf[..n]).unwrap();
        assert_eq!(&buf[..m], &plain[..], "{suite}");
    }
}

#[test]
fn rtp_header_extension_and_csrcs_stay_in_the_clear() {
    let (mut tx, mut rx) = pair(Policy::new(SUITE, key(8)));
    let mut p = vec![0x92, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
    p.extend_from_slice(&[0xc1; 8]); // two CSRCs
    p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, 0xaa, 0, 0]); // one-byte extension, 1 word
    p.extend_from_slice(&[0x77; 20]);
    let plain = p.clone();
    tx.protect_rtp(&mut p).unwrap();
    assert_eq!(
        &p[..28],
        &plain[..28],
        "header, CSRCs and extension unencrypted"
    );
    assert_ne!(&p[28..48], &plain[28..48]);
    rx.unprotect_rtp(&mut p).unwrap();
    assert_eq!(p, plain);
}

#[test]
fn key_derivation_rate_rekeys_as_the_index_advances() {
    for kdr in [1u64, 16, 1 << 16] {
        let policy = Policy::new(SUITE, key(9)).with_key_derivation_rate(kdr);
        let (mut tx, mut rx) = pair(policy);
        let (mut tx0, _) = pair(Policy::new(SUITE, key(9)));
        let mut same = 0;
        let mut packets = Vec::new();
        for i in 0..70u32 {
            let seq = (65500 + i * 3) as u16; // crosses the wrap
            let mut p = rtp(seq, 4);
            let mut q = p.clone();
            tx.protect_rtp(&mut p).unwrap();
            tx0.protect_rtp(&mut q).unwrap();
            if p == q {
                same += 1;
            }
            packets.push(p);
            let mut c = rtcp(4);
            tx.protect_rtcp(&mut c).unwrap();
            packets.push(c);
        }
        // With r = index DIV kdr ≠ 0 the session keys differ from KDR 0.
        assert!(same < 70, "kdr {kdr}: keys never changed");
        // Deliver slightly reordered: swap neighbouring RTP/RTCP pairs.
        for pair in packets.chunks(4).flat_map(|c| c.chunks(2).rev()) {
            for p in pair.iter() {
                let mut p = p.clone();
                let result = if p[1] == 200 {
                    rx.unprotect_rtcp(&mut p)
                } else {
                    rx.unprotect_rtp(&mut p)
                };
                result.unwrap_or_else(|e| panic!("kdr {kdr}: {e}"));
            }
        }
    }
}

#[test]
fn debug_shows_no_key_material() {
    let policy = Policy::new(SUITE, key(0xab));
    let session = Session::outbound(policy.clone()).unwrap();
    for shown in [format!("{policy:?}"), format!("{session:?}")] {
        assert!(
            !shown.contains("171") && !shown.to_lowercase().contains("abab"),
            "{shown}"
        );
    }
}

#[test]
fn sessions_can_move_between_threads() {
    fn send_and_sync<T: Send + Sync>() {}
    send_and_sync::<Session>();
    send_and_sync::<Policy>();
    send_and_sync::<SrtpError>();
}

#[test]
fn removing_a_stream_forgets_its_state_and_keeps_the_others() {
    let (mut tx, mut rx) = pair(Policy::new(SUITE, key(4)));
    let mut sent = Vec::new();
    for ssrc in [1, 2, 3] {
        let mut p = rtp(7, ssrc);
        tx.protect_rtp(&mut p).unwrap();
        sent.push(p);
    }
    for p in &sent {
        rx.unprotect_rtp(&mut p.clone()).unwrap();
    }
    assert_eq!(rx.stream_count(), 3);
    assert!(rx.remove_stream(1));
    assert!(!rx.remove_stream(1), "already gone");
    assert!(!rx.remove_stream(99), "never existed");
    assert_eq!(rx.stream_count(), 2);
    // SSRC 1 starts afresh: its replay history is gone, so the same packet is accepted again…
    rx.unprotect_rtp(&mut sent[0].clone()).unwrap();
    // …while the streams that stayed (one of them moved in the table) still refuse replays.
    for p in &sent[1..] {
        assert!(matches!(
            rx.unprotect_rtp(&mut p.clone()),
            Err(SrtpError::Replayed { .. })
        ));
    }
    assert_eq!(rx.stream_count(), 3);
}

/// A forged AEAD packet is left unchanged whatever its length, past the
/// receiver's 2 KiB scratch copy too (found by the srtp_unprotect fuzz
/// target: a 2.4 KB forged SRTCP packet came back zeroed).
#[test]
fn forged_aead_packets_of_any_length_are_left_unchanged() {
    for suite in [Suite::AeadAes128Gcm, Suite::AeadAes256Gcm] {
        let master =
            MasterKey::from_inline(suite, &vec![5; suite.key_len() + suite.salt_len()]).unwrap();
        let (mut tx, mut rx) = pair(Policy::new(suite, master));
        for (seq, payload) in [(1u16, 100usize), (2, 2100), (3, 4000)] {
            let mut rtp_packet = rtp(seq, 7);
            rtp_packet.resize(12 + payload, 0x42);
            let mut rtcp_packet = vec![0x80, 200, 0, 6, 0, 0, 0, 7];
            rtcp_packet.resize(8 + payload, 0x42);
            tx.protect_rtp(&mut rtp_packet).unwrap();
            tx.protect_rtcp(&mut rtcp_packet).unwrap();
            for packet in [&mut rtp_packet, &mut rtcp_packet] {
                let at = packet.len() / 2;
                packet[at] ^= 1;
            }
            let (forged_rtp, forged_rtcp) = (rtp_packet.clone(), rtcp_packet.clone());
            assert!(matches!(
                rx.unprotect_rtp(&mut rtp_packet),
                Err(SrtpError::AuthFailed { .. })
            ));
            assert!(matches!(
                rx.unprotect_rtcp(&mut rtcp_packet),
                Err(SrtpError::AuthFailed { .. })
            ));
            assert_eq!(rtp_packet, forged_rtp, "{suite} RTP, {payload} B");
            assert_eq!(rtcp_packet, forged_rtcp, "{suite} RTCP, {payload} B");
        }
    }
}
