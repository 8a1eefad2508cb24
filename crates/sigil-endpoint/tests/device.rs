//! The device end to end against the testkit servers: incoming calls on the
//! inbound SIP-over-TLS listener, provisioning failure keeping the last good
//! configuration, re-registration after the SIP server restarts, status JSON,
//! factory reset.

use std::collections::HashMap;

use std::time::Duration;

mod common;

use common::lab_sip::*;
use sigil_endpoint::{CallDirection, CallOptions, DeviceDir, Outcome, RunOptions};
use sigil_lab::{ProvisioningServer, SipServer};
use sigil_sip::dialog::EndReason;
use sigil_sip::Message;
use sigil_sip_tls::TlsPolicy;
use sigil_srtp::negotiate::OfferPolicy;

#[test]
fn incoming_calls_on_the_listener_srtp_answered_and_plain_refused_with_488() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = sigil_testkit::free_port();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:00:01",
        &sip_config(
            &sip,
            &format!(
                "sip.srtp.offer = standard\nsip.tls.listen = {port}\nsip.inbound.accept = verified\n"
            ),
        ),
    );
    let mut steps = Vec::new();
    let running = device
        .boot(RunOptions::default(), &mut |s| steps.push(s.clone()))
        .unwrap();
    let listener = running.listener_addr().expect("listener up");
    assert_eq!(listener.port(), port);
    assert!(steps
        .iter()
        .any(|s| s.step == "sip listener" && s.outcome == Outcome::Ok));

    let (reason, peer_frames) = call_device_directly(listener, &pki, OfferPolicy::Standard);
    assert_eq!(reason, EndReason::HungUp("test done".into()));
    assert!(peer_frames > 0, "the device's tone reached the peer");
    let status = running.status();
    let call = status.calls.last().unwrap();
    assert_eq!(call.direction, CallDirection::Incoming);
    assert!(call.encrypted && call.media.starts_with("SRTP"), "{call:?}");
    assert!(call.stats.packets_received > 0, "{call:?}");
    assert_eq!(call.stats.srtp_auth_failures, 0);
    assert!(status
        .connections
        .iter()
        .any(|c| c.purpose == "sip inbound" && c.verification == "client certificate verified"));

    let (reason, _) = call_device_directly(listener, &pki, OfferPolicy::Disabled);
    match reason {
        EndReason::Rejected {
            status, warning, ..
        } => {
            assert_eq!(status, 488);
            assert!(warning.unwrap_or_default().contains("SRTP"));
        }
        other => panic!("expected 488, got {other:?}"),
    }
    let json = running.status().to_json();
    assert!(json.contains("\"direction\": \"incoming\""));
    running.shutdown();
}

#[test]
fn provisioning_down_at_boot_keeps_the_last_good_configuration() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let mut files = HashMap::new();
    files.insert(
        "/p/algom0022ee000002.conf".to_owned(),
        sip_config(&sip, "sip.srtp.offer = optional\nsip.tls.listen = 0\n").into_bytes(),
    );
    let mut prov = ProvisioningServer::start(&pki.server, pki.devices.clone(), files).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:00:02",
        &format!("prov.server = https://{}/p\n", prov.addr()),
    );
    let first = device.boot(RunOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(first.status().provisioning.result, "applied");
    first.shutdown();

    prov.stop();
    drop(prov);
    let mut steps = Vec::new();
    let second = device
        .boot(RunOptions::default(), &mut |s| steps.push(s.clone()))
        .expect("boots on the last good configuration");
    let p = steps.iter().find(|s| s.step == "provisioning").unwrap();
    assert_eq!(p.outcome, Outcome::Warning);
    assert!(
        p.detail.contains("keeping the last good configuration"),
        "{}",
        p.detail
    );
    let status = second.status();
    assert_eq!(status.provisioning.result, "failed");
    assert_eq!(status.registration.state, "registered");
    assert_eq!(status.configuration.srtp_offer, "optional");
    second.shutdown();
}

/// A device registered to a lab SIP server, whose server then stops and
/// starts again on the same address once the device saw the loss. Returns
/// the device, the new server and the device's data directory.
fn registered_then_server_restarted(
    pki: &Pki,
    mac: &str,
) -> (sigil_endpoint::RunningDevice, SipServer, tempfile::TempDir) {
    let mut sip =
        SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let addr = sip.addr();
    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        pki,
        dir.path(),
        mac,
        &sip_config(&sip, "sip.tls.listen = 0\n"),
    );
    let running = device.boot(RunOptions::default(), &mut |_| {}).unwrap();
    assert_eq!(running.status().registration.successes, 1);
    sip.stop();
    drop(sip);
    // Bounded: the loss is seen at the next read.
    for _ in 0..100 {
        if !running.status().connections[0].up {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(!running.status().connections[0].up, "the loss was not seen");
    let sip = SipServer::start_on(
        addr,
        &pki.server,
        pki.devices.clone(),
        "127.0.0.1",
        PASSWORD,
    )
    .unwrap();
    (running, sip, dir)
}

#[test]
fn sip_server_restart_reconnects_and_registers_again() {
    let pki = pki();
    let (running, sip, _dir) = registered_then_server_restarted(&pki, "00:22:ee:00:00:03");
    // Bounded wait: reconnect backoff starts at 1 s (with jitter).
    let mut registered_again = false;
    for _ in 0..100 {
        if running.status().registration.successes >= 2 {
            registered_again = true;
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(registered_again, "{:?}", running.status().registration);
    assert!(sip
        .events()
        .iter()
        .any(|e| matches!(e, sigil_lab::RegistrarEvent::Registered { .. })));
    running.shutdown();
}

#[test]
fn wrong_password_fails_the_registration_step() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        "sip.proxy = 127.0.0.1:{}\nsip.u1.user = 1001\nsip.u1.pwd = wrong\nsip.tls.listen = 0\n",
        sip.addr().port()
    );
    let device = device_dir(&pki, dir.path(), "00:22:ee:00:00:04", &config);
    let failure = device.boot(RunOptions::default(), &mut |_| {}).unwrap_err();
    assert_eq!(failure.step, "registration");
    assert!(
        failure.error.to_string().contains("authentication failed"),
        "{}",
        failure.error
    );
    assert_eq!(failure.status.boot.last().unwrap().outcome, Outcome::Failed);
}

#[test]
fn untrusted_sip_server_fails_the_connection_step_with_the_reason() {
    let pki = pki();
    let other = pki_other();
    let sip = SipServer::start(&other.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:00:05",
        &sip_config(&sip, "sip.tls.listen = 0\n"),
    );
    let failure = device.boot(RunOptions::default(), &mut |_| {}).unwrap_err();
    assert_eq!(failure.step, "sip connection");
    let text = failure.error.to_string();
    assert!(text.to_lowercase().contains("issuer"), "{text}");
}

fn pki_other() -> Pki {
    pki()
}

#[test]
fn open_writes_only_under_user_and_factory_reset_keeps_the_factory_partition() {
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:00:06",
        "sip.proxy = 127.0.0.1:1\n",
    );
    let status = device.offline_status();
    assert_eq!(
        status.configuration.sip_proxy.as_deref(),
        Some("127.0.0.1:1")
    );
    assert_eq!(status.trust.vendor, 2);
    let top: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(top.len(), 2, "{top:?}");
    device.factory_reset().unwrap();
    assert!(dir.path().join("factory/device.pem").exists());
    assert!(!dir.path().join("user/config.conf").exists());
    let status = device.offline_status();
    assert!(!status.configuration.exists);
    assert_eq!(
        status.identity.unwrap().active,
        sigil_identity::ActiveIdentity::Factory
    );
    assert!(DeviceDir::open(dir.path().join("nope")).is_err());
}

/// A fake proxy speaking raw TLS: answers the REGISTER, then sends a message
/// that frames but does not parse, then an OPTIONS — which the device must
/// still answer on the same connection.
#[test]
fn garbage_from_the_proxy_is_dropped_and_the_connection_survives() {
    use sigil_sip::{Framer, FramerEvent, Header, HeaderName, Request};
    use std::io::{Read, Write};

    fn next_message(
        tls: &mut rustls::StreamOwned<rustls::ServerConnection, std::net::TcpStream>,
        framer: &mut Framer,
    ) -> Message {
        let mut buf = [0u8; 4096];
        // Bounded by the socket timeout and 100 reads.
        for _ in 0..100 {
            while let Some(ev) = framer.poll() {
                if let Ok(FramerEvent::Message(m)) = ev {
                    return m;
                }
            }
            let n = tls.read(&mut buf).unwrap();
            assert!(n > 0, "the device closed the connection");
            framer.push(&buf[..n]);
        }
        panic!("no message");
    }

    let pki = pki();
    let acceptor = sigil_sip_tls::Acceptor::new(
        &pki.server,
        sigil_sip_tls::ClientAuth::Required(pki.devices.clone()),
        &TlsPolicy::default(),
    )
    .unwrap();
    let config = acceptor.config().clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let proxy = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let conn = rustls::ServerConnection::new(config).unwrap();
        let mut tls = rustls::StreamOwned::new(conn, tcp);
        let mut framer = Framer::new();
        let Message::Request(register) = next_message(&mut tls, &mut framer) else {
            panic!("expected REGISTER");
        };
        let mut ok = sigil_lab::response_to(&register, 200, "OK");
        ok.headers
            .push(Header::new(HeaderName::Expires, "300").unwrap());
        tls.write_all(&Message::Response(ok).to_bytes()).unwrap();
        // Framed by Content-Length, but not SIP.
        tls.write_all(b"THIS IS NOT SIP AT ALL\r\nContent-Length: 4\r\n\r\njunk")
            .unwrap();
        let mut options = Request::new(
            sigil_sip::Method::Options,
            "sip:1001@127.0.0.1".parse().unwrap(),
        );
        for (name, value) in [
            (
                HeaderName::Via,
                "SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKgarbage1",
            ),
            (HeaderName::From, "<sip:proxy@127.0.0.1>;tag=p1"),
            (HeaderName::To, "<sip:1001@127.0.0.1>"),
            (HeaderName::CallId, "garbage-test@127.0.0.1"),
            (HeaderName::CSeq, "1 OPTIONS"),
            (HeaderName::MaxForwards, "70"),
        ] {
            options.headers.push(Header::new(name, value).unwrap());
        }
        tls.write_all(&Message::Request(options).to_bytes())
            .unwrap();
        let reply = next_message(&mut tls, &mut framer);
        let r = reply.as_response().expect("a response to OPTIONS").clone();
        // The stream goes back to the test so the connection stays open while it looks.
        (r.status, r.headers.call_id().map(str::to_owned), tls)
    });

    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:00:07",
        &format!(
            "sip.proxy = 127.0.0.1:{}\nsip.u1.user = 1001\nsip.tls.listen = 0\n",
            addr.port()
        ),
    );
    let running = device.boot(RunOptions::default(), &mut |_| {}).unwrap();
    let (status, call_id, tls) = proxy.join().unwrap();
    assert_eq!(status, 200);
    assert_eq!(call_id.as_deref(), Some("garbage-test@127.0.0.1"));
    let s = running.status();
    assert!(s.connections[0].up);
    assert_eq!(s.registration.state, "registered");
    drop(tls);
    drop(running);
}

#[test]
fn auto_answer_off_turns_incoming_calls_away_busy() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = sigil_testkit::free_port();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:00:08",
        &sip_config(
            &sip,
            &format!(
                "sip.auto_answer = 0\nsip.tls.listen = {port}\nsip.inbound.accept = verified\n"
            ),
        ),
    );
    let running = device.boot(RunOptions::default(), &mut |_| {}).unwrap();
    let listener = running.listener_addr().unwrap();
    let (reason, _) = call_device_directly(listener, &pki, OfferPolicy::Optional);
    assert!(
        matches!(reason, EndReason::Rejected { status: 486, .. }),
        "{reason:?}"
    );
    running.shutdown();
}

/// SDES keys travel in the SDP: with `sip.tls.validate = 0` whoever sits
/// between the device and the proxy may read them, and the call says so.
#[test]
fn srtp_keys_sent_to_an_unverified_server_are_flagged() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    for (validate, mac) in [(1, "00:22:ee:00:00:09"), (0, "00:22:ee:00:00:0a")] {
        let dir = tempfile::tempdir().unwrap();
        let device = device_dir(
            &pki,
            dir.path(),
            mac,
            &sip_config(
                &sip,
                &format!("sip.tls.listen = 0\nsip.tls.validate = {validate}\n"),
            ),
        );
        let running = device.boot(RunOptions::default(), &mut |_| {}).unwrap();
        // An integrator's "no timeout" must not overflow a deadline.
        let options = CallOptions {
            duration: Duration::from_millis(200),
            timeout: Duration::MAX,
            ..CallOptions::default()
        };
        let call = running
            .call_and_wait("sip:srtp-peer@127.0.0.1", options)
            .unwrap();
        assert!(call.established && call.encrypted, "{call:?}");
        let recorded = running.status().calls.last().cloned().unwrap();
        for c in [&call, &recorded] {
            match validate {
                1 => assert_eq!(c.key_exposure, None, "{c:?}"),
                _ => assert!(
                    c.key_exposure
                        .as_deref()
                        .is_some_and(|e| e.contains("keys sent over TLS to an unverified server")),
                    "{c:?}"
                ),
            }
        }
        running.shutdown();
    }
}

/// A proxy that answers the REGISTER, then floods the device with OPTIONS
/// and never reads a byte: the device's answers fill the socket buffers and
/// its writes block. Shutdown must still return, within its bounded wait.
#[test]
fn shutdown_is_bounded_when_the_proxy_stops_reading() {
    use sigil_sip::{Framer, FramerEvent, Header, HeaderName, Request};
    use std::io::{Read, Write};
    use std::sync::mpsc;

    let pki = pki();
    let acceptor = sigil_sip_tls::Acceptor::new(
        &pki.server,
        sigil_sip_tls::ClientAuth::Required(pki.devices.clone()),
        &TlsPolicy::default(),
    )
    .unwrap();
    let config = acceptor.config().clone();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let (stuck_tx, stuck_rx) = mpsc::channel::<usize>();
    let proxy = std::thread::spawn(move || {
        let (tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        tcp.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
        let mut tls = rustls::StreamOwned::new(rustls::ServerConnection::new(config).unwrap(), tcp);
        let mut framer = Framer::new();
        let mut buf = [0u8; 4096];
        // Bounded by the read timeout and 100 reads.
        let register = (0..100)
            .find_map(|_| {
                if let Some(Ok(FramerEvent::Message(Message::Request(r)))) = framer.poll() {
                    return Some(r);
                }
                let n = tls.read(&mut buf).unwrap();
                framer.push(&buf[..n]);
                None
            })
            .expect("a REGISTER");
        let mut ok = sigil_lab::response_to(&register, 200, "OK");
        ok.headers
            .push(Header::new(HeaderName::Expires, "300").unwrap());
        tls.write_all(&Message::Response(ok).to_bytes()).unwrap();
        // The flood: stops when a write blocks for 2 s (the device stopped
        // reading because its own writes are stuck), at most 50 000 requests.
        let mut sent = 0;
        for i in 0..50_000 {
            let mut options = Request::new(
                sigil_sip::Method::Options,
                "sip:1001@127.0.0.1".parse().unwrap(),
            );
            for (name, value) in [
                (
                    HeaderName::Via,
                    format!("SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKflood{i}"),
                ),
                (HeaderName::From, "<sip:proxy@127.0.0.1>;tag=f1".into()),
                (HeaderName::To, "<sip:1001@127.0.0.1>".into()),
                (HeaderName::CallId, format!("flood-{i}@127.0.0.1")),
                (HeaderName::CSeq, "1 OPTIONS".into()),
                (HeaderName::MaxForwards, "70".into()),
            ] {
                options.headers.push(Header::new(name, value).unwrap());
            }
            if tls
                .write_all(&Message::Request(options).to_bytes())
                .is_err()
            {
                break;
            }
            sent += 1;
        }
        let _ = stuck_tx.send(sent);
        // Hold the connection, reading nothing, until the test is done.
        let _ = release_rx.recv_timeout(Duration::from_secs(60));
        sent
    });

    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:00:0b",
        &format!(
            "sip.proxy = 127.0.0.1:{}\nsip.u1.user = 1001\nsip.tls.listen = 0\n",
            addr.port()
        ),
    );
    let running = device.boot(RunOptions::default(), &mut |_| {}).unwrap();
    // Once the proxy's own writes block, the device has stopped reading:
    // it is stuck writing answers nobody reads. Stop it then.
    let stuck = stuck_rx.recv_timeout(Duration::from_secs(60));
    assert!(stuck.is_ok(), "the flood never filled the buffers");
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let status = running.shutdown();
        let _ = done_tx.send(status);
    });
    let stopped =
        done_rx.recv_timeout(sigil_endpoint::driver::SHUTDOWN_WAIT + Duration::from_secs(10));
    let _ = release_tx.send(());
    let sent = proxy.join().unwrap();
    assert!(sent > 0, "the proxy sent its flood");
    assert!(
        stopped.is_ok(),
        "shutdown did not return while the proxy held the connection without reading"
    );
}

/// A shutdown asked for while the connection is down: the reconnect that
/// follows must not register again, and the binding from before the loss is
/// removed over the new connection before the device exits.
#[test]
fn shutdown_during_a_reconnect_never_registers_and_removes_the_binding() {
    use sigil_lab::RegistrarEvent;
    let pki = pki();
    let (running, sip, _dir) = registered_then_server_restarted(&pki, "00:22:ee:00:00:0c");
    // Shutdown now: the reconnect (backoff ≤ 1 s) happens during its wait.
    running.shutdown();
    let events = sip.events();
    assert!(
        !events
            .iter()
            .any(|e| matches!(e, RegistrarEvent::Registered { .. })),
        "registered while stopping: {events:?}"
    );
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RegistrarEvent::Unregistered { .. })),
        "the old binding was not removed: {events:?}"
    );
    assert_eq!(sip.binding("sip:1001@127.0.0.1"), None);
}

/// A config.conf damaged on disk (here: cut short, then NUL bytes) does not
/// take the device offline: boot uses the last good copy, and says so.
#[test]
fn damaged_configuration_boots_from_the_last_good_copy() {
    use sigil_provisioning::{ApplyOptions, ConfigStore};
    let pki = pki();
    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(&pki, dir.path(), "00:22:ee:00:00:0d", "");
    let store = ConfigStore::new(dir.path().join("user"));
    let good = "sip.proxy = pbx.example.com\nprov.server = https://prov.example.com/\n";
    store
        .apply("good", good.as_bytes(), ApplyOptions::default())
        .unwrap();
    store
        .apply("more", b"sip.u1.user = 1001\n", ApplyOptions::default())
        .unwrap();
    for damage in [
        &b"sip.proxy = pbx.example.com\nprov.ser"[..],
        &b"\0\0\0\0"[..],
    ] {
        std::fs::write(store.path(), damage).unwrap();
        let status = device.offline_status();
        let c = &status.configuration;
        assert!(c.exists, "the damaged file exists: {c:?}");
        assert!(c.source.contains("config.conf.bak"), "{c:?}");
        assert_eq!(c.sip_proxy.as_deref(), Some("pbx.example.com"));
        assert_eq!(c.prov_server.as_deref(), Some("https://prov.example.com/"));
        let step = status
            .boot
            .iter()
            .find(|s| s.step == "configuration")
            .unwrap();
        assert_eq!(step.outcome, Outcome::Warning, "{step:?}");
        assert!(step.detail.contains("damaged"), "{step:?}");
        assert!(
            status.problems.iter().any(|p| p.contains("damaged")),
            "{:?}",
            status.problems
        );
    }
}

/// SPEC E8: who may call the device on its listener. `registrar` (the
/// default) refuses everyone there with 403; `verified` answers only a peer
/// with a verified device certificate; `any` answers a stranger too.
#[test]
fn inbound_policy_decides_who_may_call_on_the_listener() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    for (n, accept, stranger_answered, device_answered) in [
        (1, "registrar", false, false),
        (2, "verified", false, true),
        (3, "any", true, true),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let port = sigil_testkit::free_port();
        let device = device_dir(
            &pki,
            dir.path(),
            &format!("00:22:ee:00:01:0{n}"),
            &sip_config(
                &sip,
                &format!("sip.tls.listen = {port}\nsip.inbound.accept = {accept}\n"),
            ),
        );
        let running = device.boot(RunOptions::default(), &mut |_| {}).unwrap();
        let listener = running.listener_addr().expect("listener up");
        for (with_certificate, answered) in [(false, stranger_answered), (true, device_answered)] {
            let (reason, _) =
                call_device_directly_as(listener, &pki, OfferPolicy::Optional, with_certificate);
            if answered {
                assert_eq!(
                    reason,
                    EndReason::HungUp("test done".into()),
                    "{accept}, certificate {with_certificate}"
                );
            } else {
                assert!(
                    matches!(reason, EndReason::Rejected { status: 403, .. }),
                    "{accept}, certificate {with_certificate}: {reason:?}"
                );
            }
        }
        // Refused requests touched nothing: only answered calls are in the status.
        let answered = running.status().calls.len();
        assert_eq!(
            answered,
            usize::from(stranger_answered) + usize::from(device_answered),
            "{accept}"
        );
        running.shutdown();
    }
}

/// Device-sized listener limits: at most two connections from one address
/// (a third is closed at once), whatever `sip.tls.listen.max` allows.
#[test]
fn a_third_connection_from_one_address_is_closed_at_once() {
    use std::io::Read;
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = sigil_testkit::free_port();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:02:01",
        &sip_config(
            &sip,
            &format!("sip.tls.listen = {port}\nsip.tls.listen.max = 8\n"),
        ),
    );
    let running = device.boot(RunOptions::default(), &mut |_| {}).unwrap();
    let listener = running.listener_addr().expect("listener up");
    let connect = || {
        let s = std::net::TcpStream::connect(listener).unwrap();
        s.set_read_timeout(Some(Duration::from_millis(500)))
            .unwrap();
        s
    };
    let (mut first, mut second) = (connect(), connect());
    let mut third = connect();
    let mut buf = [0u8; 16];
    // Closed by the device: EOF (or a reset), not a timeout.
    match third.read(&mut buf) {
        Ok(0) => {}
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the third connection was left open: {e}"
        ),
        Ok(n) => panic!("the third connection got {n} bytes"),
    }
    // The first two stay open (a TLS server waits for the client hello).
    for s in [&mut first, &mut second] {
        let e = s.read(&mut buf).unwrap_err();
        assert!(
            matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "{e}"
        );
    }
    running.shutdown();
}
