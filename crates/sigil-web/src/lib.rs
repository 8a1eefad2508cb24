//! The device's HTTPS admin interface (SPEC W1–W4, ID2, ID4, TS2–TS5): the
//! pages an administrator knows from the devices being replaced — Status /
//! About, Certificates (with the file manager of `certs/` and
//! `certs/trusted/`), Settings, Provisioning, Maintenance — and the JSON API
//! under `/api/` that the pages and fleet scripts use.
//!
//! ```
//! use std::sync::Arc;
//! use sigil_endpoint::{DeviceDir, RunOptions};
//! use sigil_web::{EndpointDevice, WebConfig, WebServer};
//! # use sigil_identity::mint::{mint_device, DeviceRequest, VendorCa};
//! # let data = tempfile::tempdir()?; // a device data directory: factory partition …
//! # let mac = sigil_identity::Mac::parse("00:22:ee:01:02:03")?;
//! # mint_device(&VendorCa::generate("Example Devices")?, &DeviceRequest::new(mac))?
//! #     .write_factory(&data.path().join("factory"))?;
//!
//! let dir = DeviceDir::open(data.path())?; // factory/ and user/
//! let device = Arc::new(EndpointDevice::new(dir.clone(), Box::new(RunOptions::default)));
//! // device.boot(); would start the SIP side on its own thread; the web side does not need it.
//! let web = WebServer::start(
//!     WebConfig::new(dir.data_dir().clone(), "127.0.0.1:0".parse()?), // "0.0.0.0:443" on a device
//!     device,
//! )?;
//! let base = format!("https://{}", web.local_addr());
//!
//! // An administrator's HTTPS client, trusting the httpd.pem generated at first start.
//! let httpd_pem = std::fs::read(data.path().join("user/certs/httpd.pem"))?;
//! # let roots: Vec<ureq::tls::Certificate<'static>> = rustls::pki_types::pem::PemObject::pem_slice_iter(&httpd_pem[..])
//! #     .map(|c: Result<rustls::pki_types::CertificateDer<'static>, _>| c.map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()))
//! #     .collect::<Result<_, _>>()?;
//! # let tls = ureq::tls::TlsConfig::builder()
//! #     .provider(ureq::tls::TlsProvider::Rustls)
//! #     .root_certs(ureq::tls::RootCerts::Specific(Arc::new(roots)))
//! #     .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::ring::default_provider()))
//! #     .build();
//! # let agent: ureq::Agent = ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).build().into();
//! # let call = |method: &str, path: &str, session: Option<(&str, &str)>, body: &str| -> Result<(u16, Option<String>, serde_json::Value), Box<dyn std::error::Error>> {
//! #     let request = ureq::http::Request::builder().method(method).uri(format!("{base}{path}"))
//! #         .header("Content-Type", "application/json");
//! #     let request = match session {
//! #         Some((cookie, csrf)) => request.header("Cookie", cookie).header(sigil_web::CSRF_HEADER, csrf),
//! #         None => request,
//! #     };
//! #     let mut response = agent.run(request.body(body.to_owned())?)?;
//! #     let cookie = response.headers().get("set-cookie").and_then(|v| v.to_str().ok())
//! #         .and_then(|v| v.split(';').next()).map(str::to_owned);
//! #     let text = response.body_mut().read_to_string()?;
//! #     Ok((response.status().as_u16(), cookie, serde_json::from_str(&text).unwrap_or(serde_json::Value::Null)))
//! # };
//! // `call(method, path, session, JSON body)` → (status, session cookie, JSON answer).
//!
//! // A fresh device: log in with the default password …
//! let (status, cookie, answer) = call("POST", "/api/login", None, r#"{"password": "sigil"}"#)?;
//! assert_eq!((status, answer["must_change_password"].as_bool()), (200, Some(true)));
//! let session = (cookie.as_deref().ok_or("no session cookie")?, answer["csrf_token"].as_str().ok_or("no token")?);
//! // … and nothing but a password change is allowed until it is changed.
//! assert_eq!(call("GET", "/api/status", Some(session), "")?.0, 403);
//! let new = r#"{"old": "sigil", "new": "lobby door 17, second floor"}"#;
//! assert_eq!(call("POST", "/api/password", Some(session), new)?.0, 200);
//!
//! // Now the status: the device's MAC and its manufacturer certificate.
//! let (status, _, answer) = call("GET", "/api/status", Some(session), "")?;
//! assert_eq!(status, 200);
//! assert_eq!(answer["mac"], "00:22:ee:01:02:03");
//! assert_eq!(answer["manufacturer_certificate"]["state"], "installed");
//! web.shutdown();
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/admin_api.rs` does the same as a program; `examples/firmware_web.rs`
//! is the firmware binary with the web interface beside the device.
//!
//! - HTTPS only, on `certs/httpd.pem` (made self-signed at first start when
//!   absent, SPEC ID4), TLS 1.2/1.3 with the SIP side's suite policy (ECDHE +
//!   AEAD only). An uploaded `httpd.pem` is served from the next connection on.
//! - The server runs on its own thread with a current-thread tokio runtime,
//!   beside the device's blocking driver; it reaches the device only through
//!   [`DeviceControl`] (status, restart the SIP stack, provision now, factory
//!   reset). [`EndpointDevice`] implements it with
//!   [`sigil_endpoint::DeviceDir`] and [`sigil_endpoint::RunningDevice`].
//! - Security: a fresh device answers 403 "change the default password" to
//!   everything but login and password change; sessions in `Secure;
//!   HttpOnly; SameSite=Strict` cookies with random ids and an idle expiry;
//!   a CSRF token on every change (`X-CSRF-Token` for the API, a hidden field
//!   in forms); login rate-limited per source address with exponential
//!   back-off; CSP, `X-Frame-Options: DENY` and HSTS on every answer; uploads
//!   capped at 1 MiB per file and 4 MiB per request; uploaded file names are
//!   never used as paths; every write is atomic (a 0600 temporary file, then
//!   a rename) and configuration changes go through
//!   [`sigil_provisioning::ConfigStore::apply`], so a refused change changes
//!   nothing.
//!
//! Pages are rendered on the server with escaping helpers (no template
//! engine, no build step, no CDN); they work without JavaScript.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod api;
mod auth;
mod endpoint;
mod error;
mod files;
pub mod form;
mod html;
mod pages;
mod server;
mod settings;
mod state;
mod tls;

use std::net::SocketAddr;

pub use endpoint::EndpointDevice;
pub use error::WebError;
pub use files::{sanitize_file_name, MAX_BODY, MAX_FILE};
pub use server::WebServer;
pub use settings::{Field, FieldKind, FIELDS, GROUPS};

use sigil_endpoint::{DataDir, DeviceStatus, ProvisioningStatus};

/// How long a session may stay idle before it has to log in again.
pub const SESSION_IDLE: std::time::Duration = std::time::Duration::from_secs(15 * 60);
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "sigil_session";
/// The header carrying the CSRF token of API calls.
pub const CSRF_HEADER: &str = "x-csrf-token";

/// Where and how the admin interface runs.
#[derive(Debug, Clone)]
pub struct WebConfig {
    /// The device data directory (`factory/`, `user/`).
    pub data_dir: DataDir,
    /// Where to listen (`web.https.port` on every address, or `--web-listen`).
    pub listen: SocketAddr,
    /// The model name shown on the About page.
    pub model: String,
    /// The firmware version shown on the About page.
    pub firmware: String,
    /// Names (DNS names or IP addresses) put in a generated `httpd.pem`
    /// besides the MAC; the listen address is added when it is not a wildcard.
    pub names: Vec<String>,
}

impl WebConfig {
    /// A configuration with model `sigil`, this crate's version as firmware
    /// and no extra names.
    pub fn new(data_dir: DataDir, listen: SocketAddr) -> Self {
        WebConfig {
            data_dir,
            listen,
            model: "sigil".to_owned(),
            firmware: env!("CARGO_PKG_VERSION").to_owned(),
            names: Vec::new(),
        }
    }
}

/// What the web interface needs from the running device. Every method may
/// block (they run on a blocking thread of the web server, never on its
/// event loop) but must return within about 20 s.
pub trait DeviceControl: Send + Sync + 'static {
    /// The device's status now: boot steps, registration, connections, calls.
    fn status(&self) -> DeviceStatus;
    /// Restarts the SIP stack (stop, un-REGISTER, boot again with the
    /// configuration and certificates on disk). `Ok` with a one-line summary,
    /// `Err` with why the new boot failed.
    fn restart(&self) -> Result<String, String>;
    /// Fetches and applies the provisioning file now; restarts the SIP stack
    /// when it changed the configuration.
    fn provision(&self) -> ProvisioningStatus;
    /// Factory reset (SPEC ID8): stops the SIP stack and wipes the user
    /// store; the factory partition stays. Returns what was removed.
    fn factory_reset(&self) -> Result<Vec<String>, String>;
}
