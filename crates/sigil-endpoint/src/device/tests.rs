//! The device driven by hand with a fake clock: no sockets, no threads,
//! every byte seen. SIP over plain TCP keeps the bytes readable; the TLS
//! paths run against real servers in `tests/`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use sigil_provisioning::Settings;
use sigil_sip::{Header, HeaderName, Message, Request, Response};
use sigil_trust::TrustStore;

use super::*;

const PROXY: &str = "192.0.2.1:5060";
const LOCAL: &str = "192.0.2.10:40000";

fn settings(extra: &str) -> Settings {
    let text = format!(
        "sip.proxy = {PROXY}\nsip.transport = tcp\nsip.u1.user = 1001\nsip.srtp.offer = disabled\n{extra}"
    );
    Settings::parse("test", text.as_bytes()).unwrap().settings
}

fn device(extra: &str, t0: Instant) -> Device {
    let store = Arc::new(TrustStore::builder().builtin(false).build());
    let config = DeviceConfig::new(settings(extra), store, SystemTime::UNIX_EPOCH);
    Device::new(config, t0).unwrap()
}

fn transmits(d: &mut Device) -> Vec<Transmit> {
    std::iter::from_fn(|| d.poll_transmit()).collect()
}

fn events(d: &mut Device) -> Vec<Event> {
    std::iter::from_fn(|| d.poll_event()).collect()
}

/// The SIP messages in what the device sent on `conn`.
fn sent(ts: &[Transmit], conn: ConnId) -> Vec<Message> {
    let mut framer = sigil_sip::Framer::new();
    for t in ts {
        if let Transmit::Send { conn: c, data } = t {
            if *c == conn {
                framer.push(data);
            }
        }
    }
    std::iter::from_fn(|| framer.poll())
        .filter_map(|e| match e {
            Ok(sigil_sip::FramerEvent::Message(m)) => Some(m),
            _ => None,
        })
        .collect()
}

fn reply(request: &Request, status: u16, extra: &[(HeaderName, &str)]) -> Vec<u8> {
    let mut r = Response::new(status, Response::default_reason(status));
    for name in [
        HeaderName::Via,
        HeaderName::From,
        HeaderName::To,
        HeaderName::CallId,
        HeaderName::CSeq,
    ] {
        for v in request.headers.get_all(&name) {
            let v = if name == HeaderName::To && !v.contains("tag=") {
                format!("{v};tag=srv1")
            } else {
                v.to_string()
            };
            r.headers.push(Header::new(name.clone(), v).unwrap());
        }
    }
    for (n, v) in extra {
        r.headers.push(Header::new(n.clone(), *v).unwrap());
    }
    Message::Response(r).to_bytes().to_vec()
}

/// Connect, answer the REGISTER with 200: a registered device and its connection.
fn registered(d: &mut Device, t0: Instant) -> ConnId {
    let ts = transmits(d);
    let conn = match ts.first() {
        Some(Transmit::Connect {
            conn,
            server,
            udp: false,
        }) if server == PROXY => *conn,
        other => panic!("expected a TCP connect to {PROXY}, got {other:?}"),
    };
    d.handle_input(
        Input::Connected {
            conn,
            local: LOCAL.parse().unwrap(),
            peer: PROXY.parse().unwrap(),
        },
        t0,
    );
    let ts = transmits(d);
    let register = match sent(&ts, conn).pop() {
        Some(Message::Request(r)) => r,
        other => panic!("expected a REGISTER, got {other:?}"),
    };
    assert_eq!(register.method, sigil_sip::Method::Register);
    let ok = reply(&register, 200, &[(HeaderName::Expires, "300")]);
    d.handle_input(Input::Received { conn, data: &ok }, t0);
    let evs = events(d);
    assert!(
        evs.iter().any(|e| matches!(e, Event::Registered { .. })),
        "{evs:?}"
    );
    conn
}

#[test]
fn registers_then_sleeps_until_the_refresh() {
    let t0 = Instant::now();
    let mut d = device("", t0);
    let conn = registered(&mut d, t0);
    // Idle and registered: the next wake-up is the refresh (270 s for 300 s
    // granted), not a polling tick.
    let next = d.poll_timeout().expect("a refresh is scheduled");
    assert!(next >= t0 + Duration::from_secs(200), "{:?}", next - t0);
    // At the refresh time, a new REGISTER goes out.
    d.handle_timeout(next);
    let ts = transmits(&mut d);
    assert!(matches!(
        sent(&ts, conn).first(),
        Some(Message::Request(r)) if r.method == sigil_sip::Method::Register
    ));
}

#[test]
fn a_lost_connection_reconnects_with_backoff_and_registers_again() {
    let t0 = Instant::now();
    let mut d = device("", t0);
    let conn = registered(&mut d, t0);
    d.handle_input(Input::Closed { conn, reason: None }, t0);
    let evs = events(&mut d);
    let retry_in = evs
        .iter()
        .find_map(|e| match e {
            Event::ConnectionLost { retry_in, .. } => *retry_in,
            _ => None,
        })
        .expect("connection lost with a retry");
    assert!(retry_in <= Duration::from_secs(1));
    assert!(transmits(&mut d)
        .iter()
        .all(|t| !matches!(t, Transmit::Connect { .. })));
    // Nothing happens before the retry time; then a new connection.
    let t1 = t0 + retry_in;
    assert_eq!(d.poll_timeout(), Some(t1));
    d.handle_timeout(t1);
    let ts = transmits(&mut d);
    assert!(matches!(ts.first(), Some(Transmit::Connect { conn: c, .. }) if *c != conn));
}

#[test]
fn shutdown_during_a_reconnect_only_removes_the_old_binding() {
    let t0 = Instant::now();
    let mut d = device("", t0);
    let conn = registered(&mut d, t0);
    d.handle_input(Input::Closed { conn, reason: None }, t0);
    let _ = events(&mut d);
    d.shutdown(t0);
    // The reconnect already scheduled still happens: to remove the binding.
    let retry = d.poll_timeout().expect("the reconnect");
    d.handle_timeout(retry);
    let conn2 = transmits(&mut d)
        .iter()
        .find_map(|t| match t {
            Transmit::Connect { conn, .. } => Some(*conn),
            _ => None,
        })
        .expect("a reconnect");
    d.handle_input(
        Input::Connected {
            conn: conn2,
            local: "192.0.2.10:40002".parse().unwrap(),
            peer: PROXY.parse().unwrap(),
        },
        retry,
    );
    let ts = transmits(&mut d);
    let Some(Message::Request(unregister)) = sent(&ts, conn2).pop() else {
        panic!("expected an un-REGISTER: {ts:?}");
    };
    // The old contact (port 40000), removed: never a new registration.
    let contact = unregister
        .headers
        .get(&HeaderName::Contact)
        .unwrap()
        .to_string();
    assert!(contact.contains(":40000"), "{contact}");
    let expiring = contact.contains("expires=0")
        || unregister
            .headers
            .get(&HeaderName::Expires)
            .map(|e| e.to_string())
            == Some("0".into());
    assert!(expiring, "{unregister:?}");
    let ok = reply(&unregister, 200, &[]);
    d.handle_input(
        Input::Received {
            conn: conn2,
            data: &ok,
        },
        retry,
    );
    let evs = events(&mut d);
    assert!(
        evs.iter().any(|e| matches!(e, Event::Unregistered)),
        "{evs:?}"
    );
    assert!(evs.iter().any(|e| matches!(e, Event::Stopped)), "{evs:?}");
    assert!(!evs.iter().any(|e| matches!(e, Event::Registered { .. })));
    assert!(d.is_stopped());
}

#[test]
fn shutdown_without_a_binding_stops_at_once() {
    let t0 = Instant::now();
    let mut d = device("", t0);
    let _ = transmits(&mut d);
    d.shutdown(t0);
    assert!(d.is_stopped());
    assert!(events(&mut d).iter().any(|e| matches!(e, Event::Stopped)));
}

fn invite(to_user: &str, sdp: &str, branch: &str) -> Vec<u8> {
    let text = format!(
        "INVITE sip:{to_user}@192.0.2.10:40000;transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bK{branch}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:2002@example.com>;tag=caller1\r\n\
         To: <sip:{to_user}@example.com>\r\n\
         Call-ID: {branch}@192.0.2.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:2002@192.0.2.1:5060;transport=tcp>\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{sdp}",
        sdp.len()
    );
    text.into_bytes()
}

const PLAIN_OFFER: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\nm=audio 30000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n";

/// Binds every socket the device asked for in `ts`, from port `base` on;
/// returns the first one's id.
fn bind_all(d: &mut Device, ts: &[Transmit], base: u16, now: Instant) -> SocketId {
    let sockets: Vec<SocketId> = ts
        .iter()
        .filter_map(|t| match t {
            Transmit::Bind { socket, .. } => Some(*socket),
            _ => None,
        })
        .collect();
    assert!(!sockets.is_empty(), "no socket asked for: {ts:?}");
    for (i, socket) in sockets.iter().enumerate() {
        let local = SocketAddr::new("192.0.2.10".parse().unwrap(), base + i as u16);
        d.handle_input(
            Input::Bound {
                socket: *socket,
                local,
            },
            now,
        );
    }
    sockets[0]
}

/// An incoming call with `sdp` on a registered device that answers by
/// itself: the sockets it asks for are bound from port `base` on. Returns
/// the 200 OK, the call, its first socket and how many sockets it asked for.
fn answered(
    d: &mut Device,
    conn: ConnId,
    sdp: &str,
    branch: &str,
    base: u16,
    now: Instant,
) -> (Response, CallId, SocketId, usize) {
    let _ = transmits(d);
    d.handle_input(
        Input::Received {
            conn,
            data: &invite("1001", sdp, branch),
        },
        now,
    );
    let ts = transmits(d);
    let sockets = ts
        .iter()
        .filter(|t| matches!(t, Transmit::Bind { .. }))
        .count();
    let socket = bind_all(d, &ts, base, now);
    let ts = transmits(d);
    let ok = sent(&ts, conn)
        .into_iter()
        .find_map(|m| match m {
            Message::Response(r) if r.status == 200 => Some(r),
            _ => None,
        })
        .expect("auto answer: 200 OK");
    let call = events(d)
        .iter()
        .find_map(|e| match e {
            Event::CallEstablished { call, .. } => Some(*call),
            _ => None,
        })
        .expect("established");
    (ok, call, socket, sockets)
}

#[test]
fn an_incoming_call_binds_media_answers_and_runs_on_a_20_ms_clock() {
    let t0 = Instant::now();
    let mut d = device("", t0);
    let conn = registered(&mut d, t0);
    let (ok, call, socket, sockets) = answered(&mut d, conn, PLAIN_OFFER, "inv1", 41000, t0);
    // RTP, and RTCP on a port of its own (the offer has no rtcp-mux).
    assert_eq!(sockets, 2);
    let answer = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(answer.contains("m=audio 41000 RTP/AVP 0\r\n"), "{answer}");
    assert!(answer.contains("a=rtcp:41001"), "{answer}");
    // The call's 20 ms clock: each tick plays out a frame, and the
    // application answers with one to send; a packet goes to the offered
    // address every 20 ms, and no sooner.
    let peer: SocketAddr = "192.0.2.50:30000".parse().unwrap();
    let (mut at, mut packets, mut frames) = (t0, 0, 0);
    for _ in 0..10 {
        at = d.poll_timeout().unwrap();
        assert!(at - t0 <= Duration::from_millis(200));
        d.handle_timeout(at);
        for e in events(&mut d) {
            if let Event::Audio { call: c, frame, .. } = e {
                assert_eq!((c, frame.len()), (call, 160));
                frames += 1;
                d.send_audio(call, &[1000; 160]).unwrap();
            }
        }
        packets += transmits(&mut d)
            .iter()
            .filter(|t| matches!(t, Transmit::SendTo { to, .. } if *to == peer))
            .count();
    }
    assert!(
        (9..=10).contains(&frames),
        "{frames} frames in {:?}",
        at - t0
    );
    assert!(
        (8..=10).contains(&packets),
        "{packets} packets in {:?}",
        at - t0
    );
    // The caller hangs up: the call ends, its sockets are released.
    let bye = format!(
        "BYE sip:1001@192.0.2.10:40000;transport=tcp SIP/2.0\r\n\
         Via: SIP/2.0/TCP 192.0.2.1:5060;branch=z9hG4bKbye1\r\nMax-Forwards: 70\r\n\
         From: <sip:2002@example.com>;tag=caller1\r\n{}\r\n\
         Call-ID: inv1@192.0.2.1\r\nCSeq: 2 BYE\r\nContent-Length: 0\r\n\r\n",
        ok.headers
            .get(&HeaderName::To)
            .map(|t| format!("To: {t}"))
            .unwrap()
    );
    d.handle_input(
        Input::Received {
            conn,
            data: bye.as_bytes(),
        },
        at,
    );
    let ts = transmits(&mut d);
    assert_eq!(
        ts.iter()
            .filter(|t| matches!(t, Transmit::Release { .. }))
            .count(),
        2
    );
    assert!(ts
        .iter()
        .any(|t| matches!(t, Transmit::Release { socket: s } if *s == socket)));
    let evs = events(&mut d);
    let ended = evs
        .iter()
        .find_map(|e| match e {
            Event::CallEnded { call: c, status } if *c == call => Some(status.clone()),
            _ => None,
        })
        .expect("ended");
    assert_eq!(ended.stats.packets_sent, packets as u64);
}

#[test]
fn without_auto_answer_the_application_decides() {
    let t0 = Instant::now();
    let store = Arc::new(TrustStore::builder().builtin(false).build());
    let mut config = DeviceConfig::new(settings(""), store, SystemTime::UNIX_EPOCH);
    config.auto_answer = false;
    let mut d = Device::new(config, t0).unwrap();
    let conn = registered(&mut d, t0);
    d.handle_input(
        Input::Received {
            conn,
            data: &invite("1001", PLAIN_OFFER, "inv2"),
        },
        t0,
    );
    let ts = transmits(&mut d);
    bind_all(&mut d, &ts, 41002, t0);
    let ts = transmits(&mut d);
    assert!(sent(&ts, conn)
        .iter()
        .any(|m| matches!(m, Message::Response(r) if r.status == 180)));
    let call = events(&mut d)
        .iter()
        .find_map(|e| match e {
            Event::IncomingCall { call, .. } => Some(*call),
            _ => None,
        })
        .expect("reported, not answered");
    d.reject(call, 603, t0).unwrap();
    let ts = transmits(&mut d);
    assert!(sent(&ts, conn)
        .iter()
        .any(|m| matches!(m, Message::Response(r) if r.status == 603)));
    assert!(d.answer(call, t0).is_err());
}

#[test]
fn events_are_bounded_and_dropped_audio_is_counted() {
    let t0 = Instant::now();
    let mut d = device("", t0);
    for i in 0..(MAX_EVENTS + 10) {
        d.event(Event::Audio {
            call: CallId(i as u64),
            frame: Vec::new(),
            concealed: false,
        });
    }
    assert_eq!(d.events.len(), MAX_EVENTS);
    let mut status = DeviceStatus::default();
    d.fill_status(&mut status);
    assert_eq!(status.events_dropped, 10);
}

/// RFC 4733 both ways on a call whose offer had `telephone-event/8000` at
/// PT 96: digits from the peer are reported once each, and a digit we send
/// goes out as event packets of the peer's payload type.
#[test]
fn telephone_events_both_ways() {
    use sigil_media::{Packetizer, TelephoneEvent};
    let sdp = "v=0\r\no=- 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
               m=audio 30000 RTP/AVP 0 96\r\na=rtpmap:96 telephone-event/8000\r\na=rtcp-mux\r\n";
    let t0 = Instant::now();
    let mut d = device("", t0);
    let conn = registered(&mut d, t0);
    let (ok, call, socket, sockets) = answered(&mut d, conn, sdp, "dtmf1", 42000, t0);
    // rtcp-mux offered: one socket.
    assert_eq!(sockets, 1);
    let answer = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(
        answer.contains("m=audio 42000 RTP/AVP 0 96\r\n"),
        "{answer}"
    );
    assert!(answer.contains("a=rtcp-mux"), "{answer}");
    // The peer presses 5: three packets of one event, the last ones ending it twice over.
    let peer: SocketAddr = "192.0.2.50:30000".parse().unwrap();
    let mut rtp = Packetizer::with_state(0, 0x1234_5678, 100, 8000);
    let mut at = t0;
    let mut digits = Vec::new();
    for (i, (end, duration)) in [
        (false, 160u16),
        (false, 320),
        (true, 480),
        (true, 480),
        (true, 480),
    ]
    .into_iter()
    .enumerate()
    {
        let event = TelephoneEvent {
            event: 5,
            end,
            volume: 10,
            duration,
        };
        let mut packet = Vec::new();
        rtp.event(&mut packet, 96, i == 0, 8000, &event.to_bytes());
        at += Duration::from_millis(20);
        d.handle_input(
            Input::Datagram {
                socket,
                from: peer,
                data: &packet,
            },
            at,
        );
        d.handle_timeout(at);
        digits.extend(events(&mut d).into_iter().filter_map(|e| match e {
            Event::Dtmf { digit, .. } => Some(digit),
            _ => None,
        }));
        let _ = transmits(&mut d);
    }
    assert_eq!(digits, vec!['5']);
    // We press #: event packets (PT 96) follow on the media clock.
    d.send_dtmf(call, '#', Duration::from_millis(100)).unwrap();
    let mut event_packets = 0;
    for _ in 0..20 {
        at = d.poll_timeout().unwrap();
        d.handle_timeout(at);
        let _ = events(&mut d);
        event_packets += transmits(&mut d)
            .iter()
            .filter(|t| matches!(t, Transmit::SendTo { to, data, .. } if *to == peer && data.get(1).map(|b| b & 0x7F) == Some(96)))
            .count();
    }
    assert!(event_packets >= 5, "{event_packets} event packets");
}
