//! `sigil identity show | factory-reset`.

mod common;

use common::{ok, sigil, stderr, stdout};

#[test]
fn show_a_fresh_device_an_override_and_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let p = |name: &str| d.join(name).display().to_string();
    ok(&["mint", "vendor", "--out", &p("vendor")]);
    ok(&[
        "mint",
        "device",
        "--vendor",
        &p("vendor"),
        "--mac",
        "00:22:EE:01:02:03",
        "--out",
        &p("factory"),
    ]);
    // `sigil identity show` of this device, with `extra` options.
    let show = |extra: &[&str]| {
        let (factory, user) = (p("factory"), p("user"));
        let args = ["identity", "show", "--factory", &factory, "--user", &user];
        sigil(&[&args[..], extra].concat())
    };

    // Fresh device: factory identity in use, exit 0.
    let out = show(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let text = stdout(&out);
    assert!(
        text.contains("Manufacturer certificate: installed"),
        "{text}"
    );
    assert!(text.contains("MAC:         00:22:ee:01:02:03"), "{text}");
    assert!(
        text.contains("Issuer:      O=Sigil Devices, CN=Sigil Devices Device CA"),
        "{text}"
    );
    assert!(text.contains("SHA-256:"), "{text}");
    assert!(text.contains("Override certificate: absent"), "{text}");
    assert!(
        text.contains("Identity in use: factory certificate"),
        "{text}"
    );

    let out = show(&["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["active"], "factory");
    assert_eq!(json["client_auth"], true);
    assert_eq!(json["factory"]["certificate"]["mac"], "00:22:ee:01:02:03");
    assert_eq!(json["sipclient"]["state"], "absent");

    // A broken override (certificate without key): not used, and the reason is shown.
    std::fs::create_dir_all(d.join("user/certs/trusted")).unwrap();
    std::fs::copy(
        d.join("factory/device.pem"),
        d.join("user/certs/sipclient.pem"),
    )
    .unwrap();
    std::fs::write(d.join("user/sigil.conf"), "sip.transport = tls\n").unwrap();
    let out = show(&["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["active"], "factory");
    assert_eq!(json["sipclient"]["state"], "rejected");
    assert_eq!(json["sipclient"]["problem"]["code"], "no_key");
    let text = stdout(&show(&[]));
    assert!(
        text.contains("Override certificate: present but NOT USED"),
        "{text}"
    );
    assert!(text.contains("holds no private key"), "{text}");

    // Factory reset: the user store is emptied, the factory identity is in use again.
    let factory_pem = std::fs::read(d.join("factory/device.pem")).unwrap();
    let out = sigil(&["identity", "factory-reset", "--user", &p("user")]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert_eq!(std::fs::read_dir(d.join("user")).unwrap().count(), 0);
    assert_eq!(
        std::fs::read(d.join("factory/device.pem")).unwrap(),
        factory_pem
    );
    let out = show(&["--json"]);
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json["active"], "factory");
    assert_eq!(json["sipclient"]["state"], "absent");

    // Pointing factory-reset at the factory partition is refused.
    let out = sigil(&["identity", "factory-reset", "--user", &p("factory")]);
    assert_eq!(out.status.code(), Some(1));
    assert!(d.join("factory/device.key").exists());
}

#[test]
fn show_without_a_factory_certificate_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    let factory = dir.path().join("factory").display().to_string();
    let user = dir.path().join("user").display().to_string();
    let out = sigil(&["identity", "show", "--factory", &factory, "--user", &user]);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("Manufacturer certificate: not installed"),
        "{text}"
    );
    assert!(
        text.contains("Identity in use: none (no client authentication)"),
        "{text}"
    );
}
