//! What a negotiation agreed: per m-line SRTP, plain RTP (and why) or
//! declined, the crypto lines skipped, and the SRTP contexts to build.

use std::fmt;
use std::net::{IpAddr, SocketAddr};

use super::{DtlsAgreement, Sdp, SignalingTransport, MAX_CRYPTO_LINES};
use crate::sdes::{CryptoParams, SdesError};
use crate::{Session, SrtpError, Suite};

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
    /// SRTP both ways, keyed by SDES.
    Srtp(SrtpAgreement),
    /// SRTP both ways, keyed by a DTLS-SRTP handshake on the media port.
    Dtls(DtlsAgreement),
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
            MediaOutcome::Dtls(agreement) => f.write_str(&agreement.summary()),
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

    /// The DTLS-SRTP agreements, with their m-line index.
    pub fn dtls(&self) -> impl Iterator<Item = (usize, &DtlsAgreement)> {
        self.media.iter().filter_map(|m| match &m.outcome {
            MediaOutcome::Dtls(agreement) => Some((m.index, agreement)),
            _ => None,
        })
    }

    /// The audio m-line media runs on: the first SRTP (SDES or DTLS) one,
    /// else the first plain RTP one. With alternatives in an offer it is the
    /// one kept.
    pub fn media_index(&self) -> Option<usize> {
        let encrypted = self
            .media
            .iter()
            .find(|m| matches!(m.outcome, MediaOutcome::Srtp(_) | MediaOutcome::Dtls(_)))
            .map(|m| m.index);
        encrypted.or_else(|| {
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
                MediaOutcome::Srtp(_) | MediaOutcome::Dtls(_) => any = true,
                MediaOutcome::Plain(_) => return false,
                _ => {}
            }
        }
        any
    }
}
