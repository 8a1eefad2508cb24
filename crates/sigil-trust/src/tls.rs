//! The rustls `ServerCertVerifier` built on the store.

use std::sync::{Arc, Mutex};

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

use crate::names::ExpectedName;
use crate::store::TrustStore;
use crate::verify::Verification;

/// How the name rustls connects to is checked.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum NameCheck {
    /// A host: a DNS server name is matched against dNSName entries (RFC 6125
    /// wildcards), an IP server name against iPAddress entries.
    #[default]
    Host,
    /// A SIP domain (RFC 5922): `sip:` URI entries first, then dNSName entries
    /// (wildcards unless `strict`); an IP server name against iPAddress entries.
    Sip {
        /// Forbid wildcards (strict RFC 5922).
        strict: bool,
    },
    /// Ignore the name given to rustls (which still goes out as SNI) and check
    /// this identity instead — e.g. the SIP domain `example.com` of the
    /// address-of-record while connecting to the proxy `sip1.example.net`.
    Expect(ExpectedName),
}

impl NameCheck {
    /// The identity expected for the name rustls was given.
    pub fn expected(&self, server_name: &ServerName<'_>) -> ExpectedName {
        match (server_name, self) {
            (_, NameCheck::Expect(expected)) => expected.clone(),
            (ServerName::IpAddress(ip), _) => ExpectedName::Ip(std::net::IpAddr::from(*ip)),
            (ServerName::DnsName(name), NameCheck::Host) => {
                ExpectedName::Dns(name.as_ref().to_owned())
            }
            (ServerName::DnsName(name), NameCheck::Sip { strict }) => {
                ExpectedName::sip(name.as_ref(), *strict)
            }
            (other, _) => ExpectedName::Dns(format!("{other:?}")),
        }
    }
}

/// A rustls server-certificate verifier using a [`TrustStore`].
///
/// ```no_run
/// use std::sync::Arc;
/// use sigil_trust::{NameCheck, ServerVerifier, TrustStore};
///
/// let store = Arc::new(TrustStore::load_user_dir("certs/trusted".as_ref())?);
/// let verifier = Arc::new(ServerVerifier::new(store, NameCheck::Sip { strict: false }));
/// let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
///     .with_safe_default_protocol_versions()?
///     .dangerous() // rustls' name for "custom verifier"; ours does verify
///     .with_custom_certificate_verifier(verifier.clone())
///     .with_no_client_auth();
/// // … after a handshake: verifier.last_verification() says what happened.
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// **Getting the reason of a failed handshake.** rustls reports our failure as
/// `rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc<VerifyError>)))`;
/// [`VerifyError::from_tls_error`](crate::VerifyError::from_tls_error) returns the typed
/// reason. That is exact per connection. [`ServerVerifier::last_verification`] also keeps the
/// outcome of the most recent check (success, failure or "not verified") — convenient when one
/// verifier serves one connection at a time, racy if it is shared by concurrent handshakes.
///
/// Handshake signatures (TLS 1.2 and 1.3) are always checked with the ring provider's
/// algorithms, also in the validation-off mode.
pub struct ServerVerifier {
    store: Arc<TrustStore>,
    check: NameCheck,
    validate: bool,
    provider: Arc<CryptoProvider>,
    last: Mutex<Option<Verification>>,
}

impl std::fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerVerifier")
            .field("anchors", &self.store.len())
            .field("check", &self.check)
            .field("validate", &self.validate)
            .finish_non_exhaustive()
    }
}

impl ServerVerifier {
    /// A validating verifier: chain to an anchor of `store`, name per `check`.
    pub fn new(store: Arc<TrustStore>, check: NameCheck) -> Self {
        ServerVerifier {
            store,
            check,
            validate: true,
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            last: Mutex::new(None),
        }
    }

    /// **Turns certificate validation off** ("Validate Server Certificate" = off, SPEC T2):
    /// any chain is accepted, the handshake signature is still checked, so
    /// the traffic is encrypted — but a man in the middle is possible. Every
    /// accepted handshake logs a warning, and the outcome is
    /// [`Verification::NotVerified`] ("encrypted, server not verified") with what
    /// validation would have said.
    pub fn dangerous_no_validation(mut self) -> Self {
        log::warn!("TLS server certificate validation is OFF: connections are encrypted but the server is not verified");
        self.validate = false;
        self
    }

    /// False after [`ServerVerifier::dangerous_no_validation`].
    pub fn is_validating(&self) -> bool {
        self.validate
    }

    /// The store in use.
    pub fn store(&self) -> &Arc<TrustStore> {
        &self.store
    }

    /// The outcome of the most recent certificate check by this verifier (see the type docs).
    pub fn last_verification(&self) -> Option<Verification> {
        self.last
            .lock()
            .map(|g| g.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    fn record(&self, outcome: Verification) {
        match self.last.lock() {
            Ok(mut guard) => *guard = Some(outcome),
            Err(poisoned) => *poisoned.into_inner() = Some(outcome),
        }
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let expected = self.check.expected(server_name);
        let mut chain = Vec::with_capacity(intermediates.len() + 1);
        chain.push(end_entity.clone());
        chain.extend(intermediates.iter().cloned());
        let result = self.store.verify(&chain, &expected, now);
        if !self.validate {
            log::warn!(
                "TLS to {expected}: certificate NOT validated (validation is off){}",
                match &result {
                    Ok(_) => String::new(),
                    Err(e) => format!("; it would have failed: {e}"),
                }
            );
            self.record(Verification::NotVerified {
                would_have_failed: result.err(),
            });
            return Ok(ServerCertVerified::assertion());
        }
        match result {
            Ok(verified) => {
                log::debug!("TLS to {expected}: verified: {verified}");
                self.record(Verification::Verified(verified));
                Ok(ServerCertVerified::assertion())
            }
            Err(error) => {
                log::warn!("TLS to {expected}: not verified: {error}");
                self.record(Verification::Failed(error.clone()));
                Err(error.into_tls_error())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}
