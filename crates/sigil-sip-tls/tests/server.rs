//! The blocking server with the lab registrar, and our client registering to it.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use sigil_lab::{Registrar, RegistrarEvent};
use sigil_sip::{Credentials, RegistrationConfig, RegistrationEvent, Uri};
use sigil_sip_tls::{
    Backoff, Client, ClientAuth, ClientEvent, ClientOptions, ConnectionSettings, RegisteredClient,
    RegisteredEvent, Server, ServerOptions, TlsPolicy,
};

fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(3),
        connection: ConnectionSettings {
            keepalive_interval: Some(Duration::from_millis(300)),
            handshake_timeout: Duration::from_secs(5),
            ..ConnectionSettings::default()
        },
        reconnect: Some(Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(500),
            jitter: 0.5,
        }),
    }
}

#[test]
fn registrar_challenges_registers_logs_the_mac_and_shuts_down_cleanly() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let seen: Arc<Mutex<Vec<RegistrarEvent>>> = Arc::default();
    let sink = seen.clone();
    let registrar = Arc::new(
        Registrar::new(None, Some("pa55"))
            .with_reporter(move |e| sink.lock().unwrap().push(e.clone())),
    );
    let server = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy),
        ServerOptions::default(),
    )
    .unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let stop = server.shutdown_handle();
    let handler: Arc<dyn sigil_sip_tls::Handler> = registrar.clone();
    let thread = std::thread::spawn(move || server.run(handler));

    let client = Client::connect(pki.connector(&policy, true), &addr, options()).unwrap();
    let mut config = RegistrationConfig::new(
        Uri::parse("sip:example.com").unwrap(),
        Uri::parse("sip:alice@example.com").unwrap(),
        Uri::parse("sip:alice@127.0.0.1:5061;transport=tls").unwrap(),
    );
    config.credentials = Some(Credentials::new("alice", "pa55"));
    let mut rc = RegisteredClient::new(client, config);
    let deadline = Instant::now() + Duration::from_secs(10);
    let (mut registered, mut pongs) = (false, 0);
    while Instant::now() < deadline && !(registered && pongs >= 2) {
        match rc.poll(Duration::from_millis(200)) {
            Some(RegisteredEvent::Registration(RegistrationEvent::Registered { .. })) => {
                registered = true
            }
            Some(RegisteredEvent::Connection(ClientEvent::KeepAliveAnswered)) => pongs += 1,
            Some(RegisteredEvent::Registration(RegistrationEvent::Failed(f))) => panic!("{f}"),
            _ => {}
        }
    }
    assert!(
        registered && pongs >= 2,
        "registered={registered} pongs={pongs}"
    );
    assert_eq!(
        registrar.binding("sip:alice@example.com").as_deref(),
        Some("sip:alice@127.0.0.1:5061;transport=tls")
    );

    // A client with the wrong password is challenged again and fails.
    let client = Client::connect(pki.connector(&policy, true), &addr, options()).unwrap();
    let mut config = RegistrationConfig::new(
        Uri::parse("sip:example.com").unwrap(),
        Uri::parse("sip:bob@example.com").unwrap(),
        Uri::parse("sip:bob@127.0.0.1:5061;transport=tls").unwrap(),
    );
    config.credentials = Some(Credentials::new("bob", "wrong"));
    let mut bob = RegisteredClient::new(client, config);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut failed = false;
    while Instant::now() < deadline && !failed {
        if let Some(RegisteredEvent::Registration(RegistrationEvent::Failed(_))) =
            bob.poll(Duration::from_millis(200))
        {
            failed = true;
        }
    }
    assert!(failed);
    assert!(registrar.binding("sip:bob@example.com").is_none());

    // A client without a certificate never gets past TLS.
    let r = Client::connect(
        pki.connector(&policy, false),
        &addr,
        ClientOptions {
            reconnect: None,
            ..options()
        },
    );
    if let Ok(mut c) = r {
        // TLS 1.3: the refusal arrives after our Finished.
        let mut lost = false;
        for _ in 0..20 {
            if let Some(ClientEvent::Disconnected {
                reason, diagnosis, ..
            }) = c.recv(Duration::from_millis(100))
            {
                assert!(reason.contains("certificate"), "{reason}");
                assert_eq!(
                    diagnosis.map(|d| d.code()),
                    Some("client_certificate_required")
                );
                lost = true;
                break;
            }
        }
        assert!(lost);
    }

    drop(rc);
    drop(bob);
    stop.shutdown();
    let joined = thread.join().unwrap();
    assert!(joined.is_ok());
    let events = seen.lock().unwrap().clone();
    let text: Vec<String> = events.iter().map(ToString::to_string).collect();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RegistrarEvent::Connected { mac: Some(m), .. } if m == MAC)),
        "{text:#?}"
    );
    assert!(
        events.iter().any(|e| matches!(e, RegistrarEvent::Registered { mac: Some(m), expires: 3600, .. } if m == MAC)),
        "{text:#?}"
    );
    assert!(events
        .iter()
        .any(|e| matches!(e, RegistrarEvent::AuthFailed { .. })));
    assert!(
        events.iter().any(|e| matches!(e, RegistrarEvent::Refused { reason, .. } if reason.contains("no certificate"))),
        "{text:#?}"
    );
}

#[test]
fn reconnect_after_a_server_restart_resumes_the_tls_session() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    // The same acceptor (and so the same server session cache) across the restart.
    let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
    let start = |addr: &str| {
        let server = Server::bind(
            addr.parse().unwrap(),
            acceptor.clone(),
            ServerOptions::default(),
        )
        .unwrap();
        let addr = server.local_addr().unwrap().to_string();
        let stop = server.shutdown_handle();
        let registrar: Arc<dyn sigil_sip_tls::Handler> = Arc::new(Registrar::new(None, None));
        let thread = std::thread::spawn(move || server.run(registrar));
        (addr, stop, thread)
    };
    let (addr, stop, thread) = start("127.0.0.1:0");
    let mut client = Client::connect(pki.connector(&policy, true), &addr, options()).unwrap();
    assert!(!client.tls_info().unwrap().resumed);
    // Let the TLS 1.3 session tickets arrive (they follow the handshake).
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline {
        if let Some(ClientEvent::KeepAliveAnswered) = client.recv(Duration::from_millis(200)) {
            break;
        }
    }
    stop.shutdown();
    thread.join().unwrap().unwrap();

    let mut lost = false;
    let deadline = Instant::now() + Duration::from_secs(5);
    while Instant::now() < deadline && !lost {
        if let Some(ClientEvent::Disconnected { .. }) = client.recv(Duration::from_millis(100)) {
            lost = true;
        }
    }
    assert!(lost, "the client noticed the server going away");
    let (_addr, stop, thread) = start(&addr);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut info = None;
    while Instant::now() < deadline && info.is_none() {
        if let Some(ClientEvent::Reconnected(i)) = client.recv(Duration::from_millis(200)) {
            info = Some(i);
        }
    }
    let info = info.expect("reconnected");
    assert!(info.resumed, "{info:?}");
    assert!(client.is_connected());
    client.close();
    stop.shutdown();
    thread.join().unwrap().unwrap();
}

#[test]
fn a_silent_client_loses_its_slot_at_the_handshake_timeout() {
    let pki = Pki::new();
    let seen: Arc<Mutex<Vec<RegistrarEvent>>> = Arc::default();
    let sink = seen.clone();
    let registrar: Arc<dyn sigil_sip_tls::Handler> = Arc::new(
        Registrar::new(None, None).with_reporter(move |e| sink.lock().unwrap().push(e.clone())),
    );
    let mut options = ServerOptions::default();
    options.connection.handshake_timeout = Duration::from_millis(300);
    let server = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        pki.acceptor(
            ClientAuth::Required(pki.device_verifier()),
            &TlsPolicy::default(),
        ),
        options,
    )
    .unwrap();
    let addr = server.local_addr().unwrap();
    let stop = server.shutdown_handle();
    let thread = std::thread::spawn(move || server.run(registrar));

    let mut silent = std::net::TcpStream::connect(addr).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 64];
    // The server closes the connection: EOF (or a reset), not our read timeout.
    match std::io::Read::read(&mut silent, &mut buf) {
        Ok(n) => assert_eq!(n, 0),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionReset, "{e}"),
    }
    stop.shutdown();
    thread.join().unwrap().unwrap();
    let events = seen.lock().unwrap().clone();
    assert!(
        events
            .iter()
            .any(|e| matches!(e, RegistrarEvent::Refused { reason, .. } if reason.contains("did not complete"))),
        "{events:?}"
    );
}
