//! The C ABI of Sigil (SPEC C1): `libsigil_ffi.a` / `libsigil_ffi.so` and
//! the header `include/sigil.h`, for firmware written in C.
//!
//! What it offers, in five groups of functions:
//!
//! - **SRTP** (`sigil_srtp_*`), shaped like libsrtp: a session for one
//!   direction from a suite name and master key+salt or an `a=crypto` line,
//!   streams added and removed by SSRC, RTP and RTCP protected and
//!   unprotected in place in the caller's buffer;
//! - **SDES offer/answer** (`sigil_negotiator_*`, `sigil_sdp_*`): the
//!   Disabled / Optional / Standard offer policy on SDP strings; the keys
//!   leave the library only inside the SDP, and the SRTP sessions of an
//!   agreement are made without them passing through the caller;
//! - **trust** (`sigil_trust_*`): the layered trust store from the device
//!   folders, a server chain (DER) verified for a host or SIP domain, with
//!   the typed result, the diagnosis and the installer's fix line;
//! - **identity** (`sigil_identity_*`): the identity in use (factory or
//!   override) with the reason, and the device MAC;
//! - **configuration** (`sigil_config_*`): a configuration text checked,
//!   with every error located (file, line, column) and secrets masked.
//!
//! # Calling it
//!
//! C includes `sigil.h` and links `libsigil_ffi.a`; the same functions are
//! `unsafe extern "C"` items of this crate's rlib. Protecting the reference
//! packet of libsrtp's test driver (key and output in SPEC.md's test
//! vectors) as a C program would, with sessions keyed from an `a=crypto`
//! line:
//!
//! ```
//! use std::ptr::null_mut;
//! use sigil_ffi::srtp::*;
//! use sigil_ffi::{SigilStatus, SigilText};
//!
//! let line = c"a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:4fl6DT4Bi+DWT6MsBt5BOQ7Gda1Jiv7rtpYLOqvm";
//! let (mut tx, mut rx): (*mut SigilSrtp, *mut SigilSrtp) = (null_mut(), null_mut());
//! // SAFETY: valid out-pointers and a NUL-terminated line; `error` may be NULL.
//! unsafe {
//!     assert_eq!(sigil_srtp_create_from_crypto(&mut tx, SIGIL_SRTP_OUTBOUND, line.as_ptr(), null_mut()), SigilStatus::Ok);
//!     assert_eq!(sigil_srtp_create_from_crypto(&mut rx, SIGIL_SRTP_INBOUND, line.as_ptr(), null_mut()), SigilStatus::Ok);
//! }
//!
//! // The caller's buffer: the RTP packet plus room for the SRTP trailer.
//! let rtp = hex("800f1234decafbadcafebabe abababababababababababababababab");
//! let mut buf = [0u8; 28 + SIGIL_SRTP_MAX_TRAILER_LEN];
//! buf[..28].copy_from_slice(&rtp);
//! let mut len = rtp.len();
//! // SAFETY: live sessions; `buf` holds `buf.len()` bytes, `len` of them in use.
//! unsafe {
//!     assert_eq!(sigil_srtp_protect_rtp(tx, buf.as_mut_ptr(), &mut len, buf.len()), SigilStatus::Ok);
//!     assert_eq!(&buf[..len], &hex("800f1234decafbadcafebabe 4e55dc4ce79978d88ca4d215949d2402 b78d6acc99ea179b8dbb")[..]);
//!     let protected = buf;
//!     assert_eq!(sigil_srtp_unprotect_rtp(rx, buf.as_mut_ptr(), &mut len), SigilStatus::Ok);
//!     assert_eq!(&buf[..len], &rtp[..]);
//!
//!     // The same packet again: refused, with the reason on the session.
//!     let (mut again, mut again_len) = (protected, 38);
//!     assert_eq!(sigil_srtp_unprotect_rtp(rx, again.as_mut_ptr(), &mut again_len), SigilStatus::ReplayFail);
//!     let mut why = [0u8; 256];
//!     let mut text = SigilText { ptr: why.as_mut_ptr().cast(), cap: why.len(), len: 0 };
//!     assert_eq!(sigil_srtp_last_error(rx, &mut text), SigilStatus::Ok);
//!     assert!(std::str::from_utf8(&why[..text.len])?.contains("replayed"));
//!
//!     sigil_srtp_free(tx);
//!     sigil_srtp_free(rx);
//! }
//! # fn hex(text: &str) -> Vec<u8> {
//! #     let digits: Vec<u8> = text.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
//! #     digits.chunks(2).map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
//! # }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! `examples/offer_answer.rs` runs an SDES offer/answer and media through
//! the C API; the C programs under the repository's `examples/c/` use the
//! header.
//!
//! # Rules every entry point keeps
//!
//! - **Opaque handles, caller-owned buffers.** Handles are made by a
//!   `*_create` / `*_load` / `*_new` function and released by its `*_free`
//!   (which accepts NULL). Text comes back in a [`SigilText`] the caller
//!   owns; bytes are read from and written to the caller's buffers.
//! - **No global state.** Nothing is kept between calls outside the handles;
//!   no logger, panic hook or random seed is installed.
//! - **NULL-checked.** A NULL where a pointer is required returns
//!   `SIGIL_STATUS_NULL_POINTER` (optional pointers say so in their docs).
//! - **Panic-proof.** Each body runs inside `catch_unwind`: a Rust panic
//!   returns `SIGIL_STATUS_PANIC` (and marks a mutable handle unusable:
//!   later calls return `SIGIL_STATUS_POISONED`; free it). A panic never
//!   unwinds into C, and the library refuses to build with
//!   `panic = "abort"`, which would turn one into an abort.
//! - **Thread safety** is documented on each function. In short: a handle
//!   may move between threads; functions taking a `const` handle may run
//!   concurrently on it; functions taking a mutable handle need exclusive
//!   use of it for the call; distinct handles are independent.
//! - **Secrets.** Master keys live in zeroizing buffers, never in error
//!   messages; SDP that carries keys is wiped from the library's memory once
//!   copied out.
//!
//! The unsafe code of the workspace lives in this crate only (raw pointers
//! from C); each block says why it is sound.
//!
//! # Regenerating the header
//!
//! `include/sigil.h` is generated by cbindgen from this crate with
//! `cbindgen.toml` and checked in; `tests/header.rs` fails when it differs
//! from a fresh generation. To regenerate it after changing the API:
//!
//! ```text
//! SIGIL_BLESS_HEADER=1 cargo test -p sigil-ffi --test header
//! ```
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(clippy::undocumented_unsafe_blocks)]
#![warn(missing_docs)]

// A panic must become SIGIL_STATUS_PANIC, never an abort of the C program.
// (cargo-fuzz builds with `--cfg fuzzing`; libFuzzer wants panics to abort.)
#[cfg(all(panic = "abort", not(fuzzing)))]
compile_error!(
    "sigil-ffi must be built with panic = \"unwind\": with panic = \"abort\" a Rust panic would \
     abort the C program instead of returning SIGIL_STATUS_PANIC"
);

mod boundary;
pub mod config;
pub mod identity;
pub mod sdp;
pub mod srtp;
pub mod status;
pub mod text;
pub mod trust;

pub use status::SigilStatus;
pub use text::SigilText;

use std::ffi::c_char;

/// The version of the library, e.g. `"0.1.0"`: a static NUL-terminated
/// string, never NULL, never to be freed.
///
/// Thread safety: may be called from any thread at any time.
#[no_mangle]
pub extern "C" fn sigil_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

#[cfg(test)]
mod tests {
    /// What the thread-safety notes of the header promise, checked by the compiler.
    #[test]
    fn handles_are_as_thread_safe_as_documented() {
        fn movable<T: Send>() {}
        fn shared<T: Send + Sync>() {}
        // A session or negotiator may move between threads (one user at a time).
        movable::<crate::srtp::SigilSrtp>();
        movable::<crate::sdp::SigilNegotiator>();
        // Immutable handles may be used by many threads at once.
        shared::<crate::trust::SigilTrustStore>();
        shared::<crate::identity::SigilIdentity>();
        shared::<crate::config::SigilConfigReport>();
    }
}
