//! The HTTPS side: our rustls client configuration ([`HttpsClient`]) and
//! the TLS connector ([`SigilTls`]) that plugs it into ureq's transport
//! chain, keeping the TLS layer's own error and the negotiated parameters.

use std::fmt;
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};

use rustls::client::ResolvesClientCert;
use rustls::pki_types::ServerName;
use rustls::{ClientConfig, ClientConnection, StreamOwned};
use sigil_trust::{NameCheck, ServerVerifier, TrustStore};
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, Transport,
    TransportAdapter,
};

/// The TLS side of a download: the rustls configuration and, when it was
/// built from our trust store, the verifier to ask how the server was checked.
#[derive(Debug, Clone)]
pub struct HttpsClient {
    pub(super) config: Arc<ClientConfig>,
    pub(super) verifier: Option<Arc<ServerVerifier>>,
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

/// What our TLS connector observed; shared with the download.
#[derive(Debug, Default)]
pub(super) struct TlsObserved {
    pub(super) error: Option<rustls::Error>,
    pub(super) version: Option<String>,
    pub(super) suite: Option<String>,
}

pub(super) type Observed = Arc<Mutex<TlsObserved>>;

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
    pub(super) config: Arc<ClientConfig>,
    pub(super) observed: Observed,
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
