//! The media packet path does not touch the heap once a call runs: a
//! counting global allocator watches one second of SRTP audio both ways
//! (send with recycled buffers, receive, jitter buffer, playout, events).
//! RTCP, every few seconds, is outside the window measured.
#![allow(unsafe_code)] // a GlobalAlloc is an unsafe trait; it only delegates to System.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::{Duration, Instant};

use sigil_media::{
    Codec, MediaConfig, MediaCrypto, MediaEvent, MediaStream, ToneSource, WallClock,
};
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

fn crypto(send: u8, receive: u8) -> MediaCrypto {
    let suite = Suite::AesCm128HmacSha1_80;
    let key = |b: u8| MasterKey::new(suite, &[b; 16], &[b; 14]).unwrap();
    MediaCrypto::Srtp {
        send: Box::new(Session::outbound(Policy::new(suite, key(send))).unwrap()),
        receive: Box::new(Session::inbound(Policy::new(suite, key(receive))).unwrap()),
    }
}

#[test]
fn srtp_audio_both_ways_does_not_allocate() {
    let t0 = Instant::now();
    let clock = WallClock::new(t0, Duration::from_secs(1_750_000_000));
    let config = |name: &str| MediaConfig::new(Codec::Pcmu, name, clock);
    let mut a = MediaStream::new(config("a"), crypto(1, 2), t0);
    let mut b = MediaStream::new(config("b"), crypto(2, 1), t0);
    let mut tone = ToneSource::default();
    let mut heard = 0u32;
    let mut step = |k: u32, a: &mut MediaStream, b: &mut MediaStream| {
        let now = t0 + Duration::from_millis(20 * u64::from(k));
        let frame = tone.next_frame();
        a.queue_audio(&frame);
        b.queue_audio(&frame);
        a.handle_timeout(now);
        b.handle_timeout(now);
        while let Some(t) = a.poll_transmit() {
            b.receive(&t.data, now);
            a.recycle(t.data);
        }
        while let Some(t) = b.poll_transmit() {
            a.receive(&t.data, now);
            b.recycle(t.data);
        }
        for s in [a, b] {
            while let Some(e) = s.poll_event() {
                if let MediaEvent::Audio {
                    concealed: false, ..
                } = e
                {
                    heard += 1;
                }
            }
        }
    };
    // 200 ms to start: SRTP streams, peer SSRCs, buffer pools.
    for k in 0..10 {
        step(k, &mut a, &mut b);
    }
    let before = allocations();
    assert!(before > 0, "the counter counts (setup allocates)");
    // One second; the first RTCP report is 1.25 s after the start at the earliest.
    for k in 10..60 {
        step(k, &mut a, &mut b);
    }
    let allocations = allocations() - before;
    assert_eq!(allocations, 0, "allocations on the packet path");
    assert!(heard >= 100, "{heard}");
    assert_eq!(a.stats().packets_received, 60);
    assert_eq!(b.stats().rtcp_sent, 0);
}
