//! `sigil`: every capability of the Sigil stack at a shell prompt.
//!
//! Each area of the stack has its own module with a clap subcommand enum and
//! a `run` function returning the process exit code.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod device;
mod identity;
mod mint;
mod prov;
mod sdp;
mod sip;
mod srtp;
mod trust;
#[cfg(feature = "web")]
mod web;

/// Sigil: the security stack of a SIP endpoint device.
#[derive(Debug, Parser)]
#[command(name = "sigil", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    area: Area,
}

#[derive(Debug, Subcommand)]
enum Area {
    /// List the SRTP crypto suites this build supports, with key, salt and tag lengths.
    Suites,
    /// Manufacturing: vendor root + intermediate, device and server certificates.
    #[command(subcommand)]
    Mint(mint::Cmd),
    /// Device identity: status of the factory certificate and overrides, factory reset.
    #[command(subcommand)]
    Identity(identity::Cmd),
    /// SDP offers and answers with SDES keys under the SDP SRTP Offer policy.
    #[command(subcommand)]
    Sdp(sdp::Cmd),
    /// SRTP/SRTCP: protect and unprotect hex packets, measure this machine.
    #[command(subcommand)]
    Srtp(srtp::Cmd),
    /// SIP messages: parse and print in canonical form.
    #[command(subcommand)]
    Sip(sip::Cmd),
    /// Provisioning: check configuration files, fetch them over HTTPS and apply them atomically.
    #[command(subcommand)]
    Prov(prov::Cmd),
    /// The layered trust store: list anchors and refused files, verify a server chain.
    #[command(subcommand)]
    Trust(trust::Cmd),
    /// The device: boot a data directory, show its status, place a call, factory reset.
    #[command(subcommand)]
    Device(device::Cmd),
}

fn suites() -> anyhow::Result<ExitCode> {
    println!(
        "{:<26} {:>9} {:>10} {:>12} {:>13}",
        "suite", "key bits", "salt bits", "SRTP tag", "SRTCP tag"
    );
    for suite in sigil_srtp::Suite::ALL {
        println!(
            "{:<26} {:>9} {:>10} {:>9} bit {:>10} bit",
            suite.name(),
            suite.key_len() * 8,
            suite.salt_len() * 8,
            suite.rtp_tag_len() * 8,
            suite.rtcp_tag_len() * 8
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let cli = Cli::parse();
    let result: anyhow::Result<ExitCode> = match cli.area {
        Area::Suites => suites(),
        Area::Mint(cmd) => mint::run(cmd),
        Area::Identity(cmd) => identity::run(cmd),
        Area::Sdp(cmd) => sdp::run(cmd),
        Area::Srtp(cmd) => srtp::run(cmd),
        Area::Sip(cmd) => sip::run(cmd),
        Area::Prov(cmd) => prov::run(cmd),
        Area::Trust(cmd) => trust::run(cmd),
        Area::Device(cmd) => device::run(cmd),
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(1)
        }
    }
}
