//! `sigil srtp …` end to end, on the SPEC whole-packet vector.

mod common;

use std::process::Output;

use common::sigil_with_stdin;

/// RFC 3711 B.3 master key ‖ salt in Base64.
const KEY: &str = "4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
const PLAIN: &str = "800f1234decafbadcafebabeabababababababababababababababab";
const SRTP_80: &str =
    "800f1234decafbadcafebabe4e55dc4ce79978d88ca4d215949d2402b78d6acc99ea179b8dbb";

fn lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn protect_matches_the_spec_vector() {
    let out = sigil_with_stdin(
        &[
            "srtp",
            "protect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            KEY,
        ],
        &format!("{PLAIN}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lines(&out), [SRTP_80]);

    let out = sigil_with_stdin(
        &[
            "srtp",
            "protect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_32",
            "--key",
            KEY,
        ],
        &format!("{PLAIN}\n"),
    );
    assert_eq!(lines(&out), [&SRTP_80[..SRTP_80.len() - 12]]);
}

#[test]
fn unprotect_keeps_state_across_lines_and_reports_each_failure() {
    let mut tampered = SRTP_80.to_owned();
    tampered.replace_range(4..8, "1235"); // a new index, so the tag is checked
    let input = format!("{SRTP_80}\n{SRTP_80}\n{tampered}\nzz\n");
    let out = sigil_with_stdin(
        &[
            "srtp",
            "unprotect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            KEY,
            "--window",
            "64",
        ],
        &input,
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let got = lines(&out);
    assert_eq!(got.len(), 4, "{got:?}");
    assert_eq!(got[0], PLAIN);
    assert!(got[1].starts_with("error: replayed"), "{got:?}");
    assert!(
        got[2].starts_with("error: authentication failed"),
        "{got:?}"
    );
    assert!(got[3].starts_with("error: "), "{got:?}");
}

#[test]
fn rtcp_and_roc_round_trip() {
    let rtcp = "81c8000bcafebabeabababababababababababababababab";
    let out = sigil_with_stdin(
        &[
            "srtp",
            "protect",
            "--rtcp",
            "--suite",
            "AES_256_CM_HMAC_SHA1_32",
            "--key",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLQ==",
        ],
        &format!("{rtcp}\n{rtcp}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    let protected = lines(&out);
    assert_eq!(protected.len(), 2);
    assert_eq!(protected[0].len(), rtcp.len() + 2 * (4 + 10));
    let out = sigil_with_stdin(
        &[
            "srtp",
            "unprotect",
            "--rtcp",
            "--suite",
            "AES_256_CM_HMAC_SHA1_32",
            "--key",
            "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKissLQ==",
        ],
        &format!("{}\n{}\n", protected[1], protected[0]),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lines(&out), [rtcp, rtcp]);

    // With --roc both sides agree on a late joiner's roll-over counter.
    let protect = sigil_with_stdin(
        &[
            "srtp",
            "protect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            KEY,
            "--roc",
            "7",
        ],
        &format!("{PLAIN}\n"),
    );
    let srtp = lines(&protect).remove(0);
    assert_ne!(srtp, SRTP_80, "the ROC enters the tag");
    let wrong = sigil_with_stdin(
        &[
            "srtp",
            "unprotect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            KEY,
        ],
        &format!("{srtp}\n"),
    );
    assert_eq!(wrong.status.code(), Some(1));
    let right = sigil_with_stdin(
        &[
            "srtp",
            "unprotect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            KEY,
            "--roc",
            "7",
        ],
        &format!("{srtp}\n"),
    );
    assert!(right.status.success(), "{right:?}");
    assert_eq!(lines(&right), [PLAIN]);
}

#[test]
fn bad_arguments_are_refused() {
    let out = sigil_with_stdin(
        &[
            "srtp",
            "protect",
            "--suite",
            "AES_CM_128_HMAC_SHA1_80",
            "--key",
            "AAAA",
        ],
        "",
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("does not fit"),
        "{out:?}"
    );
    let out = sigil_with_stdin(
        &["srtp", "protect", "--suite", "NULL_CIPHER", "--key", KEY],
        "",
    );
    assert!(!out.status.success());
}

#[test]
fn bench_prints_the_three_figures() {
    let out = sigil_with_stdin(
        &["srtp", "bench", "--payload", "160", "--seconds", "0.2"],
        "",
    );
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<(&str, u64)> = text
        .trim()
        .split(' ')
        .map(|kv| {
            let (k, v) = kv.split_once('=').expect("key=value");
            (k, v.parse().expect("a whole number"))
        })
        .collect();
    let names: Vec<&str> = fields.iter().map(|(k, _)| *k).collect();
    assert_eq!(names, ["protect_pps", "unprotect_pps", "full_duplex_calls"]);
    assert!(fields.iter().all(|(_, v)| *v > 0), "{text}");
    // A call protects 50 and unprotects 50 packets a second: never more
    // calls than either rate alone carries.
    let (protect, unprotect, calls) = (fields[0].1, fields[1].1, fields[2].1);
    assert!(calls <= protect.min(unprotect) / 50, "{text}");
    assert!(calls + 1 >= protect.min(unprotect) / 100, "{text}");
}

/// `sigil srtp protect|unprotect --suite AES_CM_128_HMAC_SHA1_80` with `key_args`.
fn run_with_key(command: &str, key_args: &[&str], input: &str) -> Output {
    let mut args = vec!["srtp", command, "--suite", "AES_CM_128_HMAC_SHA1_80"];
    args.extend_from_slice(key_args);
    sigil_with_stdin(&args, input)
}

#[test]
fn the_key_can_come_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    // Trailing whitespace and the newline are ignored.
    std::fs::write(&path, format!("{KEY}  \n")).unwrap();
    let file = path.to_str().unwrap();
    let out = run_with_key("protect", &["--key-file", file], &format!("{PLAIN}\n"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lines(&out), [SRTP_80]);
    let out = run_with_key("unprotect", &["--key-file", file], &format!("{SRTP_80}\n"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lines(&out), [PLAIN]);
    // Also with Windows line ends and no final newline.
    std::fs::write(&path, format!("{KEY}\r\n")).unwrap();
    let out = run_with_key("protect", &["--key-file", file], &format!("{PLAIN}\n"));
    assert_eq!(lines(&out), [SRTP_80]);
    std::fs::write(&path, KEY).unwrap();
    let out = run_with_key("protect", &["--key-file", file], &format!("{PLAIN}\n"));
    assert_eq!(lines(&out), [SRTP_80]);
}

#[test]
fn the_key_can_come_from_the_first_line_of_stdin() {
    let out = run_with_key(
        "protect",
        &["--key-file", "-"],
        &format!("{KEY} \n{PLAIN}\n{PLAIN}\n"),
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    // The key line is not a packet: the SPEC packet, then its replay refused.
    let got = lines(&out);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], SRTP_80);
    assert!(got[1].starts_with("error: "), "{got:?}");
    let out = run_with_key(
        "unprotect",
        &["--key-file", "-"],
        &format!("{KEY}\n{SRTP_80}\n"),
    );
    assert!(out.status.success(), "{out:?}");
    assert_eq!(lines(&out), [PLAIN]);
}

#[test]
fn exactly_one_key_option_is_required() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    std::fs::write(&path, KEY).unwrap();
    let file = path.to_str().unwrap();
    let both = run_with_key("protect", &["--key", KEY, "--key-file", file], "");
    assert_eq!(both.status.code(), Some(2), "{both:?}");
    assert!(
        String::from_utf8_lossy(&both.stderr).contains("cannot be used with"),
        "{both:?}"
    );
    let neither = run_with_key("unprotect", &[], "");
    assert_eq!(neither.status.code(), Some(2), "{neither:?}");
    assert!(
        String::from_utf8_lossy(&neither.stderr).contains("--key"),
        "{neither:?}"
    );
}

#[test]
fn key_file_errors_explain_without_showing_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("master.key");
    let file = path.to_str().unwrap();
    // Missing.
    let out = run_with_key("protect", &["--key-file", file], "");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(err.contains("cannot read the key file"), "{err}");
    // Not Base64, too short, empty: the reason, never the content.
    for (content, reason) in [
        ("s3cr3t-not-base64*", "is not valid Base64"),
        ("c2VjcmV0", "does not fit the suite"),
        ("\n", "holds no key"),
    ] {
        std::fs::write(&path, content).unwrap();
        let out = run_with_key("protect", &["--key-file", file], "");
        assert_eq!(out.status.code(), Some(1), "{content:?}");
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(err.contains(reason), "{content:?}: {err}");
        assert!(err.contains("the key file"), "{err}");
        let secret = content.trim();
        assert!(secret.is_empty() || !err.contains(secret), "{err}");
    }
    let out = run_with_key("protect", &["--key-file", "-"], "s3cr3t-not-base64*\n");
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        err.contains("the key on stdin (--key-file -) is not valid Base64"),
        "{err}"
    );
    assert!(!err.contains("s3cr3t"), "{err}");
}

/// 16 + 12 and 32 + 12 bytes of master key ‖ salt (RFC 7714 §14.1 lengths), Base64.
const GCM_128_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGw==";
const GCM_256_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8gISIjJCUmJygpKis=";

#[test]
fn aead_suites_protect_unprotect_and_bench() {
    for (suite, key) in [
        ("AEAD_AES_128_GCM", GCM_128_KEY),
        ("AEAD_AES_256_GCM", GCM_256_KEY),
    ] {
        let out = sigil_with_stdin(
            &["srtp", "protect", "--suite", suite, "--key", key],
            &format!("{PLAIN}\n"),
        );
        assert!(out.status.success(), "{out:?}");
        let protected = lines(&out);
        // Header in the clear, payload encrypted, 16-byte tag appended.
        assert_eq!(protected[0].len(), PLAIN.len() + 32, "{suite}");
        assert_eq!(&protected[0][..24], &PLAIN[..24]);
        assert_ne!(&protected[0][24..56], &PLAIN[24..56]);
        let out = sigil_with_stdin(
            &["srtp", "unprotect", "--suite", suite, "--key", key],
            &format!("{}\n", protected[0]),
        );
        assert!(out.status.success(), "{out:?}");
        assert_eq!(lines(&out), [PLAIN]);
        // An AES-CM key length is refused for a GCM suite.
        let out = sigil_with_stdin(
            &["srtp", "protect", "--suite", suite, "--key", KEY],
            &format!("{PLAIN}\n"),
        );
        assert!(!out.status.success(), "{out:?}");

        let out = sigil_with_stdin(
            &[
                "srtp",
                "bench",
                "--suite",
                suite,
                "--payload",
                "160",
                "--seconds",
                "0.1",
            ],
            "",
        );
        assert!(out.status.success(), "{out:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("protect_pps="),
            "{out:?}"
        );
    }
}
