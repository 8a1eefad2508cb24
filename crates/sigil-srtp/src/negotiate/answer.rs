//! The sans-IO SDP offer/answer negotiator implementing the SDP SRTP Offer
//! policy (SPEC M2–M3): Disabled, Optional or Standard.
//!
//! The [`Negotiator`] knows nothing of SIP. The endpoint builds the SDP of its
//! own offer or answer (addresses, ports, codecs) and hands it to the
//! negotiator, which sets the RTP profile of each audio m-line, adds or removes
//! `a=crypto` lines, and reports what was agreed:
//!
//! ```
//! use sigil_srtp::negotiate::{basic_audio_sdp, Negotiator, OfferPolicy, SignalingTransport, SrtpConfig};
//!
//! let config = SrtpConfig::new(OfferPolicy::Optional, SignalingTransport::Tls);
//! let mut alice = Negotiator::new(config.clone())?;
//! let mut bob = Negotiator::new(config)?;
//!
//! let mut offer = basic_audio_sdp("192.0.2.1".parse()?, 4000, 1);
//! alice.create_offer(&mut offer)?;
//! let mut answer = basic_audio_sdp("192.0.2.2".parse()?, 5000, 2);
//! let at_bob = bob.answer_offer(&offer, &mut answer)?;
//! let at_alice = alice.accept_answer(&answer)?;
//! assert_eq!(at_alice.summary(), "SRTP AES_256_CM_HMAC_SHA1_80, tag 1");
//! assert_eq!(at_bob.summary(), at_alice.summary());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Rules, per audio m-line:
//!
//! - **Disabled** offers `RTP/AVP` without crypto and answers plain; an offer
//!   that is SRTP-only (`RTP/SAVP`, `RTP/SAVPF`) is declined with 488. An
//!   `RTP/AVP` answer that carries `a=crypto` anyway is plain RTP: the
//!   unsolicited crypto is ignored with a warning in the log.
//! - **Optional** offers `RTP/AVP` with one `a=crypto` line per configured
//!   suite (RFC 8643 opportunistic SRTP). An answer that accepts one → SRTP;
//!   an answer without → plain RTP, "unencrypted: peer has no SRTP"; an
//!   `RTP/AVP` answer whose line picks a tag, or a suite under a tag, that we
//!   did not offer → plain RTP with that reason ([`PlainReason::AnswerNotOffered`]).
//!   As answerer: an acceptable crypto line → SRTP, answered in the offer's
//!   profile; none → plain RTP.
//! - **Standard** offers `RTP/SAVP` with `a=crypto`. An answer without an
//!   acceptable crypto line (none, one that cannot be used, or one picking a
//!   tag or suite we did not offer) ends the call ("SRTP required",
//!   [`AnswerError::SrtpRequired`]); an offer without one is declined with 488.
//! - Keys never go into SDP carried by UDP or TCP signaling unless insecure
//!   signaling is explicitly allowed: Optional then offers plain RTP and says
//!   why (and, like Disabled, ignores crypto in an `RTP/AVP` answer); Standard
//!   refuses to be configured ([`ConfigError`]).
//! - An `RTP/SAVP` answer to an offer that has no crypto (or whose crypto
//!   it does not validly accept, under Optional) is an invalid answer: the
//!   peer insists on SRTP and plain RTP is no fallback.
//!
//! The answerer picks, by its own suite preference, the first offered line it
//! can honour, keeps its tag and suite and sends a fresh random key; the
//! offerer checks that the answered tag was offered with that suite. A line
//! that cannot be honoured is skipped with the reason recorded in
//! [`MediaResult::skipped`].
//!
//! An offer may carry one stream as alternatives: several audio m-lines on
//! one address and port, or an `RTP/SAVP` m-line with crypto plus an
//! `RTP/AVP` one without (on any ports). The answer keeps exactly one of them
//! active — the SRTP one when it is acceptable (Standard, Optional), the
//! plain one under Disabled — and declines the others with port 0 (RFC 3264
//! §6); [`Negotiation::rtp_peer`] gives the peer address of the one kept.
//!
//! Re-offers keep working: an offer carrying the same crypto as the running
//! call keeps the SRTP contexts ([`Change::Keep`]); a changed key makes new
//! ones ([`Change::New`]).

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use sdp_types::{Attribute, Media};

use crate::sdes::{CryptoAttribute, CryptoParams, SdesError};
use crate::{Session, SrtpError, Suite};

/// An SDP session description (re-exported from `sdp-types`).
pub use sdp_types::Session as Sdp;

/// Largest SDP body accepted by [`parse_sdp`], in bytes.
pub const MAX_SDP_LEN: usize = 64 * 1024;
/// Most m-lines accepted in one SDP.
pub const MAX_MEDIA: usize = 16;
/// Most `a=crypto` lines examined per m-line; further lines are skipped.
pub const MAX_CRYPTO_LINES: usize = 32;

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
        }
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
    #[error("unsupported SRTP suite {name:?} (supported: AES_CM_128_HMAC_SHA1_80, AES_CM_128_HMAC_SHA1_32, AES_256_CM_HMAC_SHA1_80, AES_256_CM_HMAC_SHA1_32)")]
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
    /// A transport name other than udp, tcp, tls.
    #[error("unknown SIP transport {value:?} (expected udp, tcp or tls)")]
    UnknownTransport {
        /// The value as given.
        value: String,
    },
}

/// The SDP body could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SdpError {
    /// Larger than [`MAX_SDP_LEN`].
    #[error("SDP body is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// Size of the body.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// More m-lines than [`MAX_MEDIA`].
    #[error("SDP has {count} m-lines, more than the {max} accepted")]
    TooManyMedia {
        /// m-lines found.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// The SDP grammar was violated.
    #[error("invalid SDP: {0}")]
    Invalid(String),
}

/// Parses an SDP body with `sdp-types`, bounded by [`MAX_SDP_LEN`] and [`MAX_MEDIA`].
pub fn parse_sdp(bytes: &[u8]) -> Result<Sdp, SdpError> {
    if bytes.len() > MAX_SDP_LEN {
        return Err(SdpError::TooLarge {
            len: bytes.len(),
            max: MAX_SDP_LEN,
        });
    }
    let session = Sdp::parse(bytes).map_err(|e| SdpError::Invalid(e.to_string()))?;
    if session.medias.len() > MAX_MEDIA {
        return Err(SdpError::TooManyMedia {
            count: session.medias.len(),
            max: MAX_MEDIA,
        });
    }
    Ok(session)
}

/// Writes an SDP body (CRLF line ends). The result contains keys: put it in
/// the SIP message, never in a log.
pub fn write_sdp(session: &Sdp) -> String {
    let mut out = Vec::new();
    // ok: writing into a Vec cannot fail.
    let _ = session.write(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

/// A minimal SDP with one audio m-line offering G.711 µ-law (PCMU, payload
/// type 0) in 20 ms frames, sendrecv, at `addr`:`port` — what a paging
/// adapter or door phone sends. The negotiator then sets its profile and
/// crypto lines.
pub fn basic_audio_sdp(addr: IpAddr, port: u16, session_id: u64) -> Sdp {
    let mut session = Sdp::new(
        sdp_types::Origin::with_ip_addr(session_id, 1, addr),
        "sigil",
    );
    session.origin.set_username("-");
    session.set_connection(addr);
    session.add_time(sdp_types::Time::new(0, 0));
    let mut media = Media::new(
        sdp_types::MediaType::Audio,
        port,
        sdp_types::TransportProto::RtpAvp,
        "0",
    );
    media.add_attribute_with_value("rtpmap", "0 PCMU/8000");
    media.add_attribute_with_value("ptime", "20");
    media.add_attribute(Attribute::new("sendrecv"));
    session.add_media(media);
    session
}

/// Whether a context (one direction of SRTP) is new or carried over from the
/// previous negotiation of the same m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// Same key and parameters as before: keep the running context (its
    /// roll-over counter and replay window).
    Keep,
    /// A new key (or a first negotiation): build a new context.
    New,
}

/// What was agreed for one SRTP m-line: the suite and tag, and each side's
/// key and session parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrtpAgreement {
    /// The agreed suite.
    pub suite: Suite,
    /// The tag of the accepted crypto line.
    pub tag: u32,
    /// Our key and parameters: what we protect outgoing media with.
    pub local: CryptoParams,
    /// The peer's key and parameters: what we unprotect incoming media with.
    pub remote: CryptoParams,
    /// Whether our sending context is kept or new.
    pub send: Change,
    /// Whether our receiving context is kept or new.
    pub receive: Change,
}

impl SrtpAgreement {
    /// "SRTP AES_CM_128_HMAC_SHA1_80, tag 1".
    pub fn summary(&self) -> String {
        format!("SRTP {}, tag {}", self.suite, self.tag)
    }

    /// The two SRTP contexts: ours to protect what we send (from our key)
    /// and theirs to unprotect what we receive (from the peer's key).
    ///
    /// On a re-negotiation, build only the ones marked [`Change::New`] in
    /// [`SrtpAgreement::send`] / [`SrtpAgreement::receive`] and keep the
    /// others running, so roll-over counters and replay windows carry on.
    pub fn sessions(&self) -> Result<(Session, Session), SrtpError> {
        Ok((self.send_session()?, self.receive_session()?))
    }

    /// Our sending context (protects with our key).
    pub fn send_session(&self) -> Result<Session, SrtpError> {
        Session::outbound(self.local.policy()?)
    }

    /// Our receiving context (unprotects with the peer's key).
    pub fn receive_session(&self) -> Result<Session, SrtpError> {
        Session::inbound(self.remote.policy()?)
    }
}

/// Why an m-line runs plain RTP.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PlainReason {
    /// The SDP SRTP Offer is Disabled here.
    Disabled,
    /// As answerer: the offer had no `a=crypto` line.
    PeerOfferedNoCrypto,
    /// As answerer: the offer had crypto lines, none acceptable.
    NoAcceptableCrypto,
    /// As offerer: the answer accepted none of our crypto lines.
    PeerHasNoSrtp,
    /// Keys may not travel over this signaling transport.
    InsecureSignaling {
        /// The transport in use.
        transport: SignalingTransport,
    },
    /// As offerer (Optional): the answer's `a=crypto` line picks a tag we
    /// did not offer, or names another suite than we offered under its tag.
    AnswerNotOffered {
        /// The tag the answer picked.
        tag: u32,
        /// The suite the answer named, as written.
        suite: String,
        /// The suite we offered under that tag, if we offered the tag at all.
        offered: Option<Suite>,
    },
}

impl PlainReason {
    /// Why, without the "plain RTP: " / "unencrypted: " prefix of `Display`
    /// (e.g. "peer has no SRTP").
    pub fn detail(&self) -> String {
        match self {
            PlainReason::Disabled => "SRTP is disabled here".to_owned(),
            PlainReason::PeerOfferedNoCrypto => "peer offered no crypto".to_owned(),
            PlainReason::NoAcceptableCrypto => "peer offered no acceptable crypto".to_owned(),
            PlainReason::PeerHasNoSrtp => "peer has no SRTP".to_owned(),
            PlainReason::InsecureSignaling { transport } => format!(
                "SDES keys are not sent over {transport} signaling (insecure signaling not allowed)"
            ),
            PlainReason::AnswerNotOffered {
                tag,
                suite,
                offered,
            } => not_offered(*tag, suite, *offered),
        }
    }
}

/// What is wrong with an answer's crypto line that picks what we did not offer.
fn not_offered(tag: u32, suite: &str, offered: Option<Suite>) -> String {
    match offered {
        None => format!("answered crypto tag {tag} ({suite}) was not offered"),
        Some(ours) => {
            format!("answered crypto tag {tag} names suite {suite} but was offered with {ours}")
        }
    }
}

impl fmt::Display for PlainReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let prefix = match self {
            PlainReason::PeerHasNoSrtp => "unencrypted",
            _ => "plain RTP",
        };
        write!(f, "{prefix}: {}", self.detail())
    }
}

/// The outcome for one m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MediaOutcome {
    /// SRTP both ways.
    Srtp(SrtpAgreement),
    /// Plain RTP, and why.
    Plain(PlainReason),
    /// The m-line is declined (port 0), and why.
    Declined(String),
    /// Not an audio RTP m-line: left to the caller, untouched.
    NotAudio,
}

impl fmt::Display for MediaOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MediaOutcome::Srtp(agreement) => f.write_str(&agreement.summary()),
            MediaOutcome::Plain(reason) => write!(f, "{reason}"),
            MediaOutcome::Declined(reason) => write!(f, "declined: {reason}"),
            MediaOutcome::NotAudio => f.write_str("not audio RTP: untouched"),
        }
    }
}

/// A crypto line that was not used, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedCrypto {
    /// Its tag, when it could be read.
    pub tag: Option<u32>,
    /// Why it was skipped.
    pub reason: SkipReason,
}

/// Why a crypto line was skipped.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SkipReason {
    /// Malformed, or a suite, key or parameter Sigil cannot honour.
    #[error("{0}")]
    Unusable(#[from] SdesError),
    /// A supported suite that the configuration does not enable.
    #[error("suite {0} is not enabled in sip.srtp.suites")]
    NotEnabled(Suite),
    /// The tag was already used by an earlier line of the same m-line.
    #[error("tag repeats an earlier crypto line")]
    DuplicateTag,
    /// More than [`MAX_CRYPTO_LINES`] crypto lines.
    #[error("more than {MAX_CRYPTO_LINES} crypto lines")]
    TooMany,
}

impl fmt::Display for SkippedCrypto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tag {
            Some(tag) => write!(f, "tag {tag}: {}", self.reason),
            None => write!(f, "{}", self.reason),
        }
    }
}

/// The result for one m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MediaResult {
    /// Position of the m-line in the SDP (0 = first).
    pub index: usize,
    /// What runs on it.
    pub outcome: MediaOutcome,
    /// Crypto lines of the peer that were not used, with reasons.
    pub skipped: Vec<SkippedCrypto>,
}

/// The result of one offer/answer exchange: one [`MediaResult`] per m-line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiation {
    /// Per m-line, in SDP order.
    pub media: Vec<MediaResult>,
}

impl Negotiation {
    /// A one-line, human-readable summary: the outcome of the audio m-line
    /// in use, e.g. "SRTP AES_CM_128_HMAC_SHA1_80, tag 1" or
    /// "plain RTP: peer offered no crypto"; with several audio m-lines, each
    /// prefixed by its number.
    pub fn summary(&self) -> String {
        let audio: Vec<&MediaResult> = self
            .media
            .iter()
            .filter(|m| !matches!(m.outcome, MediaOutcome::NotAudio))
            .collect();
        let active: Vec<&&MediaResult> = audio
            .iter()
            .filter(|m| !matches!(m.outcome, MediaOutcome::Declined(_)))
            .collect();
        match (audio.len(), active.as_slice()) {
            (0, _) => "no audio".to_owned(),
            (1, _) => audio
                .first()
                .map_or_else(String::new, |m| m.outcome.to_string()),
            (_, [one]) => one.outcome.to_string(),
            _ => audio
                .iter()
                .map(|m| format!("m-line {}: {}", m.index + 1, m.outcome))
                .collect::<Vec<_>>()
                .join("; "),
        }
    }

    /// The SRTP agreements, with their m-line index.
    pub fn srtp(&self) -> impl Iterator<Item = (usize, &SrtpAgreement)> {
        self.media.iter().filter_map(|m| match &m.outcome {
            MediaOutcome::Srtp(agreement) => Some((m.index, agreement)),
            _ => None,
        })
    }

    /// The audio m-line media runs on: the first SRTP one, else the first
    /// plain RTP one. With alternatives in an offer it is the one kept.
    pub fn media_index(&self) -> Option<usize> {
        self.srtp().next().map(|(index, _)| index).or_else(|| {
            self.media
                .iter()
                .find(|m| matches!(m.outcome, MediaOutcome::Plain(_)))
                .map(|m| m.index)
        })
    }

    /// Where to send RTP: the address and port the peer's SDP (the offer we
    /// answered, or the answer we accepted) gives for the m-line of
    /// [`Negotiation::media_index`]; its own `c=` line comes before the
    /// session's. `None` when no audio m-line is in use or the connection
    /// address is not an IP address.
    pub fn rtp_peer(&self, peer_sdp: &Sdp) -> Option<SocketAddr> {
        let media = peer_sdp.medias.get(self.media_index()?)?;
        let connection = media.connections.first().or(peer_sdp.connection.as_ref())?;
        let ip: IpAddr = connection
            .connection_address
            .split('/')
            .next()?
            .parse()
            .ok()?;
        Some(SocketAddr::new(ip, media.port))
    }

    /// Whether every audio m-line in use runs SRTP.
    pub fn all_audio_encrypted(&self) -> bool {
        let mut any = false;
        for m in &self.media {
            match m.outcome {
                MediaOutcome::Srtp(_) => any = true,
                MediaOutcome::Plain(_) => return false,
                _ => {}
            }
        }
        any
    }
}

/// An incoming offer that is declined as a whole: answer with this SIP
/// status (488 Not Acceptable Here) and put the reason in a `Warning` header.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {reason}")]
pub struct Rejection {
    /// The SIP status code: 488.
    pub code: u16,
    /// Why, in words fit for a `Warning` header and a log.
    pub reason: String,
    /// Per m-line details.
    pub media: Vec<MediaResult>,
}

impl Rejection {
    /// The value of a SIP `Warning` header (RFC 3261 §20.43) carrying the
    /// reason: `399 <agent> "<reason>"`, with quotes and backslashes escaped
    /// and control characters dropped.
    pub fn warning(&self, agent: &str) -> String {
        let mut text = String::with_capacity(self.reason.len());
        for c in self.reason.chars().filter(|c| !c.is_control()) {
            if c == '"' || c == '\\' {
                text.push('\\');
            }
            text.push(c);
        }
        format!("399 {agent} \"{text}\"")
    }
}

/// An answer (to our offer) that the call cannot continue with: the endpoint
/// must end the call (ACK, then BYE) and report the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AnswerError {
    /// Policy Standard and the answer has no acceptable crypto line.
    #[error("SRTP required: {detail}")]
    SrtpRequired {
        /// What the answer lacked.
        detail: String,
    },
    /// The answer breaks the offer/answer rules.
    #[error("invalid answer: {reason}")]
    InvalidAnswer {
        /// What is wrong with it.
        reason: String,
    },
    /// No offer of ours is waiting for an answer.
    #[error("no offer is waiting for an answer")]
    NoPendingOffer,
}

/// An offer could not be made (or an answer could not be built).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OfferError {
    /// The system random generator failed while making keys.
    #[error("could not make SRTP keys: {0}")]
    Keys(#[from] SdesError),
    /// The SDP template has no audio m-line to negotiate.
    #[error("the SDP has no audio RTP m-line")]
    NoAudio,
    /// The answer template does not have one m-line per offered m-line.
    #[error("the answer SDP has {answer} m-lines but the offer has {offer}")]
    MediaCount {
        /// m-lines in the offer.
        offer: usize,
        /// m-lines in the answer template.
        answer: usize,
    },
    /// [`Negotiator::resume_offer`]: the SDP is not an offer this
    /// configuration makes.
    #[error("the offer does not match SDP SRTP Offer {policy}: {reason}")]
    NotOurOffer {
        /// The configured policy.
        policy: OfferPolicy,
        /// What does not match.
        reason: String,
    },
}

/// What [`Negotiator::create_offer`] put into the offer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OfferInfo {
    /// Whether any crypto line was offered.
    pub srtp_offered: bool,
    /// The profile used for the audio m-lines (`RTP/AVP` or `RTP/SAVP`, or the
    /// `…F` feedback variants).
    pub profile: String,
    /// Why the offer is plain, when it is.
    pub plain_reason: Option<PlainReason>,
}

impl fmt::Display for OfferInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.plain_reason {
            Some(reason) => write!(f, "offer {}: {reason}", self.profile),
            None if self.srtp_offered => write!(f, "offer {} with SDES crypto", self.profile),
            None => write!(f, "offer {}", self.profile),
        }
    }
}

/// RTP profile of an m-line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Profile {
    secure: bool,
    feedback: bool,
}

impl Profile {
    fn of(proto: &str) -> Option<Profile> {
        match proto.to_ascii_uppercase().as_str() {
            "RTP/AVP" => Some(Profile {
                secure: false,
                feedback: false,
            }),
            "RTP/AVPF" => Some(Profile {
                secure: false,
                feedback: true,
            }),
            "RTP/SAVP" => Some(Profile {
                secure: true,
                feedback: false,
            }),
            "RTP/SAVPF" => Some(Profile {
                secure: true,
                feedback: true,
            }),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match (self.secure, self.feedback) {
            (false, false) => "RTP/AVP",
            (false, true) => "RTP/AVPF",
            (true, false) => "RTP/SAVP",
            (true, true) => "RTP/SAVPF",
        }
    }
}

fn is_audio_rtp(media: &Media) -> Option<Profile> {
    if !media.media.eq_ignore_ascii_case("audio") {
        return None;
    }
    Profile::of(&media.proto)
}

/// Reads the crypto lines of an m-line: the usable ones (in order) and the
/// skipped ones with reasons.
fn read_crypto(media: &Media, enabled: &[Suite]) -> (Vec<CryptoParams>, Vec<SkippedCrypto>, usize) {
    let mut usable: Vec<CryptoParams> = Vec::new();
    let mut skipped = Vec::new();
    let mut seen_tags: Vec<u32> = Vec::new();
    let mut count = 0;
    for attr in media
        .attributes
        .iter()
        .filter(|a| a.attribute.eq_ignore_ascii_case("crypto"))
    {
        count += 1;
        if count > MAX_CRYPTO_LINES {
            skipped.push(SkippedCrypto {
                tag: None,
                reason: SkipReason::TooMany,
            });
            break;
        }
        let value = attr.value.as_deref().unwrap_or("");
        let parsed = match CryptoAttribute::parse(value) {
            Ok(parsed) => parsed,
            Err(e) => {
                // The tag, if readable, helps the installer match the reason to the line.
                let tag = value
                    .split([' ', '\t'])
                    .next()
                    .filter(|t| !t.is_empty() && t.len() <= 9)
                    .and_then(|t| t.parse().ok());
                skipped.push(SkippedCrypto {
                    tag,
                    reason: e.into(),
                });
                continue;
            }
        };
        let tag = parsed.tag;
        if seen_tags.contains(&tag) {
            skipped.push(SkippedCrypto {
                tag: Some(tag),
                reason: SkipReason::DuplicateTag,
            });
            continue;
        }
        seen_tags.push(tag);
        match parsed.check() {
            Ok(params) if enabled.contains(&params.suite) => usable.push(params),
            Ok(params) => skipped.push(SkippedCrypto {
                tag: Some(tag),
                reason: SkipReason::NotEnabled(params.suite),
            }),
            Err(e) => skipped.push(SkippedCrypto {
                tag: Some(tag),
                reason: e.into(),
            }),
        }
    }
    (usable, skipped, count)
}

fn remove_crypto(media: &mut Media) {
    media
        .attributes
        .retain(|a| !a.attribute.eq_ignore_ascii_case("crypto"));
}

fn skipped_summary(skipped: &[SkippedCrypto]) -> String {
    skipped
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// What we offered on one audio m-line: the profile and the crypto lines.
type Offered = (Profile, Vec<CryptoParams>);

/// Per m-line memory: what runs now, so re-offers can keep contexts.
#[derive(Debug, Clone, Default)]
struct Current {
    local: Option<CryptoParams>,
    remote: Option<CryptoParams>,
}

/// The SDP offer/answer negotiator for one call (dialog): holds the SRTP
/// configuration, our pending offer and what runs on each m-line.
///
/// Sans-IO: SDP in, SDP and results out; no sockets, no clocks.
#[derive(Debug)]
pub struct Negotiator {
    config: SrtpConfig,
    /// Our offer waiting for its answer: per m-line, the crypto lines offered
    /// (`None` for m-lines we do not handle), and the profile offered.
    pending: Option<Vec<Option<Offered>>>,
    current: Vec<Current>,
    rekey: bool,
}

impl Negotiator {
    /// A negotiator for `config`. Fails when the configuration cannot work:
    /// Standard over UDP/TCP without permission for insecure signaling, or
    /// SRTP enabled with no suite.
    pub fn new(config: SrtpConfig) -> Result<Self, ConfigError> {
        if config.policy != OfferPolicy::Disabled && config.suites.is_empty() {
            return Err(ConfigError::NoSuites {
                policy: config.policy,
            });
        }
        for (i, suite) in config.suites.iter().enumerate() {
            if config.suites[..i].contains(suite) {
                return Err(ConfigError::DuplicateSuite { suite: *suite });
            }
        }
        if config.policy == OfferPolicy::Standard && !config.keys_may_travel() {
            return Err(ConfigError::StandardNeedsSecureSignaling {
                transport: config.transport,
            });
        }
        Ok(Negotiator {
            config,
            pending: None,
            current: Vec::new(),
            rekey: false,
        })
    }

    /// The configuration.
    pub fn config(&self) -> &SrtpConfig {
        &self.config
    }

    /// Makes the next offer carry fresh keys even where SRTP already runs
    /// (a re-key by re-INVITE).
    pub fn rekey(&mut self) {
        self.rekey = true;
    }

    fn current(&self, index: usize) -> Current {
        self.current.get(index).cloned().unwrap_or_default()
    }

    fn set_current(&mut self, index: usize, value: Current) {
        if self.current.len() <= index {
            self.current.resize(index + 1, Current::default());
        }
        if let Some(slot) = self.current.get_mut(index) {
            *slot = value;
        }
    }

    /// Turns `sdp` (built by the caller: addresses, ports, codecs) into our
    /// offer: sets the profile of every audio RTP m-line and writes our
    /// `a=crypto` lines per the policy. Remembers the keys until
    /// [`Negotiator::accept_answer`].
    ///
    /// A re-offer where SRTP already runs offers the running crypto line again
    /// (so the contexts are kept), unless [`Negotiator::rekey`] was called.
    pub fn create_offer(&mut self, sdp: &mut Sdp) -> Result<OfferInfo, OfferError> {
        let policy = self.config.policy;
        let keys_ok = self.config.keys_may_travel();
        let with_crypto = policy != OfferPolicy::Disabled && keys_ok;
        let plain_reason = match policy {
            OfferPolicy::Disabled => Some(PlainReason::Disabled),
            _ if !keys_ok => Some(PlainReason::InsecureSignaling {
                transport: self.config.transport,
            }),
            _ => None,
        };
        let mut pending = Vec::with_capacity(sdp.medias.len());
        let mut profile_name = "RTP/AVP";
        let mut any_audio = false;
        for index in 0..sdp.medias.len() {
            let current = self.current(index);
            let Some(media) = sdp.medias.get_mut(index) else {
                break;
            };
            let Some(profile) = is_audio_rtp(media) else {
                pending.push(None);
                continue;
            };
            any_audio = true;
            let profile = Profile {
                secure: policy == OfferPolicy::Standard,
                feedback: profile.feedback,
            };
            media.proto = profile.name().to_owned();
            profile_name = profile.name();
            remove_crypto(media);
            let mut offered = Vec::new();
            if with_crypto && media.port != 0 {
                match (&current.local, self.rekey) {
                    (Some(running), false) if self.config.suites.contains(&running.suite) => {
                        offered.push(running.clone());
                    }
                    _ => {
                        for (i, suite) in self.config.suites.iter().enumerate() {
                            // ok: at most 4 distinct suites, so the tag fits.
                            let tag = u32::try_from(i + 1).unwrap_or(u32::MAX);
                            offered.push(CryptoParams::generate(tag, *suite)?);
                        }
                    }
                }
                for params in &offered {
                    media.add_attribute(CryptoAttribute::from_params(params).to_attribute());
                }
            }
            pending.push(Some((profile, offered)));
        }
        if !any_audio {
            return Err(OfferError::NoAudio);
        }
        self.pending = Some(pending);
        self.rekey = false;
        Ok(OfferInfo {
            srtp_offered: with_crypto,
            profile: profile_name.to_owned(),
            plain_reason,
        })
    }

    /// Takes `offer`, an offer made earlier by [`Negotiator::create_offer`]
    /// with the same configuration (for instance by another process, which
    /// sent it and kept the SDP), as the offer waiting for its answer, so
    /// that [`Negotiator::accept_answer`] can check the answer. Our tags,
    /// suites and keys are read back from its `a=crypto` lines.
    ///
    /// Fails when `offer` is not what this configuration offers: an audio
    /// profile other than the policy's (`RTP/SAVP` for Standard, `RTP/AVP`
    /// otherwise, `…F` variants alike), crypto lines where the policy offers
    /// none or none where it offers some, or a crypto line that cannot be
    /// used, names a suite not enabled, or repeats a tag. Keys never appear
    /// in the error.
    pub fn resume_offer(&mut self, offer: &Sdp) -> Result<OfferInfo, OfferError> {
        let policy = self.config.policy;
        let keys_ok = self.config.keys_may_travel();
        let with_crypto = policy != OfferPolicy::Disabled && keys_ok;
        let mismatch = |reason: String| OfferError::NotOurOffer { policy, reason };
        let mut pending = Vec::with_capacity(offer.medias.len());
        let mut profile_name = "RTP/AVP";
        let mut any_crypto = false;
        for (index, media) in offer.medias.iter().enumerate() {
            let Some(profile) = is_audio_rtp(media) else {
                pending.push(None);
                continue;
            };
            let secure = policy == OfferPolicy::Standard;
            if profile.secure != secure {
                return Err(mismatch(format!(
                    "m-line {} is {}, {policy} offers {}",
                    index + 1,
                    media.proto,
                    Profile { secure, ..profile }.name()
                )));
            }
            profile_name = profile.name();
            let mut offered: Vec<CryptoParams> = Vec::new();
            for attr in media
                .attributes
                .iter()
                .filter(|a| a.attribute.eq_ignore_ascii_case("crypto"))
            {
                if offered.len() == MAX_CRYPTO_LINES {
                    return Err(mismatch(format!(
                        "m-line {} has more than {MAX_CRYPTO_LINES} a=crypto lines",
                        index + 1
                    )));
                }
                let params = CryptoAttribute::parse(attr.value.as_deref().unwrap_or(""))
                    .and_then(|line| line.check())
                    .map_err(|e| {
                        mismatch(format!(
                            "m-line {}: an a=crypto line cannot be used: {e}",
                            index + 1
                        ))
                    })?;
                if !self.config.suites.contains(&params.suite) {
                    return Err(mismatch(format!(
                        "m-line {}: a=crypto tag {} uses {}, which is not among the enabled suites",
                        index + 1,
                        params.tag,
                        params.suite
                    )));
                }
                if offered.iter().any(|o| o.tag == params.tag) {
                    return Err(mismatch(format!(
                        "m-line {}: a=crypto tag {} appears twice",
                        index + 1,
                        params.tag
                    )));
                }
                offered.push(params);
            }
            let wanted = with_crypto && media.port != 0;
            if wanted && offered.is_empty() {
                return Err(mismatch(format!(
                    "m-line {} has no a=crypto line, but {policy} over {} signaling offers SDES keys",
                    index + 1,
                    self.config.transport
                )));
            }
            if !wanted && !offered.is_empty() {
                return Err(mismatch(format!(
                    "m-line {} has a=crypto lines, but {policy} over {} signaling offers none",
                    index + 1,
                    self.config.transport
                )));
            }
            any_crypto |= !offered.is_empty();
            pending.push(Some((profile, offered)));
        }
        if pending.iter().all(Option::is_none) {
            return Err(OfferError::NoAudio);
        }
        self.pending = Some(pending);
        Ok(OfferInfo {
            srtp_offered: any_crypto,
            profile: profile_name.to_owned(),
            plain_reason: match policy {
                OfferPolicy::Disabled => Some(PlainReason::Disabled),
                _ if !keys_ok => Some(PlainReason::InsecureSignaling {
                    transport: self.config.transport,
                }),
                _ => None,
            },
        })
    }

    /// Checks the peer's answer to our pending offer and returns what runs on
    /// each m-line. An error means the call must end (ACK, then BYE) with the
    /// error as the reason.
    pub fn accept_answer(&mut self, answer: &Sdp) -> Result<Negotiation, AnswerError> {
        let pending = self.pending.take().ok_or(AnswerError::NoPendingOffer)?;
        if answer.medias.len() != pending.len() {
            return Err(AnswerError::InvalidAnswer {
                reason: format!(
                    "the answer has {} m-lines but the offer had {}",
                    answer.medias.len(),
                    pending.len()
                ),
            });
        }
        let policy = self.config.policy;
        let mut results = Vec::with_capacity(pending.len());
        let mut updates = Vec::new();
        for (index, (offered, media)) in pending.iter().zip(&answer.medias).enumerate() {
            let Some((offered_profile, offered)) = offered else {
                results.push(MediaResult {
                    index,
                    outcome: MediaOutcome::NotAudio,
                    skipped: Vec::new(),
                });
                continue;
            };
            if media.port == 0 {
                results.push(MediaResult {
                    index,
                    outcome: MediaOutcome::Declined("the peer declined this m-line".to_owned()),
                    skipped: Vec::new(),
                });
                updates.push((index, Current::default()));
                continue;
            }
            let answered_profile = Profile::of(&media.proto);
            let Some(answered_profile) = answered_profile else {
                return Err(AnswerError::InvalidAnswer {
                    reason: format!(
                        "m-line {} is answered with profile {} to an offer of {}",
                        index + 1,
                        media.proto,
                        offered_profile.name()
                    ),
                });
            };
            let lines: Vec<&Attribute> = media
                .attributes
                .iter()
                .filter(|a| a.attribute.eq_ignore_ascii_case("crypto"))
                .collect();
            if offered.is_empty() && !lines.is_empty() && policy != OfferPolicy::Standard {
                // We offered plain RTP here (Disabled, or Optional where keys
                // may not travel), yet the answer carries crypto.
                if answered_profile.secure {
                    return Err(AnswerError::InvalidAnswer {
                        reason: format!(
                            "m-line {} is answered {} (SRTP only) to our {} offer without crypto: \
                             the peer insists on SRTP, which we did not offer",
                            index + 1,
                            media.proto,
                            offered_profile.name()
                        ),
                    });
                }
                let reason = match policy {
                    OfferPolicy::Disabled => PlainReason::Disabled,
                    _ => PlainReason::InsecureSignaling {
                        transport: self.config.transport,
                    },
                };
                log::warn!(
                    "m-line {}: ignoring {} a=crypto line(s) in the answer: our offer had none ({reason})",
                    index + 1,
                    lines.len()
                );
                results.push(MediaResult {
                    index,
                    outcome: MediaOutcome::Plain(reason),
                    skipped: Vec::new(),
                });
                updates.push((index, Current::default()));
                continue;
            }
            if lines.len() > 1 {
                return Err(AnswerError::InvalidAnswer {
                    reason: format!(
                        "m-line {} of the answer has {} a=crypto lines; an answer accepts exactly one",
                        index + 1,
                        lines.len()
                    ),
                });
            }
            let outcome = match lines.first() {
                None => {
                    if answered_profile.secure {
                        return Err(match policy {
                            OfferPolicy::Standard => AnswerError::SrtpRequired {
                                detail: format!(
                                    "the answer is {} without an a=crypto line",
                                    media.proto
                                ),
                            },
                            _ => AnswerError::InvalidAnswer {
                                reason: format!(
                                    "m-line {} is answered {} without an a=crypto line",
                                    index + 1,
                                    media.proto
                                ),
                            },
                        });
                    }
                    match policy {
                        OfferPolicy::Standard => {
                            return Err(AnswerError::SrtpRequired {
                                detail: "the answer has no a=crypto line".to_owned(),
                            })
                        }
                        OfferPolicy::Disabled => MediaOutcome::Plain(PlainReason::Disabled),
                        OfferPolicy::Optional if offered.is_empty() => {
                            MediaOutcome::Plain(PlainReason::InsecureSignaling {
                                transport: self.config.transport,
                            })
                        }
                        OfferPolicy::Optional => MediaOutcome::Plain(PlainReason::PeerHasNoSrtp),
                    }
                }
                Some(line) => {
                    let value = line.value.as_deref().unwrap_or("");
                    let unusable = |reason: String| match policy {
                        OfferPolicy::Standard => AnswerError::SrtpRequired {
                            detail: format!("the answer's a=crypto line cannot be used: {reason}"),
                        },
                        _ => AnswerError::InvalidAnswer {
                            reason: format!("the answer's a=crypto line cannot be used: {reason}"),
                        },
                    };
                    let parsed =
                        CryptoAttribute::parse(value).map_err(|e| unusable(e.to_string()))?;
                    let ours = offered.iter().find(|p| p.tag == parsed.tag);
                    let Some(ours) = ours.filter(|o| parsed.suite.suite() == Some(o.suite)) else {
                        // A tag, or a suite under its tag, we never offered.
                        let reason = PlainReason::AnswerNotOffered {
                            tag: parsed.tag,
                            suite: parsed.suite.to_string(),
                            offered: ours.map(|o| o.suite),
                        };
                        match policy {
                            OfferPolicy::Optional if !answered_profile.secure => {
                                log::warn!("m-line {}: falling back to {reason}", index + 1);
                                results.push(MediaResult {
                                    index,
                                    outcome: MediaOutcome::Plain(reason),
                                    skipped: Vec::new(),
                                });
                                updates.push((index, Current::default()));
                                continue;
                            }
                            OfferPolicy::Standard => {
                                return Err(AnswerError::SrtpRequired {
                                    detail: reason.detail(),
                                })
                            }
                            // An SRTP-only (RTP/SAVP) answer leaves no plain RTP to fall back to.
                            _ => {
                                return Err(AnswerError::InvalidAnswer {
                                    reason: reason.detail(),
                                })
                            }
                        }
                    };
                    let theirs = parsed
                        .check()
                        .map_err(|e| unusable(format!("tag {}: {e}", parsed.tag)))?;
                    let current = self.current(index);
                    let send = change(current.local.as_ref(), ours);
                    let receive = change(current.remote.as_ref(), &theirs);
                    updates.push((
                        index,
                        Current {
                            local: Some(ours.clone()),
                            remote: Some(theirs.clone()),
                        },
                    ));
                    MediaOutcome::Srtp(SrtpAgreement {
                        suite: ours.suite,
                        tag: ours.tag,
                        local: ours.clone(),
                        remote: theirs,
                        send,
                        receive,
                    })
                }
            };
            if !matches!(outcome, MediaOutcome::Srtp(_)) {
                updates.push((index, Current::default()));
            }
            results.push(MediaResult {
                index,
                outcome,
                skipped: Vec::new(),
            });
        }
        for (index, value) in updates {
            self.set_current(index, value);
        }
        Ok(Negotiation { media: results })
    }

    /// Answers the peer's `offer`. `answer` is the caller's answer SDP with
    /// one m-line per offered m-line (addresses, ports, codecs); the
    /// negotiator sets the profile of each audio m-line to the offer's, writes
    /// our crypto line or none, and sets the port of declined m-lines to 0.
    ///
    /// An `Err` means the whole offer is declined: send the
    /// [`Rejection::code`] (488) with the reason in a `Warning` header.
    pub fn answer_offer(
        &mut self,
        offer: &Sdp,
        answer: &mut Sdp,
    ) -> Result<Negotiation, Rejection> {
        if answer.medias.len() != offer.medias.len() {
            return Err(Rejection {
                code: 500,
                reason: OfferError::MediaCount {
                    offer: offer.medias.len(),
                    answer: answer.medias.len(),
                }
                .to_string(),
                media: Vec::new(),
            });
        }
        let policy = self.config.policy;
        let keys_ok = self.config.keys_may_travel();
        let mut results: Vec<MediaResult> = Vec::with_capacity(offer.medias.len());
        // Our crypto line per m-line, written into the answer at the end.
        let mut ours: Vec<Option<CryptoParams>> = Vec::with_capacity(offer.medias.len());
        for (index, media) in offer.medias.iter().enumerate() {
            let Some(profile) = is_audio_rtp(media) else {
                let outcome = if media.media.eq_ignore_ascii_case("audio") && media.port != 0 {
                    // Audio in a profile we do not speak (e.g. DTLS-SRTP's
                    // UDP/TLS/RTP/SAVPF): decline it rather than answer RTP/AVP.
                    MediaOutcome::Declined(format!(
                        "unsupported transport profile {} (Sigil speaks RTP/AVP, RTP/SAVP and their F variants with SDES)",
                        media.proto
                    ))
                } else {
                    MediaOutcome::NotAudio
                };
                results.push(MediaResult {
                    index,
                    outcome,
                    skipped: Vec::new(),
                });
                ours.push(None);
                continue;
            };
            let template_declined = answer.medias.get(index).is_some_and(|m| m.port == 0);
            if media.port == 0 || template_declined {
                results.push(MediaResult {
                    index,
                    outcome: MediaOutcome::Declined(if media.port == 0 {
                        "the offer disabled this m-line (port 0)".to_owned()
                    } else {
                        "declined by this endpoint (no common codec or stream)".to_owned()
                    }),
                    skipped: Vec::new(),
                });
                ours.push(None);
                continue;
            }
            let (usable, skipped, count) = read_crypto(media, &self.config.suites);
            let chosen = self
                .config
                .suites
                .iter()
                .find_map(|suite| usable.iter().find(|p| p.suite == *suite));
            let none_reason = || -> String {
                if count == 0 {
                    "the offer has no a=crypto line".to_owned()
                } else {
                    format!(
                        "no acceptable a=crypto line ({})",
                        skipped_summary(&skipped)
                    )
                }
            };
            let no_crypto_decline = || match policy {
                OfferPolicy::Standard => format!("SRTP required: {}", none_reason()),
                _ => format!(
                    "the offer is SRTP-only ({}) but has {}",
                    media.proto,
                    none_reason().trim_start_matches("the offer has ")
                ),
            };
            let outcome = match chosen {
                _ if policy == OfferPolicy::Disabled => {
                    if profile.secure {
                        MediaOutcome::Declined(format!(
                            "SRTP is disabled here but the offer is SRTP-only ({})",
                            media.proto
                        ))
                    } else {
                        MediaOutcome::Plain(PlainReason::Disabled)
                    }
                }
                _ if count == 0 => {
                    if profile.secure || policy == OfferPolicy::Standard {
                        MediaOutcome::Declined(no_crypto_decline())
                    } else {
                        MediaOutcome::Plain(PlainReason::PeerOfferedNoCrypto)
                    }
                }
                _ if !keys_ok => {
                    if profile.secure {
                        MediaOutcome::Declined(format!(
                            "the offer is SRTP-only ({}) but SDES keys are not sent over {} signaling (insecure signaling not allowed)",
                            media.proto, self.config.transport
                        ))
                    } else {
                        MediaOutcome::Plain(PlainReason::InsecureSignaling {
                            transport: self.config.transport,
                        })
                    }
                }
                Some(theirs) => {
                    let current = self.current(index);
                    let keep = current.remote.as_ref().is_some_and(|r| r == theirs)
                        && current
                            .local
                            .as_ref()
                            .is_some_and(|l| l.tag == theirs.tag && l.suite == theirs.suite);
                    let (local, send, receive) =
                        match (&current.local, keep) {
                            (Some(local), true) => (local.clone(), Change::Keep, Change::Keep),
                            _ => {
                                let fresh = CryptoParams::generate(theirs.tag, theirs.suite)
                                    .map_err(|e| Rejection {
                                        code: 500,
                                        reason: OfferError::Keys(e).to_string(),
                                        media: Vec::new(),
                                    })?;
                                (fresh, Change::New, Change::New)
                            }
                        };
                    MediaOutcome::Srtp(SrtpAgreement {
                        suite: theirs.suite,
                        tag: theirs.tag,
                        local,
                        remote: theirs.clone(),
                        send,
                        receive,
                    })
                }
                None if profile.secure || policy == OfferPolicy::Standard => {
                    MediaOutcome::Declined(no_crypto_decline())
                }
                None => MediaOutcome::Plain(PlainReason::NoAcceptableCrypto),
            };
            ours.push(match &outcome {
                MediaOutcome::Srtp(a) => Some(a.local.clone()),
                _ => None,
            });
            results.push(MediaResult {
                index,
                outcome,
                skipped,
            });
        }

        resolve_alternatives(offer, &mut results, &mut ours);

        let audio_total = results
            .iter()
            .filter(|r| !matches!(r.outcome, MediaOutcome::NotAudio))
            .count();
        let accepted = results
            .iter()
            .filter(|r| matches!(r.outcome, MediaOutcome::Srtp(_) | MediaOutcome::Plain(_)))
            .count();
        if audio_total > 0 && accepted == 0 {
            let reason = results
                .iter()
                .find_map(|r| match &r.outcome {
                    MediaOutcome::Declined(reason) => Some(reason.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| "no acceptable audio m-line".to_owned());
            return Err(Rejection {
                code: 488,
                reason,
                media: results,
            });
        }

        for (index, (result, mine)) in results.iter().zip(&ours).enumerate() {
            let (Some(offered), Some(media)) =
                (offer.medias.get(index), answer.medias.get_mut(index))
            else {
                continue;
            };
            match &result.outcome {
                MediaOutcome::NotAudio => continue,
                MediaOutcome::Declined(_) => {
                    media.port = 0;
                    media.proto = offered.proto.clone();
                    remove_crypto(media);
                }
                MediaOutcome::Plain(_) | MediaOutcome::Srtp(_) => {
                    media.proto = offered.proto.clone();
                    remove_crypto(media);
                    if let Some(params) = mine {
                        media.add_attribute(CryptoAttribute::from_params(params).to_attribute());
                    }
                }
            }
        }
        for result in &results {
            let value = match &result.outcome {
                MediaOutcome::Srtp(a) => Current {
                    local: Some(a.local.clone()),
                    remote: Some(a.remote.clone()),
                },
                MediaOutcome::NotAudio => continue,
                _ => Current::default(),
            };
            self.set_current(result.index, value);
        }
        self.pending = None;
        Ok(Negotiation { media: results })
    }
}

fn change(before: Option<&CryptoParams>, now: &CryptoParams) -> Change {
    match before {
        Some(before) if before == now => Change::Keep,
        _ => Change::New,
    }
}

/// Which offered audio m-lines are alternatives of one stream, as group
/// numbers (the index of the group's first m-line) per m-line; `None` for
/// m-lines that are not audio RTP, are disabled (port 0) or stand alone.
///
/// Two shapes are alternatives:
///
/// - m-lines on the same address and port (FreeSWITCH's "optional" offers the
///   stream as `RTP/SAVP` with crypto, then again as `RTP/AVP`, on one port);
/// - an SRTP-only m-line with `a=crypto` and a plain `RTP/AVP(F)` m-line
///   without, on different ports (best-effort SRTP by duplicated m-lines):
///   each remaining SRTP one is paired with the first remaining plain one.
fn alternative_groups(offer: &Sdp) -> Vec<Option<usize>> {
    let address = |m: &Media| -> Option<String> {
        m.connections
            .first()
            .or(offer.connection.as_ref())
            .map(|c| c.connection_address.clone())
    };
    let active: Vec<Option<(Profile, usize)>> = offer
        .medias
        .iter()
        .map(|m| {
            let profile = is_audio_rtp(m).filter(|_| m.port != 0)?;
            let cryptos = m
                .attributes
                .iter()
                .filter(|a| a.attribute.eq_ignore_ascii_case("crypto"))
                .count();
            Some((profile, cryptos))
        })
        .collect();
    let n = active.len();
    let mut group: Vec<Option<usize>> = vec![None; n];
    // Same address and port.
    for i in 0..n {
        let (Some(mi), Some(Some(_)), Some(None)) =
            (offer.medias.get(i), active.get(i), group.get(i).copied())
        else {
            continue;
        };
        let same: Vec<usize> = (i + 1..n)
            .filter(|&j| {
                active.get(j).is_some_and(Option::is_some)
                    && offer
                        .medias
                        .get(j)
                        .is_some_and(|mj| mj.port == mi.port && address(mj) == address(mi))
            })
            .collect();
        if same.is_empty() {
            continue;
        }
        for j in std::iter::once(i).chain(same) {
            if let Some(slot) = group.get_mut(j) {
                *slot = Some(i);
            }
        }
    }
    // SRTP-only with crypto + plain without, among the m-lines left alone.
    let alone = |group: &[Option<usize>], j: usize, secure: bool| {
        group.get(j) == Some(&None)
            && matches!(active.get(j), Some(Some((p, c))) if p.secure == secure && (*c > 0) == secure)
    };
    for i in 0..n {
        if !alone(&group, i, true) {
            continue;
        }
        let Some(j) = (0..n).find(|&j| alone(&group, j, false)) else {
            break;
        };
        let first = i.min(j);
        for k in [i, j] {
            if let Some(slot) = group.get_mut(k) {
                *slot = Some(first);
            }
        }
    }
    group
}

/// Keeps one stream per group of alternatives ([`alternative_groups`]): the
/// best accepted m-line (SRTP before plain, then the first) stays, the other
/// accepted ones are declined (RFC 3264 §6: port 0 in the answer).
fn resolve_alternatives(
    offer: &Sdp,
    results: &mut [MediaResult],
    ours: &mut [Option<CryptoParams>],
) {
    let groups = alternative_groups(offer);
    let rank = |r: &MediaResult| match r.outcome {
        MediaOutcome::Srtp(_) => 2,
        MediaOutcome::Plain(_) => 1,
        _ => 0,
    };
    for (i, g) in groups.iter().enumerate() {
        if *g != Some(i) {
            continue;
        }
        let members: Vec<usize> = (0..groups.len())
            .filter(|&j| groups.get(j) == Some(&Some(i)))
            .collect();
        let best = members
            .iter()
            .copied()
            .filter(|&j| results.get(j).is_some_and(|r| rank(r) > 0))
            .max_by_key(|&j| (results.get(j).map_or(0, rank), std::cmp::Reverse(j)));
        let Some(best) = best else { continue };
        let same_port = offer.medias.get(best).map(|m| m.port);
        for &j in &members {
            if j == best {
                continue;
            }
            if let Some(r) = results.get_mut(j) {
                if rank(r) > 0 {
                    let how = if offer.medias.get(j).map(|m| m.port) == same_port {
                        "same address and port"
                    } else {
                        "the same stream offered with and without SRTP"
                    };
                    r.outcome = MediaOutcome::Declined(format!(
                        "alternative to m-line {} ({how}), which was chosen",
                        best + 1
                    ));
                    if let Some(slot) = ours.get_mut(j) {
                        *slot = None;
                    }
                }
            }
        }
    }
}
