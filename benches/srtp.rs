//! SRTP/SRTCP throughput: sigil-srtp against libsrtp (OpenSSL backend) and
//! against the bare primitives, in the same criterion group on the same
//! packets, so ratios come from one run.
//!
//! ```sh
//! cargo bench --bench srtp                             # sigil-srtp and the bare primitives
//! cargo bench --features libsrtp-bench --bench srtp    # ... and libsrtp 2.3 + OpenSSL beside them
//! ```
//!
//! Groups are `<operation>/<suite>/<payload bytes>`; each reports packets per
//! second (criterion's "elem/s") of *thread CPU time*, not wall-clock time,
//! so that other processes on a shared machine do not count.
//! `SRTP_BENCH_INTERLEAVED=1` instead rotates the contenders of each case in
//! short slices and prints a Markdown table of medians and ratios. Every iteration copies the plaintext (or
//! the protected packet) into the work buffer first, for all contenders alike.
//! - `sigil`: `Session::protect_rtp` & co. on a `Vec<u8>` with spare capacity.
//! - `libsrtp`: `srtp_protect` & co. on the same bytes (with `--features libsrtp-bench`).
//! - `primitives`: what the crypto alone costs with RustCrypto's `ctr`/`aes`
//!   and `hmac`/`sha1` driven the fastest way we found (AES key schedule
//!   borrowed, never copied; HMAC pad states precomputed and cloned): AES-CTR over
//!   the payload and HMAC-SHA1 over header, payload and ROC (or SRTCP index),
//!   tag appended — no header parsing, no replay or ROC state. For the AEAD
//!   suites: ring's AES-GCM (the bare AEAD) sealing / opening the payload with
//!   the header (and SRTCP index) as AAD, tag appended.
//!
//! The `hmac_sha1` and `aes_ctr` groups compare the primitive crates alone
//! (RustCrypto vs ring for HMAC-SHA1; ring exposes no raw AES-CTR).
//! Unprotect benches decrypt a batch of 2048 distinct packets per fresh
//! receiver (receiver setup is not timed), since a replayed packet is refused.

use std::hint::black_box;
use std::time::Duration;

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use criterion::{criterion_group, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sigil_srtp::{MasterKey, Policy, Session, Suite};

const SUITES: [Suite; 4] = [
    Suite::AesCm128HmacSha1_80,
    Suite::Aes256CmHmacSha1_80,
    Suite::AeadAes128Gcm,
    Suite::AeadAes256Gcm,
];
const PAYLOADS: [usize; 2] = [160, 1200];
const BATCH: usize = 2048;
const SSRC: u32 = 0xdeca_fbad;

fn master(suite: Suite) -> Vec<u8> {
    (0..suite.inline_len() as u8)
        .map(|i| i.wrapping_mul(37) ^ 0x5a)
        .collect()
}

fn policy(suite: Suite) -> Policy {
    Policy::new(
        suite,
        MasterKey::from_inline(suite, &master(suite)).expect("key length"),
    )
}

fn rtp(payload: usize, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..payload).map(|i| i as u8));
    p
}

fn rtcp(payload: usize) -> Vec<u8> {
    let words = payload / 4;
    let mut p = vec![0x80, 200];
    p.extend_from_slice(&(words as u16 + 1).to_be_bytes());
    p.extend_from_slice(&SSRC.to_be_bytes());
    p.extend((0..words * 4).map(|i| i as u8));
    p
}

/// The bare primitives, RustCrypto, with precomputed key schedule and HMAC pads.
#[allow(clippy::large_enum_variant)] // inline on purpose, as in sigil-srtp
enum Aes {
    A128(aes::Aes128),
    A256(aes::Aes256),
}

struct Primitives {
    aes: Aes,
    mac: Hmac<sha1::Sha1>,
    salt: [u8; 16],
    /// The AEAD suites: ring's AES-GCM under the suite's key.
    gcm: Option<ring::aead::LessSafeKey>,
}

impl Primitives {
    fn new(suite: Suite) -> Self {
        let gcm = suite.is_aead().then(|| {
            let key = master(suite);
            let alg = if suite.key_len() == 32 {
                &ring::aead::AES_256_GCM
            } else {
                &ring::aead::AES_128_GCM
            };
            ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(alg, &key[..suite.key_len()]).expect("key"),
            )
        });
        let key = master(suite);
        let aes = if suite.key_len() == 32 {
            Aes::A256(aes::Aes256::new_from_slice(&key[..32]).expect("32"))
        } else {
            Aes::A128(aes::Aes128::new_from_slice(&key[..16]).expect("16"))
        };
        let mut salt = [0u8; 16];
        salt[..14].copy_from_slice(&key[key.len() - 14..]);
        Primitives {
            aes,
            mac: <Hmac<sha1::Sha1> as Mac>::new_from_slice(&key[..20]).expect("any length"),
            salt,
            gcm,
        }
    }

    /// AES-GCM over `buf[from..to]` with `buf[..from]` ‖ `extra` as AAD; appends the 16-byte tag.
    #[inline]
    fn gcm_seal(&self, buf: &mut Vec<u8>, from: usize, to: usize, extra: &[u8]) {
        let key = self.gcm.as_ref().expect("AEAD suite");
        let mut aad = [0u8; 16];
        aad[..from].copy_from_slice(&buf[..from]);
        aad[from..from + extra.len()].copy_from_slice(extra);
        let nonce =
            ring::aead::Nonce::assume_unique_for_key(self.salt[..12].try_into().expect("12"));
        let tag = key
            .seal_in_place_separate_tag(
                nonce,
                ring::aead::Aad::from(&aad[..from + extra.len()]),
                &mut buf[from..to],
            )
            .expect("seal");
        buf.extend_from_slice(tag.as_ref());
    }

    /// The receiving side: opens `buf[from..len - 16 - trailer_len]` against the tag, truncates.
    #[inline]
    fn gcm_open(&self, buf: &mut Vec<u8>, from: usize, trailer_len: usize) {
        let key = self.gcm.as_ref().expect("AEAD suite");
        let end = buf.len() - trailer_len - 16;
        let mut aad = [0u8; 16];
        aad[..from].copy_from_slice(&buf[..from]);
        aad[from..from + trailer_len].copy_from_slice(&buf[end + 16..]);
        let tag: [u8; 16] = buf[end..end + 16].try_into().expect("16");
        let nonce =
            ring::aead::Nonce::assume_unique_for_key(self.salt[..12].try_into().expect("12"));
        let (head, rest) = buf.split_at_mut(from);
        key.open_in_place_separate_tag(
            nonce,
            ring::aead::Aad::from(&aad[..from + trailer_len]),
            ring::aead::Tag::from(tag),
            &mut rest[..end - head.len()],
            0..,
        )
        .expect("authentic");
        buf.truncate(end);
    }

    /// AES-CTR over `buf[from..to]`, then HMAC-SHA1 over `buf ‖ trailer`; appends the 10-byte tag.
    #[inline]
    fn seal(&self, buf: &mut Vec<u8>, from: usize, to: usize, trailer: &[u8]) {
        let iv = (&self.salt).into();
        let payload = &mut buf[from..to];
        match &self.aes {
            Aes::A128(c) => StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                &aes::Aes128,
                ctr::flavors::Ctr128BE,
            >::inner_iv_init(c, iv))
            .apply_keystream(payload),
            Aes::A256(c) => StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                &aes::Aes256,
                ctr::flavors::Ctr128BE,
            >::inner_iv_init(c, iv))
            .apply_keystream(payload),
        }
        let mut mac = self.mac.clone();
        mac.update(buf);
        mac.update(trailer);
        let tag = mac.finalize().into_bytes();
        buf.extend_from_slice(&tag[..10]);
    }

    /// The receiving side: HMAC over all but the tag, compare, AES-CTR, truncate.
    #[inline]
    fn open(&self, buf: &mut Vec<u8>, from: usize, trailer_len: usize, roc: &[u8]) {
        let end = buf.len() - 10;
        let mut mac = self.mac.clone();
        mac.update(&buf[..end]);
        mac.update(roc);
        let tag = mac.finalize().into_bytes();
        black_box(tag[..10] == buf[end..]);
        let iv = (&self.salt).into();
        let payload = &mut buf[from..end - trailer_len];
        match &self.aes {
            Aes::A128(c) => StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                &aes::Aes128,
                ctr::flavors::Ctr128BE,
            >::inner_iv_init(c, iv))
            .apply_keystream(payload),
            Aes::A256(c) => StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                &aes::Aes256,
                ctr::flavors::Ctr128BE,
            >::inner_iv_init(c, iv))
            .apply_keystream(payload),
        }
        buf.truncate(end - trailer_len);
    }
}

#[cfg(feature = "libsrtp-bench")]
#[allow(unsafe_code)]
mod libsrtp {
    //! libsrtp 2.3 (srtp2-sys, OpenSSL crypto) through its C API.
    use std::os::raw::{c_int, c_void};
    use std::sync::Once;

    use sigil_srtp::Suite;
    use srtp2_sys as ffi;

    static INIT: Once = Once::new();

    pub struct Ctx(ffi::srtp_t);

    impl Ctx {
        pub fn new(suite: Suite, key: &[u8], outbound: bool) -> Ctx {
            INIT.call_once(|| {
                // SAFETY: srtp_init has no preconditions; Once runs it once.
                let status = unsafe { ffi::srtp_init() };
                assert_eq!(status, ffi::srtp_err_status_t_srtp_err_status_ok);
            });
            let mut key = key.to_vec();
            // SAFETY: srtp_policy_t is a plain C struct for which all-zero is
            // the documented starting point (libsrtp's own drivers memset it).
            let mut policy: ffi::srtp_policy_t = unsafe { std::mem::zeroed() };
            // SAFETY: the setters only write into the given crypto policies.
            unsafe {
                match suite {
                    Suite::Aes256CmHmacSha1_80 => {
                        ffi::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&mut policy.rtp);
                        ffi::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&mut policy.rtcp);
                    }
                    Suite::AeadAes128Gcm => {
                        ffi::srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut policy.rtp);
                        ffi::srtp_crypto_policy_set_aes_gcm_128_16_auth(&mut policy.rtcp);
                    }
                    Suite::AeadAes256Gcm => {
                        ffi::srtp_crypto_policy_set_aes_gcm_256_16_auth(&mut policy.rtp);
                        ffi::srtp_crypto_policy_set_aes_gcm_256_16_auth(&mut policy.rtcp);
                    }
                    _ => {
                        ffi::srtp_crypto_policy_set_rtp_default(&mut policy.rtp);
                        ffi::srtp_crypto_policy_set_rtcp_default(&mut policy.rtcp);
                    }
                }
            }
            policy.ssrc.type_ = if outbound {
                ffi::srtp_ssrc_type_t_ssrc_any_outbound
            } else {
                ffi::srtp_ssrc_type_t_ssrc_any_inbound
            };
            policy.key = key.as_mut_ptr();
            policy.window_size = 128;
            let mut ctx: ffi::srtp_t = std::ptr::null_mut();
            // SAFETY: policy and key outlive the call; libsrtp copies the key.
            let status = unsafe { ffi::srtp_create(&mut ctx, &policy) };
            assert_eq!(status, ffi::srtp_err_status_t_srtp_err_status_ok);
            Ctx(ctx)
        }

        /// Runs `f` on the packet in `work[..*len]`; `work` has room for
        /// libsrtp's largest trailer.
        fn run(
            &mut self,
            f: unsafe extern "C" fn(ffi::srtp_t, *mut c_void, *mut c_int) -> ffi::srtp_err_status_t,
            work: &mut [u8; 2048],
            len: &mut usize,
        ) {
            assert!(*len + 4 + 16 + 128 <= work.len());
            let mut n = *len as c_int;
            // SAFETY: work holds n packet bytes and at least 148 spare bytes,
            // libsrtp's maximum trailer (index + SRTP_MAX_TRAILER_LEN).
            let status = unsafe { f(self.0, work.as_mut_ptr().cast(), &mut n) };
            assert_eq!(status, ffi::srtp_err_status_t_srtp_err_status_ok);
            *len = n as usize;
        }

        pub fn protect(&mut self, work: &mut [u8; 2048], len: &mut usize) {
            self.run(ffi::srtp_protect, work, len);
        }
        pub fn unprotect(&mut self, work: &mut [u8; 2048], len: &mut usize) {
            self.run(ffi::srtp_unprotect, work, len);
        }
        pub fn protect_rtcp(&mut self, work: &mut [u8; 2048], len: &mut usize) {
            self.run(ffi::srtp_protect_rtcp, work, len);
        }
        pub fn unprotect_rtcp(&mut self, work: &mut [u8; 2048], len: &mut usize) {
            self.run(ffi::srtp_unprotect_rtcp, work, len);
        }
    }

    impl Drop for Ctx {
        fn drop(&mut self) {
            // SAFETY: self.0 came from srtp_create and is freed once.
            unsafe { ffi::srtp_dealloc(self.0) };
        }
    }
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_millis(700))
        .measurement_time(Duration::from_secs(2))
        .sample_size(30)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    ProtectRtp,
    UnprotectRtp,
    ProtectRtcp,
    UnprotectRtcp,
}

impl Op {
    const ALL: [Op; 4] = [
        Op::ProtectRtp,
        Op::UnprotectRtp,
        Op::ProtectRtcp,
        Op::UnprotectRtcp,
    ];

    fn name(self) -> &'static str {
        match self {
            Op::ProtectRtp => "protect_rtp",
            Op::UnprotectRtp => "unprotect_rtp",
            Op::ProtectRtcp => "protect_rtcp",
            Op::UnprotectRtcp => "unprotect_rtcp",
        }
    }

    fn rtcp(self) -> bool {
        matches!(self, Op::ProtectRtcp | Op::UnprotectRtcp)
    }

    fn protects(self) -> bool {
        matches!(self, Op::ProtectRtp | Op::ProtectRtcp)
    }
}

/// A contender: runs `iters` packets and returns the time they took.
type Runner = Box<dyn FnMut(u64) -> Duration>;

/// Inputs of one case: for protect, one plaintext whose sequence number is
/// advanced per packet (RTP) or left alone (RTCP: the index advances); for
/// unprotect, `BATCH` distinct protected packets, replayed into a fresh
/// receiver (built untimed) per batch.
fn inputs(op: Op, suite: Suite, payload: usize) -> Vec<Vec<u8>> {
    if op.protects() {
        return vec![if op.rtcp() {
            rtcp(payload)
        } else {
            rtp(payload, 0)
        }];
    }
    let mut tx = Session::outbound(policy(suite)).expect("policy");
    (0..BATCH)
        .map(|i| {
            if op.rtcp() {
                let mut p = rtcp(payload);
                tx.protect_rtcp(&mut p).expect("protect");
                p
            } else {
                let mut p = rtp(payload, i as u16);
                tx.protect_rtp(&mut p).expect("protect");
                p
            }
        })
        .collect()
}

/// CPU time consumed by this thread so far (`CLOCK_THREAD_CPUTIME_ID`). On a
/// shared machine wall-clock time mostly measures other processes; CPU time
/// measures us (cache and SMT interference still show).
fn cpu_now() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec; the clock id is a constant.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Times `per_packet` over `iters` packets. Protect: the one plaintext (the
/// runner advances its own sequence number). Unprotect: batches of distinct packets,
/// each batch into a fresh state from `fresh` (not timed).
fn timed<S>(
    op: Op,
    iters: u64,
    packets: &[Vec<u8>],
    mut fresh: impl FnMut() -> S,
    state: &mut S,
    mut per_packet: impl FnMut(&mut S, &[u8]),
) -> Duration {
    if op.protects() {
        let plain = &packets[0];
        let start = cpu_now();
        for _ in 0..iters {
            per_packet(state, plain);
        }
        return cpu_now() - start;
    }
    let mut total = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        let mut rx = fresh();
        let n = (iters - done).min(packets.len() as u64) as usize;
        let start = cpu_now();
        for packet in &packets[..n] {
            per_packet(&mut rx, packet);
        }
        total += cpu_now() - start;
        done += n as u64;
    }
    total
}

fn sigil_runner(op: Op, suite: Suite, packets: Vec<Vec<u8>>) -> Runner {
    let make = move || {
        if op.protects() {
            Session::outbound(policy(suite)).expect("policy")
        } else {
            Session::inbound(policy(suite)).expect("policy")
        }
    };
    let mut session = make();
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let mut seq = 0u16;
    Box::new(move |iters| {
        timed(op, iters, &packets, make, &mut session, |s, p| {
            buf.clear();
            buf.extend_from_slice(p);
            match op {
                Op::ProtectRtp => {
                    seq = seq.wrapping_add(1);
                    buf[2..4].copy_from_slice(&seq.to_be_bytes());
                    s.protect_rtp(&mut buf).expect("protect")
                }
                Op::UnprotectRtp => s.unprotect_rtp(&mut buf).expect("unprotect"),
                Op::ProtectRtcp => s.protect_rtcp(&mut buf).expect("protect"),
                Op::UnprotectRtcp => s.unprotect_rtcp(&mut buf).expect("unprotect"),
            }
            black_box(&buf);
        })
    })
}

#[cfg(feature = "libsrtp-bench")]
fn libsrtp_runner(op: Op, suite: Suite, packets: Vec<Vec<u8>>) -> Runner {
    let make = move || libsrtp::Ctx::new(suite, &master(suite), op.protects());
    let mut ctx = make();
    let mut work = [0u8; 2048];
    let mut seq = 0u16;
    Box::new(move |iters| {
        timed(op, iters, &packets, make, &mut ctx, |c, p| {
            work[..p.len()].copy_from_slice(p);
            let mut len = p.len();
            match op {
                Op::ProtectRtp => {
                    seq = seq.wrapping_add(1);
                    work[2..4].copy_from_slice(&seq.to_be_bytes());
                    c.protect(&mut work, &mut len)
                }
                Op::UnprotectRtp => c.unprotect(&mut work, &mut len),
                Op::ProtectRtcp => c.protect_rtcp(&mut work, &mut len),
                Op::UnprotectRtcp => c.unprotect_rtcp(&mut work, &mut len),
            }
            black_box(&work[..len]);
        })
    })
}

fn primitives_runner(op: Op, suite: Suite, payload: usize, packets: Vec<Vec<u8>>) -> Runner {
    let prim = Primitives::new(suite);
    let aead = suite.is_aead();
    // AEAD: packets sealed by the primitive itself, so that opening succeeds
    // (ring wipes the buffer of a failed open, which would cost extra).
    let packets = if aead && !op.protects() {
        (0..BATCH)
            .map(|i| {
                if op.rtcp() {
                    let mut p = rtcp(payload);
                    let e_index = (0x8000_0000 | i as u32).to_be_bytes();
                    let end = p.len();
                    prim.gcm_seal(&mut p, 8, end, &e_index);
                    p.extend_from_slice(&e_index);
                    p
                } else {
                    let mut p = rtp(payload, i as u16);
                    let end = p.len();
                    prim.gcm_seal(&mut p, 12, end, &[]);
                    p
                }
            })
            .collect()
    } else {
        packets
    };
    let mut buf: Vec<u8> = Vec::with_capacity(2048);
    let mut index = 0u32;
    let mut seq = 0u16;
    Box::new(move |iters| {
        timed(
            op,
            iters,
            &packets,
            || (),
            &mut (),
            |_, p| {
                buf.clear();
                buf.extend_from_slice(p);
                match (op, aead) {
                    (Op::ProtectRtp, false) => {
                        seq = seq.wrapping_add(1);
                        buf[2..4].copy_from_slice(&seq.to_be_bytes());
                        let end = buf.len();
                        prim.seal(&mut buf, 12, end, &[0, 0, 0, 0]);
                    }
                    (Op::UnprotectRtp, false) => prim.open(&mut buf, 12, 0, &[0, 0, 0, 0]),
                    (Op::ProtectRtcp, false) => {
                        index = index.wrapping_add(1);
                        buf.extend_from_slice(&(0x8000_0000 | index).to_be_bytes());
                        let end = buf.len() - 4;
                        prim.seal(&mut buf, 8, end, &[]);
                    }
                    (Op::UnprotectRtcp, false) => prim.open(&mut buf, 8, 4, &[]),
                    (Op::ProtectRtp, true) => {
                        seq = seq.wrapping_add(1);
                        buf[2..4].copy_from_slice(&seq.to_be_bytes());
                        let end = buf.len();
                        prim.gcm_seal(&mut buf, 12, end, &[]);
                    }
                    (Op::UnprotectRtp, true) => prim.gcm_open(&mut buf, 12, 0),
                    (Op::ProtectRtcp, true) => {
                        index = index.wrapping_add(1);
                        let e_index = (0x8000_0000 | index).to_be_bytes();
                        let end = buf.len();
                        prim.gcm_seal(&mut buf, 8, end, &e_index);
                        buf.extend_from_slice(&e_index);
                    }
                    (Op::UnprotectRtcp, true) => prim.gcm_open(&mut buf, 8, 4),
                }
                black_box(&buf);
            },
        )
    })
}

fn runners(op: Op, suite: Suite, payload: usize) -> Vec<(&'static str, Runner)> {
    let packets = inputs(op, suite, payload);
    #[allow(unused_mut)]
    let mut all: Vec<(&'static str, Runner)> =
        vec![("sigil", sigil_runner(op, suite, packets.clone()))];
    #[cfg(feature = "libsrtp-bench")]
    all.push(("libsrtp", libsrtp_runner(op, suite, packets.clone())));
    all.push(("primitives", primitives_runner(op, suite, payload, packets)));
    all
}

fn srtp(c: &mut Criterion) {
    for op in Op::ALL {
        for suite in SUITES {
            for payload in PAYLOADS {
                let mut group = c.benchmark_group(format!("{}/{suite}/{payload}", op.name()));
                group.throughput(Throughput::Elements(1));
                for (name, mut run) in runners(op, suite, payload) {
                    group.bench_function(name, |b| b.iter_custom(&mut run));
                }
                group.finish();
            }
        }
    }
}

/// Runs `f` `iters` times; returns the thread CPU time it took.
fn cpu_loop<T>(iters: u64, mut f: impl FnMut() -> T) -> Duration {
    let start = cpu_now();
    for _ in 0..iters {
        black_box(f());
    }
    cpu_now() - start
}

/// The primitive crates alone, over the bytes of a 160- and a 1200-byte packet.
fn primitives(c: &mut Criterion) {
    let key = [0x4bu8; 32];
    for payload in PAYLOADS {
        let data: Vec<u8> = (0..payload + 12).map(|i| i as u8).collect();
        let mut group = c.benchmark_group(format!("hmac_sha1/{}", data.len()));
        group.throughput(Throughput::Elements(1));
        let rc = <Hmac<sha1::Sha1> as Mac>::new_from_slice(&key[..20]).expect("any length");
        group.bench_function("rustcrypto", |b| {
            b.iter_custom(|iters| {
                cpu_loop(iters, || {
                    let mut mac = rc.clone();
                    mac.update(black_box(&data));
                    mac.update(&[0, 0, 0, 1]);
                    black_box(mac.finalize().into_bytes())
                })
            })
        });
        let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key[..20]);
        group.bench_function("ring", |b| {
            b.iter_custom(|iters| {
                cpu_loop(iters, || {
                    let mut ctx = ring::hmac::Context::with_key(&ring_key);
                    ctx.update(black_box(&data));
                    ctx.update(&[0, 0, 0, 1]);
                    black_box(ctx.sign())
                })
            })
        });
        group.finish();

        let mut group = c.benchmark_group(format!("aes_ctr/{payload}"));
        group.throughput(Throughput::Elements(1));
        let aes128 = aes::Aes128::new_from_slice(&key[..16]).expect("16");
        let aes256 = aes::Aes256::new_from_slice(&key).expect("32");
        let iv = [7u8; 16];
        let mut buf = data[12..].to_vec();
        group.bench_function("rustcrypto_aes128", |b| {
            b.iter_custom(|iters| {
                cpu_loop(iters, || {
                    StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                        &aes::Aes128,
                        ctr::flavors::Ctr128BE,
                    >::inner_iv_init(
                        &aes128, (&iv).into()
                    ))
                    .apply_keystream(black_box(&mut buf));
                })
            })
        });
        group.bench_function("rustcrypto_aes256", |b| {
            b.iter_custom(|iters| {
                cpu_loop(iters, || {
                    StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                        &aes::Aes256,
                        ctr::flavors::Ctr128BE,
                    >::inner_iv_init(
                        &aes256, (&iv).into()
                    ))
                    .apply_keystream(black_box(&mut buf));
                })
            })
        });
        group.finish();

        // AES-GCM, the AEAD suites' primitive: in place, tag apart, 12-byte
        // header as AAD (RFC 7714 §8.2).
        for (bits, key_len) in [(128, 16), (256, 32)] {
            let mut group = c.benchmark_group(format!("aes_gcm_{bits}/{payload}"));
            group.throughput(Throughput::Elements(1));
            let nonce = [9u8; 12];
            let mut buf = data[12..].to_vec();
            let aad = &data[..12];
            let alg = if key_len == 16 {
                &ring::aead::AES_128_GCM
            } else {
                &ring::aead::AES_256_GCM
            };
            let ring_key = ring::aead::LessSafeKey::new(
                ring::aead::UnboundKey::new(alg, &key[..key_len]).expect("key"),
            );
            group.bench_function("ring_seal", |b| {
                b.iter_custom(|iters| {
                    cpu_loop(iters, || {
                        ring_key
                            .seal_in_place_separate_tag(
                                ring::aead::Nonce::assume_unique_for_key(nonce),
                                ring::aead::Aad::from(aad),
                                black_box(&mut buf),
                            )
                            .expect("seal")
                    })
                })
            });
            use aes_gcm::aead::AeadInPlace;
            use aes_gcm::KeyInit as _;
            let rc128 = aes_gcm::Aes128Gcm::new_from_slice(&key[..16]).expect("16");
            let rc256 = aes_gcm::Aes256Gcm::new_from_slice(&key).expect("32");
            group.bench_function("rustcrypto_seal", |b| {
                b.iter_custom(|iters| {
                    cpu_loop(iters, || {
                        let n = (&nonce).into();
                        if key_len == 16 {
                            rc128.encrypt_in_place_detached(n, aad, black_box(&mut buf))
                        } else {
                            rc256.encrypt_in_place_detached(n, aad, black_box(&mut buf))
                        }
                        .expect("seal")
                    })
                })
            });
            group.finish();
        }
    }
}

/// `SRTP_BENCH_INTERLEAVED=1`: instead of criterion's one-after-the-other
/// runs, rotate the contenders of each case in ~10 ms CPU slices for a few
/// seconds and compare medians, so that load from other processes on a
/// shared machine hits all contenders alike. Prints a Markdown table.
/// `SRTP_BENCH_SECONDS` (CPU seconds per case, default 3) and
/// `SRTP_BENCH_FILTER` (substring of `op/suite/payload`) adjust it.
fn interleaved() {
    let seconds: f64 = std::env::var("SRTP_BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    let filter = std::env::var("SRTP_BENCH_FILTER").ok();
    println!("| operation | suite | payload | contender | packets/s (median of slices) | vs libsrtp | vs primitives |");
    println!("|---|---|---:|---|---:|---:|---:|");
    for op in Op::ALL {
        for suite in SUITES {
            for payload in PAYLOADS {
                let case = format!("{}/{suite}/{payload}", op.name());
                if !filter.as_deref().is_none_or(|f| case.contains(f)) {
                    continue;
                }
                let mut runners = runners(op, suite, payload);
                // Calibrate: iterations for ~10 ms of CPU each.
                let slices: Vec<u64> = runners
                    .iter_mut()
                    .map(|(_, run)| {
                        let t = run(2000).as_secs_f64() / 2000.0;
                        ((0.010 / t) as u64).max(100)
                    })
                    .collect();
                let mut samples: Vec<Vec<f64>> = vec![Vec::new(); runners.len()];
                let start = cpu_now();
                while (cpu_now() - start).as_secs_f64() < seconds {
                    for (k, (_, run)) in runners.iter_mut().enumerate() {
                        let d = run(slices[k]);
                        samples[k].push(slices[k] as f64 / d.as_secs_f64());
                    }
                }
                let medians: Vec<f64> = samples
                    .iter_mut()
                    .map(|v| {
                        v.sort_by(f64::total_cmp);
                        v[v.len() / 2]
                    })
                    .collect();
                let find = |name: &str| {
                    runners
                        .iter()
                        .position(|(n, _)| *n == name)
                        .map(|i| medians[i])
                };
                for (k, (name, _)) in runners.iter().enumerate() {
                    let ratio = |other: Option<f64>| {
                        other.map_or("-".to_owned(), |o| format!("{:.2}", medians[k] / o))
                    };
                    println!(
                        "| {} | {suite} | {payload} | {name} | {:.3} M | {} | {} |",
                        op.name(),
                        medians[k] / 1e6,
                        ratio(find("libsrtp")),
                        ratio(find("primitives")),
                    );
                }
            }
        }
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = srtp, primitives
}

fn main() {
    if std::env::var_os("SRTP_BENCH_INTERLEAVED").is_some() {
        interleaved();
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
