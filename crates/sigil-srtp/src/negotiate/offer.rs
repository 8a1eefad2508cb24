//! Making our offer ([`Negotiator::create_offer`]) and taking back an offer
//! made earlier ([`Negotiator::resume_offer`]).

use std::fmt;

use super::sdp::{is_audio_rtp, remove_crypto, Profile};
use super::{Negotiator, OfferPolicy, PlainReason, Sdp, MAX_CRYPTO_LINES};
use crate::sdes::{CryptoAttribute, CryptoParams, SdesError};

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

impl Negotiator {
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
}
