//! SDES offer/answer under the SDP SRTP Offer policy (Disabled, Optional,
//! Standard), SDP in and out as strings. Keys leave the library only inside
//! SDP; the SRTP sessions of an agreement are made without them passing
//! through the caller.

use std::ffi::c_char;

use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, parse_suites, write_sdp, AnswerError, Change, MediaOutcome,
    Negotiation, Negotiator, OfferError, OfferPolicy, Sdp, SignalingTransport, SrtpConfig,
};
use sigil_srtp::Suite;
use zeroize::Zeroize;

use crate::boundary::{
    c_str, free_handle, guard, handle_ref, into_handle, opt_c_str, with_handle, write_opt,
    write_out, Poison,
};
use crate::srtp::SigilSrtp;
use crate::text::{put, put_secret, SigilText};
use crate::SigilStatus;

/// The offer/answer negotiator of one call (opaque): the SRTP settings,
/// our pending offer (with its keys) and the last outcome.
pub struct SigilNegotiator {
    negotiator: Negotiator,
    last: Option<Negotiation>,
    poisoned: bool,
}

impl Poison for SigilNegotiator {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

/// What runs on the audio m-line of the last negotiation.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigilMediaMode {
    /// No negotiation has completed yet (or no audio m-line is in use).
    None = 0,
    /// Plain RTP (the summary says why).
    Plain = 1,
    /// SRTP both ways.
    Srtp = 2,
}

/// The outcome of the last negotiation, for `sigil_negotiator_media`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SigilMediaInfo {
    /// SRTP, plain RTP, or none.
    pub mode: SigilMediaMode,
    /// The m-line media runs on (0 = the first).
    pub media_index: usize,
    /// With SRTP: the suite name (a static string, never to be freed);
    /// otherwise NULL.
    pub suite: *const c_char,
    /// With SRTP: the tag of the accepted `a=crypto` line; otherwise 0.
    pub tag: u32,
    /// With SRTP: whether our sending context is new (`false`: a re-offer
    /// kept the key; keep the running session so its ROC carries on).
    pub send_is_new: bool,
    /// With SRTP: whether our receiving context is new.
    pub receive_is_new: bool,
}

/// A parsed SDP whose `a=crypto` values are wiped when dropped.
struct Wiped(Sdp);

impl Drop for Wiped {
    fn drop(&mut self) {
        let media = self
            .0
            .medias
            .iter_mut()
            .flat_map(|m| m.attributes.iter_mut());
        for attribute in self.0.attributes.iter_mut().chain(media) {
            if attribute.attribute.eq_ignore_ascii_case("crypto") {
                if let Some(value) = attribute.value.as_mut() {
                    value.zeroize();
                }
            }
        }
    }
}

/// Parses SDP text from C.
///
/// # Safety
///
/// `text` is NULL or a NUL-terminated string valid during the call.
unsafe fn sdp_arg(text: *const c_char) -> Result<Wiped, SigilStatus> {
    // SAFETY: the caller's promise, passed on.
    let text = unsafe { c_str(text)? };
    parse_sdp(text.as_bytes())
        .map(Wiped)
        .map_err(|_| SigilStatus::SdpInvalid)
}

/// The static, NUL-terminated name of a suite.
fn suite_name(suite: Suite) -> *const c_char {
    let name: &'static str = match suite {
        Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80\0",
        Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32\0",
        Suite::Aes256CmHmacSha1_80 => "AES_256_CM_HMAC_SHA1_80\0",
        Suite::Aes256CmHmacSha1_32 => "AES_256_CM_HMAC_SHA1_32\0",
        Suite::AeadAes128Gcm => "AEAD_AES_128_GCM\0",
        Suite::AeadAes256Gcm => "AEAD_AES_256_GCM\0",
    };
    name.as_ptr().cast()
}

/// Creates a negotiator for one call.
///
/// - `policy`: `"disabled"`, `"optional"` or `"standard"` (the SDP SRTP
///   Offer setting).
/// - `transport`: the SIP transport the SDP travels over: `"udp"`, `"tcp"`
///   or `"tls"`.
/// - `suites`: optional (NULL: all six, AEAD_AES_256_GCM first):
///   suite names in preference order, separated by commas or spaces.
/// - `allow_insecure_signaling`: non-zero lets SDES keys travel over UDP/TCP
///   signaling (anyone reading the signaling can then decrypt the media).
/// - `error`: optional: why the settings cannot work (e.g. Standard over
///   UDP without allowing insecure signaling).
///
/// Thread safety: may be called from any thread.
///
/// # Safety
///
/// `out` writable; the strings NUL-terminated (or NULL where allowed);
/// `error` NULL or a valid [`SigilText`].
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_new(
    out: *mut *mut SigilNegotiator,
    policy: *const c_char,
    transport: *const c_char,
    suites: *const c_char,
    allow_insecure_signaling: i32,
    error: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: `out` is NULL or writable (caller's promise).
        unsafe { write_out(out, std::ptr::null_mut())? };
        // SAFETY: NUL-terminated strings or NULL (caller's promise).
        let (policy, transport, suites) =
            unsafe { (c_str(policy)?, c_str(transport)?, opt_c_str(suites)?) };
        let settings = (|| {
            let policy: OfferPolicy = policy.parse()?;
            let transport: SignalingTransport = transport.parse()?;
            let mut config = SrtpConfig::new(policy, transport)
                .with_insecure_signaling(allow_insecure_signaling != 0);
            if let Some(list) = suites {
                config = config.with_suites(parse_suites(list)?);
            }
            Negotiator::new(config)
        })();
        let negotiator = match settings {
            Ok(negotiator) => negotiator,
            Err(e) => {
                // SAFETY: NULL or a valid text (caller's promise).
                let _ = unsafe { put(error, &e.to_string()) };
                return Err(SigilStatus::BadSettings);
            }
        };
        let handle = into_handle(SigilNegotiator {
            negotiator,
            last: None,
            poisoned: false,
        });
        // SAFETY: checked writable above.
        unsafe { write_out(out, handle) }
    })
}

/// Frees a negotiator and wipes the keys of its pending offer. NULL is
/// ignored. SRTP sessions made from it stay valid.
///
/// Thread safety: no other call may use `negotiator` during or after this one.
///
/// # Safety
///
/// `negotiator` is NULL or from `sigil_negotiator_new`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_free(negotiator: *mut SigilNegotiator) {
    // SAFETY: the caller's promise, passed on.
    unsafe { free_handle(negotiator) }
}

/// Writes a minimal SDP into `sdp`: one audio m-line offering G.711 µ-law
/// (PCMU) in 20 ms frames, sendrecv, at `address`:`port` — a template for
/// `sigil_negotiator_create_offer` or `sigil_negotiator_answer_offer` when
/// the caller's stack does not build its own. Holds no key.
///
/// Thread safety: may be called from any thread.
///
/// # Safety
///
/// `address` NUL-terminated; `sdp` a valid [`SigilText`].
#[no_mangle]
pub unsafe extern "C" fn sigil_sdp_basic_audio(
    address: *const c_char,
    port: u16,
    session_id: u64,
    sdp: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let address = unsafe { c_str(address)? };
        let address = address.parse().map_err(|_| SigilStatus::InvalidArgument)?;
        if sdp.is_null() {
            return Err(SigilStatus::NullPointer);
        }
        let text = write_sdp(&basic_audio_sdp(address, port, session_id));
        // SAFETY: a valid text (caller's promise).
        unsafe { put(sdp, &text) }
    })
}

/// Makes our offer from `template` (the caller's SDP: addresses, ports,
/// codecs): sets the RTP profile of each audio m-line and writes our
/// `a=crypto` lines with fresh keys per the policy. The negotiator keeps
/// the keys until the answer (`sigil_negotiator_accept_answer`).
///
/// - `offer`: receives the offer SDP (it holds keys: send it only over the
///   signaling, never log it). When it is too small
///   (`SIGIL_STATUS_BUFFER_TOO_SMALL`, `offer->len` says the size), call
///   again: a new offer with new keys replaces the one not sent.
/// - `summary`: optional: what was offered and why (e.g. `"offer RTP/SAVP
///   with SDES crypto"`, `"offer RTP/AVP: plain RTP: SRTP is disabled here"`).
///
/// Thread safety: needs exclusive use of `negotiator` during the call.
///
/// # Safety
///
/// `negotiator` live; `template` NUL-terminated; texts NULL (where
/// optional) or valid [`SigilText`]s.
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_create_offer(
    negotiator: *mut SigilNegotiator,
    template: *const c_char,
    offer: *mut SigilText,
    summary: *mut SigilText,
) -> SigilStatus {
    let body = |this: &mut SigilNegotiator| {
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let mut sdp = unsafe { sdp_arg(template)? };
        if offer.is_null() {
            return Err(SigilStatus::NullPointer);
        }
        let info = this
            .negotiator
            .create_offer(&mut sdp.0)
            .map_err(|e| match e {
                OfferError::Keys(_) => SigilStatus::Random,
                _ => SigilStatus::SdpInvalid,
            })?;
        this.last = None;
        // SAFETY: valid texts (caller's promise).
        let written = unsafe { put_secret(offer, write_sdp(&sdp.0)) };
        // SAFETY: as above.
        let described = unsafe { put(summary, &info.to_string()) };
        written.and(described)
    };
    // SAFETY: `negotiator` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(negotiator, body) }
}

/// Takes `offer`, an offer this negotiator's settings made earlier (for
/// instance in another process that kept the SDP), as the offer waiting for
/// its answer: our tags, suites and keys are read back from it.
/// `SIGIL_STATUS_NOT_OUR_OFFER` (reason in `summary`) when these settings
/// would not have made it.
///
/// Thread safety: needs exclusive use of `negotiator` during the call.
///
/// # Safety
///
/// `negotiator` live; `offer` NUL-terminated; `summary` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_resume_offer(
    negotiator: *mut SigilNegotiator,
    offer: *const c_char,
    summary: *mut SigilText,
) -> SigilStatus {
    let body = |this: &mut SigilNegotiator| {
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let sdp = unsafe { sdp_arg(offer)? };
        this.last = None;
        let (status, text) = match this.negotiator.resume_offer(&sdp.0) {
            Ok(info) => (SigilStatus::Ok, info.to_string()),
            Err(OfferError::NoAudio) => (SigilStatus::SdpInvalid, OfferError::NoAudio.to_string()),
            Err(e) => (SigilStatus::NotOurOffer, e.to_string()),
        };
        // SAFETY: NULL or a valid text (caller's promise).
        let written = unsafe { put(summary, &text) };
        if status == SigilStatus::Ok {
            written
        } else {
            Err(status)
        }
    };
    // SAFETY: `negotiator` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(negotiator, body) }
}

/// Answers the peer's `offer`. `template` is our answer SDP with one m-line
/// per offered m-line (addresses, ports, codecs), e.g. from
/// `sigil_sdp_basic_audio` for a one-m-line offer; the negotiator sets each
/// audio m-line's profile to the offer's, writes our `a=crypto` line with a
/// fresh key (or none) and sets the port of declined m-lines to 0.
///
/// - `answer`: receives the answer SDP (it may hold our key).
/// - `summary`: optional: what runs (e.g. `"SRTP AES_CM_128_HMAC_SHA1_80,
///   tag 1"`, `"plain RTP: peer offered no crypto"`) or, with
///   `SIGIL_STATUS_OFFER_REJECTED`, `"488: <reason>"` for a `Warning`
///   header; send 488 Not Acceptable Here then.
///
/// Thread safety: needs exclusive use of `negotiator` during the call.
///
/// # Safety
///
/// `negotiator` live; `offer`, `template` NUL-terminated; texts NULL
/// (where optional) or valid [`SigilText`]s.
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_answer_offer(
    negotiator: *mut SigilNegotiator,
    offer: *const c_char,
    template: *const c_char,
    answer: *mut SigilText,
    summary: *mut SigilText,
) -> SigilStatus {
    let body = |this: &mut SigilNegotiator| {
        // SAFETY: NUL-terminated strings or NULL (caller's promise).
        let (offer, mut template) = unsafe { (sdp_arg(offer)?, sdp_arg(template)?) };
        if answer.is_null() {
            return Err(SigilStatus::NullPointer);
        }
        this.last = None;
        match this.negotiator.answer_offer(&offer.0, &mut template.0) {
            Ok(negotiation) => {
                let text = negotiation.summary();
                this.last = Some(negotiation);
                // SAFETY: valid texts (caller's promise).
                let written = unsafe { put_secret(answer, write_sdp(&template.0)) };
                // SAFETY: as above.
                let described = unsafe { put(summary, &text) };
                written.and(described)
            }
            Err(rejection) => {
                // SAFETY: valid texts (caller's promise).
                let _ = unsafe { put(answer, "") };
                // SAFETY: as above.
                let _ = unsafe { put(summary, &rejection.to_string()) };
                Err(if rejection.code == 488 {
                    SigilStatus::OfferRejected
                } else {
                    SigilStatus::InvalidArgument
                })
            }
        }
    };
    // SAFETY: `negotiator` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(negotiator, body) }
}

/// Checks the peer's `answer` to our pending offer. `SIGIL_STATUS_OK`: the
/// call goes on (SRTP or plain RTP; `summary` says which and why).
/// `SIGIL_STATUS_SRTP_REQUIRED` or `SIGIL_STATUS_INVALID_ANSWER`: the call
/// must end (ACK, then BYE), with `summary` as the reason.
///
/// Thread safety: needs exclusive use of `negotiator` during the call.
///
/// # Safety
///
/// `negotiator` live; `answer` NUL-terminated; `summary` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_accept_answer(
    negotiator: *mut SigilNegotiator,
    answer: *const c_char,
    summary: *mut SigilText,
) -> SigilStatus {
    let body = |this: &mut SigilNegotiator| {
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let answer = unsafe { sdp_arg(answer)? };
        this.last = None;
        let (status, text) = match this.negotiator.accept_answer(&answer.0) {
            Ok(negotiation) => {
                let text = negotiation.summary();
                this.last = Some(negotiation);
                (SigilStatus::Ok, text)
            }
            Err(e @ AnswerError::SrtpRequired { .. }) => (SigilStatus::SrtpRequired, e.to_string()),
            Err(e @ AnswerError::NoPendingOffer) => (SigilStatus::NoPendingOffer, e.to_string()),
            Err(e) => (SigilStatus::InvalidAnswer, e.to_string()),
        };
        // SAFETY: NULL or a valid text (caller's promise).
        let written = unsafe { put(summary, &text) };
        if status == SigilStatus::Ok {
            written
        } else {
            Err(status)
        }
    };
    // SAFETY: `negotiator` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(negotiator, body) }
}

/// What the last completed negotiation (answer made or answer accepted)
/// runs, into `*info`.
///
/// Thread safety: may run concurrently with other `const` calls on
/// `negotiator`, not with calls that change it.
///
/// # Safety
///
/// `negotiator` live; `info` writable.
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_media(
    negotiator: *const SigilNegotiator,
    info: *mut SigilMediaInfo,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or a live negotiator nobody mutates now (caller's promise).
        let this = unsafe { handle_ref(negotiator)? };
        let mut result = SigilMediaInfo {
            mode: SigilMediaMode::None,
            media_index: 0,
            suite: std::ptr::null(),
            tag: 0,
            send_is_new: false,
            receive_is_new: false,
        };
        if let Some(negotiation) = &this.last {
            if let Some((index, agreement)) = negotiation.srtp().next() {
                result = SigilMediaInfo {
                    mode: SigilMediaMode::Srtp,
                    media_index: index,
                    suite: suite_name(agreement.suite),
                    tag: agreement.tag,
                    send_is_new: agreement.send == Change::New,
                    receive_is_new: agreement.receive == Change::New,
                };
            } else if let Some(index) = negotiation.media_index() {
                let plain = negotiation
                    .media
                    .iter()
                    .any(|m| m.index == index && matches!(m.outcome, MediaOutcome::Plain(_)));
                if plain {
                    result.mode = SigilMediaMode::Plain;
                    result.media_index = index;
                }
            }
        }
        // SAFETY: NULL or writable (caller's promise).
        unsafe { write_out(info, result) }
    })
}

/// Makes the SRTP sessions the last negotiation agreed on its SRTP m-line:
/// `*send` protects what we send (with our key), `*receive` unprotects what
/// we receive (with the peer's key), both for any SSRC. Either pointer may
/// be NULL to skip that session (on a re-offer, make only the ones
/// `sigil_negotiator_media` marks new). Free each with `sigil_srtp_free`.
/// `SIGIL_STATUS_NOT_FOUND` when no SRTP was agreed.
///
/// Thread safety: may run concurrently with other `const` calls on
/// `negotiator`, not with calls that change it.
///
/// # Safety
///
/// `negotiator` live; `send`, `receive` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_srtp_sessions(
    negotiator: *const SigilNegotiator,
    send: *mut *mut SigilSrtp,
    receive: *mut *mut SigilSrtp,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or writable (caller's promise).
        unsafe {
            write_opt(send, std::ptr::null_mut())?;
            write_opt(receive, std::ptr::null_mut())?;
        }
        // SAFETY: NULL or a live negotiator nobody mutates now (caller's promise).
        let this = unsafe { handle_ref(negotiator)? };
        let (_, agreement) = this
            .last
            .as_ref()
            .and_then(|n| n.srtp().next())
            .ok_or(SigilStatus::NotFound)?;
        let outbound = if send.is_null() {
            None
        } else {
            Some(
                agreement
                    .send_session()
                    .map_err(|e| SigilStatus::from(&e))?,
            )
        };
        let inbound = if receive.is_null() {
            None
        } else {
            Some(
                agreement
                    .receive_session()
                    .map_err(|e| SigilStatus::from(&e))?,
            )
        };
        if let Some(session) = outbound {
            // SAFETY: not NULL, writable (caller's promise).
            unsafe { write_out(send, into_handle(SigilSrtp::from_session(session, false)))? };
        }
        if let Some(session) = inbound {
            // SAFETY: not NULL, writable (caller's promise).
            unsafe { write_out(receive, into_handle(SigilSrtp::from_session(session, true)))? };
        }
        Ok(())
    })
}

/// Makes the next offer carry fresh keys even where SRTP already runs (a
/// re-key by re-INVITE).
///
/// Thread safety: needs exclusive use of `negotiator` during the call.
///
/// # Safety
///
/// `negotiator` live.
#[no_mangle]
pub unsafe extern "C" fn sigil_negotiator_rekey(negotiator: *mut SigilNegotiator) -> SigilStatus {
    let body = |this: &mut SigilNegotiator| {
        this.negotiator.rekey();
        Ok(())
    };
    // SAFETY: `negotiator` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(negotiator, body) }
}
