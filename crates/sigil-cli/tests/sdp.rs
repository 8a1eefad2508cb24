//! `sigil sdp offer` / `sigil sdp answer` / `sigil sdp accept`: output
//! streams and exit codes.

mod common;

use common::{sigil_with_stdin, stderr, stdout};

fn offer(args: &[&str]) -> (i32, String, String) {
    let mut all = vec!["sdp", "offer"];
    all.extend_from_slice(args);
    let out = sigil_with_stdin(&all, "");
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

fn answer(args: &[&str], offer: &str) -> (i32, String, String) {
    let mut all = vec!["sdp", "answer"];
    all.extend_from_slice(args);
    let out = sigil_with_stdin(&all, offer);
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

#[test]
fn offers_follow_the_policy() {
    let (code, sdp, note) = offer(&["--policy", "optional"]);
    assert_eq!(code, 0, "{note}");
    assert!(sdp.starts_with("v=0\r\n"));
    assert!(sdp.contains("m=audio 4000 RTP/AVP 0\r\n"), "{sdp}");
    assert!(sdp.contains("a=rtpmap:0 PCMU/8000\r\n"));
    assert_eq!(sdp.matches("a=crypto:").count(), 6);

    let (code, sdp, _) = offer(&["--policy", "standard", "--transport", "tls"]);
    assert_eq!(code, 0);
    assert!(sdp.contains("m=audio 4000 RTP/SAVP 0\r\n"));
    assert_eq!(sdp.matches("a=crypto:").count(), 6);

    let (code, sdp, note) = offer(&["--policy", "disabled"]);
    assert_eq!(code, 0);
    assert!(sdp.contains("RTP/AVP") && !sdp.contains("a=crypto"));
    assert!(note.contains("SRTP is disabled"), "{note}");

    let (code, sdp, _) = offer(&[
        "--policy",
        "optional",
        "--suites",
        "AES_CM_128_HMAC_SHA1_32,AES_CM_128_HMAC_SHA1_80",
    ]);
    assert_eq!(code, 0);
    assert!(sdp.contains("a=crypto:1 AES_CM_128_HMAC_SHA1_32 inline:"));
    assert!(sdp.contains("a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:"));
    assert_eq!(sdp.matches("a=crypto:").count(), 2);
}

#[test]
fn keys_stay_off_insecure_signaling_unless_allowed() {
    let (code, sdp, note) = offer(&["--policy", "optional", "--transport", "udp"]);
    assert_eq!(code, 0);
    assert!(!sdp.contains("a=crypto"), "{sdp}");
    assert!(note.contains("not sent over udp signaling"), "{note}");

    let (code, sdp, _) = offer(&[
        "--policy",
        "optional",
        "--transport",
        "tcp",
        "--allow-insecure-signaling",
    ]);
    assert_eq!(code, 0);
    assert!(sdp.contains("a=crypto:1 "));

    let (code, sdp, err) = offer(&["--policy", "standard", "--transport", "udp"]);
    assert_eq!(code, 1);
    assert!(sdp.is_empty());
    assert!(err.contains("standard but SIP signaling is udp"), "{err}");

    let (code, sdp, _) = offer(&[
        "--policy",
        "standard",
        "--transport",
        "udp",
        "--allow-insecure-signaling",
    ]);
    assert_eq!(code, 0);
    assert!(sdp.contains("RTP/SAVP") && sdp.contains("a=crypto:1 "));
}

#[test]
fn answer_to_our_own_offer() {
    let (_, offer_sdp, _) = offer(&["--policy", "optional"]);
    let (code, sdp, summary) = answer(&["--policy", "standard"], &offer_sdp);
    assert_eq!(code, 0, "{summary}");
    assert!(
        sdp.contains("m=audio 4002 RTP/AVP 0\r\n"),
        "answer in the offer's profile: {sdp}"
    );
    assert_eq!(sdp.matches("a=crypto:").count(), 1);
    assert!(sdp.contains("a=crypto:1 AEAD_AES_256_GCM inline:"));
    assert_eq!(summary, "SRTP AEAD_AES_256_GCM, tag 1\n");
    // A fresh key, not the offered one.
    let offered = offer_sdp
        .lines()
        .find(|l| l.starts_with("a=crypto:1 "))
        .unwrap();
    assert!(!sdp.contains(offered));
}

#[test]
fn plain_answers_and_rejections() {
    let phone = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 7000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";
    let (code, sdp, summary) = answer(&["--policy", "optional"], phone);
    assert_eq!(code, 0);
    assert!(sdp.contains("RTP/AVP") && !sdp.contains("a=crypto"));
    assert_eq!(summary, "plain RTP: peer offered no crypto\n");

    let (code, out, _) = answer(&["--policy", "standard"], phone);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "reject 488: SRTP required: the offer has no a=crypto line\n"
    );

    let (_, savp, _) = offer(&["--policy", "standard"]);
    let (code, out, _) = answer(&["--policy", "disabled"], &savp);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "reject 488: SRTP is disabled here but the offer is SRTP-only (RTP/SAVP)\n"
    );

    // Optional over UDP without permission answers AVP+crypto plainly and declines SAVP.
    let (_, avp, _) = offer(&["--policy", "optional"]);
    let (code, sdp, summary) = answer(&["--policy", "optional", "--transport", "udp"], &avp);
    assert_eq!(code, 0);
    assert!(!sdp.contains("a=crypto"));
    assert!(summary.contains("not sent over udp signaling"), "{summary}");
    let (code, out, _) = answer(&["--policy", "optional", "--transport", "udp"], &savp);
    assert_eq!(code, 2);
    assert!(out.starts_with("reject 488: "), "{out}");
}

#[test]
fn invalid_sdp_exits_1_with_the_parse_error() {
    let (code, out, err) = answer(&["--policy", "optional"], "this is not SDP\n");
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(err.contains("invalid SDP"), "{err}");
    let (code, _, err) = answer(&["--policy", "optional"], "");
    assert_eq!(code, 1, "{err}");
}

/// `sigil sdp accept args… --offer <file holding offer_sdp>` with `answer_sdp` on stdin.
fn accept(args: &[&str], offer_sdp: &str, answer_sdp: &str) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("offer.sdp");
    std::fs::write(&path, offer_sdp).unwrap();
    let path = path.to_str().unwrap().to_owned();
    let mut all = vec!["sdp", "accept"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--offer", &path]);
    let out = sigil_with_stdin(&all, answer_sdp);
    (out.status.code().unwrap_or(-1), stdout(&out), stderr(&out))
}

/// A phone's answer: one audio m-line in `profile` with these crypto lines.
fn phone_answer(profile: &str, cryptos: &[&str]) -> String {
    let mut s = format!(
        "v=0\r\no=- 7 7 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
         m=audio 7000 {profile} 0\r\na=rtpmap:0 PCMU/8000\r\n"
    );
    for c in cryptos {
        s.push_str(&format!("a=crypto:{c}\r\n"));
    }
    s
}

/// 30 bytes of key and salt (AES_CM_128 suites), made up.
const K30: &str = "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR";

#[test]
fn accept_reports_srtp_with_suite_and_tag() {
    for (offer_policy, answer_policy, suites, want) in [
        (
            "optional",
            "optional",
            None,
            "srtp AEAD_AES_256_GCM tag 1\n",
        ),
        (
            "standard",
            "standard",
            None,
            "srtp AEAD_AES_256_GCM tag 1\n",
        ),
        (
            "standard",
            "optional",
            Some("AES_CM_128_HMAC_SHA1_32,AES_CM_128_HMAC_SHA1_80"),
            // The answerer picks by its own preference (AES_CM_128_HMAC_SHA1_80 before _32).
            "srtp AES_CM_128_HMAC_SHA1_80 tag 2\n",
        ),
    ] {
        let mut settings = vec!["--policy", offer_policy];
        if let Some(list) = suites {
            settings.extend_from_slice(&["--suites", list]);
        }
        let (code, offer_sdp, _) = offer(&settings);
        assert_eq!(code, 0);
        let (code, answer_sdp, _) = answer(&["--policy", answer_policy], &offer_sdp);
        assert_eq!(code, 0);
        let (code, out, err) = accept(&settings, &offer_sdp, &answer_sdp);
        assert_eq!((code, out.as_str()), (0, want), "{err}");
    }
}

#[test]
fn accept_reports_plain_rtp_with_the_reason() {
    let (_, optional, _) = offer(&["--policy", "optional"]);
    // A phone without SRTP.
    let (code, out, err) = accept(
        &["--policy", "optional"],
        &optional,
        &phone_answer("RTP/AVP", &[]),
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "plain: peer has no SRTP\n"),
        "{err}"
    );
    // Our plain offer (Disabled), answered plainly.
    let (_, disabled, _) = offer(&["--policy", "disabled"]);
    let (code, out, _) = accept(
        &["--policy", "disabled"],
        &disabled,
        &phone_answer("RTP/AVP", &[]),
    );
    assert_eq!((code, out.as_str()), (0, "plain: SRTP is disabled here\n"));
}

#[test]
fn accept_ignores_crypto_in_an_answer_to_an_offer_without_any() {
    // Issue 11 item 3a: the offer had no crypto (Disabled; Optional over UDP).
    let crypto = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K30}");
    for (settings, want) in [
        (
            vec!["--policy", "disabled"],
            "plain: SRTP is disabled here\n",
        ),
        (
            vec!["--policy", "optional", "--transport", "udp"],
            "plain: SDES keys are not sent over udp signaling (insecure signaling not allowed)\n",
        ),
    ] {
        let (_, offer_sdp, _) = offer(&settings);
        assert!(!offer_sdp.contains("a=crypto"));
        let (code, out, err) = accept(&settings, &offer_sdp, &phone_answer("RTP/AVP", &[&crypto]));
        assert_eq!((code, out.as_str()), (0, want), "{err}");
        assert!(
            err.contains("ignoring 1 a=crypto line(s) in the answer"),
            "{err}"
        );
        assert!(!err.contains(K30), "no key on stderr: {err}");
    }
}

#[test]
fn accept_answers_picking_what_we_did_not_offer() {
    // Issue 11 item 3b. Our offers carry tags 1..=6 in `Suite::ALL` order:
    // AEAD_AES_256_GCM, AEAD_AES_128_GCM, AES_256_CM_HMAC_SHA1_80, ...
    let tag_9 = format!("9 AES_CM_128_HMAC_SHA1_80 inline:{K30}");
    let wrong_suite = format!("1 AES_CM_128_HMAC_SHA1_80 inline:{K30}");
    let (_, optional, _) = offer(&["--policy", "optional"]);
    let (code, out, err) = accept(
        &["--policy", "optional"],
        &optional,
        &phone_answer("RTP/AVP", &[&tag_9]),
    );
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "plain: answered crypto tag 9 (AES_CM_128_HMAC_SHA1_80) was not offered\n"
        ),
        "{err}"
    );
    let (code, out, _) = accept(
        &["--policy", "optional"],
        &optional,
        &phone_answer("RTP/AVP", &[&wrong_suite]),
    );
    assert_eq!(
        (code, out.as_str()),
        (0, "plain: answered crypto tag 1 names suite AES_CM_128_HMAC_SHA1_80 but was offered with AEAD_AES_256_GCM\n")
    );

    let (_, standard, _) = offer(&["--policy", "standard"]);
    let (code, out, _) = accept(
        &["--policy", "standard"],
        &standard,
        &phone_answer("RTP/SAVP", &[&tag_9]),
    );
    assert_eq!(
        (code, out.as_str()),
        (
            2,
            "srtp required: answered crypto tag 9 (AES_CM_128_HMAC_SHA1_80) was not offered\n"
        )
    );
    let (code, out, _) = accept(
        &["--policy", "standard"],
        &standard,
        &phone_answer("RTP/SAVP", &[&wrong_suite]),
    );
    assert_eq!(
        (code, out.as_str()),
        (2, "srtp required: answered crypto tag 1 names suite AES_CM_128_HMAC_SHA1_80 but was offered with AEAD_AES_256_GCM\n")
    );
    let (code, out, _) = accept(
        &["--policy", "standard"],
        &standard,
        &phone_answer("RTP/AVP", &[]),
    );
    assert_eq!(
        (code, out.as_str()),
        (2, "srtp required: the answer has no a=crypto line\n")
    );
}

#[test]
fn accept_refuses_invalid_sdp_and_foreign_offers_with_exit_1() {
    let (_, optional, _) = offer(&["--policy", "optional"]);
    // The answer is not SDP.
    let (code, out, err) = accept(&["--policy", "optional"], &optional, "this is not SDP\n");
    assert_eq!(code, 1);
    assert!(out.is_empty());
    assert!(
        err.contains("the answer on stdin is not usable: invalid SDP"),
        "{err}"
    );
    let (code, out, _) = accept(&["--policy", "optional"], &optional, "");
    assert_eq!((code, out.as_str()), (1, ""));
    // The offer is not SDP.
    let (code, out, err) = accept(
        &["--policy", "optional"],
        "nope",
        &phone_answer("RTP/AVP", &[]),
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(err.contains("is not usable: invalid SDP"), "{err}");
    // The offer is not one these settings make.
    let (code, out, err) = accept(
        &["--policy", "standard"],
        &optional,
        &phone_answer("RTP/AVP", &[]),
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.contains("cannot be resumed: the offer does not match SDP SRTP Offer standard: m-line 1 is RTP/AVP"),
        "{err}"
    );
    // An answer breaking offer/answer (two crypto lines).
    let two = [
        format!("1 AES_256_CM_HMAC_SHA1_80 inline:{K30}"),
        format!("2 AES_256_CM_HMAC_SHA1_32 inline:{K30}"),
    ];
    let (code, out, err) = accept(
        &["--policy", "optional"],
        &optional,
        &phone_answer("RTP/AVP", &[&two[0], &two[1]]),
    );
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.contains("invalid answer: m-line 1 of the answer has 2 a=crypto lines"),
        "{err}"
    );
    // No offer file.
    let out = sigil_with_stdin(
        &[
            "sdp",
            "accept",
            "--policy",
            "optional",
            "--offer",
            "/nonexistent/offer.sdp",
        ],
        "",
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("reading our offer /nonexistent/offer.sdp"));
}

const OUR_FP: &str =
    "4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF:3E:5D:49:6B:19:E5:7C:AB:4A:AD:B9:B1:3F:82:18:3B:54:02:12:DF";
const THEIR_FP: &str =
    "11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00:11:22:33:44:55:66:77:88:99:AA:BB:CC:DD:EE:FF:00";

#[test]
fn dtls_keying_offers_answers_and_accepts() {
    // dtls: UDP/TLS/RTP/SAVP, our fingerprint, actpass, no key (so UDP signaling is fine).
    let args = [
        "--policy",
        "standard",
        "--transport",
        "udp",
        "--keying",
        "dtls",
        "--fingerprint",
        OUR_FP,
    ];
    let (code, offer_sdp, note) = offer(&args);
    assert_eq!(code, 0, "{note}");
    assert!(
        offer_sdp.contains("m=audio 4000 UDP/TLS/RTP/SAVP 0\r\n"),
        "{offer_sdp}"
    );
    assert!(offer_sdp.contains(&format!("a=fingerprint:sha-256 {OUR_FP}\r\n")));
    assert!(offer_sdp.contains("a=setup:actpass\r\n"));
    assert!(!offer_sdp.contains("a=crypto"));
    assert_eq!(note, "offer UDP/TLS/RTP/SAVP with DTLS-SRTP\n");

    // The peer answers (another sigil, keying both, its own fingerprint).
    let (code, answer_sdp, summary) = answer(
        &[
            "--policy",
            "standard",
            "--keying",
            "both",
            "--fingerprint",
            &format!("sha-256 {THEIR_FP}"),
        ],
        &offer_sdp,
    );
    assert_eq!(code, 0, "{summary}");
    assert_eq!(summary, "DTLS-SRTP, DTLS client\n");
    assert!(
        answer_sdp.contains("m=audio 4002 UDP/TLS/RTP/SAVP 0\r\n"),
        "{answer_sdp}"
    );
    assert!(answer_sdp.contains("a=setup:active\r\n"));
    assert!(answer_sdp.contains(&format!("a=fingerprint:sha-256 {THEIR_FP}\r\n")));

    let (code, out, err) = accept(&args, &offer_sdp, &answer_sdp);
    assert_eq!(
        (code, out.as_str()),
        (0, format!("dtls server sha-256 {THEIR_FP}\n").as_str()),
        "{err}"
    );

    // both: SDES lines and a fingerprint; without --fingerprint a certificate is made.
    let (code, both, note) = offer(&["--policy", "optional", "--keying", "both"]);
    assert_eq!(code, 0, "{note}");
    assert!(both.contains("m=audio 4000 RTP/AVP 0\r\n"));
    assert_eq!(both.matches("a=crypto:").count(), 6);
    assert!(both.contains("a=fingerprint:sha-256 "));
    assert!(
        note.starts_with("made a self-signed DTLS certificate: sha-256 "),
        "{note}"
    );
    // An SDES-only answerer takes the crypto.
    let (code, _, summary) = answer(&["--policy", "optional"], &both);
    assert_eq!(
        (code, summary.as_str()),
        (0, "SRTP AEAD_AES_256_GCM, tag 1\n")
    );
    // A DTLS-only offer to an SDES-only answerer: 488 with the reason.
    let (code, out, _) = answer(&["--policy", "optional"], &offer_sdp);
    assert_eq!(code, 2);
    assert_eq!(
        out,
        "reject 488: the offer is DTLS-SRTP only (UDP/TLS/RTP/SAVP) but sip.srtp.keying is sdes\n"
    );
    // A malformed fingerprint is refused with the reason.
    let (code, _, err) = offer(&[
        "--policy",
        "standard",
        "--keying",
        "dtls",
        "--fingerprint",
        "AB:CD",
    ]);
    assert_eq!(code, 1);
    assert!(err.contains("32 bytes"), "{err}");
}
