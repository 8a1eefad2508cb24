//! Offers shaped like those real SIP stacks send, answered under each policy.
//!
//! The shapes are written from the projects' documented behaviour (their
//! configuration guides and the RFC 4568 / RFC 8643 forms they implement),
//! not copied from captures; keys are made up here. What matters for the
//! negotiator is the profile, the number and order of m-lines, the tags and
//! suites, and the key lengths.

use base64::Engine as _;
use sigil_srtp::negotiate::{
    parse_sdp, write_sdp, MediaOutcome, Negotiator, OfferPolicy, Sdp, SignalingTransport,
    SrtpConfig,
};

fn key(len: usize, seed: u8) -> String {
    let bytes: Vec<u8> = (0..len)
        .map(|i| {
            seed.wrapping_mul(31)
                .wrapping_add((i as u8).wrapping_mul(7))
        })
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn head(origin: &str, addr: &str) -> String {
    format!("v=0\r\no={origin} IN IP4 {addr}\r\ns=-\r\nc=IN IP4 {addr}\r\nt=0 0\r\n")
}

fn crypto_lines(suites: &[(&str, usize)]) -> String {
    suites
        .iter()
        .enumerate()
        .map(|(i, (suite, len))| {
            format!(
                "a=crypto:{} {suite} inline:{}\r\n",
                i + 1,
                key(*len, i as u8 + 1)
            )
        })
        .collect()
}

/// Asterisk (chan_pjsip) `media_encryption=sdes`: RTP/SAVP with one
/// AES_CM_128_HMAC_SHA1_80 line (the `srtp_tag_32` option would make it _32).
fn asterisk_sdes(profile: &str) -> String {
    let mut s = head("- 1780001 1780001", "203.0.113.10");
    s += &format!("m=audio 14000 {profile} 0 8 101\r\n");
    s += "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\n";
    s += "a=ptime:20\r\na=maxptime:150\r\na=sendrecv\r\n";
    s += &crypto_lines(&[("AES_CM_128_HMAC_SHA1_80", 30)]);
    s
}

/// baresip `mediaenc=srtp` (RTP/AVP, opportunistic) or `srtp-mand` (RTP/SAVP):
/// one line per suite its SRTP module knows, the AES-GCM ones included.
fn baresip(profile: &str) -> String {
    let mut s = head("- 2890 2890", "198.51.100.20");
    s += &format!("m=audio 10000 {profile} 0 8 101\r\n");
    s += "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    s += "a=sendrecv\r\na=label:1\r\na=rtcp-rsize\r\na=ssrc:3141592653 cname:baresip\r\n";
    s += &crypto_lines(&[
        ("AES_CM_128_HMAC_SHA1_32", 30),
        ("AES_CM_128_HMAC_SHA1_80", 30),
        ("AES_256_CM_HMAC_SHA1_32", 46),
        ("AES_256_CM_HMAC_SHA1_80", 46),
        ("AEAD_AES_128_GCM", 28),
        ("AEAD_AES_256_GCM", 44),
    ]);
    s
}

/// FreeSWITCH `rtp_secure_media=optional`: the stream twice on the same
/// port — first RTP/SAVP with its crypto lines (AES-GCM, AES-192 and NULL
/// auth among them), then RTP/AVP without crypto as the fallback.
fn freeswitch_optional() -> String {
    let mut s = head("FreeSWITCH 1700000 1700001", "192.0.2.30");
    s += "m=audio 16384 RTP/SAVP 0 101\r\n";
    s += "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\n";
    s += &crypto_lines(&[
        ("AEAD_AES_256_GCM_8", 44),
        ("AEAD_AES_128_GCM_8", 28),
        ("AES_256_CM_HMAC_SHA1_80", 46),
        ("AES_192_CM_HMAC_SHA1_80", 38),
        ("AES_CM_128_HMAC_SHA1_80", 30),
        ("AES_256_CM_HMAC_SHA1_32", 46),
        ("AES_192_CM_HMAC_SHA1_32", 38),
        ("AES_CM_128_HMAC_SHA1_32", 30),
        ("AES_CM_128_NULL_AUTH", 30),
    ]);
    s += "a=sendrecv\r\n";
    s += "m=audio 16384 RTP/AVP 0 101\r\n";
    s += "a=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";
    s
}

/// pjsip `use_srtp` optional (1: RTP/AVP) or mandatory (2: RTP/SAVP): its
/// crypto suites in its default order, AES-GCM first.
fn pjsip(profile: &str) -> String {
    let mut s = head("- 3912345678 3912345678", "198.51.100.40");
    s += &format!("m=audio 4000 {profile} 96 9 8 0 101\r\n");
    s += "c=IN IP4 198.51.100.40\r\na=rtcp:4001 IN IP4 198.51.100.40\r\na=sendrecv\r\n";
    s += "a=rtpmap:96 opus/48000/2\r\na=rtpmap:9 G722/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:101 telephone-event/8000\r\n";
    s += &crypto_lines(&[
        ("AEAD_AES_256_GCM", 44),
        ("AEAD_AES_128_GCM", 28),
        ("AES_256_CM_HMAC_SHA1_80", 46),
        ("AES_256_CM_HMAC_SHA1_32", 46),
        ("AES_CM_128_HMAC_SHA1_80", 30),
        ("AES_CM_128_HMAC_SHA1_32", 30),
    ]);
    s
}

/// A plain desk phone: RTP/AVP, no crypto.
fn plain_phone() -> String {
    let mut s = head("- 20518 0", "192.0.2.50");
    s += "m=audio 11780 RTP/AVP 0 8 18 101\r\n";
    s += "a=rtpmap:0 PCMU/8000\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:18 G729/8000\r\na=fmtp:18 annexb=no\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-15\r\na=ptime:20\r\na=sendrecv\r\n";
    s
}

/// Our answer template: one PCMU m-line per offered m-line.
fn template(offer: &Sdp) -> Sdp {
    let mut answer = sigil_srtp::negotiate::basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 9);
    let line = answer.medias[0].clone();
    answer.medias = offer.medias.iter().map(|_| line.clone()).collect();
    answer
}

/// Answers `offer_text` under `policy` (TLS signaling) and renders the
/// outcome; also checks the answer SDP against the outcome.
fn answer(policy: OfferPolicy, offer_text: &str) -> String {
    let offer = parse_sdp(offer_text.as_bytes()).expect("peer offer parses");
    let mut us = Negotiator::new(SrtpConfig::new(policy, SignalingTransport::Tls)).unwrap();
    let mut ans = template(&offer);
    match us.answer_offer(&offer, &mut ans) {
        Err(r) => format!("{}: {}", r.code, r.reason),
        Ok(n) => {
            // Round trip the answer through text, as it would travel.
            let ans = parse_sdp(write_sdp(&ans).as_bytes()).unwrap();
            for (i, result) in n.media.iter().enumerate() {
                let m = &ans.medias[i];
                let cryptos: Vec<&str> = m
                    .attributes
                    .iter()
                    .filter(|a| a.attribute == "crypto")
                    .filter_map(|a| a.value.as_deref())
                    .collect();
                match &result.outcome {
                    MediaOutcome::Srtp(a) => {
                        assert_eq!(
                            m.proto, offer.medias[i].proto,
                            "answer in the offer's profile"
                        );
                        assert_eq!(cryptos.len(), 1);
                        assert!(cryptos[0].starts_with(&format!("{} {} inline:", a.tag, a.suite)));
                        a.sessions().expect("contexts");
                    }
                    MediaOutcome::Plain(_) => {
                        assert_eq!(m.proto, offer.medias[i].proto);
                        assert!(cryptos.is_empty());
                        assert_ne!(m.port, 0);
                    }
                    MediaOutcome::Dtls(a) => panic!("keying is sdes, yet {}", a.summary()),
                    MediaOutcome::Declined(_) => {
                        assert_eq!(m.port, 0, "declined m-line has port 0")
                    }
                    MediaOutcome::NotAudio => {}
                }
            }
            n.summary()
        }
    }
}

#[test]
fn real_stack_offers_under_each_policy() {
    use OfferPolicy::{Disabled as D, Optional as O, Standard as S};
    let srtp_disabled = "488: SRTP is disabled here but the offer is SRTP-only (RTP/SAVP)";
    let plain_disabled = "plain RTP: SRTP is disabled here";
    let cases: Vec<(&str, String, [&str; 3])> = vec![
        (
            "Asterisk media_encryption=sdes",
            asterisk_sdes("RTP/SAVP"),
            [
                srtp_disabled,
                "SRTP AES_CM_128_HMAC_SHA1_80, tag 1",
                "SRTP AES_CM_128_HMAC_SHA1_80, tag 1",
            ],
        ),
        (
            "Asterisk optimistic",
            asterisk_sdes("RTP/AVP"),
            [
                plain_disabled,
                "SRTP AES_CM_128_HMAC_SHA1_80, tag 1",
                "SRTP AES_CM_128_HMAC_SHA1_80, tag 1",
            ],
        ),
        (
            "baresip mediaenc=srtp",
            baresip("RTP/AVP"),
            [
                plain_disabled,
                "SRTP AEAD_AES_256_GCM, tag 6",
                "SRTP AEAD_AES_256_GCM, tag 6",
            ],
        ),
        (
            "baresip mediaenc=srtp-mand",
            baresip("RTP/SAVP"),
            [
                srtp_disabled,
                "SRTP AEAD_AES_256_GCM, tag 6",
                "SRTP AEAD_AES_256_GCM, tag 6",
            ],
        ),
        (
            "FreeSWITCH optional (SAVP + AVP m-lines)",
            freeswitch_optional(),
            [
                plain_disabled,
                "SRTP AES_256_CM_HMAC_SHA1_80, tag 3",
                "SRTP AES_256_CM_HMAC_SHA1_80, tag 3",
            ],
        ),
        (
            "pjsip use_srtp optional",
            pjsip("RTP/AVP"),
            [
                plain_disabled,
                "SRTP AEAD_AES_256_GCM, tag 1",
                "SRTP AEAD_AES_256_GCM, tag 1",
            ],
        ),
        (
            "pjsip use_srtp mandatory",
            pjsip("RTP/SAVP"),
            [
                srtp_disabled,
                "SRTP AEAD_AES_256_GCM, tag 1",
                "SRTP AEAD_AES_256_GCM, tag 1",
            ],
        ),
        (
            "plain phone",
            plain_phone(),
            [
                plain_disabled,
                "plain RTP: peer offered no crypto",
                "488: SRTP required: the offer has no a=crypto line",
            ],
        ),
    ];
    let mut failures = Vec::new();
    for (name, offer, expected) in &cases {
        for (policy, want) in [D, O, S].into_iter().zip(expected) {
            let got = answer(policy, offer);
            if got != *want {
                failures.push(format!("{name} / {policy}: want {want:?}, got {got:?}"));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn freeswitch_two_m_lines_keep_one_stream() {
    let offer = parse_sdp(freeswitch_optional().as_bytes()).unwrap();
    for (policy, kept, declined) in [
        (OfferPolicy::Optional, 0, 1),
        (OfferPolicy::Standard, 0, 1),
        (OfferPolicy::Disabled, 1, 0),
    ] {
        let mut us = Negotiator::new(SrtpConfig::new(policy, SignalingTransport::Tls)).unwrap();
        let mut ans = template(&offer);
        let n = us.answer_offer(&offer, &mut ans).unwrap();
        assert_ne!(ans.medias[kept].port, 0, "{policy}");
        assert_eq!(ans.medias[declined].port, 0, "{policy}");
        assert!(
            matches!(n.media[declined].outcome, MediaOutcome::Declined(_)),
            "{policy}: {:?}",
            n.media[declined].outcome
        );
    }
}

#[test]
fn unknown_suites_of_real_stacks_are_skipped_with_reasons() {
    let offer = parse_sdp(freeswitch_optional().as_bytes()).unwrap();
    let mut us = Negotiator::new(
        SrtpConfig::new(OfferPolicy::Optional, SignalingTransport::Tls)
            .with_suites(vec![sigil_srtp::Suite::AesCm128HmacSha1_32]),
    )
    .unwrap();
    let mut ans = template(&offer);
    let n = us.answer_offer(&offer, &mut ans).unwrap();
    assert_eq!(n.summary(), "SRTP AES_CM_128_HMAC_SHA1_32, tag 8");
    let reasons: Vec<String> = n.media[0].skipped.iter().map(ToString::to_string).collect();
    assert_eq!(
        reasons,
        [
            "tag 1: crypto suite AEAD_AES_256_GCM_8 is not supported",
            "tag 2: crypto suite AEAD_AES_128_GCM_8 is not supported",
            "tag 3: suite AES_256_CM_HMAC_SHA1_80 is not enabled in sip.srtp.suites",
            "tag 4: crypto suite AES_192_CM_HMAC_SHA1_80 is not supported",
            "tag 5: suite AES_CM_128_HMAC_SHA1_80 is not enabled in sip.srtp.suites",
            "tag 6: suite AES_256_CM_HMAC_SHA1_32 is not enabled in sip.srtp.suites",
            "tag 7: crypto suite AES_192_CM_HMAC_SHA1_32 is not supported",
            "tag 9: crypto suite AES_CM_128_NULL_AUTH is not supported",
        ]
    );
}

#[test]
fn our_offers_have_the_documented_shapes() {
    for (policy, transport, allow, profile, cryptos) in [
        (
            OfferPolicy::Disabled,
            SignalingTransport::Tls,
            false,
            "RTP/AVP",
            0,
        ),
        (
            OfferPolicy::Optional,
            SignalingTransport::Tls,
            false,
            "RTP/AVP",
            6,
        ),
        (
            OfferPolicy::Optional,
            SignalingTransport::Udp,
            false,
            "RTP/AVP",
            0,
        ),
        (
            OfferPolicy::Optional,
            SignalingTransport::Udp,
            true,
            "RTP/AVP",
            6,
        ),
        (
            OfferPolicy::Standard,
            SignalingTransport::Tls,
            false,
            "RTP/SAVP",
            6,
        ),
        (
            OfferPolicy::Standard,
            SignalingTransport::Tcp,
            true,
            "RTP/SAVP",
            6,
        ),
    ] {
        let mut us =
            Negotiator::new(SrtpConfig::new(policy, transport).with_insecure_signaling(allow))
                .unwrap();
        let mut offer =
            sigil_srtp::negotiate::basic_audio_sdp("192.0.2.1".parse().unwrap(), 4000, 1);
        us.create_offer(&mut offer).unwrap();
        let text = write_sdp(&offer);
        assert!(
            text.contains(&format!("m=audio 4000 {profile} 0\r\n")),
            "{policy} {transport}"
        );
        assert_eq!(
            text.matches("a=crypto:").count(),
            cryptos,
            "{policy} {transport}"
        );
        for (i, suite) in sigil_srtp::Suite::ALL.iter().enumerate().take(cryptos) {
            assert!(text.contains(&format!("a=crypto:{} {} inline:", i + 1, suite)));
        }
    }
}
