//! Why a download failed ([`DownloadError`]), in the installer's terms: the
//! TLS layer's diagnosis, ureq's errors and the server's error pages mapped
//! to what to fix.

use rustls::AlertDescription;
use sigil_trust::VerifyError;

use super::tls::Observed;

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

pub(super) fn page_text(bytes: &[u8]) -> String {
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

pub(super) fn map_error(
    url: &str,
    error: ureq::Error,
    observed: &Observed,
    limit: u64,
) -> DownloadError {
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

#[cfg(test)]
mod tests {
    use super::*;

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
