//! Shared by the web interface tests: a minted device with the lab servers
//! (HTTPS provisioning and SIP registrar, both requiring device
//! certificates), `sigil device run --web-listen 127.0.0.1:PORT`, and an
//! HTTPS client that trusts the device only by its `httpd.pem`.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use sigil_identity::mint::{mint_device, DeviceRequest, VendorCa};
use sigil_lab::{ProvisioningServer, SipServer};

pub const MAC: &str = "00:22:ee:0a:0b:0c";
pub const SIP_PASSWORD: &str = "web-test-secret";

/// A device data directory and the servers it talks to.
pub struct Scene {
    pub dir: tempfile::TempDir,
    pub ca: VendorCa,
    pub sip: Option<SipServer>,
    pub prov: Option<ProvisioningServer>,
}

impl Scene {
    pub fn data(&self) -> PathBuf {
        self.dir.path().join("device")
    }
}

/// A minted device provisioned to register with the lab SIP server.
pub fn scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let lab = crate::common::lab_device(
        dir.path(),
        "Web Test Vendor",
        MAC,
        SIP_PASSWORD,
        "sip.srtp.offer = optional\n",
        "",
    );
    Scene {
        dir,
        ca: lab.ca,
        sip: Some(lab.sip),
        prov: Some(lab.prov),
    }
}

/// A minted device with no configuration and no servers: its boot fails at
/// once and the web interface stays up.
pub fn bare_scene() -> Scene {
    let dir = tempfile::tempdir().unwrap();
    let ca = VendorCa::generate("Web Test Vendor").unwrap();
    let device = mint_device(&ca, &DeviceRequest::new(MAC.parse().unwrap())).unwrap();
    device
        .write_factory(&dir.path().join("device/factory"))
        .unwrap();
    Scene {
        dir,
        ca,
        sip: None,
        prov: None,
    }
}

/// `sigil device run --web-listen 127.0.0.1:PORT --json-log`, stopped with SIGTERM when dropped.
pub struct Device {
    pub child: Child,
    pub addr: String,
    pub lines: Arc<Mutex<Vec<String>>>,
}

impl Device {
    pub fn start(data: &Path) -> Device {
        let port = sigil_testkit::free_port();
        let addr = format!("127.0.0.1:{port}");
        let mut child = Command::new(env!("CARGO_BIN_EXE_sigil"))
            .args([
                "device",
                "run",
                "--json-log",
                "--web-listen",
                &addr,
                "--data",
            ])
            .arg(data)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        let device = Device { child, addr, lines };
        let deadline = Instant::now() + Duration::from_secs(30);
        // Bounded: the boot (with provisioning and REGISTER) takes a second or two.
        while Instant::now() < deadline {
            if device.saw("\"type\":\"web\"") {
                return device;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!(
            "the web interface did not start: {:?}",
            device.lines.lock().unwrap()
        );
    }

    pub fn saw(&self, needle: &str) -> bool {
        self.lines
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains(needle))
    }

    pub fn base(&self) -> String {
        format!("https://{}", self.addr)
    }
}

impl Drop for Device {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The certificates of a PEM file.
pub fn pem_certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .unwrap()
}

/// An HTTPS client that trusts exactly these certificates (no other root, verification on).
pub fn agent_trusting(certs: &[CertificateDer<'static>]) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    let roots: Vec<Certificate<'static>> = certs
        .iter()
        .map(|c| Certificate::from_der(c.as_ref()).to_owned())
        .collect();
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .max_redirects(0)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// An HTTPS client pinned on the device's current `certs/httpd.pem`.
pub fn agent_for(data: &Path) -> ureq::Agent {
    let pem = std::fs::read(data.join("user/certs/httpd.pem")).unwrap();
    agent_trusting(&pem_certs(&pem))
}

/// A logged-in (or not) API client.
pub struct Api {
    pub agent: ureq::Agent,
    pub base: String,
    pub cookie: Option<String>,
    pub csrf: Option<String>,
}

/// An answer: status, headers we look at, and the body as JSON (or text).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub text: String,
}

impl Answer {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {} {}", self.status, self.text))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn answer(r: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<Answer, ureq::Error> {
    let mut r = r?;
    let headers = r
        .headers()
        .iter()
        .map(|(n, v)| (n.to_string(), v.to_str().unwrap_or("").to_owned()))
        .collect();
    let status = r.status().as_u16();
    let text = r.body_mut().read_to_string().unwrap_or_default();
    Ok(Answer {
        status,
        headers,
        text,
    })
}

/// A multipart body: `(field, file name, bytes)`; returns (content type, body).
pub fn multipart(parts: &[(&str, Option<&str>, &[u8])]) -> (String, Vec<u8>) {
    let boundary = "sigil-test-boundary-7d1f0c";
    let mut body = Vec::new();
    for (field, file, bytes) in parts {
        body.extend_from_slice(format!("--{boundary}\r\n").as_bytes());
        match file {
            Some(name) => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"; filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n").as_bytes(),
            ),
            None => body.extend_from_slice(
                format!("Content-Disposition: form-data; name=\"{field}\"\r\n\r\n").as_bytes(),
            ),
        }
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    (format!("multipart/form-data; boundary={boundary}"), body)
}

impl Api {
    pub fn new(agent: ureq::Agent, base: String) -> Api {
        Api {
            agent,
            base,
            cookie: None,
            csrf: None,
        }
    }

    fn with_auth<B>(
        &self,
        mut req: ureq::RequestBuilder<B>,
        csrf: bool,
    ) -> ureq::RequestBuilder<B> {
        if let Some(c) = &self.cookie {
            req = req.header("Cookie", c);
        }
        if csrf {
            if let Some(t) = &self.csrf {
                req = req.header("X-CSRF-Token", t);
            }
        }
        req
    }

    pub fn get(&self, path: &str) -> Answer {
        let req = self.with_auth(self.agent.get(format!("{}{path}", self.base)), false);
        answer(req.call()).unwrap()
    }

    pub fn send_json(
        &self,
        method: &str,
        path: &str,
        body: &serde_json::Value,
        csrf: bool,
    ) -> Answer {
        let url = format!("{}{path}", self.base);
        let text = body.to_string();
        let r = match method {
            "PUT" => self
                .with_auth(self.agent.put(&url), csrf)
                .header("Content-Type", "application/json")
                .send(text.as_bytes()),
            _ => self
                .with_auth(self.agent.post(&url), csrf)
                .header("Content-Type", "application/json")
                .send(text.as_bytes()),
        };
        answer(r).unwrap()
    }

    pub fn post(&self, path: &str, body: &serde_json::Value) -> Answer {
        self.send_json("POST", path, body, true)
    }

    pub fn delete(&self, path: &str) -> Answer {
        let req = self.with_auth(self.agent.delete(format!("{}{path}", self.base)), true);
        answer(req.call()).unwrap()
    }

    pub fn upload(
        &self,
        path: &str,
        parts: &[(&str, Option<&str>, &[u8])],
        csrf: bool,
    ) -> Result<Answer, ureq::Error> {
        let (content_type, body) = multipart(parts);
        let req = self
            .with_auth(self.agent.post(format!("{}{path}", self.base)), csrf)
            .header("Content-Type", content_type);
        answer(req.send(&body[..]))
    }

    /// `POST /api/login`; keeps the cookie and CSRF token on success.
    pub fn login(&mut self, password: &str) -> Answer {
        let a = self.send_json(
            "POST",
            "/api/login",
            &serde_json::json!({"password": password}),
            false,
        );
        if a.status == 200 {
            let cookie = a.header("set-cookie").unwrap().to_owned();
            self.cookie = Some(cookie.split(';').next().unwrap().to_owned());
            self.csrf = a.json()["csrf_token"].as_str().map(str::to_owned);
        }
        a
    }
}
