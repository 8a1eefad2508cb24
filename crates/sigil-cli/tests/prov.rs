//! `sigil prov check` and `sigil prov fetch`, run as the built binary.

mod common;

use common::{sigil, stdout};

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
    // Value errors of the good lines are reported with the syntax errors.
    assert!(
        text.contains(&format!("{file}:2:17: invalid value for sip.transport")),
        "{text}"
    );
    assert!(text.contains("3 error(s), nothing applied"), "{text}");
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
fn malformed_secret_lines_are_never_echoed() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        &dir,
        "typo.conf",
        b"admin.password hunter2\nsip.u1.password hunter2\nSIP.U1.PWD = hunter2\n",
    );
    for json in [false, true] {
        let mut args = vec!["prov", "check", &file];
        if json {
            args.push("--json");
        }
        let out = common::sigil_command()
            .args(&args)
            .env("RUST_LOG", "trace")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        let all = format!("{}{}", stdout(&out), common::stderr(&out));
        assert!(!all.contains("hunter2"), "json={json}: {all}");
        assert!(
            all.contains("admin.password"),
            "the key token is shown: {all}"
        );
        assert!(
            all.contains(":1:1:") || all.contains("\"line\": 1"),
            "{all}"
        );
    }
}

#[test]
fn check_missing_file_fails() {
    let out = sigil(&["prov", "check", "/nonexistent/sigil.conf"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stdout(&out).contains("/nonexistent/sigil.conf:0:0: cannot read the file"));
}

mod fetch {
    use std::path::{Path, PathBuf};
    use std::process::Output;

    use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
    use sigil_identity::Mac;
    use sigil_testkit::nginx::{mtls_server, Nginx};
    use sigil_testkit::pki::{LeafSpec, TestCa};
    use sigil_testkit::{free_port, Peer};

    use super::{sigil, stdout};

    struct Lab {
        dir: tempfile::TempDir,
        port: u16,
        _nginx: Nginx,
    }

    /// nginx on 127.0.0.1 with `ssl_verify_client on` and the vendor chain;
    /// the server certificate from the vendor (trusted) or a foreign CA.
    fn lab(trusted_server: bool) -> Option<(Lab, VendorCa)> {
        let nginx = sigil_testkit::peer(Peer::Nginx)?;
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("www")).unwrap();
        let vendor = VendorCa::generate("CLI Test Vendor").unwrap();
        std::fs::write(root.join("vendor-chain.pem"), vendor.chain_pem()).unwrap();
        let (cert, key) = if trusted_server {
            let m = mint_server(&vendor, &ServerRequest::new(["127.0.0.1"])).unwrap();
            (m.full_chain_pem(), m.key_pem().to_owned())
        } else {
            let other = TestCa::root("Foreign CLI Root").intermediate("Foreign CLI Intermediate");
            let leaf = other.leaf(&LeafSpec::server("127.0.0.1").ip("127.0.0.1".parse().unwrap()));
            (leaf.chain_pem(), leaf.key_pem())
        };
        std::fs::write(root.join("server.pem"), cert).unwrap();
        std::fs::write(root.join("server.key"), key).unwrap();
        let port = free_port();
        let guard = Nginx::start(&nginx, root, &mtls_server(root, port, ""), &[port]);
        Some((
            Lab {
                dir,
                port,
                _nginx: guard,
            },
            vendor,
        ))
    }

    impl Lab {
        fn put(&self, name: &str, text: &str) {
            std::fs::write(self.dir.path().join("www").join(name), text).unwrap();
        }
        fn url(&self) -> String {
            format!("https://127.0.0.1:{}/", self.port)
        }
    }

    /// factory/ (minted identity for 00:08:ee:aa:bb:cc, vendor chain) and user/.
    fn device(root: &Path, vendor: &VendorCa) -> (PathBuf, PathBuf) {
        let factory = root.join("factory");
        let user = root.join("user");
        std::fs::create_dir_all(&factory).unwrap();
        std::fs::create_dir_all(user.join("certs/trusted")).unwrap();
        mint_device(
            vendor,
            &DeviceRequest::new(Mac::parse("00:08:ee:aa:bb:cc").unwrap()),
        )
        .unwrap()
        .write_factory(&factory)
        .unwrap();
        std::fs::write(factory.join("vendor-chain.pem"), vendor.chain_pem()).unwrap();
        (factory, user)
    }

    fn fetch(user: &Path, factory: &Path, extra: &[&str]) -> Output {
        let (u, f) = (user.display().to_string(), factory.display().to_string());
        let mut args = vec!["prov", "fetch", "--user", &u, "--factory", &f];
        args.extend_from_slice(extra);
        sigil(&args)
    }

    #[test]
    fn fetch_applies_the_per_device_file_over_mutual_tls() {
        let Some((lab, vendor)) = lab(true) else {
            return;
        };
        lab.put(
            "algom0008eeaabbcc.conf",
            "sip.u1.user = 201\nsip.u1.pwd = cli-secret\n",
        );
        lab.put("algop.conf", "sip.u1.user = generic\n");
        let dev = tempfile::tempdir().unwrap();
        let (factory, user) = device(dev.path(), &vendor);
        let out = fetch(&user, &factory, &["--server", &lab.url()]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert!(
            text.contains(&format!("url: {}algom0008eeaabbcc.conf", lab.url())),
            "{text}"
        );
        assert!(
            text.contains("server: encrypted, server verified"),
            "{text}"
        );
        assert!(text.contains("+ sip.u1.user = 201"), "{text}");
        assert!(text.contains("+ sip.u1.pwd = ********"), "{text}");
        assert!(!text.contains("cli-secret"), "{text}");
        let config = std::fs::read_to_string(user.join("config.conf")).unwrap();
        assert!(config.contains("sip.u1.pwd = cli-secret"));

        // JSON, and the model file when named.
        lab.put("algopX7.conf", "sip.u1.user = model\n");
        std::fs::remove_file(lab.dir.path().join("www/algom0008eeaabbcc.conf")).unwrap();
        let out = fetch(
            &user,
            &factory,
            &["--server", &lab.url(), "--model", "X7", "--json"],
        );
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["ok"], true);
        assert_eq!(v["verified"], true);
        assert_eq!(v["tried"][0]["status"], 404);
        assert!(v["url"].as_str().unwrap().ends_with("/algopX7.conf"));
        assert_eq!(v["changes"][0]["key"], "sip.u1.user");
        assert_eq!(v["changes"][0]["old"], "201");
        assert_eq!(v["changes"][0]["new"], "model");
    }

    /// Session secrets go only to the file `--keylog` names, with a warning;
    /// `SSLKEYLOGFILE` in the environment is never followed.
    #[test]
    fn key_log_only_when_asked() {
        let Some((lab, vendor)) = lab(true) else {
            return;
        };
        lab.put("algop.conf", "sip.u1.user = 300\n");
        let dev = tempfile::tempdir().unwrap();
        let (factory, user) = device(dev.path(), &vendor);
        let from_env = dev.path().join("env.keys");
        let asked = dev.path().join("asked.keys");
        let run = |extra: &[&str]| {
            let (u, f) = (user.display().to_string(), factory.display().to_string());
            let url = lab.url();
            let mut args = vec![
                "prov",
                "fetch",
                "--user",
                &u,
                "--factory",
                &f,
                "--server",
                &url,
            ];
            args.extend_from_slice(extra);
            crate::common::sigil_command()
                .args(&args)
                .env("SSLKEYLOGFILE", &from_env)
                .env("RUST_LOG", "warn")
                .output()
                .unwrap()
        };
        let out = run(&[]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        assert!(!from_env.exists(), "SSLKEYLOGFILE must not be followed");
        assert!(!asked.exists());

        let out = run(&["--keylog", asked.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        let keys = std::fs::read_to_string(&asked).unwrap();
        assert!(
            keys.contains("CLIENT_TRAFFIC_SECRET_0 ") || keys.contains("CLIENT_RANDOM "),
            "{keys}"
        );
        assert!(
            crate::common::stderr(&out).contains("TLS key log is ON"),
            "{}",
            crate::common::stderr(&out)
        );
        assert!(!from_env.exists());
    }

    #[test]
    fn fetch_from_an_untrusted_server_fails_and_changes_nothing() {
        let Some((lab, vendor)) = lab(false) else {
            return;
        };
        lab.put("algop.conf", "sip.u1.user = evil\n");
        let dev = tempfile::tempdir().unwrap();
        let (factory, user) = device(dev.path(), &vendor);
        std::fs::write(
            user.join("config.conf"),
            format!("# mine\nprov.server = {}\nsip.u1.user = 100\n", lab.url()),
        )
        .unwrap();
        let before = std::fs::read(user.join("config.conf")).unwrap();
        let out = fetch(&user, &factory, &[]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains("unknown issuer"), "{text}");
        assert!(text.contains("Foreign CLI Root"), "{text}");
        assert!(text.contains("configuration unchanged"), "{text}");
        assert_eq!(std::fs::read(user.join("config.conf")).unwrap(), before);

        // Validation off (prov.download.cert = 0): applied, "not verified".
        std::fs::write(
            user.join("config.conf"),
            format!(
                "prov.server = {}\nprov.download.cert = 0\nsip.u1.user = 100\n",
                lab.url()
            ),
        )
        .unwrap();
        let out = fetch(&user, &factory, &["--json"]);
        assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(v["verified"], false);
        assert_eq!(v["security"], "encrypted, server not verified");
    }

    #[test]
    fn fetch_without_a_server_or_with_tftp_fails() {
        let dev = tempfile::tempdir().unwrap();
        let user = dev.path().display().to_string();
        let out = sigil(&["prov", "fetch", "--user", &user]);
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stdout(&out).contains("no provisioning server"),
            "{}",
            stdout(&out)
        );
        let out = sigil(&[
            "prov",
            "fetch",
            "--user",
            &user,
            "--server",
            "tftp://10.0.0.1/",
            "--json",
        ]);
        assert_eq!(out.status.code(), Some(1));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not supported"));
        assert!(!dev.path().join("config.conf").exists());
    }
}
