//! `sigil sip probe` and `sigil sip serve`, run as the built binary, with
//! `openssl s_client` as the device for `serve`.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{sigil_command, stdout};
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::Mac;
use sigil_testkit::{free_port, peer, ChildGuard, Peer};

const MAC: &str = "00:22:ee:01:02:03";
const OVERRIDE_MAC: &str = "00:22:ee:0a:0b:0c";
const OPTIONS: &str = "OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKsclient\r\nMax-Forwards: 70\r\nFrom: <sip:dev@example.com>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: sclient-1\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n";

struct Lab {
    dir: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let dir = tempfile::tempdir().unwrap();
        let vendor = VendorCa::generate("Sigil CLI Test Vendor").unwrap();
        let factory = dir.path().join("factory");
        mint_device(&vendor, &DeviceRequest::new(Mac::parse(MAC).unwrap()))
            .unwrap()
            .write_factory(&factory)
            .unwrap();
        mint_server(
            &vendor,
            &ServerRequest::new(["sip.example.com", "sip:example.com", "127.0.0.1"]),
        )
        .unwrap()
        .write_server(dir.path())
        .unwrap();
        std::fs::write(dir.path().join("vendor-chain.pem"), vendor.chain_pem()).unwrap();
        // An installer's user store: an override identity and the vendor root as an uploaded anchor.
        mint_device(
            &vendor,
            &DeviceRequest::new(Mac::parse(OVERRIDE_MAC).unwrap()),
        )
        .unwrap()
        .write_combined(&dir.path().join("user/certs/sipclient.pem"))
        .unwrap();
        std::fs::create_dir_all(dir.path().join("user/certs/trusted")).unwrap();
        std::fs::write(
            dir.path().join("user/certs/trusted/vendor-root.pem"),
            vendor.root_pem(),
        )
        .unwrap();
        Lab { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}

struct Serve {
    _guard: ChildGuard,
    port: u16,
    log: PathBuf,
}

impl Serve {
    fn start(lab: &Lab) -> Serve {
        Serve::start_with(lab, &[])
    }

    /// `sigil sip serve` with `extra` arguments (e.g. `--async`).
    fn start_with(lab: &Lab, extra: &[&str]) -> Serve {
        let port = free_port();
        let log = lab.path(&format!("serve-{port}.log"));
        let out = std::fs::File::create(&log).unwrap();
        let guard = ChildGuard::spawn(
            sigil_command()
                .args(["sip", "serve", "--listen", &format!("127.0.0.1:{port}")])
                .arg("--cert")
                .arg(lab.path("server.pem"))
                .arg("--key")
                .arg(lab.path("server.key"))
                .arg("--vendor-chain")
                .arg(lab.path("vendor-chain.pem"))
                .args(["--password", "secret"])
                .args(extra)
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(Stdio::null()),
        )
        .unwrap();
        let serve = Serve {
            _guard: guard,
            port,
            log,
        };
        serve.wait_log("listening on tls:");
        serve
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits (at most 10 s) for `needle` in the server's output.
    fn wait_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if log.contains(needle) {
                return log;
            }
            assert!(Instant::now() < deadline, "{needle:?} not logged: {log}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn addr(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

/// `openssl s_client` sending `message`; returns its output once `expect`
/// arrived, s_client exited, or 5 s passed.
fn s_client(
    openssl: &Path,
    lab: &Lab,
    serve: &Serve,
    with_cert: bool,
    extra: &[&str],
    message: &str,
    expect: &str,
) -> String {
    let log = lab.path(&format!("s_client-{}.log", free_port()));
    let out = std::fs::File::create(&log).unwrap();
    let mut cmd = Command::new(openssl);
    cmd.args([
        "s_client",
        "-connect",
        &serve.addr(),
        "-servername",
        "example.com",
    ])
    .arg("-CAfile")
    .arg(lab.path("vendor-chain.pem"))
    // A line starting with R would otherwise be read as "renegotiate".
    .arg("-nocommands")
    .args(extra);
    if with_cert {
        cmd.arg("-cert")
            .arg(lab.path("factory/device.pem"))
            .arg("-key")
            .arg(lab.path("factory/device.key"));
    }
    cmd.stdin(Stdio::piped())
        .stdout(out.try_clone().unwrap())
        .stderr(out);
    let mut guard = ChildGuard::spawn(&mut cmd).unwrap();
    let mut stdin = guard.0.stdin.take().unwrap();
    // Wait for the handshake to be reported (or s_client to give up), then send.
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline
        && guard.exited().is_none()
        && !std::fs::read_to_string(&log)
            .unwrap_or_default()
            .contains("Verify return code")
    {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = stdin.write_all(message.as_bytes());
    let _ = stdin.flush();
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        if text.contains(expect) || guard.exited().is_some() || Instant::now() >= deadline {
            drop(stdin);
            return text;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5999;branch=z9hG4bKsreg\r\nMax-Forwards: 70\r\nFrom: <sip:dev@example.com>;tag=2\r\nTo: <sip:dev@example.com>\r\nCall-ID: sclient-2\r\nCSeq: 1 REGISTER\r\nContact: <sip:dev@127.0.0.1:5999;transport=tls>\r\nExpires: 300\r\nContent-Length: 0\r\n\r\n";

#[test]
fn serve_accepts_s_client_with_a_device_certificate_and_refuses_one_without() {
    serve_with_s_client(&[]);
}

#[test]
fn serve_async_accepts_s_client_with_a_device_certificate_and_refuses_one_without() {
    let log = serve_with_s_client(&["--async"]);
    // The fleet acceptor's counters: at least the two verified handshakes of
    // the first step and the refused certificate-less one.
    assert!(log.contains("stats accepted="), "{log}");
}

/// The s_client checks against `sigil sip serve` (with `extra` arguments); the server's output.
fn serve_with_s_client(extra: &[&str]) -> String {
    let Some(openssl) = peer(Peer::Openssl) else {
        return "stats accepted= (skipped: no openssl)".to_owned();
    };
    let lab = Lab::new();
    let serve = Serve::start_with(&lab, extra);
    let ok = "SIP/2.0 200 OK";

    for version in ["-tls1_3", "-tls1_2"] {
        let out = s_client(&openssl, &lab, &serve, true, &[version], OPTIONS, ok);
        assert!(out.contains(ok), "{version}: {out}");
    }
    let log = serve.wait_log(&format!("mac={MAC}"));
    assert!(log.contains("connected 127.0.0.1:"), "{log}");

    // REGISTER without credentials is challenged (serve runs with --password).
    let challenged = "SIP/2.0 401 Unauthorized";
    let out = s_client(&openssl, &lab, &serve, true, &[], REGISTER, challenged);
    assert!(out.contains(challenged), "{out}");
    assert!(
        out.contains("WWW-Authenticate: Digest realm=\"example.com\""),
        "{out}"
    );

    let out = s_client(&openssl, &lab, &serve, false, &[], OPTIONS, ok);
    assert!(!out.contains(ok), "{out}");
    let log = serve.wait_log("refused 127.0.0.1:");
    assert!(log.contains("no certificate"), "{log}");

    // Old protocol versions and CBC suites are refused, certificate or not.
    for extra in [
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"][..],
        &["-tls1_2", "-cipher", "ECDHE-ECDSA-AES128-SHA"][..],
    ] {
        let out = s_client(&openssl, &lab, &serve, true, extra, OPTIONS, ok);
        assert!(!out.contains(ok), "{extra:?}: {out}");
        assert!(
            out.contains("Cipher is (NONE)"),
            "{extra:?} must not complete a handshake: {out}"
        );
    }
    // A stats line comes at most a second after the counters changed.
    if extra.contains(&"--async") {
        return serve.wait_log("stats accepted=");
    }
    serve.log()
}

fn probe(lab: &Lab, args: &[&str]) -> (Output, String) {
    let out = sigil_command()
        .args(["sip", "probe"])
        .args(args)
        .arg("--vendor")
        .arg(lab.path("vendor-chain.pem"))
        .arg("--no-builtin")
        .output()
        .unwrap();
    let text = stdout(&out);
    (out, text)
}

#[test]
fn probe_reports_the_connection_and_the_options_answer() {
    let lab = Lab::new();
    let serve = Serve::start(&lab);
    let factory = lab.path("factory");
    let factory = factory.to_str().unwrap();

    let (out, text) = probe(
        &lab,
        &[
            "--server",
            &serve.addr(),
            "--domain",
            "example.com",
            "--factory",
            factory,
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    for want in [
        "handshake:          completed",
        "TLS version:        TLSv1.3",
        "cipher suite:       TLS13_AES_256_GCM_SHA384",
        "server chain:       CN=sip.example.com",
        "verification:       verified",
        &format!("client certificate: sent (CN={MAC}"),
        "SIP response:       200 OK",
    ] {
        assert!(text.contains(want), "{want:?} missing in:\n{text}");
    }
    serve.wait_log(&format!("mac={MAC}"));

    let (out, text) = probe(
        &lab,
        &[
            "--server",
            &serve.addr(),
            "--domain",
            "example.com",
            "--factory",
            factory,
            "--tls-min",
            "1.2",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["handshake"], "completed");
    assert_eq!(v["verification"], "verified");
    assert_eq!(v["client_certificate_sent"], true);
    assert_eq!(v["sip_response"]["status"], 200);
    assert_eq!(v["server_chain"].as_array().map(Vec::len), Some(2));
}

#[test]
fn probe_diagnoses_failures_with_exit_1() {
    let lab = Lab::new();
    let serve = Serve::start(&lab);
    let factory = lab.path("factory");
    let factory = factory.to_str().unwrap();

    // No device certificate: serve requires one.
    let (out, text) = probe(
        &lab,
        &["--server", &serve.addr(), "--domain", "example.com"],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("handshake:          failed"), "{text}");
    assert!(text.contains("client certificate"), "{text}");
    assert!(text.contains("fix:"), "{text}");

    // Wrong domain.
    let (out, text) = probe(
        &lab,
        &[
            "--server",
            &serve.addr(),
            "--domain",
            "example.net",
            "--factory",
            factory,
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["diagnosis"], "name_mismatch");
    assert!(v["fix"].as_str().is_some_and(|f| !f.is_empty()));

    // Same, validation off: encrypted but not verified.
    let (out, text) = probe(
        &lab,
        &[
            "--server",
            &serve.addr(),
            "--domain",
            "example.net",
            "--factory",
            factory,
            "--no-verify",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("verification:       not verified"), "{text}");

    // Nothing listening.
    let port = free_port();
    let (out, text) = probe(
        &lab,
        &[
            "--server",
            &format!("127.0.0.1:{port}"),
            "--domain",
            "example.com",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("refused"), "{text}");

    // Old TLS floors are not even accepted as an option.
    let (out, _) = probe(
        &lab,
        &[
            "--server",
            &serve.addr(),
            "--domain",
            "example.com",
            "--tls-min",
            "1.1",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn probe_uses_the_user_store_override_and_uploaded_anchors() {
    let lab = Lab::new();
    let serve = Serve::start(&lab);
    let user = lab.path("user");
    // `sigil sip probe` of the lab server with the user store and `option path`.
    let probe_with_user = |option: &str, path: &Path| {
        sigil_command()
            .args(["sip", "probe", "--server", &serve.addr()])
            .args(["--domain", "example.com", "--no-builtin"])
            .arg("--user")
            .arg(&user)
            .arg(option)
            .arg(path)
            .output()
            .unwrap()
    };
    let out = probe_with_user("--factory", &lab.path("factory"));
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains("verification:       verified"), "{text}");
    assert!(
        text.contains("user/certs/trusted/vendor-root.pem"),
        "the uploaded anchor did it: {text}"
    );
    assert!(
        text.contains(&format!("client certificate: sent (CN={OVERRIDE_MAC}")),
        "{text}"
    );
    serve.wait_log(&format!("mac={OVERRIDE_MAC}"));

    // --trusted points elsewhere (an empty folder): the root is unknown now.
    let empty = lab.path("empty");
    std::fs::create_dir_all(&empty).unwrap();
    let out = probe_with_user("--trusted", &empty);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("not trusted"), "{text}");
    assert!(
        text.contains("Sigil CLI Test Vendor Root CA"),
        "the issuer to upload: {text}"
    );
}
