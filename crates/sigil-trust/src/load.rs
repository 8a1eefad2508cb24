//! Reading one uploaded file: PEM (one or many certificates, CRLF or LF,
//! text before, between and after the blocks) or DER. Total: any bytes give
//! certificates or a [`RefuseReason`], never a panic.

use rustls_pki_types::pem::{self, PemObject, SectionKind};
use rustls_pki_types::CertificateDer;

use crate::cert::{CertSummary, MAX_CERT_LEN};
use crate::error::RefuseReason;

/// Largest uploaded file that is read (bytes).
pub const MAX_FILE_LEN: u64 = 1024 * 1024;
/// Most certificates taken from one file.
pub const MAX_CERTS_PER_FILE: usize = 1000;

/// Reads the certificates in one uploaded file.
///
/// Accepts PEM (`-----BEGIN CERTIFICATE-----` blocks, also `TRUSTED CERTIFICATE`
/// is *not* accepted — it is an OpenSSL-only format) with any text around the
/// blocks, CRLF or LF line ends; or a single DER certificate. Every
/// certificate must parse as X.509. Refuses the whole file, with its own
/// reason, when it is or holds a private key, is not a certificate, is a
/// truncated PEM, or holds a malformed certificate.
pub fn parse_file(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, RefuseReason> {
    if bytes.len() as u64 > MAX_FILE_LEN {
        return Err(RefuseReason::TooLarge {
            size: bytes.len() as u64,
            max: MAX_FILE_LEN,
        });
    }
    if bytes.iter().all(|b| b.is_ascii_whitespace()) {
        return Err(RefuseReason::Empty);
    }
    let labels = pem_labels(bytes);
    if labels.is_empty() {
        return parse_der(bytes);
    }
    parse_pem(bytes, &labels)
}

/// The labels of every `-----BEGIN X-----` line, in order (at most 4096).
fn pem_labels(bytes: &[u8]) -> Vec<String> {
    const MARK: &[u8] = b"-----BEGIN ";
    let mut labels = Vec::new();
    let mut rest = bytes;
    while let Some(pos) = find(rest, MARK) {
        let after = rest.get(pos + MARK.len()..).unwrap_or_default();
        let end = after
            .iter()
            .position(|&b| b == b'-' || b == b'\n' || b == b'\r')
            .unwrap_or(after.len());
        let label = String::from_utf8_lossy(after.get(..end.min(64)).unwrap_or_default());
        labels.push(label.trim().to_owned());
        if labels.len() >= 4096 {
            break;
        }
        rest = after;
    }
    labels
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn parse_pem(
    bytes: &[u8],
    labels: &[String],
) -> Result<Vec<CertificateDer<'static>>, RefuseReason> {
    let key_labels = labels.iter().filter(|l| l.contains("PRIVATE KEY")).count();
    let cert_labels = labels.iter().filter(|l| *l == "CERTIFICATE").count();
    if key_labels > 0 {
        // Never decode key material: refuse on the label alone.
        return Err(if cert_labels == 0 {
            RefuseReason::PrivateKey
        } else {
            RefuseReason::ContainsPrivateKey {
                certificates: cert_labels,
            }
        });
    }
    let mut certs = Vec::new();
    let mut others = Vec::new();
    for item in <(SectionKind, Vec<u8>) as PemObject>::pem_slice_iter(bytes) {
        match item {
            Ok((SectionKind::Certificate, der)) => {
                if certs.len() >= MAX_CERTS_PER_FILE {
                    return Err(RefuseReason::TooManyCertificates {
                        max: MAX_CERTS_PER_FILE,
                    });
                }
                if der.len() > MAX_CERT_LEN {
                    return Err(RefuseReason::MalformedCertificate {
                        index: certs.len(),
                        detail: format!(
                            "{} bytes is larger than the {MAX_CERT_LEN}-byte limit",
                            der.len()
                        ),
                    });
                }
                certs.push(CertificateDer::from(der));
            }
            Ok((kind, _)) => others.push(kind_name(kind)),
            Err(pem::Error::MissingSectionEnd { end_marker }) => {
                let marker = String::from_utf8_lossy(&end_marker);
                let label = marker
                    .trim_start_matches("-----END ")
                    .trim_end_matches('-')
                    .trim()
                    .to_owned();
                return Err(RefuseReason::TruncatedPem { label });
            }
            Err(pem::Error::Base64Decode(detail)) => {
                return Err(RefuseReason::BadPem {
                    detail: format!(
                        "block #{} is not valid Base64 ({detail}); was the file cut or edited?",
                        certs.len() + others.len()
                    ),
                })
            }
            Err(pem::Error::IllegalSectionStart { .. }) => {
                return Err(RefuseReason::BadPem {
                    detail: "a \"-----BEGIN\" line is not followed by a label and five dashes"
                        .into(),
                })
            }
            Err(other) => {
                return Err(RefuseReason::BadPem {
                    detail: other.to_string(),
                })
            }
        }
    }
    if certs.is_empty() {
        if cert_labels > 0 {
            return Err(RefuseReason::BadPem {
                detail: "\"-----BEGIN CERTIFICATE-----\" must start its own line".into(),
            });
        }
        let found = if let Some(label) = labels.iter().find_map(|l| known_foreign_label(l)) {
            label.to_owned()
        } else if others.is_empty() {
            let unknown: Vec<&str> = labels.iter().map(String::as_str).take(3).collect();
            format!("PEM block(s) {}", unknown.join(", "))
        } else {
            others.join(", ")
        };
        return Err(RefuseReason::NotCertificate { found });
    }
    for (index, der) in certs.iter().enumerate() {
        CertSummary::parse(der, index).map_err(|e| RefuseReason::MalformedCertificate {
            index,
            detail: malformed_detail(e),
        })?;
    }
    Ok(certs)
}

/// Formats installers meet that are close to, but not, a PEM certificate.
fn known_foreign_label(label: &str) -> Option<&'static str> {
    match label {
        "TRUSTED CERTIFICATE" => Some(
            "an OpenSSL \"TRUSTED CERTIFICATE\"; convert it with `openssl x509 -in FILE -out FILE.pem`",
        ),
        "PKCS7" | "CERTIFICATE CHAIN" => Some(
            "a PKCS#7 bundle; extract the certificates with `openssl pkcs7 -print_certs -in FILE -out FILE.pem`",
        ),
        _ => None,
    }
}

fn kind_name(kind: SectionKind) -> String {
    match kind {
        SectionKind::PublicKey => "a public key (PUBLIC KEY), not a certificate".into(),
        SectionKind::Crl => "a revocation list (X509 CRL)".into(),
        SectionKind::Csr => {
            "a certificate signing request (CERTIFICATE REQUEST): have it signed first".into()
        }
        SectionKind::EchConfigList => "an ECH configuration".into(),
        other => format!("{other:?}"),
    }
}

fn malformed_detail(e: crate::error::VerifyError) -> String {
    match e {
        crate::error::VerifyError::Malformed { detail, .. } => detail,
        other => other.to_string(),
    }
}

fn parse_der(bytes: &[u8]) -> Result<Vec<CertificateDer<'static>>, RefuseReason> {
    if bytes.first() != Some(&0x30) {
        let printable = bytes
            .iter()
            .take(512)
            .all(|b| b.is_ascii_graphic() || b.is_ascii_whitespace());
        return Err(RefuseReason::NotCertificate {
            found: if printable {
                "text without any \"-----BEGIN CERTIFICATE-----\" block".into()
            } else {
                "binary data that is neither DER nor PEM".into()
            },
        });
    }
    match CertSummary::parse(bytes, 0) {
        Ok(_) => Ok(vec![CertificateDer::from(bytes.to_vec())]),
        Err(e) => {
            if looks_like_pkcs12(bytes) {
                return Err(RefuseReason::NotCertificate {
                    found: "a PKCS#12 (.p12/.pfx) bundle, which normally holds a private key: keys belong in certs/; \
                            upload the CA certificate alone as PEM or DER"
                        .into(),
                });
            }
            if looks_like_der_key(bytes) {
                return Err(RefuseReason::PrivateKey);
            }
            Err(RefuseReason::MalformedCertificate {
                index: 0,
                detail: format!("DER: {}", malformed_detail(e)),
            })
        }
    }
}

/// PFX: SEQUENCE { INTEGER 3, SEQUENCE { OID pkcs7-data, … } … } (RFC 7292).
fn looks_like_pkcs12(bytes: &[u8]) -> bool {
    const VERSION_3: &[u8] = &[0x02, 0x01, 0x03];
    const PKCS7_DATA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
    ];
    let head = bytes.get(..bytes.len().min(32)).unwrap_or_default();
    find(head, VERSION_3).is_some() && find(head, PKCS7_DATA).is_some()
}

/// A DER private key (PKCS#8, SEC1 or PKCS#1), judged by structure only.
fn looks_like_der_key(bytes: &[u8]) -> bool {
    rustls_pki_types::PrivateKeyDer::try_from(bytes).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_whitespace_are_empty() {
        assert_eq!(parse_file(b""), Err(RefuseReason::Empty));
        assert_eq!(parse_file(b" \r\n\t"), Err(RefuseReason::Empty));
    }

    #[test]
    fn text_is_not_a_certificate() {
        assert!(matches!(
            parse_file(b"hello world\n"),
            Err(RefuseReason::NotCertificate { .. })
        ));
    }

    #[test]
    fn key_label_is_refused_without_decoding() {
        let text =
            b"-----BEGIN EC PRIVATE KEY-----\nnot even base64 !!\n-----END EC PRIVATE KEY-----\n";
        assert_eq!(parse_file(text), Err(RefuseReason::PrivateKey));
        let enc =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        assert_eq!(parse_file(enc), Err(RefuseReason::PrivateKey));
    }

    #[test]
    fn unterminated_block_is_truncated() {
        let text = b"-----BEGIN CERTIFICATE-----\nMIIB\n";
        assert_eq!(
            parse_file(text),
            Err(RefuseReason::TruncatedPem {
                label: "CERTIFICATE".into()
            })
        );
    }

    #[test]
    fn near_misses_get_a_conversion_hint() {
        let trusted =
            b"-----BEGIN TRUSTED CERTIFICATE-----\nMAA=\n-----END TRUSTED CERTIFICATE-----\n";
        match parse_file(trusted) {
            Err(RefuseReason::NotCertificate { found }) => {
                assert!(found.contains("openssl x509"), "{found}")
            }
            other => panic!("{other:?}"),
        }
        let p7 = b"-----BEGIN PKCS7-----\nMAA=\n-----END PKCS7-----\n";
        match parse_file(p7) {
            Err(RefuseReason::NotCertificate { found }) => {
                assert!(found.contains("pkcs7 -print_certs"), "{found}")
            }
            other => panic!("{other:?}"),
        }
        let indented = b"  -----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n";
        assert!(matches!(
            parse_file(indented),
            Err(RefuseReason::BadPem { .. })
        ));
        // the start of a real PFX: SEQUENCE, version 3, authSafe ContentInfo(data)
        let pfx = [
            0x30, 0x82, 0x01, 0x00, 0x02, 0x01, 0x03, 0x30, 0x82, 0x00, 0xf0, 0x06, 0x09, 0x2a,
            0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01, 0xa0, 0x00,
        ];
        match parse_file(&pfx) {
            Err(RefuseReason::NotCertificate { found }) => {
                assert!(found.contains("PKCS#12"), "{found}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn too_large_is_refused_before_parsing() {
        let big = vec![b'A'; (MAX_FILE_LEN + 1) as usize];
        assert!(matches!(
            parse_file(&big),
            Err(RefuseReason::TooLarge { .. })
        ));
    }
}
