//! The error type of this crate.

use std::path::PathBuf;

use crate::mac::MacParseError;

/// What went wrong with a device identity, in the terms of whoever installed it.
///
/// Loading problems of the override (`certs/sipclient.pem`) and the web
/// certificate do not fail [`IdentitySet::load`](crate::IdentitySet::load):
/// they are reported in [`IdentityStatus`](crate::IdentityStatus) with
/// [`IdentityError::code`] and the message. No variant ever contains key
/// material.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdentityError {
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file or directory could not be written or removed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// A file is far larger than any identity file.
    #[error("{file} is larger than {limit} bytes; an identity PEM is a few kilobytes")]
    FileTooLarge {
        /// The file.
        file: String,
        /// The limit in bytes.
        limit: usize,
    },
    /// The PEM text is malformed (missing END line, bad Base64, …).
    #[error("{file} is not valid PEM: {reason}")]
    BadPem {
        /// The file.
        file: String,
        /// What the PEM parser reported.
        reason: String,
    },
    /// The file holds no certificate.
    #[error("{file} holds no certificate (expected -----BEGIN CERTIFICATE-----)")]
    NoCertificate {
        /// The file.
        file: String,
    },
    /// The file holds a certificate but no private key.
    #[error("{file} holds no private key: the certificate and its key belong in the same PEM")]
    NoKey {
        /// The file.
        file: String,
    },
    /// More than one private key was found.
    #[error("{file} holds {count} private keys; exactly one is expected")]
    SeveralKeys {
        /// The file.
        file: String,
        /// How many keys were found.
        count: usize,
    },
    /// The private key is password-protected.
    #[error("{file} holds an encrypted private key; store it unencrypted (openssl pkey -in KEY -out KEY.pem)")]
    EncryptedKey {
        /// The file.
        file: String,
    },
    /// Too many certificates for an identity chain.
    #[error(
        "{file} holds more than {limit} certificates; an identity is a certificate and its chain"
    )]
    TooManyCertificates {
        /// The file.
        file: String,
        /// The limit.
        limit: usize,
    },
    /// A certificate could not be parsed as X.509.
    #[error("{file}: certificate #{index} is not a valid X.509 certificate: {reason}")]
    BadCertificate {
        /// The file.
        file: String,
        /// Position in the file, starting at 1.
        index: usize,
        /// What the parser reported.
        reason: String,
    },
    /// The private key's type or size is not supported (ECDSA P-256/P-384, RSA 2048–8192 and Ed25519 are).
    #[error(
        "{file}: the private key cannot be used ({reason}); use ECDSA P-256/P-384 or RSA 2048-4096"
    )]
    UnsupportedKey {
        /// The file.
        file: String,
        /// Why.
        reason: String,
    },
    /// The private key belongs to none of the certificates.
    #[error("{file}: the private key does not belong to the certificate {subject}")]
    KeyMismatch {
        /// The file.
        file: String,
        /// Subject of the first certificate in the file.
        subject: String,
    },
    /// The certificate has expired.
    #[error("{file}: certificate {subject} expired on {not_after} (device clock: {now})")]
    Expired {
        /// The file.
        file: String,
        /// Its subject.
        subject: String,
        /// Its notAfter (RFC 3339).
        not_after: String,
        /// The device clock (RFC 3339).
        now: String,
    },
    /// The certificate is not valid yet.
    #[error("{file}: certificate {subject} is not valid before {not_before} (device clock: {now}; is the clock set?)")]
    NotYetValid {
        /// The file.
        file: String,
        /// Its subject.
        subject: String,
        /// Its notBefore (RFC 3339).
        not_before: String,
        /// The device clock (RFC 3339).
        now: String,
    },
    /// The certificate has an extended key usage that does not include TLS client authentication.
    #[error("{file}: certificate {subject} is not a client certificate: its extended key usage allows only {presented}")]
    NotClientCertificate {
        /// The file.
        file: String,
        /// Its subject.
        subject: String,
        /// The usages it does allow.
        presented: String,
    },
    /// The certificate has an extended key usage that does not include TLS server authentication.
    #[error("{file}: certificate {subject} is not a server certificate: its extended key usage allows only {presented}")]
    NotServerCertificate {
        /// The file.
        file: String,
        /// Its subject.
        subject: String,
        /// The usages it does allow.
        presented: String,
    },
    /// The certificate is a CA certificate, not a device certificate.
    #[error(
        "{file}: certificate {subject} is a CA certificate, not a device or server certificate"
    )]
    CaCertificate {
        /// The file.
        file: String,
        /// Its subject.
        subject: String,
    },
    /// A wipe was refused because the directory does not look like a user store.
    #[error("refusing to wipe {}: {reason}", dir.display())]
    RefuseWipe {
        /// The directory.
        dir: PathBuf,
        /// Why.
        reason: String,
    },
    /// Minting refused to overwrite an existing vendor or device key.
    #[error("{} already exists; refusing to overwrite a vendor or device key (choose another directory)", path.display())]
    AlreadyExists {
        /// The existing file.
        path: PathBuf,
    },
    /// `httpd.pem` is missing and this build cannot make one.
    #[error("{file} is missing and this build cannot generate one (enable the `mint` feature)")]
    CannotGenerate {
        /// The file.
        file: String,
    },
    /// Minting a key or certificate failed.
    #[error("minting failed: {0}")]
    Mint(String),
    /// A MAC address could not be parsed.
    #[error(transparent)]
    Mac(#[from] MacParseError),
}

impl IdentityError {
    /// A short, stable, machine-readable code for status JSON and scripts
    /// (`"no_key"`, `"key_mismatch"`, `"expired"`, `"not_client_certificate"`, …).
    pub fn code(&self) -> &'static str {
        match self {
            IdentityError::Read { .. } => "unreadable",
            IdentityError::Write { .. } => "unwritable",
            IdentityError::FileTooLarge { .. } => "file_too_large",
            IdentityError::BadPem { .. } => "bad_pem",
            IdentityError::NoCertificate { .. } => "no_certificate",
            IdentityError::NoKey { .. } => "no_key",
            IdentityError::SeveralKeys { .. } => "several_keys",
            IdentityError::EncryptedKey { .. } => "encrypted_key",
            IdentityError::TooManyCertificates { .. } => "too_many_certificates",
            IdentityError::BadCertificate { .. } => "bad_certificate",
            IdentityError::UnsupportedKey { .. } => "unsupported_key",
            IdentityError::KeyMismatch { .. } => "key_mismatch",
            IdentityError::Expired { .. } => "expired",
            IdentityError::NotYetValid { .. } => "not_yet_valid",
            IdentityError::NotClientCertificate { .. } => "not_client_certificate",
            IdentityError::NotServerCertificate { .. } => "not_server_certificate",
            IdentityError::CaCertificate { .. } => "ca_certificate",
            IdentityError::RefuseWipe { .. } => "refuse_wipe",
            IdentityError::AlreadyExists { .. } => "already_exists",
            IdentityError::CannotGenerate { .. } => "cannot_generate",
            IdentityError::Mint(_) => "mint_failed",
            IdentityError::Mac(_) => "bad_mac",
        }
    }
}
