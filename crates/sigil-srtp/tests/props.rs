//! Property tests of the SRTP/SRTCP contexts: round trip, tamper detection,
//! replay protection, reordering, and that forged packets never move state.

use proptest::prelude::*;
use sigil_srtp::{MasterKey, Policy, Session, SrtpError, Suite};

fn suite() -> impl Strategy<Value = Suite> {
    prop::sample::select(Suite::ALL.to_vec())
}

fn sessions(suite: Suite, key: &[u8], window: usize, mki: bool) -> (Session, Session) {
    let mut master = MasterKey::from_inline(suite, &key[..suite.inline_len()]).unwrap();
    if mki {
        master = master.with_mki(&[0xa5, 0x01]).unwrap();
    }
    let policy = Policy::new(suite, master).with_replay_window(window);
    (
        Session::outbound(policy.clone()).unwrap(),
        Session::inbound(policy).unwrap(),
    )
}

fn rtp(seq: u16, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x80, 0x60];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0, 0, 0x12, 0x34]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(payload);
    p
}

fn rtcp(ssrc: u32, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0x81, 201, 0, (body.len() / 4) as u8 + 1];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(body);
    p
}

fn key_bytes() -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(any::<u8>(), 46)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn rtp_round_trips(suite in suite(), key in key_bytes(), mki in any::<bool>(), seq in any::<u16>(),
                       ssrc in any::<u32>(), payload in prop::collection::vec(any::<u8>(), 0..1500)) {
        let (mut tx, mut rx) = sessions(suite, &key, 128, mki);
        let plain = rtp(seq, ssrc, &payload);
        let mut packet = plain.clone();
        tx.protect_rtp(&mut packet).unwrap();
        prop_assert_eq!(packet.len(), plain.len() + tx.rtp_overhead());
        prop_assert_eq!(&packet[..12], &plain[..12]);
        if payload.len() >= 16 {
            prop_assert_ne!(&packet[12..28], &plain[12..28]);
        }
        rx.unprotect_rtp(&mut packet).unwrap();
        prop_assert_eq!(packet, plain);
    }

    #[test]
    fn rtcp_round_trips(suite in suite(), key in key_bytes(), mki in any::<bool>(), ssrc in any::<u32>(),
                        words in 0usize..60, fill in any::<u8>()) {
        let (mut tx, mut rx) = sessions(suite, &key, 128, mki);
        let plain = rtcp(ssrc, &vec![fill; words * 4]);
        let mut packet = plain.clone();
        tx.protect_rtcp(&mut packet).unwrap();
        prop_assert_eq!(packet.len(), plain.len() + tx.rtcp_overhead());
        let mut out = vec![0u8; packet.len()];
        let n = rx.unprotect_rtcp_into(&packet, &mut out).unwrap();
        prop_assert_eq!(&out[..n], &plain[..]);
    }

    #[test]
    fn any_single_bit_flip_is_rejected(suite in suite(), key in key_bytes(), mki in any::<bool>(),
                                       seq in any::<u16>(), payload in prop::collection::vec(any::<u8>(), 0..200),
                                       bit in any::<prop::sample::Index>(), is_rtcp in any::<bool>()) {
        let (mut tx, mut rx) = sessions(suite, &key, 128, mki);
        let mut packet = if is_rtcp {
            rtcp(0x1234, &payload[..payload.len() / 4 * 4])
        } else {
            rtp(seq, 0x1234, &payload)
        };
        if is_rtcp { tx.protect_rtcp(&mut packet).unwrap() } else { tx.protect_rtp(&mut packet).unwrap() }
        let bit = bit.index(packet.len() * 8);
        let mut forged = packet.clone();
        forged[bit / 8] ^= 1 << (bit % 8);
        let result = if is_rtcp { rx.unprotect_rtcp(&mut forged) } else { rx.unprotect_rtp(&mut forged) };
        prop_assert!(result.is_err(), "bit {} flipped and still accepted", bit);
        // The genuine packet is still accepted afterwards: the forgery moved nothing.
        let result = if is_rtcp { rx.unprotect_rtcp(&mut packet) } else { rx.unprotect_rtp(&mut packet) };
        prop_assert!(result.is_ok(), "{:?}", result);
    }

    #[test]
    fn replays_are_rejected(suite in suite(), key in key_bytes(), seq in any::<u16>(), is_rtcp in any::<bool>()) {
        let (mut tx, mut rx) = sessions(suite, &key, 128, false);
        let mut packet = if is_rtcp { rtcp(7, &[1; 8]) } else { rtp(seq, 7, &[1; 20]) };
        if is_rtcp { tx.protect_rtcp(&mut packet).unwrap() } else { tx.protect_rtp(&mut packet).unwrap() }
        let mut first = packet.clone();
        let result = if is_rtcp { rx.unprotect_rtcp(&mut first) } else { rx.unprotect_rtp(&mut first) };
        prop_assert!(result.is_ok());
        let result = if is_rtcp { rx.unprotect_rtcp(&mut packet) } else { rx.unprotect_rtp(&mut packet) };
        let replayed = matches!(result, Err(SrtpError::Replayed { ssrc: 7, .. }));
        prop_assert!(replayed, "{:?}", result);
    }

    #[test]
    fn reordered_within_window_accepted_exactly_once(
        suite in suite(), key in key_bytes(), start in any::<u16>(), window in 64usize..400,
        swaps in prop::collection::vec((0usize..300, 0usize..63), 0..200)) {
        let (mut tx, mut rx) = sessions(suite, &key, window, false);
        let n = 300;
        let packets: Vec<Vec<u8>> = (0..n).map(|i| {
            let mut p = rtp(start.wrapping_add(i as u16), 99, &[i as u8; 40]);
            tx.protect_rtp(&mut p).unwrap();
            p
        }).collect();
        // Swap packets at most 63 places apart: always inside a window ≥ 64.
        let mut order: Vec<usize> = (0..n).collect();
        for (a, d) in swaps {
            let b = (a + d).min(n - 1);
            order.swap(a, b);
        }
        // Displacement can accumulate through chained swaps; only keep
        // orders whose every packet is within the window of the highest seen.
        let mut highest = 0usize;
        let mut fits = true;
        for &i in &order {
            highest = highest.max(i);
            if highest - i >= window { fits = false; }
        }
        prop_assume!(fits);
        for &i in &order {
            let mut p = packets[i].clone();
            prop_assert!(rx.unprotect_rtp(&mut p).is_ok(), "packet {}", i);
            prop_assert_eq!(&p[12..], &[i as u8; 40][..]);
        }
        for &i in order.iter().rev().take(window.min(n)) {
            let mut p = packets[i].clone();
            let result = rx.unprotect_rtp(&mut p);
            prop_assert!(matches!(result, Err(SrtpError::Replayed { .. }) | Err(SrtpError::TooOld { .. })),
                         "second copy of {} accepted: {:?}", i, result);
        }
    }

    #[test]
    fn far_too_old_is_rejected(suite in suite(), key in key_bytes(), window in 64usize..1000, extra in 0u16..2000) {
        let (mut tx, mut rx) = sessions(suite, &key, window, false);
        let mut old = rtp(1000, 5, &[0; 10]);
        tx.protect_rtp(&mut old).unwrap();
        let mut new = rtp(1000 + window as u16 + extra, 5, &[0; 10]);
        tx.protect_rtp(&mut new).unwrap();
        rx.unprotect_rtp(&mut new).unwrap();
        let result = rx.unprotect_rtp(&mut old);
        prop_assert!(matches!(result, Err(SrtpError::TooOld { ssrc: 5, index: 1000 })), "{:?}", result);
    }

    #[test]
    fn forged_packets_never_move_the_window(suite in suite(), key in key_bytes(), jump in 1u16..30000,
                                            tag in prop::collection::vec(any::<u8>(), 16), is_rtcp in any::<bool>()) {
        let (mut tx, mut rx) = sessions(suite, &key, 128, false);
        // Sent: 0..=10; received: all but 3, so 3 is still acceptable later.
        let mut sent = Vec::new();
        for seq in 0u16..=10 {
            let mut p = if is_rtcp { rtcp(42, &[seq as u8; 8]) } else { rtp(seq, 42, &[seq as u8; 30]) };
            if is_rtcp { tx.protect_rtcp(&mut p).unwrap() } else { tx.protect_rtp(&mut p).unwrap() }
            sent.push(p);
        }
        for (i, p) in sent.iter().enumerate() {
            if i == 3 { continue; }
            let mut p = p.clone();
            let result = if is_rtcp { rx.unprotect_rtcp(&mut p) } else { rx.unprotect_rtp(&mut p) };
            prop_assert!(result.is_ok());
        }
        let roc_before = rx.roc(42);
        // Forgeries far ahead: a genuine packet's body with a new index and a guessed tag.
        for k in 0..5u16 {
            let mut forged = sent[10].clone();
            let n = forged.len();
            if is_rtcp && suite.is_aead() {
                // ciphertext ‖ tag ‖ E ‖ index (RFC 7714 §9).
                let at = n - 4;
                let index = 10 + u32::from(jump) * 1000 + u32::from(k);
                forged[at..].copy_from_slice(&(0x8000_0000 | index).to_be_bytes());
                forged[at - 16..at].copy_from_slice(&tag);
            } else if is_rtcp {
                let at = n - 14;
                let index = 10 + u32::from(jump) * 1000 + u32::from(k);
                forged[at..at + 4].copy_from_slice(&(0x8000_0000 | index).to_be_bytes());
                forged[n - 10..].copy_from_slice(&tag[..10]);
            } else {
                forged[2..4].copy_from_slice(&(10u16.wrapping_add(jump).wrapping_add(k)).to_be_bytes());
                let tag_len = suite.rtp_tag_len();
                forged[n - tag_len..].copy_from_slice(&tag[..tag_len]);
            }
            let result = if is_rtcp { rx.unprotect_rtcp(&mut forged) } else { rx.unprotect_rtp(&mut forged) };
            prop_assert!(matches!(result, Err(SrtpError::AuthFailed { ssrc: 42 })), "{:?}", result);
        }
        prop_assert_eq!(rx.roc(42), roc_before);
        // The late genuine packet 3 is still inside the window and accepted once.
        let mut late = sent[3].clone();
        let result = if is_rtcp { rx.unprotect_rtcp(&mut late) } else { rx.unprotect_rtp(&mut late) };
        prop_assert!(result.is_ok(), "{:?}", result);
        let mut again = sent[3].clone();
        let result = if is_rtcp { rx.unprotect_rtcp(&mut again) } else { rx.unprotect_rtp(&mut again) };
        prop_assert!(matches!(result, Err(SrtpError::Replayed { .. })), "{:?}", result);
    }
}
