//! Proof in a real browser (issue 13): headless Chromium, driven through
//! WebDriver (`chromedriver`), against `sigil device run --web-listen
//! 127.0.0.1:PORT` with the lab servers. Chromium trusts the device by
//! pinning the SPKI of its `httpd.pem` (`--ignore-certificate-errors-spki-list`),
//! not by turning verification off. Screenshots of each page land in
//! `target/web-screenshots/`.
//!
//! The WebDriver client is a few JSON calls over ureq (already a workspace
//! dependency): sessions, navigation, elements, clicks, keys, screenshots.
#![cfg(feature = "web")]

mod common;
mod webkit;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{json, Value};
use sha2::Digest;
use sigil_identity::mint::{mint_device, DeviceRequest};
use sigil_testkit::{ChildGuard, Peer};
use webkit::{pem_certs, scene, Device, MAC};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
const NEW_PASSWORD: &str = "Browser-Door-2026";

/// A WebDriver session on chromedriver.
struct Browser {
    agent: ureq::Agent,
    session: String,
    base: String,
    shots: PathBuf,
    taken: Vec<String>,
    _driver: ChildGuard,
    _profile: tempfile::TempDir,
}

fn webdriver_agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(60)))
        .build()
        .into()
}

impl Browser {
    fn start(chromedriver: &Path, spki_pin: &str) -> Browser {
        let port = sigil_testkit::free_port();
        let driver = ChildGuard::spawn(
            Command::new(chromedriver)
                .arg(format!("--port={port}"))
                .stdout(Stdio::null())
                .stderr(Stdio::null()),
        )
        .unwrap();
        assert!(
            sigil_testkit::wait_for_tcp(
                format!("127.0.0.1:{port}").parse().unwrap(),
                Duration::from_secs(20)
            ),
            "chromedriver did not start"
        );
        let profile = tempfile::tempdir().unwrap();
        let args = vec![
            "--headless".to_owned(),
            "--no-sandbox".to_owned(),
            "--disable-gpu".to_owned(),
            "--disable-quic".to_owned(),
            "--no-first-run".to_owned(),
            "--disable-background-networking".to_owned(),
            "--disable-component-update".to_owned(),
            "--disable-sync".to_owned(),
            "--disable-dev-shm-usage".to_owned(),
            "--window-size=1280,1400".to_owned(),
            format!("--user-data-dir={}", profile.path().display()),
            format!("--ignore-certificate-errors-spki-list={spki_pin}"),
        ];
        let base = format!("http://127.0.0.1:{port}");
        let agent = webdriver_agent();
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "acceptInsecureCerts": false,
            "goog:chromeOptions": {"binary": "/usr/bin/chromium", "args": args}
        }}});
        let v = call(&agent, "POST", &format!("{base}/session"), Some(&caps));
        let session = v["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {v}"))
            .to_owned();
        let shots = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .unwrap()
            .join("web-screenshots");
        std::fs::create_dir_all(&shots).unwrap();
        let browser = Browser {
            agent,
            session,
            base,
            shots,
            taken: Vec::new(),
            _driver: driver,
            _profile: profile,
        };
        browser.cmd(
            "POST",
            "/timeouts",
            Some(&json!({"implicit": 10000, "pageLoad": 30000, "script": 10000})),
        );
        browser
    }

    fn cmd(&self, method: &str, path: &str, body: Option<&Value>) -> Value {
        call(
            &self.agent,
            method,
            &format!("{}/session/{}{path}", self.base, self.session),
            body,
        )
    }

    fn goto(&self, url: &str) {
        self.cmd("POST", "/url", Some(&json!({"url": url})));
    }

    fn find(&self, css: &str) -> String {
        let v = self.cmd(
            "POST",
            "/element",
            Some(&json!({"using": "css selector", "value": css})),
        );
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}\npage: {}", self.source()))
            .to_owned()
    }

    fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), Some(&json!({})));
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(&json!({"text": text})),
        );
    }

    fn click(&self, css: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/click"), Some(&json!({})));
    }

    fn text(&self, css: &str) -> String {
        let e = self.find(css);
        self.cmd("GET", &format!("/element/{e}/text"), None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn source(&self) -> String {
        self.cmd("GET", "/source", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    fn title(&self) -> String {
        self.cmd("GET", "/title", None)
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Waits (at most 20 s) until the page title contains `what`.
    fn wait_title(&self, what: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if self.title().contains(what) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!(
            "title never contained {what:?}: {}\n{}",
            self.title(),
            self.source()
        );
    }

    fn screenshot(&mut self, name: &str) {
        let v = self.cmd("GET", "/screenshot", None);
        let png = base64::engine::general_purpose::STANDARD
            .decode(v.as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "not a PNG screenshot");
        let file = format!("{:02}-{name}.png", self.taken.len() + 1);
        std::fs::write(self.shots.join(&file), png).unwrap();
        self.taken.push(file);
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self
            .agent
            .delete(format!("{}/session/{}", self.base, self.session))
            .call();
    }
}

fn call(agent: &ureq::Agent, method: &str, url: &str, body: Option<&Value>) -> Value {
    let response = match method {
        "POST" => agent
            .post(url)
            .header("Content-Type", "application/json")
            .send(body.unwrap_or(&json!({})).to_string().as_bytes()),
        "DELETE" => agent.delete(url).call(),
        _ => agent.get(url).call(),
    };
    let mut response = response.unwrap_or_else(|e| panic!("WebDriver {method} {url}: {e}"));
    let text = response.body_mut().read_to_string().unwrap_or_default();
    let v: Value =
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("WebDriver {url}: {e}: {text}"));
    v["value"].clone()
}

/// Base64 of the SHA-256 of the certificate's subjectPublicKeyInfo, as Chromium's pin list wants it.
fn spki_pin(pem: &[u8]) -> String {
    let certs = pem_certs(pem);
    let (_, cert) = x509_parser::parse_x509_certificate(certs[0].as_ref()).unwrap();
    let digest = sha2::Sha256::digest(cert.public_key().raw);
    base64::engine::general_purpose::STANDARD.encode(digest)
}

#[test]
fn browser_walks_through_every_page() {
    let Some(chromedriver) = sigil_testkit::peer(Peer::Chromium) else {
        return;
    };
    let s = scene();
    let data = s.data();
    let device = Device::start(&data);
    let pin = spki_pin(&std::fs::read(data.join("user/certs/httpd.pem")).unwrap());
    let mut b = Browser::start(&chromedriver, &pin);
    let base = device.base();

    // A fresh device: everything says "change the default password".
    b.goto(&format!("{base}/"));
    b.wait_title("Change the default password");
    b.screenshot("default-password");

    // Log in with the default, forced to the password page, change it.
    b.type_into("#password", "sigil");
    b.click("#login");
    b.wait_title("Change the admin password");
    b.screenshot("change-password");
    b.type_into("#old", "sigil");
    b.type_into("#new", NEW_PASSWORD);
    b.type_into("#confirm", NEW_PASSWORD);
    b.click("#change");
    b.wait_title("Password changed");
    b.screenshot("password-changed");

    // About: the factory certificate's MAC.
    b.click("#continue");
    b.wait_title("Status / About");
    let manufacturer = b.text("#manufacturer");
    assert!(manufacturer.contains(MAC), "{manufacturer}");
    assert!(manufacturer.contains("installed"), "{manufacturer}");
    assert!(b.text("#device").contains("factory"));
    b.screenshot("status-about");

    // Certificates: a good CA and a bad file in one upload; both outcomes shown.
    let uploads = tempfile::tempdir().unwrap();
    let good = uploads.path().join("vendor-root.pem");
    std::fs::write(&good, s.ca.root_pem()).unwrap();
    let bad = uploads.path().join("cut-off.pem");
    std::fs::write(&bad, &s.ca.root_pem().as_bytes()[..200]).unwrap();
    b.goto(&format!("{base}/certificates"));
    b.wait_title("Certificates");
    assert!(b.text("#identity").contains("factory"));
    b.type_into(
        "#trusted-file",
        &format!("{}\n{}", good.display(), bad.display()),
    );
    b.click("#trusted-upload");
    let results = b.text("#upload-results");
    assert!(results.contains("vendor-root.pem: accepted"), "{results}");
    assert!(results.contains("cut-off.pem: refused"), "{results}");
    assert!(results.contains("truncated PEM"), "{results}");
    assert!(b.text("#files-trusted").contains("vendor-root.pem"));
    b.screenshot("certificates-upload");

    // The override: "Identity in use" changes to override.
    let mine = mint_device(
        &s.ca,
        &DeviceRequest::new("00:22:ee:00:00:09".parse().unwrap()),
    )
    .unwrap();
    let sipclient = uploads.path().join("sipclient.pem");
    std::fs::write(&sipclient, mine.combined_pem().as_bytes()).unwrap();
    b.goto(&format!("{base}/certificates"));
    b.wait_title("Certificates");
    b.type_into("#sipclient-file", &sipclient.display().to_string());
    b.click("#sipclient-upload");
    let notice = b.text("#notice");
    assert!(notice.contains("accepted"), "{notice}");
    let identity = b.text("#identity");
    assert!(identity.contains("override"), "{identity}");
    b.screenshot("override-identity");

    // Settings: edit one, see it applied (the masked diff and the new value).
    b.goto(&format!("{base}/settings"));
    b.wait_title("Settings");
    b.type_into("#sip-u1-dname", "Lobby Door");
    b.click("#save-settings");
    let result = b.text("#settings-result");
    assert!(result.contains("+ sip.u1.dname = Lobby Door"), "{result}");
    assert!(std::fs::read_to_string(data.join("user/config.conf"))
        .unwrap()
        .contains("sip.u1.dname = Lobby Door"));
    b.screenshot("settings-applied");

    // Provisioning now.
    b.goto(&format!("{base}/provisioning"));
    b.wait_title("Provisioning");
    b.click("#provision-now");
    let result = b.text("#provision-result");
    assert!(result.contains("algom0022ee0a0b0c.conf"), "{result}");
    b.screenshot("provisioning");

    // Maintenance: factory reset with its confirmation step.
    b.goto(&format!("{base}/maintenance"));
    b.wait_title("Maintenance");
    b.screenshot("maintenance");
    b.click("#factory-reset");
    b.wait_title("Confirm factory reset");
    b.screenshot("factory-reset-confirm");
    b.click("#confirm-reset");
    let done = b.text("#reset-result");
    assert!(done.contains("Factory reset done"), "{done}");
    b.screenshot("factory-reset-done");
    assert!(!data.join("user/config.conf").exists());
    assert!(data.join("factory/device.pem").exists());
    println!("screenshots in {}: {:?}", b.shots.display(), b.taken);
    assert_eq!(b.taken.len(), 11);
}
