//! What a certificate says, in the form status pages and logs need.

use rustls_pki_types::CertificateDer;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

use crate::mac::Mac;

/// The facts about one certificate that an installer or a server operator needs
/// (SPEC ID2): subject, MAC, issuer, validity, SHA-256 fingerprint, key and usage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CertInfo {
    /// Subject distinguished name, e.g. `CN=00:22:ee:01:02:03, serialNumber=00:22:ee:01:02:03`.
    pub subject: String,
    /// Subject common name, if any.
    pub common_name: Option<String>,
    /// The MAC address read from the common name (or, failing that, the
    /// serialNumber attribute), normalised.
    pub mac: Option<Mac>,
    /// Issuer distinguished name (the CA that signed it).
    pub issuer: String,
    /// Serial number, hex.
    pub serial: String,
    /// Start of validity.
    #[serde(serialize_with = "rfc3339")]
    pub not_before: OffsetDateTime,
    /// End of validity.
    #[serde(serialize_with = "rfc3339")]
    pub not_after: OffsetDateTime,
    /// SHA-256 over the DER certificate, uppercase hex pairs joined by `:` (as `openssl x509 -fingerprint -sha256`).
    pub fingerprint_sha256: String,
    /// Public key, e.g. `ECDSA P-256` or `RSA 2048`.
    pub key: String,
    /// Whether basicConstraints says CA:TRUE.
    pub is_ca: bool,
    /// Whether the certificate may authenticate a TLS client (no EKU, or EKU with clientAuth or anyExtendedKeyUsage).
    pub client_auth: bool,
    /// Whether the certificate may authenticate a TLS server (no EKU, or EKU with serverAuth or anyExtendedKeyUsage).
    pub server_auth: bool,
    /// The extended key usages listed, if the extension is present.
    pub extended_key_usage: Option<Vec<String>>,
    /// Subject alternative names (`DNS:…`, `IP:…`, `URI:…`).
    pub subject_alt_names: Vec<String>,
    /// Whether subject and issuer are the same name (self-issued).
    pub self_issued: bool,
}

fn rfc3339<S: serde::Serializer>(time: &OffsetDateTime, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_time(*time))
}

/// Formats a time as RFC 3339 (UTC), the form used in status output and errors.
pub(crate) fn format_time(time: OffsetDateTime) -> String {
    let time = time.replace_nanosecond(0).unwrap_or(time);
    time.to_offset(time::UtcOffset::UTC)
        .format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

/// Where a certificate stands relative to a clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Validity {
    /// Within its validity period.
    Valid,
    /// notBefore lies in the future.
    NotYetValid,
    /// notAfter lies in the past.
    Expired,
}

impl CertInfo {
    /// Reads a DER certificate. The error is x509-parser's description.
    pub fn from_der(der: &[u8]) -> Result<CertInfo, String> {
        let (rest, cert) = X509Certificate::from_der(der).map_err(|e| e.to_string())?;
        if !rest.is_empty() {
            return Err(format!("{} bytes of trailing data", rest.len()));
        }
        Ok(CertInfo::from_parsed(&cert, der))
    }

    pub(crate) fn from_parsed(cert: &X509Certificate<'_>, der: &[u8]) -> CertInfo {
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|cn| cn.as_str().ok())
            .map(str::to_owned);
        let serial_attribute = cert
            .subject()
            .iter_by_oid(&x509_parser::oid_registry::OID_X509_SERIALNUMBER)
            .next()
            .and_then(|attr| attr.as_str().ok())
            .map(str::to_owned);
        let mac = common_name
            .as_deref()
            .and_then(|cn| Mac::parse(cn).ok())
            .or_else(|| serial_attribute.as_deref().and_then(|s| Mac::parse(s).ok()));
        let eku = cert
            .extended_key_usage()
            .ok()
            .flatten()
            .map(|ext| ext.value);
        let (client_auth, server_auth, extended_key_usage) = match eku {
            None => (true, true, None),
            Some(eku) => {
                let mut names = Vec::new();
                for (present, name) in [
                    (eku.any, "anyExtendedKeyUsage"),
                    (eku.server_auth, "serverAuth"),
                    (eku.client_auth, "clientAuth"),
                    (eku.code_signing, "codeSigning"),
                    (eku.email_protection, "emailProtection"),
                    (eku.time_stamping, "timeStamping"),
                    (eku.ocsp_signing, "OCSPSigning"),
                ] {
                    if present {
                        names.push(name.to_owned());
                    }
                }
                names.extend(eku.other.iter().map(|oid| oid.to_id_string()));
                (
                    eku.any || eku.client_auth,
                    eku.any || eku.server_auth,
                    Some(names),
                )
            }
        };
        let is_ca = cert
            .basic_constraints()
            .ok()
            .flatten()
            .map(|bc| bc.value.ca)
            .unwrap_or(false);
        let subject_alt_names = cert
            .subject_alternative_name()
            .ok()
            .flatten()
            .map(|san| {
                san.value
                    .general_names
                    .iter()
                    .filter_map(|name| match name {
                        GeneralName::DNSName(dns) => Some(format!("DNS:{dns}")),
                        GeneralName::URI(uri) => Some(format!("URI:{uri}")),
                        GeneralName::RFC822Name(mail) => Some(format!("email:{mail}")),
                        GeneralName::IPAddress(ip) => match ip.len() {
                            4 => <[u8; 4]>::try_from(*ip)
                                .ok()
                                .map(|b| format!("IP:{}", std::net::Ipv4Addr::from(b))),
                            16 => <[u8; 16]>::try_from(*ip)
                                .ok()
                                .map(|b| format!("IP:{}", std::net::Ipv6Addr::from(b))),
                            _ => None,
                        },
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default();
        let key = match cert.public_key().parsed() {
            Ok(PublicKey::RSA(rsa)) => format!("RSA {}", rsa.key_size()),
            Ok(PublicKey::EC(point)) => match point.key_size() {
                256 => "ECDSA P-256".to_owned(),
                384 => "ECDSA P-384".to_owned(),
                521 | 528 => "ECDSA P-521".to_owned(),
                bits => format!("EC {bits} bits"),
            },
            Ok(_)
                if cert.public_key().algorithm.algorithm
                    == x509_parser::oid_registry::OID_SIG_ED25519 =>
            {
                "Ed25519".to_owned()
            }
            _ => cert.public_key().algorithm.algorithm.to_id_string(),
        };
        let subject = cert.subject().to_string();
        let issuer = cert.issuer().to_string();
        CertInfo {
            self_issued: cert.subject().as_raw() == cert.issuer().as_raw(),
            subject,
            common_name,
            mac,
            issuer,
            serial: hex(cert.raw_serial(), ""),
            not_before: cert.validity().not_before.to_datetime(),
            not_after: cert.validity().not_after.to_datetime(),
            fingerprint_sha256: fingerprint(der),
            key,
            is_ca,
            client_auth,
            server_auth,
            extended_key_usage,
            subject_alt_names,
        }
    }

    /// Where the certificate stands at `now`.
    pub fn validity_at(&self, now: OffsetDateTime) -> Validity {
        if now < self.not_before {
            Validity::NotYetValid
        } else if now > self.not_after {
            Validity::Expired
        } else {
            Validity::Valid
        }
    }
}

/// SHA-256 fingerprint of a DER certificate, `AB:CD:…`.
pub fn fingerprint(der: &[u8]) -> String {
    hex(
        ring::digest::digest(&ring::digest::SHA256, der).as_ref(),
        ":",
    )
    .to_uppercase()
}

fn hex(bytes: &[u8], separator: &str) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(separator)
}

/// The raw DER subject and issuer names of a certificate (for CA-hint matching).
pub(crate) fn raw_names(der: &CertificateDer<'_>) -> Option<(Vec<u8>, Vec<u8>)> {
    let (_, cert) = X509Certificate::from_der(der.as_ref()).ok()?;
    Some((
        cert.subject().as_raw().to_vec(),
        cert.issuer().as_raw().to_vec(),
    ))
}
