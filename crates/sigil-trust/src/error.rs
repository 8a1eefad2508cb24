//! The two things that go wrong: a server chain that does not verify
//! ([`VerifyError`]) and an uploaded file that is refused ([`RefuseReason`]).

use serde::Serialize;
use time::OffsetDateTime;

use crate::rfc3339::fmt as ts;

/// Which certificate of a verification a date problem is about.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum CertRole {
    /// The server's own certificate (the first one it sent).
    Server,
    /// An intermediate the server sent (`index` in the chain as sent, 1 = right after the leaf).
    Intermediate {
        /// Position in the presented chain.
        index: usize,
    },
    /// A trust anchor of the store (built-in, vendor or uploaded).
    Anchor {
        /// Where the anchor came from (file name or layer).
        source: String,
    },
}

impl std::fmt::Display for CertRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CertRole::Server => f.write_str("server certificate"),
            CertRole::Intermediate { index } => write!(f, "intermediate certificate #{index}"),
            CertRole::Anchor { source } => write!(f, "trust anchor ({source})"),
        }
    }
}

/// Why a server's certificate chain was not accepted — in words an installer can act on.
///
/// Over TLS, rustls only carries its own error type; the verifier wraps this
/// value as `rustls::Error::InvalidCertificate(CertificateError::Other(OtherError(Arc<VerifyError>)))`.
/// Get it back with [`VerifyError::from_tls_error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum VerifyError {
    /// The server sent no certificate.
    #[error("the server sent no certificate")]
    EmptyChain,

    /// The server sent more certificates than we look at.
    #[error("the server sent {count} certificates; at most {max} are accepted")]
    TooManyCertificates {
        /// How many were sent.
        count: usize,
        /// The limit.
        max: usize,
    },

    /// A certificate the server sent could not be read.
    #[error("malformed certificate #{index} in the server's chain: {detail}")]
    Malformed {
        /// Position in the chain as sent (0 = the server's own certificate).
        index: usize,
        /// What is wrong with it.
        detail: String,
    },

    /// The chain does not end at any anchor of the store.
    #[error(
        "unknown issuer: \"{subject}\" is issued by \"{issuer}\", which is not in the trust store; \
         upload the CA certificate \"{issuer}\" (PEM or DER) to certs/trusted/"
    )]
    UnknownIssuer {
        /// Subject of the highest certificate we could chain to.
        subject: String,
        /// The issuer name nobody in the store answers to: the certificate to upload.
        issuer: String,
    },

    /// The issuer is in the store, but its certificate there is not a CA certificate.
    #[error(
        "\"{subject}\" is issued by \"{issuer}\"; the store has a certificate of that name ({file}) \
         but it is not a CA certificate (no basicConstraints CA:TRUE), so it cannot anchor a chain; \
         upload the issuing CA's real certificate"
    )]
    IssuerNotCa {
        /// Subject of the certificate whose issuer is missing.
        subject: String,
        /// The issuer name.
        issuer: String,
        /// Where the non-CA certificate of that name came from.
        file: String,
    },

    /// A certificate of the chain has expired.
    #[error(
        "{role} \"{subject}\" expired: valid from {} until {}, device clock is {}",
        ts(not_before),
        ts(not_after),
        ts(now)
    )]
    Expired {
        /// Which certificate.
        role: CertRole,
        /// Its subject.
        subject: String,
        /// Its notBefore.
        #[serde(with = "crate::rfc3339")]
        not_before: OffsetDateTime,
        /// Its notAfter.
        #[serde(with = "crate::rfc3339")]
        not_after: OffsetDateTime,
        /// The clock used for the check.
        #[serde(with = "crate::rfc3339")]
        now: OffsetDateTime,
    },

    /// A certificate of the chain is not valid yet (often: the device clock is wrong).
    #[error(
        "{role} \"{subject}\" is not valid yet: valid from {} until {}, device clock is {} (is the clock set?)",
        ts(not_before), ts(not_after), ts(now)
    )]
    NotYetValid {
        /// Which certificate.
        role: CertRole,
        /// Its subject.
        subject: String,
        /// Its notBefore.
        #[serde(with = "crate::rfc3339")]
        not_before: OffsetDateTime,
        /// Its notAfter.
        #[serde(with = "crate::rfc3339")]
        not_after: OffsetDateTime,
        /// The clock used for the check.
        #[serde(with = "crate::rfc3339")]
        now: OffsetDateTime,
    },

    /// The certificate is for other names than the one we connected to.
    #[error(
        "name mismatch: expected {expected}, the certificate is for {}{}",
        presented_list(presented),
        note.as_ref().map(|n| format!("; {n}")).unwrap_or_default()
    )]
    NameMismatch {
        /// The name we expected (e.g. `DNS sip.example.com`, `SIP domain example.com (strict)`).
        expected: String,
        /// The names the certificate has (`DNS:…`, `IP:…`, `URI:…`).
        presented: Vec<String>,
        /// Why names in the list do not count, when some look as if they
        /// should have matched (e.g. DNS names beside `sip:` URIs, RFC 5922 §7.1).
        note: Option<String>,
    },

    /// A signature in the chain does not verify.
    #[error("bad signature: {detail}")]
    BadSignature {
        /// Which check failed.
        detail: String,
    },

    /// The chain uses a signature or key algorithm we do not accept.
    #[error("unsupported algorithm: {detail}")]
    UnsupportedAlgorithm {
        /// Which algorithm problem.
        detail: String,
    },

    /// The certificate is not meant for a TLS server (key usage, extended key usage, CA flags).
    #[error("wrong certificate usage for \"{subject}\": {detail}")]
    WrongUsage {
        /// Subject of the certificate at fault (the server's, or a CA's of its chain).
        subject: String,
        /// What is wrong.
        detail: String,
    },

    /// The server presented a CA certificate as its own, and it is not uploaded.
    #[error(
        "the server certificate \"{subject}\" is a CA certificate (CA:TRUE); \
         to trust it, upload exactly this certificate to certs/trusted/"
    )]
    CaUsedAsEndEntity {
        /// Its subject.
        subject: String,
    },

    /// A CA of the chain is restricted (name constraints) to names this server does not have.
    #[error(
        "name constraints: \"{subject}\" is for {}, outside the names a CA of its chain may issue for",
        presented_list(presented)
    )]
    NameConstraintViolation {
        /// Subject of the server certificate.
        subject: String,
        /// Its names.
        presented: Vec<String>,
    },

    /// A certificate of the chain has a critical extension we do not understand (RFC 5280 says: refuse).
    #[error("a certificate of the chain has a critical extension this device does not understand, so it is refused (RFC 5280 §4.2)")]
    UnsupportedCriticalExtension,

    /// Anything else the path builder refused.
    #[error("certificate not accepted: {detail}")]
    Other {
        /// The path builder's reason.
        detail: String,
    },
}

fn presented_list(presented: &[String]) -> String {
    if presented.is_empty() {
        "no names at all (no subjectAltName)".to_owned()
    } else {
        presented.join(", ")
    }
}

impl VerifyError {
    /// The typed reason inside a rustls error produced by our verifier
    /// (`InvalidCertificate(Other(OtherError(Arc<VerifyError>)))`), if it is one.
    pub fn from_tls_error(error: &rustls::Error) -> Option<&VerifyError> {
        match error {
            rustls::Error::InvalidCertificate(rustls::CertificateError::Other(other)) => {
                other.0.downcast_ref::<VerifyError>()
            }
            _ => None,
        }
    }

    /// Wraps this reason in the rustls error our verifier returns.
    pub fn into_tls_error(self) -> rustls::Error {
        rustls::Error::InvalidCertificate(rustls::CertificateError::Other(rustls::OtherError(
            std::sync::Arc::new(self),
        )))
    }
}

/// Why an uploaded file was refused. The rest of the store loads regardless.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "reason")]
#[non_exhaustive]
pub enum RefuseReason {
    /// The file is a private key.
    #[error(
        "this is a private key, not a certificate: keys belong in certs/, never in certs/trusted/"
    )]
    PrivateKey,

    /// The file holds certificates and a private key.
    #[error(
        "holds a private key next to {certificates} certificate(s): keys belong in certs/; \
         upload only the certificate to certs/trusted/"
    )]
    ContainsPrivateKey {
        /// How many certificates were next to the key.
        certificates: usize,
    },

    /// The file is something else (a CSR, a CRL, a public key, text, …).
    #[error("not a certificate: {found}")]
    NotCertificate {
        /// What the file looks like.
        found: String,
    },

    /// A PEM block starts but never ends.
    #[error(
        "truncated PEM: \"-----BEGIN {label}-----\" has no matching END line (incomplete upload?)"
    )]
    TruncatedPem {
        /// The label of the unfinished block.
        label: String,
    },

    /// The PEM text is damaged.
    #[error("damaged PEM: {detail}")]
    BadPem {
        /// What is damaged.
        detail: String,
    },

    /// A certificate in the file cannot be read.
    #[error("certificate #{index} in the file is malformed: {detail}")]
    MalformedCertificate {
        /// Position in the file (0-based).
        index: usize,
        /// What is wrong.
        detail: String,
    },

    /// The file is empty.
    #[error("the file is empty")]
    Empty,

    /// The file is too large to be a certificate bundle.
    #[error("the file is {size} bytes; at most {max} bytes are read")]
    TooLarge {
        /// Its size.
        size: u64,
        /// The limit.
        max: u64,
    },

    /// The file holds more certificates than we accept from one file.
    #[error("the file holds more than {max} certificates")]
    TooManyCertificates {
        /// The limit.
        max: usize,
    },

    /// The file could not be read.
    #[error("cannot read the file: {detail}")]
    Unreadable {
        /// The operating system's reason.
        detail: String,
    },
}

/// Errors building a store that are not about one file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The user folder or vendor file could not be read at all.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// The vendor chain file was refused.
    #[error("vendor chain {path} refused: {reason}")]
    VendorRefused {
        /// The path.
        path: String,
        /// Why.
        reason: RefuseReason,
    },
}
