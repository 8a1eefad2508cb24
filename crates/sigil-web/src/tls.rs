//! The TLS side: `certs/httpd.pem` served by rustls with the SIP side's
//! suite policy, swapped in place when a new certificate is installed.

use std::sync::{Arc, RwLock};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::ServerConfig;
use sigil_identity::{FactoryPartition, Identity, Mac, UserStore};
use sigil_sip_tls::TlsPolicy;

use crate::error::WebError;
use crate::WebConfig;

/// The web certificate in use; rustls asks it for every new connection, so
/// [`WebCert::set`] takes effect from the next connection on.
#[derive(Debug)]
pub(crate) struct WebCert {
    current: RwLock<Current>,
}

#[derive(Debug, Clone)]
struct Current {
    key: Arc<CertifiedKey>,
    /// SHA-256 of the leaf, `AB:CD:…`.
    fingerprint: String,
    /// A problem with `certs/httpd.pem` (then a temporary certificate is served).
    problem: Option<String>,
}

impl ResolvesServerCert for WebCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|c| c.key.clone())
    }
}

/// The MAC of the factory certificate, when there is one.
pub(crate) fn factory_mac(config: &WebConfig) -> Option<Mac> {
    FactoryPartition::new(config.data_dir.factory())
        .load()
        .ok()
        .flatten()
        .and_then(|id| id.certificate().mac)
}

/// The names a generated certificate carries: the configured names and the
/// listen address when it is a specific one.
fn names(config: &WebConfig) -> Vec<String> {
    let mut names = config.names.clone();
    let ip = config.listen.ip();
    if !ip.is_unspecified() && !names.contains(&ip.to_string()) {
        names.push(ip.to_string());
    }
    names
}

impl WebCert {
    /// Loads `certs/httpd.pem`, generating it when absent (SPEC ID4). A
    /// broken file is never overwritten: a temporary self-signed
    /// certificate (not saved) is served instead, and the problem reported.
    pub(crate) fn load(config: &WebConfig) -> Result<WebCert, WebError> {
        Ok(WebCert {
            current: RwLock::new(Self::current(config)?),
        })
    }

    fn current(config: &WebConfig) -> Result<Current, WebError> {
        let user = UserStore::new(config.data_dir.user());
        let mac = factory_mac(config);
        match user.web_identity(mac, &names(config)) {
            Ok((identity, _)) => Ok(Current {
                key: identity.certified_key(),
                fingerprint: identity.certificate().fingerprint_sha256.clone(),
                problem: None,
            }),
            Err(error) => {
                log::error!("certs/httpd.pem cannot be used ({error}); serving a temporary self-signed certificate");
                let minted = sigil_identity::mint::mint_self_signed_web(mac, &names(config))
                    .map_err(|e| WebError::Certificate(e.to_string()))?;
                let pem = minted.combined_pem();
                let identity =
                    Identity::from_pem(pem.as_bytes(), None, "temporary web certificate")
                        .map_err(|e| WebError::Certificate(e.to_string()))?;
                Ok(Current {
                    key: identity.certified_key(),
                    fingerprint: identity.certificate().fingerprint_sha256.clone(),
                    problem: Some(format!(
                        "certs/httpd.pem cannot be used ({error}); a temporary certificate is served until a good one is uploaded"
                    )),
                })
            }
        }
    }

    /// Serves `identity` from the next connection on.
    pub(crate) fn set(&self, identity: &Identity) {
        if let Ok(mut current) = self.current.write() {
            *current = Current {
                key: identity.certified_key(),
                fingerprint: identity.certificate().fingerprint_sha256.clone(),
                problem: None,
            };
        }
    }

    /// Reloads (or regenerates, after a factory reset) `certs/httpd.pem`.
    pub(crate) fn reload(&self, config: &WebConfig) -> Result<(), WebError> {
        let fresh = Self::current(config)?;
        if let Ok(mut current) = self.current.write() {
            *current = fresh;
        }
        Ok(())
    }

    /// SHA-256 of the certificate served now.
    pub(crate) fn fingerprint(&self) -> String {
        self.current
            .read()
            .map(|c| c.fingerprint.clone())
            .unwrap_or_default()
    }

    /// What is wrong with `certs/httpd.pem`, when a temporary certificate is served.
    pub(crate) fn problem(&self) -> Option<String> {
        self.current.read().ok().and_then(|c| c.problem.clone())
    }
}

/// The rustls server configuration: TLS 1.3 and 1.2, the SIP side's suites
/// (ECDHE key exchange, AEAD ciphers, AES-256-GCM first), HTTP/1.1.
pub(crate) fn server_config(cert: Arc<WebCert>) -> Result<ServerConfig, WebError> {
    let policy = TlsPolicy::default();
    let provider = policy
        .provider()
        .map_err(|e| WebError::Tls(e.to_string()))?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(policy.min_version.versions())
        .map_err(|e| WebError::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_cert_resolver(cert);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    config.ignore_client_order = true;
    Ok(config)
}
