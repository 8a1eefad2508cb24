//! SRTP and SRTCP, shaped like libsrtp: a session for one direction, an
//! optional default key for any SSRC, streams with their own keys added and
//! removed by SSRC, packets protected and unprotected in place.

use std::ffi::{c_char, c_int};

use sigil_srtp::sdes::CryptoAttribute;
use sigil_srtp::{MasterKey, Policy, Session, SrtpError, Ssrc, Suite};

use crate::boundary::{
    bytes, bytes_mut, c_str, free_handle, guard, handle_ref, into_handle, opt_c_str, with_handle,
    write_out, Poison,
};
use crate::text::{put, SigilText};
use crate::SigilStatus;

/// `direction` of `sigil_srtp_create`: a session that protects what we send.
pub const SIGIL_SRTP_OUTBOUND: c_int = 0;
/// `direction` of `sigil_srtp_create`: a session that unprotects what we receive.
pub const SIGIL_SRTP_INBOUND: c_int = 1;
/// The most bytes protecting adds to a packet: SRTCP's E flag and index
/// (4), an MKI (up to 4) and the tag (10 for the HMAC-SHA1-80 suites, 16
/// for AEAD AES-GCM). A buffer with this much room after the packet always
/// suffices (as libsrtp's `SRTP_MAX_TRAILER_LEN`).
pub const SIGIL_SRTP_MAX_TRAILER_LEN: usize = 24;

/// An SRTP/SRTCP session for one direction (opaque).
///
/// It holds an optional default key, used for any SSRC that has no stream
/// of its own (libsrtp's `ssrc_any_outbound` / `ssrc_any_inbound`), and
/// streams bound to one SSRC each, with their own keys. Each SSRC keeps its
/// roll-over counter and replay windows.
pub struct SigilSrtp {
    inbound: bool,
    default: Option<Session>,
    streams: Vec<(u32, Session)>,
    last_error: Option<SrtpError>,
    poisoned: bool,
}

impl Poison for SigilSrtp {
    fn poisoned(&mut self) -> &mut bool {
        &mut self.poisoned
    }
}

impl SigilSrtp {
    /// A session with no key yet.
    fn empty(inbound: bool) -> SigilSrtp {
        SigilSrtp {
            inbound,
            default: None,
            streams: Vec::new(),
            last_error: None,
            poisoned: false,
        }
    }

    /// A session whose default key is `session`'s.
    pub(crate) fn from_session(session: Session, inbound: bool) -> SigilSrtp {
        SigilSrtp {
            default: Some(session),
            ..SigilSrtp::empty(inbound)
        }
    }

    /// A session of the same direction built from `policy`.
    fn session(&self, policy: Policy) -> Result<Session, SrtpError> {
        if self.inbound {
            Session::inbound(policy)
        } else {
            Session::outbound(policy)
        }
    }

    /// The session serving `ssrc`: its own stream, else the default.
    #[inline]
    fn route(&mut self, ssrc: u32) -> Result<&mut Session, SigilStatus> {
        if let Some((_, session)) = self.streams.iter_mut().find(|(id, _)| *id == ssrc) {
            return Ok(session);
        }
        self.default.as_mut().ok_or(SigilStatus::NoStream)
    }

    /// Records a packet error for `sigil_srtp_last_error` (no allocation:
    /// the error is kept, its text made only when asked).
    fn failed(&mut self, error: SrtpError) -> SigilStatus {
        let status = SigilStatus::from(&error);
        self.last_error = Some(error);
        status
    }

    fn add(&mut self, ssrc: u32, policy: Policy) -> Result<(), SigilStatus> {
        if self.streams.iter().any(|(id, _)| *id == ssrc) {
            return Err(SigilStatus::StreamExists);
        }
        let session = self
            .session(policy.with_ssrc(Ssrc::Specific(ssrc)))
            .map_err(|e| self.failed(e))?;
        self.streams.push((ssrc, session));
        Ok(())
    }
}

fn direction(direction: c_int) -> Result<bool, SigilStatus> {
    match direction {
        SIGIL_SRTP_OUTBOUND => Ok(false),
        SIGIL_SRTP_INBOUND => Ok(true),
        _ => Err(SigilStatus::InvalidArgument),
    }
}

/// A policy from a suite name and key‖salt, with the reason when refused.
fn key_policy(suite: &str, key_salt: &[u8]) -> Result<Policy, (SigilStatus, String)> {
    let suite: Suite = suite
        .parse()
        .map_err(|e: sigil_srtp::suite::UnknownSuite| (SigilStatus::UnknownSuite, e.to_string()))?;
    let key = MasterKey::from_inline(suite, key_salt)
        .map_err(|e| (SigilStatus::BadKey, e.to_string()))?;
    Ok(Policy::new(suite, key))
}

/// A policy from an `a=crypto` line (with or without `a=crypto:`), with the
/// reason when refused. The reason never holds key material.
fn crypto_policy(line: &str) -> Result<Policy, (SigilStatus, String)> {
    let value = line.trim();
    let value = value.strip_prefix("a=crypto:").unwrap_or(value);
    let params = CryptoAttribute::parse(value)
        .and_then(|attribute| attribute.check())
        .map_err(|e| {
            let status = match e {
                sigil_srtp::sdes::SdesError::UnknownSuite { .. } => SigilStatus::UnknownSuite,
                _ => SigilStatus::BadCryptoLine,
            };
            (status, e.to_string())
        })?;
    params
        .policy()
        .map_err(|e| (SigilStatus::from(&e), e.to_string()))
}

/// Writes the reason of a refusal into the optional `error` text.
///
/// # Safety
///
/// As [`put`].
unsafe fn refuse(error: *mut SigilText, (status, reason): (SigilStatus, String)) -> SigilStatus {
    // SAFETY: the caller's promise, passed on. A reason too long for the
    // buffer is the caller's to size; the status says what went wrong.
    let _ = unsafe { put(error, &reason) };
    status
}

/// Creates an SRTP session.
///
/// - `out`: receives the new session (set to NULL on failure).
/// - `direction`: `SIGIL_SRTP_OUTBOUND` (protect) or `SIGIL_SRTP_INBOUND`
///   (unprotect).
/// - `suite`: an RFC 4568 / RFC 6188 / RFC 7714 suite name
///   (`"AES_CM_128_HMAC_SHA1_80"`, `"AES_CM_128_HMAC_SHA1_32"`,
///   `"AES_256_CM_HMAC_SHA1_80"`, `"AES_256_CM_HMAC_SHA1_32"`,
///   `"AEAD_AES_128_GCM"`, `"AEAD_AES_256_GCM"`) for the default key, used for every SSRC
///   without a stream of its own; or NULL for a session with no default key
///   (then `key_salt` must be NULL and `key_salt_len` 0; add streams with
///   `sigil_srtp_add_stream`).
/// - `key_salt`, `key_salt_len`: master key followed by master salt (30
///   bytes for the AES-CM-128 suites, 46 for AES-CM-256, 28 for
///   AEAD_AES_128_GCM, 44 for AEAD_AES_256_GCM). Copied; the library's
///   copy is wiped when the session is freed.
/// - `error`: optional (may be NULL): why the session could not be made.
///
/// Defaults as libsrtp: replay window 128, key derivation rate 0, RFC 3711
/// key lifetimes, at most 64 SSRC streams under the default key.
///
/// Thread safety: may be called from any thread.
///
/// # Safety
///
/// Pointers are NULL or valid as described: `out` writable, `suite` a
/// NUL-terminated string, `key_salt` readable for `key_salt_len` bytes,
/// `error` a valid [`SigilText`].
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_create(
    out: *mut *mut SigilSrtp,
    direction: c_int,
    suite: *const c_char,
    key_salt: *const u8,
    key_salt_len: usize,
    error: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: `out` is NULL or writable (caller's promise).
        unsafe { write_out(out, std::ptr::null_mut())? };
        let inbound = self::direction(direction)?;
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let suite = unsafe { opt_c_str(suite)? };
        // SAFETY: readable for `key_salt_len` bytes or NULL (caller's promise).
        let key_salt = unsafe { bytes(key_salt, key_salt_len)? };
        let mut session = SigilSrtp::empty(inbound);
        match suite {
            None if key_salt.is_empty() => {}
            None => return Err(SigilStatus::InvalidArgument),
            Some(suite) => {
                let policy = match key_policy(suite, key_salt) {
                    Ok(policy) => policy,
                    // SAFETY: `error` is NULL or a valid text (caller's promise).
                    Err(refusal) => return Err(unsafe { refuse(error, refusal) }),
                };
                let default = session.session(policy).map_err(|e| {
                    // SAFETY: as above.
                    unsafe { refuse(error, (SigilStatus::from(&e), e.to_string())) }
                })?;
                session.default = Some(default);
            }
        }
        // SAFETY: checked writable above.
        unsafe { write_out(out, into_handle(session)) }
    })
}

/// Creates an SRTP session whose default key (for any SSRC) comes from an
/// SDES `a=crypto` line (RFC 4568), e.g.
/// `"1 AES_CM_128_HMAC_SHA1_80 inline:WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz|2^20|1:4"`,
/// with or without the leading `a=crypto:`. Lifetime, MKI, `KDR=` and
/// `WSH=` are honoured; a line Sigil cannot honour in every respect is
/// refused with the reason in `error` (never with the key).
///
/// Build an outbound session from our own line and an inbound one from the
/// peer's.
///
/// Thread safety: may be called from any thread.
///
/// # Safety
///
/// As `sigil_srtp_create`; `crypto` is a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_create_from_crypto(
    out: *mut *mut SigilSrtp,
    direction: c_int,
    crypto: *const c_char,
    error: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: `out` is NULL or writable (caller's promise).
        unsafe { write_out(out, std::ptr::null_mut())? };
        let inbound = self::direction(direction)?;
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let line = unsafe { c_str(crypto)? };
        let policy = match crypto_policy(line) {
            Ok(policy) => policy,
            // SAFETY: `error` is NULL or a valid text (caller's promise).
            Err(refusal) => return Err(unsafe { refuse(error, refusal) }),
        };
        let mut session = SigilSrtp::empty(inbound);
        let default = session.session(policy).map_err(|e| {
            // SAFETY: as above.
            unsafe { refuse(error, (SigilStatus::from(&e), e.to_string())) }
        })?;
        session.default = Some(default);
        // SAFETY: checked writable above.
        unsafe { write_out(out, into_handle(session)) }
    })
}

/// Frees a session and wipes its keys. NULL is ignored.
///
/// Thread safety: no other call may use `session` during or after this one.
///
/// # Safety
///
/// `session` is NULL or a session from `sigil_srtp_create*` or
/// `sigil_negotiator_srtp_sessions`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_free(session: *mut SigilSrtp) {
    // SAFETY: the caller's promise, passed on.
    unsafe { free_handle(session) }
}

/// Adds a stream for `ssrc` with its own key (libsrtp's
/// `srtp_add_stream` with `ssrc_specific`): packets of `ssrc` use it
/// instead of the default key. `suite`, `key_salt` as in
/// `sigil_srtp_create` (both required here). Fails with
/// `SIGIL_STATUS_STREAM_EXISTS` when `ssrc` already has one.
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// `session` is a live session; the other pointers as in
/// `sigil_srtp_create`.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_add_stream(
    session: *mut SigilSrtp,
    ssrc: u32,
    suite: *const c_char,
    key_salt: *const u8,
    key_salt_len: usize,
) -> SigilStatus {
    let body = |this: &mut SigilSrtp| {
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let suite = unsafe { c_str(suite)? };
        // SAFETY: readable for `key_salt_len` bytes or NULL (caller's promise).
        let key_salt = unsafe { bytes(key_salt, key_salt_len)? };
        let policy = key_policy(suite, key_salt).map_err(|(status, _)| status)?;
        this.add(ssrc, policy)
    };
    // SAFETY: `session` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(session, body) }
}

/// Adds a stream for `ssrc` keyed from an `a=crypto` line (as in
/// `sigil_srtp_create_from_crypto`).
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// `session` is a live session; `crypto` a NUL-terminated string.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_add_stream_from_crypto(
    session: *mut SigilSrtp,
    ssrc: u32,
    crypto: *const c_char,
) -> SigilStatus {
    let body = |this: &mut SigilSrtp| {
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let line = unsafe { c_str(crypto)? };
        let policy = crypto_policy(line).map_err(|(status, _)| status)?;
        this.add(ssrc, policy)
    };
    // SAFETY: `session` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(session, body) }
}

/// Removes the stream of `ssrc` (libsrtp's `srtp_remove_stream`): its own
/// key if it was added with `sigil_srtp_add_stream*`, else the state the
/// default key keeps for it (roll-over counter, replay window). A later
/// packet of `ssrc` starts afresh under the default key.
/// `SIGIL_STATUS_NO_STREAM` when there was none.
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// `session` is a live session.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_remove_stream(
    session: *mut SigilSrtp,
    ssrc: u32,
) -> SigilStatus {
    let body = |this: &mut SigilSrtp| {
        if let Some(at) = this.streams.iter().position(|(id, _)| *id == ssrc) {
            // The removed session wipes its keys as it drops.
            this.streams.remove(at);
            return Ok(());
        }
        let removed = this
            .default
            .as_mut()
            .is_some_and(|default| default.remove_stream(ssrc));
        if removed {
            Ok(())
        } else {
            Err(SigilStatus::NoStream)
        }
    };
    // SAFETY: `session` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(session, body) }
}

/// Reads the SSRC at `at` of a packet of `len` bytes.
fn ssrc_at(packet: &[u8], at: usize) -> Option<u32> {
    let bytes = packet.get(at..at + 4)?;
    Some(u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
}

/// The shared body of the four packet functions.
///
/// # Safety
///
/// `session` NULL or live and unshared; `len` NULL or valid for reads and
/// writes; `buf` NULL or valid for reads and writes of `cap` bytes (of
/// `*len` bytes when `cap` is `None`).
unsafe fn packet(
    session: *mut SigilSrtp,
    buf: *mut u8,
    len: *mut usize,
    cap: Option<usize>,
    ssrc_offset: usize,
    header_len: usize,
    run: impl FnOnce(&mut Session, &mut [u8], usize) -> Result<usize, SrtpError>,
) -> SigilStatus {
    let body = |this: &mut SigilSrtp| {
        if len.is_null() {
            return Err(SigilStatus::NullPointer);
        }
        // SAFETY: not NULL; valid for reads (caller's promise).
        let length = unsafe { len.read() };
        let cap = cap.unwrap_or(length);
        if length > cap {
            return Err(SigilStatus::InvalidArgument);
        }
        // SAFETY: NULL or valid for `cap` bytes of reads and writes (caller's promise).
        let data = unsafe { bytes_mut(buf, cap)? };
        let Some(ssrc) = ssrc_at(&data[..length], ssrc_offset) else {
            return Err(this.failed(SrtpError::TooShort {
                len: length,
                needed: header_len,
            }));
        };
        let session = this.route(ssrc)?;
        match run(session, data, length) {
            Ok(new_len) => {
                // SAFETY: not NULL; valid for writes (caller's promise).
                unsafe { len.write(new_len) };
                Ok(())
            }
            Err(e) => Err(this.failed(e)),
        }
    };
    // SAFETY: `session` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(session, body) }
}

/// Protects the RTP packet of `*len` bytes in `buf` in place (libsrtp's
/// `srtp_protect`): encrypts the payload and appends the MKI and the
/// authentication tag; `*len` becomes the SRTP length. `cap` is the size of
/// `buf`: it needs `*len + SIGIL_SRTP_MAX_TRAILER_LEN` bytes at most
/// (`SIGIL_STATUS_BUFFER_TOO_SMALL` otherwise). On error `buf` and `*len`
/// are unchanged.
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// `session` is a live outbound session; `buf` valid for reads and writes
/// of `cap` bytes; `len` valid for reads and writes; none overlapping.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_protect_rtp(
    session: *mut SigilSrtp,
    buf: *mut u8,
    len: *mut usize,
    cap: usize,
) -> SigilStatus {
    // SAFETY: the caller's promises, passed on.
    unsafe {
        packet(session, buf, len, Some(cap), 8, 12, |s, data, n| {
            s.protect_rtp_slice(data, n)
        })
    }
}

/// Unprotects the SRTP packet of `*len` bytes in `buf` in place (libsrtp's
/// `srtp_unprotect`): checks replay and the tag, then decrypts; `*len`
/// becomes the RTP length. On error (`SIGIL_STATUS_AUTH_FAIL`,
/// `SIGIL_STATUS_REPLAY_FAIL`, …) `buf` and `*len` are unchanged.
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// `session` is a live inbound session; `buf` valid for reads and writes of
/// `*len` bytes; `len` valid for reads and writes; not overlapping.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_unprotect_rtp(
    session: *mut SigilSrtp,
    buf: *mut u8,
    len: *mut usize,
) -> SigilStatus {
    // SAFETY: the caller's promises, passed on.
    unsafe {
        packet(session, buf, len, None, 8, 12, |s, data, n| {
            s.unprotect_rtp_slice(&mut data[..n])
        })
    }
}

/// Protects the RTCP compound packet of `*len` bytes in `buf` in place
/// (libsrtp's `srtp_protect_rtcp`), appending the E flag and SRTCP index,
/// the MKI and the tag. `cap` as in `sigil_srtp_protect_rtp`.
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// As `sigil_srtp_protect_rtp`.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_protect_rtcp(
    session: *mut SigilSrtp,
    buf: *mut u8,
    len: *mut usize,
    cap: usize,
) -> SigilStatus {
    // SAFETY: the caller's promises, passed on.
    unsafe {
        packet(session, buf, len, Some(cap), 4, 8, |s, data, n| {
            s.protect_rtcp_slice(data, n)
        })
    }
}

/// Unprotects the SRTCP packet of `*len` bytes in `buf` in place
/// (libsrtp's `srtp_unprotect_rtcp`). On error `buf` and `*len` are
/// unchanged.
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// As `sigil_srtp_unprotect_rtp`.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_unprotect_rtcp(
    session: *mut SigilSrtp,
    buf: *mut u8,
    len: *mut usize,
) -> SigilStatus {
    // SAFETY: the caller's promises, passed on.
    unsafe {
        packet(session, buf, len, None, 4, 8, |s, data, n| {
            s.unprotect_rtcp_slice(&mut data[..n])
        })
    }
}

/// The roll-over counter of `ssrc` into `*roc` (libsrtp's
/// `srtp_get_stream_roc`). `SIGIL_STATUS_NO_STREAM` when the session has
/// no state for `ssrc` yet.
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// `session` is a live session; `roc` writable.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_get_roc(
    session: *mut SigilSrtp,
    ssrc: u32,
    roc: *mut u32,
) -> SigilStatus {
    let body = |this: &mut SigilSrtp| {
        let value = this.route(ssrc)?.roc(ssrc).ok_or(SigilStatus::NoStream)?;
        // SAFETY: NULL or writable (caller's promise).
        unsafe { write_out(roc, value) }
    };
    // SAFETY: `session` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(session, body) }
}

/// Sets the roll-over counter of `ssrc` (libsrtp's `srtp_set_stream_roc`),
/// for a receiver joining a running stream that learnt it out of band.
///
/// Thread safety: needs exclusive use of `session` during the call.
///
/// # Safety
///
/// `session` is a live session.
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_set_roc(
    session: *mut SigilSrtp,
    ssrc: u32,
    roc: u32,
) -> SigilStatus {
    let body = |this: &mut SigilSrtp| {
        let result = this.route(ssrc)?.set_roc(ssrc, roc);
        result.map_err(|e| this.failed(e))
    };
    // SAFETY: `session` is NULL or live and unshared (caller's promise).
    unsafe { with_handle(session, body) }
}

/// Why the last failed call on `session` failed, in words (e.g.
/// `"authentication failed for SSRC 0xdecafbad (packet altered, wrong key or
/// wrong ROC)"`); empty when nothing failed yet. Never holds key material.
///
/// Thread safety: may run concurrently with other `sigil_srtp_last_error`
/// calls on `session`, not with calls that change it.
///
/// # Safety
///
/// `session` is a live session; `text` a valid [`SigilText`].
#[no_mangle]
pub unsafe extern "C" fn sigil_srtp_last_error(
    session: *const SigilSrtp,
    text: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or a live session nobody mutates now (caller's promise).
        let this = unsafe { handle_ref(session)? };
        let message = this
            .last_error
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        if text.is_null() {
            return Err(SigilStatus::NullPointer);
        }
        // SAFETY: a valid text (caller's promise).
        unsafe { put(text, &message) }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An outbound and an inbound session for `suite` keyed alike.
    fn pair(suite: Suite) -> (*mut SigilSrtp, *mut SigilSrtp) {
        let name = format!("{}\0", suite.name());
        let key: Vec<u8> = (0..suite.key_len() + suite.salt_len())
            .map(|i| (i * 7 + 1) as u8)
            .collect();
        let (mut tx, mut rx) = (std::ptr::null_mut(), std::ptr::null_mut());
        for (out, direction) in [
            (&mut tx, SIGIL_SRTP_OUTBOUND),
            (&mut rx, SIGIL_SRTP_INBOUND),
        ] {
            // SAFETY: valid out pointer, NUL-terminated name, key of its length.
            let status = unsafe {
                sigil_srtp_create(
                    out,
                    direction,
                    name.as_ptr().cast(),
                    key.as_ptr(),
                    key.len(),
                    std::ptr::null_mut(),
                )
            };
            assert_eq!(status, SigilStatus::Ok, "{suite}");
        }
        (tx, rx)
    }

    /// Every suite of `sigil-srtp` (the AEAD ones included, which the C
    /// program cannot check against Debian's libsrtp, built without
    /// OpenSSL) round-trips through the C entry points, fits in
    /// `SIGIL_SRTP_MAX_TRAILER_LEN`, and a flipped bit is refused.
    #[test]
    fn every_suite_round_trips_through_the_c_abi() {
        let rtp: Vec<u8> = [0x80, 0, 0, 1, 0, 0, 0, 160, 0xca, 0xfe, 0xba, 0xbe]
            .into_iter()
            .chain((0..160).map(|i| i as u8))
            .collect();
        let rtcp: Vec<u8> = [0x80, 200, 0, 6, 0xca, 0xfe, 0xba, 0xbe]
            .into_iter()
            .chain((0..20).map(|i| i as u8))
            .collect();
        type Protect =
            unsafe extern "C" fn(*mut SigilSrtp, *mut u8, *mut usize, usize) -> SigilStatus;
        type Unprotect = unsafe extern "C" fn(*mut SigilSrtp, *mut u8, *mut usize) -> SigilStatus;
        let kinds: [(&[u8], Protect, Unprotect); 2] = [
            (&rtp, sigil_srtp_protect_rtp, sigil_srtp_unprotect_rtp),
            (&rtcp, sigil_srtp_protect_rtcp, sigil_srtp_unprotect_rtcp),
        ];
        for suite in Suite::ALL {
            let (tx, rx) = pair(suite);
            for (plain, protect, unprotect) in kinds {
                let mut buf = plain.to_vec();
                buf.resize(plain.len() + SIGIL_SRTP_MAX_TRAILER_LEN, 0);
                let mut len = plain.len();
                // SAFETY: live sessions; `buf` holds `buf.len()` bytes.
                unsafe {
                    assert_eq!(
                        protect(tx, buf.as_mut_ptr(), &mut len, buf.len()),
                        SigilStatus::Ok,
                        "{suite}"
                    );
                    assert!(len > plain.len() && len <= buf.len(), "{suite}");
                    let mut tampered = buf[..len].to_vec();
                    tampered[len - 1] ^= 1;
                    let mut tampered_len = len;
                    assert_eq!(
                        unprotect(rx, tampered.as_mut_ptr(), &mut tampered_len),
                        SigilStatus::AuthFail,
                        "{suite}"
                    );
                    assert_eq!(
                        unprotect(rx, buf.as_mut_ptr(), &mut len),
                        SigilStatus::Ok,
                        "{suite}"
                    );
                }
                assert_eq!(&buf[..len], plain, "{suite}");
            }
            // SAFETY: both live, freed once.
            unsafe {
                sigil_srtp_free(tx);
                sigil_srtp_free(rx);
            }
        }
    }
}
