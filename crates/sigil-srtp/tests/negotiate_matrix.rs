//! The whole matrix of SPEC M2–M3 / issue 5: policy × our role × peer
//! behaviour × signaling transport. Every cell states the outcome and the
//! reason it expects, in the table at the bottom.

use base64::Engine as _;
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, AnswerError, ConfigError, MediaOutcome, Negotiation, Negotiator,
    OfferPolicy, Sdp, SignalingTransport, SrtpConfig,
};
use sigil_srtp::Suite;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    Offerer,
    Answerer,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Transport {
    Tls,
    /// UDP signaling, insecure signaling not allowed.
    Udp,
    /// UDP signaling with `allow_insecure_signaling`.
    UdpAllowed,
}

/// What the peer sends: its offer (we answer) or its answer (we offered).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    SavpCrypto,
    AvpCrypto,
    AvpNoCrypto,
    SavpNoCrypto,
    OnlyUnknownSuites,
    BadKeyLength,
    UnknownMandatoryParam,
    SeveralCryptoLines,
    /// As answerer: a tag we did not offer. As offerer: an unusual tag (7) to be echoed.
    TagNotOffered,
    /// The same in `RTP/AVP` (opportunistic SRTP, RFC 8643).
    AvpTagNotOffered,
}

const PEERS: [Peer; 10] = [
    Peer::SavpCrypto,
    Peer::AvpCrypto,
    Peer::AvpNoCrypto,
    Peer::SavpNoCrypto,
    Peer::OnlyUnknownSuites,
    Peer::BadKeyLength,
    Peer::UnknownMandatoryParam,
    Peer::SeveralCryptoLines,
    Peer::TagNotOffered,
    Peer::AvpTagNotOffered,
];

fn key(len: usize, fill: u8) -> String {
    let bytes: Vec<u8> = (0..len).map(|i| fill.wrapping_add(i as u8)).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn sdp_text(profile: &str, cryptos: &[String]) -> String {
    let mut s = String::from(
        "v=0\r\no=peer 42 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n",
    );
    s.push_str(&format!("m=audio 30000 {profile} 0 101\r\n"));
    s.push_str("a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n");
    for c in cryptos {
        s.push_str(&format!("a=crypto:{c}\r\n"));
    }
    s.push_str("a=sendrecv\r\n");
    s
}

/// The peer's offer, for the cells where we answer.
fn peer_offer(peer: Peer) -> Sdp {
    let k30 = key(30, 1);
    let text = match peer {
        Peer::SavpCrypto => sdp_text(
            "RTP/SAVP",
            &[format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k30}")],
        ),
        Peer::AvpCrypto => sdp_text(
            "RTP/AVP",
            &[format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k30}")],
        ),
        Peer::AvpNoCrypto => sdp_text("RTP/AVP", &[]),
        Peer::SavpNoCrypto => sdp_text("RTP/SAVP", &[]),
        Peer::OnlyUnknownSuites => sdp_text(
            "RTP/SAVP",
            &[
                format!("1 AEAD_AES_256_GCM_8 inline:{}", key(44, 2)),
                format!("2 F8_128_HMAC_SHA1_80 inline:{k30}"),
            ],
        ),
        Peer::BadKeyLength => sdp_text(
            "RTP/AVP",
            &[format!("1 AES_CM_128_HMAC_SHA1_80 inline:{}", key(46, 3))],
        ),
        Peer::UnknownMandatoryParam => sdp_text(
            "RTP/AVP",
            &[format!("1 AES_CM_128_HMAC_SHA1_80 inline:{k30} FOO_BAR=1")],
        ),
        Peer::SeveralCryptoLines => sdp_text(
            "RTP/SAVP",
            &[
                format!("1 F8_128_HMAC_SHA1_80 inline:{}", key(30, 4)),
                format!("2 AES_CM_128_HMAC_SHA1_32 inline:{}", key(30, 5)),
                format!("3 AES_CM_128_HMAC_SHA1_80 inline:{}", key(30, 6)),
            ],
        ),
        Peer::TagNotOffered => sdp_text(
            "RTP/SAVP",
            &[format!("7 AES_256_CM_HMAC_SHA1_32 inline:{}", key(46, 7))],
        ),
        Peer::AvpTagNotOffered => sdp_text(
            "RTP/AVP",
            &[format!("7 AES_256_CM_HMAC_SHA1_32 inline:{}", key(46, 7))],
        ),
    };
    parse_sdp(text.as_bytes()).expect("test offers are valid SDP")
}

/// The peer's answer to `our_offer`, for the cells where we offer.
fn peer_answer(peer: Peer, our_offer: &Sdp) -> Sdp {
    // The first crypto line we offered, if any: a well-behaved peer echoes it.
    let first = our_offer.medias[0]
        .attributes
        .iter()
        .find(|a| a.attribute == "crypto")
        .and_then(|a| a.value.clone());
    let (tag, suite) = first
        .as_deref()
        .map(|v| {
            let mut it = v.split(' ');
            (it.next().unwrap().to_owned(), it.next().unwrap().to_owned())
        })
        .unwrap_or(("1".to_owned(), "AES_CM_128_HMAC_SHA1_80".to_owned()));
    let good_len = suite.parse::<Suite>().map_or(30, Suite::inline_len);
    let good = format!("{tag} {suite} inline:{}", key(good_len, 9));
    let text = match peer {
        Peer::SavpCrypto => sdp_text("RTP/SAVP", &[good]),
        Peer::AvpCrypto => sdp_text("RTP/AVP", &[good]),
        Peer::AvpNoCrypto => sdp_text("RTP/AVP", &[]),
        Peer::SavpNoCrypto => sdp_text("RTP/SAVP", &[]),
        Peer::OnlyUnknownSuites => sdp_text(
            "RTP/SAVP",
            &[format!("{tag} AEAD_AES_256_GCM_8 inline:{}", key(44, 2))],
        ),
        Peer::BadKeyLength => sdp_text(
            "RTP/SAVP",
            &[format!(
                "{tag} {suite} inline:{}",
                key(if good_len == 30 { 46 } else { 30 }, 3)
            )],
        ),
        Peer::UnknownMandatoryParam => sdp_text("RTP/SAVP", &[format!("{good} FOO_BAR=1")]),
        Peer::SeveralCryptoLines => sdp_text(
            "RTP/SAVP",
            &[
                good,
                format!("2 AES_CM_128_HMAC_SHA1_80 inline:{}", key(30, 8)),
            ],
        ),
        Peer::TagNotOffered => sdp_text(
            "RTP/SAVP",
            &[format!("9 AES_CM_128_HMAC_SHA1_80 inline:{}", key(30, 10))],
        ),
        Peer::AvpTagNotOffered => sdp_text(
            "RTP/AVP",
            &[format!("9 AES_CM_128_HMAC_SHA1_80 inline:{}", key(30, 10))],
        ),
    };
    parse_sdp(text.as_bytes()).expect("test answers are valid SDP")
}

fn config(policy: OfferPolicy, transport: Transport) -> SrtpConfig {
    match transport {
        Transport::Tls => SrtpConfig::new(policy, SignalingTransport::Tls),
        Transport::Udp => SrtpConfig::new(policy, SignalingTransport::Udp),
        Transport::UdpAllowed => {
            SrtpConfig::new(policy, SignalingTransport::Udp).with_insecure_signaling(true)
        }
    }
}

/// Runs one cell and renders its outcome as `kind: text`:
/// `srtp: <summary>`, `plain: <reason>`, `488: <reason>`, `end: <reason>`,
/// `config: <error>`.
fn run(policy: OfferPolicy, role: Role, peer: Peer, transport: Transport) -> String {
    let mut us = match Negotiator::new(config(policy, transport)) {
        Ok(n) => n,
        Err(e) => return format!("config: {e}"),
    };
    let result: Result<Negotiation, String> = match role {
        Role::Answerer => {
            let offer = peer_offer(peer);
            let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
            match us.answer_offer(&offer, &mut answer) {
                Ok(n) => {
                    check_answer_sdp(&offer, &answer, &n);
                    Ok(n)
                }
                Err(r) => {
                    assert_eq!(r.code, 488);
                    Err(format!("488: {}", r.reason))
                }
            }
        }
        Role::Offerer => {
            let mut offer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
            us.create_offer(&mut offer).unwrap();
            check_offer_sdp(policy, transport, &offer);
            let answer = peer_answer(peer, &offer);
            us.accept_answer(&answer)
                .map_err(|e: AnswerError| format!("end: {e}"))
        }
    };
    match result {
        Ok(n) => {
            assert_eq!(n.media.len(), 1);
            match &n.media[0].outcome {
                MediaOutcome::Srtp(agreement) => {
                    // The contexts must be buildable from the agreement.
                    agreement.sessions().expect("sessions from the agreement");
                    assert_eq!(agreement.local.suite, agreement.remote.suite);
                    assert_eq!(agreement.local.tag, agreement.remote.tag);
                    format!("srtp: {}", n.summary())
                }
                MediaOutcome::Plain(_) => format!("plain: {}", n.summary()),
                other => panic!("unexpected single-line outcome {other:?}"),
            }
        }
        Err(e) => e,
    }
}

/// Our offer has the profile and crypto lines the policy asks for.
fn check_offer_sdp(policy: OfferPolicy, transport: Transport, offer: &Sdp) {
    let media = &offer.medias[0];
    let cryptos = media
        .attributes
        .iter()
        .filter(|a| a.attribute == "crypto")
        .count();
    let keys_may_travel = transport != Transport::Udp;
    match policy {
        OfferPolicy::Disabled => assert_eq!((media.proto.as_str(), cryptos), ("RTP/AVP", 0)),
        OfferPolicy::Optional if keys_may_travel => {
            assert_eq!(
                (media.proto.as_str(), cryptos),
                ("RTP/AVP", Suite::ALL.len())
            )
        }
        OfferPolicy::Optional => assert_eq!((media.proto.as_str(), cryptos), ("RTP/AVP", 0)),
        OfferPolicy::Standard => assert_eq!(
            (media.proto.as_str(), cryptos),
            ("RTP/SAVP", Suite::ALL.len())
        ),
    }
}

/// Our answer is in the offer's profile and carries exactly one crypto line
/// iff SRTP was agreed, with the agreed tag and suite.
fn check_answer_sdp(offer: &Sdp, answer: &Sdp, n: &Negotiation) {
    let media = &answer.medias[0];
    assert_eq!(
        media.proto, offer.medias[0].proto,
        "answer in the offer's profile"
    );
    let cryptos: Vec<&str> = media
        .attributes
        .iter()
        .filter(|a| a.attribute == "crypto")
        .filter_map(|a| a.value.as_deref())
        .collect();
    match &n.media[0].outcome {
        MediaOutcome::Srtp(a) => {
            assert_eq!(cryptos.len(), 1);
            assert!(
                cryptos[0].starts_with(&format!("{} {} inline:", a.tag, a.suite)),
                "{}",
                cryptos[0].split(" inline:").next().unwrap()
            );
        }
        _ => assert!(cryptos.is_empty()),
    }
}

const D: OfferPolicy = OfferPolicy::Disabled;
const O: OfferPolicy = OfferPolicy::Optional;
const S: OfferPolicy = OfferPolicy::Standard;
use Role::{Answerer as ANS, Offerer as OFF};
use Transport::{Tls as TLS, Udp as UDP, UdpAllowed as UDPOK};

const NO_CRYPTO_SAVP: &str =
    "end: invalid answer: m-line 1 is answered RTP/SAVP without an a=crypto line";
const EXACTLY_ONE: &str = "end: invalid answer: m-line 1 of the answer has 2 a=crypto lines; an answer accepts exactly one";
const SRTP_DISABLED_488: &str = "488: SRTP is disabled here but the offer is SRTP-only (RTP/SAVP)";
const PLAIN_DISABLED: &str = "plain: plain RTP: SRTP is disabled here";
const STANDARD_UDP: &str = "config: SDP SRTP Offer is standard but SIP signaling is udp";
const NOT_OVER_UDP_488: &str =
    "488: the offer is SRTP-only (RTP/SAVP) but SDES keys are not sent over udp signaling";
const PLAIN_NOT_OVER_UDP: &str = "plain: plain RTP: SDES keys are not sent over udp signaling";
const SAVP_TO_PLAIN_OFFER: &str = "end: invalid answer: m-line 1 is answered RTP/SAVP (SRTP only) to our RTP/AVP offer without crypto";

/// (policy, role, transport) → expected prefix of the rendered outcome for
/// each peer behaviour, in the order of [`PEERS`]:
/// SAVP+crypto, AVP+crypto, AVP no crypto, SAVP no crypto, only unknown
/// suites, bad key length, unknown mandatory parameter, several crypto
/// lines, tag not offered (as offerer) / unusual tag (as answerer), the same
/// in RTP/AVP.
fn table() -> Vec<(OfferPolicy, Role, Vec<Transport>, [&'static str; 10])> {
    vec![
        // ---- Disabled: plain RTP everywhere; SRTP-only offers get 488; crypto
        // in an RTP/AVP answer to our plain offer is ignored (with a warning),
        // an RTP/SAVP answer to it ends the call.
        (D, ANS, vec![TLS, UDP, UDPOK], [
            SRTP_DISABLED_488,
            PLAIN_DISABLED,
            PLAIN_DISABLED,
            SRTP_DISABLED_488,
            SRTP_DISABLED_488,
            PLAIN_DISABLED,
            PLAIN_DISABLED,
            SRTP_DISABLED_488,
            SRTP_DISABLED_488,
            PLAIN_DISABLED,
        ]),
        (D, OFF, vec![TLS, UDP, UDPOK], [
            SAVP_TO_PLAIN_OFFER,
            PLAIN_DISABLED,
            PLAIN_DISABLED,
            NO_CRYPTO_SAVP,
            SAVP_TO_PLAIN_OFFER,
            SAVP_TO_PLAIN_OFFER,
            SAVP_TO_PLAIN_OFFER,
            SAVP_TO_PLAIN_OFFER,
            SAVP_TO_PLAIN_OFFER,
            PLAIN_DISABLED,
        ]),
        // ---- Optional with keys allowed to travel (TLS, or UDP with permission).
        (O, ANS, vec![TLS, UDPOK], [
            "srtp: SRTP AES_CM_128_HMAC_SHA1_80, tag 1",
            "srtp: SRTP AES_CM_128_HMAC_SHA1_80, tag 1",
            "plain: plain RTP: peer offered no crypto",
            "488: the offer is SRTP-only (RTP/SAVP) but has no a=crypto line",
            "488: the offer is SRTP-only (RTP/SAVP) but has no acceptable a=crypto line (tag 1: crypto suite AEAD_AES_256_GCM_8 is not supported; tag 2: crypto suite F8_128_HMAC_SHA1_80 is not supported)",
            "plain: plain RTP: peer offered no acceptable crypto",
            "plain: plain RTP: peer offered no acceptable crypto",
            "srtp: SRTP AES_CM_128_HMAC_SHA1_80, tag 3",
            "srtp: SRTP AES_256_CM_HMAC_SHA1_32, tag 7",
            "srtp: SRTP AES_256_CM_HMAC_SHA1_32, tag 7",
        ]),
        // As offerer, an answer picking a tag or suite we did not offer falls
        // back to plain RTP when it is RTP/AVP; RTP/SAVP leaves no fallback.
        (O, OFF, vec![TLS, UDPOK], [
            "srtp: SRTP AEAD_AES_256_GCM, tag 1",
            "srtp: SRTP AEAD_AES_256_GCM, tag 1",
            "plain: unencrypted: peer has no SRTP",
            NO_CRYPTO_SAVP,
            "end: invalid answer: answered crypto tag 1 names suite AEAD_AES_256_GCM_8 but was offered with AEAD_AES_256_GCM",
            "end: invalid answer: the answer's a=crypto line cannot be used: tag 1: AEAD_AES_256_GCM needs 44 bytes of inline key and salt, the line has 30",
            "end: invalid answer: the answer's a=crypto line cannot be used: tag 1: unknown mandatory session parameter \"FOO_BAR=1\"",
            EXACTLY_ONE,
            "end: invalid answer: answered crypto tag 9 (AES_CM_128_HMAC_SHA1_80) was not offered",
            "plain: plain RTP: answered crypto tag 9 (AES_CM_128_HMAC_SHA1_80) was not offered",
        ]),
        // ---- Optional over UDP without permission: keys never go into the SDP.
        (O, ANS, vec![UDP], [
            NOT_OVER_UDP_488,
            PLAIN_NOT_OVER_UDP,
            "plain: plain RTP: peer offered no crypto",
            "488: the offer is SRTP-only (RTP/SAVP) but has no a=crypto line",
            NOT_OVER_UDP_488,
            PLAIN_NOT_OVER_UDP,
            PLAIN_NOT_OVER_UDP,
            NOT_OVER_UDP_488,
            NOT_OVER_UDP_488,
            PLAIN_NOT_OVER_UDP,
        ]),
        (O, OFF, vec![UDP], [
            SAVP_TO_PLAIN_OFFER,
            PLAIN_NOT_OVER_UDP,
            PLAIN_NOT_OVER_UDP,
            NO_CRYPTO_SAVP,
            SAVP_TO_PLAIN_OFFER,
            SAVP_TO_PLAIN_OFFER,
            SAVP_TO_PLAIN_OFFER,
            SAVP_TO_PLAIN_OFFER,
            SAVP_TO_PLAIN_OFFER,
            PLAIN_NOT_OVER_UDP,
        ]),
        // ---- Standard: SRTP or nothing.
        (S, ANS, vec![TLS, UDPOK], [
            "srtp: SRTP AES_CM_128_HMAC_SHA1_80, tag 1",
            "srtp: SRTP AES_CM_128_HMAC_SHA1_80, tag 1",
            "488: SRTP required: the offer has no a=crypto line",
            "488: SRTP required: the offer has no a=crypto line",
            "488: SRTP required: no acceptable a=crypto line (tag 1: crypto suite AEAD_AES_256_GCM_8 is not supported; tag 2: crypto suite F8_128_HMAC_SHA1_80 is not supported)",
            "488: SRTP required: no acceptable a=crypto line (tag 1: AES_CM_128_HMAC_SHA1_80 needs 30 bytes of inline key and salt, the line has 46)",
            "488: SRTP required: no acceptable a=crypto line (tag 1: unknown mandatory session parameter \"FOO_BAR=1\")",
            "srtp: SRTP AES_CM_128_HMAC_SHA1_80, tag 3",
            "srtp: SRTP AES_256_CM_HMAC_SHA1_32, tag 7",
            "srtp: SRTP AES_256_CM_HMAC_SHA1_32, tag 7",
        ]),
        // An answer picking a tag or suite we did not offer is "SRTP required".
        (S, OFF, vec![TLS, UDPOK], [
            "srtp: SRTP AEAD_AES_256_GCM, tag 1",
            "srtp: SRTP AEAD_AES_256_GCM, tag 1",
            "end: SRTP required: the answer has no a=crypto line",
            "end: SRTP required: the answer is RTP/SAVP without an a=crypto line",
            "end: SRTP required: answered crypto tag 1 names suite AEAD_AES_256_GCM_8 but was offered with AEAD_AES_256_GCM",
            "end: SRTP required: the answer's a=crypto line cannot be used: tag 1: AEAD_AES_256_GCM needs 44 bytes of inline key and salt, the line has 30",
            "end: SRTP required: the answer's a=crypto line cannot be used: tag 1: unknown mandatory session parameter \"FOO_BAR=1\"",
            EXACTLY_ONE,
            "end: SRTP required: answered crypto tag 9 (AES_CM_128_HMAC_SHA1_80) was not offered",
            "end: SRTP required: answered crypto tag 9 (AES_CM_128_HMAC_SHA1_80) was not offered",
        ]),
        // ---- Standard over UDP without permission: a set-up error, whatever the peer does.
        (S, ANS, vec![UDP], [STANDARD_UDP; 10]),
        (S, OFF, vec![UDP], [STANDARD_UDP; 10]),
    ]
}

#[test]
fn the_whole_matrix() {
    let mut cells = 0;
    let mut failures = Vec::new();
    for (policy, role, transports, expected) in table() {
        for transport in transports {
            for (peer, want) in PEERS.iter().zip(expected) {
                cells += 1;
                let got = run(policy, role, *peer, transport);
                if !got.starts_with(want) {
                    failures.push(format!(
                        "{policy:?} {role:?} {transport:?} {peer:?}:\n   want {want}\n    got {got}"
                    ));
                }
            }
        }
    }
    // 3 policies × 2 roles × 3 transports × 10 peer behaviours.
    assert_eq!(cells, 180);
    assert!(
        failures.is_empty(),
        "{} cells differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn standard_over_insecure_signaling_is_a_setup_error() {
    for transport in [SignalingTransport::Udp, SignalingTransport::Tcp] {
        let err = Negotiator::new(SrtpConfig::new(OfferPolicy::Standard, transport)).unwrap_err();
        assert_eq!(err, ConfigError::StandardNeedsSecureSignaling { transport });
    }
    assert!(Negotiator::new(SrtpConfig::new(
        OfferPolicy::Optional,
        SignalingTransport::Tcp
    ))
    .is_ok());
}

#[test]
fn optional_over_udp_says_why_the_offer_is_plain() {
    let mut us = Negotiator::new(SrtpConfig::new(
        OfferPolicy::Optional,
        SignalingTransport::Udp,
    ))
    .unwrap();
    let mut offer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
    let info = us.create_offer(&mut offer).unwrap();
    assert!(!info.srtp_offered);
    assert_eq!(
        info.to_string(),
        "offer RTP/AVP: plain RTP: SDES keys are not sent over udp signaling (insecure signaling not allowed)"
    );
}

#[test]
fn skipped_lines_are_recorded_with_reasons() {
    let mut us = Negotiator::new(SrtpConfig::new(
        OfferPolicy::Optional,
        SignalingTransport::Tls,
    ))
    .unwrap();
    let offer = peer_offer(Peer::SeveralCryptoLines);
    let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
    let n = us.answer_offer(&offer, &mut answer).unwrap();
    let skipped: Vec<String> = n.media[0].skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        skipped,
        ["tag 1: crypto suite F8_128_HMAC_SHA1_80 is not supported"],
        "tag 2 (_32) is usable but not chosen, so not skipped"
    );
}
