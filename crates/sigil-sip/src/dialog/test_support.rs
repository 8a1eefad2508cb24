//! Helpers shared by the dialog unit tests: two parties talking through the
//! wire form and the parser.

use std::time::Instant;

use crate::message::{parse, Message, Request, Response};
use crate::values::Method;

use super::{Dialog, DialogConfig, DialogEvent, DialogOutput};

pub(super) fn config(user: &str, port: u16) -> DialogConfig {
    let mut c = DialogConfig::new(
        format!("sip:{user}@example.com").parse().unwrap(),
        format!("sip:{user}@127.0.0.1:{port};transport=tls")
            .parse()
            .unwrap(),
    );
    c.user_agent = Some("sigil-test".into());
    c
}

/// Drain a dialog, passing every message through the wire form and the parser.
pub(super) fn drain(d: &mut Dialog) -> (Vec<Message>, Vec<DialogEvent>) {
    let mut msgs = Vec::new();
    let mut events = Vec::new();
    for _ in 0..64 {
        match d.poll_output() {
            Some(DialogOutput::Send(m)) => msgs.push(parse(&m.to_bytes()).unwrap()),
            Some(DialogOutput::Event(e)) => events.push(e),
            None => break,
        }
    }
    (msgs, events)
}

pub(super) fn req(m: &Message) -> &Request {
    m.as_request().unwrap()
}

pub(super) fn resp(m: &Message) -> &Response {
    m.as_response().unwrap()
}

pub(super) fn setup(now: Instant) -> (Dialog, Dialog, Request) {
    let mut alice = Dialog::invite(
        config("alice", 5061),
        "sip:bob@example.com".parse().unwrap(),
        b"v=0\r\n".to_vec(),
        now,
    );
    let (m, e) = drain(&mut alice);
    assert!(e.is_empty());
    assert_eq!(m.len(), 1);
    let invite = req(&m[0]).clone();
    assert_eq!(invite.method, Method::Invite);
    assert_eq!(
        invite.headers.content_type().unwrap().to_string(),
        "application/sdp"
    );
    assert!(invite.headers.top_via().unwrap().alias());
    let bob = Dialog::incoming(config("bob", 5062), &invite, now).unwrap();
    (alice, bob, invite)
}
