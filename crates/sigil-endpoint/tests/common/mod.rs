//! Shared by the real-peer tests (`tests/kamailio.rs`, `tests/linphone.rs`):
//! one test PKI, Kamailio 5.6 as registrar and proxy and nginx as the HTTPS
//! provisioning server, both over mutual TLS (config in `tests/kamailio/`),
//! and devices with their own data directories that provision from nginx and
//! register to Kamailio.
//!
//! The PKI: a root and an intermediate from `sigil_testkit::pki`, loaded as
//! the vendor CA (`VendorCa::load`), so that device certificates are minted
//! the factory way (`mint_device`) while the same intermediate also signs the
//! server certificate and softphones' client certificates. The server
//! certificate names 127.0.0.1 twice: as an iPAddress SAN (what our devices,
//! on rustls, check) and as a dNSName SAN (what linphonec, on mbedTLS, checks:
//! it ignores iPAddress SANs, see `crates/sigil-testkit/LINPHONE.md`).
//! `sigil_identity::mint::ServerRequest` cannot make the latter (it turns an
//! IP literal into an iPAddress SAN), hence the test PKI.
#![allow(dead_code)] // each test binary uses its own part of this module

pub mod lab_sip;

use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use sigil_endpoint::{CallId, CallOptions, CallStatus, DeviceDir, RunOptions, RunningDevice};
use sigil_identity::mint::{mint_device, DeviceRequest, VendorCa};
use sigil_srtp::negotiate::OfferPolicy;
use sigil_testkit::kamailio::{self, Kamailio};
use sigil_testkit::nginx::{mtls_server, Nginx};
use sigil_testkit::pki::{pem_block, Eku, LeafSpec, TestCa, TestCert};
use sigil_testkit::{free_port, peer, Peer};

/// The digest password Kamailio accepts for every user.
pub const PASSWORD: &str = "kamailio-e2e-secret";

/// Kamailio and nginx with mutual TLS, and the PKI their certificates come from.
pub struct Lab {
    /// Holds `kamailio.cfg`, `tls.cfg`, the server certificate, logs, `www/`.
    dir: tempfile::TempDir,
    kamailio_bin: PathBuf,
    /// Kamailio, the registrar and proxy.
    pub kamailio: Kamailio,
    _nginx: Nginx,
    root: TestCa,
    inter: TestCa,
    /// The vendor CA (the test PKI's root and intermediate) that mints device certificates.
    pub ca: VendorCa,
    /// Kamailio's TLS port.
    pub sip_port: u16,
    /// Kamailio's plain TCP port.
    pub tcp_port: u16,
    /// Kamailio's UDP port.
    pub udp_port: u16,
    /// nginx's HTTPS port (provisioning).
    pub prov_port: u16,
}

impl Lab {
    /// Starts Kamailio and nginx; `None` (after `sigil_testkit::peer` said
    /// why, or panics under CI) when one of them is not installed.
    pub fn start() -> Option<Lab> {
        let kamailio_bin = peer(Peer::Kamailio)?;
        let nginx_bin = peer(Peer::Nginx)?;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let root = TestCa::root("Sigil E2E Vendor Root CA");
        let inter = root.intermediate("Sigil E2E Vendor Device CA");
        let ca = vendor_ca(d, &root, &inter);

        // dNSName "127.0.0.1" for linphonec, iPAddress 127.0.0.1 for our devices.
        let server = inter.leaf(
            &LeafSpec::server("127.0.0.1")
                .ip(IpAddr::V4(Ipv4Addr::LOCALHOST))
                .eku(Eku::Server),
        );
        server.write_chain_pem(&d.join("server.pem"));
        std::fs::write(d.join("server.key"), server.key_pem()).unwrap();
        std::fs::write(d.join("vendor-chain.pem"), ca.chain_pem()).unwrap();

        let (sip_port, tcp_port, udp_port) = (free_port(), free_port(), free_port());
        let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio");
        kamailio::configure(
            &templates,
            d,
            &[
                ("@PORT@", &sip_port.to_string()),
                ("@TCPPORT@", &tcp_port.to_string()),
                ("@UDPPORT@", &udp_port.to_string()),
                ("@PASSWORD@", PASSWORD),
            ],
        );
        let kamailio = Kamailio::start(&kamailio_bin, d, sip_port, &[]);
        std::fs::create_dir_all(d.join("www/prov")).unwrap();
        let prov_port = free_port();
        let nginx = Nginx::start(&nginx_bin, d, &mtls_server(d, prov_port, ""), &[prov_port]);
        Some(Lab {
            dir,
            kamailio_bin,
            kamailio,
            _nginx: nginx,
            root,
            inter,
            ca,
            sip_port,
            tcp_port,
            udp_port,
            prov_port,
        })
    }

    /// The lab's folder (Kamailio's and nginx's files and logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The root certificate, PEM: the trust anchor for Kamailio's certificate.
    pub fn root_pem(&self) -> String {
        self.root.cert().cert_pem()
    }

    /// A client certificate for `cn` from the vendor intermediate (EKU
    /// clientAuth): Kamailio accepts it like a device certificate.
    pub fn client_cert(&self, cn: &str) -> TestCert {
        self.inter.leaf(&LeafSpec::client(cn))
    }

    /// Stops Kamailio and starts it again on the same ports and files.
    pub fn restart_kamailio(&mut self) {
        self.kamailio.stop();
        self.kamailio = Kamailio::start(&self.kamailio_bin, self.dir.path(), self.sip_port, &[]);
    }

    /// Waits (bounded) until Kamailio logged a registration with certificate CN `cn`.
    pub fn assert_registered(&self, cn: &str) {
        let needle = format!("cn={cn}");
        let log = self.kamailio.wait_log(&needle);
        assert!(
            log.lines()
                .any(|l| l.contains("SIGIL registered") && l.contains(&needle)),
            "{cn} did not register with its certificate: {log}"
        );
    }

    /// A device (factory certificate for `mac`) whose only configuration is
    /// the nginx provisioning server; its per-device file there sets user
    /// `user`, `sip.srtp.offer = policy`, no listener. Booted with the
    /// default run options; asserts that provisioning applied and was verified.
    pub fn device(&self, root: &Path, mac: &str, user: &str, policy: &str) -> RunningDevice {
        self.device_with(
            root,
            DeviceSpec {
                mac,
                user,
                policy,
                sip_port: self.sip_port,
                extra: "",
            },
            RunOptions::default(),
        )
    }

    /// As [`Lab::device`], with another proxy port, extra configuration
    /// lines and run options (audio, auto answer).
    pub fn device_with(
        &self,
        root: &Path,
        spec: DeviceSpec<'_>,
        options: RunOptions,
    ) -> RunningDevice {
        let DeviceSpec {
            mac,
            user,
            policy,
            sip_port,
            extra,
        } = spec;
        let minted = mint_device(&self.ca, &DeviceRequest::new(mac.parse().unwrap())).unwrap();
        minted.write_factory(&root.join("factory")).unwrap();
        std::fs::write(root.join("factory/vendor-chain.pem"), self.ca.chain_pem()).unwrap();
        std::fs::create_dir_all(root.join("user")).unwrap();
        std::fs::write(
            root.join("user/config.conf"),
            format!("prov.server = https://127.0.0.1:{}/prov\n", self.prov_port),
        )
        .unwrap();
        std::fs::write(
            self.dir()
                .join(format!("www/prov/algom{}.conf", mac.replace(':', ""))),
            format!(
                "sip.proxy = 127.0.0.1:{sip_port}\nsip.u1.user = {user}\nsip.u1.pwd = {PASSWORD}\n\
                 sip.srtp.offer = {policy}\nsip.tls.listen = 0\n{extra}"
            ),
        )
        .unwrap();
        let running = DeviceDir::open(root)
            .unwrap()
            .boot(options, &mut |s| println!("{user}: {s}"))
            .unwrap_or_else(|f| panic!("{user}: {f}\n{}", self.kamailio.log()));
        let p = running.status().provisioning;
        assert_eq!(p.result, "applied", "{user}: {p:?}");
        assert!(
            p.server.as_deref().unwrap_or("").starts_with("verified"),
            "{p:?}"
        );
        running
    }
}

/// What [`Lab::device_with`] provisions.
pub struct DeviceSpec<'a> {
    /// The MAC of the factory certificate (its CN).
    pub mac: &'a str,
    /// `sip.u1.user`.
    pub user: &'a str,
    /// `sip.srtp.offer`: `disabled`, `optional` or `standard`.
    pub policy: &'a str,
    /// The Kamailio port in `sip.proxy`.
    pub sip_port: u16,
    /// More configuration lines.
    pub extra: &'a str,
}

/// Writes the test PKI's root and intermediate where `VendorCa::load` reads
/// them (`d/vendor-ca/`) and loads them as the vendor CA.
fn vendor_ca(d: &Path, root: &TestCa, inter: &TestCa) -> VendorCa {
    let dir = d.join("vendor-ca");
    std::fs::create_dir_all(&dir).unwrap();
    for (name, ca) in [("root", root), ("intermediate", inter)] {
        std::fs::write(dir.join(format!("{name}.pem")), ca.cert().cert_pem()).unwrap();
        std::fs::write(
            dir.join(format!("{name}.key")),
            pem_block("PRIVATE KEY", &ca.cert().key_der),
        )
        .unwrap();
    }
    VendorCa::load(&dir).unwrap()
}

/// `from` calls `sip:to@127.0.0.1` with `policy`, keeps the call up for one
/// second once established, hangs up; the call's summary.
pub fn call(from: &RunningDevice, to: &str, policy: OfferPolicy) -> CallStatus {
    from.call_and_wait(
        &format!("sip:{to}@127.0.0.1"),
        CallOptions {
            duration: Duration::from_secs(1),
            policy: Some(policy),
            ..CallOptions::default()
        },
    )
    .unwrap()
}

/// The callee's record of its latest incoming call, once ended (waits at most 3 s).
pub fn callee_call(device: &RunningDevice) -> CallStatus {
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        if let Some(c) = device.status().calls.last() {
            if c.ended.is_some() || Instant::now() >= deadline {
                return c.clone();
            }
        }
        assert!(Instant::now() < deadline, "no call on the callee");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The calls of `device` with an id above `after` (`None`: all), once
/// there is at least one and all have ended; after `timeout`, whatever there is.
pub fn calls_after(
    device: &RunningDevice,
    after: Option<CallId>,
    timeout: Duration,
) -> Vec<CallStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        let calls: Vec<CallStatus> = device
            .status()
            .calls
            .into_iter()
            .filter(|c| after.is_none_or(|a| c.id > a))
            .collect();
        let done = !calls.is_empty() && calls.iter().all(|c| c.ended.is_some());
        if done || Instant::now() >= deadline {
            return calls;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The id of the latest call the device knows of (running or finished).
pub fn last_call_id(device: &RunningDevice) -> Option<CallId> {
    device.status().calls.iter().map(|c| c.id).max()
}
