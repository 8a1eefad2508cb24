//! The main job: a whole device on loopback, in one process, with nothing
//! installed beyond the Rust toolchain.
//!
//! Mints a vendor PKI, a device and server certificates into a temporary
//! directory; starts an HTTPS provisioning server and a SIP registrar with
//! peers on 127.0.0.1, both requiring device certificates; boots the device
//! step by step (provisioned over mutual TLS, server verified, registered);
//! places three calls — Standard ↔ SRTP peer (SRTP, tone decrypted at the far
//! end), Optional ↔ plain phone (plain RTP, said so), Standard ↔ plain phone
//! (refused: SRTP required) — and prints a summary. Exits non-zero when any
//! step did not do what it says.
//!
//! `cargo run --release --example demo`
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut out = std::io::stdout();
    match sigil_lab::demo::run(&mut out) {
        Ok(report) if report.ok() => ExitCode::SUCCESS,
        Ok(report) => {
            for c in report.checks.iter().filter(|c| !c.ok) {
                eprintln!("FAILED: {}: {}", c.what, c.detail);
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("the demo could not be set up: {e}");
            ExitCode::from(2)
        }
    }
}
