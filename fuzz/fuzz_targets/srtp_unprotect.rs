//! SRTP/SRTCP unprotect on arbitrary bytes with a fixed key: never panics.
//!
//! The first input byte picks the case: bit 0 RTP or RTCP, bits 1–2 and 5
//! the suite (all six, AES-GCM included), bit 3 a 2-byte MKI, bit 4
//! "protect first": the rest of the input is
//! then protected as plaintext and must unprotect back to itself (so the
//! fuzzer also reaches the code behind a valid tag).
#![no_main]

use libfuzzer_sys::fuzz_target;
use sigil_srtp::{MasterKey, Policy, Session, Suite};

fuzz_target!(|data: &[u8]| {
    let Some((&mode, packet)) = data.split_first() else {
        return;
    };
    let rtcp = mode & 1 != 0;
    let pick = usize::from(((mode >> 1) & 3) | ((mode >> 3) & 4));
    let suite = Suite::ALL[pick % Suite::ALL.len()];
    let mut key = MasterKey::from_inline(suite, &[0x3c; 46][..suite.inline_len()]).unwrap();
    if mode & 8 != 0 {
        key = key.with_mki(&[0xbe, 0xef]).unwrap();
    }
    let policy = Policy::new(suite, key).with_max_streams(4);
    let mut rx = Session::inbound(policy.clone()).unwrap();
    let mut buf = packet.to_vec();
    if mode & 16 != 0 {
        let mut tx = Session::outbound(policy).unwrap();
        let protected = if rtcp {
            tx.protect_rtcp(&mut buf)
        } else {
            tx.protect_rtp(&mut buf)
        };
        if protected.is_err() {
            assert_eq!(buf, packet, "a refused packet is left unchanged");
            return;
        }
        let result = if rtcp {
            rx.unprotect_rtcp(&mut buf)
        } else {
            rx.unprotect_rtp(&mut buf)
        };
        assert!(result.is_ok(), "{result:?}");
        assert_eq!(buf, packet);
    } else {
        let result = if rtcp {
            rx.unprotect_rtcp(&mut buf)
        } else {
            rx.unprotect_rtp(&mut buf)
        };
        if result.is_err() {
            assert_eq!(buf, packet, "a refused packet is left unchanged");
        }
    }
});
