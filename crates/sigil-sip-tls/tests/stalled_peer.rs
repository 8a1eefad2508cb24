//! A peer that accepts a connection and then never reads must cost the
//! connection, never a thread: both drivers set socket write timeouts.

mod common;

use std::net::TcpListener;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use sigil_lab::response_to;
use sigil_sip::{Header, HeaderName, Message, Method, Request};
use sigil_sip_tls::{
    establish, Client, ClientAuth, ClientOptions, ConnectionSettings, Handler, PeerInfo, Server,
    ServerOptions, TlsPolicy,
};

fn settings() -> ConnectionSettings {
    ConnectionSettings {
        keepalive_interval: None,
        write_timeout: Duration::from_millis(300),
        ..ConnectionSettings::default()
    }
}

fn options(i: usize, body: usize) -> Message {
    let mut r = Request::new(Method::Options, "sip:example.com".parse().unwrap());
    for (name, value) in [
        (
            HeaderName::Via,
            format!("SIP/2.0/TLS 127.0.0.1:5061;branch=z9hG4bKstall{i}"),
        ),
        (HeaderName::From, "<sip:a@example.com>;tag=s1".to_owned()),
        (HeaderName::To, "<sip:b@example.com>".to_owned()),
        (HeaderName::CallId, format!("stall-{i}@127.0.0.1")),
        (HeaderName::CSeq, "1 OPTIONS".to_owned()),
        (HeaderName::MaxForwards, "70".to_owned()),
    ] {
        r.headers.push(Header::new(name, value).unwrap());
    }
    r.body = vec![b'x'; body].into();
    Message::Request(r)
}

/// Answers every request with a 32 KiB body, and records how connections end.
struct Chatty {
    closed: Mutex<Vec<Option<String>>>,
}

impl Handler for Chatty {
    fn on_message(&self, _peer: &PeerInfo, message: Message) -> Vec<Message> {
        let Message::Request(request) = message else {
            return Vec::new();
        };
        let mut ok = response_to(&request, 200, "OK");
        ok.body = vec![b'y'; 32 * 1024].into();
        vec![Message::Response(ok)]
    }
    fn on_close(&self, _peer: &PeerInfo, reason: Option<&str>) {
        self.closed.lock().unwrap().push(reason.map(str::to_owned));
    }
}

/// The server writes answers to a client that never reads them: the
/// connection is dropped after its write timeout, and the server stops.
#[test]
fn server_drops_a_client_that_never_reads_and_still_shuts_down() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let server = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy),
        ServerOptions {
            connection: settings(),
            ..ServerOptions::default()
        },
    )
    .unwrap();
    let addr = server.local_addr().unwrap().to_string();
    let stop = server.shutdown_handle();
    let chatty = Arc::new(Chatty {
        closed: Mutex::new(Vec::new()),
    });
    let handler: Arc<dyn Handler> = chatty.clone();
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = server.run(handler);
        let _ = done_tx.send(());
    });

    let connector = pki.connector(&policy, true);
    let (mut stream, mut conn) =
        establish(&connector, &addr, Duration::from_secs(3), settings()).unwrap();
    // Requests until our own write blocks (the server, stuck writing, stopped
    // reading) or the server drops us; at most 10 000 (320 MiB of answers).
    let mut sent = 0;
    for i in 0..10_000 {
        if conn.send(&options(i, 0)).is_err() || conn.write_tls_to(&mut stream).is_err() {
            break;
        }
        sent += 1;
        if !chatty.closed.lock().unwrap().is_empty() {
            break;
        }
    }
    assert!(sent > 0);
    // Bounded: the server notices within its write timeout.
    for _ in 0..200 {
        if !chatty.closed.lock().unwrap().is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let closed = chatty.closed.lock().unwrap().clone();
    assert_eq!(closed.len(), 1, "the stalled connection was dropped");
    assert!(closed[0].is_some(), "with a reason: {closed:?}");
    stop.shutdown();
    assert!(
        done_rx.recv_timeout(Duration::from_secs(20)).is_ok(),
        "the server did not stop"
    );
    drop(stream);
}

/// Our client writes to a server that completed the handshake and then
/// never reads: `send` fails after the write timeout instead of hanging.
#[test]
fn client_send_fails_when_the_server_never_reads() {
    let pki = Pki::new();
    let policy = TlsPolicy::default();
    let acceptor = pki.acceptor(ClientAuth::Required(pki.device_verifier()), &policy);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    std::thread::spawn(move || {
        let (mut tcp, _) = listener.accept().unwrap();
        tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut conn = acceptor.connection(Instant::now(), settings()).unwrap();
        let mut buf = [0u8; 16 * 1024];
        // The handshake only (bounded by the read timeout and 50 rounds).
        for _ in 0..50 {
            if !conn.is_handshaking() {
                break;
            }
            conn.write_tls_to(&mut tcp).unwrap();
            let n = std::io::Read::read(&mut tcp, &mut buf).unwrap();
            conn.handle_input(&buf[..n], Instant::now()).unwrap();
        }
        conn.write_tls_to(&mut tcp).unwrap();
        // Then hold the socket and read nothing.
        let _ = release_rx.recv_timeout(Duration::from_secs(60));
    });
    let client_options = ClientOptions {
        connection: settings(),
        reconnect: None,
        ..ClientOptions::default()
    };
    let mut client = Client::connect(pki.connector(&policy, true), &addr, client_options).unwrap();
    // 64 KiB requests until one fails: at most 2 000 (125 MiB).
    let failed_after = (0..2_000).find(|i| client.send(&options(*i, 60 * 1024)).is_err());
    let _ = release_tx.send(());
    assert!(
        failed_after.is_some(),
        "every send succeeded although nobody read"
    );
    assert!(!client.is_connected(), "the connection is given up");
}
