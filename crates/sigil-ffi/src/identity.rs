//! The device identity: which certificate the device presents (factory or
//! override) and why, and the device MAC.

use std::ffi::c_char;
use std::path::Path;

use sigil_identity::{ActiveIdentity, FactoryPartition, IdentitySet, UserStore};
use time::OffsetDateTime;

use crate::boundary::{c_str, free_handle, guard, handle_ref, into_handle, write_out};
use crate::text::{put, SigilText};
use crate::SigilStatus;

/// The identities of a device, loaded and checked (opaque, immutable).
pub struct SigilIdentity {
    set: IdentitySet,
}

/// Which identity the device presents as a TLS client.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigilIdentityKind {
    /// None: TLS works, without client authentication.
    None = 0,
    /// The factory certificate (IDevID, `device.pem`).
    Factory = 1,
    /// The override `certs/sipclient.pem` (LDevID).
    Override = 2,
}

/// Loads and checks the device's identities.
///
/// - `factory_dir`: the read-only factory partition (`device.pem`,
///   `device.key`).
/// - `user_dir`: the user store (`certs/sipclient.pem`, `certs/httpd.pem`).
/// - `at_unix`: the clock to judge validity at, seconds since 1970, or
///   `SIGIL_TIME_NOW`.
///
/// Loading does not fail on a missing or broken file: that is reported by
/// `sigil_identity_in_use` and `sigil_identity_report` (a broken override
/// falls back to the factory identity).
///
/// Thread safety: may be called from any thread.
///
/// # Safety
///
/// `out` writable; the paths NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn sigil_identity_load(
    out: *mut *mut SigilIdentity,
    factory_dir: *const c_char,
    user_dir: *const c_char,
    at_unix: i64,
) -> SigilStatus {
    guard(|| {
        // SAFETY: `out` is NULL or writable (caller's promise).
        unsafe { write_out(out, std::ptr::null_mut())? };
        // SAFETY: NUL-terminated strings or NULL (caller's promise).
        let (factory, user) = unsafe { (c_str(factory_dir)?, c_str(user_dir)?) };
        let now = if at_unix < 0 {
            OffsetDateTime::now_utc()
        } else {
            OffsetDateTime::from_unix_timestamp(at_unix)
                .map_err(|_| SigilStatus::InvalidArgument)?
        };
        let set = IdentitySet::load_at(
            &FactoryPartition::new(Path::new(factory)),
            &UserStore::new(Path::new(user)),
            now,
        );
        // SAFETY: checked writable above.
        unsafe { write_out(out, into_handle(SigilIdentity { set })) }
    })
}

/// Frees identities loaded by `sigil_identity_load`. NULL is ignored.
///
/// Thread safety: no other call may use `identity` during or after this one.
///
/// # Safety
///
/// `identity` is NULL or from `sigil_identity_load`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sigil_identity_free(identity: *mut SigilIdentity) {
    // SAFETY: the caller's promise, passed on.
    unsafe { free_handle(identity) }
}

/// The identity in use (`*kind`) and why, in one sentence (`reason`,
/// optional), e.g. "factory certificate; certs/sipclient.pem is not used:
/// … expired …".
///
/// Thread safety: loaded identities never change; any number of threads may
/// call the `sigil_identity_*` functions on them at once.
///
/// # Safety
///
/// `identity` live; `kind` writable; `reason` NULL or a valid [`SigilText`].
#[no_mangle]
pub unsafe extern "C" fn sigil_identity_in_use(
    identity: *const SigilIdentity,
    kind: *mut SigilIdentityKind,
    reason: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or live (caller's promise); identities never change.
        let this = unsafe { handle_ref(identity)? };
        let status = this.set.status();
        let active = match status.active {
            ActiveIdentity::Override => SigilIdentityKind::Override,
            ActiveIdentity::Factory => SigilIdentityKind::Factory,
            ActiveIdentity::None => SigilIdentityKind::None,
        };
        // SAFETY: writable / NULL or valid (caller's promise).
        unsafe {
            write_out(kind, active)?;
            put(reason, &status.reason)
        }
    })
}

/// The device MAC from the factory certificate: six octets into `mac` and,
/// optionally, the text `"00:22:ee:01:02:03"` into `text`.
/// `SIGIL_STATUS_NOT_FOUND` without a usable factory certificate.
///
/// Thread safety: as `sigil_identity_in_use`.
///
/// # Safety
///
/// `identity` live; `mac` writable for 6 bytes; `text` NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn sigil_identity_mac(
    identity: *const SigilIdentity,
    mac: *mut u8,
    text: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or live (caller's promise); identities never change.
        let this = unsafe { handle_ref(identity)? };
        if mac.is_null() {
            return Err(SigilStatus::NullPointer);
        }
        let found = this.set.mac().ok_or(SigilStatus::NotFound)?;
        let octets = found.octets();
        // SAFETY: not NULL; the caller promises 6 writable bytes, which
        // cannot overlap our local array.
        unsafe { std::ptr::copy_nonoverlapping(octets.as_ptr(), mac, octets.len()) };
        // SAFETY: NULL or a valid text (caller's promise).
        unsafe { put(text, &found.to_string()) }
    })
}

/// The identity report an "About" page shows: each identity file (state,
/// MAC, subject, issuer, validity, problem), the identity in use and why.
///
/// Thread safety: as `sigil_identity_in_use`.
///
/// # Safety
///
/// `identity` live; `report` a valid [`SigilText`].
#[no_mangle]
pub unsafe extern "C" fn sigil_identity_report(
    identity: *const SigilIdentity,
    report: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or live (caller's promise); identities never change.
        let this = unsafe { handle_ref(identity)? };
        if report.is_null() {
            return Err(SigilStatus::NullPointer);
        }
        // SAFETY: a valid text (caller's promise).
        unsafe { put(report, &this.set.status().to_string()) }
    })
}
