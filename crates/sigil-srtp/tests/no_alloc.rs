//! The packet paths never touch the heap once a stream exists: a counting
//! global allocator watches protect and unprotect of RTP and RTCP, success
//! and failure alike, with key derivation rate 0 and with a non-zero rate
//! (where session keys are re-derived as packets cross epochs).
#![allow(unsafe_code)] // a GlobalAlloc is an unsafe trait; it only delegates to System.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use sigil_srtp::{MasterKey, Policy, Session, Suite};

struct Counting;

thread_local! {
    /// Allocations made by this thread: the test harness's other threads
    /// (output capture, other tests) allocate too, and must not count.
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

fn count() {
    // `try_with`: a thread being torn down has no slot left; nothing to count.
    let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
}

/// This thread's allocations so far.
fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

// SAFETY: every call is forwarded unchanged to the system allocator.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn protect_and_unprotect_do_not_allocate() {
    // KDR 0 (keys derived once) and KDR 16 (new keys every 16 packets: the
    // 600 packets below cross 37 derivation epochs).
    for (suite, kdr) in Suite::ALL.into_iter().flat_map(|s| [(s, 0u64), (s, 16)]) {
        let key = MasterKey::from_inline(suite, &[0x11; 46][..suite.inline_len()])
            .unwrap()
            .with_mki(&[0, 7])
            .unwrap();
        let policy = Policy::new(suite, key).with_key_derivation_rate(kdr);
        let mut tx = Session::outbound(policy.clone()).unwrap();
        let mut rx = Session::inbound(policy).unwrap();
        let mut rtp = Vec::with_capacity(2048);
        let mut rtcp = Vec::with_capacity(2048);
        let header = [0x80u8, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
        // First packets create the streams (that allocates, once).
        rtp.extend_from_slice(&header);
        rtp.extend_from_slice(&[0u8; 160]);
        tx.protect_rtp(&mut rtp).unwrap();
        rx.unprotect_rtp(&mut rtp).unwrap();
        let mut forged = Vec::with_capacity(2048);
        let mut replay = Vec::with_capacity(2048);
        let before = allocations();
        for seq in 1u16..600 {
            rtp.clear();
            rtp.extend_from_slice(&header);
            rtp[2..4].copy_from_slice(&seq.to_be_bytes());
            rtp.extend_from_slice(&[seq as u8; 1200][..usize::from(seq % 1200)]);
            tx.protect_rtp(&mut rtp).unwrap();
            forged.clear();
            forged.extend_from_slice(&rtp);
            let n = forged.len();
            forged[n - 1] ^= 1;
            assert!(rx.unprotect_rtp(&mut forged).is_err(), "forged");
            // A forgery claiming a later derivation epoch (KDR 16: keys are
            // derived for it, into room the stream already has).
            forged[2..4].copy_from_slice(&(seq + 40).to_be_bytes());
            assert!(
                rx.unprotect_rtp(&mut forged).is_err(),
                "forged, later epoch"
            );
            // A forgery from an SSRC without a stream.
            forged[8] ^= 0x80;
            assert!(rx.unprotect_rtp(&mut forged).is_err(), "forged, new SSRC");
            // Unknown MKI: MKI ‖ tag for AES-CM, tag ‖ MKI for AES-GCM.
            let mki_at = if suite.is_aead() {
                n - 2
            } else {
                n - suite.rtp_tag_len() - 2
            };
            forged[mki_at] = 0xee;
            assert!(
                matches!(
                    rx.unprotect_rtp(&mut forged),
                    Err(sigil_srtp::SrtpError::UnknownMki { .. })
                ),
                "unknown MKI"
            );
            replay.clear();
            replay.extend_from_slice(&rtp);
            rx.unprotect_rtp(&mut rtp).unwrap();
            assert!(rx.unprotect_rtp(&mut replay).is_err(), "replay");

            rtcp.clear();
            rtcp.extend_from_slice(&[0x80, 200, 0, 6, 1, 2, 3, 4]);
            rtcp.extend_from_slice(&[7u8; 20]);
            tx.protect_rtcp(&mut rtcp).unwrap();
            forged.clear();
            forged.extend_from_slice(&rtcp);
            let n = forged.len();
            forged[n - 1] ^= 1;
            let mut out = [0u8; 64];
            assert!(
                rx.unprotect_rtcp_into(&forged, &mut out).is_err(),
                "forged SRTCP"
            );
            rx.unprotect_rtcp_into(&rtcp, &mut out).unwrap();
        }
        assert_eq!(
            allocations() - before,
            0,
            "{suite}, KDR {kdr}: the packet path allocated"
        );
        if kdr != 0 {
            assert!(
                rx.key_derivations() > 70,
                "KDR {kdr}: the epochs did change"
            );
        }
    }
}
