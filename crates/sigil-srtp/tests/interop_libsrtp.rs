//! Interoperability with libsrtp 2.7 (through pylibsrtp): random keys and
//! payloads, both directions, every suite (AES_CM_128 and AES_256_CM with
//! 80- and 32-bit tags, AEAD_AES_128_GCM and AEAD_AES_256_GCM), RTP and RTCP,
//! across a sequence-number wrap (ROC 0 → 1), with reordering inside the
//! replay window, replays and tampered packets refused on both sides. The
//! peer is `tests/pylibsrtp_peer.py`, driven over pipes.

use std::process::Command;

use sigil_srtp::{MasterKey, Policy, Session, SrtpError, Suite};
use sigil_testkit::hex::{decode as unhex, encode as hex};
use sigil_testkit::{peer, run_with_input, Peer};

const PACKETS: usize = 3000;
/// First sequence number: the wrap to ROC 1 comes after 1536 packets.
const FIRST_SEQ: u16 = 64000;

/// xorshift64*: deterministic per seed, printed so a failure can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    getrandom::getrandom(&mut b).expect("OS randomness");
    let seed = u64::from_le_bytes(b) | 1;
    eprintln!("interop seed: {seed:#x}");
    seed
}

/// Runs the peer script on `commands` and returns its answer lines.
fn run_peer(python: &std::path::Path, commands: &str) -> Vec<String> {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/pylibsrtp_peer.py");
    let out = run_with_input(Command::new(python).arg(script), commands.as_bytes());
    assert!(
        out.status.success(),
        "peer failed: {}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

fn rtp_packet(rng: &mut Rng, seq: u16, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    let len = rng.below(300) as usize;
    p.extend(rng.bytes(len));
    p
}

fn rtcp_packet(rng: &mut Rng, ssrc: u32) -> Vec<u8> {
    // A sender report with random body; length field in 32-bit words minus one.
    let words = 1 + rng.below(20) as usize;
    let mut p = vec![0x80, 200];
    p.extend_from_slice(&(words as u16).to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    p.extend(rng.bytes(words * 4 - 4));
    p
}

/// A permutation that moves no packet more than 40 places (well inside the
/// 128-packet window): shuffle inside consecutive blocks of 40.
fn reorder(rng: &mut Rng, n: usize) -> Vec<usize> {
    let mut order: Vec<usize> = (0..n).collect();
    for block in order.chunks_mut(40) {
        for i in (1..block.len()).rev() {
            let j = rng.below(i as u64 + 1) as usize;
            block.swap(i, j);
        }
    }
    order
}

fn profile(suite: Suite) -> &'static str {
    match suite {
        Suite::AesCm128HmacSha1_80 => "80",
        Suite::AesCm128HmacSha1_32 => "32",
        Suite::Aes256CmHmacSha1_80 => "256_80",
        Suite::Aes256CmHmacSha1_32 => "256_32",
        Suite::AeadAes128Gcm => "gcm128",
        Suite::AeadAes256Gcm => "gcm256",
    }
}

/// `packet` with one bit flipped at a position picked by `rng` (header,
/// payload or trailer alike).
fn tampered(rng: &mut Rng, packet: &[u8]) -> Vec<u8> {
    let mut p = packet.to_vec();
    let at = rng.below(p.len() as u64) as usize;
    p[at] ^= 1 << rng.below(8);
    p
}

fn plaintexts(rng: &mut Rng, rtcp: bool, ssrc: u32) -> Vec<Vec<u8>> {
    (0..PACKETS)
        .map(|i| {
            if rtcp {
                rtcp_packet(rng, ssrc)
            } else {
                rtp_packet(rng, FIRST_SEQ.wrapping_add(i as u16), ssrc)
            }
        })
        .collect()
}

/// libsrtp protects in order; we unprotect reordered, then replays.
fn theirs_to_ours(python: &std::path::Path, suite: Suite, rtcp: bool) {
    let mut rng = Rng(seed());
    let key = rng.bytes(suite.inline_len());
    let ssrc = rng.next() as u32;
    let plain = plaintexts(&mut rng, rtcp, ssrc);
    let op = if rtcp { "protect_rtcp" } else { "protect" };
    let mut commands = format!("new s {} out {}\n", profile(suite), hex(&key));
    for p in &plain {
        commands.push_str(&format!("{op} s {}\n", hex(p)));
    }
    let answers = run_peer(python, &commands);
    assert_eq!(answers.len(), PACKETS + 1, "one answer per command");
    assert_eq!(answers[0], "ok");
    let protected: Vec<Vec<u8>> = answers[1..]
        .iter()
        .map(|a| {
            assert!(!a.starts_with("error"), "libsrtp refused: {a}");
            unhex(a)
        })
        .collect();

    let policy = Policy::new(suite, MasterKey::from_inline(suite, &key).unwrap());
    let mut rx = Session::inbound(policy).unwrap();
    for &i in &reorder(&mut rng, PACKETS) {
        if i % 7 == 0 {
            // A tampered copy first: refused, and it must not spoil the
            // real packet that follows.
            let mut forged = tampered(&mut rng, &protected[i]);
            let result = if rtcp {
                rx.unprotect_rtcp(&mut forged)
            } else {
                rx.unprotect_rtp(&mut forged)
            };
            assert!(result.is_err(), "tampered packet {i} accepted");
        }
        let mut packet = protected[i].clone();
        let result = if rtcp {
            rx.unprotect_rtcp(&mut packet)
        } else {
            rx.unprotect_rtp(&mut packet)
        };
        result.unwrap_or_else(|e| panic!("packet {i} ({suite}, rtcp={rtcp}): {e}"));
        assert_eq!(packet, plain[i], "packet {i}");
    }
    if !rtcp {
        assert_eq!(rx.roc(ssrc), Some(1), "the sequence wrapped once");
    }
    // Every recent packet again is a replay.
    for (i, packet) in protected.iter().enumerate().skip(PACKETS - 100) {
        let mut packet = packet.clone();
        let result = if rtcp {
            rx.unprotect_rtcp(&mut packet)
        } else {
            rx.unprotect_rtp(&mut packet)
        };
        assert!(
            matches!(result, Err(SrtpError::Replayed { .. })),
            "packet {i}: {result:?}"
        );
    }
}

/// We protect in order; libsrtp unprotects reordered.
fn ours_to_theirs(python: &std::path::Path, suite: Suite, rtcp: bool) {
    let mut rng = Rng(seed());
    let key = rng.bytes(suite.inline_len());
    let ssrc = rng.next() as u32;
    let plain = plaintexts(&mut rng, rtcp, ssrc);
    let policy = Policy::new(suite, MasterKey::from_inline(suite, &key).unwrap());
    let mut tx = Session::outbound(policy).unwrap();
    let protected: Vec<Vec<u8>> = plain
        .iter()
        .map(|p| {
            let mut packet = p.clone();
            if rtcp {
                tx.protect_rtcp(&mut packet).unwrap();
            } else {
                tx.protect_rtp(&mut packet).unwrap();
            }
            packet
        })
        .collect();
    if !rtcp {
        assert_eq!(tx.roc(ssrc), Some(1), "the sequence wrapped once");
    }
    let order = reorder(&mut rng, PACKETS);
    let op = if rtcp { "unprotect_rtcp" } else { "unprotect" };
    let mut commands = format!("new r {} in {}\n", profile(suite), hex(&key));
    // Every 7th packet is preceded by a tampered copy, which libsrtp must
    // refuse (answers at the positions recorded in `forged_at`).
    let mut forged_at = Vec::new();
    let mut real_at = Vec::new();
    let mut line = 1;
    for &i in &order {
        if i % 7 == 0 {
            let forged = tampered(&mut rng, &protected[i]);
            commands.push_str(&format!("{op} r {}\n", hex(&forged)));
            forged_at.push(line);
            line += 1;
        }
        commands.push_str(&format!("{op} r {}\n", hex(&protected[i])));
        real_at.push(line);
        line += 1;
    }
    // And one replay at the end, which libsrtp must refuse too.
    commands.push_str(&format!("{op} r {}\n", hex(&protected[PACKETS - 1])));
    let answers = run_peer(python, &commands);
    assert_eq!(answers.len(), line + 1);
    assert_eq!(answers[0], "ok");
    for &at in &forged_at {
        assert!(
            answers[at].starts_with("error"),
            "libsrtp accepted a tampered packet: {}",
            answers[at]
        );
    }
    for (k, &i) in order.iter().enumerate() {
        let answer = &answers[real_at[k]];
        assert!(
            !answer.starts_with("error"),
            "libsrtp refused packet {i}: {answer}"
        );
        assert_eq!(unhex(answer), plain[i], "packet {i}");
    }
    assert!(
        answers[line].starts_with("error: replay"),
        "{}",
        answers[line]
    );
}

macro_rules! interop {
    ($name:ident, $f:ident, $suite:expr, $rtcp:expr) => {
        #[test]
        fn $name() {
            let Some(python) = peer(Peer::Pylibsrtp) else {
                return;
            };
            $f(&python, $suite, $rtcp);
        }
    };
}

interop!(
    libsrtp_to_us_rtp_80,
    theirs_to_ours,
    Suite::AesCm128HmacSha1_80,
    false
);
interop!(
    libsrtp_to_us_rtp_32,
    theirs_to_ours,
    Suite::AesCm128HmacSha1_32,
    false
);
interop!(
    libsrtp_to_us_rtcp_80,
    theirs_to_ours,
    Suite::AesCm128HmacSha1_80,
    true
);
interop!(
    libsrtp_to_us_rtcp_32,
    theirs_to_ours,
    Suite::AesCm128HmacSha1_32,
    true
);
interop!(
    us_to_libsrtp_rtp_80,
    ours_to_theirs,
    Suite::AesCm128HmacSha1_80,
    false
);
interop!(
    us_to_libsrtp_rtp_32,
    ours_to_theirs,
    Suite::AesCm128HmacSha1_32,
    false
);
interop!(
    us_to_libsrtp_rtcp_80,
    ours_to_theirs,
    Suite::AesCm128HmacSha1_80,
    true
);
interop!(
    us_to_libsrtp_rtcp_32,
    ours_to_theirs,
    Suite::AesCm128HmacSha1_32,
    true
);
interop!(
    libsrtp_to_us_rtp_256_80,
    theirs_to_ours,
    Suite::Aes256CmHmacSha1_80,
    false
);
interop!(
    libsrtp_to_us_rtp_256_32,
    theirs_to_ours,
    Suite::Aes256CmHmacSha1_32,
    false
);
interop!(
    libsrtp_to_us_rtcp_256_80,
    theirs_to_ours,
    Suite::Aes256CmHmacSha1_80,
    true
);
interop!(
    libsrtp_to_us_rtcp_256_32,
    theirs_to_ours,
    Suite::Aes256CmHmacSha1_32,
    true
);
interop!(
    us_to_libsrtp_rtp_256_80,
    ours_to_theirs,
    Suite::Aes256CmHmacSha1_80,
    false
);
interop!(
    us_to_libsrtp_rtp_256_32,
    ours_to_theirs,
    Suite::Aes256CmHmacSha1_32,
    false
);
interop!(
    us_to_libsrtp_rtcp_256_80,
    ours_to_theirs,
    Suite::Aes256CmHmacSha1_80,
    true
);
interop!(
    us_to_libsrtp_rtcp_256_32,
    ours_to_theirs,
    Suite::Aes256CmHmacSha1_32,
    true
);
interop!(
    libsrtp_to_us_rtp_gcm128,
    theirs_to_ours,
    Suite::AeadAes128Gcm,
    false
);
interop!(
    libsrtp_to_us_rtp_gcm256,
    theirs_to_ours,
    Suite::AeadAes256Gcm,
    false
);
interop!(
    libsrtp_to_us_rtcp_gcm128,
    theirs_to_ours,
    Suite::AeadAes128Gcm,
    true
);
interop!(
    libsrtp_to_us_rtcp_gcm256,
    theirs_to_ours,
    Suite::AeadAes256Gcm,
    true
);
interop!(
    us_to_libsrtp_rtp_gcm128,
    ours_to_theirs,
    Suite::AeadAes128Gcm,
    false
);
interop!(
    us_to_libsrtp_rtp_gcm256,
    ours_to_theirs,
    Suite::AeadAes256Gcm,
    false
);
interop!(
    us_to_libsrtp_rtcp_gcm128,
    ours_to_theirs,
    Suite::AeadAes128Gcm,
    true
);
interop!(
    us_to_libsrtp_rtcp_gcm256,
    ours_to_theirs,
    Suite::AeadAes256Gcm,
    true
);
