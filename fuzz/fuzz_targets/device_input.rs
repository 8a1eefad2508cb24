//! The whole sans-IO device on arbitrary network input: registered over SIP
//! (plain TCP, so the fuzzer's bytes reach the SIP layer directly), with a
//! call set up by a well-formed INVITE, then fed chunks chosen by the input
//! as stream bytes on its server connection and as datagrams on its media
//! sockets, with the clock moving. Nothing may panic or hang, and the queues
//! stay bounded.
#![no_main]

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use libfuzzer_sys::fuzz_target;
use sigil_endpoint::device::{ConnId, Device, DeviceConfig, Input, SocketId, Transmit};
use sigil_provisioning::Settings;
use sigil_trust::TrustStore;

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
m=audio 30000 RTP/AVP 0 101\r\na=rtpmap:101 telephone-event/8000\r\na=rtcp-mux\r\n";

/// A well-formed INVITE to the device, offering plain PCMU with events.
fn invite() -> String {
    format!(
        "INVITE sip:1001@192.0.2.10:40000;transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKfuzz1\r\nMax-Forwards: 70\r\n\
         From: <sip:2002@example.com>;tag=f1\r\nTo: <sip:1001@example.com>\r\n\
         Call-ID: fuzz@192.0.2.1\r\nCSeq: 1 INVITE\r\n\
         Contact: <sip:2002@192.0.2.1:5060;transport=tcp>\r\n\
         Content-Type: application/sdp\r\nContent-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
}

fuzz_target!(|data: &[u8]| {
    let Ok(parsed) = Settings::parse(
        "fuzz",
        b"sip.proxy = 192.0.2.1:5060\nsip.transport = tcp\nsip.u1.user = 1001\nsip.srtp.offer = disabled\n",
    ) else {
        return;
    };
    let store = Arc::new(TrustStore::builder().builtin(false).build());
    let config = DeviceConfig::new(parsed.settings, store, SystemTime::UNIX_EPOCH);
    let mut now = Instant::now();
    let Ok(mut device) = Device::new(config, now) else {
        return;
    };
    let conn = ConnId(1);
    let local: SocketAddr = "192.0.2.10:40000".parse().unwrap();
    device.handle_input(
        Input::Connected {
            conn,
            local,
            peer: "192.0.2.1:5060".parse().unwrap(),
        },
        now,
    );
    device.handle_input(Input::Received { conn, data: invite().as_bytes() }, now);
    let mut sockets: Vec<SocketId> = Vec::new();
    let mut port = 41000u16;
    // Bounded by the input: each chunk consumes at least one byte.
    let mut rest = data;
    while let Some((&head, tail)) = rest.split_first() {
        let len = usize::from(head & 0x3F).min(tail.len());
        let (chunk, after) = tail.split_at(len);
        rest = after;
        now += Duration::from_millis(u64::from(head >> 6) * 15);
        match (head >> 6, sockets.first()) {
            (0 | 1, _) | (_, None) => device.handle_input(Input::Received { conn, data: chunk }, now),
            (_, Some(&socket)) => device.handle_input(
                Input::Datagram {
                    socket,
                    from: "192.0.2.50:30000".parse().unwrap(),
                    data: chunk,
                },
                now,
            ),
        }
        device.handle_timeout(now);
        // Bounded: what one input produced.
        for _ in 0..10_000 {
            let Some(t) = device.poll_transmit() else { break };
            if let Transmit::Bind { socket, .. } = t {
                sockets.push(socket);
                device.handle_input(
                    Input::Bound {
                        socket,
                        local: SocketAddr::new(local.ip(), port),
                    },
                    now,
                );
                port = port.wrapping_add(1);
            }
        }
        for _ in 0..10_000 {
            if device.poll_event().is_none() {
                break;
            }
        }
    }
    device.shutdown(now);
    device.handle_timeout(now + Duration::from_secs(10));
    assert!(device.is_stopped());
});
