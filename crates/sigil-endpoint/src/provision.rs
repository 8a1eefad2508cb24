//! Provisioning at boot: fetch the device's configuration file over HTTPS
//! (mutual TLS with the device identity, server checked against the trust
//! store unless `prov.download.cert = 0`) and apply it atomically. A failure
//! changes nothing: the device runs on its last good configuration (SPEC P*, E2).

use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use sigil_provisioning::values::DownloadMethod;
use sigil_provisioning::{ApplyOptions, ConfigStore, Settings};
use sigil_trust::{NameCheck, ServerVerifier, TrustStore, Verification};

use crate::status::ProvisioningStatus;

/// Largest configuration file accepted, in bytes.
pub const MAX_CONFIG_DOWNLOAD: usize = 256 * 1024;
/// Connect and read timeout of one download.
pub const DOWNLOAD_TIMEOUT: Duration = Duration::from_secs(5);

/// Why one download failed.
#[derive(Debug, thiserror::Error)]
pub enum DownloadError {
    /// The server could not be reached.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// host:port.
        addr: String,
        /// The OS error.
        source: std::io::Error,
    },
    /// The TLS handshake failed (with the trust store's or server's reason).
    #[error("TLS handshake with {addr} failed: {reason}")]
    Tls {
        /// host:port.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The server answered with an HTTP error.
    #[error("{url}: HTTP {status}")]
    Http {
        /// The URL.
        url: String,
        /// Status code.
        status: u16,
    },
    /// The answer is not HTTP, or too large.
    #[error("{url}: {reason}")]
    BadResponse {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// Plain HTTP, TFTP and FTP are not used by this device.
    #[error("download method {0} is not supported here (use https)")]
    Unsupported(String),
}

/// The TLS client configuration for provisioning: trust store (host-name
/// check), optionally not validating, presenting the device identity.
pub fn client_config(
    store: Arc<TrustStore>,
    validate: bool,
    identity: Arc<dyn ResolvesClientCert>,
) -> Result<(Arc<rustls::ClientConfig>, Arc<ServerVerifier>), rustls::Error> {
    let mut verifier = ServerVerifier::new(store, NameCheck::Host);
    if !validate {
        verifier = verifier.dangerous_no_validation();
    }
    let verifier = Arc::new(verifier);
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .dangerous() // rustls' name for a custom verifier; ours verifies unless told not to
    .with_custom_certificate_verifier(verifier.clone())
    .with_client_cert_resolver(identity);
    Ok((Arc::new(config), verifier))
}

/// `GET url` over HTTPS with `config`; the body on 200.
pub fn https_get(
    config: Arc<rustls::ClientConfig>,
    host: &str,
    port: u16,
    path: &str,
) -> Result<Vec<u8>, DownloadError> {
    let addr = format!("{host}:{port}");
    let url = format!("https://{addr}{path}");
    let sock_addr = (host.trim_matches(['[', ']']), port)
        .to_socket_addrs()
        .map_err(|source| DownloadError::Connect {
            addr: addr.clone(),
            source,
        })?
        .next()
        .ok_or_else(|| DownloadError::Connect {
            addr: addr.clone(),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
    let tcp = TcpStream::connect_timeout(&sock_addr, DOWNLOAD_TIMEOUT).map_err(|source| {
        DownloadError::Connect {
            addr: addr.clone(),
            source,
        }
    })?;
    let _ = tcp.set_read_timeout(Some(DOWNLOAD_TIMEOUT));
    let _ = tcp.set_write_timeout(Some(DOWNLOAD_TIMEOUT));
    let name = ServerName::try_from(host.trim_matches(['[', ']']).to_owned()).map_err(|e| {
        DownloadError::Tls {
            addr: addr.clone(),
            reason: e.to_string(),
        }
    })?;
    let conn = rustls::ClientConnection::new(config, name).map_err(|e| DownloadError::Tls {
        addr: addr.clone(),
        reason: e.to_string(),
    })?;
    let mut tls = rustls::StreamOwned::new(conn, tcp);
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: sigil\r\nAccept: */*\r\nConnection: close\r\n\r\n"
    );
    let tls_error = |e: std::io::Error| DownloadError::Tls {
        addr: addr.clone(),
        reason: tls_reason(&e),
    };
    tls.write_all(request.as_bytes()).map_err(tls_error)?;
    tls.flush().map_err(tls_error)?;
    let mut response = Vec::new();
    let mut chunk = [0u8; 8192];
    loop {
        match tls.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                response.extend_from_slice(chunk.get(..n).unwrap_or_default());
                if response.len() > MAX_CONFIG_DOWNLOAD + 16 * 1024 {
                    return Err(DownloadError::BadResponse {
                        url,
                        reason: format!("larger than {MAX_CONFIG_DOWNLOAD} bytes"),
                    });
                }
            }
            // A server closing without close_notify: what we have is what we get.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
            Err(e) if response.is_empty() => return Err(tls_error(e)),
            Err(_) => break,
        }
    }
    parse_http_response(&url, &response)
}

fn tls_reason(e: &std::io::Error) -> String {
    if let Some(inner) = e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        if let Some(v) = sigil_trust::VerifyError::from_tls_error(inner) {
            return v.to_string();
        }
        return inner.to_string();
    }
    e.to_string()
}

/// Splits an HTTP/1.x response into status and body (Content-Length or to the end).
fn parse_http_response(url: &str, bytes: &[u8]) -> Result<Vec<u8>, DownloadError> {
    let bad = |reason: &str| DownloadError::BadResponse {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let head_end = bytes
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no complete HTTP header"))?;
    let head = std::str::from_utf8(bytes.get(..head_end).unwrap_or_default())
        .map_err(|_| bad("HTTP header is not text"))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or_default();
    let mut parts = status_line.split(' ');
    if !parts.next().unwrap_or_default().starts_with("HTTP/1.") {
        return Err(bad("not an HTTP/1.x response"));
    }
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status code"))?;
    let mut length = None;
    for line in lines {
        if let Some((k, v)) = line.split_once(':') {
            if k.trim().eq_ignore_ascii_case("content-length") {
                length = v.trim().parse::<usize>().ok();
            }
            if k.trim().eq_ignore_ascii_case("transfer-encoding") {
                return Err(bad("chunked transfer encoding is not supported"));
            }
        }
    }
    let body = bytes.get(head_end + 4..).unwrap_or_default();
    if status != 200 {
        return Err(DownloadError::Http {
            url: url.to_owned(),
            status,
        });
    }
    let body = match length {
        Some(n) if n <= body.len() => body.get(..n).unwrap_or_default(),
        Some(_) => return Err(bad("body shorter than its Content-Length")),
        None => body,
    };
    if body.len() > MAX_CONFIG_DOWNLOAD {
        return Err(bad("configuration file too large"));
    }
    Ok(body.to_vec())
}

/// Runs provisioning: tries the per-device file then the generic file under
/// `prov.server`, applies the first one found. Returns the status and the
/// settings now in effect (unchanged on failure).
pub fn provision(
    settings: &Settings,
    mac: Option<&str>,
    store: Arc<TrustStore>,
    identity: Arc<dyn ResolvesClientCert>,
    config_store: &ConfigStore,
) -> (ProvisioningStatus, Option<Settings>) {
    let mut status = ProvisioningStatus {
        result: "not configured".into(),
        ..ProvisioningStatus::default()
    };
    let Some(server) = &settings.prov_server else {
        return (status, None);
    };
    let fail = |mut status: ProvisioningStatus, error: String| {
        status.result = "failed".into();
        status.error = Some(format!("{error}; keeping the last good configuration"));
        (status, None)
    };
    let method = settings.download_method();
    if method != DownloadMethod::Https {
        return fail(
            status,
            DownloadError::Unsupported(method.as_str().to_owned()).to_string(),
        );
    }
    let (config, verifier) = match client_config(store, settings.prov_download_cert, identity) {
        Ok(c) => c,
        Err(e) => return fail(status, e.to_string()),
    };
    let host = server.authority.host.to_string();
    let port = server.authority.port.unwrap_or(443);
    let dir = server.path.trim_end_matches('/');
    let mut names = Vec::new();
    if let Some(mac) = mac {
        names.push(settings.prov_name_device.replace("{mac}", mac));
    }
    names.push(settings.prov_name_generic.clone());
    let mut last_error = String::from("no file to fetch");
    for name in names {
        let path = format!("{dir}/{name}");
        let url = format!("https://{host}:{port}{path}");
        status.url = Some(url.clone());
        match https_get(config.clone(), &host, port, &path) {
            Ok(body) => {
                status.server = verifier.last_verification().map(|v| describe(&v));
                match config_store.apply(&url, &body, ApplyOptions::default()) {
                    Ok(report) => {
                        status.result = if report.written {
                            "applied"
                        } else {
                            "unchanged"
                        }
                        .into();
                        status.changes = report.changes.iter().map(ToString::to_string).collect();
                        return (status, Some(report.settings));
                    }
                    Err(e) => return fail(status, format!("{url}: {e}")),
                }
            }
            Err(DownloadError::Http { status: 404, .. }) => {
                last_error = format!("{url}: HTTP 404");
                continue;
            }
            Err(e) => {
                status.server = verifier.last_verification().map(|v| describe(&v));
                return fail(status, e.to_string());
            }
        }
    }
    fail(status, last_error)
}

/// One line for a server check: `verified (CN=…, anchor vendor)` or `encrypted, server not verified`.
pub fn describe(v: &Verification) -> String {
    match v {
        Verification::Verified(ok) => format!(
            "verified: {} matched {} (anchor: {} layer)",
            ok.subject, ok.matched, ok.anchor_layer
        ),
        other => other.status().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn http_response_parsing() {
        let ok = parse_http_response("u", b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcdef")
            .unwrap();
        assert_eq!(ok, b"abc");
        let to_end = parse_http_response("u", b"HTTP/1.0 200 OK\r\n\r\nxyz").unwrap();
        assert_eq!(to_end, b"xyz");
        assert!(matches!(
            parse_http_response("u", b"HTTP/1.1 404 Not Found\r\n\r\n"),
            Err(DownloadError::Http { status: 404, .. })
        ));
        assert!(parse_http_response("u", b"SSH-2.0\r\n\r\n").is_err());
        assert!(
            parse_http_response("u", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nab").is_err()
        );
        assert!(parse_http_response("u", b"HTTP/1.1 200").is_err());
    }
}
