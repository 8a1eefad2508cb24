//! The C-facing SRTP entry points (`sigil_srtp_*` of `include/sigil.h`),
//! called exactly as a C program calls them: raw pointers, a caller's
//! buffer with its capacity, lengths in and out. Never panics, never
//! touches memory outside the buffer it was given (the fuzzer's
//! AddressSanitizer checks), leaves a refused packet unchanged.
//!
//! The first input byte picks the case: bit 0 RTP or RTCP, bits 1–2 the
//! suite, bit 3 keys from an `a=crypto` line with an MKI, bit 4 "protect
//! first" (the rest must then unprotect back to itself), bit 5 a spare
//! capacity cut to the byte (too small buffers), bits 6-7 a stream of its
//! own for the packet's SSRC instead of the default key.
//!
//! Unsafe here is the C caller's side: every pointer passed points into a
//! live local buffer of the stated size.
#![no_main]

use std::ffi::CString;
use std::ptr;

use libfuzzer_sys::fuzz_target;
use sigil_ffi::srtp::*;
use sigil_ffi::SigilStatus;

const SUITES: [(&str, usize); 4] = [
    ("AES_CM_128_HMAC_SHA1_80", 30),
    ("AES_CM_128_HMAC_SHA1_32", 30),
    ("AES_256_CM_HMAC_SHA1_80", 46),
    ("AES_256_CM_HMAC_SHA1_32", 46),
];

/// Base64 of 46 bytes of 0x3c, cut to the suite's key length below.
fn crypto_line(suite: &str, key_len: usize) -> CString {
    let key = [0x3cu8; 46];
    let encoded = base64(&key[..key_len]);
    CString::new(format!("1 {suite} inline:{encoded}|2^20|258:2")).unwrap()
}

fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let v = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        out.push(A[(v >> 18) as usize & 63] as char);
        out.push(A[(v >> 12) as usize & 63] as char);
        out.push(if chunk.len() > 1 { A[(v >> 6) as usize & 63] as char } else { '=' });
        out.push(if chunk.len() > 2 { A[v as usize & 63] as char } else { '=' });
    }
    out
}

fn session(direction: i32, mode: u8, ssrc: Option<u32>) -> *mut SigilSrtp {
    let (suite, key_len) = SUITES[usize::from((mode >> 1) & 3)];
    let name = CString::new(suite).unwrap();
    let key = [0x3cu8; 46];
    let mut out = ptr::null_mut();
    // SAFETY: every pointer points to a live local of the stated size.
    unsafe {
        let status = match (mode & 8 != 0, ssrc) {
            (true, None) => sigil_srtp_create_from_crypto(
                &mut out,
                direction,
                crypto_line(suite, key_len).as_ptr(),
                ptr::null_mut(),
            ),
            (false, None) => sigil_srtp_create(
                &mut out,
                direction,
                name.as_ptr(),
                key.as_ptr(),
                key_len,
                ptr::null_mut(),
            ),
            (with_crypto, Some(ssrc)) => {
                let status =
                    sigil_srtp_create(&mut out, direction, ptr::null(), ptr::null(), 0, ptr::null_mut());
                assert_eq!(status, SigilStatus::Ok);
                if with_crypto {
                    sigil_srtp_add_stream_from_crypto(out, ssrc, crypto_line(suite, key_len).as_ptr())
                } else {
                    sigil_srtp_add_stream(out, ssrc, name.as_ptr(), key.as_ptr(), key_len)
                }
            }
        };
        assert_eq!(status, SigilStatus::Ok);
    }
    out
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, packet)) = data.split_first() else {
        return;
    };
    let rtcp = mode & 1 != 0;
    let at = if rtcp { 4 } else { 8 };
    let ssrc = (mode & 0xc0 != 0)
        .then(|| packet.get(at..at + 4))
        .flatten()
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
    let rx = session(SIGIL_SRTP_INBOUND, mode, ssrc);
    let mut buf = packet.to_vec();
    let spare = if mode & 32 != 0 {
        usize::from(packet.last().copied().unwrap_or(0) % 20)
    } else {
        SIGIL_SRTP_MAX_TRAILER_LEN
    };
    buf.resize(packet.len() + spare, 0);
    let mut len = packet.len();
    // SAFETY: `buf` is live with `buf.len()` bytes; `len` is a live local.
    unsafe {
        if mode & 16 != 0 {
            let tx = session(SIGIL_SRTP_OUTBOUND, mode, ssrc);
            let status = if rtcp {
                sigil_srtp_protect_rtcp(tx, buf.as_mut_ptr(), &mut len, buf.len())
            } else {
                sigil_srtp_protect_rtp(tx, buf.as_mut_ptr(), &mut len, buf.len())
            };
            sigil_srtp_free(tx);
            if status != SigilStatus::Ok {
                assert_eq!(len, packet.len());
                assert_eq!(&buf[..len], packet, "a refused packet is left unchanged");
                sigil_srtp_free(rx);
                return;
            }
            assert!(len > packet.len() && len <= buf.len());
            let protected = buf[..len].to_vec();
            let unprotect = |buf: &mut Vec<u8>, len: &mut usize| {
                if rtcp {
                    sigil_srtp_unprotect_rtcp(rx, buf.as_mut_ptr(), len)
                } else {
                    sigil_srtp_unprotect_rtp(rx, buf.as_mut_ptr(), len)
                }
            };
            assert_eq!(unprotect(&mut buf, &mut len), SigilStatus::Ok);
            assert_eq!(&buf[..len], packet);
            // The same packet again is a replay, refused and left unchanged.
            let mut again = protected.clone();
            let mut again_len = again.len();
            assert_eq!(unprotect(&mut again, &mut again_len), SigilStatus::ReplayFail);
            assert_eq!(again, protected);
        } else {
            let status = if rtcp {
                sigil_srtp_unprotect_rtcp(rx, buf.as_mut_ptr(), &mut len)
            } else {
                sigil_srtp_unprotect_rtp(rx, buf.as_mut_ptr(), &mut len)
            };
            if status != SigilStatus::Ok {
                assert_eq!(len, packet.len());
                assert_eq!(&buf[..len], packet, "a refused packet is left unchanged");
            }
            let mut text = [0u8; 256];
            let mut out = sigil_ffi::SigilText {
                ptr: text.as_mut_ptr().cast(),
                cap: text.len(),
                len: 0,
            };
            let _ = sigil_srtp_last_error(rx, &mut out);
        }
        if let Some(ssrc) = ssrc {
            let mut roc = 0;
            let _ = sigil_srtp_get_roc(rx, ssrc, &mut roc);
            let _ = sigil_srtp_remove_stream(rx, ssrc);
        }
        sigil_srtp_free(rx);
    }
});
