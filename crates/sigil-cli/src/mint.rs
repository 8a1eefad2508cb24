//! `sigil mint`: manufacturing — vendor PKI, device certificates, server certificates (SPEC ID7).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use sigil_identity::mint::{
    mint_device, mint_server, DeviceRequest, KeyKind, ServerRequest, VendorCa,
};
use sigil_identity::{CertInfo, Mac};

/// Manufacturing commands.
#[derive(Debug, clap::Subcommand)]
pub enum Cmd {
    /// Create a vendor root and intermediate CA: writes DIR/root.pem, root.key,
    /// intermediate.pem, intermediate.key and chain.pem (intermediate + root, the
    /// bundle server administrators install to accept the devices). Never
    /// overwrites existing CA keys.
    Vendor {
        /// Output directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Organization name in the CA subjects.
        #[arg(long, default_value = "Sigil Devices")]
        org: String,
    },
    /// Mint a device certificate (CN = serialNumber = MAC, 30 years, EKU clientAuth +
    /// serverAuth) signed by the vendor intermediate: writes FACTORY_DIR/device.pem
    /// (device certificate then intermediate) and FACTORY_DIR/device.key. Never
    /// overwrites an existing device identity.
    Device {
        /// The vendor directory made by `sigil mint vendor`.
        #[arg(long, value_name = "DIR")]
        vendor: PathBuf,
        /// The device MAC (00:22:ee:01:02:03, 00-22-EE-01-02-03 or 0022ee010203).
        #[arg(long, value_name = "MAC")]
        mac: String,
        /// RSA-2048 instead of ECDSA P-256 (for servers that only verify RSA).
        #[arg(long)]
        rsa: bool,
        /// The factory partition directory to write (created if missing).
        #[arg(long, value_name = "FACTORY_DIR")]
        out: PathBuf,
    },
    /// Mint a TLS server certificate signed by the vendor intermediate: writes
    /// DIR/server.pem (leaf + intermediate) and DIR/server.key. A name that parses as
    /// an IP address becomes an IP SAN, `sip:domain` a URI SAN, others DNS SANs.
    Server {
        /// The vendor directory made by `sigil mint vendor`.
        #[arg(long, value_name = "DIR")]
        vendor: PathBuf,
        /// A name for the certificate (repeat for more); the first is also the CN.
        #[arg(long = "name", value_name = "NAME", required = true)]
        names: Vec<String>,
        /// RSA-2048 instead of ECDSA P-256.
        #[arg(long)]
        rsa: bool,
        /// Output directory (created if missing).
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
    },
}

fn key_kind(rsa: bool) -> KeyKind {
    if rsa {
        KeyKind::Rsa2048
    } else {
        KeyKind::EcdsaP256
    }
}

fn describe(pem: &str) -> anyhow::Result<CertInfo> {
    let parsed = sigil_identity::parse_identity_pem(pem.as_bytes(), "minted certificate")?;
    let first = parsed
        .certificates
        .first()
        .context("no certificate was minted")?;
    CertInfo::from_der(first.as_ref()).map_err(|e| anyhow::anyhow!(e))
}

/// Runs a `sigil mint` command. Exit 0 on success; errors exit 1.
pub fn run(cmd: Cmd) -> anyhow::Result<ExitCode> {
    match cmd {
        Cmd::Vendor { out, org } => {
            let ca = VendorCa::generate(&org)?;
            ca.write(&out)?;
            let root = describe(ca.root_pem())?;
            let intermediate = describe(ca.intermediate_pem())?;
            println!("vendor PKI written to {}", out.display());
            println!(
                "  root.pem          {}  SHA-256 {}",
                root.subject, root.fingerprint_sha256
            );
            println!(
                "  intermediate.pem  {}  SHA-256 {}",
                intermediate.subject, intermediate.fingerprint_sha256
            );
            println!("  chain.pem         intermediate + root: give this to server administrators");
            println!("  root.key, intermediate.key  keep these secret");
        }
        Cmd::Device {
            vendor,
            mac,
            rsa,
            out,
        } => {
            let mac = Mac::parse(&mac)?;
            let ca = VendorCa::load(&vendor)
                .with_context(|| format!("loading the vendor PKI from {}", vendor.display()))?;
            let mut request = DeviceRequest::new(mac);
            request.key = key_kind(rsa);
            let minted = mint_device(&ca, &request)?;
            minted.write_factory(&out)?;
            let info = describe(&minted.cert_pem)?;
            println!(
                "device certificate written to {}/device.pem (+ device.key)",
                out.display()
            );
            print_cert(&info);
        }
        Cmd::Server {
            vendor,
            names,
            rsa,
            out,
        } => {
            let ca = VendorCa::load(&vendor)
                .with_context(|| format!("loading the vendor PKI from {}", vendor.display()))?;
            let mut request = ServerRequest::new(names);
            request.key = key_kind(rsa);
            let minted = mint_server(&ca, &request)?;
            minted.write_server(&out)?;
            let info = describe(&minted.cert_pem)?;
            println!(
                "server certificate written to {}/server.pem (+ server.key)",
                out.display()
            );
            print_cert(&info);
            println!("  Names:    {}", info.subject_alt_names.join(", "));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn print_cert(info: &CertInfo) {
    println!("  Subject:  {}", info.subject);
    println!("  Issuer:   {}", info.issuer);
    println!(
        "  Valid:    {} to {}",
        rfc3339(info.not_before),
        rfc3339(info.not_after)
    );
    println!("  Key:      {}", info.key);
    println!("  SHA-256:  {}", info.fingerprint_sha256);
}

fn rfc3339(time: time::OffsetDateTime) -> String {
    time.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| time.to_string())
}
