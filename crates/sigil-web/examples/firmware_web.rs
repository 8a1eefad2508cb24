//! The firmware example of sigil-endpoint (`firmware`) with the HTTPS admin
//! interface beside the device: what `scripts/footprint` measures to show
//! what the web UI adds (binary size, peak RSS, time to registered).
//!
//! `firmware_web DATA_DIR [--call SIP_URI] [--seconds N] [--hold SECONDS] [--web-listen ADDR:PORT]`
//! (default `--web-listen 127.0.0.1:0`: a free port on loopback).
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use sigil_endpoint::{CallOptions, DeviceDir, RunOptions};
use sigil_web::{EndpointDevice, WebConfig, WebServer};

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
        eprintln!("usage: firmware_web DATA_DIR [--call SIP_URI] [--seconds N] [--hold SECONDS] [--web-listen ADDR:PORT]");
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
    let Ok(listen) = value("--web-listen")
        .unwrap_or_else(|| "127.0.0.1:0".to_owned())
        .parse()
    else {
        eprintln!("--web-listen: expected ADDR:PORT");
        return ExitCode::from(2);
    };
    let dir = match DeviceDir::open(dir) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let device = Arc::new(
        EndpointDevice::new(dir.clone(), Box::new(RunOptions::default))
            .with_observer(Box::new(|s| println!("{:>4} ms {s}", s.at_ms))),
    );
    if let Err(f) = device.boot() {
        eprintln!("{f}");
        return ExitCode::from(1);
    }
    println!(
        "registered {} ms after process start",
        started.elapsed().as_millis()
    );
    let web = match WebServer::start(
        WebConfig::new(dir.data_dir().clone(), listen),
        device.clone(),
    ) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(1);
        }
    };
    println!("web interface on https://{}", web.local_addr());
    let mut ok = true;
    if let Some(to) = value("--call") {
        let options = CallOptions {
            duration: Duration::from_secs_f64(seconds.clamp(0.0, 3600.0)),
            ..CallOptions::default()
        };
        let call = device
            .with_running(|running| running.call_and_wait(&to, options))
            .unwrap_or(Err(sigil_endpoint::EndpointError::Stopped));
        match call {
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
    web.shutdown();
    device.stop();
    if let Some(kb) = peak_rss_kb() {
        println!("peak RSS {kb} kB");
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
