//! `sigil sdp offer` / `sigil sdp answer`: output streams and exit codes.

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
    assert_eq!(sdp.matches("a=crypto:").count(), 4);

    let (code, sdp, _) = offer(&["--policy", "standard", "--transport", "tls"]);
    assert_eq!(code, 0);
    assert!(sdp.contains("m=audio 4000 RTP/SAVP 0\r\n"));
    assert_eq!(sdp.matches("a=crypto:").count(), 4);

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
    assert!(sdp.contains("a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:"));
    assert_eq!(summary, "SRTP AES_256_CM_HMAC_SHA1_80, tag 1\n");
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
