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

mod error;
mod fetch;
mod md5;
mod plan;
mod tls;

use std::fmt;
use std::time::Duration;

use sigil_trust::Verification;
use zeroize::Zeroizing;

pub use error::{diagnose_tls, DownloadError};
pub use fetch::fetch;
pub use plan::SearchPlan;
pub use tls::{HttpsClient, SigilTls, SigilTlsTransport};

/// Default size limit of a configuration file download (1 MiB).
pub const DEFAULT_MAX_SIZE: u64 = 1024 * 1024;

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
