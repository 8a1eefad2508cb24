//! Properties of the sans-IO core: arbitrary bytes never panic it, and the
//! messages delivered do not depend on how the TLS stream was chunked.

mod common;

use std::time::Instant;

use common::*;
use proptest::prelude::*;
use sigil_sip_tls::{ClientAuth, ConnectionEvent, ConnectionSettings, TlsPolicy};

fn message(n: usize) -> sigil_sip::Message {
    sigil_sip::parse(
        format!(
            "MESSAGE sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 127.0.0.1;branch=z9hG4bK{n}\r\nFrom: <sip:a@example.com>;tag=1\r\nTo: <sip:example.com>\r\nCall-ID: p{n}\r\nCSeq: {n} MESSAGE\r\nContent-Length: {}\r\n\r\n{}",
            n % 50,
            "x".repeat(n % 50)
        )
        .as_bytes(),
    )
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn garbage_never_panics_a_server_connection(data in proptest::collection::vec(any::<u8>(), 0..4096), cut in 0usize..4096) {
        let pki = Pki::new_cached();
        let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &TlsPolicy::default());
        let now = Instant::now();
        let mut s = acceptor.connection(now, ConnectionSettings::default()).unwrap();
        let cut = cut.min(data.len());
        let first = s.handle_input(&data[..cut], now);
        if first.is_ok() {
            let _ = s.handle_input(&data[cut..], now);
        }
        let _ = s.take_transmit();
        while s.poll_event().is_some() {}
        prop_assert!(s.is_handshaking() || s.is_finished() || s.tls_info().is_some());
    }

    #[test]
    fn delivery_is_independent_of_chunking(cuts in proptest::collection::vec(1usize..700, 1..40), count in 1usize..6) {
        let pki = Pki::new_cached();
        let policy = TlsPolicy::default();
        let connector = pki.connector(&policy, true);
        let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
        let now = Instant::now();
        let mut c = connector.connection(now, ConnectionSettings::default()).unwrap();
        let mut s = acceptor.connection(now, ConnectionSettings::default()).unwrap();
        let (ce, se) = pump(&mut c, &mut s, now);
        prop_assert!(ce.is_none() && se.is_none());
        let _ = events(&mut s);
        let sent: Vec<_> = (1..=count).map(message).collect();
        for m in &sent {
            c.send(m).unwrap();
        }
        let wire = c.take_transmit();
        let mut at = 0;
        for cut in cuts.iter().cycle() {
            if at >= wire.len() {
                break;
            }
            let end = (at + cut).min(wire.len());
            s.handle_input(&wire[at..end], now).unwrap();
            at = end;
        }
        let got: Vec<_> = events(&mut s)
            .into_iter()
            .filter_map(|e| match e {
                ConnectionEvent::Message(m) => Some(m),
                _ => None,
            })
            .collect();
        prop_assert_eq!(got, sent);
    }
}
