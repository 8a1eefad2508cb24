//! Checking a configuration text: every error located (file, line, column)
//! with the offending line, secrets masked.

use std::ffi::c_char;
use std::fmt::Write as _;

use sigil_provisioning::{LocatedError, Settings, Warning};

use crate::boundary::{
    bytes, c_str, free_handle, guard, handle_ref, into_handle, write_opt, write_out,
};
use crate::text::{put, put_all, SigilText};
use crate::SigilStatus;

/// The findings of a configuration check (opaque, immutable). It holds no
/// setting value: error excerpts have secrets masked.
pub struct SigilConfigReport {
    errors: Vec<LocatedError>,
    warnings: Vec<Warning>,
}

/// Checks a configuration text: syntax, every value, the cross-field rules.
///
/// - `file_name`: how errors name the file (a path or a URL).
/// - `text`, `len`: the configuration bytes (need not be NUL-terminated).
/// - `out`: receives the report, made whether the text is valid or not.
///
/// Returns `SIGIL_STATUS_OK` for a valid configuration (the report may
/// still hold warnings: unknown keys, duplicates),
/// `SIGIL_STATUS_CONFIG_INVALID` when it has errors (any error rejects the
/// whole file).
///
/// Thread safety: may be called from any thread.
///
/// # Safety
///
/// `file_name` NUL-terminated; `text` readable for `len` bytes; `out`
/// writable.
#[no_mangle]
pub unsafe extern "C" fn sigil_config_check(
    file_name: *const c_char,
    text: *const u8,
    len: usize,
    out: *mut *mut SigilConfigReport,
) -> SigilStatus {
    guard(|| {
        // SAFETY: `out` is NULL or writable (caller's promise).
        unsafe { write_out(out, std::ptr::null_mut())? };
        // SAFETY: NUL-terminated string / readable bytes or NULL (caller's promise).
        let (file, input) = unsafe { (c_str(file_name)?, bytes(text, len)?) };
        let (report, status) = match Settings::parse(file, input) {
            Ok(parsed) => (
                SigilConfigReport {
                    errors: Vec::new(),
                    warnings: parsed.warnings,
                },
                SigilStatus::Ok,
            ),
            Err(errors) => (
                SigilConfigReport {
                    errors,
                    warnings: Vec::new(),
                },
                SigilStatus::ConfigInvalid,
            ),
        };
        // SAFETY: checked writable above.
        unsafe { write_out(out, into_handle(report))? };
        if status == SigilStatus::Ok {
            Ok(())
        } else {
            Err(status)
        }
    })
}

/// Frees a report. NULL is ignored.
///
/// Thread safety: no other call may use `report` during or after this one.
///
/// # Safety
///
/// `report` is NULL or from `sigil_config_check`, not freed yet.
#[no_mangle]
pub unsafe extern "C" fn sigil_config_report_free(report: *mut SigilConfigReport) {
    // SAFETY: the caller's promise, passed on.
    unsafe { free_handle(report) }
}

/// How many errors and warnings the report holds. Either pointer may be
/// NULL.
///
/// Thread safety: a report never changes; any number of threads may call
/// the `sigil_config_report_*` functions on it at once.
///
/// # Safety
///
/// `report` live; `errors`, `warnings` NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn sigil_config_report_counts(
    report: *const SigilConfigReport,
    errors: *mut usize,
    warnings: *mut usize,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or live (caller's promise); reports never change.
        let this = unsafe { handle_ref(report)? };
        // SAFETY: NULL or writable (caller's promise).
        unsafe {
            write_opt(errors, this.errors.len())?;
            write_opt(warnings, this.warnings.len())
        }
    })
}

/// Error number `index` (from 0): its 1-based `*line` and `*column` (0 when
/// it concerns the whole file), what is wrong (`message`) and the offending
/// line with secret values masked (`excerpt`). Every output may be NULL.
/// `SIGIL_STATUS_NOT_FOUND` past the end.
///
/// Thread safety: as `sigil_config_report_counts`.
///
/// # Safety
///
/// `report` live; outputs NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn sigil_config_report_error(
    report: *const SigilConfigReport,
    index: usize,
    line: *mut usize,
    column: *mut usize,
    message: *mut SigilText,
    excerpt: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or live (caller's promise); reports never change.
        let this = unsafe { handle_ref(report)? };
        let error = this.errors.get(index).ok_or(SigilStatus::NotFound)?;
        // SAFETY: NULL or writable / valid (caller's promise).
        unsafe {
            write_opt(line, error.line)?;
            write_opt(column, error.col)?;
            put_all(&[
                (message, error.message.as_str()),
                (excerpt, error.text.as_str()),
            ])
        }
    })
}

/// Warning number `index` (from 0): its 1-based `*line` (0 when not tied to
/// a line) and `message`. Either output may be NULL.
/// `SIGIL_STATUS_NOT_FOUND` past the end.
///
/// Thread safety: as `sigil_config_report_counts`.
///
/// # Safety
///
/// `report` live; outputs NULL or valid.
#[no_mangle]
pub unsafe extern "C" fn sigil_config_report_warning(
    report: *const SigilConfigReport,
    index: usize,
    line: *mut usize,
    message: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or live (caller's promise); reports never change.
        let this = unsafe { handle_ref(report)? };
        let warning = this.warnings.get(index).ok_or(SigilStatus::NotFound)?;
        // SAFETY: NULL or writable / valid (caller's promise).
        unsafe {
            write_opt(line, warning.line)?;
            put(message, &warning.message)
        }
    })
}

/// The whole report as text, as `sigil prov check` prints it: one
/// `FILE:LINE:COL: message` line per error followed by `    | excerpt`,
/// then one `FILE:LINE: warning: message` line per warning.
///
/// Thread safety: as `sigil_config_report_counts`.
///
/// # Safety
///
/// `report` live; `text` a valid [`SigilText`].
#[no_mangle]
pub unsafe extern "C" fn sigil_config_report_text(
    report: *const SigilConfigReport,
    text: *mut SigilText,
) -> SigilStatus {
    guard(|| {
        // SAFETY: NULL or live (caller's promise); reports never change.
        let this = unsafe { handle_ref(report)? };
        if text.is_null() {
            return Err(SigilStatus::NullPointer);
        }
        let mut out = String::new();
        for error in &this.errors {
            let _ = writeln!(out, "{error}");
            if !error.text.is_empty() {
                let _ = writeln!(out, "    | {}", error.text);
            }
        }
        for warning in &this.warnings {
            let _ = writeln!(out, "{warning}");
        }
        // SAFETY: a valid text (caller's promise).
        unsafe { put(text, &out) }
    })
}
