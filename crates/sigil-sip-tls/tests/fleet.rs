//! The fleet acceptor (feature `tokio`): a device is accepted by its
//! certificate, its messages come out with its MAC, its pings are answered;
//! each limit does what it says (no timing is asserted: the limits are set
//! short and the test waits, bounded, for the counters).
#![cfg(feature = "tokio")]

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use common::*;
use sigil_sip_tls::fleet::{FleetLimits, FleetListener, FleetStats};
use sigil_sip_tls::{
    Client, ClientAuth, ClientEvent, ClientOptions, ConnectionSettings, Error, TlsPolicy,
};

const REGISTER: &str = "REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/TLS 192.0.2.1:5061;branch=z9hG4bK1\r\nMax-Forwards: 70\r\nFrom: <sip:alice@example.com>;tag=1\r\nTo: <sip:alice@example.com>\r\nCall-ID: fleet-1\r\nCSeq: 1 REGISTER\r\nContact: <sip:alice@192.0.2.1:5061;transport=tls>\r\nContent-Length: 0\r\n\r\n";

fn options() -> ClientOptions {
    ClientOptions {
        connect_timeout: Duration::from_secs(3),
        connection: ConnectionSettings {
            keepalive_interval: Some(Duration::from_millis(200)),
            handshake_timeout: Duration::from_secs(5),
            ..ConnectionSettings::default()
        },
        reconnect: None,
    }
}

async fn listener(limits: FleetLimits) -> FleetListener {
    let pki = Pki::new_cached();
    let acceptor = pki.acceptor(
        ClientAuth::Required(pki.device_verifier()),
        &TlsPolicy::default(),
    );
    FleetListener::bind("127.0.0.1:0".parse().unwrap(), acceptor, limits)
        .await
        .unwrap()
}

/// Waits (at most 10 s, yielding to the listener's tasks) until `done(stats)`.
async fn wait_stats(l: &FleetListener, done: impl Fn(&FleetStats) -> bool) -> FleetStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = l.stats();
        if done(&s) || Instant::now() >= deadline {
            return s;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_device_registers_and_is_answered_with_pongs() {
    let mut l = listener(FleetLimits::default()).await;
    let addr = l.local_addr().to_string();
    let client = std::thread::spawn(move || {
        let pki = Pki::new_cached();
        let mut c =
            Client::connect(pki.connector(&TlsPolicy::default(), true), &addr, options()).unwrap();
        c.send(&sigil_sip::parse(REGISTER.as_bytes()).unwrap())
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut pongs = 0;
        while pongs < 2 && Instant::now() < deadline {
            if let Some(ClientEvent::KeepAliveAnswered) = c.recv(Duration::from_millis(100)) {
                pongs += 1;
            }
        }
        c.close();
        pongs
    });
    let mut device = tokio::time::timeout(Duration::from_secs(10), l.accept())
        .await
        .expect("a verified device")
        .unwrap();
    assert_eq!(device.mac(), Some(sigil_identity::Mac::parse(MAC).unwrap()));
    let m = device.next_message().await.unwrap().expect("the REGISTER");
    assert_eq!(m.headers().call_id(), Some("fleet-1"));
    // Pings are answered while we wait for the next message; the client closes after two pongs.
    let end = tokio::time::timeout(Duration::from_secs(10), device.next_message()).await;
    assert!(matches!(end, Ok(Ok(None))), "{end:?}");
    assert_eq!(
        tokio::task::spawn_blocking(move || client.join().unwrap())
            .await
            .unwrap(),
        2
    );
    let s = l.stats();
    assert_eq!((s.accepted, s.verified, s.refused), (1, 1, 0));
}

#[tokio::test]
async fn refused_stalled_and_garbage_clients_are_counted_and_freed() {
    let mut l = listener(FleetLimits {
        handshake_timeout: Duration::from_millis(300),
        ..FleetLimits::default()
    })
    .await;
    let addr = l.local_addr();
    let clients = std::thread::spawn(move || {
        // No certificate: refused (TLS 1.3 says so after the client's Finished).
        let pki = Pki::new_cached();
        if let Ok(mut c) = Client::connect(
            pki.connector(&TlsPolicy::default(), false),
            &addr.to_string(),
            options(),
        ) {
            for _ in 0..50 {
                if let Some(ClientEvent::Disconnected { .. }) = c.recv(Duration::from_millis(100)) {
                    break;
                }
            }
        }
        // Garbage instead of a ClientHello.
        let mut g = TcpStream::connect(addr).unwrap();
        let _ = g.write_all(b"OPTIONS sip:x SIP/2.0\r\n\r\n");
        let mut sink = Vec::new();
        g.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = g.read_to_end(&mut sink);
        // A client that stalls after half a ClientHello.
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01]).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let _ = s.read_to_end(&mut sink);
    });
    let s = wait_stats(&l, |s| {
        s.refused >= 2 && s.handshake_timeouts >= 1 && s.active == 0
    })
    .await;
    assert_eq!(s.verified, 0, "{s:?}");
    assert!(
        s.refused >= 2 && s.handshake_timeouts == 1 && s.active == 0,
        "{s:?}"
    );
    tokio::task::spawn_blocking(move || clients.join().unwrap())
        .await
        .unwrap();
    assert!(tokio::time::timeout(Duration::from_millis(50), l.accept())
        .await
        .is_err());
}

#[tokio::test]
async fn per_source_and_total_caps_close_connections_at_once() {
    let l = listener(FleetLimits {
        max_per_source: 2,
        ..FleetLimits::default()
    })
    .await;
    let addr = l.local_addr();
    let held: Vec<TcpStream> = (0..2).map(|_| TcpStream::connect(addr).unwrap()).collect();
    wait_stats(&l, |s| s.active == 2).await;
    let third = std::thread::spawn(move || {
        let mut t = TcpStream::connect(addr).unwrap();
        t.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut buf = [0u8; 16];
        // Closed by the server without a byte.
        matches!(t.read(&mut buf), Ok(0) | Err(_))
    });
    let s = wait_stats(&l, |s| s.over_source_limit >= 1).await;
    assert_eq!((s.over_source_limit, s.active), (1, 2), "{s:?}");
    assert!(tokio::task::spawn_blocking(move || third.join().unwrap())
        .await
        .unwrap());
    drop(held);
    let s = wait_stats(&l, |s| s.active == 0).await;
    assert_eq!(s.active, 0, "{s:?}");

    let l = listener(FleetLimits {
        max_connections: 1,
        ..FleetLimits::default()
    })
    .await;
    let _held = TcpStream::connect(l.local_addr()).unwrap();
    wait_stats(&l, |s| s.active == 1).await;
    let _second = TcpStream::connect(l.local_addr()).unwrap();
    let s = wait_stats(&l, |s| s.over_capacity >= 1).await;
    assert_eq!((s.over_capacity, s.active), (1, 1), "{s:?}");
}

#[tokio::test]
async fn idle_and_oversized_connections_are_closed() {
    let mut l = listener(FleetLimits {
        idle_timeout: Duration::from_millis(300),
        sip: sigil_sip::Limits {
            max_head_len: 1024,
            ..sigil_sip::Limits::default()
        },
        ..FleetLimits::default()
    })
    .await;
    let addr: SocketAddr = l.local_addr();
    let clients = std::thread::spawn(move || {
        let pki = Pki::new_cached();
        let quiet = ClientOptions {
            connection: ConnectionSettings {
                keepalive_interval: None,
                ..options().connection
            },
            ..options()
        };
        // Silent after the handshake: the idle timeout closes it.
        let mut idle = Client::connect(
            pki.connector(&TlsPolicy::default(), true),
            &addr.to_string(),
            quiet.clone(),
        )
        .unwrap();
        // A header block over the limit.
        let mut big = Client::connect(
            pki.connector(&TlsPolicy::default(), true),
            &addr.to_string(),
            quiet,
        )
        .unwrap();
        let long = format!(
            "OPTIONS sip:x SIP/2.0\r\nCSeq: 1 OPTIONS\r\nX-Pad: {}\r\nl: 0\r\n\r\n",
            "a".repeat(2000)
        );
        big.send(&sigil_sip::parse(long.as_bytes()).unwrap())
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut closed = 0;
        while closed < 2 && Instant::now() < deadline {
            for c in [&mut idle, &mut big] {
                if let Some(ClientEvent::Disconnected { .. }) = c.recv(Duration::from_millis(20)) {
                    closed += 1;
                }
            }
        }
        closed
    });
    let mut results = Vec::new();
    for _ in 0..2 {
        let mut device = tokio::time::timeout(Duration::from_secs(10), l.accept())
            .await
            .unwrap()
            .unwrap();
        results.push(tokio::spawn(async move { device.next_message().await }));
    }
    let mut idle = 0;
    let mut framing = 0;
    for r in results {
        match r.await.unwrap() {
            Err(Error::IdleTimeout { .. }) => idle += 1,
            Err(Error::Framing(_)) => framing += 1,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((idle, framing), (1, 1));
    let s = l.stats();
    assert_eq!((s.idle_closed, s.framing_closed), (1, 1), "{s:?}");
    let _ = tokio::task::spawn_blocking(move || clients.join().unwrap()).await;
}
