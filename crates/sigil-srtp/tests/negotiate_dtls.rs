//! DTLS-SRTP keying in offer/answer (`sip.srtp.keying = dtls | both`):
//! the SDP each keying offers, Sigil answering Sigil (and the handshake
//! their agreements lead to), `both` meeting SDES-only and DTLS-only peers,
//! and the answers that end a call.

use std::time::Instant;

use sigil_srtp::dtls::{DtlsIdentity, DtlsRole, DtlsSrtp};
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, AnswerError, ConfigError, Keying, MediaOutcome,
    Negotiator, OfferPolicy, Sdp, SignalingTransport, SrtpConfig,
};

fn config(policy: OfferPolicy, keying: Keying, id: &DtlsIdentity) -> SrtpConfig {
    SrtpConfig::new(policy, SignalingTransport::Tls)
        .with_keying(keying, Some(id.fingerprint().clone()))
}

fn offer(us: &mut Negotiator) -> Sdp {
    let mut sdp = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
    us.create_offer(&mut sdp).unwrap();
    // Through text and back, as over SIP.
    parse_sdp(write_sdp(&sdp).as_bytes()).unwrap()
}

fn answer(them: &mut Negotiator, offer: &Sdp) -> (Sdp, MediaOutcome) {
    let mut sdp = basic_audio_sdp("192.0.2.2".parse().unwrap(), 5000, 2);
    let n = them.answer_offer(offer, &mut sdp).unwrap();
    let sdp = parse_sdp(write_sdp(&sdp).as_bytes()).unwrap();
    (sdp, n.media[0].outcome.clone())
}

fn lines(sdp: &Sdp, prefix: &str) -> Vec<String> {
    write_sdp(sdp)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[test]
fn dtls_offers_udp_tls_rtp_savp_with_fingerprint_and_actpass() {
    let id = DtlsIdentity::generate().unwrap();
    for policy in [OfferPolicy::Optional, OfferPolicy::Standard] {
        // No key in the SDP: fine even over UDP signaling.
        let config = SrtpConfig::new(policy, SignalingTransport::Udp)
            .with_keying(Keying::Dtls, Some(id.fingerprint().clone()));
        let mut us = Negotiator::new(config).unwrap();
        let mut sdp = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
        let info = us.create_offer(&mut sdp).unwrap();
        assert_eq!(info.to_string(), "offer UDP/TLS/RTP/SAVP with DTLS-SRTP");
        let text = write_sdp(&sdp);
        assert!(
            text.contains("m=audio 4000 UDP/TLS/RTP/SAVP 0\r\n"),
            "{text}"
        );
        assert!(text.contains(&format!("a=fingerprint:{}\r\n", id.fingerprint())));
        assert!(text.contains("a=setup:actpass\r\n"));
        assert!(!text.contains("a=crypto"), "{text}");
    }
}

#[test]
fn both_offers_sdes_crypto_and_a_fingerprint_on_one_m_line() {
    let id = DtlsIdentity::generate().unwrap();
    let mut us = Negotiator::new(config(OfferPolicy::Standard, Keying::Both, &id)).unwrap();
    let sdp = offer(&mut us);
    let text = write_sdp(&sdp);
    // The SDP `both` offers (printed for the documentation; keys differ per run).
    println!("{text}");
    assert!(text.contains("m=audio 4000 RTP/SAVP 0\r\n"), "{text}");
    assert_eq!(lines(&sdp, "a=crypto:").len(), 6);
    assert_eq!(lines(&sdp, "a=fingerprint:sha-256 ").len(), 1);
    assert_eq!(lines(&sdp, "a=setup:"), ["a=setup:actpass"]);
    let mut optional = Negotiator::new(config(OfferPolicy::Optional, Keying::Both, &id)).unwrap();
    let text = write_sdp(&offer(&mut optional));
    assert!(text.contains("m=audio 4000 RTP/AVP 0\r\n"), "{text}");
    assert!(text.contains("a=fingerprint:"));
}

#[test]
fn sigil_answers_sigil_and_the_agreements_key_a_handshake() {
    let (a, b) = (
        DtlsIdentity::generate().unwrap(),
        DtlsIdentity::generate().unwrap(),
    );
    for (offer_keying, answer_keying) in [
        (Keying::Dtls, Keying::Dtls),
        (Keying::Both, Keying::Dtls),
        (Keying::Both, Keying::Both),
        (Keying::Dtls, Keying::Both),
    ] {
        let mut alice = Negotiator::new(config(OfferPolicy::Standard, offer_keying, &a)).unwrap();
        let mut bob = Negotiator::new(config(OfferPolicy::Standard, answer_keying, &b)).unwrap();
        let o = offer(&mut alice);
        let (ans, at_bob) = answer(&mut bob, &o);
        assert_eq!(lines(&ans, "a=setup:"), ["a=setup:active"]);
        assert!(
            lines(&ans, "a=crypto").is_empty(),
            "DTLS answers carry no key"
        );
        assert_eq!(
            ans.medias[0].proto, o.medias[0].proto,
            "the offer's profile"
        );
        let at_alice = alice.accept_answer(&ans).unwrap();
        let (MediaOutcome::Dtls(bob_dtls), MediaOutcome::Dtls(alice_dtls)) =
            (&at_bob, &at_alice.media[0].outcome)
        else {
            panic!(
                "{offer_keying}/{answer_keying}: {at_bob} / {}",
                at_alice.summary()
            );
        };
        assert_eq!(bob_dtls.role, DtlsRole::Client);
        assert_eq!(alice_dtls.role, DtlsRole::Server);
        assert_eq!(bob_dtls.peer_fingerprints, vec![a.fingerprint().clone()]);
        assert_eq!(alice_dtls.peer_fingerprints, vec![b.fingerprint().clone()]);
        assert!(at_alice.all_audio_encrypted());
        assert_eq!(at_alice.summary(), "DTLS-SRTP, DTLS server");

        // The agreements are what the media port's handshake needs.
        let now = Instant::now();
        let mut client =
            DtlsSrtp::new(&b, bob_dtls.role, bob_dtls.peer_fingerprints.clone(), now).unwrap();
        let mut server = DtlsSrtp::new(
            &a,
            alice_dtls.role,
            alice_dtls.peer_fingerprints.clone(),
            now,
        )
        .unwrap();
        for _ in 0..20 {
            while let Some(d) = client.poll_transmit() {
                server.handle_datagram(&d, now).unwrap();
            }
            while let Some(d) = server.poll_transmit() {
                client.handle_datagram(&d, now).unwrap();
            }
        }
        let (ck, sk) = (client.srtp_keys().unwrap(), server.srtp_keys().unwrap());
        assert_eq!(ck.local().key(), sk.remote().key());
    }
}

#[test]
fn both_meets_an_sdes_only_peer_with_sdes() {
    let a = DtlsIdentity::generate().unwrap();
    let mut alice = Negotiator::new(config(OfferPolicy::Standard, Keying::Both, &a)).unwrap();
    let mut bob = Negotiator::new(SrtpConfig::new(
        OfferPolicy::Standard,
        SignalingTransport::Tls,
    ))
    .unwrap();
    let o = offer(&mut alice);
    let (ans, at_bob) = answer(&mut bob, &o);
    assert!(matches!(at_bob, MediaOutcome::Srtp(_)), "{at_bob}");
    assert!(lines(&ans, "a=fingerprint").is_empty());
    let at_alice = alice.accept_answer(&ans).unwrap();
    assert_eq!(at_alice.summary(), "SRTP AEAD_AES_256_GCM, tag 1");
}

#[test]
fn an_sdes_only_answerer_declines_a_dtls_only_offer_with_the_reason() {
    let a = DtlsIdentity::generate().unwrap();
    let mut alice = Negotiator::new(config(OfferPolicy::Standard, Keying::Dtls, &a)).unwrap();
    let mut bob = Negotiator::new(SrtpConfig::new(
        OfferPolicy::Optional,
        SignalingTransport::Tls,
    ))
    .unwrap();
    let o = offer(&mut alice);
    let mut sdp = basic_audio_sdp("192.0.2.2".parse().unwrap(), 5000, 2);
    let err = bob.answer_offer(&o, &mut sdp).unwrap_err();
    assert_eq!(err.code, 488);
    assert_eq!(
        err.reason,
        "the offer is DTLS-SRTP only (UDP/TLS/RTP/SAVP) but sip.srtp.keying is sdes"
    );
}

/// A change to an answer's SDP text.
type Edit = Box<dyn Fn(&str) -> String>;

#[test]
fn answers_that_end_a_dtls_call() {
    let (a, b) = (
        DtlsIdentity::generate().unwrap(),
        DtlsIdentity::generate().unwrap(),
    );
    let mut bob = Negotiator::new(config(OfferPolicy::Standard, Keying::Dtls, &b)).unwrap();
    let cases: [(&str, Edit, &str); 3] = [
        (
            "no fingerprint",
            Box::new(|t: &str| {
                t.lines()
                    .filter(|l| !l.starts_with("a=fingerprint"))
                    .map(|l| format!("{l}\r\n"))
                    .collect()
            }),
            "SRTP required: m-line 1 of the answer has no a=fingerprint for the DTLS-SRTP we offered",
        ),
        (
            "actpass in an answer",
            Box::new(|t: &str| t.replace("a=setup:active", "a=setup:actpass")),
            "invalid answer: m-line 1 answers a=setup:actpass; an answer says active or passive (RFC 5763 §5)",
        ),
        (
            "broken fingerprint",
            Box::new(|t: &str| t.replacen("a=fingerprint:sha-256 ", "a=fingerprint:sha-256 ZZ", 1)),
            "SRTP required: the answer's a=fingerprint byte 1",
        ),
    ];
    for (what, edit, want) in cases {
        let mut alice = Negotiator::new(config(OfferPolicy::Standard, Keying::Dtls, &a)).unwrap();
        let o = offer(&mut alice);
        let (ans, _) = answer(&mut bob, &o);
        let edited = parse_sdp(edit(&write_sdp(&ans)).as_bytes()).unwrap();
        let err = alice.accept_answer(&edited).unwrap_err();
        assert!(err.to_string().starts_with(want), "{what}: {err}");
        assert!(matches!(
            err,
            AnswerError::SrtpRequired { .. } | AnswerError::InvalidAnswer { .. }
        ));
    }
}

#[test]
fn dtls_keying_needs_our_fingerprint_and_offers_can_be_resumed() {
    let err = Negotiator::new(
        SrtpConfig::new(OfferPolicy::Standard, SignalingTransport::Tls)
            .with_keying(Keying::Both, None),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ConfigError::DtlsNeedsFingerprint {
            keying: Keying::Both
        }
    );
    assert_eq!("BOTH".parse::<Keying>().unwrap(), Keying::Both);
    assert!("zrtp".parse::<Keying>().is_err());

    let (a, b) = (
        DtlsIdentity::generate().unwrap(),
        DtlsIdentity::generate().unwrap(),
    );
    for keying in [Keying::Dtls, Keying::Both] {
        let mut maker = Negotiator::new(config(OfferPolicy::Standard, keying, &a)).unwrap();
        let o = offer(&mut maker);
        let mut bob = Negotiator::new(config(OfferPolicy::Standard, Keying::Dtls, &b)).unwrap();
        let (ans, _) = answer(&mut bob, &o);
        // Another process takes the offer back and checks the answer.
        let mut later = Negotiator::new(config(OfferPolicy::Standard, keying, &a)).unwrap();
        let info = later.resume_offer(&o).unwrap();
        assert!(info.dtls_offered);
        let n = later.accept_answer(&ans).unwrap();
        assert!(
            matches!(n.media[0].outcome, MediaOutcome::Dtls(_)),
            "{keying}"
        );
        // Someone else's fingerprint is not our offer.
        let mut stranger = Negotiator::new(config(OfferPolicy::Standard, keying, &b)).unwrap();
        assert!(stranger.resume_offer(&o).is_err(), "{keying}");
    }
}
