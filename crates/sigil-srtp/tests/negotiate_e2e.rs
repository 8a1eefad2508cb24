//! End to end: two of our negotiators agree on SRTP through SDP text, then
//! media flows through the resulting contexts — and through libsrtp
//! (pylibsrtp, via `tests/pylibsrtp_peer.py`) keyed from the SDP text alone,
//! which proves the keys written into the SDP are the keys in use.
//! Also: re-offers that keep the contexts, and a re-key that replaces them.

use std::process::Command;

use base64::Engine as _;
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, Change, MediaOutcome, Negotiation, Negotiator,
    OfferPolicy, SignalingTransport, SrtpAgreement, SrtpConfig,
};
use sigil_srtp::{Session, SrtpError, Suite};
use sigil_testkit::{hex, peer, run_with_input, Peer};

fn rtp(seq: u16, ssrc: u32, fill: u8) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend((0..160u32).map(|i| fill.wrapping_add(i as u8)));
    p
}

fn rtcp_sr(ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 200, 0x00, 0x06];
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend_from_slice(&[0x11; 20]);
    p
}

fn agreement(n: &Negotiation) -> &SrtpAgreement {
    match &n.media[0].outcome {
        MediaOutcome::Srtp(a) => a,
        other => panic!("expected SRTP, got {other:?}"),
    }
}

/// One offer/answer round over SDP *text* (as it would cross the wire).
fn exchange(
    alice: &mut Negotiator,
    bob: &mut Negotiator,
) -> (String, String, Negotiation, Negotiation) {
    let mut offer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4000, 1);
    alice.create_offer(&mut offer).unwrap();
    let offer_text = write_sdp(&offer);
    let offer_rx = parse_sdp(offer_text.as_bytes()).unwrap();
    let mut answer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4002, 2);
    let at_bob = bob.answer_offer(&offer_rx, &mut answer).unwrap();
    let answer_text = write_sdp(&answer);
    let at_alice = alice
        .accept_answer(&parse_sdp(answer_text.as_bytes()).unwrap())
        .unwrap();
    (offer_text, answer_text, at_alice, at_bob)
}

/// Sends `count` packets from `tx` to `rx` starting at `seq`, checking each arrives intact.
fn flow(tx: &mut Session, rx: &mut Session, ssrc: u32, seq: u16, count: u16) {
    for i in 0..count {
        let plain = rtp(seq.wrapping_add(i), ssrc, i as u8);
        let mut packet = plain.clone();
        tx.protect_rtp(&mut packet).unwrap();
        assert_ne!(packet[12..172], plain[12..172], "payload is encrypted");
        rx.unprotect_rtp(&mut packet).unwrap();
        assert_eq!(packet, plain);
    }
    let plain = rtcp_sr(ssrc);
    let mut packet = plain.clone();
    tx.protect_rtcp(&mut packet).unwrap();
    rx.unprotect_rtcp(&mut packet).unwrap();
    assert_eq!(packet, plain);
}

fn tls(policy: OfferPolicy) -> SrtpConfig {
    SrtpConfig::new(policy, SignalingTransport::Tls)
}

#[test]
fn media_flows_both_ways_through_the_negotiated_contexts() {
    for (a, b) in [
        (OfferPolicy::Optional, OfferPolicy::Optional),
        (OfferPolicy::Optional, OfferPolicy::Standard),
        (OfferPolicy::Standard, OfferPolicy::Optional),
        (OfferPolicy::Standard, OfferPolicy::Standard),
    ] {
        for suite in Suite::ALL {
            let mut alice = Negotiator::new(tls(a).with_suites(vec![suite])).unwrap();
            let mut bob = Negotiator::new(tls(b)).unwrap();
            let (_, _, at_alice, at_bob) = exchange(&mut alice, &mut bob);
            let (ours, theirs) = (agreement(&at_alice), agreement(&at_bob));
            assert_eq!(ours.suite, suite);
            assert_eq!(at_alice.summary(), at_bob.summary());
            assert_eq!(at_alice.summary(), format!("SRTP {suite}, tag 1"));
            let (mut alice_tx, mut alice_rx) = ours.sessions().unwrap();
            let (mut bob_tx, mut bob_rx) = theirs.sessions().unwrap();
            flow(&mut alice_tx, &mut bob_rx, 0x1111_1111, 100, 50);
            flow(&mut bob_tx, &mut alice_rx, 0x2222_2222, 9000, 50);
            // Each side's keys are its own: Alice cannot read her own sending
            // stream with her receiving context.
            let mut own = rtp(150, 0x1111_1111, 1);
            alice_tx.protect_rtp(&mut own).unwrap();
            assert!(matches!(
                alice_rx.unprotect_rtp(&mut own),
                Err(SrtpError::AuthFailed { .. })
            ));
        }
    }
}

#[test]
fn plain_rtp_when_either_side_says_so() {
    let mut alice = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
    let mut bob = Negotiator::new(tls(OfferPolicy::Disabled)).unwrap();
    let (_, answer, at_alice, at_bob) = exchange(&mut alice, &mut bob);
    assert!(!answer.contains("a=crypto"));
    assert_eq!(at_alice.summary(), "unencrypted: peer has no SRTP");
    assert_eq!(at_bob.summary(), "plain RTP: SRTP is disabled here");
    assert!(!at_alice.all_audio_encrypted());
}

#[test]
fn reoffer_with_the_same_crypto_keeps_contexts_and_rekey_replaces_them() {
    let mut alice = Negotiator::new(tls(OfferPolicy::Standard)).unwrap();
    let mut bob = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
    let (offer1, answer1, at_alice, at_bob) = exchange(&mut alice, &mut bob);
    let (a1, b1) = (agreement(&at_alice).clone(), agreement(&at_bob).clone());
    assert_eq!(
        (a1.send, a1.receive, b1.send, b1.receive),
        (Change::New, Change::New, Change::New, Change::New)
    );
    let (mut alice_tx, mut alice_rx) = a1.sessions().unwrap();
    let (mut bob_tx, mut bob_rx) = b1.sessions().unwrap();
    flow(&mut alice_tx, &mut bob_rx, 0xa, 65500, 30); // crosses a sequence wrap
    flow(&mut bob_tx, &mut alice_rx, 0xb, 10, 30);

    // Re-INVITE (e.g. hold/unhold): same crypto offered, same answered.
    let (offer2, answer2, at_alice, at_bob) = exchange(&mut alice, &mut bob);
    let crypto = |sdp: &str| {
        sdp.lines()
            .filter(|l| l.starts_with("a=crypto:"))
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        crypto(&offer2).len(),
        1,
        "a re-offer carries the running crypto line only"
    );
    assert!(crypto(&offer1).contains(&crypto(&offer2)[0]));
    assert_eq!(crypto(&answer1), crypto(&answer2));
    let (a2, b2) = (agreement(&at_alice), agreement(&at_bob));
    assert_eq!(
        (a2.send, a2.receive, b2.send, b2.receive),
        (Change::Keep, Change::Keep, Change::Keep, Change::Keep)
    );
    // The kept contexts carry on after the wrap (ROC 1).
    flow(&mut alice_tx, &mut bob_rx, 0xa, 65530, 10);
    flow(&mut bob_tx, &mut alice_rx, 0xb, 40, 10);

    // Re-key: fresh keys, new contexts both ways.
    alice.rekey();
    let (offer3, answer3, at_alice, at_bob) = exchange(&mut alice, &mut bob);
    assert!(crypto(&offer3).iter().all(|l| !crypto(&offer1).contains(l)));
    assert_ne!(crypto(&answer3), crypto(&answer1));
    let (a3, b3) = (agreement(&at_alice), agreement(&at_bob));
    assert_eq!(
        (a3.send, a3.receive, b3.send, b3.receive),
        (Change::New, Change::New, Change::New, Change::New)
    );
    let (mut alice_tx3, mut alice_rx3) = a3.sessions().unwrap();
    let (mut bob_tx3, mut bob_rx3) = b3.sessions().unwrap();
    flow(&mut alice_tx3, &mut bob_rx3, 0xa, 100, 10);
    flow(&mut bob_tx3, &mut alice_rx3, 0xb, 100, 10);
    // The old receiving context cannot read the new key's packets.
    let mut p = rtp(200, 0xa, 3);
    alice_tx3.protect_rtp(&mut p).unwrap();
    assert!(bob_rx.unprotect_rtp(&mut p).is_err());
}

#[test]
fn answerer_keeps_contexts_when_the_offer_repeats_and_renews_when_the_key_changes() {
    let mut alice = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
    let mut bob = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
    let mut offer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4000, 1);
    alice.create_offer(&mut offer).unwrap();
    let mut answer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4002, 2);
    let first = bob.answer_offer(&offer, &mut answer).unwrap();
    // The same offer again (a retransmitted or repeated re-INVITE).
    let mut again = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4002, 2);
    let second = bob.answer_offer(&offer, &mut again).unwrap();
    assert_eq!(agreement(&second).receive, Change::Keep);
    assert_eq!(agreement(&second).send, Change::Keep);
    assert_eq!(agreement(&first).local, agreement(&second).local);
    // A different offer (new keys).
    let mut offer2 = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4000, 1);
    alice.rekey();
    alice.create_offer(&mut offer2).unwrap();
    let mut answer3 = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4002, 2);
    let third = bob.answer_offer(&offer2, &mut answer3).unwrap();
    assert_eq!(agreement(&third).receive, Change::New);
    assert_eq!(agreement(&third).send, Change::New);
    assert_ne!(agreement(&first).local, agreement(&third).local);
}

// ---- libsrtp ---------------------------------------------------------------

/// The key‖salt of the first `a=crypto` line in SDP text, read independently
/// of our parser: split at `inline:` and `|`, then standard base64.
fn inline_key(sdp: &str) -> Vec<u8> {
    let line = sdp
        .lines()
        .find(|l| l.starts_with("a=crypto:"))
        .expect("an a=crypto line");
    let b64 = line
        .split("inline:")
        .nth(1)
        .and_then(|rest| rest.split(['|', ' ', ';']).next())
        .expect("inline key");
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("standard base64")
}

fn run_libsrtp(python: &std::path::Path, commands: &str) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pylibsrtp_peer.py");
    let out = run_with_input(Command::new(python).arg(script), commands.as_bytes());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the pylibsrtp peer failed: {stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    stdout.lines().map(str::to_owned).collect()
}

#[test]
fn libsrtp_keyed_from_the_sdp_text_interoperates_with_the_negotiated_contexts() {
    let Some(python) = peer(Peer::Pylibsrtp) else {
        return;
    };
    // pylibsrtp exposes the AES-128 suites only.
    for (suite, profile) in [
        (Suite::AesCm128HmacSha1_80, "80"),
        (Suite::AesCm128HmacSha1_32, "32"),
    ] {
        let mut alice =
            Negotiator::new(tls(OfferPolicy::Optional).with_suites(vec![suite])).unwrap();
        let mut bob = Negotiator::new(tls(OfferPolicy::Standard)).unwrap();
        let (offer, answer, at_alice, _) = exchange(&mut alice, &mut bob);
        let (mut alice_tx, mut alice_rx) = agreement(&at_alice).sessions().unwrap();
        let alice_key = inline_key(&offer); // Alice sends with the key she offered.
        let bob_key = inline_key(&answer); // Bob sends with the key he answered.
        assert_eq!(alice_key.len(), 30);

        // Alice → libsrtp (as Bob's receiver, keyed from the offer text).
        let sent: Vec<Vec<u8>> = (0..20u16).map(|i| rtp(500 + i, 0x5151, i as u8)).collect();
        let mut commands = format!("new rx {profile} in {}\n", hex::encode(&alice_key));
        for plain in &sent {
            let mut p = plain.clone();
            alice_tx.protect_rtp(&mut p).unwrap();
            commands.push_str(&format!("unprotect rx {}\n", hex::encode(&p)));
        }
        let mut sr = rtcp_sr(0x5151);
        alice_tx.protect_rtcp(&mut sr).unwrap();
        commands.push_str(&format!("unprotect_rtcp rx {}\n", hex::encode(&sr)));
        // libsrtp (as Bob's sender, keyed from the answer text) → Alice.
        let back: Vec<Vec<u8>> = (0..20u16)
            .map(|i| rtp(7000 + i, 0x7272, 100 + i as u8))
            .collect();
        commands.push_str(&format!("new tx {profile} out {}\n", hex::encode(&bob_key)));
        for plain in &back {
            commands.push_str(&format!("protect tx {}\n", hex::encode(plain)));
        }
        let lines = run_libsrtp(&python, &commands);
        assert_eq!(
            lines.len(),
            1 + sent.len() + 1 + 1 + back.len(),
            "{lines:?}"
        );
        assert_eq!(lines[0], "ok");
        for (i, plain) in sent.iter().enumerate() {
            assert_eq!(
                hex::decode(&lines[1 + i]),
                *plain,
                "libsrtp decrypted packet {i}: {}",
                lines[1 + i]
            );
        }
        assert_eq!(hex::decode(&lines[1 + sent.len()]), rtcp_sr(0x5151));
        assert_eq!(lines[2 + sent.len()], "ok");
        for (i, plain) in back.iter().enumerate() {
            let mut p = hex::decode(&lines[3 + sent.len() + i]);
            alice_rx
                .unprotect_rtp(&mut p)
                .unwrap_or_else(|e| panic!("libsrtp packet {i} ({suite}): {e}"));
            assert_eq!(p, *plain);
        }
    }
}
