//! The async driver (feature `tokio`) end to end against the lab SIP
//! server: boot and registration, an SRTP call to the lab's `srtp-peer`
//! with media both ways, an incoming call on the listener, the boot's
//! failure step, and shutdown — explicit or by dropping the handle —
//! removing the binding. Each test runs on a current-thread runtime, so
//! anything in the driver that blocked would stall it; every wait is
//! bounded by `tokio::time::timeout`.
//!
//! `cargo test -p sigil-endpoint --features tokio --test tokio_driver`
#![cfg(feature = "tokio")]

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::lab_sip::*;
use sigil_endpoint::{
    AsyncDevice, BootStep, CallDirection, CallOptions, DeviceDir, Event, Outcome, RunOptions,
};
use sigil_lab::{RegistrarEvent, SipServer};
use sigil_sip::dialog::EndReason;
use sigil_srtp::negotiate::OfferPolicy;
use tokio::sync::broadcast;
use tokio::time::timeout;

const AOR: &str = "sip:1001@127.0.0.1";
/// Boot: TLS handshake and REGISTER on loopback (the boot's own limit is 10 s).
const BOOT: Duration = Duration::from_secs(30);
/// Shutdown: the driver's own bound, and some.
const SHUTDOWN: Duration = Duration::from_secs(15);

async fn boot(device: &DeviceDir, steps: &mut Vec<BootStep>) -> AsyncDevice {
    timeout(
        BOOT,
        device.boot_async(RunOptions::default(), &mut |s| steps.push(s.clone())),
    )
    .await
    .expect("boot within its bound")
    .expect("boots")
}

fn step<'a>(steps: &'a [BootStep], name: &str) -> &'a BootStep {
    steps
        .iter()
        .find(|s| s.step == name)
        .unwrap_or_else(|| panic!("no step {name}: {steps:?}"))
}

/// The next event matching `want`, within `within`.
async fn next_event(
    events: &mut broadcast::Receiver<Event>,
    within: Duration,
    want: impl Fn(&Event) -> bool,
) -> Event {
    let found = timeout(within, async {
        // Bounded by the timeout around it.
        loop {
            match events.recv().await {
                Ok(e) if want(&e) => return e,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("the event stream ended"),
            }
        }
    })
    .await;
    found.expect("the event in time")
}

/// Polls `done` every 20 ms until it holds or `within` passes.
async fn eventually(within: Duration, done: impl Fn() -> bool) -> bool {
    timeout(within, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .is_ok()
}

/// Integrators spawn these on multi-threaded runtimes and share the handle
/// between tasks: they must be `Send` (and the handle `Sync`). Compiling is the test.
#[allow(dead_code)]
fn the_handle_and_its_futures_are_send(dir: &DeviceDir, device: &AsyncDevice) {
    fn send<T: Send>(_: T) {}
    fn shared<T: Send + Sync>(_: &T) {}
    shared(device);
    send(dir.boot_async(RunOptions::default(), &mut |_| {}));
    send(device.dial("sip:srtp-peer@127.0.0.1", None));
    send(device.wait_ended(sigil_endpoint::CallId(1)));
    send(device.status());
    send(device.clone().shutdown());
}

#[tokio::test]
async fn boots_registers_calls_the_srtp_peer_and_unregisters_on_shutdown() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:01:01",
        &sip_config(&sip, "sip.srtp.offer = standard\nsip.tls.listen = 0\n"),
    );
    let mut steps = Vec::new();
    let running = boot(&device, &mut steps).await;
    assert_eq!(step(&steps, "sip connection").outcome, Outcome::Ok);
    assert_eq!(step(&steps, "sip listener").outcome, Outcome::Skipped);
    assert_eq!(step(&steps, "registration").outcome, Outcome::Ok);
    assert_eq!(step(&steps, "ready").outcome, Outcome::Ok);
    assert!(sip.binding(AOR).is_some(), "registered");
    let status = running.status().await;
    assert_eq!(status.registration.state, "registered");
    assert_eq!(status.boot.last().map(|s| s.step.as_str()), Some("ready"));
    assert!(status.connections[0].up);

    // An SRTP call: established, media both ways.
    let mut events = running.subscribe();
    let call = running.dial("sip:srtp-peer@127.0.0.1", None).await.unwrap();
    let established = timeout(Duration::from_secs(20), running.wait_established(call))
        .await
        .expect("established in time")
        .unwrap();
    assert!(established);
    let event = next_event(
        &mut events,
        Duration::from_secs(5),
        |e| matches!(e, Event::CallEstablished { call: c, .. } if *c == call),
    )
    .await;
    assert!(
        matches!(event, Event::CallEstablished { encrypted: true, ref media, .. } if media.starts_with("SRTP")),
        "{event:?}"
    );
    // The peer sends a second of tone; the device its own tone.
    let flowing = eventually(Duration::from_secs(10), || {
        sip.calls()
            .last()
            .is_some_and(|c| c.stats.packets_received >= 10)
    })
    .await;
    assert!(
        flowing,
        "the peer did not receive the device's media: {:?}",
        sip.calls()
    );
    let mid = running.status().await;
    let live = mid.calls.iter().find(|c| c.id == call).unwrap();
    assert!(live.stats.packets_sent > 0, "{live:?}");
    running.hangup(call).await.unwrap();
    let ended = timeout(Duration::from_secs(10), running.wait_ended(call))
        .await
        .expect("ended in time")
        .unwrap();
    assert!(ended.established && ended.encrypted, "{ended:?}");
    assert_eq!(ended.direction, CallDirection::Outgoing);
    assert!(ended.media.starts_with("SRTP"), "{ended:?}");
    assert!(ended.stats.packets_sent > 0, "{ended:?}");
    assert!(ended.stats.packets_received > 0, "{ended:?}");
    assert_eq!(ended.stats.srtp_auth_failures, 0, "{ended:?}");
    let peer = sip.calls().last().cloned().unwrap();
    assert_eq!(peer.peer, "srtp-peer");
    assert!(peer.media.starts_with("SRTP"), "{peer:?}");
    assert!(peer.acked, "{peer:?}");
    assert!(peer.stats.packets_received > 0, "{peer:?}");
    assert!(
        eventually(Duration::from_secs(5), || sip
            .calls()
            .last()
            .is_some_and(|c| c.ended))
        .await,
        "the peer did not see the BYE"
    );

    // The convenience call, as the blocking handle has it; "no timeout" must not overflow.
    let options = CallOptions {
        duration: Duration::from_millis(300),
        timeout: Duration::MAX,
        ..CallOptions::default()
    };
    let summary = timeout(
        Duration::from_secs(30),
        running.call_and_wait("sip:srtp-peer@127.0.0.1", options),
    )
    .await
    .expect("the call ends in time")
    .unwrap();
    assert!(summary.established && summary.encrypted, "{summary:?}");

    // Shutdown: binding removed, the event stream says so and ends.
    let last = timeout(SHUTDOWN, running.clone().shutdown())
        .await
        .expect("shutdown within its bound");
    assert!(running.is_stopped());
    assert_eq!(sip.binding(AOR), None, "the binding is gone");
    assert!(sip
        .events()
        .iter()
        .any(|e| matches!(e, RegistrarEvent::Unregistered { .. })));
    assert_eq!(last.calls.len(), 2, "{:?}", last.calls);
    next_event(&mut events, Duration::from_secs(5), |e| {
        matches!(e, Event::Unregistered)
    })
    .await;
    next_event(&mut events, Duration::from_secs(5), |e| {
        matches!(e, Event::Stopped)
    })
    .await;
    let closed = timeout(Duration::from_secs(5), events.recv()).await;
    assert!(
        matches!(closed, Ok(Err(broadcast::error::RecvError::Closed))),
        "{closed:?}"
    );
    // A stopped device refuses, and keeps its last status.
    assert!(running.dial("sip:srtp-peer@127.0.0.1", None).await.is_err());
    assert_eq!(running.status().await.calls.len(), 2);
}

#[tokio::test]
async fn dropping_every_handle_shuts_the_device_down_and_unregisters() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:01:02",
        &sip_config_with(&sip, PASSWORD, "sip.tls.listen = 0\n"),
    );
    let running = boot(&device, &mut Vec::new()).await;
    let mut events = running.subscribe();
    assert!(sip.binding(AOR).is_some());
    drop(running);
    next_event(&mut events, SHUTDOWN, |e| matches!(e, Event::Stopped)).await;
    assert!(
        eventually(Duration::from_secs(5), || sip.binding(AOR).is_none()).await,
        "the binding is still there"
    );
}

#[tokio::test]
async fn a_wrong_password_fails_the_registration_step() {
    let pki = pki();
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:01:03",
        &sip_config_with(&sip, "not-the-password", "sip.tls.listen = 0\n"),
    );
    let mut steps = Vec::new();
    let failure = timeout(
        BOOT,
        device.boot_async(RunOptions::default(), &mut |s| steps.push(s.clone())),
    )
    .await
    .expect("the boot ends in time")
    .expect_err("the registrar refuses");
    assert_eq!(failure.step, "registration");
    assert_eq!(step(&steps, "sip connection").outcome, Outcome::Ok);
    assert_eq!(step(&steps, "registration").outcome, Outcome::Failed);
    assert_eq!(
        failure.status.boot.last().map(|s| s.outcome),
        Some(Outcome::Failed)
    );
    assert_eq!(sip.binding(AOR), None);
}

#[tokio::test]
async fn an_incoming_srtp_call_on_the_listener_is_answered() {
    let pki = Arc::new(pki());
    let sip = SipServer::start(&pki.server, pki.devices.clone(), "127.0.0.1", PASSWORD).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let port = sigil_testkit::free_port();
    let device = device_dir(
        &pki,
        dir.path(),
        "00:22:ee:00:01:04",
        &sip_config(&sip, &format!(
                "sip.srtp.offer = standard\nsip.tls.listen = {port}\nsip.inbound.accept = verified\n"
            ),
        ),
    );
    let mut steps = Vec::new();
    let running = boot(&device, &mut steps).await;
    assert_eq!(step(&steps, "sip listener").outcome, Outcome::Ok);
    let listener = running.listener_addr().await.expect("listener up");
    assert_eq!(listener.port(), port);
    let mut events = running.subscribe();

    let peer_pki = pki.clone();
    let (reason, peer_packets) = timeout(
        Duration::from_secs(30),
        tokio::task::spawn_blocking(move || {
            call_device_directly_as(listener, &peer_pki, OfferPolicy::Standard, true)
        }),
    )
    .await
    .expect("the direct call ends in time")
    .unwrap();
    assert_eq!(reason, EndReason::HungUp("test done".into()));
    assert!(peer_packets > 0, "the device's tone reached the peer");
    let event = next_event(&mut events, Duration::from_secs(5), |e| {
        matches!(e, Event::CallEnded { .. })
    })
    .await;
    let Event::CallEnded { status, .. } = event else {
        unreachable!()
    };
    assert_eq!(status.direction, CallDirection::Incoming);
    assert!(
        status.encrypted && status.media.starts_with("SRTP"),
        "{status:?}"
    );
    assert!(status.stats.packets_received > 0, "{status:?}");
    assert!(running
        .status()
        .await
        .connections
        .iter()
        .any(|c| c.purpose == "sip inbound" && c.verification == "client certificate verified"));
    timeout(SHUTDOWN, running.shutdown())
        .await
        .expect("shutdown within its bound");
    assert_eq!(sip.binding(AOR), None);
}
