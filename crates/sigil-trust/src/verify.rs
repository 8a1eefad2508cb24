//! Verifying a server's chain against the store, without a TLS handshake.

use rustls_pki_types::{CertificateDer, UnixTime};
use serde::Serialize;
use time::OffsetDateTime;

use crate::cert::{sha256, CertSummary};
use crate::error::{CertRole, VerifyError};
use crate::names::{check_name, ExpectedName};
use crate::store::{Layer, TrustStore};

/// Most certificates of a server chain we look at.
pub const MAX_CHAIN_LEN: usize = 64;

/// How a verified chain was trusted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Verified {
    /// The server certificate's subject.
    pub subject: String,
    /// The name that was expected (e.g. `DNS name sip.example.com`).
    pub expected: String,
    /// The certificate entry that matched (e.g. `DNS:*.example.com`, `URI:sip:example.com`).
    pub matched: String,
    /// The anchor's layer.
    pub anchor_layer: Layer,
    /// The anchor's subject.
    pub anchor_subject: String,
    /// Where the anchor came from.
    pub anchor_source: String,
    /// Trusted because this exact certificate was uploaded (self-signed server certificates).
    pub exact_match: bool,
    /// Certificates in the verified path, server certificate and anchor included.
    pub path_len: usize,
    /// The server certificate's notAfter.
    #[serde(with = "crate::rfc3339")]
    pub not_after: OffsetDateTime,
}

impl std::fmt::Display for Verified {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "\"{}\" is {} ({})",
            self.subject, self.expected, self.matched
        )?;
        if self.exact_match {
            write!(
                f,
                "; trusted as an uploaded certificate ({})",
                self.anchor_source
            )?;
        } else {
            write!(
                f,
                "; chain of {} to {} anchor \"{}\" ({})",
                self.path_len, self.anchor_layer, self.anchor_subject, self.anchor_source
            )?;
        }
        write!(f, "; valid until {}", crate::rfc3339::fmt(&self.not_after))
    }
}

/// The outcome of checking a server, as a status display needs it (SPEC T2).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "status")]
pub enum Verification {
    /// The server proved its identity.
    Verified(Verified),
    /// Validation is off: the connection is encrypted but the server is not verified.
    NotVerified {
        /// What verification would have said, had it been on (`None`: it would have passed).
        would_have_failed: Option<VerifyError>,
    },
    /// Verification failed (the handshake was aborted).
    Failed(VerifyError),
}

impl Verification {
    /// True only for [`Verification::Verified`].
    pub fn is_verified(&self) -> bool {
        matches!(self, Verification::Verified(_))
    }

    /// The short status: `verified`, `encrypted, server not verified`, or `failed`.
    pub fn status(&self) -> &'static str {
        match self {
            Verification::Verified(_) => "verified",
            Verification::NotVerified { .. } => "encrypted, server not verified",
            Verification::Failed(_) => "failed",
        }
    }
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Verification::Verified(v) => write!(f, "verified: {v}"),
            Verification::NotVerified {
                would_have_failed: None,
            } => f.write_str(
                "encrypted, server not verified (certificate validation is off; the chain would have verified)",
            ),
            Verification::NotVerified {
                would_have_failed: Some(e),
            } => write!(
                f,
                "encrypted, server not verified (certificate validation is off; it would have failed: {e})"
            ),
            Verification::Failed(e) => write!(f, "not verified: {e}"),
        }
    }
}

/// Converts rustls' time to `time`'s.
pub(crate) fn to_datetime(now: UnixTime) -> OffsetDateTime {
    let secs = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
    OffsetDateTime::from_unix_timestamp(secs).unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Converts `time`'s time to rustls' (times before 1970 become 1970).
pub fn unix_time(at: OffsetDateTime) -> UnixTime {
    UnixTime::since_unix_epoch(std::time::Duration::from_secs(
        u64::try_from(at.unix_timestamp()).unwrap_or(0),
    ))
}

impl TrustStore {
    /// Verifies a server chain (`chain[0]` is the server's certificate, then
    /// the intermediates it sent) for `expected` at the clock `now` — the same
    /// checks the TLS verifier makes, without a handshake.
    ///
    /// Order: the chain must parse; an uploaded certificate that equals the
    /// server certificate is trusted by exact match (its dates and usage are
    /// still checked); otherwise rustls-webpki builds a path to an anchor
    /// (ring algorithms, serverAuth usage), and a vendor or uploaded anchor
    /// must itself be valid at `now`; finally the name is checked.
    pub fn verify(
        &self,
        chain: &[CertificateDer<'_>],
        expected: &ExpectedName,
        now: UnixTime,
    ) -> Result<Verified, VerifyError> {
        let now_dt = to_datetime(now);
        if chain.is_empty() {
            return Err(VerifyError::EmptyChain);
        }
        if chain.len() > MAX_CHAIN_LEN {
            return Err(VerifyError::TooManyCertificates {
                count: chain.len(),
                max: MAX_CHAIN_LEN,
            });
        }
        let summaries = chain
            .iter()
            .enumerate()
            .map(|(i, der)| CertSummary::parse(der, i))
            .collect::<Result<Vec<_>, _>>()?;
        let leaf_der = chain.first().ok_or(VerifyError::EmptyChain)?;
        let leaf = summaries.first().ok_or(VerifyError::EmptyChain)?;

        if let Some(&index) = self.exact.get(&sha256(leaf_der)) {
            check_dates(leaf, CertRole::Server, now_dt)?;
            check_server_usage(leaf)?;
            let matched = check_name(leaf, expected)?;
            let anchor = &self.anchors.get(index).ok_or_else(|| VerifyError::Other {
                detail: "internal: anchor index out of range".into(),
            })?;
            return Ok(Verified {
                subject: leaf.subject.clone(),
                expected: expected.to_string(),
                matched,
                anchor_layer: anchor.info.layer,
                anchor_subject: anchor.info.subject.clone(),
                anchor_source: anchor.info.source.clone(),
                exact_match: true,
                path_len: 1,
                not_after: leaf.not_after,
            });
        }

        let end_entity = webpki::EndEntityCert::try_from(leaf_der)
            .map_err(|e| map_webpki(e, chain, &summaries, now_dt))?;
        let intermediates = chain.get(1..).unwrap_or_default();
        let path = end_entity
            .verify_for_usage(
                webpki::ALL_VERIFICATION_ALGS,
                &self.webpki,
                intermediates,
                now,
                webpki::KeyUsage::server_auth(),
                None,
                None,
            )
            .map_err(|e| self.refine(map_webpki(e, chain, &summaries, now_dt)))?;
        let used = path.anchor();
        let anchor_pos = self
            .webpki
            .iter()
            .position(|ta| {
                ta.subject == used.subject
                    && ta.subject_public_key_info == used.subject_public_key_info
            })
            .and_then(|pos| self.webpki_index.get(pos))
            .and_then(|&i| self.anchors.get(i))
            .ok_or_else(|| VerifyError::Other {
                detail: "internal: the path builder used an unknown anchor".into(),
            })?;
        if let Some(anchor_summary) = &anchor_pos.summary {
            check_dates(
                anchor_summary,
                CertRole::Anchor {
                    source: anchor_pos.info.source.clone(),
                },
                now_dt,
            )?;
        }
        check_server_usage(leaf)?;
        let matched = check_name(leaf, expected)?;
        Ok(Verified {
            subject: leaf.subject.clone(),
            expected: expected.to_string(),
            matched,
            anchor_layer: anchor_pos.info.layer,
            anchor_subject: anchor_pos.info.subject.clone(),
            anchor_source: anchor_pos.info.source.clone(),
            exact_match: false,
            path_len: path.intermediate_certificates().count() + 2,
            not_after: leaf.not_after,
        })
    }
}

impl TrustStore {
    /// An unknown issuer whose name *is* in the store, on a certificate that
    /// is not a CA, gets a reason that says so instead of "upload it".
    fn refine(&self, error: VerifyError) -> VerifyError {
        if let VerifyError::UnknownIssuer { subject, issuer } = &error {
            let not_ca = self.anchors.iter().find(|a| {
                a.summary
                    .as_ref()
                    .is_some_and(|s| s.subject == *issuer && !s.is_ca && s.version != 1)
            });
            if let Some(anchor) = not_ca {
                return VerifyError::IssuerNotCa {
                    subject: subject.clone(),
                    issuer: issuer.clone(),
                    file: anchor.info.source.clone(),
                };
            }
        }
        error
    }
}

fn role_of(index: usize) -> CertRole {
    if index == 0 {
        CertRole::Server
    } else {
        CertRole::Intermediate { index }
    }
}

/// Usage checks webpki leaves to us: extendedKeyUsage on the exact-match path, and
/// keyUsage on both (OpenSSL's rule: a TLS server key needs digitalSignature,
/// keyEncipherment or keyAgreement when the extension is present).
fn check_server_usage(leaf: &CertSummary) -> Result<(), VerifyError> {
    if leaf.eku_server_auth == Some(false) {
        return Err(VerifyError::WrongUsage {
            subject: leaf.subject.clone(),
            detail:
                "its extended key usage does not include TLS server authentication (serverAuth)"
                    .into(),
        });
    }
    if !leaf.is_ca && leaf.ku_key_cert_sign {
        return Err(VerifyError::WrongUsage {
            subject: leaf.subject.clone(),
            detail: "its key usage includes keyCertSign but it is not a CA (RFC 5280 §4.2.1.9)"
                .into(),
        });
    }
    if !leaf.key_supported {
        return Err(VerifyError::UnsupportedAlgorithm {
            detail: format!(
                "the server's key is {}; this device accepts ECDSA P-256/P-384, Ed25519 and RSA 2048–8192 bits",
                leaf.key
            ),
        });
    }
    if leaf.ku_tls_server == Some(false) {
        return Err(VerifyError::WrongUsage {
            subject: leaf.subject.clone(),
            detail: "its key usage allows neither digitalSignature, keyEncipherment nor keyAgreement, so it cannot be a TLS server key".into(),
        });
    }
    Ok(())
}

fn check_dates(cert: &CertSummary, role: CertRole, now: OffsetDateTime) -> Result<(), VerifyError> {
    if now > cert.not_after {
        return Err(VerifyError::Expired {
            role,
            subject: cert.subject.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            now,
        });
    }
    if now < cert.not_before {
        return Err(VerifyError::NotYetValid {
            role,
            subject: cert.subject.clone(),
            not_before: cert.not_before,
            not_after: cert.not_after,
            now,
        });
    }
    Ok(())
}

/// The certificate the chain as sent cannot get above: follow issuer names
/// through the presented certificates from the leaf upwards.
fn topmost(summaries: &[CertSummary]) -> Option<&CertSummary> {
    let mut current = summaries.first()?;
    for _ in 0..summaries.len() {
        if current.self_issued {
            break;
        }
        match summaries
            .iter()
            .skip(1)
            .find(|c| c.subject == current.issuer && !std::ptr::eq(*c, current))
        {
            Some(next) => current = next,
            None => break,
        }
    }
    Some(current)
}

#[allow(deprecated)] // the context-free variants are still produced in some paths
fn map_webpki(
    error: webpki::Error,
    chain: &[CertificateDer<'_>],
    summaries: &[CertSummary],
    now: OffsetDateTime,
) -> VerifyError {
    use webpki::Error as E;
    let leaf_subject = summaries
        .first()
        .map(|s| s.subject.clone())
        .unwrap_or_default();
    match error {
        E::UnknownIssuer => match topmost(summaries) {
            Some(top) => VerifyError::UnknownIssuer {
                subject: top.subject.clone(),
                issuer: top.issuer.clone(),
            },
            None => VerifyError::EmptyChain,
        },
        E::CertExpired { .. } => summaries
            .iter()
            .enumerate()
            .find(|(_, s)| now > s.not_after)
            .map(|(i, s)| VerifyError::Expired {
                role: role_of(i),
                subject: s.subject.clone(),
                not_before: s.not_before,
                not_after: s.not_after,
                now,
            })
            .unwrap_or_else(|| VerifyError::Other {
                detail: format!("a certificate has expired ({error:?})"),
            }),
        E::CertNotValidYet { .. } => summaries
            .iter()
            .enumerate()
            .find(|(_, s)| now < s.not_before)
            .map(|(i, s)| VerifyError::NotYetValid {
                role: role_of(i),
                subject: s.subject.clone(),
                not_before: s.not_before,
                not_after: s.not_after,
                now,
            })
            .unwrap_or_else(|| VerifyError::Other {
                detail: format!("a certificate is not valid yet ({error:?})"),
            }),
        E::InvalidSignatureForPublicKey => {
            VerifyError::BadSignature {
                detail: "a certificate's signature does not verify with its issuer's key (forged, corrupted, or signed by a different key with the same name)".into(),
            }
        }
        E::SignatureAlgorithmMismatch => VerifyError::BadSignature {
            detail: "the signature algorithm inside a certificate differs from the one outside".into(),
        },
        E::UnsupportedSignatureAlgorithm
        | E::UnsupportedSignatureAlgorithmContext(_)
        | E::UnsupportedSignatureAlgorithmForPublicKey
        | E::UnsupportedSignatureAlgorithmForPublicKeyContext(_) => {
            VerifyError::UnsupportedAlgorithm {
                detail: format!(
                    "the chain is signed with an algorithm this device does not accept (supported: ECDSA P-256/P-384, Ed25519, RSA 2048+ with SHA-256/384/512) — {}",
                    short(&error)
                ),
            }
        }
        E::CaUsedAsEndEntity => VerifyError::CaUsedAsEndEntity {
            subject: leaf_subject,
        },
        E::RequiredEkuNotFound | E::RequiredEkuNotFoundContext(_) | E::EmptyEkuExtension => {
            // name the certificate at fault: the leaf, or a CA whose EKU leaves out serverAuth
            let culprit = summaries
                .iter()
                .enumerate()
                .find(|(_, s)| s.eku_server_auth == Some(false));
            match culprit {
                Some((i, s)) if i > 0 => VerifyError::WrongUsage {
                    subject: s.subject.clone(),
                    detail: format!(
                        "intermediate certificate #{i}: its extended key usage does not include TLS server authentication (serverAuth), so it may not issue server certificates"
                    ),
                },
                _ => VerifyError::WrongUsage {
                    subject: leaf_subject,
                    detail: "its extended key usage does not include TLS server authentication (serverAuth)".into(),
                },
            }
        }
        E::EndEntityUsedAsCa => {
            let culprit = summaries.iter().enumerate().skip(1).find(|(_, s)| !s.is_ca);
            match culprit {
                Some((i, s)) => VerifyError::WrongUsage {
                    subject: s.subject.clone(),
                    detail: format!(
                        "intermediate certificate #{i} is not a CA (CA:FALSE or no basicConstraints) but issued another certificate of the chain"
                    ),
                },
                None => VerifyError::WrongUsage {
                    subject: leaf_subject,
                    detail: "a certificate that is not a CA issued another certificate of the chain".into(),
                },
            }
        }
        E::PathLenConstraintViolated => VerifyError::WrongUsage {
            subject: leaf_subject,
            detail: "a CA of the chain allows fewer intermediates below it (pathLenConstraint) than this chain has".into(),
        },
        E::NameConstraintViolation => VerifyError::NameConstraintViolation {
            subject: leaf_subject,
            presented: summaries
                .first()
                .map(crate::names::presented_names)
                .unwrap_or_default(),
        },
        E::UnsupportedCriticalExtension => VerifyError::UnsupportedCriticalExtension,
        E::BadDer
        | E::BadDerTime
        | E::TrailingData(_)
        | E::MalformedExtensions
        | E::ExtensionValueInvalid
        | E::InvalidCertValidity
        | E::InvalidSerialNumber
        | E::UnsupportedCertVersion
        | E::MalformedDnsIdentifier
        | E::MalformedNameConstraint => {
            match chain
                .iter()
                .position(|c| webpki::EndEntityCert::try_from(c).is_err())
            {
                Some(index) => VerifyError::Malformed {
                    index,
                    detail: format!("rejected by the path builder: {}", short(&error)),
                },
                // every certificate the server sent parses: the fault is above them
                None => VerifyError::Other {
                    detail: format!(
                        "a certificate of the path, probably a trust anchor of the store, is malformed: {}",
                        short(&error)
                    ),
                },
            }
        }
        other => VerifyError::Other {
            detail: short(&other),
        },
    }
}

fn short(error: &webpki::Error) -> String {
    let text = format!("{error:?}");
    text.chars().take(300).collect()
}
