//! The device's HTTPS admin interface (SPEC W1–W4, ID2, ID4, TS2–TS5): the
//! pages an administrator knows from the devices being replaced — Status /
//! About, Certificates (with the file manager of `certs/` and
//! `certs/trusted/`), Settings, Provisioning, Maintenance — and the JSON API
//! under `/api/` that the pages and fleet scripts use.
//!
//! ```no_run
//! use std::sync::Arc;
//! use sigil_endpoint::{DeviceDir, RunOptions};
//! use sigil_web::{EndpointDevice, WebConfig, WebServer};
//!
//! let dir = DeviceDir::open("/data/device")?;
//! let device = Arc::new(EndpointDevice::new(dir.clone(), Box::new(RunOptions::default)));
//! device.boot(); // the SIP side, on its own thread
//! let web = WebServer::start(
//!     WebConfig::new(dir.data_dir().clone(), "0.0.0.0:443".parse()?),
//!     device,
//! )?;
//! println!("admin interface on https://{}", web.local_addr());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
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
