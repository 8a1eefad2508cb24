//! What we read out of one X.509 certificate (x509-parser): names, dates,
//! CA flag, extended key usage and the SHA-256 fingerprint.

use std::net::IpAddr;

use serde::Serialize;
use time::OffsetDateTime;

use crate::error::VerifyError;

/// Largest certificate we look at (DER bytes). Real certificates are a few KiB.
pub const MAX_CERT_LEN: usize = 64 * 1024;
/// Most subjectAltName entries we collect from one certificate.
pub const MAX_SANS: usize = 512;

/// One subjectAltName entry the verifier understands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", content = "value", rename_all = "lowercase")]
pub enum SanEntry {
    /// dNSName, as written in the certificate (may start with `*.`).
    Dns(String),
    /// iPAddress.
    Ip(IpAddr),
    /// uniformResourceIdentifier (e.g. `sip:example.com`).
    Uri(String),
}

impl std::fmt::Display for SanEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SanEntry::Dns(name) => write!(f, "DNS:{name}"),
            SanEntry::Ip(ip) => write!(f, "IP:{ip}"),
            SanEntry::Uri(uri) => write!(f, "URI:{uri}"),
        }
    }
}

/// The facts about a certificate that the store and the verifier use.
///
/// Produced by [`CertSummary::parse`], which never panics on any input.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertSummary {
    /// Subject distinguished name, e.g. `O=Example, CN=sip.example.com`.
    pub subject: String,
    /// Issuer distinguished name.
    pub issuer: String,
    /// Subject common name, when there is one.
    pub common_name: Option<String>,
    /// SHA-256 of the DER certificate, uppercase hex with colons (as `openssl x509 -fingerprint -sha256`).
    pub sha256: String,
    /// notBefore.
    #[serde(with = "crate::rfc3339")]
    pub not_before: OffsetDateTime,
    /// notAfter.
    #[serde(with = "crate::rfc3339")]
    pub not_after: OffsetDateTime,
    /// basicConstraints CA:TRUE.
    pub is_ca: bool,
    /// Subject and issuer names are equal (self-issued, normally self-signed).
    pub self_issued: bool,
    /// subjectAltName entries (DNS, IP, URI; others are ignored).
    pub sans: Vec<SanEntry>,
    /// extendedKeyUsage: `None` when absent, else whether it allows TLS server use
    /// (serverAuth or anyExtendedKeyUsage).
    pub eku_server_auth: Option<bool>,
    /// keyUsage: `None` when absent, else whether it allows a TLS server key
    /// (digitalSignature, keyEncipherment or keyAgreement — the rule OpenSSL applies).
    pub ku_tls_server: Option<bool>,
    /// keyUsage asserts keyCertSign (only a CA may, RFC 5280 §4.2.1.9).
    pub ku_key_cert_sign: bool,
    /// X.509 version (1, 2 or 3). A v1 certificate has no extensions, so no basicConstraints.
    pub version: u32,
    /// The subject key, e.g. `ECDSA P-256`, `RSA 2048-bit`, `Ed25519`, `DSA`.
    pub key: String,
    /// Whether a TLS handshake here can use that key (ECDSA P-256/P-384, Ed25519, RSA 2048–8192 bits).
    pub key_supported: bool,
    /// OIDs of critical extensions the path builder does not understand (it refuses such
    /// a certificate anywhere but as an anchor). At most 16 are listed.
    pub unsupported_critical: Vec<String>,
}

impl CertSummary {
    /// Reads a DER certificate. Fails with [`VerifyError::Malformed`] (with
    /// `index`) when the bytes are not one complete X.509 certificate.
    pub fn parse(der: &[u8], index: usize) -> Result<CertSummary, VerifyError> {
        let malformed = |detail: String| VerifyError::Malformed { index, detail };
        if der.len() > MAX_CERT_LEN {
            return Err(malformed(format!(
                "{} bytes is larger than the {MAX_CERT_LEN}-byte limit",
                der.len()
            )));
        }
        let (rest, cert) = x509_parser::parse_x509_certificate(der)
            .map_err(|e| malformed(format!("not a valid X.509 certificate ({e})")))?;
        if !rest.is_empty() {
            return Err(malformed(format!(
                "{} bytes of trailing data after the certificate",
                rest.len()
            )));
        }
        let subject = name_string(cert.subject());
        let issuer = name_string(cert.issuer());
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let validity = cert.validity();
        let not_before = validity.not_before.to_datetime();
        let not_after = validity.not_after.to_datetime();
        let is_ca = cert
            .basic_constraints()
            .map_err(|e| malformed(format!("bad basicConstraints ({e})")))?
            .map(|bc| bc.value.ca)
            .unwrap_or(false);
        let mut sans = Vec::new();
        if let Some(ext) = cert
            .subject_alternative_name()
            .map_err(|e| malformed(format!("bad subjectAltName ({e})")))?
        {
            for general in ext.value.general_names.iter().take(MAX_SANS) {
                use x509_parser::extensions::GeneralName;
                match general {
                    GeneralName::DNSName(name) => sans.push(SanEntry::Dns((*name).to_owned())),
                    GeneralName::URI(uri) => sans.push(SanEntry::Uri((*uri).to_owned())),
                    GeneralName::IPAddress(bytes) => {
                        if let Some(ip) = ip_from_bytes(bytes) {
                            sans.push(SanEntry::Ip(ip));
                        }
                    }
                    _ => {}
                }
            }
        }
        let eku_server_auth = cert
            .extended_key_usage()
            .map_err(|e| malformed(format!("bad extendedKeyUsage ({e})")))?
            .map(|eku| eku.value.server_auth || eku.value.any);
        let key_usage = cert
            .key_usage()
            .map_err(|e| malformed(format!("bad keyUsage ({e})")))?
            .map(|ku| ku.value);
        let ku_tls_server = key_usage
            .map(|ku| ku.digital_signature() || ku.key_encipherment() || ku.key_agreement());
        let (key, key_supported) = describe_key(cert.public_key());
        // what rustls-webpki processes: keyUsage, subjectAltName, basicConstraints,
        // nameConstraints, cRLDistributionPoints, extKeyUsage (2.5.29.{15,17,19,30,31,37})
        const UNDERSTOOD: [&str; 6] = [
            "2.5.29.15",
            "2.5.29.17",
            "2.5.29.19",
            "2.5.29.30",
            "2.5.29.31",
            "2.5.29.37",
        ];
        let unsupported_critical: Vec<String> = cert
            .extensions()
            .iter()
            .filter(|ext| ext.critical)
            .map(|ext| ext.oid.to_id_string())
            .filter(|oid| !UNDERSTOOD.contains(&oid.as_str()))
            .take(16)
            .collect();
        Ok(CertSummary {
            ku_tls_server,
            ku_key_cert_sign: key_usage.is_some_and(|ku| ku.key_cert_sign()),
            version: cert.version().0.saturating_add(1),
            key,
            key_supported,
            unsupported_critical,
            self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
            subject,
            issuer,
            common_name,
            sha256: sha256_hex(der),
            not_before,
            not_after,
            is_ca,
            sans,
            eku_server_auth,
        })
    }

    /// Whether `now` is inside notBefore..=notAfter.
    pub fn is_valid_at(&self, now: OffsetDateTime) -> bool {
        self.not_before <= now && now <= self.not_after
    }
}

/// Describes a subject key and says whether rustls with ring can use it for a handshake.
fn describe_key(spki: &x509_parser::x509::SubjectPublicKeyInfo<'_>) -> (String, bool) {
    use x509_parser::public_key::PublicKey;
    const ED25519: &[u8] = &[0x2b, 0x65, 0x70];
    const P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
    const P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
    const P521: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x23];
    if spki.algorithm.algorithm.as_bytes() == ED25519 {
        return ("Ed25519".into(), true);
    }
    match spki.parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let modulus = rsa.modulus;
            let significant = modulus
                .iter()
                .position(|&b| b != 0)
                .and_then(|i| modulus.get(i..))
                .unwrap_or_default();
            let bits = match significant.first() {
                Some(first) => significant.len() * 8 - first.leading_zeros() as usize,
                None => 0,
            };
            (format!("RSA {bits}-bit"), (2048..=8192).contains(&bits))
        }
        Ok(PublicKey::EC(_)) => {
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.as_oid().ok());
            match curve.as_ref().map(|oid| oid.as_bytes()) {
                Some(P256) => ("ECDSA P-256".into(), true),
                Some(P384) => ("ECDSA P-384".into(), true),
                Some(P521) => ("ECDSA P-521".into(), false),
                Some(_) => (
                    format!(
                        "EC on curve {}",
                        curve.map(|c| c.to_id_string()).unwrap_or_default()
                    ),
                    false,
                ),
                None => ("EC without a named curve".into(), false),
            }
        }
        Ok(PublicKey::DSA(_)) => ("DSA".into(), false),
        Ok(PublicKey::GostR3410(_) | PublicKey::GostR3410_2012(_)) => {
            ("GOST R 34.10".into(), false)
        }
        Ok(PublicKey::Unknown(_)) => (
            format!("key algorithm {}", spki.algorithm.algorithm.to_id_string()),
            false,
        ),
        Err(_) => ("unreadable key".into(), false),
    }
}

/// A distinguished name as text; an empty name reads `(empty name)`.
pub(crate) fn name_string(name: &x509_parser::x509::X509Name<'_>) -> String {
    let text = name.to_string();
    if text.is_empty() {
        "(empty name)".to_owned()
    } else {
        text
    }
}

/// Reads a DER-encoded Name (as in a trust anchor's subject, without the
/// outer SEQUENCE tag when `wrapped` is false) as text.
pub(crate) fn dn_der_to_string(der: &[u8], wrapped: bool) -> Option<String> {
    use x509_parser::prelude::FromDer;
    let owned;
    let input = if wrapped {
        der
    } else {
        owned = wrap_sequence(der)?;
        &owned
    };
    x509_parser::x509::X509Name::from_der(input)
        .ok()
        .map(|(_, name)| name_string(&name))
}

fn wrap_sequence(content: &[u8]) -> Option<Vec<u8>> {
    let len = content.len();
    let mut out = vec![0x30];
    if len < 0x80 {
        out.push(u8::try_from(len).ok()?);
    } else if len <= 0xff {
        out.extend_from_slice(&[0x81, u8::try_from(len).ok()?]);
    } else if len <= 0xffff {
        out.push(0x82);
        out.extend_from_slice(&u16::try_from(len).ok()?.to_be_bytes());
    } else {
        return None;
    }
    out.extend_from_slice(content);
    Some(out)
}

fn ip_from_bytes(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => <[u8; 4]>::try_from(bytes).ok().map(IpAddr::from),
        16 => <[u8; 16]>::try_from(bytes).ok().map(IpAddr::from),
        _ => None,
    }
}

/// SHA-256 of `der`, uppercase hex with colons.
pub fn sha256_hex(der: &[u8]) -> String {
    hex_colons(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

pub(crate) fn sha256(der: &[u8]) -> [u8; 32] {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = [0u8; 32];
    out.copy_from_slice(digest.as_ref()); // ok: SHA-256 is always 32 bytes
    out
}

fn hex_colons(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 3);
    for (i, b) in bytes.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        out.push_str(&format!("{b:02X}"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprint_of_empty_input_is_the_fips_180_vector() {
        // FIPS 180-2 / well-known SHA-256("")
        assert!(sha256_hex(b"").starts_with("E3:B0:C4:42:98:FC:1C:14"));
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for bytes in [&b""[..], b"\x30", b"\x30\x82\xff\xff", b"hello"] {
            assert!(matches!(
                CertSummary::parse(bytes, 3),
                Err(VerifyError::Malformed { index: 3, .. })
            ));
        }
    }

    #[test]
    fn wrap_sequence_lengths() {
        assert_eq!(wrap_sequence(&[1, 2]).unwrap(), vec![0x30, 2, 1, 2]);
        assert_eq!(wrap_sequence(&[0; 200]).unwrap()[..3], [0x30, 0x81, 200]);
        assert_eq!(wrap_sequence(&[0; 300]).unwrap()[..4], [0x30, 0x82, 1, 44]);
    }
}
