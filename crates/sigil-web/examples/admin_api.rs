//! A fleet script's first minutes with a new device, against the admin
//! interface on 127.0.0.1.
//!
//! A device data directory with a factory identity is minted into a
//! temporary directory and the [`WebServer`] starts beside it (the SIP side
//! is not booted: [`EndpointDevice`] then reports the offline status). An
//! HTTPS client that trusts only the device's own `httpd.pem` then:
//!
//! 1. logs in with a wrong password (401) and with the default one (200,
//!    "must change the password"),
//! 2. is refused the status until the password is changed (403), changes it,
//! 3. reads the status (MAC, manufacturer certificate, trust store),
//! 4. changes a setting (the masked diff comes back) and tries an invalid
//!    one (400 with the reason; nothing changed).
//!
//! `cargo run -p sigil-web --example admin_api` — no arguments, loopback
//! only, a few seconds; exits non-zero when an answer is not the expected one.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use serde_json::Value;
use sigil_endpoint::{DeviceDir, RunOptions};
use sigil_identity::mint::{mint_device, DeviceRequest, VendorCa};
use sigil_identity::Mac;
use sigil_web::{EndpointDevice, WebConfig, WebServer, CSRF_HEADER};

type Error = Box<dyn std::error::Error>;

/// An HTTPS client for the admin API, trusting exactly the device's certificate.
struct Admin {
    agent: ureq::Agent,
    base: String,
    cookie: Option<String>,
    csrf: Option<String>,
}

impl Admin {
    fn new(base: String, httpd_pem: &[u8]) -> Result<Admin, Error> {
        use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
        let roots = CertificateDer::pem_slice_iter(httpd_pem)
            .map(|c| c.map(|c| Certificate::from_der(c.as_ref()).to_owned()))
            .collect::<Result<Vec<_>, _>>()?;
        let tls = TlsConfig::builder()
            .provider(TlsProvider::Rustls)
            .root_certs(RootCerts::Specific(Arc::new(roots)))
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .build();
        let agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(20)))
            .build()
            .into();
        Ok(Admin {
            agent,
            base,
            cookie: None,
            csrf: None,
        })
    }

    /// One call: the status and the JSON answer; keeps the session cookie.
    fn call(&mut self, method: &str, path: &str, body: &str) -> Result<(u16, Value), Error> {
        let mut request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Content-Type", "application/json");
        if let Some(cookie) = &self.cookie {
            request = request.header("Cookie", cookie);
        }
        if let Some(csrf) = &self.csrf {
            request = request.header(CSRF_HEADER, csrf);
        }
        let mut response = self.agent.run(request.body(body.to_owned())?)?;
        if let Some(cookie) = response
            .headers()
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
        {
            self.cookie = Some(cookie.to_owned());
        }
        let status = response.status().as_u16();
        let text = response.body_mut().read_to_string()?;
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        println!("{method} {path} → {status}");
        Ok((status, json))
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("admin_api: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<bool, Error> {
    let data = tempfile::tempdir()?;
    let mac = Mac::parse("00:22:ee:01:02:03")?;
    let vendor = VendorCa::generate("Example Devices")?;
    mint_device(&vendor, &DeviceRequest::new(mac))?.write_factory(&data.path().join("factory"))?;
    let dir = DeviceDir::open(data.path())?;
    let device = Arc::new(EndpointDevice::new(
        dir.clone(),
        Box::new(RunOptions::default),
    ));
    let web = WebServer::start(
        WebConfig::new(dir.data_dir().clone(), "127.0.0.1:0".parse()?),
        device,
    )?;
    let base = format!("https://{}", web.local_addr());
    println!("admin interface on {base} (httpd.pem generated at first start)\n");
    let httpd_pem = std::fs::read(data.path().join("user/certs/httpd.pem"))?;
    let mut admin = Admin::new(base, &httpd_pem)?;
    let mut ok = true;
    let mut expect = |what: &str, got: bool| {
        println!("  {} {what}", if got { "✓" } else { "✗" });
        ok &= got;
    };

    // 1. Log in.
    let (status, _) = admin.call("POST", "/api/login", r#"{"password": "guess"}"#)?;
    expect("a wrong password is refused", status == 401);
    let (status, answer) = admin.call("POST", "/api/login", r#"{"password": "sigil"}"#)?;
    expect("the default password logs in", status == 200);
    expect(
        "… and must be changed first",
        answer["must_change_password"] == Value::Bool(true),
    );
    admin.csrf = answer["csrf_token"].as_str().map(str::to_owned);

    // 2. The password.
    let (status, answer) = admin.call("GET", "/api/status", "")?;
    println!("    {}", answer["error"].as_str().unwrap_or_default());
    expect("nothing else until then", status == 403);
    let (status, _) = admin.call(
        "POST",
        "/api/password",
        r#"{"old": "sigil", "new": "lobby door 17, second floor"}"#,
    )?;
    expect("the password is changed", status == 200);

    // 3. The status.
    let (status, answer) = admin.call("GET", "/api/status", "")?;
    let certificate = &answer["manufacturer_certificate"];
    println!(
        "    MAC {}, manufacturer certificate {} ({}, until {})",
        answer["mac"], certificate["state"], certificate["subject"], certificate["not_after"]
    );
    expect(
        "the status names the device",
        status == 200 && answer["mac"] == "00:22:ee:01:02:03",
    );

    // 4. Settings.
    let (status, answer) = admin.call(
        "PUT",
        "/api/settings",
        r#"{"prov.server": "https://prov.example.com/prov"}"#,
    )?;
    for change in answer["changes"].as_array().into_iter().flatten() {
        println!("    {}", change.as_str().unwrap_or_default());
    }
    expect("a valid setting is applied", status == 200);
    let (status, answer) =
        admin.call("PUT", "/api/settings", r#"{"sip.srtp.offer": "mandatory"}"#)?;
    for reason in answer["reasons"].as_array().into_iter().flatten() {
        println!("    {}", reason.as_str().unwrap_or_default());
    }
    expect("an invalid one is refused", status == 400);
    let (_, answer) = admin.call("GET", "/api/settings", "")?;
    expect(
        "… and changed nothing",
        answer["sip.srtp.offer"] == "optional"
            && answer["prov.server"] == "https://prov.example.com/prov",
    );

    web.shutdown();
    println!(
        "\n{}",
        if ok {
            "every answer as expected"
        } else {
            "UNEXPECTED ANSWER"
        }
    );
    Ok(ok)
}
