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
//! assert_eq!(at_alice.summary(), "SRTP AEAD_AES_256_GCM, tag 1");
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
//! DTLS-SRTP keying (`sip.srtp.keying = dtls | both`, RFC 5763) is described
//! in the `dtls` submodule's documentation: see [`Keying`] and
//! [`DtlsAgreement`]; the agreed m-line reports [`MediaOutcome::Dtls`].
//!
//! Re-offers keep working: an offer carrying the same crypto as the running
//! call keeps the SRTP contexts ([`Change::Keep`]); a changed key makes new
//! ones ([`Change::New`]).

mod accept;
mod alternatives;
mod answer;
mod config;
mod dtls;
mod offer;
mod outcome;
mod sdp;

use crate::sdes::CryptoParams;

pub use accept::AnswerError;
pub use answer::Rejection;
pub use config::{parse_suites, ConfigError, OfferPolicy, SignalingTransport, SrtpConfig};
pub use dtls::{DtlsAgreement, Keying};
pub use offer::{OfferError, OfferInfo};
pub use outcome::{
    Change, MediaOutcome, MediaResult, Negotiation, PlainReason, SkipReason, SkippedCrypto,
    SrtpAgreement,
};
pub use sdp::{
    basic_audio_sdp, parse_sdp, write_sdp, SdpError, MAX_CRYPTO_LINES, MAX_MEDIA, MAX_SDP_LEN,
};

/// An SDP session description (re-exported from `sdp-types`).
pub use sdp_types::Session as Sdp;

/// What we offered on one audio m-line: the profile and the crypto lines.
type Offered = (sdp::Profile, Vec<CryptoParams>);

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
    /// Per m-line of the pending offer: whether DTLS-SRTP was offered on it.
    pending_dtls: Vec<bool>,
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
        if config.keying.dtls() && config.fingerprint.is_none() {
            return Err(ConfigError::DtlsNeedsFingerprint {
                keying: config.keying,
            });
        }
        if config.policy == OfferPolicy::Standard
            && config.keying == Keying::Sdes
            && !config.keys_may_travel()
        {
            return Err(ConfigError::StandardNeedsSecureSignaling {
                transport: config.transport,
            });
        }
        Ok(Negotiator {
            config,
            pending: None,
            pending_dtls: Vec::new(),
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
}
