//! Answering the peer's offer ([`Negotiator::answer_offer`]), or declining
//! it as a whole ([`Rejection`]).

use sdp_types::Media;

use super::alternatives::resolve_alternatives;
use super::dtls;
use super::sdp::{is_audio_rtp, remove_crypto};
use super::{
    Change, Current, DtlsAgreement, MediaOutcome, MediaResult, Negotiation, Negotiator, OfferError,
    OfferPolicy, PlainReason, Sdp, SkipReason, SkippedCrypto, SrtpAgreement, MAX_CRYPTO_LINES,
};
use crate::dtls::{DtlsRole, Setup};
use crate::sdes::{CryptoAttribute, CryptoParams};
use crate::Suite;

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

impl Negotiator {
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
        // Our a=setup per DTLS-SRTP m-line.
        let mut setups: Vec<Option<Setup>> = vec![None; offer.medias.len()];
        for (index, media) in offer.medias.iter().enumerate() {
            if let Some(outcome) = self.answer_dtls(offer, media, answer.medias.get(index)) {
                if let (MediaOutcome::Dtls(a), Some(slot)) = (&outcome, setups.get_mut(index)) {
                    *slot = Some(match a.role {
                        DtlsRole::Client => Setup::Active,
                        DtlsRole::Server => Setup::Passive,
                    });
                }
                results.push(MediaResult {
                    index,
                    outcome,
                    skipped: Vec::new(),
                });
                ours.push(None);
                continue;
            }
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
            .filter(|r| {
                matches!(
                    r.outcome,
                    MediaOutcome::Srtp(_) | MediaOutcome::Dtls(_) | MediaOutcome::Plain(_)
                )
            })
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
                    dtls::remove_attributes(media);
                }
                MediaOutcome::Plain(_) | MediaOutcome::Srtp(_) => {
                    media.proto = offered.proto.clone();
                    remove_crypto(media);
                    dtls::remove_attributes(media);
                    if let Some(params) = mine {
                        media.add_attribute(CryptoAttribute::from_params(params).to_attribute());
                    }
                }
                MediaOutcome::Dtls(_) => {
                    media.proto = offered.proto.clone();
                    remove_crypto(media);
                    let setup = setups.get(index).copied().flatten();
                    if let (Some(fingerprint), Some(setup)) = (&self.config.fingerprint, setup) {
                        dtls::write_attributes(media, fingerprint, setup);
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

impl Negotiator {
    /// DTLS-SRTP for one offered m-line, when keying allows it and the
    /// m-line is audio carrying `a=fingerprint` (or is in a DTLS profile):
    /// `Some(Dtls)` to answer with, `Some(Declined)` when the offer's DTLS
    /// attributes cannot be used, `None` to go on with SDES.
    fn answer_dtls(
        &self,
        offer: &Sdp,
        media: &Media,
        template: Option<&Media>,
    ) -> Option<MediaOutcome> {
        let audio = media.media.eq_ignore_ascii_case("audio");
        let dtls_profile = dtls::is_dtls_proto(&media.proto);
        if !audio || media.port == 0 || template.is_some_and(|m| m.port == 0) {
            return None;
        }
        let usable = self.config.policy != OfferPolicy::Disabled && self.config.keying.dtls();
        if !usable {
            return dtls_profile.then(|| {
                MediaOutcome::Declined(format!(
                    "the offer is DTLS-SRTP only ({}) but sip.srtp.keying is {}{}",
                    media.proto,
                    self.config.keying,
                    if self.config.policy == OfferPolicy::Disabled {
                        " and SRTP is disabled"
                    } else {
                        ""
                    }
                ))
            });
        }
        let fingerprints = match dtls::fingerprints(media, offer) {
            Ok(f) if !f.is_empty() => f,
            Ok(_) if dtls_profile => {
                return Some(MediaOutcome::Declined(format!(
                    "the offer is DTLS-SRTP ({}) but has no a=fingerprint",
                    media.proto
                )))
            }
            Ok(_) => return None,
            Err(e) => {
                return Some(MediaOutcome::Declined(format!(
                    "the offer's a=fingerprint cannot be used: {e}"
                )))
            }
        };
        // RFC 4145 §4: no a=setup means active; RFC 5763 §5: we answer active.
        let theirs = match dtls::setup(media, offer) {
            None => Setup::Active,
            Some(Ok(setup)) => setup,
            Some(Err(e)) => return Some(MediaOutcome::Declined(e.to_string())),
        };
        let Some(mine) = Setup::answer_to(theirs) else {
            return Some(MediaOutcome::Declined(
                "the offer says a=setup:holdconn: no DTLS association for now".to_owned(),
            ));
        };
        Some(MediaOutcome::Dtls(DtlsAgreement {
            role: if mine == Setup::Active {
                DtlsRole::Client
            } else {
                DtlsRole::Server
            },
            peer_fingerprints: fingerprints,
        }))
    }
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

fn skipped_summary(skipped: &[SkippedCrypto]) -> String {
    skipped
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}
