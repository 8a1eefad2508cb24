//! The layered trust store (built-in roots, vendor chain, uploaded anchors)
//! and server chain verification with the installer's diagnosis.

use std::ffi::{c_char, c_int};
use std::path::Path;
use std::time::Duration;

use rustls_pki_types::{CertificateDer, UnixTime};
use sigil_sip_tls::HandshakeDiagnosis;
use sigil_trust::{ExpectedName, StoreError, TrustStore, Verification, VerifyError};

use crate::boundary::{
    bytes, c_str, free_handle, guard, handle_ref, into_handle, opt_c_str, write_opt, write_out,
};
use crate::text::{put, put_all, SigilText};
use crate::SigilStatus;

/// `name_kind` of `sigil_trust_verify`: a DNS host name, or an IP address
/// when the name is an IP literal (IPv6 may be in brackets).
pub const SIGIL_NAME_HOST: c_int = 0;
/// `name_kind`: a SIP domain per RFC 5922 §7.1 (`sip:` URI names first,
/// then DNS names, wildcards allowed).
pub const SIGIL_NAME_SIP_DOMAIN: c_int = 1;
/// `name_kind`: a SIP domain, strict RFC 5922 (no wildcard DNS names).
pub const SIGIL_NAME_SIP_DOMAIN_STRICT: c_int = 2;
/// A time argument meaning "the system clock now".
pub const SIGIL_TIME_NOW: i64 = -1;

/// The trust store (opaque, immutable once loaded).
pub struct SigilTrustStore {
    store: TrustStore,
}

/// One DER-encoded certificate, as a TLS stack hands them over.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct SigilDer {
    /// The certificate bytes.
    pub data: *const u8,
    /// Their length.
    pub len: usize,
}

/// The typed outcome of `sigil_trust_verify`.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigilVerifyCode {
    /// The server proved its identity.
    Verified = 0,
    /// The server sent no certificate.
    EmptyChain = 1,
    /// More certificates than are looked at (64).
    TooManyCertificates = 2,
    /// A certificate of the chain cannot be read.
    Malformed = 3,
    /// The chain ends at no anchor of the store: upload the issuer.
    UnknownIssuer = 4,
    /// The issuer in the store is not a CA certificate.
    IssuerNotCa = 5,
    /// A certificate of the chain has expired.
    Expired = 6,
    /// A certificate of the chain is not valid yet (check the clock).
    NotYetValid = 7,
    /// The certificate is for other names.
    NameMismatch = 8,
    /// A signature does not verify.
    BadSignature = 9,
    /// An algorithm that is not accepted.
    UnsupportedAlgorithm = 10,
    /// Not a TLS server certificate (key usage, extended key usage, CA flags).
    WrongUsage = 11,
    /// A CA certificate presented as the server's own, not uploaded.
    CaUsedAsEndEntity = 12,
    /// Outside the names a CA of the chain may issue for.
    NameConstraints = 13,
    /// A critical extension this device does not understand.
    UnsupportedCriticalExtension = 14,
    /// Anything else the path builder refused.
    Other = 15,
}

impl From<&VerifyError> for SigilVerifyCode {
    fn from(error: &VerifyError) -> Self {
        match error {
            VerifyError::EmptyChain => SigilVerifyCode::EmptyChain,
            VerifyError::TooManyCertificates { .. } => SigilVerifyCode::TooManyCertificates,
            VerifyError::Malformed { .. } => SigilVerifyCode::Malformed,
            VerifyError::UnknownIssuer { .. } => SigilVerifyCode::UnknownIssuer,
            VerifyError::IssuerNotCa { .. } => SigilVerifyCode::IssuerNotCa,
            VerifyError::Expired { .. } => SigilVerifyCode::Expired,
            VerifyError::NotYetValid { .. } => SigilVerifyCode::NotYetValid,
            VerifyError::NameMismatch { .. } => SigilVerifyCode::NameMismatch,
            VerifyError::BadSignature { .. } => SigilVerifyCode::BadSignature,
            VerifyError::UnsupportedAlgorithm { .. } => SigilVerifyCode::UnsupportedAlgorithm,
            VerifyError::WrongUsage { .. } => SigilVerifyCode::WrongUsage,
            VerifyError::CaUsedAsEndEntity { .. } => SigilVerifyCode::CaUsedAsEndEntity,
            VerifyError::NameConstraintViolation { .. } => SigilVerifyCode::NameConstraints,
            VerifyError::UnsupportedCriticalExtension => {
                SigilVerifyCode::UnsupportedCriticalExtension
            }
            _ => SigilVerifyCode::Other,
        }
    }
}

/// A time argument: seconds since 1970, or the clock for a negative value.
pub(crate) fn time_arg(at_unix: i64) -> UnixTime {
    match u64::try_from(at_unix) {
        Ok(secs) => UnixTime::since_unix_epoch(Duration::from_secs(secs)),
        Err(_) => UnixTime::now(),
    }
}

/// The one-line fix an installer should apply for `error` (the same line
/// the SIP TLS client reports for a failed handshake).
pub fn fix_line(error: &VerifyError) -> String {
    HandshakeDiagnosis::from_verify_error(error).fix()
}

/// Loads the layered trust store.
///
/// - `vendor_chain_file`: optional (NULL: none): the vendor CA chain, PEM
///   or DER (on a device: `factory/vendor-chain.pem`). Unlike an uploaded
///   file, a vendor file that cannot be read or is not a certificate file is
///   an error (`SIGIL_STATUS_IO`, `SIGIL_STATUS_BAD_VENDOR_CHAIN`).
/// - `trusted_dir`: optional (NULL: none): the folder of uploaded anchors
///   (on a device: `user/certs/trusted/`). A missing folder is an empty
///   one; files that are refused (a private key, not a certificate, …) are
///   listed by `sigil_trust_store_refused` and the rest loads.
/// - `builtin_roots`: non-zero to include the built-in web PKI roots.
/// - `error`: optional: why the store could not be loaded.
///
/// Thread safety: may be called from any thread.
///
/// # Safety
///
/// `out` writable; the paths NUL-terminated or NULL; `error` NULL or a
/// valid [`SigilText`].
#[no_mangle]
pub unsafe extern "C" fn sigil_trust_store_load(
    out: *mut *mut SigilTrustStore,
    vendor_chain_file: *const c_char,
    trusted_dir: *const c_char,
    builtin_roots: c_int,
    error: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: `out` is NULL or writable (caller's promise).
        unsafe { write_out(out, std::ptr::null_mut())? };
        // SAFETY: NUL-terminated strings or NULL (caller's promise).
        let (vendor, trusted) = unsafe { (opt_c_str(vendor_chain_file)?, opt_c_str(trusted_dir)?) };
        let built = (|| {
            let mut builder = TrustStore::builder().builtin(builtin_roots != 0);
            if let Some(vendor) = vendor {
                builder = builder.vendor_file(Path::new(vendor))?;
            }
            if let Some(trusted) = trusted {
                builder = builder.user_dir(Path::new(trusted))?;
            }
            Ok::<_, StoreError>(builder.build())
        })();
        let store = match built {
            Ok(store) => store,
            Err(e) => {
                // SAFETY: NULL or a valid text (caller's promise).
                let _ = unsafe { put(error, &e.to_string()) };
                return Err(match e {
                    StoreError::VendorRefused { .. } => SigilStatus::BadVendorChain,
                    _ => SigilStatus::Io,
                });
            }
        };
        // SAFETY: checked writable above.
        unsafe { write_out(out, into_handle(SigilTrustStore { store })) }
    })
}

/// Frees a trust store. NULL is ignored.
///
/// Thread safety: no other call may use `store` during or after this one.
///
/// # Safety
///
/// `store` is NULL or from `sigil_trust_store_load`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sigil_trust_store_free(store: *mut SigilTrustStore) {
    // SAFETY: the caller's promise, passed on.
    unsafe { free_handle(store) }
}

/// How many anchors the store has (`*anchors`, built-in ones included) and
/// how many uploaded files it refused (`*refused`). Either may be NULL.
///
/// Thread safety: a store never changes once loaded; any number of threads
/// may call the `sigil_trust_*` functions on it at once.
///
/// # Safety
///
/// `store` live; `anchors`, `refused` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sigil_trust_store_counts(
    store: *const SigilTrustStore,
    anchors: *mut usize,
    refused: *mut usize,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or a live store (caller's promise); stores never change.
        let this = unsafe { handle_ref(store)? };
        // SAFETY: NULL or writable (caller's promise).
        unsafe {
            write_opt(anchors, this.store.len())?;
            write_opt(refused, this.store.refused().len())
        }
    })
}

/// The uploaded file number `index` (from 0) that was refused: its path and
/// why (e.g. "this is a private key, not a certificate: keys belong in
/// certs/, never in certs/trusted/"). `SIGIL_STATUS_NOT_FOUND` past the end.
/// Either text may be NULL.
///
/// Thread safety: as `sigil_trust_store_counts`.
///
/// # Safety
///
/// `store` live; texts NULL or valid [`SigilText`]s.
#[no_mangle]
pub unsafe extern "C" fn sigil_trust_store_refused(
    store: *const SigilTrustStore,
    index: usize,
    path: *mut SigilText,
    reason: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or a live store (caller's promise); stores never change.
        let this = unsafe { handle_ref(store)? };
        let refused = this
            .store
            .refused()
            .get(index)
            .ok_or(SigilStatus::NotFound)?;
        let why = refused.reason.to_string();
        // SAFETY: NULL or valid texts (caller's promise).
        unsafe { put_all(&[(path, refused.path.as_str()), (reason, why.as_str())]) }
    })
}

/// Verifies a server's certificate chain for a name, as the TLS client
/// does, without a handshake.
///
/// - `chain`, `count`: the DER certificates the server sent, its own first.
/// - `name`, `name_kind`: the name the server must prove:
///   `SIGIL_NAME_HOST` (DNS name or IP address), `SIGIL_NAME_SIP_DOMAIN`
///   or `SIGIL_NAME_SIP_DOMAIN_STRICT`.
/// - `at_unix`: the clock to verify at, seconds since 1970, or
///   `SIGIL_TIME_NOW`.
/// - `code`: optional: the typed outcome.
/// - `diagnosis`: optional: `"verified: …"` (subject, matched name, anchor,
///   validity) or `"not verified: …"` with what an installer needs (the
///   issuer to upload, the dates and the clock, the names).
/// - `fix`: optional: one line telling the installer what to do (empty when
///   verified).
///
/// Returns `SIGIL_STATUS_OK` when the chain verified,
/// `SIGIL_STATUS_NOT_VERIFIED` when it did not (see `code`), another status
/// when the arguments are wrong.
///
/// Thread safety: as `sigil_trust_store_counts`.
///
/// # Safety
///
/// `store` live; `chain` readable for `count` entries, each readable for
/// its `len` bytes; `name` NUL-terminated; outputs NULL or valid.
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub unsafe extern "C" fn sigil_trust_verify(
    store: *const SigilTrustStore,
    chain: *const SigilDer,
    count: usize,
    name: *const c_char,
    name_kind: c_int,
    at_unix: i64,
    code: *mut SigilVerifyCode,
    diagnosis: *mut SigilText,
    fix: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or a live store (caller's promise); stores never change.
        let this = unsafe { handle_ref(store)? };
        // SAFETY: NUL-terminated string or NULL (caller's promise).
        let name = unsafe { c_str(name)? };
        let expected = match name_kind {
            SIGIL_NAME_HOST => ExpectedName::host(name),
            SIGIL_NAME_SIP_DOMAIN => ExpectedName::sip(name, false),
            SIGIL_NAME_SIP_DOMAIN_STRICT => ExpectedName::sip(name, true),
            _ => return Err(SigilStatus::InvalidArgument),
        };
        if chain.is_null() && count > 0 {
            return Err(SigilStatus::NullPointer);
        }
        if count > isize::MAX as usize / std::mem::size_of::<SigilDer>() {
            return Err(SigilStatus::InvalidArgument);
        }
        let entries: &[SigilDer] = if count == 0 {
            &[]
        } else {
            // SAFETY: not NULL, a bounded count; the caller promises `count`
            // readable entries that nothing changes during the call.
            unsafe { std::slice::from_raw_parts(chain, count) }
        };
        let certs = entries
            .iter()
            // SAFETY: each entry's data is readable for its len (caller's promise).
            .map(|der| unsafe { bytes(der.data, der.len) }.map(CertificateDer::from))
            .collect::<Result<Vec<_>, _>>()?;
        let (outcome, fix_text) = match this.store.verify(&certs, &expected, time_arg(at_unix)) {
            Ok(verified) => (Verification::Verified(verified), String::new()),
            Err(e) => {
                let fix_text = fix_line(&e);
                (Verification::Failed(e), fix_text)
            }
        };
        let verify_code = match &outcome {
            Verification::Failed(e) => SigilVerifyCode::from(e),
            _ => SigilVerifyCode::Verified,
        };
        let text = outcome.to_string();
        // SAFETY: NULL or writable / valid (caller's promise).
        unsafe {
            write_opt(code, verify_code)?;
            put_all(&[(diagnosis, text.as_str()), (fix, fix_text.as_str())])?;
        }
        if outcome.is_verified() {
            Ok(())
        } else {
            Err(SigilStatus::NotVerified)
        }
    })
}
