//! The server side: a rustls server configuration with a client-certificate
//! policy, for SIP servers, labs and a device's own SIP listener.

use std::path::Path;
use std::sync::Arc;
use std::time::Instant;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use sigil_identity::{DeviceVerifier, Identity};

use crate::connection::{ConnectionSettings, SipTlsConnection};
use crate::error::ConfigError;
use crate::policy::TlsPolicy;

/// Which client certificates the server asks for.
#[derive(Debug, Clone)]
pub enum ClientAuth {
    /// A SIP server accepting devices: a certificate chaining to the vendor
    /// root is **required**; a client without one is refused during the handshake.
    Required(Arc<DeviceVerifier>),
    /// A device's own listener: a certificate is requested and, when the peer
    /// presents one, verified against these anchors; a peer without one is accepted.
    Optional(Arc<DeviceVerifier>),
    /// No client certificate is asked for.
    None,
}

/// `DeviceVerifier` with the certificate requested but not required.
#[derive(Debug)]
struct OptionalDevice(Arc<DeviceVerifier>);

impl ClientCertVerifier for OptionalDevice {
    fn offer_client_auth(&self) -> bool {
        true
    }
    fn client_auth_mandatory(&self) -> bool {
        false
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.0.verify_client_cert(end_entity, intermediates, now)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

#[derive(Debug)]
struct FixedCert(Arc<CertifiedKey>);

impl ResolvesServerCert for FixedCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.0.clone())
    }
}

/// Accepts SIP-over-TLS connections: the server certificate, the client
/// certificate policy and the TLS policy (versions, suites). Make one per
/// listener and call [`Acceptor::connection`] for each accepted socket.
#[derive(Clone)]
pub struct Acceptor {
    config: Arc<ServerConfig>,
    policy: TlsPolicy,
}

impl std::fmt::Debug for Acceptor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Acceptor")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl Acceptor {
    /// An acceptor presenting `identity` (certificate chain and key, e.g.
    /// loaded with [`Identity::from_pem`]) with `client_auth` under `policy`.
    /// TLS sessions are cached (256) so returning clients resume. The
    /// server's suite order (AES-256-GCM first) wins over the client's.
    pub fn new(
        identity: &Identity,
        client_auth: ClientAuth,
        policy: &TlsPolicy,
    ) -> Result<Acceptor, ConfigError> {
        let builder = ServerConfig::builder_with_provider(policy.provider()?)
            .with_protocol_versions(policy.min_version.versions())
            .map_err(|e| ConfigError::Tls(e.to_string()))?;
        let builder = match client_auth {
            ClientAuth::Required(v) => builder.with_client_cert_verifier(v),
            ClientAuth::Optional(v) => {
                builder.with_client_cert_verifier(Arc::new(OptionalDevice(v)))
            }
            ClientAuth::None => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(Arc::new(FixedCert(identity.certified_key())));
        // Our order (AES-256-GCM first), not the client's, picks the suite.
        config.ignore_client_order = true;
        Ok(Acceptor {
            config: Arc::new(config),
            policy: policy.clone(),
        })
    }

    /// An acceptor from PEM files: `cert` (certificate, then its chain) and
    /// `key` (the private key; may be the same file).
    pub fn from_pem_files(
        cert: &Path,
        key: &Path,
        client_auth: ClientAuth,
        policy: &TlsPolicy,
    ) -> Result<Acceptor, ConfigError> {
        let read = |p: &Path| {
            std::fs::read(p).map_err(|e| {
                ConfigError::ServerIdentity(format!("cannot read {}: {e}", p.display()))
            })
        };
        let cert_pem = read(cert)?;
        let key_pem = zeroize::Zeroizing::new(read(key)?);
        let identity = Identity::from_pem(&cert_pem, Some(&key_pem), &cert.display().to_string())
            .map_err(|e| ConfigError::ServerIdentity(e.to_string()))?;
        Acceptor::new(&identity, client_auth, policy)
    }

    /// An acceptor from a rustls configuration built elsewhere (e.g. a
    /// TLS 1.2-only test server). `policy.min_version` is only used for diagnoses.
    pub fn from_config(config: Arc<ServerConfig>, policy: TlsPolicy) -> Acceptor {
        Acceptor { config, policy }
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// The policy.
    pub fn policy(&self) -> &TlsPolicy {
        &self.policy
    }

    /// A new sans-IO server connection for one accepted socket. The handshake
    /// must finish within `settings.handshake_timeout` (see
    /// [`SipTlsConnection::poll_timeout`]).
    pub fn connection(
        &self,
        now: Instant,
        settings: ConnectionSettings,
    ) -> Result<SipTlsConnection, ConfigError> {
        let tls = rustls::ServerConnection::new(self.config.clone())
            .map_err(|e| ConfigError::Tls(e.to_string()))?;
        let settings = ConnectionSettings {
            keepalive_interval: None,
            ..settings
        };
        Ok(SipTlsConnection::new_server(
            tls,
            settings,
            self.policy.min_version,
            now,
        ))
    }
}
