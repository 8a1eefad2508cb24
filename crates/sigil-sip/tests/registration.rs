//! The sans-IO registration client against a scripted registrar.

use std::time::{Duration, Instant};

use md5::{Digest, Md5};
use sigil_sip::registration::{RegistrationFailure, TIMER_F};
use sigil_sip::{
    Credentials, Header, HeaderName, Method, Registration, RegistrationConfig, RegistrationEvent,
    RegistrationOutput, RegistrationState, Request, Response, Uri,
};

fn config(credentials: bool) -> RegistrationConfig {
    let mut c = RegistrationConfig::new(
        "sip:example.com".parse().unwrap(),
        "sip:alice@example.com".parse().unwrap(),
        "sip:alice@192.0.2.10:5061;transport=tls".parse().unwrap(),
    );
    c.expires = 600;
    if credentials {
        c.credentials = Some(Credentials::new("alice", "wonderland"));
    }
    c
}

fn sent(reg: &mut Registration) -> Request {
    match reg.poll_output() {
        Some(RegistrationOutput::Send(r)) => r,
        other => panic!("expected a request to send, got {other:?}"),
    }
}

fn event(reg: &mut Registration) -> RegistrationEvent {
    match reg.poll_output() {
        Some(RegistrationOutput::Event(e)) => e,
        other => panic!("expected an event, got {other:?}"),
    }
}

/// A response to `req` as a registrar would build it.
fn respond(req: &Request, status: u16, extra: &[(HeaderName, &str)]) -> Response {
    let mut r = Response::new(status, Response::default_reason(status));
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        for v in req.headers.get_all(&name) {
            let v = if name == HeaderName::To {
                format!("{v};tag=reg1")
            } else {
                v.to_string()
            };
            r.headers.push(Header::new(name.clone(), v).unwrap());
        }
    }
    for (n, v) in extra {
        r.headers.push(Header::new(n.clone(), *v).unwrap());
    }
    // Through the wire and back, as the transport would deliver it.
    sigil_sip::parse(&sigil_sip::Message::Response(r).to_bytes())
        .unwrap()
        .as_response()
        .unwrap()
        .clone()
}

fn md5_hex(s: &str) -> String {
    Md5::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn register_with_digest_refresh_and_unregister() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(true));
    assert_eq!(reg.state(), RegistrationState::Idle);
    reg.register(t0);
    let r1 = sent(&mut reg);
    assert_eq!(r1.method, Method::Register);
    assert_eq!(r1.uri.to_string(), "sip:example.com");
    let contact = &r1.headers.contacts()[0];
    assert_eq!(contact.uri.as_sip().unwrap().transport(), Some("tls"));
    assert_eq!(contact.expires(), Some(600));
    assert_eq!(r1.headers.expires(), Some(600));
    let via = r1.headers.top_via().unwrap();
    assert_eq!(via.transport, "TLS");
    assert!(via.branch().unwrap().starts_with("z9hG4bK"));
    assert!(r1.headers.from().unwrap().tag().is_some());
    assert!(r1.headers.authorization().is_empty());
    assert_eq!(reg.poll_timeout(), Some(t0 + TIMER_F));

    // 401 with an MD5 challenge.
    let chal = r#"Digest realm="example.com", nonce="abc123", qop="auth", algorithm=MD5"#;
    assert!(reg.handle_response(
        &respond(&r1, 401, &[(HeaderName::WwwAuthenticate, chal)]),
        t0
    ));
    let r2 = sent(&mut reg);
    assert_eq!(
        r2.headers.cseq().unwrap().seq,
        r1.headers.cseq().unwrap().seq + 1
    );
    assert_eq!(r2.headers.call_id(), r1.headers.call_id());
    assert_ne!(
        r2.headers.top_via().unwrap().branch(),
        r1.headers.top_via().unwrap().branch()
    );
    let auth = &r2.headers.authorization()[0];
    assert_eq!(auth.param("username").as_deref(), Some("alice"));
    assert_eq!(auth.param("uri").as_deref(), Some("sip:example.com"));
    assert_eq!(auth.param("nc").as_deref(), Some("00000001"));
    // Recompute the response independently (RFC 2617 §3.2.2.1).
    let cnonce = auth.param("cnonce").unwrap();
    let ha1 = md5_hex("alice:example.com:wonderland");
    let ha2 = md5_hex("REGISTER:sip:example.com");
    let expected = md5_hex(&format!("{ha1}:abc123:00000001:{cnonce}:auth:{ha2}"));
    assert_eq!(auth.param("response"), Some(expected));

    // 200 OK granting 120 s in the Contact.
    let ok = respond(
        &r2,
        200,
        &[(
            HeaderName::Contact,
            "<sip:alice@192.0.2.10:5061;transport=tls>;expires=120",
        )],
    );
    assert!(reg.handle_response(&ok, t0 + Duration::from_millis(50)));
    assert_eq!(
        event(&mut reg),
        RegistrationEvent::Registered {
            expires: Duration::from_secs(120)
        }
    );
    let t1 = t0 + Duration::from_millis(50);
    assert_eq!(
        reg.state(),
        RegistrationState::Registered {
            expires_at: t1 + Duration::from_secs(120)
        }
    );
    let refresh = reg.poll_timeout().unwrap();
    assert!(
        refresh > t1 && refresh < t1 + Duration::from_secs(120),
        "refresh before expiry"
    );

    // Nothing happens before the refresh time.
    reg.handle_timeout(refresh - Duration::from_secs(1));
    assert!(reg.poll_output().is_none());
    // Refresh: pre-emptive credentials with the next nonce count.
    reg.handle_timeout(refresh);
    let r3 = sent(&mut reg);
    assert_eq!(
        r3.headers.authorization()[0].param("nc").as_deref(),
        Some("00000002")
    );
    // The nonce went stale: retry with the new one.
    let stale = r#"Digest realm="example.com", nonce="def456", qop="auth", stale=true"#;
    assert!(reg.handle_response(
        &respond(&r3, 401, &[(HeaderName::WwwAuthenticate, stale)]),
        refresh
    ));
    let r4 = sent(&mut reg);
    let auth = &r4.headers.authorization()[0];
    assert_eq!(
        (auth.param("nonce").as_deref(), auth.param("nc").as_deref()),
        (Some("def456"), Some("00000001"))
    );
    assert!(reg.handle_response(&respond(&r4, 200, &[(HeaderName::Expires, "300")]), refresh));
    assert_eq!(
        event(&mut reg),
        RegistrationEvent::Registered {
            expires: Duration::from_secs(300)
        }
    );

    // Un-REGISTER.
    reg.unregister(refresh);
    let r5 = sent(&mut reg);
    assert_eq!(r5.headers.contacts()[0].expires(), Some(0));
    assert_eq!(r5.headers.expires(), Some(0));
    assert!(reg.handle_response(&respond(&r5, 200, &[]), refresh));
    assert_eq!(event(&mut reg), RegistrationEvent::Unregistered);
    assert_eq!(reg.state(), RegistrationState::Idle);
    assert_eq!(reg.poll_timeout(), None);
}

#[test]
fn wrong_password_fails_after_one_answer() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(true));
    reg.register(t0);
    let r1 = sent(&mut reg);
    let chal = r#"Digest realm="example.com", nonce="n1", qop="auth""#;
    reg.handle_response(
        &respond(&r1, 401, &[(HeaderName::WwwAuthenticate, chal)]),
        t0,
    );
    let r2 = sent(&mut reg);
    let chal2 = r#"Digest realm="example.com", nonce="n2", qop="auth""#;
    reg.handle_response(
        &respond(&r2, 401, &[(HeaderName::WwwAuthenticate, chal2)]),
        t0,
    );
    assert_eq!(
        event(&mut reg),
        RegistrationEvent::Failed(RegistrationFailure::AuthenticationFailed { status: 401 })
    );
    assert_eq!(reg.state(), RegistrationState::Failed);
    // It tries again after the configured pause.
    assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    reg.handle_timeout(t0 + Duration::from_secs(60));
    assert_eq!(sent(&mut reg).method, Method::Register);
}

#[test]
fn proxy_challenge_uses_proxy_authorization_and_sha256() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(true));
    reg.register(t0);
    let r1 = sent(&mut reg);
    let md5 = r#"Digest realm="p", nonce="n", qop="auth", algorithm=MD5"#;
    let sha = r#"Digest realm="p", nonce="n", qop="auth", algorithm=SHA-256"#;
    reg.handle_response(
        &respond(
            &r1,
            407,
            &[
                (HeaderName::ProxyAuthenticate, md5),
                (HeaderName::ProxyAuthenticate, sha),
            ],
        ),
        t0,
    );
    let r2 = sent(&mut reg);
    assert!(r2.headers.authorization().is_empty());
    let pa = &r2.headers.proxy_authorization()[0];
    assert_eq!(
        pa.param("algorithm").as_deref(),
        Some("SHA-256"),
        "RFC 8760: prefer SHA-256"
    );
    assert_eq!(pa.param("response").unwrap().len(), 64);
}

#[test]
fn no_credentials_fails() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(false));
    reg.register(t0);
    let r1 = sent(&mut reg);
    reg.handle_response(
        &respond(
            &r1,
            401,
            &[(
                HeaderName::WwwAuthenticate,
                r#"Digest realm="r", nonce="n""#,
            )],
        ),
        t0,
    );
    assert_eq!(
        event(&mut reg),
        RegistrationEvent::Failed(RegistrationFailure::NoCredentials { status: 401 })
    );
}

#[test]
fn interval_too_brief_raises_expiry() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(false));
    reg.register(t0);
    let r1 = sent(&mut reg);
    reg.handle_response(&respond(&r1, 423, &[(HeaderName::MinExpires, "1800")]), t0);
    let r2 = sent(&mut reg);
    assert_eq!(r2.headers.expires(), Some(1800));
    assert_eq!(r2.headers.contacts()[0].expires(), Some(1800));
    // A 423 without Min-Expires cannot be satisfied.
    reg.handle_response(&respond(&r2, 423, &[]), t0);
    assert_eq!(
        event(&mut reg),
        RegistrationEvent::Failed(RegistrationFailure::IntervalTooBrief)
    );
}

#[test]
fn failure_status_and_foreign_responses() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(false));
    reg.register(t0);
    let r1 = sent(&mut reg);
    let mut other = r1.clone();
    other.headers.set(
        Header::new(
            HeaderName::Via,
            "SIP/2.0/TLS 192.0.2.10:5061;branch=z9hG4bKother",
        )
        .unwrap(),
    );
    assert!(
        !reg.handle_response(&respond(&other, 200, &[]), t0),
        "a response for another transaction is not ours"
    );
    assert!(reg.poll_output().is_none());
    assert!(reg.handle_response(&respond(&r1, 100, &[]), t0));
    assert!(reg.poll_output().is_none());
    assert!(reg.handle_response(&respond(&r1, 403, &[]), t0));
    assert_eq!(
        event(&mut reg),
        RegistrationEvent::Failed(RegistrationFailure::Rejected {
            status: 403,
            reason: "Forbidden".into()
        })
    );
}

#[test]
fn timer_f_on_reliable_transport() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(false));
    reg.register(t0);
    let _ = sent(&mut reg);
    assert_eq!(reg.poll_timeout(), Some(t0 + Duration::from_secs(32)));
    reg.handle_timeout(t0 + Duration::from_secs(31));
    assert!(reg.poll_output().is_none(), "no retransmission over TLS");
    reg.handle_timeout(t0 + Duration::from_secs(32));
    assert_eq!(
        event(&mut reg),
        RegistrationEvent::Failed(RegistrationFailure::Timeout(Duration::from_secs(32)))
    );
}

#[test]
fn retransmits_on_unreliable_transport() {
    let t0 = Instant::now();
    let mut c = config(false);
    c.reliable = false;
    c.transport = "UDP".into();
    let mut reg = Registration::new(c);
    reg.register(t0);
    let first = sent(&mut reg);
    let mut at = Vec::new();
    for _ in 0..20 {
        let Some(next) = reg.poll_timeout() else {
            break;
        };
        reg.handle_timeout(next);
        match reg.poll_output() {
            Some(RegistrationOutput::Send(r)) => {
                assert_eq!(r, first, "a retransmission is the same request");
                at.push(next - t0);
            }
            Some(RegistrationOutput::Event(RegistrationEvent::Failed(
                RegistrationFailure::Timeout(_),
            ))) => {
                at.push(next - t0);
                break;
            }
            other => panic!("{other:?}"),
        }
    }
    let ms: Vec<u128> = at.iter().map(|d| d.as_millis()).collect();
    // Timer E: 0.5, 1, 2, 4, then every 4 s (T2) until Timer F at 32 s.
    assert_eq!(&ms[..5], &[500, 1500, 3500, 7500, 11500]);
    assert_eq!(*ms.last().unwrap(), 32000);
}

#[test]
fn unregister_all_sends_star() {
    let t0 = Instant::now();
    let mut reg = Registration::new(config(false));
    reg.unregister_all(t0);
    let r = sent(&mut reg);
    assert!(r.headers.contact_is_star());
    assert_eq!(r.headers.expires(), Some(0));
    let _: Uri = r.uri;
}

/// Durations from the integrator (`retry_after_failure`) and from the
/// registrar (`expires`) never overflow a deadline into a panic.
#[test]
fn absurd_durations_saturate() {
    let t0 = Instant::now();
    let mut c = config(false);
    c.retry_after_failure = Some(Duration::MAX);
    let mut reg = Registration::new(c);
    reg.register(t0);
    let r1 = sent(&mut reg);
    assert!(reg.handle_response(&respond(&r1, 403, &[]), t0));
    assert!(matches!(event(&mut reg), RegistrationEvent::Failed(_)));
    assert!(reg.poll_timeout().is_some_and(|t| t > t0));

    let mut reg = Registration::new(config(false));
    reg.register(t0);
    let r1 = sent(&mut reg);
    let granted = u32::MAX.to_string();
    assert!(reg.handle_response(&respond(&r1, 200, &[(HeaderName::Expires, &granted)]), t0));
    assert!(matches!(
        event(&mut reg),
        RegistrationEvent::Registered { .. }
    ));
}
