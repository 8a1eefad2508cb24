//! Checking the peer's answer to our offer ([`Negotiator::accept_answer`]).

use sdp_types::Attribute;

use super::dtls::{self, Keying};
use super::sdp::Profile;
use super::{
    Change, Current, DtlsAgreement, MediaOutcome, MediaResult, Negotiation, Negotiator,
    OfferPolicy, PlainReason, Sdp, SrtpAgreement,
};
use crate::dtls::{DtlsRole, Setup};
use crate::sdes::{CryptoAttribute, CryptoParams};

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

impl Negotiator {
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
            if self.pending_dtls.get(index) == Some(&true) {
                if let Some(outcome) = self.accept_dtls(answer, media, index)? {
                    results.push(MediaResult {
                        index,
                        outcome,
                        skipped: Vec::new(),
                    });
                    updates.push((index, Current::default()));
                    continue;
                }
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
}

impl Negotiator {
    /// The answer to an m-line where we offered DTLS-SRTP: `Some(Dtls)` when
    /// it answers with `a=fingerprint` (and no crypto line), `Some(Plain)`
    /// for a plain Optional answer to a DTLS-only offer, `None` to check it
    /// as an SDES answer (keying `both`), or the error that ends the call.
    fn accept_dtls(
        &self,
        answer: &Sdp,
        media: &sdp_types::Media,
        index: usize,
    ) -> Result<Option<MediaOutcome>, AnswerError> {
        let policy = self.config.policy;
        let fail = |detail: String| match policy {
            OfferPolicy::Standard => AnswerError::SrtpRequired { detail },
            _ => AnswerError::InvalidAnswer { reason: detail },
        };
        let has_crypto = media
            .attributes
            .iter()
            .any(|a| a.attribute.eq_ignore_ascii_case("crypto"));
        let fingerprints =
            dtls::fingerprints(media, answer).map_err(|e| fail(format!("the answer's {e}")))?;
        if fingerprints.is_empty() || has_crypto {
            if self.config.keying == Keying::Dtls {
                if policy == OfferPolicy::Optional && !has_crypto {
                    if let Some(Profile { secure: false, .. }) = Profile::of(&media.proto) {
                        return Ok(Some(MediaOutcome::Plain(PlainReason::PeerHasNoSrtp)));
                    }
                }
                return Err(fail(format!(
                    "m-line {} of the answer has no a=fingerprint for the DTLS-SRTP we offered",
                    index + 1
                )));
            }
            return Ok(None);
        }
        // RFC 4145 §4: an answer without a=setup is active, so we are passive.
        let role = match dtls::setup(media, answer) {
            None | Some(Ok(Setup::Active)) => DtlsRole::Server,
            Some(Ok(Setup::Passive)) => DtlsRole::Client,
            Some(Ok(other)) => {
                return Err(AnswerError::InvalidAnswer {
                    reason: format!(
                        "m-line {} answers a=setup:{other}; an answer says active or passive (RFC 5763 §5)",
                        index + 1
                    ),
                })
            }
            Some(Err(e)) => return Err(AnswerError::InvalidAnswer { reason: e.to_string() }),
        };
        Ok(Some(MediaOutcome::Dtls(DtlsAgreement {
            role,
            peer_fingerprints: fingerprints,
        })))
    }
}

fn change(before: Option<&CryptoParams>, now: &CryptoParams) -> Change {
    match before {
        Some(before) if before == now => Change::Keep,
        _ => Change::New,
    }
}
