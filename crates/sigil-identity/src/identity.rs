//! A loaded identity: certificate chain plus the matching private key.

use std::fmt;
use std::sync::Arc;

use rustls::sign::CertifiedKey;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

use crate::cert::{format_time, raw_names, CertInfo, Validity};
use crate::error::IdentityError;
use crate::pem::parse_identity_pem;

/// What a certificate is going to be used for, for [`Identity::check_usable`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// Presented as a TLS client certificate (factory identity, `sipclient.pem`).
    ClientAuth,
    /// Presented as a TLS server certificate (`httpd.pem`, the SIP listener).
    ServerAuth,
}

/// A certificate chain with its private key, checked to belong together.
///
/// The private key lives only inside rustls's signing key object (ring); it
/// is never exposed, logged or printed (`Debug` shows the certificate only).
#[derive(Clone)]
pub struct Identity {
    certified: Arc<CertifiedKey>,
    info: CertInfo,
    chain_info: Vec<CertInfo>,
    names: Vec<Vec<u8>>,
    source: String,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Identity")
            .field("source", &self.source)
            .field("subject", &self.info.subject)
            .field("fingerprint_sha256", &self.info.fingerprint_sha256)
            .field("chain", &self.chain_info.len())
            .finish_non_exhaustive()
    }
}

impl Identity {
    /// Loads an identity from PEM: `cert_pem` holds the certificate (and
    /// optionally its chain, and optionally the key); `key_pem`, when given,
    /// holds the key instead (the factory partition's `device.key`).
    /// `source` names the file in errors and status.
    ///
    /// Checks that there is a certificate, that there is exactly one key,
    /// that the key is a supported type (ECDSA P-256/P-384, RSA 2048+,
    /// Ed25519; PKCS#8, SEC1 or PKCS#1) and that it belongs to one of the
    /// certificates, which becomes the leaf (a chain written in the wrong
    /// order is put right). Validity and usage are checked separately by
    /// [`Identity::check_usable`].
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: Option<&[u8]>,
        source: &str,
    ) -> Result<Identity, IdentityError> {
        let mut parsed = parse_identity_pem(cert_pem, source)?;
        let key = match key_pem {
            Some(key_pem) => {
                let mut key_file = parse_identity_pem(key_pem, source)?;
                match (key_file.take_key(), parsed.take_key()) {
                    (Some(_), Some(_)) => {
                        return Err(IdentityError::SeveralKeys {
                            file: source.to_owned(),
                            count: 2,
                        })
                    }
                    (Some(key), None) | (None, Some(key)) => Some(key),
                    (None, None) => None,
                }
            }
            None => parsed.take_key(),
        };
        if parsed.certificates.is_empty() {
            return Err(IdentityError::NoCertificate {
                file: source.to_owned(),
            });
        }
        let Some(key) = key else {
            return Err(IdentityError::NoKey {
                file: source.to_owned(),
            });
        };
        Identity::from_der(parsed.certificates, key, source)
    }

    /// Builds an identity from DER certificates (leaf first, or in any order)
    /// and a private key. See [`Identity::from_pem`] for the checks.
    pub fn from_der(
        certificates: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
        source: &str,
    ) -> Result<Identity, IdentityError> {
        let file = || source.to_owned();
        if certificates.is_empty() {
            return Err(IdentityError::NoCertificate { file: file() });
        }
        let mut infos = Vec::with_capacity(certificates.len());
        let mut spkis = Vec::with_capacity(certificates.len());
        for (index, der) in certificates.iter().enumerate() {
            let (rest, cert) = X509Certificate::from_der(der.as_ref()).map_err(|e| {
                IdentityError::BadCertificate {
                    file: file(),
                    index: index + 1,
                    reason: e.to_string(),
                }
            })?;
            if !rest.is_empty() {
                return Err(IdentityError::BadCertificate {
                    file: file(),
                    index: index + 1,
                    reason: "trailing data after the certificate".to_owned(),
                });
            }
            spkis.push(cert.public_key().raw.to_vec());
            infos.push(CertInfo::from_parsed(&cert, der.as_ref()));
        }
        let signing_key =
            rustls::crypto::ring::sign::any_supported_type(&key).map_err(|error| {
                IdentityError::UnsupportedKey {
                    file: file(),
                    reason: error.to_string(),
                }
            })?;
        drop(key);
        let leaf_index = match signing_key.public_key() {
            Some(spki) => spkis
                .iter()
                .position(|candidate| candidate.as_slice() == spki.as_ref())
                .ok_or_else(|| IdentityError::KeyMismatch {
                    file: file(),
                    subject: infos.first().map(|i| i.subject.clone()).unwrap_or_default(),
                })?,
            // ok: rustls's ring keys all report their public key; an unknown
            // key type keeps the file order.
            None => 0,
        };
        let mut chain = certificates;
        if leaf_index != 0 {
            let leaf = chain.remove(leaf_index);
            chain.insert(0, leaf);
            let leaf_info = infos.remove(leaf_index);
            infos.insert(0, leaf_info);
        }
        let mut infos = infos.into_iter();
        let Some(info) = infos.next() else {
            return Err(IdentityError::NoCertificate { file: file() });
        };
        if info.is_ca {
            return Err(IdentityError::CaCertificate {
                file: file(),
                subject: info.subject,
            });
        }
        let names = chain
            .iter()
            .filter_map(raw_names)
            .flat_map(|(subject, issuer)| [subject, issuer])
            .collect();
        Ok(Identity {
            certified: Arc::new(CertifiedKey::new(chain, signing_key)),
            info,
            chain_info: infos.collect(),
            names,
            source: source.to_owned(),
        })
    }

    /// Checks that the leaf is within its validity period at `now` and that
    /// its extended key usage (if present) allows `purpose`.
    pub fn check_usable(&self, now: OffsetDateTime, purpose: Purpose) -> Result<(), IdentityError> {
        self.check_validity(now)?;
        self.check_purpose(purpose)
    }

    /// Checks that the leaf is within its validity period at `now`.
    pub fn check_validity(&self, now: OffsetDateTime) -> Result<(), IdentityError> {
        let info = &self.info;
        match info.validity_at(now) {
            Validity::Valid => {}
            Validity::Expired => {
                return Err(IdentityError::Expired {
                    file: self.source.clone(),
                    subject: info.subject.clone(),
                    not_after: format_time(info.not_after),
                    now: format_time(now),
                })
            }
            Validity::NotYetValid => {
                return Err(IdentityError::NotYetValid {
                    file: self.source.clone(),
                    subject: info.subject.clone(),
                    not_before: format_time(info.not_before),
                    now: format_time(now),
                })
            }
        }
        Ok(())
    }

    /// Checks that the leaf's extended key usage (if present) allows `purpose`.
    pub fn check_purpose(&self, purpose: Purpose) -> Result<(), IdentityError> {
        let info = &self.info;
        let allowed = match purpose {
            Purpose::ClientAuth => info.client_auth,
            Purpose::ServerAuth => info.server_auth,
        };
        if !allowed {
            let presented = info
                .extended_key_usage
                .as_deref()
                .map(|usages| usages.join(", "))
                .unwrap_or_default();
            let file = self.source.clone();
            let subject = info.subject.clone();
            return Err(match purpose {
                Purpose::ClientAuth => IdentityError::NotClientCertificate {
                    file,
                    subject,
                    presented,
                },
                Purpose::ServerAuth => IdentityError::NotServerCertificate {
                    file,
                    subject,
                    presented,
                },
            });
        }
        Ok(())
    }

    /// The leaf certificate's facts.
    pub fn certificate(&self) -> &CertInfo {
        &self.info
    }

    /// The facts of the chain certificates after the leaf (intermediate, root…).
    pub fn chain_info(&self) -> &[CertInfo] {
        &self.chain_info
    }

    /// The DER chain as presented in TLS, leaf first.
    pub fn chain(&self) -> &[CertificateDer<'static>] {
        &self.certified.cert
    }

    /// The chain and signing key in the form rustls takes. For the device's
    /// own TLS server (SIP listener, web interface):
    /// `ServerConfig::builder()….with_cert_resolver(Arc::new(rustls::sign::SingleCertAndKey::from(identity.certified_key())))`.
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.certified)
    }

    /// The file it was loaded from, as given to the loader.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Whether any certificate of the chain has `name` (DER X.500 Name, with
    /// or without its outer SEQUENCE) as subject or issuer.
    pub(crate) fn chains_to_name(&self, name: &[u8]) -> bool {
        self.names
            .iter()
            .any(|own| own.as_slice() == name || strip_sequence(own) == Some(name))
    }
}

/// The contents of a DER SEQUENCE (tag 0x30), if `der` is one.
fn strip_sequence(der: &[u8]) -> Option<&[u8]> {
    let (&tag, rest) = der.split_first()?;
    if tag != 0x30 {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 3 || rest.len() < count {
            return None;
        }
        let (len_bytes, rest) = rest.split_at(count);
        (
            len_bytes
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b)),
            rest,
        )
    };
    (rest.len() == len).then_some(rest)
}
