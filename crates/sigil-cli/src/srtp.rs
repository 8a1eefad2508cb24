//! `sigil srtp`: protect and unprotect SRTP/SRTCP packets given as hex lines,
//! and measure how fast this machine does it.

use std::fmt;
use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::str::FromStr;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context};
use base64::Engine;
use sigil_srtp::{MasterKey, Policy, Session, SrtpError, Suite};
use zeroize::Zeroizing;

/// SRTP commands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Protect RTP (or RTCP) packets: hex lines on stdin, one SRTP hex line (or `error: …`) per packet on stdout.
    Protect(PacketArgs),
    /// Unprotect SRTP (or SRTCP) packets: hex lines on stdin, one RTP hex line (or `error: …`) per packet on stdout.
    Unprotect(PacketArgs),
    /// Measure protect and unprotect speed on one core of this machine:
    /// `protect_pps=… unprotect_pps=… full_duplex_calls=…`, the last being
    /// how many 20 ms calls (50 packets a second protected and 50
    /// unprotected each) one core carries.
    Bench(BenchArgs),
}

/// Options shared by `protect` and `unprotect`.
#[derive(Debug, clap::Args)]
#[command(group(
    clap::ArgGroup::new("master_key")
        .required(true)
        .multiple(false)
        .args(["key", "key_file"])
))]
pub struct PacketArgs {
    /// Packets are RTCP / SRTCP instead of RTP / SRTP.
    #[arg(long)]
    rtcp: bool,
    /// Crypto suite, e.g. AES_CM_128_HMAC_SHA1_80.
    #[arg(long)]
    suite: Suite,
    /// Master key ‖ master salt in Base64, as in SDES `inline:` (other users
    /// can read it in the process list: prefer --key-file).
    #[arg(long, value_name = "BASE64")]
    key: Option<SecretArg>,
    /// Read the master key ‖ master salt (Base64) from FILE; `-` reads it
    /// from the first line of stdin, the packets following on the next
    /// lines. Surrounding whitespace and the line end are ignored.
    #[arg(long, value_name = "FILE")]
    key_file: Option<PathBuf>,
    /// Roll-over counter to assume for each SSRC's first packet (late joiners).
    #[arg(long)]
    roc: Option<u32>,
    /// Replay window in packets (64..=32768).
    #[arg(long)]
    window: Option<usize>,
}

/// Options of `bench`.
#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Crypto suite.
    #[arg(long, default_value = "AES_CM_128_HMAC_SHA1_80")]
    suite: Suite,
    /// RTP payload size in bytes (160 = 20 ms of G.711).
    #[arg(long, default_value_t = 160)]
    payload: usize,
    /// Measuring time in seconds, split between protect and unprotect.
    #[arg(long, default_value_t = 2.0)]
    seconds: f64,
}

/// Runs an `srtp` command.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Protect(args) => packets(args, true),
        Cmd::Unprotect(args) => packets(args, false),
        Cmd::Bench(args) => bench(args),
    }
}

/// A secret given on the command line: wiped when dropped, never shown by
/// `Debug`.
#[derive(Clone)]
pub struct SecretArg(Zeroizing<String>);

impl FromStr for SecretArg {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(SecretArg(Zeroizing::new(s.to_owned())))
    }
}

impl fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Longest key file read: a Base64 key ‖ salt is at most 64 characters.
const MAX_KEY_FILE: u64 = 4096;

/// Reads the Base64 key of `--key-file path` (`-`: the first line of
/// `stdin`, which then goes on with the packets). Wiped when dropped.
fn read_key_file(path: &Path, stdin: &mut impl BufRead) -> anyhow::Result<Zeroizing<String>> {
    // Room for all of it up front, so no partial copy is left behind
    // unwiped when a buffer grows.
    let mut text = Zeroizing::new(String::with_capacity(MAX_KEY_FILE as usize));
    if path == Path::new("-") {
        stdin
            .take(MAX_KEY_FILE)
            .read_line(&mut text)
            .map_err(|e| anyhow!("cannot read the key from stdin (--key-file -): {e}"))?;
    } else {
        let mut bytes = Zeroizing::new(Vec::with_capacity(MAX_KEY_FILE as usize));
        std::fs::File::open(path)
            .and_then(|file| file.take(MAX_KEY_FILE).read_to_end(&mut bytes))
            .map_err(|e| anyhow!("cannot read the key file {}: {e}", path.display()))?;
        text.push_str(
            std::str::from_utf8(&bytes)
                .map_err(|_| anyhow!("the key file {} is not text", path.display()))?,
        );
    }
    Ok(text)
}

fn policy(
    suite: Suite,
    key_b64: &str,
    source: &str,
    window: Option<usize>,
) -> anyhow::Result<Policy> {
    let key_b64 = key_b64.trim();
    if key_b64.is_empty() {
        bail!("{source} holds no key");
    }
    // The decoder's error would quote the offending character: leave it out.
    let material = Zeroizing::new(
        base64::engine::general_purpose::STANDARD
            .decode(key_b64)
            .map_err(|_| anyhow!("{source} is not valid Base64"))?,
    );
    let key = MasterKey::from_inline(suite, &material)
        .with_context(|| format!("{source} does not fit the suite"))?;
    let mut policy = Policy::new(suite, key);
    if let Some(window) = window {
        policy = policy.with_replay_window(window);
    }
    Ok(policy)
}

fn unhex(line: &str) -> Option<Vec<u8>> {
    let line = line.trim();
    if line.len() % 2 != 0 {
        return None;
    }
    (0..line.len())
        .step_by(2)
        .map(|i| {
            line.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

/// The SSRC of an RTP or RTCP packet, if it is long enough to have one.
fn ssrc_of(packet: &[u8], rtcp: bool) -> Option<u32> {
    let at = if rtcp { 4 } else { 8 };
    let b = packet.get(at..at + 4)?;
    Some(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn packets(mut args: PacketArgs, protect: bool) -> anyhow::Result<ExitCode> {
    let mut input = std::io::stdin().lock();
    let policy = match (args.key.take(), &args.key_file) {
        (Some(key), _) => policy(args.suite, &key.0, "--key", args.window)?,
        (None, Some(path)) => {
            let key = read_key_file(path, &mut input)?;
            let source = if path == Path::new("-") {
                "the key on stdin (--key-file -)".to_owned()
            } else {
                format!("the key file {}", path.display())
            };
            policy(args.suite, &key, &source, args.window)?
        }
        (None, None) => bail!("give the master key with --key or --key-file"),
    };
    let mut session = if protect {
        Session::outbound(policy)
    } else {
        Session::inbound(policy)
    }
    .context("cannot build the SRTP session")?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut all_ok = true;
    for line in input.lines() {
        let line = line.context("reading stdin")?;
        if line.trim().is_empty() {
            continue;
        }
        let Some(mut packet) = unhex(&line) else {
            writeln!(out, "error: not a hex packet")?;
            all_ok = false;
            continue;
        };
        if let (Some(roc), false) = (args.roc, args.rtcp) {
            if let Some(ssrc) = ssrc_of(&packet, false) {
                if session.roc(ssrc).is_none() {
                    // A stream limit error here shows up again on the packet itself.
                    let _ = session.set_roc(ssrc, roc);
                }
            }
        }
        let result: Result<(), SrtpError> = match (protect, args.rtcp) {
            (true, false) => session.protect_rtp(&mut packet),
            (true, true) => session.protect_rtcp(&mut packet),
            (false, false) => session.unprotect_rtp(&mut packet),
            (false, true) => session.unprotect_rtcp(&mut packet),
        };
        match result {
            Ok(()) => writeln!(out, "{}", hex(&packet))?,
            Err(error) => {
                all_ok = false;
                writeln!(out, "error: {error}")?;
            }
        }
    }
    out.flush()?;
    Ok(if all_ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

fn bench_packet(payload: usize, seq: u16) -> Vec<u8> {
    let mut p = vec![0x80, 0x00];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&(u32::from(seq) * 160).to_be_bytes());
    p.extend_from_slice(&0x5167_1100u32.to_be_bytes());
    p.extend((0..payload).map(|i| i as u8));
    p
}

fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if !(args.seconds > 0.0 && args.seconds <= 3600.0) {
        bail!("--seconds must be more than 0 and at most 3600");
    }
    if args.payload > 65_000 {
        bail!("--payload must be at most 65000 bytes");
    }
    // The key's value does not matter for speed.
    let material: Vec<u8> = (0..args.suite.inline_len())
        .map(|i| i as u8 ^ 0xa5)
        .collect();
    let key = MasterKey::from_inline(args.suite, &material)?;
    let policy = Policy::new(args.suite, key);
    let phase = Duration::from_secs_f64(args.seconds / 2.0);

    // Protect: a stream of consecutive sequence numbers, 256 packets between clock reads.
    let mut tx = Session::outbound(policy.clone())?;
    let plain = bench_packet(args.payload, 0);
    let mut buf = Vec::with_capacity(plain.len() + tx.rtp_overhead());
    let mut seq = 0u16;
    let mut protected_count = 0u64;
    let start = Instant::now();
    while start.elapsed() < phase {
        for _ in 0..256 {
            buf.clear();
            buf.extend_from_slice(&plain);
            if let Some(s) = buf.get_mut(2..4) {
                s.copy_from_slice(&seq.to_be_bytes());
            }
            seq = seq.wrapping_add(1);
            tx.protect_rtp(&mut buf)?;
            std::hint::black_box(&buf);
        }
        protected_count += 256;
    }
    let protect_pps = protected_count as f64 / start.elapsed().as_secs_f64();

    // Unprotect: batches of 4096 distinct packets, a fresh receiver per batch
    // (its construction is not timed).
    let mut tx = Session::outbound(policy.clone())?;
    let batch: Vec<Vec<u8>> = (0..4096u16)
        .map(|s| {
            let mut p = bench_packet(args.payload, s);
            tx.protect_rtp(&mut p).map(|()| p)
        })
        .collect::<Result<_, _>>()?;
    let mut unprotected_count = 0u64;
    let mut busy = Duration::ZERO;
    while busy < phase {
        let mut rx = Session::inbound(policy.clone())?;
        let start = Instant::now();
        for packet in &batch {
            buf.clear();
            buf.extend_from_slice(packet);
            rx.unprotect_rtp(&mut buf)?;
            std::hint::black_box(&buf);
        }
        busy += start.elapsed();
        unprotected_count += batch.len() as u64;
    }
    let unprotect_pps = unprotected_count as f64 / busy.as_secs_f64();
    println!(
        "protect_pps={:.0} unprotect_pps={:.0} full_duplex_calls={}",
        protect_pps,
        unprotect_pps,
        full_duplex_calls(protect_pps, unprotect_pps)
    );
    Ok(ExitCode::SUCCESS)
}

/// Packets per second each way of a call in 20 ms frames.
const CALL_PPS: f64 = 50.0;

/// How many full-duplex 20 ms calls one core carries at these rates: each
/// call protects 50 packets a second and unprotects 50, so a call costs
/// `50 / protect_pps + 50 / unprotect_pps` seconds of CPU per second.
fn full_duplex_calls(protect_pps: f64, unprotect_pps: f64) -> u64 {
    if !(protect_pps > 0.0 && unprotect_pps > 0.0) {
        return 0;
    }
    let cpu_per_call = CALL_PPS / protect_pps + CALL_PPS / unprotect_pps;
    (1.0 / cpu_per_call).floor() as u64
}

#[cfg(test)]
mod tests {
    use super::full_duplex_calls;

    #[test]
    fn a_call_protects_and_unprotects_50_packets_a_second() {
        // 5000 pps each way: 100 streams of one direction, 50 whole calls
        // (counting protect only, as before, said 100).
        assert_eq!(full_duplex_calls(5000.0, 5000.0), 50);
        // 100 000 protect, 25 000 unprotect: 1 / (0.0005 + 0.002) = 400.
        assert_eq!(full_duplex_calls(100_000.0, 25_000.0), 400);
        // sigil-srtp's README, 160 bytes: 5.706 M protect, 5.418 M unprotect
        // (protect alone at 50 pps said 114 120).
        assert_eq!(full_duplex_calls(5_706_000.0, 5_418_000.0), 55_582);
        // Rounded down: 1 / (50/150 + 50/150) = 1.5 calls.
        assert_eq!(full_duplex_calls(150.0, 150.0), 1);
        assert_eq!(full_duplex_calls(0.0, 5000.0), 0);
        assert_eq!(full_duplex_calls(f64::NAN, 5000.0), 0);
    }
}
