//! Several m-lines, non-audio m-lines, per-direction context changes, SDP limits.

use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, Change, MediaOutcome, Negotiator, OfferPolicy, SdpError,
    SignalingTransport, SrtpConfig, MAX_MEDIA, MAX_SDP_LEN,
};

fn tls(policy: OfferPolicy) -> SrtpConfig {
    SrtpConfig::new(policy, SignalingTransport::Tls)
}

const K30: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

#[test]
fn srtp_and_plain_alternatives_keep_one_stream_and_video_is_left_alone() {
    // The audio stream offered twice (RTP/SAVP with crypto, RTP/AVP without,
    // on different ports) around a video m-line: one audio stream is kept.
    let offer = format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
         m=audio 6000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K30}\r\n\
         m=video 6002 RTP/SAVP 96\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K30}\r\n\
         m=audio 6004 RTP/AVP 0\r\n"
    );
    let offer = parse_sdp(offer.as_bytes()).unwrap();
    let mut us = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
    let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 1);
    let line = answer.medias[0].clone();
    let mut video = offer.medias[1].clone();
    video.port = 0;
    video.attributes.clear();
    answer.medias = vec![line.clone(), video, line];
    let n = us.answer_offer(&offer, &mut answer).unwrap();
    assert!(matches!(n.media[0].outcome, MediaOutcome::Srtp(_)));
    assert_eq!(n.media[1].outcome, MediaOutcome::NotAudio);
    assert!(
        matches!(&n.media[2].outcome, MediaOutcome::Declined(why) if why.starts_with("alternative to m-line 1")),
        "{:?}",
        n.media[2].outcome
    );
    assert_eq!(n.summary(), "SRTP AES_CM_128_HMAC_SHA1_80, tag 1");
    assert!(n.all_audio_encrypted());
    let text = write_sdp(&answer);
    assert!(
        text.contains("m=video 0 RTP/SAVP 96\r\n"),
        "video untouched (declined by the caller): {text}"
    );
    assert!(text.contains("m=audio 5000 RTP/SAVP 0\r\n"), "{text}");
    assert!(text.contains("m=audio 0 RTP/AVP 0\r\n"), "{text}");
    assert_eq!(text.matches("a=crypto:").count(), 1);
}

#[test]
fn independent_audio_lines_are_each_negotiated() {
    // Two SRTP streams, or two plain ones, on different ports: no alternatives.
    let two_srtp = format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
         m=audio 6000 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{K30}\r\n\
         m=audio 6004 RTP/SAVP 0\r\na=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:{K30}\r\n"
    );
    let two_plain = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
         m=audio 6000 RTP/AVP 0\r\nm=audio 6004 RTP/AVP 0\r\n";
    for (offer, want) in [
        (
            two_srtp.as_str(),
            "m-line 1: SRTP AES_CM_128_HMAC_SHA1_80, tag 1; m-line 2: SRTP AES_CM_128_HMAC_SHA1_32, tag 1",
        ),
        (
            two_plain,
            "m-line 1: plain RTP: peer offered no crypto; m-line 2: plain RTP: peer offered no crypto",
        ),
    ] {
        let offer = parse_sdp(offer.as_bytes()).unwrap();
        let mut us = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
        let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 1);
        answer.medias.push(answer.medias[0].clone());
        let n = us.answer_offer(&offer, &mut answer).unwrap();
        assert_eq!(n.summary(), want);
        assert!(answer.medias.iter().all(|m| m.port == 5000));
    }
}

#[test]
fn offerer_keeps_its_sending_context_when_only_the_peer_rekeys() {
    let mut alice = Negotiator::new(tls(OfferPolicy::Standard)).unwrap();
    let mut bob = Negotiator::new(tls(OfferPolicy::Standard)).unwrap();
    let round = |alice: &mut Negotiator, bob: &mut Negotiator, bob_fresh: bool| {
        let mut offer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4000, 1);
        alice.create_offer(&mut offer).unwrap();
        if bob_fresh {
            // A new answerer instance (e.g. the call moved to another device) answers with a new key.
            *bob = Negotiator::new(tls(OfferPolicy::Standard)).unwrap();
        }
        let mut answer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4002, 2);
        bob.answer_offer(&offer, &mut answer).unwrap();
        alice.accept_answer(&answer).unwrap()
    };
    let first = round(&mut alice, &mut bob, false);
    let second = round(&mut alice, &mut bob, true);
    let (a1, a2) = match (&first.media[0].outcome, &second.media[0].outcome) {
        (MediaOutcome::Srtp(a1), MediaOutcome::Srtp(a2)) => (a1, a2),
        other => panic!("{other:?}"),
    };
    assert_eq!((a1.send, a1.receive), (Change::New, Change::New));
    assert_eq!((a2.send, a2.receive), (Change::Keep, Change::New));
    assert_eq!(a1.local, a2.local);
    assert_ne!(a1.remote, a2.remote);
}

#[test]
fn an_answer_without_a_pending_offer_is_refused() {
    let mut us = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
    let answer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4002, 2);
    assert!(us.accept_answer(&answer).is_err());
}

#[test]
fn a_peer_declining_the_stream_is_reported() {
    let mut us = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
    let mut offer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4000, 1);
    us.create_offer(&mut offer).unwrap();
    let mut answer = basic_audio_sdp("127.0.0.1".parse().unwrap(), 0, 2);
    answer.medias[0].port = 0;
    let n = us.accept_answer(&answer).unwrap();
    assert!(matches!(n.media[0].outcome, MediaOutcome::Declined(_)));
    // And an answer with the wrong number of m-lines breaks offer/answer.
    us.create_offer(&mut offer).unwrap();
    let mut two = basic_audio_sdp("127.0.0.1".parse().unwrap(), 4002, 2);
    two.medias.push(two.medias[0].clone());
    assert!(us
        .accept_answer(&two)
        .unwrap_err()
        .to_string()
        .contains("2 m-lines but the offer had 1"));
}

#[test]
fn sdp_limits() {
    let big = vec![b'a'; MAX_SDP_LEN + 1];
    assert!(matches!(parse_sdp(&big), Err(SdpError::TooLarge { .. })));
    let mut many = String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nt=0 0\r\n");
    for i in 0..=MAX_MEDIA {
        many.push_str(&format!("m=audio {} RTP/AVP 0\r\n", 6000 + 2 * i));
    }
    assert!(matches!(
        parse_sdp(many.as_bytes()),
        Err(SdpError::TooManyMedia { .. })
    ));
    assert!(matches!(parse_sdp(b"\xff\xfe"), Err(SdpError::Invalid(_))));
}

#[test]
fn too_many_crypto_lines_are_cut_off_with_a_reason() {
    let mut offer = String::from("v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 6000 RTP/SAVP 0\r\n");
    for tag in 1..=40 {
        offer.push_str(&format!("a=crypto:{tag} AEAD_AES_128_GCM inline:{K30}\r\n"));
    }
    let offer = parse_sdp(offer.as_bytes()).unwrap();
    let mut us = Negotiator::new(tls(OfferPolicy::Standard)).unwrap();
    let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 1);
    let rejection = us.answer_offer(&offer, &mut answer).unwrap_err();
    assert_eq!(rejection.code, 488);
    let skipped = &rejection.media[0].skipped;
    assert_eq!(skipped.len(), 33);
    assert_eq!(skipped[32].to_string(), "more than 32 crypto lines");
}

#[test]
fn audio_in_an_unsupported_profile_is_declined_not_answered_plain() {
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
                 m=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=fingerprint:sha-256 AB:CD\r\na=setup:actpass\r\n";
    let offer = parse_sdp(offer.as_bytes()).unwrap();
    let mut us = Negotiator::new(tls(OfferPolicy::Optional)).unwrap();
    let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 1);
    let rejection = us.answer_offer(&offer, &mut answer).unwrap_err();
    assert_eq!(rejection.code, 488);
    assert_eq!(
        rejection.reason,
        "the offer is DTLS-SRTP only (UDP/TLS/RTP/SAVPF) but sip.srtp.keying is sdes"
    );
    // Other transport profiles are declined as before.
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
                 m=audio 9 RTP/SAVPX 111\r\n";
    let offer = parse_sdp(offer.as_bytes()).unwrap();
    let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 1);
    let rejection = us.answer_offer(&offer, &mut answer).unwrap_err();
    assert!(
        rejection
            .reason
            .starts_with("unsupported transport profile RTP/SAVPX"),
        "{}",
        rejection.reason
    );
}

#[test]
fn rejections_carry_a_warning_header_value() {
    let offer = "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\nm=audio 6000 RTP/AVP 0\r\n";
    let offer = parse_sdp(offer.as_bytes()).unwrap();
    let mut us = Negotiator::new(tls(OfferPolicy::Standard)).unwrap();
    let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 1);
    let rejection = us.answer_offer(&offer, &mut answer).unwrap_err();
    assert_eq!(
        rejection.to_string(),
        "488: SRTP required: the offer has no a=crypto line"
    );
    assert_eq!(
        rejection.warning("door.example.com"),
        "399 door.example.com \"SRTP required: the offer has no a=crypto line\""
    );
    let tricky = sigil_srtp::negotiate::Rejection {
        code: 488,
        reason: "say \"hi\" \\ \r\nX".into(),
        media: vec![],
    };
    assert_eq!(tricky.warning("a"), "399 a \"say \\\"hi\\\" \\\\ X\"");
}
