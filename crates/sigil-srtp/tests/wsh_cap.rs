//! A peer's `WSH=` replay window hint (RFC 4568 §6.3.6) is capped at
//! `MAX_PEER_REPLAY_WINDOW` when it keys a session, with a warning that says
//! why; the parser still accepts the larger values the RFC grammar allows.

use std::sync::{Mutex, OnceLock};

use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, MediaOutcome, Negotiator, OfferPolicy, SignalingTransport,
    SrtpConfig,
};
use sigil_srtp::sdes::{CryptoAttribute, MAX_PEER_REPLAY_WINDOW, MAX_WSH};
use sigil_srtp::{Policy, Session, SrtpError, Suite};

/// Key‖salt from RFC 4568 §3 (30 bytes).
const RFC_KEY_1: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

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

/// Log lines (of any test in this binary) that mention `needle`.
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

fn line(tag: u32, wsh: u32) -> String {
    format!("{tag} AES_CM_128_HMAC_SHA1_80 inline:{RFC_KEY_1} WSH={wsh}")
}

#[test]
fn the_cap_is_a_device_sized_constant() {
    assert_eq!(MAX_PEER_REPLAY_WINDOW, 1024);
    assert!(MAX_PEER_REPLAY_WINDOW < MAX_WSH as usize);
}

#[test]
fn large_hints_parse_but_key_a_capped_window_with_a_warning() {
    logs();
    for (tag, wsh, window) in [
        (11, 32768, 1024),
        (12, 4096, 1024),
        (13, 1025, 1024),
        (14, 1024, 1024),
        (15, 512, 512),
        (16, 64, 128),
    ] {
        let attr = CryptoAttribute::parse(&line(tag, wsh)).unwrap();
        let params = attr.check().unwrap();
        assert_eq!(params.wsh, Some(wsh), "the hint itself is kept as written");
        let policy = params.policy().unwrap();
        assert_eq!(policy.replay_window(), window, "WSH={wsh}");
        let warnings = logged(&format!("a=crypto tag {tag} "));
        if wsh as usize > MAX_PEER_REPLAY_WINDOW {
            assert!(!warnings.is_empty(), "WSH={wsh}: no warning");
            let warning = &warnings[0];
            assert!(warning.starts_with("WARN "), "{warning}");
            assert!(warning.contains(&format!("WSH={wsh}")), "{warning}");
            assert!(warning.contains("capped to 1024 packets"), "{warning}");
            assert!(warning.contains("512 bytes per stream"), "{warning}");
            assert!(!warning.contains(RFC_KEY_1), "{warning}");
        } else {
            assert!(warnings.is_empty(), "WSH={wsh}: {warnings:?}");
        }
    }
    // 32768 packets would take 8 KiB per window, two windows per stream.
    assert!(logged("a=crypto tag 11 ")[0].contains("instead of 16384"));
}

#[test]
fn the_receiving_session_enforces_the_capped_window() {
    let params = CryptoAttribute::parse(&line(1, 32768))
        .unwrap()
        .check()
        .unwrap();
    let mut rx = Session::inbound(params.policy().unwrap()).unwrap();
    let mut tx = Session::outbound(
        Policy::new(Suite::AesCm128HmacSha1_80, params.keys[0].clone()).with_replay_window(32768),
    )
    .unwrap();
    let packet = |seq: u16| {
        let mut p = vec![0x80, 0, 0, 0, 0, 0, 0, 0, 0xde, 0xca, 0xfb, 0xad];
        p[2..4].copy_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&[0x55; 20]);
        p
    };
    let mut sent = Vec::new();
    for seq in [3000u16, 1500, 2000] {
        let mut p = packet(seq);
        tx.protect_rtp(&mut p).unwrap();
        sent.push(p);
    }
    rx.unprotect_rtp(&mut sent[0]).unwrap();
    // 1500 behind the highest: inside what the peer asked for, outside the cap.
    assert!(matches!(
        rx.unprotect_rtp(&mut sent[1]),
        Err(SrtpError::TooOld { .. })
    ));
    // 1000 behind: inside the capped window.
    rx.unprotect_rtp(&mut sent[2]).unwrap();
}

#[test]
fn a_negotiated_call_receives_with_the_capped_window() {
    logs();
    let offer = format!(
        "v=0\r\no=- 1 1 IN IP4 192.0.2.7\r\ns=-\r\nc=IN IP4 192.0.2.7\r\nt=0 0\r\n\
         m=audio 6000 RTP/SAVP 0\r\na=crypto:{}\r\n",
        line(21, 32768)
    );
    let offer = parse_sdp(offer.as_bytes()).unwrap();
    let mut us = Negotiator::new(SrtpConfig::new(
        OfferPolicy::Standard,
        SignalingTransport::Tls,
    ))
    .unwrap();
    let mut answer = basic_audio_sdp("192.0.2.1".parse().unwrap(), 5000, 1);
    let negotiation = us.answer_offer(&offer, &mut answer).unwrap();
    let MediaOutcome::Srtp(agreement) = &negotiation.media[0].outcome else {
        panic!("{:?}", negotiation.media[0].outcome);
    };
    assert_eq!(agreement.remote.wsh, Some(32768));
    let rx = agreement.receive_session().unwrap();
    assert!(format!("{rx:?}").contains("replay_window: 1024"), "{rx:?}");
    assert!(!logged("a=crypto tag 21 ").is_empty());
}
