//! With a non-zero key derivation rate, session keys are derived once per
//! derivation epoch (r = index DIV kdr) and stream: forged packets cannot make
//! the receiver derive keys for each of them, and a packet that fails
//! authentication never replaces the keys of the epoch in use.
//!
//! The cost is counted with `Session::key_derivations`, not timed.

use sigil_srtp::{MasterKey, Policy, Session, SrtpError, Ssrc, Suite};

const SUITE: Suite = Suite::AesCm128HmacSha1_80;
/// 16 packets per derivation epoch.
const KDR: u64 = 16;
const SSRC: u32 = 0x5151_0001;

fn policy(ssrc: Ssrc) -> Policy {
    let key = MasterKey::from_inline(SUITE, &[0x3c; 30]).unwrap();
    Policy::new(SUITE, key)
        .with_key_derivation_rate(KDR)
        .with_ssrc(ssrc)
}

fn rtp(seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&[0; 4]);
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x55; 40]);
    p
}

fn rtcp(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0, 6];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x66; 20]);
    p
}

/// `packet` with its last byte (part of the tag) flipped.
fn forge(packet: &[u8]) -> Vec<u8> {
    let mut forged = packet.to_vec();
    if let Some(last) = forged.last_mut() {
        *last ^= 0x01;
    }
    forged
}

/// SRTP packets of `ssrc` for sequence numbers `0..count`, protected with KDR.
fn protected_rtp(ssrc: u32, count: u16) -> Vec<Vec<u8>> {
    let mut tx = Session::outbound(policy(Ssrc::Any)).unwrap();
    (0..count)
        .map(|seq| {
            let mut p = rtp(seq, ssrc);
            tx.protect_rtp(&mut p).unwrap();
            p
        })
        .collect()
}

/// Feeds `n` forged packets of epoch 3 (indices 48..64) and returns how many
/// derivations the receiver ran for them.
fn derivations_for_forgeries(rx: &mut Session, packets: &[Vec<u8>], n: usize) -> u64 {
    let before = rx.key_derivations();
    for i in 0..n {
        let mut forged = forge(&packets[48 + i % 16]);
        assert!(matches!(
            rx.unprotect_rtp(&mut forged),
            Err(SrtpError::AuthFailed { .. })
        ));
    }
    rx.key_derivations() - before
}

#[test]
fn forged_packets_of_one_epoch_cost_at_most_one_derivation() {
    let packets = protected_rtp(SSRC, 80);
    for ssrc in [Ssrc::Any, Ssrc::Specific(SSRC)] {
        let mut counts = Vec::new();
        for n in [1usize, 10, 200] {
            let mut rx = Session::inbound(policy(ssrc)).unwrap();
            // Authentic traffic up to epoch 2 (indices 32..48).
            for p in &packets[..40] {
                rx.unprotect_rtp(&mut p.clone()).unwrap();
            }
            counts.push(derivations_for_forgeries(&mut rx, &packets, n));
        }
        assert_eq!(
            counts,
            [1, 1, 1],
            "{ssrc:?}: derivations for 1, 10, 200 forgeries"
        );
    }
}

#[test]
fn failed_packets_never_replace_the_keys_in_use() {
    let packets = protected_rtp(SSRC, 80);
    let mut rx = Session::inbound(policy(Ssrc::Specific(SSRC))).unwrap();
    for p in &packets[..36] {
        rx.unprotect_rtp(&mut p.clone()).unwrap();
    }
    // Epoch 2 is in use. Forgeries claiming epoch 3, then epoch 4, then epoch 3 again.
    for range in [48..64, 64..80, 48..64] {
        for i in range {
            assert!(rx.unprotect_rtp(&mut forge(&packets[i])).is_err());
        }
    }
    // The rest of epoch 2 still runs on the keys derived for it: no derivation.
    let before = rx.key_derivations();
    for (i, p) in packets.iter().enumerate().take(48).skip(36) {
        let mut p = p.clone();
        rx.unprotect_rtp(&mut p).unwrap();
        assert_eq!(p, rtp(i as u16, SSRC));
    }
    assert_eq!(
        rx.key_derivations() - before,
        0,
        "epoch 2 keys were replaced"
    );
    // Moving on to epoch 3 derives at most once, however many packets follow.
    let before = rx.key_derivations();
    for p in &packets[48..64] {
        rx.unprotect_rtp(&mut p.clone()).unwrap();
    }
    assert!(rx.key_derivations() - before <= 1);
}

#[test]
fn late_packets_of_the_previous_epoch_do_not_thrash() {
    let packets = protected_rtp(SSRC, 64);
    let mut rx = Session::inbound(policy(Ssrc::Specific(SSRC))).unwrap();
    for p in &packets[..20] {
        rx.unprotect_rtp(&mut p.clone()).unwrap();
    }
    // Epochs 2 and 1 interleaved (indices 32.. and late ones 20..32).
    let before = rx.key_derivations();
    for (new, late) in (32..44).zip(20..32) {
        rx.unprotect_rtp(&mut packets[new].clone()).unwrap();
        rx.unprotect_rtp(&mut packets[late].clone()).unwrap();
    }
    assert_eq!(rx.key_derivations() - before, 1, "only epoch 2 is new");
}

#[test]
fn forged_packets_of_unknown_ssrcs_are_bounded_too() {
    let mut rx = Session::inbound(policy(Ssrc::Any)).unwrap();
    let mut counts = Vec::new();
    for n in [1u32, 50] {
        let before = rx.key_derivations();
        for i in 0..n {
            // A new SSRC each time, index 40 (epoch 2): no stream exists for it.
            let packets = protected_rtp(0x7000_0000 + i, 41);
            assert!(rx.unprotect_rtp(&mut forge(&packets[40])).is_err());
        }
        counts.push(rx.key_derivations() - before);
    }
    assert_eq!(counts, [1, 0], "the first forgery derived epoch 2 once");
    assert_eq!(rx.stream_count(), 0, "forgeries create no stream");
    // An authentic packet of a new SSRC in that epoch uses the keys already derived.
    let packets = protected_rtp(0x0bad_cafe, 41);
    let before = rx.key_derivations();
    let mut p = packets[40].clone();
    rx.unprotect_rtp(&mut p).unwrap();
    assert_eq!(p, rtp(40, 0x0bad_cafe));
    assert_eq!(rx.key_derivations() - before, 0);
    assert_eq!(rx.stream_count(), 1);
}

#[test]
fn forged_srtcp_of_one_epoch_costs_at_most_one_derivation() {
    let mut tx = Session::outbound(policy(Ssrc::Any)).unwrap();
    let packets: Vec<Vec<u8>> = (0..80)
        .map(|_| {
            let mut p = rtcp(SSRC);
            tx.protect_rtcp(&mut p).unwrap();
            p
        })
        .collect();
    let mut rx = Session::inbound(policy(Ssrc::Any)).unwrap();
    for p in &packets[..40] {
        rx.unprotect_rtcp(&mut p.clone()).unwrap();
    }
    let before = rx.key_derivations();
    for i in 0..300 {
        assert!(rx
            .unprotect_rtcp(&mut forge(&packets[48 + i % 16]))
            .is_err());
    }
    assert_eq!(rx.key_derivations() - before, 1);
    // Epoch 2 (SRTCP indices 32..48) is untouched by them.
    let before = rx.key_derivations();
    for p in &packets[40..48] {
        rx.unprotect_rtcp(&mut p.clone()).unwrap();
    }
    assert_eq!(rx.key_derivations() - before, 0);
}

#[test]
fn the_sender_derives_once_per_epoch() {
    let mut tx = Session::outbound(policy(Ssrc::Any)).unwrap();
    let before = tx.key_derivations();
    for seq in 0..160u16 {
        tx.protect_rtp(&mut rtp(seq, SSRC)).unwrap();
        tx.protect_rtcp(&mut rtcp(SSRC)).unwrap();
    }
    // Epochs 1..=9 of SRTP and of SRTCP; epoch 0 was derived when the session was built.
    assert_eq!(tx.key_derivations() - before, 18);
}

#[test]
fn kdr_zero_derives_only_when_the_session_is_built() {
    let key = MasterKey::from_inline(SUITE, &[0x3c; 30]).unwrap();
    let mut tx = Session::outbound(Policy::new(SUITE, key.clone())).unwrap();
    let mut rx = Session::inbound(Policy::new(SUITE, key)).unwrap();
    // SRTP and SRTCP keys of the one master key.
    assert_eq!((tx.key_derivations(), rx.key_derivations()), (2, 2));
    for seq in 0..100u16 {
        let mut p = rtp(seq, SSRC);
        tx.protect_rtp(&mut p).unwrap();
        assert!(rx.unprotect_rtp(&mut forge(&p)).is_err());
        rx.unprotect_rtp(&mut p).unwrap();
    }
    assert_eq!((tx.key_derivations(), rx.key_derivations()), (2, 2));
}
