//! Our client against `openssl s_server` on 127.0.0.1: versions, mutual TLS
//! with the vendor chain, and the diagnoses of broken server certificates.

mod common;

use std::path::Path;
use std::time::Duration;

use common::*;
use sigil_identity::mint::{mint_server, ServerRequest, VendorCa};
use sigil_sip_tls::{
    establish, ClientAuthOutcome, ConnectionEvent, ConnectionSettings, Connector, Error, TlsPolicy,
};
use sigil_testkit::openssl::SServer;
use sigil_testkit::{free_port, peer, Peer};

/// An s_server on the vendor-issued server certificate that demands a device
/// certificate under the vendor chain; `flag` picks the TLS version.
fn demanding_a_device(openssl: &Path, dir: &Path, flag: &str) -> SServer {
    let demand = [
        flag,
        "-Verify",
        "1",
        "-verify_return_error",
        "-CAfile",
        "vendor-chain.pem",
    ];
    SServer::start(openssl, dir, "server.pem", "server.key", &demand)
}

fn settings() -> ConnectionSettings {
    ConnectionSettings {
        keepalive_interval: None,
        handshake_timeout: Duration::from_secs(5),
        ..ConnectionSettings::default()
    }
}

/// Connects; on success sends a ping and reads for a moment, so a TLS 1.3
/// refusal that comes after the handshake is seen too.
fn probe(connector: &Connector, server: &SServer) -> Result<sigil_sip_tls::TlsInfo, Error> {
    let (mut stream, mut conn) = establish(
        connector,
        &server.addr.to_string(),
        Duration::from_secs(5),
        settings(),
    )?;
    let info = conn.tls_info().cloned().expect("connected");
    conn.send_ping(std::time::Instant::now())?;
    conn.write_tls_to(&mut stream)?;
    stream.set_read_timeout(Some(Duration::from_millis(300)))?;
    let mut buf = [0u8; 4096];
    for _ in 0..5 {
        use std::io::Read;
        match stream.read(&mut buf) {
            Ok(0) => {
                conn.handle_eof(std::time::Instant::now())?;
                break;
            }
            Ok(n) => conn.handle_input(&buf[..n], std::time::Instant::now())?,
            Err(_) => break,
        }
    }
    while let Some(ev) = conn.poll_event() {
        if let ConnectionEvent::Closed = ev {
            return Err(Error::Closed);
        }
    }
    Ok(info)
}

fn diagnosis(result: Result<sigil_sip_tls::TlsInfo, Error>) -> sigil_sip_tls::HandshakeDiagnosis {
    match result {
        Err(Error::Handshake(d)) => *d,
        other => panic!("expected a handshake diagnosis, got {other:?}"),
    }
}

#[test]
fn tls12_and_tls13_servers_requiring_the_vendor_chain_accept_our_factory_identity() {
    let Some(openssl) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write_files(dir.path());
    for (flag, version) in [("-tls1_2", "TLSv1.2"), ("-tls1_3", "TLSv1.3")] {
        let server = demanding_a_device(&openssl, dir.path(), flag);
        let connector = pki.connector(&TlsPolicy::default(), true);
        let info = probe(&connector, &server).unwrap_or_else(|e| panic!("{flag}: {e}"));
        assert_eq!(info.version, version);
        assert!(
            info.cipher_suite.contains("AES_256_GCM"),
            "{}",
            info.cipher_suite
        );
        assert_eq!(info.verification_status(), "verified");
        assert!(
            matches!(info.client_auth, Some(ClientAuthOutcome::Presented { .. })),
            "{info:?}"
        );
        let log = std::fs::read_to_string(&server.log).unwrap();
        assert!(
            log.contains(MAC),
            "s_server saw our device certificate: {log}"
        );
    }
}

#[test]
fn tls11_only_server_is_refused_with_a_version_diagnosis() {
    let Some(openssl) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write_files(dir.path());
    let server = SServer::start(
        &openssl,
        dir.path(),
        "server.pem",
        "server.key",
        &["-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0"],
    );
    let d = diagnosis(probe(&pki.connector(&TlsPolicy::default(), true), &server));
    assert_eq!(d.code(), "version_mismatch", "{d}");
    assert!(d.fix().contains("TLS 1.2"), "{}", d.fix());
}

#[test]
fn server_demanding_a_certificate_we_do_not_have() {
    let Some(openssl) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write_files(dir.path());
    for flag in ["-tls1_2", "-tls1_3"] {
        let server = demanding_a_device(&openssl, dir.path(), flag);
        let d = diagnosis(probe(&pki.connector(&TlsPolicy::default(), false), &server));
        assert_eq!(d.code(), "client_certificate_required", "{flag}: {d}");
    }
}

#[test]
fn another_vendors_device_is_rejected_by_the_server() {
    let Some(openssl) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    let other = Pki::new();
    pki.write_files(dir.path());
    for flag in ["-tls1_2", "-tls1_3"] {
        let server = demanding_a_device(&openssl, dir.path(), flag);
        let connector = Connector::new(
            DOMAIN,
            &TlsPolicy::default(),
            pki.store(),
            Some(other.resolver()),
        )
        .unwrap();
        let d = diagnosis(probe(&connector, &server));
        assert_eq!(d.code(), "client_certificate_rejected", "{flag}: {d}");
    }
}

fn write_server(dir: &Path, name: &str, minted: &sigil_identity::mint::Minted) {
    std::fs::write(dir.join(format!("{name}.pem")), minted.full_chain_pem()).unwrap();
    std::fs::write(dir.join(format!("{name}.key")), minted.key_pem()).unwrap();
}

#[test]
fn wrong_domain_untrusted_and_expired_server_certificates() {
    let Some(openssl) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write_files(dir.path());
    let policy = TlsPolicy::default();

    // Wrong domain: the certificate is for example.com, we contact example.net.
    let server = SServer::start(&openssl, dir.path(), "server.pem", "server.key", &[]);
    let connector =
        Connector::new("example.net", &policy, pki.store(), Some(pki.resolver())).unwrap();
    let d = diagnosis(probe(&connector, &server));
    match &d {
        sigil_sip_tls::HandshakeDiagnosis::NameMismatch {
            expected,
            presented,
            ..
        } => {
            assert!(expected.contains("example.net"), "{expected}");
            assert!(
                presented.iter().any(|p| p == "URI:sip:example.com"),
                "{presented:?}"
            );
        }
        other => panic!("{other:?}"),
    }

    // Untrusted: a store with the built-in roots only.
    let store = std::sync::Arc::new(sigil_trust::TrustStore::builder().build());
    let connector = Connector::new(DOMAIN, &policy, store, Some(pki.resolver())).unwrap();
    let d = diagnosis(probe(&connector, &server));
    match &d {
        sigil_sip_tls::HandshakeDiagnosis::Untrusted { issuer, .. } => {
            assert!(issuer.contains("Sigil Test Vendor"), "{issuer}")
        }
        other => panic!("{other:?}"),
    }

    // Expired server certificate.
    let mut req = ServerRequest::new(["sip:example.com"]);
    req.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(400);
    req.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(35);
    write_server(
        dir.path(),
        "expired",
        &mint_server(&pki.vendor, &req).unwrap(),
    );
    let server = SServer::start(&openssl, dir.path(), "expired.pem", "expired.key", &[]);
    let d = diagnosis(probe(&pki.connector(&policy, true), &server));
    assert_eq!(d.code(), "expired", "{d}");

    // Self-signed by a stranger, and validation off: encrypted, not verified.
    let stranger = VendorCa::generate("Stranger").unwrap();
    write_server(
        dir.path(),
        "stranger",
        &mint_server(&stranger, &ServerRequest::new(["sip.other.org"])).unwrap(),
    );
    let server = SServer::start(&openssl, dir.path(), "stranger.pem", "stranger.key", &[]);
    let off = TlsPolicy {
        validate: false,
        ..TlsPolicy::default()
    };
    let info = probe(&pki.connector(&off, true), &server).unwrap();
    assert_eq!(info.verification_status(), "not verified");
}

#[test]
fn nothing_listening_is_a_tcp_diagnosis() {
    let pki = Pki::new();
    let port = free_port();
    let connector = pki.connector(&TlsPolicy::default(), true);
    let r = establish(
        &connector,
        &format!("127.0.0.1:{port}"),
        Duration::from_secs(2),
        settings(),
    );
    let d = match r {
        Err(Error::Handshake(d)) => *d,
        other => panic!("{other:?}"),
    };
    assert_eq!(d.code(), "tcp_refused");
}

#[test]
fn unanswered_pings_fail_the_connection_and_the_client_reconnects() {
    let Some(openssl) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write_files(dir.path());
    // s_server prints what it receives and never answers a CRLFCRLF ping.
    let server = SServer::start(&openssl, dir.path(), "server.pem", "server.key", &[]);
    let options = sigil_sip_tls::ClientOptions {
        connect_timeout: Duration::from_secs(3),
        connection: ConnectionSettings {
            keepalive_interval: Some(Duration::from_millis(200)),
            pong_timeout: Duration::from_millis(500),
            ..settings()
        },
        reconnect: Some(sigil_sip_tls::Backoff {
            initial: Duration::from_millis(100),
            max: Duration::from_millis(400),
            jitter: 0.5,
        }),
    };
    let mut client = sigil_sip_tls::Client::connect(
        pki.connector(&TlsPolicy::default(), true),
        &server.addr.to_string(),
        options,
    )
    .unwrap();
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while std::time::Instant::now() < deadline {
        if let Some(ev) = client.recv(Duration::from_millis(200)) {
            let done = matches!(ev, sigil_sip_tls::ClientEvent::Reconnected(_));
            seen.push(format!("{ev:?}"));
            if done {
                break;
            }
        }
    }
    let kinds: Vec<&str> = seen
        .iter()
        .map(|s| s.split([' ', '(', '{']).next().unwrap_or(""))
        .collect();
    let failed = kinds
        .iter()
        .position(|k| *k == "KeepAliveFailed")
        .expect("keep-alive failure");
    assert_eq!(kinds.get(failed + 1), Some(&"Disconnected"), "{seen:#?}");
    assert!(
        seen[failed + 1].contains("no keep-alive pong within 500ms"),
        "{seen:#?}"
    );
    assert_eq!(kinds.last(), Some(&"Reconnected"), "{seen:#?}");
}

#[test]
fn servers_offering_only_cbc_or_other_suites_get_a_cipher_diagnosis() {
    let Some(openssl) = peer(Peer::Openssl) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let pki = Pki::new();
    pki.write_files(dir.path());
    // A TLS 1.2 server with only an ECDHE CBC suite: we never offer CBC.
    let cbc = SServer::start(
        &openssl,
        dir.path(),
        "server.pem",
        "server.key",
        &[
            "-tls1_2",
            "-cipher",
            "ECDHE-ECDSA-AES128-SHA256:ECDHE-ECDSA-AES128-SHA",
        ],
    );
    let d = diagnosis(probe(&pki.connector(&TlsPolicy::default(), true), &cbc));
    assert_eq!(d.code(), "no_common_cipher", "{d}");

    // A TLS 1.3 server with only AES-128-GCM against our AES-256 restriction.
    let aes128 = SServer::start(
        &openssl,
        dir.path(),
        "server.pem",
        "server.key",
        &["-tls1_3", "-ciphersuites", "TLS_AES_128_GCM_SHA256"],
    );
    let aes256 = TlsPolicy {
        ciphers: sigil_sip_tls::CipherPolicy::parse("AES256").unwrap(),
        ..TlsPolicy::default()
    };
    let d = diagnosis(probe(&pki.connector(&aes256, true), &aes128));
    assert_eq!(d.code(), "no_common_cipher", "{d}");
    // Without the restriction the same server works, with AES-128-GCM.
    let info = probe(&pki.connector(&TlsPolicy::default(), true), &aes128).unwrap();
    assert_eq!(info.cipher_suite, "TLS13_AES_128_GCM_SHA256");
}

#[test]
fn a_silent_server_hits_the_handshake_timeout() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let holder = std::thread::spawn(move || {
        // Accept and say nothing for a while.
        let conn = listener.accept();
        std::thread::sleep(Duration::from_secs(2));
        drop(conn);
    });
    let pki = Pki::new();
    let s = ConnectionSettings {
        handshake_timeout: Duration::from_millis(300),
        ..settings()
    };
    let r = establish(
        &pki.connector(&TlsPolicy::default(), true),
        &addr.to_string(),
        Duration::from_secs(2),
        s,
    );
    match r {
        Err(Error::Handshake(d)) => assert_eq!(d.code(), "handshake_timeout", "{d}"),
        other => panic!("{other:?}"),
    }
    holder.join().unwrap();
}
