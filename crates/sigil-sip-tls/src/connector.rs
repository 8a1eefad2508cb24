//! The client side: a rustls client configuration for one SIP domain, with
//! the trust store in RFC 5922 mode, the device identity and the TLS policy.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::sign::CertifiedKey;
use rustls::{ClientConfig, SignatureScheme};
use sigil_trust::{NameCheck, ServerVerifier, TrustStore};

use crate::connection::{ConnectionSettings, SipTlsConnection};
use crate::diagnosis::ClientAuthOutcome;
use crate::error::ConfigError;
use crate::policy::TlsPolicy;

/// Wraps the device's client-certificate resolver and remembers what the
/// server asked for during the most recent handshake (for diagnostics and
/// the "client certificate sent" status).
#[derive(Debug)]
pub(crate) struct ClientAuthRecorder {
    inner: Option<Arc<dyn ResolvesClientCert>>,
    last: Mutex<ClientAuthOutcome>,
}

impl ClientAuthRecorder {
    pub(crate) fn outcome(&self) -> ClientAuthOutcome {
        match self.last.lock() {
            Ok(g) => g.clone(),
            Err(p) => p.into_inner().clone(),
        }
    }

    fn set(&self, outcome: ClientAuthOutcome) {
        match self.last.lock() {
            Ok(mut g) => *g = outcome,
            Err(p) => *p.into_inner() = outcome,
        }
    }
}

impl ResolvesClientCert for ClientAuthRecorder {
    fn resolve(
        &self,
        root_hint_subjects: &[&[u8]],
        sigschemes: &[SignatureScheme],
    ) -> Option<Arc<CertifiedKey>> {
        let chosen = self
            .inner
            .as_ref()
            .and_then(|r| r.resolve(root_hint_subjects, sigschemes));
        self.set(match &chosen {
            Some(key) => ClientAuthOutcome::Presented {
                subject: key
                    .end_entity_cert()
                    .ok()
                    .and_then(|c| sigil_trust::CertSummary::parse(c.as_ref(), 0).ok())
                    .map(|s| s.subject)
                    .unwrap_or_default(),
            },
            None => ClientAuthOutcome::RequestedNone,
        });
        chosen
    }

    fn has_certs(&self) -> bool {
        self.inner.as_ref().is_some_and(|r| r.has_certs())
    }
}

/// Connects to one SIP domain over TLS: the rustls client configuration
/// (ring, the policy's versions and suites), the trust-store verifier in SIP
/// mode (RFC 5922 against the domain, SNI = the domain, never an IP), the
/// device identity for mutual TLS, and a session cache shared by every
/// connection made from it — so a reconnect resumes the TLS session.
///
/// One connector serves one connection at a time (a device's single SIP
/// flow): the "client certificate sent" status and the verification outcome
/// in [`crate::TlsInfo`] come from the most recent handshake. Make one
/// connector per concurrent connection if you need several at once.
///
/// ```no_run
/// use std::sync::Arc;
/// use sigil_sip_tls::{Connector, TlsPolicy};
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let store = Arc::new(sigil_trust::TrustStore::builder().user_dir("user/certs/trusted".as_ref())?.build());
/// let identities = sigil_identity::IdentitySet::load(
///     &sigil_identity::FactoryPartition::new("factory"),
///     &sigil_identity::UserStore::new("user"),
/// );
/// let connector = Connector::new("example.com", &TlsPolicy::default(), store, Some(identities.client_resolver()))?;
/// let conn = connector.connection(std::time::Instant::now(), Default::default())?; // sans-IO
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Connector {
    domain: String,
    server_name: ServerName<'static>,
    config: Arc<ClientConfig>,
    verifier: Arc<ServerVerifier>,
    recorder: Arc<ClientAuthRecorder>,
    policy: TlsPolicy,
}

impl std::fmt::Debug for Connector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connector")
            .field("domain", &self.domain)
            .field("policy", &self.policy)
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

/// The rustls name for a SIP domain: a DNS name, or an IP address for an
/// IP-addressed proxy (then no SNI is sent, RFC 6066 forbids IP literals in SNI).
pub fn server_name(domain: &str) -> Result<ServerName<'static>, ConfigError> {
    let bad = || ConfigError::BadDomain {
        given: domain.chars().take(255).collect(),
    };
    let trimmed = domain.trim().trim_end_matches('.');
    let unbracketed = trimmed
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(trimmed);
    if let Ok(ip) = unbracketed.parse::<std::net::IpAddr>() {
        return Ok(ServerName::IpAddress(ip.into()));
    }
    ServerName::try_from(trimmed.to_owned()).map_err(|_| bad())
}

impl Connector {
    /// A connector for `domain` (the SIP domain contacted: the certificate
    /// must name it, and it is the SNI) under `policy`, trusting `store`,
    /// presenting `identity` when the server asks for a client certificate
    /// (`None`: the device has no certificate).
    ///
    /// With `policy.validate == false` any server certificate is accepted
    /// (logged; status "not verified"), but the handshake is still encrypted
    /// and its signature checked.
    pub fn new(
        domain: &str,
        policy: &TlsPolicy,
        store: Arc<TrustStore>,
        identity: Option<Arc<dyn ResolvesClientCert>>,
    ) -> Result<Connector, ConfigError> {
        let server_name = server_name(domain)?;
        let mut verifier = ServerVerifier::new(
            store,
            NameCheck::Sip {
                strict: policy.strict_names,
            },
        );
        if !policy.validate {
            verifier = verifier.dangerous_no_validation();
        }
        let verifier = Arc::new(verifier);
        let recorder = Arc::new(ClientAuthRecorder {
            inner: identity,
            last: Mutex::new(ClientAuthOutcome::NotRequested),
        });
        let mut config = ClientConfig::builder_with_provider(policy.provider()?)
            .with_protocol_versions(policy.min_version.versions())
            .map_err(|e| ConfigError::Tls(e.to_string()))?
            .dangerous() // rustls' name for a custom verifier; ours verifies unless told not to
            .with_custom_certificate_verifier(verifier.clone())
            .with_client_cert_resolver(recorder.clone());
        config.enable_sni = true;
        if let Some(path) = &policy.key_log {
            let writer =
                sigil_trust::KeyLogWriter::create(path).map_err(|e| ConfigError::KeyLog {
                    path: path.clone(),
                    reason: e.to_string(),
                })?;
            config.key_log = Arc::new(writer);
        }
        Ok(Connector {
            domain: domain.to_owned(),
            server_name,
            config: Arc::new(config),
            verifier,
            recorder,
            policy: policy.clone(),
        })
    }

    /// Replaces the session-resumption setting (default: an in-memory cache
    /// of 256 sessions shared by every connection of this connector). Pass
    /// `Resumption::store(…)` to share or persist sessions across connectors,
    /// or `Resumption::disabled()` to force full handshakes.
    pub fn with_resumption(mut self, resumption: rustls::client::Resumption) -> Connector {
        let mut config = (*self.config).clone();
        config.resumption = resumption;
        self.config = Arc::new(config);
        self
    }

    /// The SIP domain.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The policy.
    pub fn policy(&self) -> &TlsPolicy {
        &self.policy
    }

    /// The rustls configuration (shared by every connection, with its session cache).
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// The server-certificate verifier (its `last_verification` is the latest outcome).
    pub fn verifier(&self) -> &Arc<ServerVerifier> {
        &self.verifier
    }

    /// A new sans-IO client connection; its first flight (ClientHello) is ready to send.
    /// Connections of one connector share the TLS session cache, so the second
    /// one resumes the first one's session when the server allows it.
    pub fn connection(
        &self,
        now: Instant,
        settings: ConnectionSettings,
    ) -> Result<SipTlsConnection, ConfigError> {
        self.recorder.set(ClientAuthOutcome::NotRequested);
        let tls = rustls::ClientConnection::new(self.config.clone(), self.server_name.clone())
            .map_err(|e| ConfigError::Tls(e.to_string()))?;
        Ok(SipTlsConnection::new_client(
            tls,
            settings,
            self.policy.min_version,
            self.recorder.clone(),
            self.verifier.clone(),
            now,
        ))
    }
}
