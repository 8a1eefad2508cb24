//! The far side for `scripts/footprint`: mints a
//! vendor PKI and a device into `DIR/device` (factory partition, and a
//! configuration pointing at the servers), starts the HTTPS provisioning
//! server and the SIP registrar with its SRTP and plain peers on 127.0.0.1,
//! prints `ready`, and serves until its standard input closes.
//!
//! `lab DIR`
use std::collections::HashMap;
use std::io::Read;
use std::process::ExitCode;
use std::sync::Arc;

use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_identity::{DeviceVerifier, Identity};
use sigil_lab::{ProvisioningServer, SipServer};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn run(dir: &std::path::Path) -> Result<()> {
    const MAC: &str = "00:22:ee:fe:00:01";
    const PASSWORD: &str = "footprint-secret";
    let ca = VendorCa::generate("Footprint Vendor")?;
    let device = mint_device(&ca, &DeviceRequest::new(MAC.parse()?))?;
    device.write_factory(&dir.join("device/factory"))?;
    std::fs::write(dir.join("device/factory/vendor-chain.pem"), ca.chain_pem())?;
    let server = mint_server(&ca, &ServerRequest::new(["127.0.0.1"]))?;
    let identity = Identity::from_pem(
        server.full_chain_pem().as_bytes(),
        Some(server.key_pem().as_bytes()),
        "server.pem",
    )?;
    let devices = Arc::new(DeviceVerifier::new(&[ca.root_der()?])?);
    let sip = SipServer::start(&identity, devices.clone(), "127.0.0.1", PASSWORD)?;
    let config = format!(
        "sip.proxy = 127.0.0.1:{}\nsip.u1.user = 1001\nsip.u1.pwd = {PASSWORD}\nsip.srtp.offer = standard\nsip.tls.listen = 0\n",
        sip.addr().port()
    );
    let mut files = HashMap::new();
    files.insert("/p/algom0022eefe0001.conf".to_owned(), config.into_bytes());
    let prov = ProvisioningServer::start(&identity, devices, files)?;
    std::fs::create_dir_all(dir.join("device/user"))?;
    std::fs::write(
        dir.join("device/user/config.conf"),
        format!("prov.server = https://{}/p\n", prov.addr()),
    )?;
    println!("ready");
    // Serve until stdin closes (bounded by the caller).
    let mut sink = Vec::new();
    let _ = std::io::stdin().read_to_end(&mut sink);
    for c in sip.calls() {
        println!(
            "far end: {} {}: {} packets received, {} SRTP authentication failures",
            c.peer, c.media, c.stats.packets_received, c.stats.srtp_auth_failures
        );
    }
    Ok(())
}

fn main() -> ExitCode {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: lab DIR");
        return ExitCode::from(2);
    };
    match run(std::path::Path::new(&dir)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lab: {e}");
            ExitCode::from(1)
        }
    }
}
