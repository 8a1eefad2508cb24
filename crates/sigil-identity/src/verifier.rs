//! The server side of mutual TLS: accepting devices of one vendor (SPEC ID6).

use std::fmt;
use std::sync::{Arc, Mutex};

use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, TrustAnchor, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;
use webpki::{EndEntityCert, KeyUsage};

use crate::cert::{format_time, CertInfo};
use crate::error::IdentityError;
use crate::mac::Mac;
use crate::pem::parse_identity_pem;

/// Why a client certificate was refused by [`DeviceVerifier`].
///
/// Get it for a failed handshake with [`Refusal::from_tls_error`] (from the
/// `rustls::Error` the server connection returned), or the last one with full
/// context from [`DeviceVerifier::last_refusal`]; every refusal is also logged
/// at `warn` level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "refusal", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Refusal {
    /// The client sent no certificate although one is required.
    #[error("the client presented no certificate; a device certificate is required")]
    NoCertificate,
    /// The certificate does not chain to the vendor root (another vendor's device, a self-made certificate…).
    #[error("the certificate was issued by {issuer}, which does not chain to the vendor root")]
    UnknownVendor {
        /// The issuer named in the certificate (empty when only the TLS error was available).
        issuer: String,
    },
    /// The certificate (or a CA certificate of its chain) has expired.
    #[error("the certificate expired on {not_after} (server clock {now})")]
    Expired {
        /// notAfter, RFC 3339 (empty when only the TLS error was available).
        not_after: String,
        /// The server clock, RFC 3339.
        now: String,
    },
    /// The certificate is not valid yet.
    #[error("the certificate is not valid before {not_before} (server clock {now})")]
    NotYetValid {
        /// notBefore, RFC 3339 (empty when only the TLS error was available).
        not_before: String,
        /// The server clock, RFC 3339.
        now: String,
    },
    /// The certificate's extended key usage does not allow TLS client authentication
    /// (a plain server certificate, for example).
    #[error("the certificate is not a client certificate (extended key usage: {presented})")]
    NotClientCertificate {
        /// The usages it lists.
        presented: String,
    },
    /// A CA certificate was presented as the device certificate.
    #[error("a CA certificate was presented instead of a device certificate")]
    CaCertificate,
    /// A signature in the chain is wrong.
    #[error("a signature in the certificate chain is invalid")]
    BadSignature,
    /// The certificate could not be parsed.
    #[error("the certificate is malformed: {reason}")]
    Malformed {
        /// The parser's description.
        reason: String,
    },
    /// Any other reason rustls-webpki gave.
    #[error("the certificate was refused: {reason}")]
    Other {
        /// The reason.
        reason: String,
    },
}

impl Refusal {
    /// A short stable code: `no_certificate`, `unknown_vendor`, `expired`,
    /// `not_yet_valid`, `not_client_certificate`, `ca_certificate`,
    /// `bad_signature`, `malformed`, `other`.
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::NoCertificate => "no_certificate",
            Refusal::UnknownVendor { .. } => "unknown_vendor",
            Refusal::Expired { .. } => "expired",
            Refusal::NotYetValid { .. } => "not_yet_valid",
            Refusal::NotClientCertificate { .. } => "not_client_certificate",
            Refusal::CaCertificate => "ca_certificate",
            Refusal::BadSignature => "bad_signature",
            Refusal::Malformed { .. } => "malformed",
            Refusal::Other { .. } => "other",
        }
    }

    /// The refusal behind a handshake error of a `rustls::ServerConnection`
    /// that uses [`DeviceVerifier`]; `None` when the error has nothing to do
    /// with the client certificate.
    ///
    /// The verifier reports refusals to rustls with the standard
    /// `CertificateError` variants where one exists (so the client gets the
    /// matching TLS alert: `unknown_ca`, `certificate_expired`,
    /// `unsupported_certificate`…) and as
    /// `CertificateError::Other(OtherError(Arc<Refusal>))` otherwise; this
    /// function undoes both. Context that the standard variants cannot carry
    /// (the issuer name) is in [`DeviceVerifier::last_refusal`].
    pub fn from_tls_error(error: &rustls::Error) -> Option<Refusal> {
        let certificate_error = match error {
            rustls::Error::NoCertificatesPresented => return Some(Refusal::NoCertificate),
            rustls::Error::InvalidCertificate(certificate_error) => certificate_error,
            _ => return None,
        };
        let now = || format_time(OffsetDateTime::now_utc());
        Some(match certificate_error {
            CertificateError::UnknownIssuer => Refusal::UnknownVendor {
                issuer: String::new(),
            },
            CertificateError::Expired => Refusal::Expired {
                not_after: String::new(),
                now: now(),
            },
            CertificateError::ExpiredContext { time, not_after } => Refusal::Expired {
                not_after: unix_text(*not_after),
                now: unix_text(*time),
            },
            CertificateError::NotValidYet => Refusal::NotYetValid {
                not_before: String::new(),
                now: now(),
            },
            CertificateError::NotValidYetContext { time, not_before } => Refusal::NotYetValid {
                not_before: unix_text(*not_before),
                now: unix_text(*time),
            },
            CertificateError::InvalidPurpose => Refusal::NotClientCertificate {
                presented: String::new(),
            },
            CertificateError::InvalidPurposeContext { presented, .. } => {
                Refusal::NotClientCertificate {
                    presented: presented
                        .iter()
                        .map(|p| p.to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                }
            }
            CertificateError::BadSignature => Refusal::BadSignature,
            CertificateError::BadEncoding => Refusal::Malformed {
                reason: "bad DER encoding".to_owned(),
            },
            CertificateError::Other(other) => match other.0.downcast_ref::<Refusal>() {
                Some(refusal) => refusal.clone(),
                None => Refusal::Other {
                    reason: other.to_string(),
                },
            },
            other => Refusal::Other {
                reason: other.to_string(),
            },
        })
    }

    fn to_tls_error(&self) -> rustls::Error {
        let certificate_error = match self {
            Refusal::NoCertificate => return rustls::Error::NoCertificatesPresented,
            Refusal::UnknownVendor { .. } => CertificateError::UnknownIssuer,
            Refusal::Expired { not_after, now } => match (unix_time(not_after), unix_time(now)) {
                (Some(not_after), Some(time)) => {
                    CertificateError::ExpiredContext { time, not_after }
                }
                _ => CertificateError::Expired,
            },
            Refusal::NotYetValid { not_before, now } => {
                match (unix_time(not_before), unix_time(now)) {
                    (Some(not_before), Some(time)) => {
                        CertificateError::NotValidYetContext { time, not_before }
                    }
                    _ => CertificateError::NotValidYet,
                }
            }
            Refusal::NotClientCertificate { .. } => CertificateError::InvalidPurpose,
            Refusal::BadSignature => CertificateError::BadSignature,
            Refusal::CaCertificate | Refusal::Malformed { .. } | Refusal::Other { .. } => {
                CertificateError::Other(rustls::OtherError(Arc::new(self.clone())))
            }
        };
        rustls::Error::InvalidCertificate(certificate_error)
    }
}

fn unix_time(text: &str) -> Option<UnixTime> {
    let time = OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()?;
    let secs = u64::try_from(time.unix_timestamp()).ok()?;
    Some(UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        secs,
    )))
}

fn unix_text(time: UnixTime) -> String {
    i64::try_from(time.as_secs())
        .ok()
        .and_then(|secs| OffsetDateTime::from_unix_timestamp(secs).ok())
        .map(format_time)
        .unwrap_or_default()
}

/// The device at the other end of an accepted connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PeerDevice {
    /// The MAC from the certificate's subject CN (or serialNumber), normalised.
    pub mac: Option<Mac>,
    /// The certificate subject.
    pub subject: String,
    /// SHA-256 fingerprint of the device certificate.
    pub fingerprint_sha256: String,
    /// The CA that signed the device certificate (the vendor intermediate).
    pub issuer: String,
    /// The vendor root the chain ended at, when known (filled by [`DeviceVerifier::identify`]).
    pub root: Option<String>,
    /// Everything else about the certificate.
    pub certificate: CertInfo,
}

impl PeerDevice {
    /// Reads the device from the certificates of an accepted connection:
    /// `PeerDevice::from_peer_certificates(conn.peer_certificates())`.
    ///
    /// This does not verify anything: call it only on a connection whose
    /// handshake the [`DeviceVerifier`] accepted. (Use
    /// [`DeviceVerifier::identify`] to verify again and learn the root.)
    pub fn from_peer_certificates(
        certificates: Option<&[CertificateDer<'_>]>,
    ) -> Result<PeerDevice, Refusal> {
        let leaf = certificates
            .and_then(|c| c.first())
            .ok_or(Refusal::NoCertificate)?;
        let certificate =
            CertInfo::from_der(leaf.as_ref()).map_err(|reason| Refusal::Malformed { reason })?;
        Ok(PeerDevice {
            mac: certificate.mac,
            subject: certificate.subject.clone(),
            fingerprint_sha256: certificate.fingerprint_sha256.clone(),
            issuer: certificate.issuer.clone(),
            root: None,
            certificate,
        })
    }
}

impl fmt::Display for PeerDevice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.mac {
            Some(mac) => write!(f, "device {mac}")?,
            None => write!(f, "client {}", self.subject)?,
        }
        write!(
            f,
            " (issued by {}, SHA-256 {})",
            self.issuer, self.fingerprint_sha256
        )
    }
}

/// A rustls [`ClientCertVerifier`] for servers that accept this vendor's
/// devices (SIP servers, provisioning servers, tests): a client certificate is
/// required and must chain (rustls-webpki) to one of the vendor roots, be
/// within its validity period and allow clientAuth if it has an extended key
/// usage.
///
/// ```no_run
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::Arc;
/// let verifier = Arc::new(sigil_identity::DeviceVerifier::from_pem_file("chain.pem".as_ref())?);
/// # let (chain, key): (Vec<rustls_pki_types::CertificateDer<'static>>, rustls_pki_types::PrivateKeyDer<'static>) = todo!();
/// let config = rustls::ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
///     .with_safe_default_protocol_versions()?
///     .with_client_cert_verifier(verifier.clone())
///     .with_single_cert(chain, key)?;
/// // … after the handshake of `conn: rustls::ServerConnection`:
/// // let device = sigil_identity::PeerDevice::from_peer_certificates(conn.peer_certificates())?;
/// // … or when it failed with `error`:
/// // let why = sigil_identity::Refusal::from_tls_error(&error);
/// # Ok(()) }
/// ```
pub struct DeviceVerifier {
    anchors: Vec<TrustAnchor<'static>>,
    anchor_names: Vec<(Vec<u8>, String)>,
    intermediates: Vec<CertificateDer<'static>>,
    hints: Vec<DistinguishedName>,
    algorithms: WebPkiSupportedAlgorithms,
    last_refusal: Mutex<Option<Refusal>>,
}

impl fmt::Debug for DeviceVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceVerifier")
            .field(
                "roots",
                &self.anchor_names.iter().map(|(_, n)| n).collect::<Vec<_>>(),
            )
            .field("intermediates", &self.intermediates.len())
            .finish()
    }
}

impl DeviceVerifier {
    /// A verifier trusting the vendor CA certificates given: self-issued ones
    /// (the vendor root) become trust anchors, the others (the intermediate)
    /// help path building. When no self-issued certificate is given, every
    /// certificate becomes an anchor (trusting only the intermediate).
    pub fn new(
        vendor_certificates: &[CertificateDer<'_>],
    ) -> Result<DeviceVerifier, IdentityError> {
        let file = "vendor CA certificates";
        if vendor_certificates.is_empty() {
            return Err(IdentityError::NoCertificate {
                file: file.to_owned(),
            });
        }
        let mut infos = Vec::new();
        for (index, der) in vendor_certificates.iter().enumerate() {
            let info = CertInfo::from_der(der.as_ref()).map_err(|reason| {
                IdentityError::BadCertificate {
                    file: file.to_owned(),
                    index: index + 1,
                    reason,
                }
            })?;
            infos.push(info);
        }
        let any_root = infos.iter().any(|i| i.self_issued);
        let mut verifier = DeviceVerifier {
            anchors: Vec::new(),
            anchor_names: Vec::new(),
            intermediates: Vec::new(),
            hints: Vec::new(),
            algorithms: rustls::crypto::ring::default_provider().signature_verification_algorithms,
            last_refusal: Mutex::new(None),
        };
        for (index, (der, info)) in vendor_certificates.iter().zip(&infos).enumerate() {
            if info.self_issued || !any_root {
                let anchor = webpki::anchor_from_trusted_cert(der)
                    .map_err(|e| IdentityError::BadCertificate {
                        file: file.to_owned(),
                        index: index + 1,
                        reason: format!("not usable as a trust anchor: {e}"),
                    })?
                    .to_owned();
                verifier
                    .hints
                    .push(DistinguishedName::in_sequence(&anchor.subject));
                verifier
                    .anchor_names
                    .push((anchor.subject.to_vec(), info.subject.clone()));
                verifier.anchors.push(anchor);
            } else {
                if let Some((subject, _)) = crate::cert::raw_names(der) {
                    verifier.hints.push(DistinguishedName::from(subject));
                }
                verifier.intermediates.push(der.clone().into_owned());
            }
        }
        Ok(verifier)
    }

    /// A verifier from a PEM file of vendor CA certificates (`root.pem`, or
    /// `chain.pem` with intermediate and root).
    pub fn from_pem_file(path: &std::path::Path) -> Result<DeviceVerifier, IdentityError> {
        let pem = crate::store::read_limited(path)?.ok_or_else(|| IdentityError::Read {
            path: path.to_owned(),
            source: std::io::ErrorKind::NotFound.into(),
        })?;
        let parsed = parse_identity_pem(&pem, &path.display().to_string())?;
        DeviceVerifier::new(&parsed.certificates)
    }

    /// The most recent refusal, with full context. Shared by all connections
    /// using this verifier; for per-connection reasons use
    /// [`Refusal::from_tls_error`] on the handshake error.
    pub fn last_refusal(&self) -> Option<Refusal> {
        self.last_refusal.lock().ok().and_then(|last| last.clone())
    }

    /// Verifies a client chain (leaf first, as `conn.peer_certificates()`
    /// gives it) at `now` and names the device and the root it chains to.
    pub fn identify(
        &self,
        certificates: Option<&[CertificateDer<'_>]>,
        now: UnixTime,
    ) -> Result<PeerDevice, Refusal> {
        let (leaf, intermediates) = certificates
            .and_then(|c| c.split_first())
            .ok_or(Refusal::NoCertificate)?;
        self.check(leaf, intermediates, now)
    }

    fn check(
        &self,
        leaf: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<PeerDevice, Refusal> {
        let mut device = PeerDevice::from_peer_certificates(Some(std::slice::from_ref(leaf)))?;
        let cert = EndEntityCert::try_from(leaf).map_err(|e| Refusal::Malformed {
            reason: e.to_string(),
        })?;
        let mut all_intermediates: Vec<CertificateDer<'_>> = intermediates.to_vec();
        all_intermediates.extend(self.intermediates.iter().cloned());
        let path = cert
            .verify_for_usage(
                self.algorithms.all,
                &self.anchors,
                &all_intermediates,
                now,
                KeyUsage::client_auth(),
                None,
                None,
            )
            .map_err(|error| refusal_from_webpki(&error, &device.certificate))?;
        let anchor_subject = path.anchor().subject.as_ref();
        device.root = self
            .anchor_names
            .iter()
            .find(|(raw, _)| raw.as_slice() == anchor_subject)
            .map(|(_, name)| name.clone());
        Ok(device)
    }

    fn record(&self, refusal: &Refusal, subject: &str) {
        log::warn!("refused client certificate {subject}: {refusal}");
        if let Ok(mut last) = self.last_refusal.lock() {
            *last = Some(refusal.clone());
        }
    }
}

fn refusal_from_webpki(error: &webpki::Error, info: &CertInfo) -> Refusal {
    use webpki::Error as E;
    let eku = || {
        info.extended_key_usage
            .as_deref()
            .map(|u| u.join(", "))
            .unwrap_or_else(|| "none".to_owned())
    };
    match error {
        E::UnknownIssuer => Refusal::UnknownVendor {
            issuer: info.issuer.clone(),
        },
        E::CertExpired { time, not_after } => Refusal::Expired {
            not_after: unix_text(*not_after),
            now: unix_text(*time),
        },
        E::CertNotValidYet { time, not_before } => Refusal::NotYetValid {
            not_before: unix_text(*not_before),
            now: unix_text(*time),
        },
        #[allow(deprecated)]
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) => {
            Refusal::NotClientCertificate { presented: eku() }
        }
        E::CaUsedAsEndEntity => Refusal::CaCertificate,
        E::InvalidSignatureForPublicKey => Refusal::BadSignature,
        E::BadDer | E::BadDerTime | E::TrailingData(_) | E::UnsupportedCertVersion => {
            Refusal::Malformed {
                reason: error.to_string(),
            }
        }
        other => Refusal::Other {
            reason: other.to_string(),
        },
    }
}

impl ClientCertVerifier for DeviceVerifier {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &self.hints
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        match self.check(end_entity, intermediates, now) {
            Ok(device) => {
                log::info!("accepted {device}");
                Ok(ClientCertVerified::assertion())
            }
            Err(refusal) => {
                let subject = CertInfo::from_der(end_entity.as_ref())
                    .map(|i| i.subject)
                    .unwrap_or_else(|_| "(unparsable)".to_owned());
                self.record(&refusal, &subject);
                Err(refusal.to_tls_error())
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
