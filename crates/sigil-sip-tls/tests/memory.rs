//! Connector and acceptor talking in memory: handshakes, messages, keep-alive,
//! resumption, and the diagnoses of the usual failures.

mod common;

use std::time::{Duration, Instant};

use common::*;
use sigil_identity::mint::{mint_server, ServerRequest, VendorCa};
use sigil_sip_tls::{
    Acceptor, ClientAuth, ClientAuthOutcome, ConnectionEvent, ConnectionSettings, Connector, Error,
    HandshakeDiagnosis, TlsPolicy, TlsVersion,
};

fn settings() -> ConnectionSettings {
    ConnectionSettings {
        keepalive_interval: Some(Duration::from_secs(30)),
        ..ConnectionSettings::default()
    }
}

fn options() -> sigil_sip::Message {
    sigil_sip::parse(
        b"OPTIONS sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKabc\r\nFrom: <sip:dev@example.com>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: c1\r\nCSeq: 1 OPTIONS\r\nMax-Forwards: 70\r\nContent-Length: 0\r\n\r\n",
    )
    .unwrap()
}

fn connected_info(events: &[ConnectionEvent]) -> sigil_sip_tls::TlsInfo {
    events
        .iter()
        .find_map(|e| match e {
            ConnectionEvent::Connected(i) => Some(i.clone()),
            _ => None,
        })
        .expect("a Connected event")
}

#[test]
fn mutual_tls_handshake_names_the_device_and_verifies_the_server() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let connector = pki.connector(&policy, true);
    let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
    let now = Instant::now();
    let mut c = connector.connection(now, settings()).unwrap();
    let mut s = acceptor.connection(now, settings()).unwrap();
    c.send(&options()).unwrap(); // buffered until the handshake completes
    let (ce, se) = pump(&mut c, &mut s, now);
    assert!(ce.is_none() && se.is_none(), "{ce:?} {se:?}");

    let ci = connected_info(&events(&mut c));
    assert_eq!(ci.version, "TLSv1.3");
    assert_eq!(ci.cipher_suite, "TLS13_AES_256_GCM_SHA384");
    assert_eq!(ci.verification_status(), "verified");
    assert!(matches!(
        ci.client_auth,
        Some(ClientAuthOutcome::Presented { .. })
    ));
    assert!(!ci.resumed);
    assert_eq!(ci.peer_chain.len(), 2);

    let sev = events(&mut s);
    let si = connected_info(&sev);
    let device = si.peer_device.expect("the device");
    assert_eq!(device.mac.map(|m| m.to_string()).as_deref(), Some(MAC));
    assert_eq!(si.sni.as_deref(), Some(DOMAIN), "SNI is the SIP domain");
    let got: Vec<_> = sev
        .iter()
        .filter_map(|e| match e {
            ConnectionEvent::Message(m) => Some(m.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(got, vec![options()]);
}

#[test]
fn second_connection_resumes_the_session() {
    let pki = Pki::new();
    for version in [TlsVersion::Tls12, TlsVersion::Tls13] {
        let policy = TlsPolicy::default();
        let server_policy = TlsPolicy {
            min_version: version,
            ..TlsPolicy::default()
        };
        let connector = pki.connector(&policy, true);
        // A TLS 1.2-only server for the 1.2 case.
        let acceptor = if version == TlsVersion::Tls12 {
            tls12_only_acceptor(&pki)
        } else {
            pki.acceptor(ClientAuth::Required(pki.device_verifier()), &server_policy)
        };
        let now = Instant::now();
        for round in 0..2 {
            let mut c = connector.connection(now, settings()).unwrap();
            let mut s = acceptor.connection(now, settings()).unwrap();
            // Ping through so the TLS 1.3 ticket (sent after the handshake) reaches the client.
            let (ce, se) = pump(&mut c, &mut s, now);
            assert!(ce.is_none() && se.is_none(), "{ce:?} {se:?}");
            c.send(&options()).unwrap();
            let (ce, se) = pump(&mut c, &mut s, now);
            assert!(ce.is_none() && se.is_none(), "{ce:?} {se:?}");
            let ci = connected_info(&events(&mut c));
            assert_eq!(ci.resumed, round == 1, "{version:?} round {round}: {ci:?}");
            let si = connected_info(&events(&mut s));
            assert_eq!(si.resumed, round == 1);
            assert!(si.peer_device.is_some(), "identity survives resumption");
        }
    }
}

fn tls12_only_acceptor(pki: &Pki) -> Acceptor {
    // The policy floor cannot go below 1.2 and has no ceiling, so build the
    // 1.2-only server from rustls directly with the same certificate.
    let _ = pki;
    let id = identity(&pki.server);
    let config = rustls::ServerConfig::builder_with_provider(std::sync::Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_protocol_versions(&[&rustls::version::TLS12])
    .unwrap()
    .with_client_cert_verifier(pki.device_verifier())
    .with_single_cert(id.chain().to_vec(), key(&pki.server))
    .unwrap();
    AcceptorShim::from_config(config)
}

fn key(m: &sigil_identity::mint::Minted) -> rustls::pki_types::PrivateKeyDer<'static> {
    use rustls::pki_types::pem::PemObject;
    rustls::pki_types::PrivateKeyDer::from_pem_slice(m.key_pem().as_bytes()).unwrap()
}

struct AcceptorShim;
impl AcceptorShim {
    fn from_config(config: rustls::ServerConfig) -> Acceptor {
        Acceptor::from_config(std::sync::Arc::new(config), TlsPolicy::default())
    }
}

#[test]
fn keepalive_ping_pong_and_timeout() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let connector = pki.connector(&policy, true);
    let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
    let t0 = Instant::now();
    let mut c = connector.connection(t0, settings()).unwrap();
    let mut s = acceptor.connection(t0, settings()).unwrap();
    pump(&mut c, &mut s, t0);
    events(&mut c);
    events(&mut s);
    // The first ping is due 30 s after the handshake.
    let due = c.poll_timeout().unwrap();
    assert_eq!(due.duration_since(t0), Duration::from_secs(30));
    c.handle_timeout(due).unwrap();
    let (ce, se) = pump(&mut c, &mut s, due);
    assert!(ce.is_none() && se.is_none());
    assert_eq!(events(&mut s), vec![ConnectionEvent::PingAnswered]);
    assert_eq!(events(&mut c), vec![ConnectionEvent::PongReceived]);
    // Next ping 30 s after the pong; this time the server stays silent.
    let due2 = c.poll_timeout().unwrap();
    assert_eq!(due2.duration_since(due), Duration::from_secs(30));
    c.handle_timeout(due2).unwrap();
    let _lost = c.take_transmit();
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline.duration_since(due2), Duration::from_secs(10));
    assert!(c
        .handle_timeout(deadline - Duration::from_millis(1))
        .is_ok());
    assert!(matches!(
        c.handle_timeout(deadline),
        Err(Error::KeepAliveTimeout { after }) if after == Duration::from_secs(10)
    ));
}

#[test]
fn silent_client_hits_the_server_handshake_timeout() {
    let pki = Pki::new();
    let acceptor = pki.acceptor(
        ClientAuth::Required(pki.device_verifier()),
        &TlsPolicy::default(),
    );
    let t0 = Instant::now();
    let mut s = acceptor
        .connection(t0, ConnectionSettings::default())
        .unwrap();
    let due = s.poll_timeout().unwrap();
    assert_eq!(due.duration_since(t0), Duration::from_secs(10));
    let e = s.handle_timeout(due).unwrap_err();
    assert!(
        matches!(
            e.diagnosis(),
            Some(HandshakeDiagnosis::HandshakeTimeout { .. })
        ),
        "{e:?}"
    );
}

fn client_failure(
    connector: &Connector,
    acceptor: &Acceptor,
) -> (HandshakeDiagnosis, Option<Error>) {
    let now = Instant::now();
    let mut c = connector.connection(now, settings()).unwrap();
    let mut s = acceptor.connection(now, settings()).unwrap();
    let (ce, se) = pump(&mut c, &mut s, now);
    let (ce, se) = if ce.is_none() {
        // TLS 1.3: the refusal of our certificate arrives after our Finished.
        c.send(&options()).unwrap();
        let (ce2, se2) = pump(&mut c, &mut s, now);
        (ce2, se.or(se2))
    } else {
        (ce, se)
    };
    match ce {
        Some(Error::Handshake(d)) => (*d, se),
        other => panic!("expected a handshake diagnosis, got {other:?}"),
    }
}

#[test]
fn device_without_certificate_is_refused_with_both_diagnoses() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let connector = pki.connector(&policy, false);
    let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
    let (d, se) = client_failure(&connector, &acceptor);
    assert_eq!(d.code(), "client_certificate_required", "{d}");
    assert!(matches!(
        se.as_ref().and_then(Error::diagnosis),
        Some(HandshakeDiagnosis::ClientPresentedNoCertificate)
    ));
}

#[test]
fn optional_client_auth_accepts_both() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let acceptor = pki.acceptor(ClientAuth::Optional(pki.device_verifier()), &policy);
    for with_identity in [true, false] {
        let connector = pki.connector(&policy, with_identity);
        let now = Instant::now();
        let mut c = connector.connection(now, settings()).unwrap();
        let mut s = acceptor.connection(now, settings()).unwrap();
        c.send(&options()).unwrap();
        let (ce, se) = pump(&mut c, &mut s, now);
        assert!(ce.is_none() && se.is_none(), "{ce:?} {se:?}");
        let si = connected_info(&events(&mut s));
        assert_eq!(si.peer_device.is_some(), with_identity);
    }
}

#[test]
fn foreign_device_is_rejected_and_the_client_is_told() {
    let pki = Pki::new();
    let other = Pki::new(); // another vendor's device
    let policy = TlsPolicy::default();
    let connector = Connector::new(DOMAIN, &policy, pki.store(), Some(other.resolver())).unwrap();
    let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
    let (d, se) = client_failure(&connector, &acceptor);
    assert_eq!(d.code(), "client_certificate_rejected", "{d}");
    assert!(
        matches!(
            se.as_ref().and_then(Error::diagnosis),
            Some(HandshakeDiagnosis::ClientRefused { .. })
        ),
        "{se:?}"
    );
}

fn server_with(names: &[&str], ca: &VendorCa, expired: bool) -> sigil_identity::mint::Minted {
    let mut req = ServerRequest::new(names.iter().copied());
    if expired {
        req.not_before = time::OffsetDateTime::now_utc() - time::Duration::days(60);
        req.not_after = time::OffsetDateTime::now_utc() - time::Duration::days(30);
    }
    mint_server(ca, &req).unwrap()
}

fn future_server(ca: &VendorCa) -> sigil_identity::mint::Minted {
    let mut req = ServerRequest::new(["sip:example.com"]);
    req.not_before = time::OffsetDateTime::now_utc() + time::Duration::days(30);
    req.not_after = time::OffsetDateTime::now_utc() + time::Duration::days(400);
    mint_server(ca, &req).unwrap()
}

#[test]
fn server_certificate_problems_get_their_diagnosis() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let connector = pki.connector(&policy, true);
    let auth = || ClientAuth::Required(pki.device_verifier());

    let wrong = Acceptor::new(
        &identity(&server_with(&["sip.other.org"], &pki.vendor, false)),
        auth(),
        &policy,
    )
    .unwrap();
    let (d, _) = client_failure(&connector, &wrong);
    match &d {
        HandshakeDiagnosis::NameMismatch {
            expected,
            presented,
            ..
        } => {
            assert!(expected.contains("example.com"), "{expected}");
            assert_eq!(presented, &vec!["DNS:sip.other.org".to_owned()]);
        }
        other => panic!("{other:?}"),
    }

    let stranger = VendorCa::generate("Unknown Lab").unwrap();
    let untrusted = Acceptor::new(
        &identity(&server_with(&["sip:example.com"], &stranger, false)),
        auth(),
        &policy,
    )
    .unwrap();
    let (d, _) = client_failure(&connector, &untrusted);
    match &d {
        HandshakeDiagnosis::Untrusted { issuer, .. } => {
            assert!(issuer.contains("Unknown Lab"), "{issuer}")
        }
        other => panic!("{other:?}"),
    }
    assert!(d.fix().contains("certs/trusted"));

    let expired = Acceptor::new(
        &identity(&server_with(&["sip:example.com"], &pki.vendor, true)),
        auth(),
        &policy,
    )
    .unwrap();
    let (d, _) = client_failure(&connector, &expired);
    assert_eq!(d.code(), "expired", "{d}");
    assert!(d.to_string().contains("device clock"), "{d}");

    let future = Acceptor::new(&identity(&future_server(&pki.vendor)), auth(), &policy).unwrap();
    let (d, _) = client_failure(&connector, &future);
    assert_eq!(d.code(), "not_yet_valid", "{d}");
    assert!(d.fix().contains("clock"), "{}", d.fix());
}

#[test]
fn validation_off_connects_and_says_not_verified() {
    let pki = Pki::new();
    let stranger = VendorCa::generate("Unknown Lab").unwrap();
    let policy = TlsPolicy {
        validate: false,
        ..TlsPolicy::default()
    };
    let connector = pki.connector(&policy, true);
    let acceptor = Acceptor::new(
        &identity(&server_with(&["sip.other.org"], &stranger, false)),
        ClientAuth::Required(pki.device_verifier()),
        &policy,
    )
    .unwrap();
    let now = Instant::now();
    let mut c = connector.connection(now, settings()).unwrap();
    let mut s = acceptor.connection(now, settings()).unwrap();
    let (ce, se) = pump(&mut c, &mut s, now);
    assert!(ce.is_none() && se.is_none(), "{ce:?} {se:?}");
    let ci = connected_info(&events(&mut c));
    assert_eq!(ci.verification_status(), "not verified");
}

#[test]
fn tls13_floor_against_a_tls12_server_is_a_version_mismatch() {
    let pki = Pki::new();
    let policy = TlsPolicy {
        min_version: TlsVersion::Tls13,
        ..TlsPolicy::default()
    };
    let connector = pki.connector(&policy, true);
    let acceptor = tls12_only_acceptor(&pki);
    let (d, se) = client_failure(&connector, &acceptor);
    assert_eq!(d.code(), "version_mismatch", "{d}");
    assert!(se.is_some());
}

#[test]
fn cipher_restriction_is_what_gets_negotiated() {
    let pki = Pki::new();
    let policy = TlsPolicy {
        ciphers: sigil_sip_tls::CipherPolicy::parse("CHACHA20").unwrap(),
        ..TlsPolicy::default()
    };
    let connector = pki.connector(&policy, true);
    let acceptor = pki.acceptor(
        ClientAuth::Required(pki.device_verifier()),
        &TlsPolicy::default(),
    );
    let now = Instant::now();
    let mut c = connector.connection(now, settings()).unwrap();
    let mut s = acceptor.connection(now, settings()).unwrap();
    pump(&mut c, &mut s, now);
    assert_eq!(
        connected_info(&events(&mut c)).cipher_suite,
        "TLS13_CHACHA20_POLY1305_SHA256"
    );

    // A server restricted to AES-128 and a client to AES-256: nothing in common.
    let aes256 = TlsPolicy {
        ciphers: sigil_sip_tls::CipherPolicy::parse("AES256").unwrap(),
        ..TlsPolicy::default()
    };
    let aes128 = TlsPolicy {
        ciphers: sigil_sip_tls::CipherPolicy::parse("AES128").unwrap(),
        ..TlsPolicy::default()
    };
    let (d, _) = client_failure(
        &pki.connector(&aes256, true),
        &pki.acceptor(ClientAuth::Required(pki.device_verifier()), &aes128),
    );
    assert_eq!(d.code(), "no_common_cipher", "{d}");
}

#[test]
fn an_ip_addressed_proxy_is_matched_by_ip_and_gets_no_sni() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let connector =
        Connector::new("127.0.0.1", &policy, pki.store(), Some(pki.resolver())).unwrap();
    let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
    let now = Instant::now();
    let mut c = connector.connection(now, settings()).unwrap();
    let mut s = acceptor.connection(now, settings()).unwrap();
    let (ce, se) = pump(&mut c, &mut s, now);
    assert!(ce.is_none() && se.is_none(), "{ce:?} {se:?}");
    let ci = connected_info(&events(&mut c));
    assert_eq!(ci.verification_status(), "verified");
    match ci.verification {
        Some(sigil_trust::Verification::Verified(v)) => assert_eq!(v.matched, "IP:127.0.0.1"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        connected_info(&events(&mut s)).sni,
        None,
        "never an IP in SNI"
    );
}

#[test]
fn wildcards_are_accepted_unless_strict_rfc_5922() {
    let pki = Pki::new();
    let wildcard = Acceptor::new(
        &identity(&server_with(&["*.example.com"], &pki.vendor, false)),
        ClientAuth::Required(pki.device_verifier()),
        &TlsPolicy::default(),
    )
    .unwrap();
    for strict in [false, true] {
        let policy = TlsPolicy {
            strict_names: strict,
            ..TlsPolicy::default()
        };
        let connector = Connector::new(
            "sip.example.com",
            &policy,
            pki.store(),
            Some(pki.resolver()),
        )
        .unwrap();
        let now = Instant::now();
        let mut c = connector.connection(now, settings()).unwrap();
        let mut s = wildcard.connection(now, settings()).unwrap();
        let (ce, _) = pump(&mut c, &mut s, now);
        if strict {
            let d = ce.as_ref().and_then(Error::diagnosis).cloned();
            assert!(
                matches!(d, Some(HandshakeDiagnosis::NameMismatch { .. })),
                "{ce:?}"
            );
        } else {
            assert!(ce.is_none(), "{ce:?}");
            assert_eq!(
                connected_info(&events(&mut c)).verification_status(),
                "verified"
            );
        }
    }
}
