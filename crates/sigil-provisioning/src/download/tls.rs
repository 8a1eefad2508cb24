//! Downloading the configuration file (SPEC P2–P5) over HTTPS with our
//! rustls configuration: the trust store's verifier (or, named so, no
//! validation) and the device identity for mutual TLS.
//!
//! The HTTP client is `ureq` 3. Its own TLS settings cannot take a complete
//! `rustls::ClientConfig` (a custom verifier and client-certificate resolver),
//! so the download plugs a small TLS connector ([`SigilTls`]) into ureq's
//! transport chain: TCP from ureq, TLS from our `ClientConfig`, HTTP/1.1,
//! redirects, timeouts and body limits from ureq. The connector also keeps
//! the TLS layer's own error, so a failure is explained in the installer's
//! terms (unknown issuer and its name, expired, wrong name, client
//! certificate refused …) instead of a bare "I/O error".

use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use md5::{Digest, Md5};
use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::{AlertDescription, ClientConfig, ClientConnection, StreamOwned};
use sigil_trust::{NameCheck, ServerVerifier, TrustStore, Verification, VerifyError};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};
use zeroize::Zeroizing;

use crate::settings::Settings;
use crate::values::{normalize_mac, DownloadMethod, ProvServer};

/// Default size limit of a configuration file download (1 MiB).
pub const DEFAULT_MAX_SIZE: u64 = 1024 * 1024;
/// Size limit of a `.md5` file.
const MAX_MD5_SIZE: u64 = 1024;
/// Size limit of an error page read for diagnosis.
const MAX_ERROR_PAGE: u64 = 4096;

/// Limits and switches of a download.
#[derive(Debug, Clone)]
pub struct DownloadOptions {
    /// Largest file accepted (default [`DEFAULT_MAX_SIZE`]).
    pub max_size: u64,
    /// Limit for establishing the TCP connection (default 5 s).
    pub connect_timeout: Duration,
    /// Limit for each request, connection to last byte (default 20 s).
    pub request_timeout: Duration,
    /// Check `<file>.md5` when the server has one (default true).
    pub check_md5: bool,
    /// Most redirects followed (default 3; never from https to http).
    pub max_redirects: u32,
}

impl Default for DownloadOptions {
    fn default() -> Self {
        DownloadOptions {
            max_size: DEFAULT_MAX_SIZE,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(20),
            check_md5: true,
            max_redirects: 3,
        }
    }
}

/// Which files to look for, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPlan {
    /// The directory URL, ending in `/`.
    pub base: String,
    /// The method of `base`.
    pub method: DownloadMethod,
    /// File names in search order: per-device, model, generic.
    pub names: Vec<String>,
}

impl SearchPlan {
    /// The search order of SPEC P5 for `server`: the per-device file (when
    /// the MAC is known), the model file (when the model is known), the
    /// generic file; names from the settings' patterns (`prov.name.*`,
    /// defaults `algom<mac>.conf`, `algop<model>.conf`, `algop.conf`).
    ///
    /// `server` overrides `prov.server`; its scheme, else
    /// `prov.download.method`, decides the method. The MAC is written as 12
    /// lowercase hex digits.
    ///
    /// # Errors
    ///
    /// No server, or a MAC or model that cannot be part of a file name.
    pub fn new(
        settings: &Settings,
        server: Option<&ProvServer>,
        mac: Option<&str>,
        model: Option<&str>,
    ) -> Result<SearchPlan, DownloadError> {
        let server = server
            .or(settings.prov_server.as_ref())
            .ok_or(DownloadError::NoServer)?;
        let method = server
            .scheme
            .or(settings.prov_download_method)
            .unwrap_or(DownloadMethod::Https);
        let mut path = server.path.clone();
        if !path.ends_with('/') {
            path.push('/');
        }
        let base = format!("{method}://{}{path}", server.authority);
        let mut names = Vec::new();
        if let Some(mac) = mac {
            let mac = normalize_mac(mac).map_err(DownloadError::BadName)?;
            names.push(settings.prov_name_device.replace("{mac}", &mac));
        }
        if let Some(model) = model {
            if model.is_empty()
                || model.len() > 64
                || !model
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
                || model.contains("..")
            {
                return Err(DownloadError::BadName(format!(
                    "{model:?} is not a model name (letters, digits, '-', '_', '.')"
                )));
            }
            names.push(settings.prov_name_model.replace("{model}", model));
        }
        names.push(settings.prov_name_generic.clone());
        Ok(SearchPlan {
            base,
            method,
            names,
        })
    }

    /// The URLs in search order.
    pub fn urls(&self) -> Vec<String> {
        self.names
            .iter()
            .map(|name| format!("{}{name}", self.base))
            .collect()
    }
}

/// The TLS side of a download: the rustls configuration and, when it was
/// built from our trust store, the verifier to ask how the server was checked.
#[derive(Debug, Clone)]
pub struct HttpsClient {
    config: Arc<ClientConfig>,
    verifier: Option<Arc<ServerVerifier>>,
}

impl HttpsClient {
    /// Our provisioning client: servers checked against `store` by host name
    /// (or, when `validate` is false, **not verified** — still encrypted,
    /// SPEC P3), presenting `identity` when a server asks for a client
    /// certificate (SPEC P4). TLS 1.2 and 1.3, ECDHE with AEAD ciphers only
    /// (the ring provider's defaults). No TLS key log unless asked for with
    /// [`HttpsClient::with_key_log`] (the environment is never consulted).
    ///
    /// # Errors
    ///
    /// rustls refuses the configuration (not expected with the ring provider).
    pub fn new(
        store: Arc<TrustStore>,
        validate: bool,
        identity: Option<Arc<dyn ResolvesClientCert>>,
    ) -> Result<HttpsClient, rustls::Error> {
        let mut verifier = ServerVerifier::new(store, NameCheck::Host);
        if !validate {
            verifier = verifier.dangerous_no_validation();
        }
        let verifier = Arc::new(verifier);
        let builder =
            ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
                .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
                .dangerous() // rustls' name for a custom verifier; ours verifies unless told not to
                .with_custom_certificate_verifier(verifier.clone());
        let config = match identity {
            Some(resolver) => builder.with_client_cert_resolver(resolver),
            None => builder.with_no_client_auth(),
        };
        Ok(HttpsClient {
            config: Arc::new(config),
            verifier: Some(verifier),
        })
    }

    /// Writes the session secrets of every download to `path` in the
    /// `SSLKEYLOGFILE` format, so Wireshark can decrypt a capture (SPEC T5).
    /// A debugging aid the integrator turns on explicitly; a warning is logged.
    ///
    /// # Errors
    ///
    /// The file cannot be opened for writing.
    pub fn with_key_log(self, path: &std::path::Path) -> std::io::Result<HttpsClient> {
        let mut config = (*self.config).clone();
        config.key_log = Arc::new(sigil_trust::KeyLogWriter::create(path)?);
        Ok(HttpsClient {
            config: Arc::new(config),
            ..self
        })
    }

    /// A caller-supplied rustls configuration (e.g. with its own verifier).
    /// The result then cannot say how the server was verified: it reports
    /// "encrypted" with verification unknown.
    pub fn from_config(config: Arc<ClientConfig>) -> HttpsClient {
        HttpsClient {
            config,
            verifier: None,
        }
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

/// How the channel of a download was protected (SPEC T2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChannelSecurity {
    /// Plain HTTP: "not encrypted".
    NotEncrypted,
    /// HTTPS.
    Encrypted {
        /// Negotiated TLS version, e.g. `TLSv1_3`.
        version: String,
        /// Negotiated cipher suite, e.g. `TLS13_AES_256_GCM_SHA384`.
        suite: String,
        /// How the server was checked (`None` with a caller-supplied configuration).
        verification: Option<Verification>,
    },
}

impl ChannelSecurity {
    /// Whether the server proved its identity.
    pub fn is_verified(&self) -> bool {
        matches!(self, ChannelSecurity::Encrypted { verification: Some(v), .. } if v.is_verified())
    }

    /// The short status: `not encrypted`, `encrypted, server verified`,
    /// `encrypted, server not verified`.
    pub fn status(&self) -> &'static str {
        match self {
            ChannelSecurity::NotEncrypted => "not encrypted",
            ChannelSecurity::Encrypted {
                verification: Some(v),
                ..
            } if v.is_verified() => "encrypted, server verified",
            ChannelSecurity::Encrypted {
                verification: None, ..
            } => "encrypted, verification unknown (caller-supplied TLS configuration)",
            ChannelSecurity::Encrypted { .. } => "encrypted, server not verified",
        }
    }
}

impl fmt::Display for ChannelSecurity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ChannelSecurity::NotEncrypted => f.write_str(
                "not encrypted (http): the file and its passwords crossed the network in clear",
            ),
            ChannelSecurity::Encrypted {
                version,
                suite,
                verification,
            } => {
                write!(f, "{} ({version}, {suite})", self.status())?;
                if let Some(v) = verification {
                    write!(f, "; {v}")?;
                }
                Ok(())
            }
        }
    }
}

/// The `.md5` check of a download.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Md5Check {
    /// The server has no `<file>.md5` (HTTP 404).
    Absent,
    /// `<file>.md5` matched.
    Matched(String),
    /// Not checked ([`DownloadOptions::check_md5`] is off).
    Skipped,
}

/// One URL tried that did not have the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attempt {
    /// The URL.
    pub url: String,
    /// The HTTP status (404).
    pub status: u16,
}

/// A downloaded configuration file.
pub struct Fetched {
    /// The URL the file came from (after redirects).
    pub url: String,
    /// The file (may hold passwords: wiped on drop, never logged).
    pub body: Zeroizing<Vec<u8>>,
    /// How the channel was protected.
    pub security: ChannelSecurity,
    /// The `.md5` check.
    pub md5: Md5Check,
    /// URLs tried before, which answered 404.
    pub tried: Vec<Attempt>,
}

impl fmt::Debug for Fetched {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetched")
            .field("url", &self.url)
            .field("bytes", &self.body.len())
            .field("security", &self.security)
            .field("md5", &self.md5)
            .field("tried", &self.tried)
            .finish()
    }
}

/// Why a download failed. The active configuration is never touched by a download.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// Neither `prov.server` nor an explicit server is set.
    #[error("no provisioning server: set prov.server (or pass a server URL)")]
    NoServer,
    /// The MAC or model cannot be made into a file name.
    #[error("{0}")]
    BadName(String),
    /// No candidate file exists on the server.
    #[error("no configuration file on the server: {} all answered 404", .tried.join(", "))]
    NotFound {
        /// The URLs tried.
        tried: Vec<String>,
    },
    /// The TLS handshake (or the TLS layer later) failed.
    #[error("TLS with {url} failed: {diagnosis}")]
    Tls {
        /// The URL.
        url: String,
        /// What went wrong, in an installer's words (from the trust store's verifier where it applies).
        diagnosis: String,
        /// The typed certificate verification failure, when that was the cause.
        verify: Option<Box<VerifyError>>,
    },
    /// The server requires a client certificate and the device has none.
    #[error("{url}: the server requires a client certificate and this device has none to present (HTTP {status}: {page})")]
    ClientCertificateRequired {
        /// The URL.
        url: String,
        /// The HTTP status (nginx: 400).
        status: u16,
        /// The server's message.
        page: String,
    },
    /// The server refused the device's client certificate.
    #[error("{url}: the server rejected this device's client certificate (HTTP {status}: {page}); does the server trust the vendor CA chain?")]
    ClientCertificateRejected {
        /// The URL.
        url: String,
        /// The HTTP status (nginx: 400).
        status: u16,
        /// The server's message.
        page: String,
    },
    /// Any HTTP status other than 200 and 404 stops the search.
    #[error("{url}: HTTP {status}{}", if page.is_empty() { String::new() } else { format!(" ({page})") })]
    Http {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
        /// The start of the server's error page, as text.
        page: String,
    },
    /// A redirect from https to http was refused.
    #[error("{url}: refused a redirect from https to plain http ({detail})")]
    InsecureRedirect {
        /// The URL.
        url: String,
        /// ureq's detail.
        detail: String,
    },
    /// The file is larger than the limit.
    #[error("{url}: the file is larger than {limit} bytes")]
    TooLarge {
        /// The URL.
        url: String,
        /// The limit.
        limit: u64,
    },
    /// The file does not match its `.md5`.
    #[error("{url}: MD5 mismatch: {url}.md5 says {expected}, the file has {actual}")]
    Md5Mismatch {
        /// The URL of the file.
        url: String,
        /// The published checksum.
        expected: String,
        /// The checksum of what was received.
        actual: String,
    },
    /// `<file>.md5` is not a lowercase hex MD5.
    #[error("{url}.md5 does not hold a lowercase hex MD5 (32 characters 0-9a-f)")]
    Md5Invalid {
        /// The URL of the file.
        url: String,
    },
    /// The connection failed or timed out (TCP level).
    #[error("{url}: {detail}")]
    Network {
        /// The URL.
        url: String,
        /// What happened.
        detail: String,
    },
}

/// What our TLS connector observed; shared with the download.
#[derive(Debug, Default)]
struct TlsObserved {
    error: Option<rustls::Error>,
    version: Option<String>,
    suite: Option<String>,
}

type Observed = Arc<Mutex<TlsObserved>>;

fn observe(observed: &Observed, f: impl FnOnce(&mut TlsObserved)) {
    match observed.lock() {
        Ok(mut guard) => f(&mut guard),
        Err(poisoned) => f(&mut poisoned.into_inner()),
    }
}

fn record_io_error(observed: &Observed, e: &std::io::Error) {
    if let Some(tls) = e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        let tls = tls.clone();
        observe(observed, |o| o.error = Some(tls));
    }
}

/// ureq connector wrapping the TCP transport in TLS with our `ClientConfig`.
pub struct SigilTls {
    config: Arc<ClientConfig>,
    observed: Observed,
}

impl fmt::Debug for SigilTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigilTls").finish_non_exhaustive()
    }
}

impl<In: Transport> Connector<In> for SigilTls {
    type Out = Either<In, SigilTlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("URL without a host"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let name = ServerName::try_from(host.to_owned())
            .map_err(|_| ureq::Error::Tls("the host is not a valid TLS server name"))?;
        let mut conn = ClientConnection::new(self.config.clone(), name).map_err(|e| {
            observe(&self.observed, |o| o.error = Some(e.clone()));
            ureq::Error::Io(std::io::Error::other(e))
        })?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        if let Err(e) = conn.complete_io(&mut sock) {
            record_io_error(&self.observed, &e);
            return Err(ureq::Error::Io(e));
        }
        let version = conn.protocol_version().map(|v| format!("{v:?}"));
        let suite = conn
            .negotiated_cipher_suite()
            .map(|s| format!("{:?}", s.suite()));
        observe(&self.observed, |o| {
            o.version = version;
            o.suite = suite;
        });
        Ok(Some(Either::B(SigilTlsTransport {
            buffers: LazyBuffers::new(
                details.config.input_buffer_size(),
                details.config.output_buffer_size(),
            ),
            stream: StreamOwned { conn, sock },
            observed: self.observed.clone(),
        })))
    }
}

/// The TLS transport our connector produces.
pub struct SigilTlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
    observed: Observed,
}

impl fmt::Debug for SigilTlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigilTlsTransport").finish_non_exhaustive()
    }
}

impl Transport for SigilTlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = self
            .buffers
            .output()
            .get(..amount)
            .ok_or(ureq::Error::Tls("output larger than the buffer"))?;
        if let Err(e) = self.stream.write_all(output) {
            record_io_error(&self.observed, &e);
            return Err(ureq::Error::Io(e));
        }
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        match self.stream.read(input) {
            Ok(amount) => {
                self.buffers.input_appended(amount);
                Ok(amount > 0)
            }
            Err(e) => {
                record_io_error(&self.observed, &e);
                Err(ureq::Error::Io(e))
            }
        }
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}

/// Explains a rustls error in an installer's words; the trust store's typed
/// reason when certificate verification failed.
pub fn diagnose_tls(error: &rustls::Error) -> (String, Option<Box<VerifyError>>) {
    if let Some(reason) = VerifyError::from_tls_error(error) {
        return (reason.to_string(), Some(Box::new(reason.clone())));
    }
    let text = match error {
        rustls::Error::AlertReceived(AlertDescription::CertificateRequired) => {
            "the server demanded a client certificate and this device has none to present".to_owned()
        }
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::BadCertificate
            | AlertDescription::UnknownCA
            | AlertDescription::CertificateUnknown
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateRevoked
            | AlertDescription::AccessDenied
            | AlertDescription::UnsupportedCertificate),
        ) => format!(
            "the server rejected this device's client certificate (alert {alert:?}); does it trust the vendor CA chain?"
        ),
        rustls::Error::AlertReceived(
            alert @ (AlertDescription::ProtocolVersion
            | AlertDescription::HandshakeFailure
            | AlertDescription::InsufficientSecurity),
        ) => format!(
            "no common TLS version or cipher suite with the server (alert {alert:?}); this device offers TLS 1.2/1.3 with ECDHE and AES-GCM or ChaCha20-Poly1305 only"
        ),
        rustls::Error::PeerIncompatible(why) => format!(
            "the server is incompatible: {why:?} (this device offers TLS 1.2/1.3 with ECDHE and AEAD ciphers only)"
        ),
        rustls::Error::AlertReceived(alert) => format!("the server sent TLS alert {alert:?}"),
        rustls::Error::InvalidCertificate(e) => format!("the server's certificate is invalid: {e:?}"),
        other => format!("TLS error: {other}"),
    };
    (text, None)
}

/// Downloads the configuration file: the first name of `plan` that exists
/// (404 moves on to the next name; any other failure stops), then its
/// optional `.md5`.
///
/// `tls` is required for https; http downloads work without it and are
/// reported [`ChannelSecurity::NotEncrypted`].
///
/// # Errors
///
/// See [`DownloadError`]: each failure says what to fix, with the TLS
/// layer's diagnosis where it applies.
pub fn fetch(
    plan: &SearchPlan,
    tls: Option<&HttpsClient>,
    options: &DownloadOptions,
) -> Result<Fetched, DownloadError> {
    let https = plan.method == DownloadMethod::Https;
    let observed: Observed = Arc::default();
    let config = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .https_only(https)
        .max_redirects(options.max_redirects)
        .timeout_connect(Some(options.connect_timeout))
        .timeout_global(Some(options.request_timeout))
        .user_agent(concat!("sigil-provisioning/", env!("CARGO_PKG_VERSION")))
        .build();
    let tls_config = match (https, tls) {
        (true, Some(client)) => client.config.clone(),
        (true, None) => {
            return Err(DownloadError::Tls {
                url: plan.base.clone(),
                diagnosis: "https needs a TLS configuration (trust store and identity)".to_owned(),
                verify: None,
            })
        }
        // Unused for http: ureq never asks the TLS connector for an http URL.
        (false, _) => match tls {
            Some(client) => client.config.clone(),
            None => Arc::new(
                ClientConfig::builder_with_provider(Arc::new(
                    rustls::crypto::ring::default_provider(),
                ))
                .with_safe_default_protocol_versions()
                .map_err(|e| DownloadError::Network {
                    url: plan.base.clone(),
                    detail: e.to_string(),
                })?
                .with_root_certificates(rustls::RootCertStore::empty())
                .with_no_client_auth(),
            ),
        },
    };
    let connector = ().chain(TcpConnector::default()).chain(SigilTls {
        config: tls_config,
        observed: observed.clone(),
    });
    let agent = ureq::Agent::with_parts(config, connector, DefaultResolver::default());
    let mut tried = Vec::new();
    for url in plan.urls() {
        match get(&agent, &url, options.max_size, &observed)? {
            Got::NotFound => {
                log::info!("{url}: 404, trying the next name");
                tried.push(Attempt { url, status: 404 });
            }
            Got::Body { final_url, body } => {
                let md5 = if options.check_md5 {
                    check_md5(&agent, &url, &body, &observed)?
                } else {
                    Md5Check::Skipped
                };
                let security = if final_url.starts_with("https://") {
                    let o = observed
                        .lock()
                        .map(|g| (g.version.clone(), g.suite.clone()));
                    let (version, suite) = o.unwrap_or_default();
                    ChannelSecurity::Encrypted {
                        version: version.unwrap_or_default(),
                        suite: suite.unwrap_or_default(),
                        verification: tls
                            .and_then(|t| t.verifier.as_ref())
                            .and_then(|v| v.last_verification()),
                    }
                } else {
                    ChannelSecurity::NotEncrypted
                };
                log::info!(
                    "{final_url}: downloaded {} bytes ({})",
                    body.len(),
                    security.status()
                );
                return Ok(Fetched {
                    url: final_url,
                    body,
                    security,
                    md5,
                    tried,
                });
            }
        }
    }
    Err(DownloadError::NotFound {
        tried: tried.into_iter().map(|a| a.url).collect(),
    })
}

enum Got {
    NotFound,
    Body {
        final_url: String,
        body: Zeroizing<Vec<u8>>,
    },
}

fn page_text(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    // The <title> of an nginx error page says it all; else the first words.
    let inner = text
        .find("<title>")
        .and_then(|start| {
            let rest = &text[start + 7..];
            rest.find("</title>").map(|end| rest[..end].to_owned())
        })
        .unwrap_or_else(|| text.chars().take(160).collect());
    inner
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

fn map_error(url: &str, error: ureq::Error, observed: &Observed, limit: u64) -> DownloadError {
    let tls_error = observed.lock().ok().and_then(|mut g| g.error.take());
    if let Some(tls) = tls_error {
        let (diagnosis, verify) = diagnose_tls(&tls);
        return DownloadError::Tls {
            url: url.to_owned(),
            diagnosis,
            verify,
        };
    }
    match error {
        ureq::Error::RequireHttpsOnly(detail) => DownloadError::InsecureRedirect {
            url: url.to_owned(),
            detail,
        },
        ureq::Error::BodyExceedsLimit(_) => DownloadError::TooLarge {
            url: url.to_owned(),
            limit,
        },
        ureq::Error::Timeout(what) => DownloadError::Network {
            url: url.to_owned(),
            detail: format!("timed out ({what})"),
        },
        ureq::Error::HostNotFound => DownloadError::Network {
            url: url.to_owned(),
            detail: "host not found (DNS)".to_owned(),
        },
        ureq::Error::Io(e) => DownloadError::Network {
            url: url.to_owned(),
            detail: format!("connection failed: {e}"),
        },
        other => DownloadError::Network {
            url: url.to_owned(),
            detail: other.to_string(),
        },
    }
}

fn get(
    agent: &ureq::Agent,
    url: &str,
    limit: u64,
    observed: &Observed,
) -> Result<Got, DownloadError> {
    use ureq::ResponseExt;
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| map_error(url, e, observed, limit))?;
    let status = response.status().as_u16();
    let final_url = response.get_uri().to_string();
    match status {
        200 => {
            let body = response
                .body_mut()
                .with_config()
                .limit(limit)
                .read_to_vec()
                .map_err(|e| map_error(url, e, observed, limit))?;
            Ok(Got::Body {
                final_url,
                body: Zeroizing::new(body),
            })
        }
        404 => Ok(Got::NotFound),
        _ => {
            let page = response
                .body_mut()
                .with_config()
                .limit(MAX_ERROR_PAGE)
                .read_to_vec()
                .map(|b| page_text(&b))
                .unwrap_or_default();
            let lower = page.to_ascii_lowercase();
            Err(if lower.contains("no required ssl certificate") {
                DownloadError::ClientCertificateRequired {
                    url: url.to_owned(),
                    status,
                    page,
                }
            } else if lower.contains("ssl certificate error") {
                DownloadError::ClientCertificateRejected {
                    url: url.to_owned(),
                    status,
                    page,
                }
            } else {
                DownloadError::Http {
                    url: url.to_owned(),
                    status,
                    page,
                }
            })
        }
    }
}

fn check_md5(
    agent: &ureq::Agent,
    url: &str,
    body: &[u8],
    observed: &Observed,
) -> Result<Md5Check, DownloadError> {
    let md5_url = format!("{url}.md5");
    match get(agent, &md5_url, MAX_MD5_SIZE, observed)? {
        Got::NotFound => Ok(Md5Check::Absent),
        Got::Body {
            body: published, ..
        } => {
            // `md5sum` output is "<hex>  <name>": the first word is the checksum.
            let text = String::from_utf8_lossy(&published);
            let expected = text.split_whitespace().next().unwrap_or("");
            if expected.len() != 32
                || !expected
                    .bytes()
                    .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
            {
                return Err(DownloadError::Md5Invalid {
                    url: url.to_owned(),
                });
            }
            let actual: String = Md5::digest(body)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect();
            if actual == expected {
                Ok(Md5Check::Matched(actual))
            } else {
                Err(DownloadError::Md5Mismatch {
                    url: url.to_owned(),
                    expected: expected.to_owned(),
                    actual,
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_order_and_names() {
        let s = Settings::parse("t", b"prov.server = https://prov.example.com:8443/cfg\n")
            .unwrap()
            .settings;
        let plan = SearchPlan::new(&s, None, Some("00:08:EE:12:34:56"), Some("8301")).unwrap();
        assert_eq!(
            plan.urls(),
            vec![
                "https://prov.example.com:8443/cfg/algom0008ee123456.conf",
                "https://prov.example.com:8443/cfg/algop8301.conf",
                "https://prov.example.com:8443/cfg/algop.conf",
            ]
        );
        let s = Settings::parse(
            "t",
            b"prov.server = p.example\nprov.download.method = http\nprov.name.device = dev-{mac}.cfg\nprov.name.generic = all.cfg\n",
        )
        .unwrap()
        .settings;
        let plan = SearchPlan::new(&s, None, Some("0008ee123456"), None).unwrap();
        assert_eq!(
            plan.urls(),
            vec![
                "http://p.example/dev-0008ee123456.cfg",
                "http://p.example/all.cfg"
            ]
        );
        assert!(matches!(
            SearchPlan::new(&Settings::default(), None, None, None),
            Err(DownloadError::NoServer)
        ));
        assert!(SearchPlan::new(&s, None, None, Some("../x")).is_err());
        assert!(SearchPlan::new(&s, None, Some("nope"), None).is_err());
    }

    #[test]
    fn error_pages() {
        assert_eq!(
            page_text(
                b"<html>\r\n<head><title>400 No required SSL certificate was sent</title></head>"
            ),
            "400 No required SSL certificate was sent"
        );
    }
}

/// A download applied to the configuration.
#[derive(Debug)]
pub struct Provisioned {
    /// The download (URL, channel security, `.md5` check, names tried).
    pub fetched: Fetched,
    /// The apply (changed keys with secrets masked, warnings, files).
    pub report: crate::apply::ApplyReport,
}

/// Why provisioning changed nothing.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// The download failed.
    #[error(transparent)]
    Download(#[from] DownloadError),
    /// The file was invalid or could not be written.
    #[error(transparent)]
    Apply(#[from] crate::apply::ApplyError),
}

/// Downloads per `plan` ([`fetch`]) and applies the file atomically to
/// `store` ([`ConfigStore::apply`](crate::apply::ConfigStore::apply)). Any
/// failure — no file, TLS, certificate, HTTP, size, checksum, an invalid value —
/// leaves the active configuration unchanged.
///
/// # Errors
///
/// [`ProvisionError`] with the download's or the file's errors.
pub fn fetch_and_apply(
    store: &crate::apply::ConfigStore,
    plan: &SearchPlan,
    tls: Option<&HttpsClient>,
    options: &DownloadOptions,
) -> Result<Provisioned, ProvisionError> {
    let fetched = fetch(plan, tls, options)?;
    let report = store.apply(
        &fetched.url,
        &fetched.body,
        crate::apply::ApplyOptions::default(),
    )?;
    Ok(Provisioned { fetched, report })
}
