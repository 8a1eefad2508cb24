//! Errors of the SIP TLS transport.

use crate::diagnosis::HandshakeDiagnosis;
use crate::policy::TlsVersion;

/// A setting that cannot be used; nothing was connected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The TLS floor is not 1.2 or 1.3.
    #[error("TLS version floor {given:?} is not allowed: use 1.2 or 1.3 (nothing older is ever negotiated)")]
    BadTlsVersion {
        /// What was given.
        given: String,
    },
    /// A cipher restriction entry names no suite we offer.
    #[error("{}", if *weak {
        format!("cipher suite {given:?} is weak and never allowed (only ECDHE with AES-GCM or ChaCha20-Poly1305)")
    } else {
        format!("unknown cipher suite {given:?}: use AES256, AES128, CHACHA20 or a TLS13_*/TLS_ECDHE_* GCM/ChaCha20 suite name")
    })]
    BadCipher {
        /// The entry.
        given: String,
        /// It names a weak suite (CBC, RC4, 3DES, static RSA, SHA-1 MAC…).
        weak: bool,
    },
    /// The cipher restriction leaves nothing for the TLS floor.
    #[error("the cipher restriction leaves no suite usable with TLS {min_version} or later")]
    NoUsableCipher {
        /// The floor.
        min_version: TlsVersion,
    },
    /// The SIP domain is not a DNS name or IP address.
    #[error("{given:?} is not a valid SIP domain (a DNS name or an IP address)")]
    BadDomain {
        /// What was given.
        given: String,
    },
    /// The server address cannot be resolved or parsed.
    #[error("cannot resolve server address {given:?}: {detail}")]
    BadAddress {
        /// What was given.
        given: String,
        /// Why.
        detail: String,
    },
    /// The server's own certificate or key is unusable.
    #[error("server certificate/key: {0}")]
    ServerIdentity(String),
    /// rustls refused the configuration.
    #[error("TLS configuration refused: {0}")]
    Tls(String),
    /// The TLS key log file cannot be written.
    #[error("cannot open the TLS key log {}: {reason}", path.display())]
    KeyLog {
        /// The file asked for.
        path: std::path::PathBuf,
        /// The operating system's error, as text.
        reason: String,
    },
}

/// Something that went wrong on a SIP TLS connection.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The connection could not be set up (TCP or TLS handshake), with the
    /// diagnosis an installer can act on.
    #[error("{0}")]
    Handshake(Box<HandshakeDiagnosis>),
    /// A setting is unusable.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The peer sent bytes that are not a SIP message stream; the connection is closed.
    #[error("SIP framing error, connection closed: {0}")]
    Framing(sigil_sip::FramingError),
    /// No keep-alive pong within the deadline (RFC 5626: 10 s).
    #[error("no keep-alive pong within {after:?}: the connection is dead")]
    KeepAliveTimeout {
        /// The deadline (RFC 5626: 10 s).
        after: std::time::Duration,
    },
    /// The peer closed the connection.
    #[error("the peer closed the connection")]
    Closed,
    /// No traffic from the peer within the idle timeout; the connection was closed.
    #[error("no traffic for {after:?}: connection closed")]
    IdleTimeout {
        /// The idle timeout.
        after: std::time::Duration,
    },
    /// A TLS error after the handshake (bad record, alert).
    #[error("TLS error: {0}")]
    Tls(rustls::Error),
    /// A socket error after the handshake.
    #[error("network error: {0}")]
    Io(#[from] std::io::Error),
    /// The message would not fit the send buffer or the connection is not usable.
    #[error("not connected")]
    NotConnected,
}

impl Error {
    /// The handshake diagnosis, when this is a set-up failure.
    pub fn diagnosis(&self) -> Option<&HandshakeDiagnosis> {
        match self {
            Error::Handshake(d) => Some(d),
            _ => None,
        }
    }
}

impl From<HandshakeDiagnosis> for Error {
    fn from(d: HandshakeDiagnosis) -> Self {
        Error::Handshake(Box::new(d))
    }
}
