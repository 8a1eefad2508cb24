//! `sigil prov check` and `sigil prov fetch`, run as the built binary.

use std::process::{Command, Output};

fn sigil(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
        .args(args)
        .output()
        .expect("run sigil")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn write(dir: &tempfile::TempDir, name: &str, text: &[u8]) -> String {
    let path = dir.path().join(name);
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn check_valid_file_summarises_and_warns() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "ok.conf",
        b"\xEF\xBB\xBF# site\r\nsip.proxy = pbx.example.com\r\nsip.u1.pwd = hunter2\r\nvendor.color = blue\r\nsip.proxy = pbx2.example.com\r\n",
    );
    let out = sigil(&["prov", "check", &file]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("OK: 3 key(s), 2 known, 1 unknown"), "{text}");
    assert!(
        text.contains(&format!("{file}:4: warning: unknown key vendor.color")),
        "{text}"
    );
    assert!(text.contains("set again (first on line 2)"), "{text}");
    assert!(!text.contains("hunter2"));
}

#[test]
fn check_reports_every_error_with_location() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "bad.conf",
        b"sip.proxy = pbx.example.com\nsip.transport = sctp\nno equals\nsip.u1.pwd = hunter2\x01\n",
    );
    let out = sigil(&["prov", "check", &file]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("{file}:3:1: line has no '='")),
        "{text}"
    );
    assert!(text.contains(&format!("{file}:4:")), "{text}");
    assert!(!text.contains("hunter2"), "{text}");
    // A syntax error stops before the values are checked: the value error shows once the syntax is fixed.
    let file = write(
        &dir,
        "bad2.conf",
        b"sip.proxy = pbx.example.com\nsip.transport = sctp\n",
    );
    let out = sigil(&["prov", "check", &file]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("{file}:2:17: invalid value for sip.transport")),
        "{text}"
    );
}

#[test]
fn check_json() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(&dir, "ok.conf", b"sip.u1.pwd = hunter2\nzz.other = 1\n");
    let out = sigil(&["prov", "check", &file, "--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["keys"], 2);
    assert_eq!(v["unknown_keys"][0], "zz.other");
    assert_eq!(v["settings"]["sip.u1.pwd"], "********");
    assert_eq!(v["settings"]["prov.download.cert"], "1");
    assert!(!stdout(&out).contains("hunter2"));

    let file = write(&dir, "bad.conf", b"sip.tls.version.min = 1.1\n");
    let out = sigil(&["prov", "check", &file, "--json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_eq!(v["errors"][0]["line"], 1);
    assert_eq!(v["errors"][0]["col"], 23);
    assert!(v["errors"][0]["message"]
        .as_str()
        .unwrap()
        .contains("RFC 8996"));
}

#[test]
fn check_missing_file_fails() {
    let out = sigil(&["prov", "check", "/nonexistent/sigil.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("/nonexistent/sigil.conf:0:0: cannot read the file"));
}
