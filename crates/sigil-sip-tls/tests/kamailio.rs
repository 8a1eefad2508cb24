//! Our client against Kamailio 5.6 over TLS with device certificates
//! required (config in tests/kamailio/): digest registration, keep-alive,
//! reconnect and re-registration after a restart, refusal without a certificate.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::*;
use sigil_sip::{Credentials, RegistrationConfig, RegistrationEvent, Uri};
use sigil_sip_tls::{
    establish, Backoff, Client, ClientEvent, ClientOptions, ConnectionSettings, Error,
    RegisteredClient, RegisteredEvent, TlsPolicy,
};
use sigil_testkit::kamailio::{self, Kamailio};
use sigil_testkit::{free_port, peer, Peer};

const PASSWORD: &str = "lab-secret-42";

fn configure(dir: &Path, port: u16) {
    let templates = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/kamailio");
    kamailio::configure(
        &templates,
        dir,
        &[("@PORT@", &port.to_string()), ("@PASSWORD@", PASSWORD)],
    );
}

fn options(keepalive: Duration) -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(3),
        connection: ConnectionSettings {
            keepalive_interval: Some(keepalive),
            handshake_timeout: Duration::from_secs(5),
            ..ConnectionSettings::default()
        },
        reconnect: Some(Backoff {
            initial: Duration::from_millis(200),
            max: Duration::from_secs(1),
            jitter: 0.5,
        }),
    }
}

/// Polls until `want` matches an event (bounded by `within`); returns every event seen.
fn until(
    rc: &mut RegisteredClient,
    within: Duration,
    want: impl Fn(&RegisteredEvent) -> bool,
) -> Vec<String> {
    let deadline = Instant::now() + within;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Some(ev) = rc.poll(deadline.saturating_duration_since(Instant::now())) {
            let hit = want(&ev);
            seen.push(format!("{ev:?}"));
            if hit {
                return seen;
            }
        }
    }
    panic!("not seen within {within:?}; events: {seen:#?}");
}

#[test]
fn registers_keeps_alive_survives_a_restart_and_refuses_certless_devices() {
    let Some(bin) = peer(Peer::Kamailio) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write_files(dir.path());
    let port = free_port();
    configure(dir.path(), port);
    let mut kamailio = Kamailio::start(&bin, dir.path(), port, &["-n", "2"]);
    let server = format!("127.0.0.1:{port}");

    // Register with digest over mutual TLS.
    let client = Client::connect(
        pki.connector(&TlsPolicy::default(), true),
        &server,
        options(Duration::from_secs(1)),
    )
    .unwrap_or_else(|e| panic!("{e}\n{}", kamailio.log()));
    let info = client.tls_info().unwrap().clone();
    assert_eq!(info.verification_status(), "verified");
    assert!(info.client_auth.as_ref().is_some_and(|a| a.sent()));
    let mut rc = RegisteredClient::new(client, registration_for(&pki));
    until(&mut rc, Duration::from_secs(10), |e| {
        matches!(
            e,
            RegisteredEvent::Registration(RegistrationEvent::Registered { .. })
        )
    });
    let log = kamailio.wait_log(&format!("cn={MAC}\n"));
    assert!(
        log.contains("SIGIL challenge sip:alice@example.com"),
        "{log}"
    );
    let log = kamailio.wait_log("SIGIL registered");
    assert!(
        log.contains("SIGIL registered sip:alice@example.com contact=<sip:alice@127.0.0.1"),
        "{log}"
    );
    assert!(
        log.contains(&format!("cn={MAC}")),
        "Kamailio saw our device certificate: {log}"
    );

    // Keep-alive pings (every second here) are answered.
    until(&mut rc, Duration::from_secs(5), |e| {
        matches!(
            e,
            RegisteredEvent::Connection(ClientEvent::KeepAliveAnswered)
        )
    });

    // Restart Kamailio: the client notices, reconnects and registers again by itself.
    kamailio.stop();
    let mut kamailio = Kamailio::start(&bin, dir.path(), port, &["-n", "2"]);
    let seen = until(&mut rc, Duration::from_secs(30), |e| {
        matches!(e, RegisteredEvent::Connection(ClientEvent::Reconnected(_)))
    });
    assert!(seen.iter().any(|e| e.contains("Disconnected")), "{seen:#?}");
    until(&mut rc, Duration::from_secs(10), |e| {
        matches!(
            e,
            RegisteredEvent::Registration(RegistrationEvent::Registered { .. })
        )
    });
    let log = kamailio.wait_log("SIGIL registered");
    assert!(
        log.contains("SIGIL registered sip:alice@example.com"),
        "the restarted Kamailio has our binding: {log}"
    );

    // A device without a certificate is refused during the TLS handshake.
    let connector = pki.connector(&TlsPolicy::default(), false);
    let settings = options(Duration::from_secs(30)).connection;
    let refused = match establish(&connector, &server, Duration::from_secs(3), settings) {
        Err(e) => e,
        Ok((mut stream, mut conn)) => {
            // TLS 1.3: the refusal arrives right after our Finished.
            conn.send_ping(Instant::now()).unwrap();
            conn.write_tls_to(&mut stream).unwrap();
            stream
                .set_read_timeout(Some(Duration::from_secs(3)))
                .unwrap();
            let mut buf = [0u8; 4096];
            use std::io::Read;
            match stream.read(&mut buf) {
                Ok(0) => conn.handle_eof(Instant::now()).unwrap_err(),
                Ok(n) => conn.handle_input(&buf[..n], Instant::now()).unwrap_err(),
                Err(e) => panic!("no refusal: {e}"),
            }
        }
    };
    match refused {
        Error::Handshake(d) => assert_eq!(d.code(), "client_certificate_required", "{d}"),
        other => panic!("{other:?}"),
    }
    kamailio.stop();
}

fn registration_for(pki: &Pki) -> RegistrationConfig {
    let _ = pki;
    let contact = Uri::parse("sip:alice@127.0.0.1:5061;transport=tls").unwrap();
    let mut cfg = RegistrationConfig::new(
        Uri::parse("sip:example.com").unwrap(),
        Uri::parse("sip:alice@example.com").unwrap(),
        contact,
    );
    cfg.expires = 300;
    cfg.credentials = Some(Credentials::new("alice", PASSWORD));
    cfg
}
