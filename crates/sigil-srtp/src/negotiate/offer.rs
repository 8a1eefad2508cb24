//! Making our offer ([`Negotiator::create_offer`]) and taking back an offer
//! made earlier ([`Negotiator::resume_offer`]).

use std::fmt;

use super::dtls::{self, Keying};
use super::sdp::{is_audio_rtp, remove_crypto, Profile};
use super::{Negotiator, OfferPolicy, PlainReason, Sdp, MAX_CRYPTO_LINES};
use crate::dtls::Setup;
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
    /// Whether SRTP was offered: SDES crypto lines or DTLS-SRTP.
    pub srtp_offered: bool,
    /// Whether DTLS-SRTP (`a=fingerprint`, `a=setup:actpass`) was offered.
    pub dtls_offered: bool,
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
            None if self.dtls_offered && self.profile.starts_with("UDP/TLS") => {
                write!(f, "offer {} with DTLS-SRTP", self.profile)
            }
            None if self.dtls_offered => {
                write!(f, "offer {} with SDES crypto and DTLS-SRTP", self.profile)
            }
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
        let keying = self.config.keying;
        let keys_ok = self.config.keys_may_travel();
        let with_crypto = policy != OfferPolicy::Disabled && keys_ok && keying.sdes();
        let with_dtls = policy != OfferPolicy::Disabled && keying.dtls();
        let fingerprint = self.config.fingerprint.clone();
        let plain_reason = match policy {
            OfferPolicy::Disabled => Some(PlainReason::Disabled),
            _ if with_dtls => None,
            _ if !keys_ok => Some(PlainReason::InsecureSignaling {
                transport: self.config.transport,
            }),
            _ => None,
        };
        let mut pending = Vec::with_capacity(sdp.medias.len());
        let mut pending_dtls = Vec::with_capacity(sdp.medias.len());
        let mut profile_name = "RTP/AVP";
        let mut any_audio = false;
        for index in 0..sdp.medias.len() {
            let current = self.current(index);
            let Some(media) = sdp.medias.get_mut(index) else {
                break;
            };
            let audio = is_audio_rtp(media).or_else(|| {
                (media.media.eq_ignore_ascii_case("audio") && dtls::is_dtls_proto(&media.proto))
                    .then_some(Profile {
                        secure: true,
                        feedback: media.proto.to_ascii_uppercase().ends_with('F'),
                    })
            });
            let Some(profile) = audio else {
                pending.push(None);
                pending_dtls.push(false);
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
            dtls::remove_attributes(media);
            let dtls_here = with_dtls && media.port != 0;
            if let (true, Some(fingerprint)) = (dtls_here, &fingerprint) {
                if keying == Keying::Dtls {
                    media.proto = dtls::dtls_proto(profile.feedback).to_owned();
                    profile_name = dtls::dtls_proto(profile.feedback);
                }
                dtls::write_attributes(media, fingerprint, Setup::Actpass);
            }
            pending_dtls.push(dtls_here);
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
        self.pending_dtls = pending_dtls;
        self.rekey = false;
        Ok(OfferInfo {
            srtp_offered: with_crypto || with_dtls,
            dtls_offered: with_dtls,
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
        let mut pending_dtls = Vec::with_capacity(offer.medias.len());
        let mut profile_name = "RTP/AVP";
        let mut any_crypto = false;
        let keying = self.config.keying;
        let with_dtls = policy != OfferPolicy::Disabled && keying.dtls();
        for (index, media) in offer.medias.iter().enumerate() {
            // DTLS-SRTP: our fingerprint must be on every audio m-line in use.
            let ours = dtls::fingerprints(media, offer)
                .ok()
                .zip(self.config.fingerprint.as_ref())
                .is_some_and(|(found, ours)| found.contains(ours));
            let dtls_audio =
                media.media.eq_ignore_ascii_case("audio") && dtls::is_dtls_proto(&media.proto);
            if dtls_audio {
                if !(with_dtls && keying == Keying::Dtls && ours) {
                    return Err(mismatch(format!(
                        "m-line {} is {} with{} our fingerprint, but this configuration (keying {keying}) does not offer that",
                        index + 1,
                        media.proto,
                        if ours { "" } else { "out" }
                    )));
                }
                profile_name = dtls::dtls_proto(media.proto.to_ascii_uppercase().ends_with('F'));
                pending.push(Some((
                    Profile {
                        secure: true,
                        feedback: profile_name.ends_with('F'),
                    },
                    Vec::new(),
                )));
                pending_dtls.push(true);
                any_crypto = true;
                continue;
            }
            let Some(profile) = is_audio_rtp(media) else {
                pending.push(None);
                pending_dtls.push(false);
                continue;
            };
            if with_dtls && media.port != 0 && !ours {
                return Err(mismatch(format!(
                    "m-line {} has no a=fingerprint of our DTLS certificate, but keying {keying} offers one",
                    index + 1
                )));
            }
            pending_dtls.push(with_dtls && media.port != 0);
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
            let wanted = with_crypto && keying.sdes() && media.port != 0;
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
        let dtls_offered = pending_dtls.iter().any(|d| *d);
        self.pending_dtls = pending_dtls;
        Ok(OfferInfo {
            srtp_offered: any_crypto || dtls_offered,
            dtls_offered,
            profile: profile_name.to_owned(),
            plain_reason: match policy {
                OfferPolicy::Disabled => Some(PlainReason::Disabled),
                _ if with_dtls => None,
                _ if !keys_ok => Some(PlainReason::InsecureSignaling {
                    transport: self.config.transport,
                }),
                _ => None,
            },
        })
    }
}
