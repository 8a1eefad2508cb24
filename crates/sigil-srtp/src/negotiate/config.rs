//! The SRTP configuration: the offer policy, the signaling transport, the
//! suite list, and the configuration errors reported at set-up.

use std::fmt;
use std::str::FromStr;

use super::dtls::Keying;
use crate::dtls::Fingerprint;
use crate::Suite;

/// The "SDP SRTP Offer" setting (`sip.srtp.offer`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OfferPolicy {
    /// Plain RTP only; SRTP-only offers are declined with 488.
    Disabled,
    /// SRTP when the peer supports it, plain RTP otherwise (RFC 8643).
    Optional,
    /// SRTP is mandatory.
    Standard,
}

impl OfferPolicy {
    /// The configuration name: `disabled`, `optional` or `standard`.
    pub const fn name(self) -> &'static str {
        match self {
            OfferPolicy::Disabled => "disabled",
            OfferPolicy::Optional => "optional",
            OfferPolicy::Standard => "standard",
        }
    }
}

impl fmt::Display for OfferPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OfferPolicy {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disabled" => Ok(OfferPolicy::Disabled),
            "optional" => Ok(OfferPolicy::Optional),
            "standard" => Ok(OfferPolicy::Standard),
            _ => Err(ConfigError::UnknownPolicy {
                value: s.to_owned(),
            }),
        }
    }
}

/// The transport that carries the SIP signaling (and so the SDP) of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignalingTransport {
    /// SIP over UDP: SDP in clear text.
    Udp,
    /// SIP over TCP: SDP in clear text.
    Tcp,
    /// SIP over TLS: SDP encrypted in transit.
    Tls,
}

impl SignalingTransport {
    /// The configuration name: `udp`, `tcp` or `tls`.
    pub const fn name(self) -> &'static str {
        match self {
            SignalingTransport::Udp => "udp",
            SignalingTransport::Tcp => "tcp",
            SignalingTransport::Tls => "tls",
        }
    }

    /// Whether SDP carried over it is protected from eavesdroppers.
    pub const fn is_secure(self) -> bool {
        matches!(self, SignalingTransport::Tls)
    }
}

impl fmt::Display for SignalingTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for SignalingTransport {
    type Err = ConfigError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "udp" => Ok(SignalingTransport::Udp),
            "tcp" => Ok(SignalingTransport::Tcp),
            "tls" => Ok(SignalingTransport::Tls),
            _ => Err(ConfigError::UnknownTransport {
                value: s.to_owned(),
            }),
        }
    }
}

/// Parses a suite list such as `AES_CM_128_HMAC_SHA1_80,AES_CM_128_HMAC_SHA1_32`
/// (commas and/or spaces between names) in preference order.
pub fn parse_suites(list: &str) -> Result<Vec<Suite>, ConfigError> {
    let mut suites = Vec::new();
    for name in list.split([',', ' ', '\t']).filter(|s| !s.is_empty()) {
        let suite = name
            .parse::<Suite>()
            .map_err(|_| ConfigError::UnknownSuite {
                name: name.to_owned(),
            })?;
        if suites.contains(&suite) {
            return Err(ConfigError::DuplicateSuite { suite });
        }
        suites.push(suite);
    }
    Ok(suites)
}

/// The SRTP settings of a device: policy, suites and signaling security.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpConfig {
    /// Disabled, Optional or Standard.
    pub policy: OfferPolicy,
    /// Suites in preference order (first = most preferred).
    pub suites: Vec<Suite>,
    /// The SIP transport the SDP travels over.
    pub transport: SignalingTransport,
    /// Allow SDES keys in SDP over UDP/TCP signaling (`sip.srtp.insecure_signaling = 1`).
    /// Anyone who can read the signaling can then decrypt the media.
    pub allow_insecure_signaling: bool,
    /// How keys are agreed (`sip.srtp.keying`; default SDES).
    pub keying: Keying,
    /// The SHA-256 fingerprint of the certificate our DTLS-SRTP side
    /// presents (needed when `keying` is `dtls` or `both`).
    pub fingerprint: Option<Fingerprint>,
}

impl SrtpConfig {
    /// A configuration with every supported suite (strongest first) and
    /// insecure signaling not allowed.
    pub fn new(policy: OfferPolicy, transport: SignalingTransport) -> Self {
        SrtpConfig {
            policy,
            suites: Suite::ALL.to_vec(),
            transport,
            allow_insecure_signaling: false,
            keying: Keying::Sdes,
            fingerprint: None,
        }
    }

    /// Sets the keying and the fingerprint of our DTLS certificate (see
    /// [`crate::dtls::DtlsIdentity::fingerprint`]).
    pub fn with_keying(mut self, keying: Keying, fingerprint: Option<Fingerprint>) -> Self {
        self.keying = keying;
        self.fingerprint = fingerprint;
        self
    }

    /// Replaces the suite preference list.
    pub fn with_suites(mut self, suites: Vec<Suite>) -> Self {
        self.suites = suites;
        self
    }

    /// Allows (or forbids) SDES keys over UDP/TCP signaling.
    pub fn with_insecure_signaling(mut self, allow: bool) -> Self {
        self.allow_insecure_signaling = allow;
        self
    }

    /// Whether keys may be written into SDP on this transport.
    pub fn keys_may_travel(&self) -> bool {
        self.transport.is_secure() || self.allow_insecure_signaling
    }
}

/// A configuration that cannot work, reported at set-up rather than at call time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Standard (mandatory SRTP) over UDP/TCP without allowing insecure signaling.
    #[error("SDP SRTP Offer is standard but SIP signaling is {transport}: SDES keys would travel in clear text; use TLS transport or explicitly allow insecure signaling (sip.srtp.insecure_signaling = 1)")]
    StandardNeedsSecureSignaling {
        /// The configured transport.
        transport: SignalingTransport,
    },
    /// SRTP is enabled but no suite is configured.
    #[error("SDP SRTP Offer is {policy} but no SRTP suite is configured")]
    NoSuites {
        /// The configured policy.
        policy: OfferPolicy,
    },
    /// A suite appears twice in the list.
    #[error("suite {suite} is listed twice")]
    DuplicateSuite {
        /// The repeated suite.
        suite: Suite,
    },
    /// A suite name that is not supported.
    #[error("unsupported SRTP suite {name:?} (supported: AEAD_AES_256_GCM, AEAD_AES_128_GCM, AES_256_CM_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32, AES_CM_128_HMAC_SHA1_32)")]
    UnknownSuite {
        /// The name as given.
        name: String,
    },
    /// A policy name other than disabled, optional, standard.
    #[error("unknown SDP SRTP Offer {value:?} (expected disabled, optional or standard)")]
    UnknownPolicy {
        /// The value as given.
        value: String,
    },
    /// A keying name other than sdes, dtls, both.
    #[error("unknown sip.srtp.keying {value:?} (expected sdes, dtls or both)")]
    UnknownKeying {
        /// The value as given.
        value: String,
    },
    /// DTLS-SRTP keying without the fingerprint of our certificate.
    #[error(
        "sip.srtp.keying = {keying} needs the DTLS certificate's fingerprint for a=fingerprint"
    )]
    DtlsNeedsFingerprint {
        /// The configured keying.
        keying: Keying,
    },
    /// A transport name other than udp, tcp, tls.
    #[error("unknown SIP transport {value:?} (expected udp, tcp or tls)")]
    UnknownTransport {
        /// The value as given.
        value: String,
    },
}
