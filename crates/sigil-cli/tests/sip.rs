//! `sigil sip parse` against RFC 4475 messages and hand-made files.

mod common;

use std::path::PathBuf;

use common::sigil_command;

fn torture(name: &str) -> PathBuf {
    sigil_testkit::testdata(&format!("rfc4475/{name}.dat"))
}

#[test]
fn parse_prints_canonical_form() {
    let out = sigil_command()
        .args(["sip", "parse"])
        .arg(torture("wsinv"))
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\r\n"));
    assert!(text.contains("\r\nCSeq: 9 INVITE\r\n"), "{text}");
    assert!(text.contains("\r\nMax-Forwards: 68\r\n"));
    assert!(text.contains("\r\nVia: SIP/2.0/TCP spindle.example.com;branch=z9hG4bK9ikj8, SIP/2.0/UDP 192.168.255.111;branch=z9hG4bK30239\r\n"));
    // The canonical form is itself a fixed point.
    let dir = tempfile::tempdir().unwrap();
    let again = dir.path().join("canon.sip");
    std::fs::write(&again, &text).unwrap();
    let out2 = sigil_command()
        .args(["sip", "parse"])
        .arg(&again)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out2.stdout).unwrap(), text);
}

#[test]
fn parse_json() {
    let out = sigil_command()
        .args(["sip", "parse", "--json"])
        .arg(torture("esc01"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["kind"], "request");
    assert_eq!(v["method"], "INVITE");
    assert_eq!(v["typed"]["cseq"]["seq"], 234234);
    assert_eq!(v["typed"]["call_id"], "esc01.239409asdfakjkn23onasd0-3234");
    assert_eq!(v["typed"]["via"][0]["branch"], "z9hG4bKkdjuw");
    assert_eq!(v["typed"]["from"]["tag"], "938");
    assert_eq!(v["typed"]["content_type"], "application/sdp");
    assert_eq!(v["typed"]["content_length"], 150);
    assert!(v["body"].as_str().unwrap().starts_with("v=0"));
}

#[test]
fn parse_error_exits_1_with_offset() {
    let out = sigil_command()
        .args(["sip", "parse"])
        .arg(torture("bigcode"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("at byte 8"), "{err}");
    assert!(err.contains("4294967301"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("bad.sip");
    std::fs::write(&f, "OPTIONS sip:a@b SIP/2.0\r\nMax-Forwards: 300\r\n\r\n").unwrap();
    let out = sigil_command()
        .args(["sip", "parse", "--json"])
        .arg(&f)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["offset"], 25 + "Max-Forwards: ".len());
    assert!(v["error"].as_str().unwrap().contains("Max-Forwards"));
}

#[test]
fn missing_file_exits_1() {
    let out = sigil_command()
        .args(["sip", "parse", "/nonexistent/x.sip"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("cannot open"));
}
