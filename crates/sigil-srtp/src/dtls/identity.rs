//! The certificate and key a DTLS-SRTP endpoint presents, and its
//! fingerprint for `a=fingerprint`.

use std::fmt;

use zeroize::Zeroizing;

use super::{DtlsError, Fingerprint};

/// A certificate (DER) and its private key (PKCS#8 DER, ECDSA P-256 or
/// P-384) for DTLS-SRTP: either the device's own identity or a key made for
/// one call ([`DtlsIdentity::generate`]).
///
/// The peer does not validate the certificate against any CA: it checks the
/// SHA-256 fingerprint we put into the SDP (RFC 5763 §5), which travelled
/// over SIP/TLS. The key is wiped when the value is dropped and never shown
/// by `Debug`.
#[derive(Clone)]
pub struct DtlsIdentity {
    certificate: Vec<u8>,
    private_key: Zeroizing<Vec<u8>>,
    fingerprint: Fingerprint,
}

impl DtlsIdentity {
    /// A fresh self-signed ECDSA P-256 certificate (RFC 5763 §5: endpoints
    /// may use self-signed certificates; the fingerprint authenticates them).
    pub fn generate() -> Result<DtlsIdentity, DtlsError> {
        let failed = |e: rcgen::Error| DtlsError::Identity {
            reason: format!("cannot make a self-signed certificate: {e}"),
        };
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).map_err(failed)?;
        let params =
            rcgen::CertificateParams::new(vec!["sigil-dtls-srtp".to_owned()]).map_err(failed)?;
        let cert = params.self_signed(&key).map_err(failed)?;
        let private_key = Zeroizing::new(key.serialize_der());
        Ok(DtlsIdentity::from_der(
            cert.der().to_vec(),
            private_key.to_vec(),
        ))
    }

    /// An identity from a DER certificate and its PKCS#8 DER private key
    /// (ECDSA P-256 or P-384: DTLS-SRTP here signs with ECDSA only).
    pub fn from_der(certificate: Vec<u8>, private_key: Vec<u8>) -> DtlsIdentity {
        let fingerprint = Fingerprint::sha256_of(&certificate);
        DtlsIdentity {
            certificate,
            private_key: Zeroizing::new(private_key),
            fingerprint,
        }
    }

    /// The certificate, DER.
    pub fn certificate(&self) -> &[u8] {
        &self.certificate
    }

    /// The SHA-256 fingerprint of the certificate, for `a=fingerprint`.
    pub fn fingerprint(&self) -> &Fingerprint {
        &self.fingerprint
    }

    pub(super) fn to_dimpl(&self) -> dimpl::DtlsCertificate {
        dimpl::DtlsCertificate {
            certificate: self.certificate.clone(),
            private_key: self.private_key.to_vec(),
        }
    }
}

impl fmt::Debug for DtlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DtlsIdentity")
            .field("fingerprint", &self.fingerprint)
            .field("private_key", &"<redacted>")
            .finish()
    }
}
