//! The download itself: the ureq agent with our TLS connector, the search
//! through the plan's names, and one GET with its status handling.

use std::sync::Arc;

use rustls::ClientConfig;
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{Connector, TcpConnector};
use zeroize::Zeroizing;

use super::error::{map_error, page_text};
use super::md5::check_md5;
use super::tls::Observed;
use super::{
    Attempt, ChannelSecurity, DownloadError, DownloadOptions, Fetched, HttpsClient, Md5Check,
    SearchPlan, SigilTls,
};
use crate::values::DownloadMethod;

/// Size limit of an error page read for diagnosis.
const MAX_ERROR_PAGE: u64 = 4096;

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

pub(super) enum Got {
    NotFound,
    Body {
        final_url: String,
        body: Zeroizing<Vec<u8>>,
    },
}

pub(super) fn get(
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
