//! What a device runs, and nothing more: open the data directory, boot
//! (provisioning, SIP over TLS, REGISTER), optionally place one call with
//! tone, stay up for a while answering calls, un-REGISTER. `scripts/footprint`
//! measures this binary: its size, its peak RSS in a TLS + SRTP call, and
//! the time from process start to registered.
//!
//! `firmware DATA_DIR [--call SIP_URI] [--seconds N] [--hold SECONDS]`
use std::process::ExitCode;
use std::time::{Duration, Instant};

use sigil_endpoint::{CallOptions, DeviceDir, RunOptions};

/// Peak resident set size of this process (VmHWM), in kB, from /proc.
fn peak_rss_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(dir) = args.first() else {
        eprintln!("usage: firmware DATA_DIR [--call SIP_URI] [--seconds N] [--hold SECONDS]");
        return ExitCode::from(2);
    };
    let value = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let seconds: f64 = value("--seconds")
        .and_then(|s| s.parse().ok())
        .unwrap_or(1.0);
    let hold: f64 = value("--hold").and_then(|s| s.parse().ok()).unwrap_or(0.0);
    let device = match DeviceDir::open(dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let running = match device.boot(RunOptions::default(), &mut |s| {
        println!("{:>4} ms {s}", s.at_ms)
    }) {
        Ok(r) => r,
        Err(f) => {
            eprintln!("{f}");
            return ExitCode::from(1);
        }
    };
    println!(
        "registered {} ms after process start",
        started.elapsed().as_millis()
    );
    let mut ok = true;
    if let Some(to) = value("--call") {
        let options = CallOptions {
            duration: Duration::from_secs_f64(seconds.clamp(0.0, 3600.0)),
            ..CallOptions::default()
        };
        match running.call_and_wait(&to, options) {
            Ok(c) => {
                println!(
                    "call {}: {}; {} packets sent, {} received, {} SRTP authentication failures",
                    c.peer,
                    c.media,
                    c.stats.packets_sent,
                    c.stats.packets_received,
                    c.stats.srtp_auth_failures
                );
                ok = c.established;
            }
            Err(e) => {
                eprintln!("call failed: {e}");
                ok = false;
            }
        }
    }
    std::thread::sleep(Duration::from_secs_f64(hold.clamp(0.0, 86400.0)));
    running.shutdown();
    if let Some(kb) = peak_rss_kb() {
        println!("peak RSS {kb} kB");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
