//! Total, bounded parsing of identity PEM files (certificate chain + private key).

use std::fmt;

use rustls_pki_types::pem::{PemObject, SectionKind};
use rustls_pki_types::{
    CertificateDer, PrivateKeyDer, PrivatePkcs1KeyDer, PrivatePkcs8KeyDer, PrivateSec1KeyDer,
};

use crate::error::IdentityError;

/// Largest identity file read (bytes). Real ones are 2–10 KiB.
pub const MAX_IDENTITY_FILE: usize = 256 * 1024;
/// Most certificates accepted in one identity file (leaf + chain).
pub const MAX_CERTIFICATES: usize = 8;
/// Most PEM sections looked at in one file.
const MAX_SECTIONS: usize = 32;

/// The certificates and private key found in an identity PEM.
///
/// The private key is never shown by `Debug`.
pub struct IdentityPem {
    /// Certificates in file order.
    pub certificates: Vec<CertificateDer<'static>>,
    key: Option<PrivateKeyDer<'static>>,
    /// PEM sections that are neither a certificate nor a private key (CRLs, CSRs, public keys…), skipped.
    pub ignored_sections: usize,
}

impl fmt::Debug for IdentityPem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdentityPem")
            .field("certificates", &self.certificates.len())
            .field("key", &self.key.as_ref().map(|_| "<private key>"))
            .field("ignored_sections", &self.ignored_sections)
            .finish()
    }
}

impl IdentityPem {
    /// The private key (PKCS#8, SEC1 or PKCS#1), if the file holds one.
    pub fn key(&self) -> Option<&PrivateKeyDer<'static>> {
        self.key.as_ref()
    }

    /// Takes the private key out.
    pub fn take_key(&mut self) -> Option<PrivateKeyDer<'static>> {
        self.key.take()
    }
}

/// Parses an identity PEM: any number (up to [`MAX_CERTIFICATES`]) of
/// `CERTIFICATE` sections and at most one private key in PKCS#8
/// (`PRIVATE KEY`), SEC1 (`EC PRIVATE KEY`) or PKCS#1 (`RSA PRIVATE KEY`)
/// form, in any order. Text outside sections is ignored, as OpenSSL does.
///
/// Total: any input gives a value or an error, never a panic, and the work
/// is bounded by [`MAX_IDENTITY_FILE`]. `file` only names the source in errors.
/// An empty certificate list or a missing key is *not* an error here; callers
/// decide what they need.
pub fn parse_identity_pem(data: &[u8], file: &str) -> Result<IdentityPem, IdentityError> {
    if data.len() > MAX_IDENTITY_FILE {
        return Err(IdentityError::FileTooLarge {
            file: file.to_owned(),
            limit: MAX_IDENTITY_FILE,
        });
    }
    if contains(data, b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        || contains(data, b"Proc-Type: 4,ENCRYPTED")
    {
        return Err(IdentityError::EncryptedKey {
            file: file.to_owned(),
        });
    }
    let mut certificates = Vec::new();
    let mut keys: Vec<PrivateKeyDer<'static>> = Vec::new();
    let mut ignored_sections = 0;
    for (count, section) in <(SectionKind, Vec<u8>)>::pem_slice_iter(data).enumerate() {
        if count >= MAX_SECTIONS {
            return Err(IdentityError::BadPem {
                file: file.to_owned(),
                reason: format!("more than {MAX_SECTIONS} PEM sections"),
            });
        }
        let (kind, der) = section.map_err(|error| IdentityError::BadPem {
            file: file.to_owned(),
            reason: pem_error_text(&error),
        })?;
        match kind {
            SectionKind::Certificate => {
                if certificates.len() >= MAX_CERTIFICATES {
                    return Err(IdentityError::TooManyCertificates {
                        file: file.to_owned(),
                        limit: MAX_CERTIFICATES,
                    });
                }
                certificates.push(CertificateDer::from(der));
            }
            SectionKind::PrivateKey => keys.push(PrivatePkcs8KeyDer::from(der).into()),
            SectionKind::EcPrivateKey => keys.push(PrivateSec1KeyDer::from(der).into()),
            SectionKind::RsaPrivateKey => keys.push(PrivatePkcs1KeyDer::from(der).into()),
            _ => ignored_sections += 1,
        }
    }
    if keys.len() > 1 {
        return Err(IdentityError::SeveralKeys {
            file: file.to_owned(),
            count: keys.len(),
        });
    }
    Ok(IdentityPem {
        certificates,
        key: keys.pop(),
        ignored_sections,
    })
}

/// PEM errors without echoing file content (which may be key material).
fn pem_error_text(error: &rustls_pki_types::pem::Error) -> String {
    use rustls_pki_types::pem::Error;
    match error {
        Error::MissingSectionEnd { end_marker } => format!(
            "a section is not closed (missing -----END {}-----; truncated file?)",
            String::from_utf8_lossy(end_marker)
                .chars()
                .take(40)
                .collect::<String>()
        ),
        Error::IllegalSectionStart { .. } => "a -----BEGIN line is malformed".to_owned(),
        Error::Base64Decode(_) => "a section's Base64 body is corrupt".to_owned(),
        Error::SectionTooLarge => "a section is too large".to_owned(),
        _ => "unreadable PEM".to_owned(),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_garbage_give_no_certificates() {
        let parsed = parse_identity_pem(b"", "x").unwrap();
        assert!(parsed.certificates.is_empty() && parsed.key().is_none());
        let parsed = parse_identity_pem(b"hello\nworld", "x").unwrap();
        assert!(parsed.certificates.is_empty());
    }

    #[test]
    fn truncated_section_is_bad_pem() {
        let err = parse_identity_pem(b"-----BEGIN CERTIFICATE-----\nMIIB\n", "f.pem").unwrap_err();
        assert_eq!(err.code(), "bad_pem", "{err}");
    }

    #[test]
    fn encrypted_key_is_named() {
        let text =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(
            parse_identity_pem(text, "k").unwrap_err().code(),
            "encrypted_key"
        );
    }

    #[test]
    fn two_keys_are_refused_and_too_many_certificates_too() {
        let key = "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        let err = parse_identity_pem(format!("{key}{key}").as_bytes(), "k").unwrap_err();
        assert_eq!(err.code(), "several_keys");
        let cert = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
        let err =
            parse_identity_pem(cert.repeat(MAX_CERTIFICATES + 1).as_bytes(), "c").unwrap_err();
        assert_eq!(err.code(), "too_many_certificates");
    }

    proptest::proptest! {
        #[test]
        fn any_bytes_give_a_value_or_an_error(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048)) {
            let _ = parse_identity_pem(&data, "p");
        }

        #[test]
        fn pem_shaped_text_gives_a_value_or_an_error(
            sections in proptest::collection::vec(
                ("(CERTIFICATE|PRIVATE KEY|EC PRIVATE KEY|RSA PRIVATE KEY|X509 CRL|FOO)", "[A-Za-z0-9+/=\n]{0,200}", proptest::prelude::any::<bool>()),
                0..6,
            )
        ) {
            let mut text = String::new();
            for (label, body, closed) in &sections {
                text.push_str(&format!("-----BEGIN {label}-----\n{body}\n"));
                if *closed {
                    text.push_str(&format!("-----END {label}-----\n"));
                }
            }
            if let Ok(parsed) = parse_identity_pem(text.as_bytes(), "p") {
                proptest::prop_assert!(parsed.certificates.len() <= MAX_CERTIFICATES);
                // Whatever was found loads or fails cleanly.
                let _ = crate::Identity::from_pem(text.as_bytes(), None, "p");
            }
        }
    }

    #[test]
    fn oversized_input_is_refused_before_parsing() {
        let big = vec![b'A'; MAX_IDENTITY_FILE + 1];
        assert_eq!(
            parse_identity_pem(&big, "big").unwrap_err().code(),
            "file_too_large"
        );
    }
}
