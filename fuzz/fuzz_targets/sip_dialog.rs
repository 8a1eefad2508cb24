//! The INVITE dialog state machine driven by arbitrary operation sequences:
//! a caller and a callee exchange their real messages (through the wire form
//! and the parser) while the input picks what each side does, which messages
//! are delivered, dropped, duplicated or corrupted, and how time passes.
//! Nothing may panic, every message a dialog sends must parse, and a
//! terminated dialog stays terminated.
#![no_main]

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use libfuzzer_sys::fuzz_target;
use sigil_sip::dialog::{Dialog, DialogConfig, DialogOutput};
use sigil_sip::{Header, HeaderName, Message};

fn config(user: &str, port: u16) -> DialogConfig {
    DialogConfig::new(
        format!("sip:{user}@example.com").parse().unwrap(),
        format!("sip:{user}@192.0.2.1:{port};transport=tls")
            .parse()
            .unwrap(),
    )
}

fn drain(d: &mut Dialog, to: &mut VecDeque<Message>) {
    // Bounded: a dialog queues a handful of outputs per operation.
    for _ in 0..64 {
        match d.poll_output() {
            Some(DialogOutput::Send(m)) => {
                let m = sigil_sip::parse(&m.to_bytes()).expect("our own messages parse");
                if to.len() < 64 {
                    to.push_back(m);
                }
            }
            Some(DialogOutput::Event(_)) => {}
            None => break,
        }
    }
}

fn deliver(d: &mut Dialog, m: &Message, now: Instant) {
    match m {
        Message::Request(r) => {
            d.handle_request(r, now);
        }
        Message::Response(r) => {
            d.handle_response(r, now);
        }
    }
}

fn corrupt(m: &Message, a: u8) -> Message {
    let mut m = m.clone();
    let value = match a % 6 {
        0 => (HeaderName::CSeq, format!("{} INVITE", a)),
        1 => (
            HeaderName::CSeq,
            format!(
                "1 {}",
                ["ACK", "BYE", "CANCEL", "OPTIONS"][usize::from(a) % 4]
            ),
        ),
        2 => (HeaderName::To, format!("<sip:bob@example.com>;tag=x{a}")),
        3 => (
            HeaderName::From,
            format!("<sip:alice@example.com>;tag=y{a}"),
        ),
        4 => (
            HeaderName::Via,
            format!("SIP/2.0/TLS 192.0.2.9;branch=z9hG4bK{a}"),
        ),
        _ => (HeaderName::CallId, format!("other-{a}@x")),
    };
    if let Ok(h) = Header::new(value.0, value.1) {
        m.headers_mut().set(h);
    }
    if let Message::Response(r) = &mut m {
        if a % 7 == 0 {
            r.status = 100 + u16::from(a) * 2;
        }
    }
    m
}

fuzz_target!(|data: &[u8]| {
    let start = Instant::now();
    let mut now = start;
    let mut caller = Dialog::invite(
        config("alice", 5061),
        "sip:bob@example.com".parse().unwrap(),
        b"v=0\r\n".to_vec(),
        now,
    );
    let mut to_callee = VecDeque::new();
    let mut to_caller = VecDeque::new();
    drain(&mut caller, &mut to_callee);
    let Some(Message::Request(invite)) = to_callee.pop_front() else {
        panic!("the first output is the INVITE");
    };
    let mut callee =
        Dialog::incoming(config("bob", 5062), &invite, now).expect("our INVITE starts a dialog");
    drain(&mut callee, &mut to_caller);
    let mut caller_over = false;
    let mut callee_over = false;
    for op in data.chunks(2).take(128) {
        let (code, a) = (op[0], op.get(1).copied().unwrap_or(0));
        match code % 12 {
            0 => callee.ring(now),
            1 => callee.accept(b"v=0\r\n".to_vec(), now),
            2 => callee.reject(300 + u16::from(a) % 400, "", Some("fuzz"), now),
            3 => caller.hang_up("fuzz", now),
            4 => callee.hang_up("fuzz", now),
            5 => {
                now += Duration::from_millis(u64::from(a) * 300);
                caller.handle_timeout(now);
                callee.handle_timeout(now);
            }
            6 => {
                if let Some(m) = to_callee.pop_front() {
                    deliver(&mut callee, &m, now);
                }
            }
            7 => {
                if let Some(m) = to_caller.pop_front() {
                    deliver(&mut caller, &m, now);
                }
            }
            8 => {
                if let Some(m) = to_callee.front().cloned() {
                    deliver(&mut callee, &corrupt(&m, a), now);
                }
            }
            9 => {
                if let Some(m) = to_caller.front().cloned() {
                    deliver(&mut caller, &corrupt(&m, a), now);
                }
            }
            10 => {
                // Duplicate delivery (retransmission).
                if let Some(m) = to_callee.front().cloned() {
                    deliver(&mut callee, &m, now);
                }
                if let Some(m) = to_caller.front().cloned() {
                    deliver(&mut caller, &m, now);
                }
            }
            _ => {
                // Loss.
                if a % 2 == 0 {
                    to_callee.pop_front();
                } else {
                    to_caller.pop_front();
                }
            }
        }
        drain(&mut caller, &mut to_callee);
        drain(&mut callee, &mut to_caller);
        assert!(
            !caller_over || caller.is_terminated(),
            "caller came back to life"
        );
        assert!(
            !callee_over || callee.is_terminated(),
            "callee came back to life"
        );
        caller_over = caller.is_terminated();
        callee_over = callee.is_terminated();
    }
});
