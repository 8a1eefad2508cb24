//! The boundary with C: every entry point runs its body through [`guard`]
//! (a panic becomes `SIGIL_STATUS_PANIC`, never an unwind into C) and reads
//! its pointer arguments through the helpers here, which refuse NULL.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use crate::SigilStatus;

/// Runs `body`, turning its error into the status and a panic into
/// [`SigilStatus::Panic`].
pub(crate) fn guard(body: impl FnOnce() -> Result<(), SigilStatus>) -> SigilStatus {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => SigilStatus::Ok,
        Ok(Err(status)) => status,
        Err(payload) => {
            // Dropping the payload runs its destructor, which could panic in
            // turn: keep that inside too.
            let _ = catch_unwind(AssertUnwindSafe(move || drop(payload)));
            SigilStatus::Panic
        }
    }
}

/// Runs `body` for a function that returns nothing (the `*_free`
/// functions): a panic is swallowed, never unwound into C.
pub(crate) fn guard_void(body: impl FnOnce()) {
    let _ = guard(|| {
        body();
        Ok(())
    });
}

/// What a mutable handle carries besides its content: whether a panic
/// interrupted an operation on it.
pub(crate) trait Poison {
    /// Whether an earlier call panicked half-way.
    fn poisoned(&mut self) -> &mut bool;
}

/// Runs `body` on the handle behind `handle`: NULL gives
/// [`SigilStatus::NullPointer`], a poisoned handle
/// [`SigilStatus::Poisoned`]; a panic poisons the handle.
///
/// # Safety
///
/// `handle` is NULL or a live handle of type `T` made by this library, not
/// used by another thread during the call.
pub(crate) unsafe fn with_handle<T: Poison>(
    handle: *mut T,
    body: impl FnOnce(&mut T) -> Result<(), SigilStatus>,
) -> SigilStatus {
    if handle.is_null() {
        return SigilStatus::NullPointer;
    }
    let status = guard(|| {
        // SAFETY: not NULL (checked above); the caller promises a live handle
        // of this type with no other user during the call, so a unique
        // reference for the duration of `body` is sound.
        let this = unsafe { &mut *handle };
        if *this.poisoned() {
            return Err(SigilStatus::Poisoned);
        }
        body(this)
    });
    if status == SigilStatus::Panic {
        // SAFETY: as above; the reference made inside the closure is gone.
        let this = unsafe { &mut *handle };
        *this.poisoned() = true;
    }
    status
}

/// The handle behind `handle`, shared: NULL gives
/// [`SigilStatus::NullPointer`].
///
/// # Safety
///
/// `handle` is NULL or a live handle of type `T` made by this library that
/// no call mutates while the reference lives.
pub(crate) unsafe fn handle_ref<'a, T>(handle: *const T) -> Result<&'a T, SigilStatus> {
    // SAFETY: the caller promises NULL or a live, unmutated handle.
    unsafe { handle.as_ref() }.ok_or(SigilStatus::NullPointer)
}

/// Moves `value` to the heap and gives C the pointer (a new handle).
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Frees a handle made by [`into_handle`]; NULL is ignored.
///
/// # Safety
///
/// `handle` is NULL or a handle of type `T` made by this library and not
/// freed yet, with no other user.
pub(crate) unsafe fn free_handle<T>(handle: *mut T) {
    if handle.is_null() {
        return;
    }
    guard_void(|| {
        // SAFETY: the caller promises a handle made by `into_handle` (so by
        // `Box::into_raw` for this type) that nobody else uses or frees.
        drop(unsafe { Box::from_raw(handle) });
    });
}

/// Writes `value` to the caller's output `out`.
///
/// # Safety
///
/// `out` is NULL or valid for writing a `T`.
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T) -> Result<(), SigilStatus> {
    if out.is_null() {
        return Err(SigilStatus::NullPointer);
    }
    // SAFETY: not NULL; the caller promises it is valid for writes of a `T`.
    // `write` does not drop the old (possibly uninitialised) content.
    unsafe { out.write(value) };
    Ok(())
}

/// Writes `value` to the caller's optional output `out` (NULL: skipped).
///
/// # Safety
///
/// As [`write_out`].
pub(crate) unsafe fn write_opt<T>(out: *mut T, value: T) -> Result<(), SigilStatus> {
    if out.is_null() {
        return Ok(());
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { write_out(out, value) }
}

/// A required NUL-terminated UTF-8 string argument.
///
/// # Safety
///
/// `text` is NULL or points to a NUL-terminated string that stays valid
/// and unchanged during the call.
pub(crate) unsafe fn c_str<'a>(text: *const c_char) -> Result<&'a str, SigilStatus> {
    if text.is_null() {
        return Err(SigilStatus::NullPointer);
    }
    // SAFETY: not NULL; the caller promises a NUL-terminated string that
    // outlives the call.
    let bytes = unsafe { CStr::from_ptr(text) };
    bytes.to_str().map_err(|_| SigilStatus::InvalidArgument)
}

/// An optional NUL-terminated UTF-8 string argument (NULL: `None`).
///
/// # Safety
///
/// As [`c_str`].
pub(crate) unsafe fn opt_c_str<'a>(text: *const c_char) -> Result<Option<&'a str>, SigilStatus> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: the caller's promise, passed on.
    unsafe { c_str(text) }.map(Some)
}

/// A byte-buffer argument: `len` bytes at `data` (NULL allowed when `len`
/// is 0).
///
/// # Safety
///
/// `data` is NULL or valid for reading `len` bytes that nothing changes
/// during the call.
pub(crate) unsafe fn bytes<'a>(data: *const u8, len: usize) -> Result<&'a [u8], SigilStatus> {
    if data.is_null() {
        return if len == 0 {
            Ok(&[])
        } else {
            Err(SigilStatus::NullPointer)
        };
    }
    if len > isize::MAX as usize {
        return Err(SigilStatus::InvalidArgument);
    }
    // SAFETY: not NULL, at most isize::MAX bytes; the caller promises `len`
    // readable bytes that nothing mutates during the call.
    Ok(unsafe { std::slice::from_raw_parts(data, len) })
}

/// A mutable byte-buffer argument: `cap` bytes at `data`.
///
/// # Safety
///
/// `data` is NULL or valid for reading and writing `cap` bytes that nothing
/// else touches during the call.
pub(crate) unsafe fn bytes_mut<'a>(data: *mut u8, cap: usize) -> Result<&'a mut [u8], SigilStatus> {
    if data.is_null() {
        return Err(SigilStatus::NullPointer);
    }
    if cap > isize::MAX as usize {
        return Err(SigilStatus::InvalidArgument);
    }
    // SAFETY: not NULL, at most isize::MAX bytes; the caller promises `cap`
    // bytes valid for reads and writes with no other user during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(data, cap) })
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Thing {
        poisoned: bool,
        value: u32,
    }

    impl Poison for Thing {
        fn poisoned(&mut self) -> &mut bool {
            &mut self.poisoned
        }
    }

    /// Panics when dropped: the payload of a panic that panics again.
    struct Bomb;

    impl Drop for Bomb {
        fn drop(&mut self) {
            panic!("a destructor that panics");
        }
    }

    #[test]
    fn a_panic_becomes_a_status_and_never_unwinds() {
        assert_eq!(guard(|| panic!("boom")), SigilStatus::Panic);
        assert_eq!(
            guard(|| std::panic::panic_any(Bomb)),
            SigilStatus::Panic,
            "a payload whose destructor panics is contained too"
        );
        guard_void(|| panic!("in a free function"));
        assert_eq!(guard(|| Err(SigilStatus::AuthFail)), SigilStatus::AuthFail);
        assert_eq!(guard(|| Ok(())), SigilStatus::Ok);
    }

    #[test]
    fn a_panic_poisons_the_handle_until_it_is_freed() {
        let handle = into_handle(Thing {
            poisoned: false,
            value: 0,
        });
        let bump = |thing: &mut Thing| {
            thing.value += 1;
            Ok(())
        };
        // SAFETY: a live handle made just above, used by this thread only.
        unsafe {
            assert_eq!(with_handle(handle, bump), SigilStatus::Ok);
            assert_eq!(
                with_handle(handle, |_: &mut Thing| panic!("half-way")),
                SigilStatus::Panic
            );
            assert_eq!(with_handle(handle, bump), SigilStatus::Poisoned);
            assert_eq!((*handle).value, 1);
            assert_eq!(
                with_handle(std::ptr::null_mut::<Thing>(), bump),
                SigilStatus::NullPointer
            );
            free_handle(handle);
            free_handle(std::ptr::null_mut::<Thing>());
        }
    }
}
