//! Text handed back to C: written into a buffer the caller owns.

use std::ffi::c_char;

use zeroize::Zeroize;

use crate::SigilStatus;

/// A caller-owned buffer for text the library returns.
///
/// Set `ptr` and `cap` (bytes available, the NUL included) before the call.
/// The library always sets `len` to the full length of the text (without
/// the NUL). When `len < cap` the text and a NUL are written; otherwise only
/// a NUL at `ptr[0]` (when `cap > 0`), and the function returns
/// `SIGIL_STATUS_BUFFER_TOO_SMALL`: call again with `cap >= len + 1`. A size
/// query is a call with `ptr = NULL, cap = 0`.
///
/// Text is UTF-8. Functions take a `sigil_text *` that may be NULL where
/// the text is optional (said so in their docs).
#[repr(C)]
#[derive(Debug)]
pub struct SigilText {
    /// Where to write (may be NULL when `cap` is 0).
    pub ptr: *mut c_char,
    /// Bytes available at `ptr`, the terminating NUL included.
    pub cap: usize,
    /// Set by the library: the length of the text, without the NUL.
    pub len: usize,
}

/// Writes `value` into the caller's text buffer `text` (NULL: skipped).
/// Returns [`SigilStatus::BufferTooSmall`] when it does not fit; then
/// nothing but a NUL is written, so a text is never cut in half (SDP with
/// keys is never half-written either).
///
/// # Safety
///
/// `text` is NULL or points to a `SigilText` whose `ptr` is NULL or valid
/// for writing `cap` bytes, none of them used by anything else during the
/// call.
pub(crate) unsafe fn put(text: *mut SigilText, value: &str) -> Result<(), SigilStatus> {
    if text.is_null() {
        return Ok(());
    }
    // SAFETY: not NULL; the caller promises a valid `SigilText` nobody else
    // touches during the call.
    let text = unsafe { &mut *text };
    text.len = value.len();
    if text.ptr.is_null() || text.cap == 0 {
        return Err(SigilStatus::BufferTooSmall);
    }
    let out = text.ptr.cast::<u8>();
    if value.len() >= text.cap {
        // SAFETY: `cap > 0` bytes are writable at `ptr` (caller's promise).
        unsafe { out.write(0) };
        return Err(SigilStatus::BufferTooSmall);
    }
    // SAFETY: `value.len() + 1 <= cap` bytes are writable at `ptr`, which
    // cannot overlap `value` (our own memory).
    unsafe {
        std::ptr::copy_nonoverlapping(value.as_ptr(), out, value.len());
        out.add(value.len()).write(0);
    }
    Ok(())
}

/// Writes several texts; the first error is returned, but every text is
/// written (or sized), so one call tells the caller every size it needs.
///
/// # Safety
///
/// As [`put`], for each.
pub(crate) unsafe fn put_all(texts: &[(*mut SigilText, &str)]) -> Result<(), SigilStatus> {
    let mut first = Ok(());
    for (text, value) in texts {
        // SAFETY: the caller's promise, passed on.
        let result = unsafe { put(*text, value) };
        if first.is_ok() {
            first = result;
        }
    }
    first
}

/// Writes a text that holds keys (SDP with `a=crypto`) and wipes our copy.
///
/// # Safety
///
/// As [`put`].
pub(crate) unsafe fn put_secret(
    text: *mut SigilText,
    mut value: String,
) -> Result<(), SigilStatus> {
    // SAFETY: the caller's promise, passed on.
    let result = unsafe { put(text, &value) };
    value.zeroize();
    result
}
