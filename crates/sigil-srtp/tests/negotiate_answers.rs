//! Offer/answer cases seen from real phones (issue 11): crypto in an answer
//! to an offer that had none, an answer picking a tag or suite we never
//! offered, and an offer carrying the stream twice (SRTP and plain) on
//! different ports.

use std::sync::{Mutex, OnceLock};

use base64::Engine as _;
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, AnswerError, MediaOutcome, Negotiation, Negotiator,
    OfferPolicy, PlainReason, Sdp, SignalingTransport, SrtpConfig,
};
use sigil_srtp::Suite;

/// Keeps every log record of this test binary.
struct Capture(Mutex<Vec<String>>);

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata<'_>) -> bool {
        true
    }
    fn log(&self, record: &log::Record<'_>) {
        if let Ok(mut lines) = self.0.lock() {
            lines.push(format!("{} {}", record.level(), record.args()));
        }
    }
    fn flush(&self) {}
}

fn logs() -> &'static Capture {
    static CAPTURE: OnceLock<&'static Capture> = OnceLock::new();
    CAPTURE.get_or_init(|| {
        let capture: &'static Capture = Box::leak(Box::new(Capture(Mutex::new(Vec::new()))));
        log::set_logger(capture).expect("the only logger of this test binary");
        log::set_max_level(log::LevelFilter::Trace);
        capture
    })
}

fn logged(needle: &str) -> Vec<String> {
    logs()
        .0
        .lock()
        .map(|lines| {
            lines
                .iter()
                .filter(|l| l.contains(needle))
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

fn key(len: usize, fill: u8) -> String {
    let bytes: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A phone's answer: one audio m-line in `profile` with `cryptos`.
fn phone_answer(origin: u64, profile: &str, cryptos: &[String]) -> Sdp {
    let mut s = format!(
        "v=0\r\no=phone {origin} 1 IN IP4 192.0.2.60\r\ns=-\r\nc=IN IP4 192.0.2.60\r\nt=0 0\r\n\
         m=audio 5004 {profile} 0\r\na=rtpmap:0 PCMU/8000\r\n"
    );
    for c in cryptos {
        s.push_str(&format!("a=crypto:{c}\r\n"));
    }
    s.push_str("a=sendrecv\r\n");
    parse_sdp(s.as_bytes()).expect("test answers are valid SDP")
}

/// Our negotiator after sending an offer.
fn offered(policy: OfferPolicy, transport: SignalingTransport) -> Negotiator {
    let mut us = Negotiator::new(SrtpConfig::new(policy, transport)).unwrap();
    let mut offer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
    us.create_offer(&mut offer).unwrap();
    us
}

// ---- 3a: crypto in an answer to an offer that had none

#[test]
fn unsolicited_crypto_in_an_avp_answer_is_ignored_with_a_warning() {
    logs();
    for (policy, transport, origin, reason) in [
        (
            OfferPolicy::Disabled,
            SignalingTransport::Tls,
            31,
            PlainReason::Disabled,
        ),
        (
            OfferPolicy::Optional,
            SignalingTransport::Udp,
            32,
            PlainReason::InsecureSignaling {
                transport: SignalingTransport::Udp,
            },
        ),
    ] {
        // One line, and two (a phone echoing several suites).
        for cryptos in [
            vec![format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", key(30, 1))],
            vec![
                format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", key(30, 1)),
                format!("2 AES_CM_128_HMAC_SHA1_32 inline:{}", key(30, 2)),
            ],
        ] {
            let mut us = offered(policy, transport);
            let answer = phone_answer(origin, "RTP/AVP", &cryptos);
            let n = us
                .accept_answer(&answer)
                .unwrap_or_else(|e| panic!("{policy}: the call must go on: {e}"));
            assert_eq!(n.media[0].outcome, MediaOutcome::Plain(reason.clone()));
            assert!(!n.all_audio_encrypted());
            let warnings = logged(&format!("ignoring {} a=crypto line(s)", cryptos.len()));
            assert!(
                warnings
                    .iter()
                    .any(|w| w.starts_with("WARN ") && w.contains(&reason.to_string())),
                "{policy}: {warnings:?}"
            );
            assert!(
                !warnings.iter().any(|w| w.contains(&key(30, 1))),
                "no key in the log"
            );
        }
    }
}

#[test]
fn an_srtp_only_answer_to_a_plain_offer_still_ends_the_call() {
    // RTP/SAVP answering our RTP/AVP offer without crypto: the peer will send
    // SRTP and expects SRTP back, which plain RTP cannot give it.
    let mut us = offered(OfferPolicy::Disabled, SignalingTransport::Tls);
    let answer = phone_answer(
        33,
        "RTP/SAVP",
        &[format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", key(30, 1))],
    );
    let err = us.accept_answer(&answer).unwrap_err();
    assert!(matches!(err, AnswerError::InvalidAnswer { .. }), "{err:?}");
    assert!(err.to_string().contains("RTP/SAVP (SRTP only)"), "{err}");
}

// ---- 3b: an answer picking a tag or a suite we never offered

/// Our offer (all six suites, tags 1..=6 in `Suite::ALL` order) and an
/// AVP / SAVP answer with one crypto line `tag suite`.
fn answer_picking(
    policy: OfferPolicy,
    profile: &str,
    tag: u32,
    suite: &str,
) -> Result<Negotiation, AnswerError> {
    let mut us = offered(policy, SignalingTransport::Tls);
    let len = if suite.contains("256") { 46 } else { 30 };
    let answer = phone_answer(
        40 + u64::from(tag),
        profile,
        &[format!("{tag} {suite} inline:{}", key(len, 9))],
    );
    us.accept_answer(&answer)
}

#[test]
fn optional_falls_back_to_plain_when_the_answer_picks_what_we_did_not_offer() {
    logs();
    assert_eq!(
        Suite::ALL[0],
        Suite::AeadAes256Gcm,
        "tag 1 is AEAD_AES_256_GCM"
    );
    let n = answer_picking(
        OfferPolicy::Optional,
        "RTP/AVP",
        9,
        "AES_CM_128_HMAC_SHA1_80",
    )
    .unwrap();
    assert_eq!(
        n.media[0].outcome,
        MediaOutcome::Plain(PlainReason::AnswerNotOffered {
            tag: 9,
            suite: "AES_CM_128_HMAC_SHA1_80".into(),
            offered: None,
        })
    );
    assert_eq!(
        n.summary(),
        "plain RTP: answered crypto tag 9 (AES_CM_128_HMAC_SHA1_80) was not offered"
    );
    // Tag 1 was offered, with another suite.
    let n = answer_picking(
        OfferPolicy::Optional,
        "RTP/AVP",
        1,
        "AES_CM_128_HMAC_SHA1_32",
    )
    .unwrap();
    assert_eq!(
        n.summary(),
        "plain RTP: answered crypto tag 1 names suite AES_CM_128_HMAC_SHA1_32 but was offered with AEAD_AES_256_GCM"
    );
    // A suite nobody supports under an offered tag.
    let n = answer_picking(
        OfferPolicy::Optional,
        "RTP/AVP",
        2,
        "SEED_CTR_128_HMAC_SHA1_80",
    )
    .unwrap();
    assert!(matches!(
        &n.media[0].outcome,
        MediaOutcome::Plain(PlainReason::AnswerNotOffered {
            tag: 2,
            offered: Some(_),
            ..
        })
    ));
    assert!(!logged("falling back to plain RTP: answered crypto tag 9").is_empty());
    // An RTP/SAVP answer leaves nothing to fall back to.
    let err = answer_picking(
        OfferPolicy::Optional,
        "RTP/SAVP",
        9,
        "AES_CM_128_HMAC_SHA1_80",
    )
    .unwrap_err();
    assert!(matches!(err, AnswerError::InvalidAnswer { .. }), "{err:?}");
}

#[test]
fn standard_calls_it_srtp_required_naming_the_tag_and_suite() {
    for profile in ["RTP/SAVP", "RTP/AVP"] {
        let err = answer_picking(OfferPolicy::Standard, profile, 9, "AES_CM_128_HMAC_SHA1_80")
            .unwrap_err();
        assert_eq!(
            err,
            AnswerError::SrtpRequired {
                detail: "answered crypto tag 9 (AES_CM_128_HMAC_SHA1_80) was not offered".into()
            }
        );
        let err = answer_picking(OfferPolicy::Standard, profile, 1, "AES_CM_128_HMAC_SHA1_32")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "SRTP required: answered crypto tag 1 names suite AES_CM_128_HMAC_SHA1_32 but was offered with AEAD_AES_256_GCM"
        );
    }
}

// ---- 3c: the stream offered twice, SRTP and plain, on different ports

/// A phone offering the stream as RTP/SAVP with crypto on 5004 and as
/// RTP/AVP on 5006 (or the other way round).
fn two_m_line_offer(plain_first: bool) -> Sdp {
    let savp = format!(
        "m=audio 5004 RTP/SAVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\n\
         a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:{}\r\na=crypto:2 AES_CM_128_HMAC_SHA1_32 inline:{}\r\na=sendrecv\r\n",
        key(30, 3),
        key(30, 4)
    );
    let avp = "m=audio 5006 RTP/AVP 0 8\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=sendrecv\r\n";
    let (first, second) = if plain_first {
        (avp.to_owned(), savp)
    } else {
        (savp, avp.to_owned())
    };
    let text = format!(
        "v=0\r\no=phone 50 1 IN IP4 192.0.2.60\r\ns=-\r\nc=IN IP4 192.0.2.60\r\nt=0 0\r\n{first}{second}"
    );
    parse_sdp(text.as_bytes()).unwrap()
}

/// The answer template the endpoint builds: its one m-line cloned once per
/// offered m-line (all on our one RTP port).
fn endpoint_template(offer: &Sdp) -> Sdp {
    let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 7078, 2);
    while answer.medias.len() < offer.medias.len() {
        let first = answer.medias[0].clone();
        answer.medias.push(first);
    }
    answer
}

#[test]
fn the_answer_keeps_one_stream_the_policy_prefers_and_rejects_the_other_with_port_0() {
    for plain_first in [false, true] {
        let (srtp_at, plain_at) = if plain_first { (1, 0) } else { (0, 1) };
        for (policy, kept) in [
            (OfferPolicy::Standard, srtp_at),
            (OfferPolicy::Optional, srtp_at),
            (OfferPolicy::Disabled, plain_at),
        ] {
            let offer = two_m_line_offer(plain_first);
            let mut us = Negotiator::new(SrtpConfig::new(policy, SignalingTransport::Tls)).unwrap();
            let mut answer = endpoint_template(&offer);
            let n = us.answer_offer(&offer, &mut answer).unwrap();
            let rejected = 1 - kept;
            // As it travels.
            let answer = parse_sdp(write_sdp(&answer).as_bytes()).unwrap();
            let active: Vec<usize> = (0..2).filter(|&i| answer.medias[i].port != 0).collect();
            assert_eq!(active, [kept], "{policy}, plain first {plain_first}");
            assert_eq!(answer.medias[rejected].port, 0);
            assert_eq!(answer.medias[kept].port, 7078);
            assert_eq!(answer.medias[kept].proto, offer.medias[kept].proto);
            assert!(matches!(
                n.media[rejected].outcome,
                MediaOutcome::Declined(_)
            ));
            match policy {
                OfferPolicy::Disabled => {
                    assert_eq!(
                        n.media[kept].outcome,
                        MediaOutcome::Plain(PlainReason::Disabled)
                    )
                }
                _ => assert!(matches!(n.media[kept].outcome, MediaOutcome::Srtp(_))),
            }
            let cryptos = |i: usize| {
                answer.medias[i]
                    .attributes
                    .iter()
                    .filter(|a| a.attribute == "crypto")
                    .count()
            };
            assert_eq!(cryptos(rejected), 0);
            assert_eq!(cryptos(kept), usize::from(policy != OfferPolicy::Disabled));
            // Media goes to the peer's address of the kept m-line.
            let port = if kept == srtp_at { 5004 } else { 5006 };
            assert_eq!(n.media_index(), Some(kept));
            assert_eq!(
                n.rtp_peer(&offer),
                Some(format!("192.0.2.60:{port}").parse().unwrap()),
                "{policy}, plain first {plain_first}"
            );
        }
    }
}

// ---- resuming an offer made elsewhere (for `sigil sdp accept`)

#[test]
fn an_offer_made_earlier_can_be_resumed_to_check_its_answer() {
    for policy in [
        OfferPolicy::Disabled,
        OfferPolicy::Optional,
        OfferPolicy::Standard,
    ] {
        let config = SrtpConfig::new(policy, SignalingTransport::Tls);
        let mut offer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
        let made = Negotiator::new(config.clone())
            .unwrap()
            .create_offer(&mut offer)
            .unwrap();
        let text = write_sdp(&offer);
        let mut peer = Negotiator::new(config.clone()).unwrap();
        let mut answer = basic_audio_sdp("192.0.2.2".parse().unwrap(), 5000, 2);
        let at_peer = peer.answer_offer(&offer, &mut answer).unwrap();

        // A new negotiator, as in another process, from the offer's text.
        let mut us = Negotiator::new(config).unwrap();
        let resumed = us
            .resume_offer(&parse_sdp(text.as_bytes()).unwrap())
            .unwrap();
        assert_eq!(resumed, made, "{policy}");
        let n = us.accept_answer(&answer).unwrap();
        assert_eq!(n.summary(), at_peer.summary(), "{policy}");
        if let (Some((_, ours)), Some((_, theirs))) = (n.srtp().next(), at_peer.srtp().next()) {
            assert_eq!(ours.local, theirs.remote, "our key is the offered one");
            assert_eq!(ours.remote, theirs.local);
        };
    }
}

#[test]
fn resuming_refuses_offers_this_configuration_does_not_make() {
    let tls = |policy| SrtpConfig::new(policy, SignalingTransport::Tls);
    let make = |config: SrtpConfig| {
        let mut offer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
        Negotiator::new(config)
            .unwrap()
            .create_offer(&mut offer)
            .unwrap();
        offer
    };
    let optional = make(tls(OfferPolicy::Optional));
    let standard = make(tls(OfferPolicy::Standard));
    let disabled = make(tls(OfferPolicy::Disabled));
    let cases = [
        (
            tls(OfferPolicy::Standard),
            &optional,
            "the offer does not match SDP SRTP Offer standard: m-line 1 is RTP/AVP, standard offers RTP/SAVP",
        ),
        (
            tls(OfferPolicy::Optional),
            &standard,
            "the offer does not match SDP SRTP Offer optional: m-line 1 is RTP/SAVP, optional offers RTP/AVP",
        ),
        (
            tls(OfferPolicy::Disabled),
            &optional,
            "the offer does not match SDP SRTP Offer disabled: m-line 1 has a=crypto lines, but disabled over tls signaling offers none",
        ),
        (
            tls(OfferPolicy::Optional),
            &disabled,
            "the offer does not match SDP SRTP Offer optional: m-line 1 has no a=crypto line, but optional over tls signaling offers SDES keys",
        ),
        (
            tls(OfferPolicy::Optional).with_suites(vec![Suite::AesCm128HmacSha1_80]),
            &optional,
            "the offer does not match SDP SRTP Offer optional: m-line 1: a=crypto tag 1 uses AEAD_AES_256_GCM, which is not among the enabled suites",
        ),
    ];
    for (config, offer, want) in cases {
        let mut us = Negotiator::new(config).unwrap();
        let err = us.resume_offer(offer).unwrap_err();
        assert_eq!(err.to_string(), want);
        // Nothing is pending after a refused offer.
        assert_eq!(
            us.accept_answer(offer).unwrap_err(),
            AnswerError::NoPendingOffer
        );
    }
    // A broken crypto line is named, its key is not.
    let text = write_sdp(&optional).replacen("inline:", "inline:!", 1);
    let err = Negotiator::new(tls(OfferPolicy::Optional))
        .unwrap()
        .resume_offer(&parse_sdp(text.as_bytes()).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("m-line 1: an a=crypto line cannot be used"),
        "{err}"
    );
    let keys: Vec<&str> = text
        .lines()
        .filter_map(|l| l.split("inline:").nth(1))
        .collect();
    assert!(
        keys.iter()
            .all(|k| !err.contains(k.trim_start_matches('!'))),
        "{err}"
    );
}
