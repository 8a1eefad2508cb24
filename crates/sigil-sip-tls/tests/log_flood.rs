//! A peer flooding a connection with well-framed malformed messages gets a
//! handful of warnings logged, with a count, not one line per message.
//! (Its own test binary: it installs a global logger.)

mod common;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use common::*;
use sigil_sip_tls::{ClientAuth, ConnectionEvent, ConnectionSettings, TlsPolicy};

/// Counts the warnings the SIP-over-TLS connection logs.
struct Counter {
    warnings: AtomicUsize,
    summaries: AtomicUsize,
}

impl log::Log for Counter {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::Level::Warn
    }
    fn log(&self, record: &log::Record<'_>) {
        if record.level() == log::Level::Warn && record.target().starts_with("sigil_sip_tls") {
            self.warnings.fetch_add(1, Ordering::SeqCst);
            if record.args().to_string().contains("more malformed") {
                self.summaries.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
    fn flush(&self) {}
}

static COUNTER: Counter = Counter {
    warnings: AtomicUsize::new(0),
    summaries: AtomicUsize::new(0),
};

#[test]
fn a_megabyte_of_garbage_logs_a_handful_of_lines() {
    log::set_logger(&COUNTER).unwrap();
    log::set_max_level(log::LevelFilter::Warn);

    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
    let connector = pki.connector(&policy, true);
    let now = Instant::now();
    let mut server = acceptor
        .connection(now, ConnectionSettings::default())
        .unwrap();
    // A raw rustls client, to send bytes that are framed but not SIP.
    let name = rustls::pki_types::ServerName::try_from("example.com").unwrap();
    let mut client = rustls::ClientConnection::new(connector.config().clone(), name).unwrap();
    let mut to_client = Vec::new();
    // Bounded: a handshake takes a few flights.
    for _ in 0..20 {
        let mut to_server = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut to_server).unwrap();
        }
        if !to_server.is_empty() {
            server.handle_input(&to_server, now).unwrap();
        }
        to_client.clear();
        server.write_tls_to(&mut to_client).unwrap();
        if !to_client.is_empty() {
            client.read_tls(&mut &to_client[..]).unwrap();
            client.process_new_packets().unwrap();
        }
        if !client.is_handshaking() && !server.is_handshaking() {
            break;
        }
    }
    assert!(!server.is_handshaking(), "handshake did not complete");

    let garbage = b"THIS IS NOT SIP AT ALL\r\nContent-Length: 4\r\n\r\njunk";
    let count = 1024 * 1024 / garbage.len();
    for _ in 0..count {
        client.writer().write_all(garbage).unwrap();
        let mut to_server = Vec::new();
        while client.wants_write() {
            client.write_tls(&mut to_server).unwrap();
        }
        server.handle_input(&to_server, now).unwrap();
    }
    // Nothing came through as a message, and the connection is still up.
    let mut messages = 0;
    while let Some(event) = server.poll_event() {
        messages += usize::from(matches!(event, ConnectionEvent::Message(_)));
    }
    assert_eq!(messages, 0);
    let during = COUNTER.warnings.load(Ordering::SeqCst);
    assert!(
        (1..=5).contains(&during),
        "{count} malformed messages logged {during} warnings"
    );
    drop(server);
    assert_eq!(
        COUNTER.summaries.load(Ordering::SeqCst),
        1,
        "closing the connection summarises what was suppressed"
    );
}
