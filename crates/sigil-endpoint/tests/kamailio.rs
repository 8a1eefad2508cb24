//! Real peers end to end: nginx as the HTTPS provisioning server and
//! Kamailio 5.6 as registrar and proxy, both over mutual TLS with device
//! certificates required (config in tests/kamailio/). Devices with their own
//! data directories and MACs provision, register with digest and call each
//! other through Kamailio; media flows device to device. Kamailio is then
//! restarted and the devices register again on their own.

use std::path::Path;
use std::time::{Duration, Instant};

use sigil_endpoint::{CallOptions, CallStatus, DeviceDir, RunOptions, RunningDevice};
use sigil_identity::mint::{mint_device, mint_server, DeviceRequest, ServerRequest, VendorCa};
use sigil_srtp::negotiate::OfferPolicy;
use sigil_testkit::kamailio::{self, Kamailio};
use sigil_testkit::nginx::{mtls_server, Nginx};
use sigil_testkit::{free_port, peer, Peer};

const PASSWORD: &str = "kamailio-e2e-secret";

fn configure(dir: &Path, port: u16, tcp_port: u16, udp_port: u16) {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio");
    kamailio::configure(
        &templates,
        dir,
        &[
            ("@PORT@", &port.to_string()),
            ("@TCPPORT@", &tcp_port.to_string()),
            ("@UDPPORT@", &udp_port.to_string()),
            ("@PASSWORD@", PASSWORD),
        ],
    );
}

/// Where a device gets its configuration and whom it registers with.
struct Servers<'a> {
    ca: &'a VendorCa,
    www: &'a Path,
    sip_port: u16,
    prov_port: u16,
}

/// A device whose only configuration is the nginx provisioning server; its
/// per-device file there holds the SIP settings.
fn device(
    servers: &Servers<'_>,
    root: &Path,
    mac: &str,
    user: &str,
    policy: &str,
) -> RunningDevice {
    device_with(servers, root, mac, user, policy, servers.sip_port, "")
}

/// As [`device`], with another proxy port and extra configuration lines.
fn device_with(
    servers: &Servers<'_>,
    root: &Path,
    mac: &str,
    user: &str,
    policy: &str,
    sip_port: u16,
    extra: &str,
) -> RunningDevice {
    let minted = mint_device(servers.ca, &DeviceRequest::new(mac.parse().unwrap())).unwrap();
    minted.write_factory(&root.join("factory")).unwrap();
    std::fs::write(
        root.join("factory/vendor-chain.pem"),
        servers.ca.chain_pem(),
    )
    .unwrap();
    std::fs::create_dir_all(root.join("user")).unwrap();
    std::fs::write(
        root.join("user/config.conf"),
        format!(
            "prov.server = https://127.0.0.1:{}/prov\n",
            servers.prov_port
        ),
    )
    .unwrap();
    std::fs::write(
        servers.www.join(format!("prov/algom{}.conf", mac.replace(':', ""))),
        format!(
            "sip.proxy = 127.0.0.1:{sip_port}\nsip.u1.user = {user}\nsip.u1.pwd = {PASSWORD}\nsip.srtp.offer = {policy}\nsip.tls.listen = 0\n{extra}"
        ),
    )
    .unwrap();
    let running = DeviceDir::open(root)
        .unwrap()
        .boot(RunOptions::default(), &mut |s| println!("{user}: {s}"))
        .unwrap_or_else(|f| panic!("{user}: {f}"));
    let p = running.status().provisioning;
    assert_eq!(p.result, "applied", "{user}: {p:?}");
    assert!(
        p.server.as_deref().unwrap_or("").starts_with("verified"),
        "{p:?}"
    );
    running
}

fn call(from: &RunningDevice, to: &str, policy: OfferPolicy) -> CallStatus {
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

/// The callee's record of its latest incoming call (bounded wait for it to end).
fn callee_call(device: &RunningDevice) -> CallStatus {
    for _ in 0..300 {
        if let Some(c) = device.status().calls.last() {
            if c.ended.is_some() {
                return c.clone();
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    device.status().calls.last().cloned().expect("a call")
}

#[test]
fn devices_register_and_call_each_other_through_kamailio() {
    let Some(bin) = peer(Peer::Kamailio) else {
        return;
    };
    let Some(nginx_bin) = peer(Peer::Nginx) else {
        return;
    };
    let kdir = tempfile::tempdir().unwrap();
    let ca = VendorCa::generate("Kamailio E2E Vendor").unwrap();
    mint_server(&ca, &ServerRequest::new(["127.0.0.1"]))
        .unwrap()
        .write_server(kdir.path())
        .unwrap();
    std::fs::write(kdir.path().join("vendor-chain.pem"), ca.chain_pem()).unwrap();
    let port = free_port();
    let tcp_port = free_port();
    let udp_port = free_port();
    configure(kdir.path(), port, tcp_port, udp_port);
    let mut kamailio = Kamailio::start(&bin, kdir.path(), port, &[]);
    let www = kdir.path().join("www");
    std::fs::create_dir_all(www.join("prov")).unwrap();
    let prov_port = free_port();
    let _nginx = Nginx::start(
        &nginx_bin,
        kdir.path(),
        &mtls_server(kdir.path(), prov_port, ""),
        &[prov_port],
    );
    let servers = Servers {
        ca: &ca,
        www: &www,
        sip_port: port,
        prov_port,
    };

    let dirs = tempfile::tempdir().unwrap();
    let d = dirs.path();
    let alice = device(
        &servers,
        &d.join("a"),
        "00:22:ee:10:00:01",
        "1001",
        "standard",
    );
    let bob = device(
        &servers,
        &d.join("b"),
        "00:22:ee:10:00:02",
        "1002",
        "standard",
    );
    let carol = device(
        &servers,
        &d.join("c"),
        "00:22:ee:10:00:03",
        "1003",
        "disabled",
    );
    // Kamailio writes its log line after it replied: wait for it (bounded).
    for mac in [
        "00:22:ee:10:00:01",
        "00:22:ee:10:00:02",
        "00:22:ee:10:00:03",
    ] {
        let log = kamailio.wait_log(&format!("cn={mac}"));
        assert!(
            log.contains(&format!("cn={mac}")),
            "{mac} not registered: {log}"
        );
    }
    assert_eq!(alice.status().connections[0].verification, "verified");

    // Standard ↔ Standard: SRTP both ways, frames decrypted on both sides.
    let a = call(&alice, "1002", OfferPolicy::Standard);
    let b = callee_call(&bob);
    assert!(a.established && a.encrypted, "{a:?}\n{}", kamailio.log());
    assert!(a.media.starts_with("SRTP"), "{a:?}");
    assert!(
        a.stats.packets_received > 0 && a.stats.srtp_auth_failures == 0,
        "{a:?}"
    );
    assert!(
        b.encrypted && b.stats.packets_received > 0 && b.stats.srtp_auth_failures == 0,
        "{b:?}"
    );
    // One second of media at 50 packets a second, give or take the edges.
    assert!((45..=55).contains(&a.stats.packets_sent), "{a:?}");

    // Standard → Disabled: the callee declines the SRTP-only offer with 488.
    let refused = call(&alice, "1003", OfferPolicy::Standard);
    assert!(!refused.established, "{refused:?}");
    assert!(
        refused.ended.as_deref().unwrap_or("").contains("488"),
        "{refused:?}"
    );

    // Optional → Disabled: plain RTP, said so.
    let plain = call(&alice, "1003", OfferPolicy::Optional);
    let c = callee_call(&carol);
    assert!(plain.established && !plain.encrypted, "{plain:?}");
    assert!(plain.media.starts_with("plain RTP"), "{plain:?}");
    assert!(
        plain.stats.packets_received > 0 && c.stats.packets_received > 0,
        "{plain:?} {c:?}"
    );

    // Disabled → Standard: the Standard callee answers 488.
    let back = call(&carol, "1001", OfferPolicy::Disabled);
    assert!(!back.established, "{back:?}");
    assert!(
        back.ended.as_deref().unwrap_or("").contains("488"),
        "{back:?}"
    );

    // Plain transports: signaling unencrypted, so SDES keys stay out of the SDP (SPEC M2).
    let dave = device_with(
        &servers,
        &d.join("d"),
        "00:22:ee:10:00:04",
        "1004",
        "optional",
        tcp_port,
        "sip.transport = tcp\n",
    );
    let erin = device_with(
        &servers,
        &d.join("e"),
        "00:22:ee:10:00:05",
        "1005",
        "optional",
        udp_port,
        "sip.transport = udp\n",
    );
    assert_eq!(dave.status().connections[0].verification, "not encrypted");
    let tcp_to_udp = call(&dave, "1005", OfferPolicy::Optional);
    let e = callee_call(&erin);
    assert!(
        tcp_to_udp.established && !tcp_to_udp.encrypted,
        "{tcp_to_udp:?}\n{}",
        kamailio.log()
    );
    assert!(
        tcp_to_udp.media.contains("over tcp signaling"),
        "{tcp_to_udp:?}"
    );
    assert!(
        tcp_to_udp.stats.packets_received > 0 && e.stats.packets_received > 0,
        "{tcp_to_udp:?} {e:?}"
    );
    // A Standard device over TLS refuses the plain offer of the TCP device.
    let refused_plain = call(&dave, "1001", OfferPolicy::Optional);
    assert!(!refused_plain.established, "{refused_plain:?}");
    assert!(
        refused_plain.ended.as_deref().unwrap_or("").contains("488"),
        "{refused_plain:?}"
    );
    // Standard over TCP cannot be configured without insecure signaling: the call is not placed.
    let not_placed = dave.dial("sip:1005@127.0.0.1", Some(OfferPolicy::Standard));
    assert!(
        matches!(&not_placed, Err(e) if e.to_string().contains("insecure_signaling")),
        "{not_placed:?}"
    );
    for dev in [dave, erin] {
        assert_eq!(dev.shutdown().registration.state, "idle");
    }

    // Kamailio restarts: every device reconnects and registers again by itself.
    drop(kamailio);
    kamailio = Kamailio::start(&bin, kdir.path(), port, &[]);
    let deadline = Instant::now() + Duration::from_secs(30);
    for dev in [&alice, &bob, &carol] {
        while dev.status().registration.successes < 2 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
        let r = dev.status().registration;
        assert!(
            r.successes >= 2,
            "not registered again: {r:?}\n{}",
            kamailio.log()
        );
    }
    // And calls work again through the new Kamailio.
    let again = call(&alice, "1002", OfferPolicy::Standard);
    assert!(
        again.established && again.encrypted,
        "{again:?}\n{}",
        kamailio.log()
    );

    for dev in [alice, bob, carol] {
        assert_eq!(dev.shutdown().registration.state, "idle");
    }
}
