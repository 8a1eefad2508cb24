//! Why a connection could not be set up, in words an installer can act on (SPEC T5).

use std::time::Duration;

use rustls::{AlertDescription, PeerIncompatible, PeerMisbehaved};
use serde::Serialize;
use sigil_identity::Refusal;
use sigil_trust::VerifyError;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::policy::TlsVersion;

/// What the server asked of our client certificate during a handshake.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum ClientAuthOutcome {
    /// The server did not ask for a client certificate.
    #[default]
    NotRequested,
    /// The server asked and we had no certificate to present.
    RequestedNone,
    /// The server asked and we presented this certificate.
    Presented {
        /// Subject of the certificate we presented.
        subject: String,
    },
}

impl ClientAuthOutcome {
    /// True when a certificate was presented.
    pub fn sent(&self) -> bool {
        matches!(self, ClientAuthOutcome::Presented { .. })
    }
}

/// The reason a SIP TLS connection could not be set up (client or server side).
///
/// Every variant has a one-line fix suggestion: [`HandshakeDiagnosis::fix`].
/// Build one from a rustls error with [`HandshakeDiagnosis::from_tls_error`],
/// from a socket error with [`HandshakeDiagnosis::from_connect_error`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case", tag = "diagnosis")]
#[non_exhaustive]
pub enum HandshakeDiagnosis {
    /// Nobody listens on the server port (TCP RST).
    #[error("TCP connection to {server} refused: nothing listens on that port")]
    TcpRefused {
        /// The address we dialled.
        server: String,
    },
    /// The TCP connection did not come up in time (packets dropped).
    #[error("TCP connection to {server} timed out after {} ms", after.as_millis())]
    TcpTimeout {
        /// The address we dialled.
        server: String,
        /// The timeout.
        #[serde(serialize_with = "ser_ms")]
        after: Duration,
    },
    /// Another TCP-level failure (no route, name not resolvable, reset).
    #[error("TCP connection to {server} failed: {detail}")]
    TcpFailed {
        /// The address we dialled.
        server: String,
        /// The operating system's reason.
        detail: String,
    },
    /// The TLS handshake did not finish in time.
    #[error("the TLS handshake did not complete within {} ms", after.as_millis())]
    HandshakeTimeout {
        /// The timeout.
        #[serde(serialize_with = "ser_ms")]
        after: Duration,
    },
    /// The peer speaks no TLS version we allow (1.2 and 1.3 only, maybe 1.3 only).
    #[error(
        "TLS version mismatch: the peer does not support TLS {min_version} or later ({detail})"
    )]
    VersionMismatch {
        /// Our floor.
        min_version: TlsVersion,
        /// What the TLS library saw.
        detail: String,
    },
    /// No cipher suite (or key exchange group) in common.
    #[error("no cipher suite in common with the peer ({detail})")]
    NoCommonCipher {
        /// What the TLS library saw.
        detail: String,
    },
    /// The server's chain does not end at an anchor of the trust store.
    #[error("server certificate not trusted: \"{subject}\" is issued by \"{issuer}\", which is not in the trust store")]
    Untrusted {
        /// Subject of the highest certificate we could chain to.
        subject: String,
        /// The issuer to upload.
        issuer: String,
    },
    /// A certificate of the server's chain has expired.
    #[error("server certificate \"{subject}\" ({role}) expired: valid {not_before} to {not_after}, device clock {now}")]
    Expired {
        /// Which certificate.
        role: String,
        /// Its subject.
        subject: String,
        /// notBefore, RFC 3339.
        not_before: String,
        /// notAfter, RFC 3339.
        not_after: String,
        /// The device clock, RFC 3339.
        now: String,
    },
    /// A certificate of the server's chain is not valid yet.
    #[error("server certificate \"{subject}\" ({role}) is not valid yet: valid {not_before} to {not_after}, device clock {now}")]
    NotYetValid {
        /// Which certificate.
        role: String,
        /// Its subject.
        subject: String,
        /// notBefore, RFC 3339.
        not_before: String,
        /// notAfter, RFC 3339.
        not_after: String,
        /// The device clock, RFC 3339.
        now: String,
    },
    /// The server certificate is for other names than the SIP domain.
    #[error(
        "name mismatch: expected {expected}, the certificate is for {}{}",
        list(presented),
        note.as_ref().map(|n| format!("; {n}")).unwrap_or_default()
    )]
    NameMismatch {
        /// What we expected (e.g. `SIP domain example.com`).
        expected: String,
        /// The names the certificate presents.
        presented: Vec<String>,
        /// Why some presented names do not count (RFC 5922 §7.1), if that applies.
        note: Option<String>,
    },
    /// The server certificate was refused for another reason (usage, signature, malformed…).
    #[error("server certificate refused: {reason}")]
    ServerCertificateRejected {
        /// The verifier's reason.
        reason: String,
    },
    /// The server demanded a client certificate and this device has none.
    #[error("the server demanded a client certificate and this device has none{}", alert.as_ref().map(|a| format!(" (alert {a})")).unwrap_or_default())]
    ClientCertificateRequired {
        /// The alert the server sent, if any.
        alert: Option<String>,
    },
    /// The server refused the client certificate we presented.
    #[error("the server rejected our client certificate \"{subject}\" (alert {alert})")]
    ClientCertificateRejected {
        /// The certificate we presented.
        subject: String,
        /// The alert the server sent.
        alert: String,
    },
    /// Server side: the client presented no certificate although one is required.
    #[error("the client presented no certificate; a device certificate is required")]
    ClientPresentedNoCertificate,
    /// Server side: the client's certificate was refused.
    #[error("the client's certificate was refused: {refusal}")]
    ClientRefused {
        /// Why (from the device verifier).
        refusal: Refusal,
    },
    /// The peer closed the connection during the handshake.
    #[error("the peer closed the connection during the TLS handshake")]
    PeerClosed,
    /// The peer sent a fatal alert we cannot attribute to one of the cases above.
    #[error("the peer aborted the handshake with alert {alert}")]
    AlertReceived {
        /// The alert.
        alert: String,
    },
    /// Anything else (malformed TLS, unexpected messages, socket errors mid-handshake).
    #[error("TLS handshake failed: {detail}")]
    Protocol {
        /// What the TLS library said.
        detail: String,
    },
}

fn ser_ms<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

fn list(presented: &[String]) -> String {
    if presented.is_empty() {
        "no names at all".to_owned()
    } else {
        presented.join(", ")
    }
}

fn ts(at: &OffsetDateTime) -> String {
    at.format(&Rfc3339)
        .unwrap_or_else(|_| format!("@{}", at.unix_timestamp()))
}

fn alert_name(alert: &AlertDescription) -> String {
    let debug = format!("{alert:?}");
    let mut out = String::new();
    for (i, ch) in debug.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_lowercase());
    }
    out
}

impl HandshakeDiagnosis {
    /// A short stable code for scripts and JSON (`tcp_refused`, `version_mismatch`, `untrusted`…).
    pub fn code(&self) -> &'static str {
        match self {
            HandshakeDiagnosis::TcpRefused { .. } => "tcp_refused",
            HandshakeDiagnosis::TcpTimeout { .. } => "tcp_timeout",
            HandshakeDiagnosis::TcpFailed { .. } => "tcp_failed",
            HandshakeDiagnosis::HandshakeTimeout { .. } => "handshake_timeout",
            HandshakeDiagnosis::VersionMismatch { .. } => "version_mismatch",
            HandshakeDiagnosis::NoCommonCipher { .. } => "no_common_cipher",
            HandshakeDiagnosis::Untrusted { .. } => "untrusted",
            HandshakeDiagnosis::Expired { .. } => "expired",
            HandshakeDiagnosis::NotYetValid { .. } => "not_yet_valid",
            HandshakeDiagnosis::NameMismatch { .. } => "name_mismatch",
            HandshakeDiagnosis::ServerCertificateRejected { .. } => "server_certificate_rejected",
            HandshakeDiagnosis::ClientCertificateRequired { .. } => "client_certificate_required",
            HandshakeDiagnosis::ClientCertificateRejected { .. } => "client_certificate_rejected",
            HandshakeDiagnosis::ClientPresentedNoCertificate => "client_presented_no_certificate",
            HandshakeDiagnosis::ClientRefused { .. } => "client_refused",
            HandshakeDiagnosis::PeerClosed => "peer_closed",
            HandshakeDiagnosis::AlertReceived { .. } => "alert_received",
            HandshakeDiagnosis::Protocol { .. } => "protocol",
        }
    }

    /// One line telling the installer what to do.
    pub fn fix(&self) -> String {
        match self {
            HandshakeDiagnosis::TcpRefused { .. } => {
                "check the SIP server address and port (TLS is usually 5061) and that the server listens on TLS".into()
            }
            HandshakeDiagnosis::TcpTimeout { .. } | HandshakeDiagnosis::TcpFailed { .. } => {
                "check the network path to the server: address, routing, firewall rules for the TLS port".into()
            }
            HandshakeDiagnosis::HandshakeTimeout { .. } => {
                "the port answers but does not speak TLS in time: check the port is the server's TLS port, not UDP/TCP SIP".into()
            }
            HandshakeDiagnosis::VersionMismatch { min_version, .. } => match min_version {
                TlsVersion::Tls13 => "enable TLS 1.3 on the server, or lower sip.tls.version.min to 1.2".into(),
                TlsVersion::Tls12 => {
                    "enable TLS 1.2 or 1.3 on the server: this device never uses TLS 1.1 or older (RFC 8996)".into()
                }
            },
            HandshakeDiagnosis::NoCommonCipher { .. } => {
                "enable an ECDHE suite with AES-GCM or ChaCha20-Poly1305 on the server, or widen sip.tls.ciphers".into()
            }
            HandshakeDiagnosis::Untrusted { issuer, .. } => format!(
                "upload the CA certificate \"{issuer}\" (PEM or DER) to certs/trusted/, or have the server send its full chain"
            ),
            HandshakeDiagnosis::Expired { .. } => {
                "renew the server certificate; if the dates look right, check the device clock (NTP)".into()
            }
            HandshakeDiagnosis::NotYetValid { .. } => {
                "set the device clock (NTP): it is earlier than the certificate's start date".into()
            }
            HandshakeDiagnosis::NameMismatch { note: Some(_), .. } => {
                "set the SIP domain to a domain of the certificate's sip: URIs, or get a certificate with subjectAltName URI:sip:<domain>".into()
            }
            HandshakeDiagnosis::NameMismatch { note: None, .. } => {
                "set the SIP domain to a name the certificate carries, or get a certificate with subjectAltName sip:<domain> or DNS:<domain>".into()
            }
            HandshakeDiagnosis::ServerCertificateRejected { .. } => {
                "install a proper TLS server certificate on the server (serverAuth usage, not a CA), or upload it to certs/trusted/".into()
            }
            HandshakeDiagnosis::ClientCertificateRequired { .. } => {
                "install a device certificate (factory identity or certs/sipclient.pem), or turn off client certificate checks on the server".into()
            }
            HandshakeDiagnosis::ClientCertificateRejected { .. } => {
                "give the server the vendor CA chain (root and intermediate) as its client CA list, or install a certs/sipclient.pem it trusts".into()
            }
            HandshakeDiagnosis::ClientPresentedNoCertificate => {
                "the device must present its factory certificate or a certs/sipclient.pem".into()
            }
            HandshakeDiagnosis::ClientRefused { .. } => {
                "the device certificate must chain to the vendor root configured here and be within its dates".into()
            }
            HandshakeDiagnosis::PeerClosed => {
                "the server dropped the connection: check its TLS log (often a client certificate or cipher policy refusal)".into()
            }
            HandshakeDiagnosis::AlertReceived { .. } | HandshakeDiagnosis::Protocol { .. } => {
                "check the server's TLS configuration and log; try `sigil sip probe` with --json for details".into()
            }
        }
    }

    /// The diagnosis of a failed TCP connect to `server`.
    pub fn from_connect_error(error: &std::io::Error, server: &str, timeout: Duration) -> Self {
        use std::io::ErrorKind;
        let server = server.to_owned();
        match error.kind() {
            ErrorKind::ConnectionRefused => HandshakeDiagnosis::TcpRefused { server },
            ErrorKind::TimedOut | ErrorKind::WouldBlock => HandshakeDiagnosis::TcpTimeout {
                server,
                after: timeout,
            },
            _ => HandshakeDiagnosis::TcpFailed {
                server,
                detail: error.to_string(),
            },
        }
    }

    /// The diagnosis of a rustls error on the **client** side of a handshake.
    /// `client_auth` says what happened to our client certificate (it turns
    /// an ambiguous alert into "you have no certificate" or "it was
    /// rejected"), `min_version` is our floor.
    pub fn from_tls_error(
        error: &rustls::Error,
        client_auth: &ClientAuthOutcome,
        min_version: TlsVersion,
    ) -> Self {
        use rustls::Error as E;
        if let Some(verify) = VerifyError::from_tls_error(error) {
            return Self::from_verify_error(verify);
        }
        match error {
            E::AlertReceived(alert) => Self::from_alert(alert, client_auth, min_version),
            E::PeerIncompatible(p) => match p {
                PeerIncompatible::ServerDoesNotSupportTls12Or13
                | PeerIncompatible::SupportedVersionsExtensionRequired
                | PeerIncompatible::ServerTlsVersionIsDisabledByOurConfig
                | PeerIncompatible::Tls12NotOffered
                | PeerIncompatible::Tls12NotOfferedOrEnabled => {
                    HandshakeDiagnosis::VersionMismatch {
                        min_version,
                        detail: format!("{p:?}"),
                    }
                }
                PeerIncompatible::NoCipherSuitesInCommon
                | PeerIncompatible::NoKxGroupsInCommon
                | PeerIncompatible::NoSignatureSchemesInCommon
                | PeerIncompatible::NoCertificateRequestSignatureSchemesInCommon => {
                    HandshakeDiagnosis::NoCommonCipher {
                        detail: format!("{p:?}"),
                    }
                }
                other => HandshakeDiagnosis::Protocol {
                    detail: format!("peer incompatible: {other:?}"),
                },
            },
            E::PeerMisbehaved(
                m @ (PeerMisbehaved::SelectedUnofferedCipherSuite
                | PeerMisbehaved::SelectedUnofferedKxGroup
                | PeerMisbehaved::SelectedTls12UsingTls13VersionExtension),
            ) => HandshakeDiagnosis::NoCommonCipher {
                detail: format!("{m:?}"),
            },
            E::InvalidCertificate(c) => HandshakeDiagnosis::ServerCertificateRejected {
                reason: format!("{c:?}"),
            },
            E::NoCertificatesPresented => HandshakeDiagnosis::ServerCertificateRejected {
                reason: "the server sent no certificate".into(),
            },
            E::InvalidMessage(m) => {
                // An SSLv3/TLS 1.0/1.1 ServerHello or an alert record of an old version reaches
                // us as an invalid message; name the version problem when it looks like one.
                let text = format!("{m:?}");
                if text.contains("Version") {
                    HandshakeDiagnosis::VersionMismatch {
                        min_version,
                        detail: text,
                    }
                } else {
                    HandshakeDiagnosis::Protocol {
                        detail: format!("invalid TLS message: {text}"),
                    }
                }
            }
            other => HandshakeDiagnosis::Protocol {
                detail: other.to_string(),
            },
        }
    }

    /// The diagnosis of a rustls error on the **server** side of a handshake
    /// (a client that presents no or a wrong certificate, an old client…).
    pub fn from_server_tls_error(error: &rustls::Error, min_version: TlsVersion) -> Self {
        if let Some(refusal) = Refusal::from_tls_error(error) {
            return match refusal {
                Refusal::NoCertificate => HandshakeDiagnosis::ClientPresentedNoCertificate,
                refusal => HandshakeDiagnosis::ClientRefused { refusal },
            };
        }
        match error {
            rustls::Error::PeerIncompatible(p) => match p {
                PeerIncompatible::NoCipherSuitesInCommon
                | PeerIncompatible::NoKxGroupsInCommon
                | PeerIncompatible::NoSignatureSchemesInCommon => {
                    HandshakeDiagnosis::NoCommonCipher {
                        detail: format!("{p:?}"),
                    }
                }
                other => HandshakeDiagnosis::VersionMismatch {
                    min_version,
                    detail: format!("{other:?}"),
                },
            },
            rustls::Error::AlertReceived(alert) => HandshakeDiagnosis::AlertReceived {
                alert: alert_name(alert),
            },
            other => HandshakeDiagnosis::Protocol {
                detail: other.to_string(),
            },
        }
    }

    fn from_alert(
        alert: &AlertDescription,
        client_auth: &ClientAuthOutcome,
        min_version: TlsVersion,
    ) -> Self {
        let name = alert_name(alert);
        match alert {
            AlertDescription::ProtocolVersion => HandshakeDiagnosis::VersionMismatch {
                min_version,
                detail: "the server answered with a protocol_version alert".into(),
            },
            AlertDescription::CertificateRequired => HandshakeDiagnosis::ClientCertificateRequired { alert: Some(name) },
            AlertDescription::BadCertificate
            | AlertDescription::UnsupportedCertificate
            | AlertDescription::CertificateRevoked
            | AlertDescription::CertificateExpired
            | AlertDescription::CertificateUnknown
            | AlertDescription::UnknownCA
            | AlertDescription::AccessDenied
            | AlertDescription::HandshakeFailure
            | AlertDescription::DecryptError => match client_auth {
                ClientAuthOutcome::RequestedNone => {
                    HandshakeDiagnosis::ClientCertificateRequired { alert: Some(name) }
                }
                ClientAuthOutcome::Presented { subject } if *alert != AlertDescription::HandshakeFailure => {
                    HandshakeDiagnosis::ClientCertificateRejected {
                        subject: subject.clone(),
                        alert: name,
                    }
                }
                _ if *alert == AlertDescription::HandshakeFailure => HandshakeDiagnosis::NoCommonCipher {
                    detail: "the server sent handshake_failure (usually: no cipher suite or key exchange group in common)".into(),
                },
                _ => HandshakeDiagnosis::AlertReceived { alert: name },
            },
            AlertDescription::InsufficientSecurity => HandshakeDiagnosis::NoCommonCipher {
                detail: "the server sent insufficient_security".into(),
            },
            _ => HandshakeDiagnosis::AlertReceived { alert: name },
        }
    }

    /// The diagnosis for a typed verification failure from `sigil-trust`.
    pub fn from_verify_error(error: &VerifyError) -> Self {
        match error {
            VerifyError::UnknownIssuer { subject, issuer } => HandshakeDiagnosis::Untrusted {
                subject: subject.clone(),
                issuer: issuer.clone(),
            },
            VerifyError::Expired {
                role,
                subject,
                not_before,
                not_after,
                now,
            } => HandshakeDiagnosis::Expired {
                role: role.to_string(),
                subject: subject.clone(),
                not_before: ts(not_before),
                not_after: ts(not_after),
                now: ts(now),
            },
            VerifyError::NotYetValid {
                role,
                subject,
                not_before,
                not_after,
                now,
            } => HandshakeDiagnosis::NotYetValid {
                role: role.to_string(),
                subject: subject.clone(),
                not_before: ts(not_before),
                not_after: ts(not_after),
                now: ts(now),
            },
            VerifyError::NameMismatch {
                expected,
                presented,
                note,
            } => HandshakeDiagnosis::NameMismatch {
                expected: expected.clone(),
                presented: presented.clone(),
                note: note.clone(),
            },
            other => HandshakeDiagnosis::ServerCertificateRejected {
                reason: other.to_string(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alerts_are_attributed_with_the_client_auth_context() {
        let v = TlsVersion::Tls12;
        let d = HandshakeDiagnosis::from_tls_error(
            &rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
            &ClientAuthOutcome::RequestedNone,
            v,
        );
        assert_eq!(d.code(), "client_certificate_required");
        let d = HandshakeDiagnosis::from_tls_error(
            &rustls::Error::AlertReceived(AlertDescription::HandshakeFailure),
            &ClientAuthOutcome::NotRequested,
            v,
        );
        assert_eq!(d.code(), "no_common_cipher");
        let d = HandshakeDiagnosis::from_tls_error(
            &rustls::Error::AlertReceived(AlertDescription::UnknownCA),
            &ClientAuthOutcome::Presented {
                subject: "CN=x".into(),
            },
            v,
        );
        assert_eq!(d.code(), "client_certificate_rejected");
        assert!(d.to_string().contains("unknown_c_a") || d.to_string().contains("unknown"));
        let d = HandshakeDiagnosis::from_tls_error(
            &rustls::Error::AlertReceived(AlertDescription::ProtocolVersion),
            &ClientAuthOutcome::NotRequested,
            v,
        );
        assert_eq!(d.code(), "version_mismatch");
        let d = HandshakeDiagnosis::from_tls_error(
            &rustls::Error::PeerIncompatible(PeerIncompatible::ServerDoesNotSupportTls12Or13),
            &ClientAuthOutcome::NotRequested,
            v,
        );
        assert_eq!(d.code(), "version_mismatch");
    }

    #[test]
    fn verify_errors_keep_their_context() {
        let e = VerifyError::UnknownIssuer {
            subject: "CN=sip.example.com".into(),
            issuer: "CN=Lab CA".into(),
        }
        .into_tls_error();
        let d = HandshakeDiagnosis::from_tls_error(
            &e,
            &ClientAuthOutcome::NotRequested,
            TlsVersion::Tls12,
        );
        assert_eq!(
            d,
            HandshakeDiagnosis::Untrusted {
                subject: "CN=sip.example.com".into(),
                issuer: "CN=Lab CA".into()
            }
        );
        assert!(d.fix().contains("CN=Lab CA"));
    }

    #[test]
    fn connect_errors() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let d =
            HandshakeDiagnosis::from_connect_error(&refused, "127.0.0.1:1", Duration::from_secs(1));
        assert_eq!(d.code(), "tcp_refused");
        assert!(!d.fix().is_empty());
        let slow = std::io::Error::from(std::io::ErrorKind::TimedOut);
        let d =
            HandshakeDiagnosis::from_connect_error(&slow, "192.0.2.1:5061", Duration::from_secs(5));
        assert_eq!(
            d,
            HandshakeDiagnosis::TcpTimeout {
                server: "192.0.2.1:5061".into(),
                after: Duration::from_secs(5)
            }
        );
        assert_eq!(
            d.to_string(),
            "TCP connection to 192.0.2.1:5061 timed out after 5000 ms"
        );
    }
}
