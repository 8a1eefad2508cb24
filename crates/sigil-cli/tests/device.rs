//! `sigil device run | status | call | factory-reset` against the testkit
//! servers (HTTPS provisioning, SIP registrar and peers requiring device certificates).

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use common::{sigil, sigil_command};
use sigil_lab::{ProvisioningServer, SipServer};

const MAC: &str = "00:22:ee:0a:0b:0c";
const PASSWORD: &str = "cli-test-secret";

fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

struct Scene {
    dir: tempfile::TempDir,
    sip: SipServer,
    prov: ProvisioningServer,
}

impl Scene {
    fn data(&self) -> String {
        self.dir.path().join("device").display().to_string()
    }
}

/// A minted device whose configuration points at a provisioning server that
/// hands out `sip.srtp.offer = policy` and the SIP server's address.
fn scene(policy: &str) -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let lab = common::lab_device(
        dir.path(),
        "CLI Test Vendor",
        MAC,
        PASSWORD,
        &format!("sip.srtp.offer = {policy}\nsip.tls.listen = 0\n"),
        // No admin web interface here (tests/web.rs has its own).
        "web.https.port = 0\n",
    );
    Scene {
        dir,
        sip: lab.sip,
        prov: lab.prov,
    }
}

#[test]
fn status_without_network_then_factory_reset() {
    let s = scene("standard");
    let out = sigil(&["device", "status", "--data", &s.data(), "--json"]);
    assert!(out.status.success(), "{}", text(&out));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["identity"]["active"], "factory");
    assert_eq!(json["trust"]["vendor"], 2);
    assert_eq!(json["configuration"]["exists"], true);
    assert!(json["configuration"]["prov_server"]
        .as_str()
        .unwrap()
        .starts_with("https://127.0.0.1:"));
    assert!(
        s.prov.requests().is_empty(),
        "status must not touch the network"
    );

    let out = sigil(&["device", "status", "--data", &s.data()]);
    assert!(out.status.success());
    assert!(text(&out).contains("in use: factory"), "{}", text(&out));

    let out = sigil(&["device", "factory-reset", "--data", &s.data()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!Path::new(&s.data()).join("user/config.conf").exists());
    assert!(Path::new(&s.data()).join("factory/device.pem").exists());
    let out = sigil(&["device", "status", "--data", &s.data(), "--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["configuration"]["exists"], false);
    assert_eq!(json["identity"]["active"], "factory");
}

#[test]
fn status_of_a_directory_that_is_not_a_device_fails() {
    let dir = tempfile::tempdir().unwrap();
    let out = sigil(&[
        "device",
        "status",
        "--data",
        &dir.path().display().to_string(),
    ]);
    assert!(!out.status.success());
    assert!(text(&out).contains("factory"), "{}", text(&out));
}

#[test]
fn call_with_srtp_succeeds_and_standard_to_a_plain_phone_is_refused() {
    let s = scene("standard");
    let out = sigil(&[
        "device",
        "call",
        "--data",
        &s.data(),
        "--to",
        "sip:srtp-peer@127.0.0.1",
        "--seconds",
        "0.5",
    ]);
    let t = text(&out);
    assert!(out.status.success(), "{t}");
    // Both ends prefer AEAD_AES_256_GCM (RFC 7714), so the call runs on it.
    assert!(t.contains("media:    SRTP AEAD_AES_256_GCM"), "{t}");
    // Half a second of media at 50 packets a second, give or take the edges.
    let sent: u64 = t
        .split("packets:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!((22..=28).contains(&sent), "{sent} sent: {t}");
    let far = s.sip.calls();
    assert_eq!(far.len(), 1);
    assert!(far[0].media.starts_with("SRTP"));
    assert_eq!(far[0].device.as_deref(), Some(MAC));

    let out = sigil(&[
        "device",
        "call",
        "--data",
        &s.data(),
        "--to",
        "sip:plain-phone@127.0.0.1",
    ]);
    let t = text(&out);
    assert_eq!(out.status.code(), Some(1), "{t}");
    assert!(t.contains("SRTP required"), "{t}");
}

#[test]
fn run_registers_and_unregisters_on_sigterm() {
    let s = scene("optional");
    let mut child = sigil_command()
        .args(["device", "run", "--data", &s.data(), "--json-log"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = Vec::new();
    // Bounded: the boot prints at most a dozen lines before "ready".
    for _ in 0..40 {
        let Some(Ok(line)) = lines.next() else { break };
        let v: serde_json::Value = serde_json::from_str(&line).unwrap();
        seen.push(line.clone());
        if v["step"]["step"] == "ready" {
            break;
        }
    }
    assert!(
        seen.iter().any(|l| l.contains("\"ready\"")),
        "no ready step: {seen:?}"
    );
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(status.success(), "exit {status:?}: {rest:?}");
    assert!(
        rest.iter().any(|l| l.contains("\"unregistered\"")),
        "{rest:?}"
    );
    assert!(s
        .sip
        .events()
        .iter()
        .any(|e| matches!(e, sigil_lab::RegistrarEvent::Unregistered { .. })));
    // `device status` shows what the run last reported, beside the offline view.
    let out = sigil(&["device", "status", "--data", &s.data(), "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["running"]["registration"]["state"], "idle", "{v}");
    assert_eq!(
        v["running"]["connections"][0]["verification"], "verified",
        "{v}"
    );
}
