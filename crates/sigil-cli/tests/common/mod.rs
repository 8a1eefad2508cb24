//! Shared by the CLI tests: running the built `sigil` binary.
// Each test binary uses its own subset.
#![allow(dead_code)]

use std::process::{Command, Output};

/// The built `sigil` binary, ready for arguments.
pub fn sigil_command() -> Command {
    Command::new(env!("CARGO_BIN_EXE_sigil"))
}

/// Runs `sigil args…` (stdin closed) and returns what it did.
pub fn sigil(args: &[&str]) -> Output {
    sigil_command().args(args).output().expect("run sigil")
}

/// Runs `sigil args…` with `stdin` as its input.
pub fn sigil_with_stdin(args: &[&str], stdin: &str) -> Output {
    sigil_testkit::run_with_input(sigil_command().args(args), stdin.as_bytes())
}

/// Its stdout as text.
pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Its stderr as text.
pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Runs `sigil args…`, which must succeed, and returns its stdout.
pub fn ok(args: &[&str]) -> String {
    let out = sigil(args);
    assert!(
        out.status.success(),
        "sigil {args:?}: {}{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// A device minted by a new vendor CA under `dir/device`, and the lab
/// servers it talks to, both requiring device certificates: a SIP registrar
/// (digest password `sip_password`) and an HTTPS provisioning server handing
/// out `sip.proxy`, `sip.u1.user = 1001`, the password and `sip_config`.
/// The device's own `config.conf` names the provisioning server, followed by
/// `user_config`.
pub struct LabDevice {
    /// The vendor CA that minted the device and the servers.
    pub ca: sigil_identity::mint::VendorCa,
    /// The SIP registrar.
    pub sip: sigil_lab::SipServer,
    /// The provisioning server.
    pub prov: sigil_lab::ProvisioningServer,
}

/// Mints and writes the device of a [`LabDevice`] and starts its servers.
pub fn lab_device(
    dir: &std::path::Path,
    vendor: &str,
    mac: &str,
    sip_password: &str,
    sip_config: &str,
    user_config: &str,
) -> LabDevice {
    use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
    use sigil_identity::{DeviceVerifier, Identity};
    use sigil_lab::{ProvisioningServer, SipServer};

    let ca = VendorCa::generate(vendor).unwrap();
    let device = mint_device(&ca, &DeviceRequest::new(mac.parse().unwrap())).unwrap();
    device.write_factory(&dir.join("device/factory")).unwrap();
    std::fs::write(dir.join("device/factory/vendor-chain.pem"), ca.chain_pem()).unwrap();
    let server = mint_server(&ca, &ServerRequest::new(["127.0.0.1"])).unwrap();
    let identity = Identity::from_pem(
        server.full_chain_pem().as_bytes(),
        Some(server.key_pem().as_bytes()),
        "server.pem",
    )
    .unwrap();
    let devices = std::sync::Arc::new(DeviceVerifier::new(&[ca.root_der().unwrap()]).unwrap());
    let sip = SipServer::start(&identity, devices.clone(), "127.0.0.1", sip_password).unwrap();
    let config = format!(
        "sip.proxy = 127.0.0.1:{}\nsip.u1.user = 1001\nsip.u1.pwd = {sip_password}\n{sip_config}",
        sip.addr().port()
    );
    let file = format!("/cfg/algom{}.conf", mac.replace(':', ""));
    let files = std::collections::HashMap::from([(file, config.into_bytes())]);
    let prov = ProvisioningServer::start(&identity, devices, files).unwrap();
    std::fs::create_dir_all(dir.join("device/user")).unwrap();
    std::fs::write(
        dir.join("device/user/config.conf"),
        format!("prov.server = https://{}/cfg\n{user_config}", prov.addr()),
    )
    .unwrap();
    LabDevice { ca, sip, prov }
}
