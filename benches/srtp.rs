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
//! second (criterion's "elem/s"). Every iteration copies the plaintext (or
//! the protected packet) into the work buffer first, for all contenders alike.
//! - `sigil`: `Session::protect_rtp` & co. on a `Vec<u8>` with spare capacity.
//! - `libsrtp`: `srtp_protect` & co. on the same bytes (with `--features libsrtp-bench`).
//! - `primitives`: what the crypto alone costs with RustCrypto's `ctr`/`aes`
//!   and `hmac`/`sha1` driven the fastest way we found (AES key schedule
//!   borrowed, never copied; HMAC pad states precomputed and cloned): AES-CTR over
//!   the payload and HMAC-SHA1 over header, payload and ROC (or SRTCP index),
//!   tag appended — no header parsing, no replay or ROC state.
//!
//! The `hmac_sha1` and `aes_ctr` groups compare the primitive crates alone
//! (RustCrypto vs ring for HMAC-SHA1; ring exposes no raw AES-CTR).
//! Unprotect benches decrypt a batch of 2048 distinct packets per fresh
//! receiver (receiver setup is not timed), since a replayed packet is refused.

use std::hint::black_box;
use std::time::{Duration, Instant};

use aes::cipher::{InnerIvInit, KeyInit, StreamCipher, StreamCipherCoreWrapper};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use hmac::{Hmac, Mac};
use sigil_srtp::{MasterKey, Policy, Session, Suite};

const SUITES: [Suite; 2] = [Suite::AesCm128HmacSha1_80, Suite::Aes256CmHmacSha1_80];
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
}

impl Primitives {
    fn new(suite: Suite) -> Self {
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
        }
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
                if suite == Suite::Aes256CmHmacSha1_80 {
                    ffi::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&mut policy.rtp);
                    ffi::srtp_crypto_policy_set_aes_cm_256_hmac_sha1_80(&mut policy.rtcp);
                } else {
                    ffi::srtp_crypto_policy_set_rtp_default(&mut policy.rtp);
                    ffi::srtp_crypto_policy_set_rtcp_default(&mut policy.rtcp);
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

        fn run(
            &mut self,
            f: unsafe extern "C" fn(ffi::srtp_t, *mut c_void, *mut c_int) -> ffi::srtp_err_status_t,
            buf: &mut Vec<u8>,
            room: usize,
        ) {
            let mut len = buf.len() as c_int;
            let start = buf.len();
            buf.resize(start + room, 0);
            // SAFETY: buf holds len packet bytes plus `room` spare bytes, more
            // than libsrtp's maximum trailer (SRTP_MAX_TRAILER_LEN + index).
            let status = unsafe { f(self.0, buf.as_mut_ptr().cast(), &mut len) };
            assert_eq!(status, ffi::srtp_err_status_t_srtp_err_status_ok);
            buf.truncate(len as usize);
        }

        pub fn protect(&mut self, buf: &mut Vec<u8>) {
            self.run(ffi::srtp_protect, buf, 16 + 128);
        }
        pub fn unprotect(&mut self, buf: &mut Vec<u8>) {
            self.run(ffi::srtp_unprotect, buf, 0);
        }
        pub fn protect_rtcp(&mut self, buf: &mut Vec<u8>) {
            self.run(ffi::srtp_protect_rtcp, buf, 4 + 16 + 128);
        }
        pub fn unprotect_rtcp(&mut self, buf: &mut Vec<u8>) {
            self.run(ffi::srtp_unprotect_rtcp, buf, 0);
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

/// Times `per_packet` over fresh batches of the protected `packets`, building
/// a new receiver (untimed) for each batch.
fn batched<R>(
    iters: u64,
    packets: &[Vec<u8>],
    mut receiver: impl FnMut() -> R,
    mut per_packet: impl FnMut(&mut R, &mut Vec<u8>, &[u8]),
) -> Duration {
    let mut buf = Vec::with_capacity(2048);
    let mut total = Duration::ZERO;
    let mut done = 0u64;
    while done < iters {
        let mut rx = receiver();
        let n = (iters - done).min(packets.len() as u64) as usize;
        let start = Instant::now();
        for packet in &packets[..n] {
            per_packet(&mut rx, &mut buf, packet);
            black_box(&buf);
        }
        total += start.elapsed();
        done += n as u64;
    }
    total
}

fn protect_rtp(c: &mut Criterion) {
    for suite in SUITES {
        for payload in PAYLOADS {
            let mut group = c.benchmark_group(format!("protect_rtp/{suite}/{payload}"));
            group.throughput(Throughput::Elements(1));
            let plain = rtp(payload, 0);
            group.bench_function("sigil", |b| {
                let mut tx = Session::outbound(policy(suite)).expect("policy");
                let mut buf = Vec::with_capacity(2048);
                let mut seq = 0u16;
                b.iter(|| {
                    buf.clear();
                    buf.extend_from_slice(&plain);
                    buf[2..4].copy_from_slice(&seq.to_be_bytes());
                    seq = seq.wrapping_add(1);
                    tx.protect_rtp(&mut buf).expect("protect");
                    black_box(&buf);
                })
            });
            #[cfg(feature = "libsrtp-bench")]
            group.bench_function("libsrtp", |b| {
                let mut tx = libsrtp::Ctx::new(suite, &master(suite), true);
                let mut buf = Vec::with_capacity(2048);
                let mut seq = 0u16;
                b.iter(|| {
                    buf.clear();
                    buf.extend_from_slice(&plain);
                    buf[2..4].copy_from_slice(&seq.to_be_bytes());
                    seq = seq.wrapping_add(1);
                    tx.protect(&mut buf);
                    black_box(&buf);
                })
            });
            group.bench_function("primitives", |b| {
                let prim = Primitives::new(suite);
                let mut buf = Vec::with_capacity(2048);
                let mut seq = 0u16;
                b.iter(|| {
                    buf.clear();
                    buf.extend_from_slice(&plain);
                    buf[2..4].copy_from_slice(&seq.to_be_bytes());
                    seq = seq.wrapping_add(1);
                    let end = buf.len();
                    prim.seal(&mut buf, 12, end, &[0, 0, 0, 0]);
                    black_box(&buf);
                })
            });
            group.finish();
        }
    }
}

fn unprotect_rtp(c: &mut Criterion) {
    for suite in SUITES {
        for payload in PAYLOADS {
            let mut group = c.benchmark_group(format!("unprotect_rtp/{suite}/{payload}"));
            group.throughput(Throughput::Elements(1));
            let mut tx = Session::outbound(policy(suite)).expect("policy");
            let packets: Vec<Vec<u8>> = (0..BATCH as u16)
                .map(|seq| {
                    let mut p = rtp(payload, seq);
                    tx.protect_rtp(&mut p).expect("protect");
                    p
                })
                .collect();
            group.bench_function("sigil", |b| {
                b.iter_custom(|iters| {
                    batched(
                        iters,
                        &packets,
                        || Session::inbound(policy(suite)).expect("policy"),
                        |rx, buf, p| {
                            buf.clear();
                            buf.extend_from_slice(p);
                            rx.unprotect_rtp(buf).expect("unprotect");
                        },
                    )
                })
            });
            #[cfg(feature = "libsrtp-bench")]
            group.bench_function("libsrtp", |b| {
                b.iter_custom(|iters| {
                    batched(
                        iters,
                        &packets,
                        || libsrtp::Ctx::new(suite, &master(suite), false),
                        |rx, buf, p| {
                            buf.clear();
                            buf.extend_from_slice(p);
                            rx.unprotect(buf);
                        },
                    )
                })
            });
            group.bench_function("primitives", |b| {
                let prim = Primitives::new(suite);
                b.iter_custom(|iters| {
                    batched(
                        iters,
                        &packets,
                        || (),
                        |_, buf, p| {
                            buf.clear();
                            buf.extend_from_slice(p);
                            prim.open(buf, 12, 0, &[0, 0, 0, 0]);
                        },
                    )
                })
            });
            group.finish();
        }
    }
}

fn protect_rtcp(c: &mut Criterion) {
    for suite in SUITES {
        for payload in PAYLOADS {
            let mut group = c.benchmark_group(format!("protect_rtcp/{suite}/{payload}"));
            group.throughput(Throughput::Elements(1));
            let plain = rtcp(payload);
            group.bench_function("sigil", |b| {
                let mut tx = Session::outbound(policy(suite)).expect("policy");
                let mut buf = Vec::with_capacity(2048);
                b.iter(|| {
                    buf.clear();
                    buf.extend_from_slice(&plain);
                    tx.protect_rtcp(&mut buf).expect("protect");
                    black_box(&buf);
                })
            });
            #[cfg(feature = "libsrtp-bench")]
            group.bench_function("libsrtp", |b| {
                let mut tx = libsrtp::Ctx::new(suite, &master(suite), true);
                let mut buf = Vec::with_capacity(2048);
                b.iter(|| {
                    buf.clear();
                    buf.extend_from_slice(&plain);
                    tx.protect_rtcp(&mut buf);
                    black_box(&buf);
                })
            });
            group.bench_function("primitives", |b| {
                let prim = Primitives::new(suite);
                let mut buf = Vec::with_capacity(2048);
                let mut index = 0u32;
                b.iter(|| {
                    buf.clear();
                    buf.extend_from_slice(&plain);
                    index = index.wrapping_add(1);
                    let e_index = (0x8000_0000 | index).to_be_bytes();
                    buf.extend_from_slice(&e_index);
                    // Encrypt the RTCP payload; the E‖index word goes under the tag.
                    let end = buf.len() - 4;
                    prim.seal(&mut buf, 8, end, &[]);
                    black_box(&buf);
                })
            });
            group.finish();
        }
    }
}

fn unprotect_rtcp(c: &mut Criterion) {
    for suite in SUITES {
        for payload in PAYLOADS {
            let mut group = c.benchmark_group(format!("unprotect_rtcp/{suite}/{payload}"));
            group.throughput(Throughput::Elements(1));
            let mut tx = Session::outbound(policy(suite)).expect("policy");
            let plain = rtcp(payload);
            let packets: Vec<Vec<u8>> = (0..BATCH)
                .map(|_| {
                    let mut p = plain.clone();
                    tx.protect_rtcp(&mut p).expect("protect");
                    p
                })
                .collect();
            group.bench_function("sigil", |b| {
                b.iter_custom(|iters| {
                    batched(
                        iters,
                        &packets,
                        || Session::inbound(policy(suite)).expect("policy"),
                        |rx, buf, p| {
                            buf.clear();
                            buf.extend_from_slice(p);
                            rx.unprotect_rtcp(buf).expect("unprotect");
                        },
                    )
                })
            });
            #[cfg(feature = "libsrtp-bench")]
            group.bench_function("libsrtp", |b| {
                b.iter_custom(|iters| {
                    batched(
                        iters,
                        &packets,
                        || libsrtp::Ctx::new(suite, &master(suite), false),
                        |rx, buf, p| {
                            buf.clear();
                            buf.extend_from_slice(p);
                            rx.unprotect_rtcp(buf);
                        },
                    )
                })
            });
            group.bench_function("primitives", |b| {
                let prim = Primitives::new(suite);
                b.iter_custom(|iters| {
                    batched(
                        iters,
                        &packets,
                        || (),
                        |_, buf, p| {
                            buf.clear();
                            buf.extend_from_slice(p);
                            prim.open(buf, 8, 4, &[]);
                        },
                    )
                })
            });
            group.finish();
        }
    }
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
            b.iter(|| {
                let mut mac = rc.clone();
                mac.update(black_box(&data));
                mac.update(&[0, 0, 0, 1]);
                black_box(mac.finalize().into_bytes())
            })
        });
        let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, &key[..20]);
        group.bench_function("ring", |b| {
            b.iter(|| {
                let mut ctx = ring::hmac::Context::with_key(&ring_key);
                ctx.update(black_box(&data));
                ctx.update(&[0, 0, 0, 1]);
                black_box(ctx.sign())
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
            b.iter(|| {
                StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                    &aes::Aes128,
                    ctr::flavors::Ctr128BE,
                >::inner_iv_init(
                    &aes128, (&iv).into()
                ))
                .apply_keystream(black_box(&mut buf));
            })
        });
        group.bench_function("rustcrypto_aes256", |b| {
            b.iter(|| {
                StreamCipherCoreWrapper::from_core(ctr::CtrCore::<
                    &aes::Aes256,
                    ctr::flavors::Ctr128BE,
                >::inner_iv_init(
                    &aes256, (&iv).into()
                ))
                .apply_keystream(black_box(&mut buf));
            })
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = protect_rtp, unprotect_rtp, protect_rtcp, unprotect_rtcp, primitives
}
criterion_main!(benches);
