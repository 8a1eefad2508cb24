//! The caller side (UAC): the INVITE and its responses (provisional, 2xx with
//! its ACK, failures with theirs), one digest-authenticated retry on 401/407,
//! and CANCEL.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::digest::DigestClient;
use crate::header::{Header, HeaderName};
use crate::message::{Message, Request, Response};
use crate::registration::{new_branch, random_hex, T1};
use crate::uri::Uri;
use crate::values::{CSeq, Method, NameAddr};

use super::{
    Dialog, DialogConfig, DialogEvent, DialogOutput, DialogState, EndReason, Role, MAX_ROUTES,
};

impl Dialog {
    /// Caller side: start a call to `target` with `sdp` as the offer. The
    /// INVITE is the first [`Dialog::poll_output`].
    pub fn invite(config: DialogConfig, target: Uri, sdp: Vec<u8>, now: Instant) -> Dialog {
        let mut local = NameAddr::new(config.local_uri.clone());
        local.display_name = config.display_name.as_ref().map(|d| crate::quote(d));
        let remote = NameAddr::new(target.clone());
        let call_id = format!(
            "{}@{}",
            random_hex(12),
            config.via_host.trim_matches(['[', ']']).replace(':', ".")
        );
        let digest = config.credentials.clone().map(DigestClient::new);
        let mut d = Dialog {
            role: Role::Caller,
            state: DialogState::Calling,
            call_id,
            local_tag: random_hex(6),
            remote_tag: None,
            local,
            remote,
            remote_target: target,
            route_set: Vec::new(),
            local_cseq: 1,
            remote_cseq: None,
            invite: None,
            non_invite: None,
            ack: None,
            incoming: None,
            final_response: None,
            ack_due: None,
            retransmit_2xx_at: None,
            retransmit_2xx_interval: T1,
            auth_attempts: 0,
            cancel_pending: false,
            digest,
            end_reason: None,
            out: VecDeque::new(),
            config,
        };
        let branch = new_branch();
        let mut invite = d.base_request(Method::Invite, d.local_cseq, &branch);
        invite.uri = d.remote_target.clone();
        invite.body = Bytes::from(sdp);
        if !invite.body.is_empty() {
            invite.headers.push(Header::unchecked(
                HeaderName::ContentType,
                "application/sdp".into(),
            ));
        }
        d.start_invite(invite, branch, now);
        d
    }

    pub(super) fn cancel(&mut self, now: Instant) {
        let Some(tx) = &self.invite else { return };
        let mut c = Request::new(Method::Cancel, tx.request.uri.clone());
        for name in [
            HeaderName::Via,
            HeaderName::From,
            HeaderName::To,
            HeaderName::CallId,
        ] {
            if let Some(v) = tx.request.headers.get(&name) {
                c.headers
                    .push(Header::unchecked(name.clone(), v.to_string()));
            }
        }
        c.headers.push(Header::typed(HeaderName::MaxForwards, 70));
        c.headers.push(Header::typed(
            HeaderName::CSeq,
            CSeq {
                seq: tx.cseq,
                method: Method::Cancel,
            },
        ));
        for v in tx.request.headers.get_all(&HeaderName::Route) {
            c.headers
                .push(Header::unchecked(HeaderName::Route, v.to_string()));
        }
        let branch = tx.branch.clone();
        let cseq = tx.cseq;
        self.state = DialogState::Cancelling;
        if self.end_reason.is_none() {
            self.end_reason = Some(EndReason::Cancelled);
        }
        self.start_non_invite(c, branch, cseq, now);
    }

    pub(super) fn invite_response(&mut self, response: &Response, now: Instant) {
        let status = response.status;
        if self.role != Role::Caller {
            return;
        }
        // A retransmitted 2xx after we ACKed it: ACK again.
        if self.invite.is_none() {
            if (200..300).contains(&status) {
                if let Some(ack) = &self.ack {
                    self.out
                        .push_back(DialogOutput::Send(Message::Request(ack.clone())));
                }
            }
            return;
        }
        let to_tag = response
            .headers
            .to()
            .and_then(|t| t.tag().map(str::to_string));
        match status {
            100 => {
                if self.state == DialogState::Calling {
                    self.state = DialogState::Proceeding;
                }
                if let Some(tx) = &mut self.invite {
                    tx.retransmit_at = None;
                }
                self.after_provisional(now);
            }
            101..=199 => {
                if let Some(tx) = &mut self.invite {
                    tx.retransmit_at = None;
                }
                if matches!(self.state, DialogState::Calling | DialogState::Proceeding) {
                    self.learn_dialog(response, to_tag);
                    if status == 180 || status == 183 {
                        self.state = DialogState::Ringing;
                        self.out
                            .push_back(DialogOutput::Event(DialogEvent::Ringing));
                    } else {
                        self.state = DialogState::Proceeding;
                    }
                }
                self.after_provisional(now);
            }
            200..=299 => {
                self.learn_dialog(response, to_tag);
                self.invite = None;
                self.local_cseq = self.local_cseq.max(cseq_of(response));
                let branch = new_branch();
                let mut ack = self.base_request(Method::Ack, cseq_of(response), &branch);
                ack.headers
                    .push(Header::typed(HeaderName::ContentLength, 0));
                self.ack = Some(ack.clone());
                self.out
                    .push_back(DialogOutput::Send(Message::Request(ack)));
                let cancelled = self.state == DialogState::Cancelling || self.cancel_pending;
                self.state = DialogState::Confirmed;
                self.cancel_pending = false;
                self.non_invite = None;
                self.out
                    .push_back(DialogOutput::Event(DialogEvent::Answered {
                        body: response.body.clone(),
                    }));
                if cancelled {
                    // The answer crossed our CANCEL: the call is up, so end it with BYE.
                    let reason = match self.end_reason.take() {
                        Some(EndReason::HungUp(r)) => r,
                        _ => "cancelled".to_string(),
                    };
                    self.bye(&reason, now);
                }
            }
            401 | 407 if self.auth_attempts == 0 && self.digest.is_some() => {
                self.ack_failure(response);
                self.auth_attempts += 1;
                let Some(tx) = self.invite.take() else { return };
                self.local_cseq = self.local_cseq.wrapping_add(1);
                let branch = new_branch();
                let mut invite = tx.request.clone();
                invite.headers.remove(&HeaderName::Via);
                invite
                    .headers
                    .push_front(Header::typed(HeaderName::Via, self.via(&branch)));
                invite.headers.set(Header::typed(
                    HeaderName::CSeq,
                    CSeq {
                        seq: self.local_cseq,
                        method: Method::Invite,
                    },
                ));
                let authorized = self
                    .digest
                    .as_mut()
                    .map(|d| d.authorize_request(response, &mut invite).is_ok())
                    .unwrap_or(false);
                if !authorized {
                    self.terminate(rejected(response));
                    return;
                }
                self.state = DialogState::Calling;
                self.start_invite(invite, branch, now);
            }
            _ => {
                self.ack_failure(response);
                let reason = if self.state == DialogState::Cancelling && status == 487 {
                    self.end_reason.take().unwrap_or(EndReason::Cancelled)
                } else {
                    rejected(response)
                };
                self.terminate(reason);
            }
        }
    }

    fn after_provisional(&mut self, now: Instant) {
        if self.cancel_pending {
            self.cancel_pending = false;
            self.cancel(now);
        }
    }

    /// ACK for a non-2xx final response: same branch, the response's To (RFC 3261 §17.1.1.3).
    fn ack_failure(&mut self, response: &Response) {
        let Some(tx) = &self.invite else { return };
        let mut ack = Request::new(Method::Ack, tx.request.uri.clone());
        if let Some(v) = tx.request.headers.get(&HeaderName::Via) {
            ack.headers
                .push(Header::unchecked(HeaderName::Via, v.to_string()));
        }
        ack.headers.push(Header::typed(HeaderName::MaxForwards, 70));
        for (name, src) in [
            (HeaderName::From, &tx.request.headers),
            (HeaderName::To, &response.headers),
            (HeaderName::CallId, &tx.request.headers),
        ] {
            if let Some(v) = src.get(&name) {
                ack.headers
                    .push(Header::unchecked(name.clone(), v.to_string()));
            }
        }
        ack.headers.push(Header::typed(
            HeaderName::CSeq,
            CSeq {
                seq: tx.cseq,
                method: Method::Ack,
            },
        ));
        for v in tx.request.headers.get_all(&HeaderName::Route) {
            ack.headers
                .push(Header::unchecked(HeaderName::Route, v.to_string()));
        }
        ack.headers
            .push(Header::typed(HeaderName::ContentLength, 0));
        self.out
            .push_back(DialogOutput::Send(Message::Request(ack)));
    }

    /// Caller: take the remote tag, target and route set from a 1xx/2xx with a To tag.
    fn learn_dialog(&mut self, response: &Response, to_tag: Option<String>) {
        let Some(tag) = to_tag else { return };
        if self.remote_tag.is_some() && self.state == DialogState::Confirmed {
            return;
        }
        self.remote_tag = Some(tag);
        if let Some(c) = response.headers.contacts().into_iter().next() {
            self.remote_target = c.uri;
        }
        let mut rr = response.headers.record_route();
        rr.truncate(MAX_ROUTES);
        rr.reverse();
        if !rr.is_empty() || (200..300).contains(&response.status) {
            self.route_set = rr;
        }
    }
}

fn cseq_of(response: &Response) -> u32 {
    response.headers.cseq().map_or(0, |c| c.seq)
}

fn rejected(response: &Response) -> EndReason {
    EndReason::Rejected {
        status: response.status,
        reason: response.reason.clone(),
        warning: response.headers.warnings().first().map(|w| w.text.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::test_support::{config, drain, req, resp, setup};
    use crate::dialog::{stateless_response, top_branch};
    use crate::digest::Credentials;

    #[test]
    fn call_answered_and_hung_up_by_caller() {
        let now = Instant::now();
        let (mut alice, mut bob, invite) = setup(now);
        let (m, _) = drain(&mut bob);
        assert_eq!(resp(&m[0]).status, 100);
        assert!(alice.handle_response(resp(&m[0]), now));
        assert_eq!(alice.state(), DialogState::Proceeding);
        bob.ring(now);
        bob.accept(b"v=0 answer\r\n".to_vec(), now);
        assert_eq!(bob.state(), DialogState::Accepted);
        let (m, _) = drain(&mut bob);
        assert_eq!(resp(&m[0]).status, 180);
        assert_eq!(resp(&m[1]).status, 200);
        assert_eq!(
            resp(&m[1]).headers.to().unwrap().tag(),
            Some(bob.local_tag())
        );
        assert!(alice.handle_response(resp(&m[0]), now));
        assert!(alice.handle_response(resp(&m[1]), now));
        let (am, ae) = drain(&mut alice);
        assert_eq!(
            ae,
            vec![
                DialogEvent::Ringing,
                DialogEvent::Answered {
                    body: Bytes::from_static(b"v=0 answer\r\n")
                }
            ]
        );
        let ack = req(&am[0]);
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(ack.uri.to_string(), "sip:bob@127.0.0.1:5062;transport=tls");
        assert_eq!(
            ack.headers.cseq().unwrap().seq,
            invite.headers.cseq().unwrap().seq
        );
        assert_ne!(top_branch(&ack.headers), top_branch(&invite.headers));
        assert!(bob.handle_request(ack, now));
        assert_eq!(drain(&mut bob).1, vec![DialogEvent::Confirmed]);
        assert_eq!(alice.state(), DialogState::Confirmed);
        assert_eq!(bob.state(), DialogState::Confirmed);

        alice.hang_up("done", now);
        let (am, _) = drain(&mut alice);
        let bye = req(&am[0]);
        assert_eq!(bye.method, Method::Bye);
        assert_eq!(bye.headers.cseq().unwrap().seq, 2);
        assert!(bob.handle_request(bye, now));
        let (bm, be) = drain(&mut bob);
        assert_eq!(resp(&bm[0]).status, 200);
        assert_eq!(be, vec![DialogEvent::Terminated(EndReason::PeerHungUp)]);
        assert!(alice.handle_response(resp(&bm[0]), now));
        assert_eq!(
            drain(&mut alice).1,
            vec![DialogEvent::Terminated(EndReason::HungUp("done".into()))]
        );
        assert!(alice.is_terminated() && bob.is_terminated());
        assert_eq!(alice.poll_timeout(), None);
    }

    #[test]
    fn rejection_488_is_acked_on_the_invite_branch_with_its_warning() {
        let now = Instant::now();
        let (mut alice, mut bob, invite) = setup(now);
        drain(&mut bob);
        bob.reject(488, "Not Acceptable Here", Some("SRTP required"), now);
        let (m, e) = drain(&mut bob);
        let r = resp(&m[0]);
        assert_eq!((r.status, r.reason.as_str()), (488, "Not Acceptable Here"));
        assert_eq!(r.headers.warnings()[0].text, "SRTP required");
        assert!(matches!(
            &e[..],
            [DialogEvent::Terminated(EndReason::Declined {
                status: 488,
                ..
            })]
        ));
        assert!(alice.handle_response(r, now));
        let (am, ae) = drain(&mut alice);
        let ack = req(&am[0]);
        assert_eq!(ack.method, Method::Ack);
        assert_eq!(top_branch(&ack.headers), top_branch(&invite.headers));
        assert_eq!(ack.headers.to().unwrap().tag(), Some(bob.local_tag()));
        assert_eq!(
            ae,
            vec![DialogEvent::Terminated(EndReason::Rejected {
                status: 488,
                reason: "Not Acceptable Here".into(),
                warning: Some("SRTP required".into())
            })]
        );
        assert!(bob.handle_request(ack, now), "the ACK of a 488 is absorbed");
        assert!(drain(&mut bob).0.is_empty());
    }

    #[test]
    fn cancel_before_answer() {
        let now = Instant::now();
        let (mut alice, mut bob, invite) = setup(now);
        drain(&mut bob);
        bob.ring(now);
        let (m, _) = drain(&mut bob);
        alice.handle_response(resp(&m[0]), now);
        drain(&mut alice);
        alice.hang_up("changed my mind", now);
        assert_eq!(alice.state(), DialogState::Cancelling);
        let (am, _) = drain(&mut alice);
        let cancel = req(&am[0]);
        assert_eq!(cancel.method, Method::Cancel);
        assert_eq!(top_branch(&cancel.headers), top_branch(&invite.headers));
        assert_eq!(cancel.headers.to().unwrap().tag(), None);
        assert_eq!(cancel.uri, invite.uri);
        assert!(bob.handle_request(cancel, now));
        let (bm, be) = drain(&mut bob);
        assert_eq!(
            (
                resp(&bm[0]).status,
                resp(&bm[0]).headers.cseq().unwrap().method
            ),
            (200, Method::Cancel)
        );
        assert_eq!(
            (
                resp(&bm[1]).status,
                resp(&bm[1]).headers.cseq().unwrap().method
            ),
            (487, Method::Invite)
        );
        assert_eq!(be, vec![DialogEvent::Terminated(EndReason::Cancelled)]);
        assert!(alice.handle_response(resp(&bm[0]), now));
        assert!(alice.handle_response(resp(&bm[1]), now));
        let (am, ae) = drain(&mut alice);
        assert_eq!(req(&am[0]).method, Method::Ack);
        assert_eq!(
            ae,
            vec![DialogEvent::Terminated(EndReason::HungUp(
                "changed my mind".into()
            ))]
        );
    }

    #[test]
    fn hang_up_before_any_response_cancels_after_the_first_provisional() {
        let now = Instant::now();
        let (mut alice, mut bob, _) = setup(now);
        alice.hang_up("abort", now);
        assert!(
            drain(&mut alice).0.is_empty(),
            "no CANCEL before a provisional response"
        );
        let (m, _) = drain(&mut bob);
        alice.handle_response(resp(&m[0]), now);
        let (am, _) = drain(&mut alice);
        assert_eq!(req(&am[0]).method, Method::Cancel);
    }

    #[test]
    fn answer_crossing_cancel_is_acked_then_byed() {
        let now = Instant::now();
        let (mut alice, mut bob, _) = setup(now);
        let (m, _) = drain(&mut bob);
        alice.handle_response(resp(&m[0]), now);
        alice.hang_up("abort", now);
        drain(&mut alice);
        bob.accept(Vec::new(), now);
        let (m, _) = drain(&mut bob);
        alice.handle_response(resp(&m[0]), now);
        let (am, _) = drain(&mut alice);
        let methods: Vec<_> = am.iter().map(|m| req(m).method.clone()).collect();
        assert_eq!(methods, vec![Method::Ack, Method::Bye]);
    }

    #[test]
    fn digest_challenge_to_invite_is_answered_once() {
        let now = Instant::now();
        let mut c = config("alice", 5061);
        c.credentials = Some(Credentials::new("alice", "secret"));
        let mut alice = Dialog::invite(c, "sip:bob@example.com".parse().unwrap(), Vec::new(), now);
        let (m, _) = drain(&mut alice);
        let invite = req(&m[0]);
        let mut challenge = stateless_response(invite, 407, Some("proxytag")).unwrap();
        challenge.headers.push(
            Header::new(
                HeaderName::ProxyAuthenticate,
                r#"Digest realm="example.com", nonce="abc""#,
            )
            .unwrap(),
        );
        assert!(alice.handle_response(&challenge, now));
        let (m, e) = drain(&mut alice);
        assert!(e.is_empty());
        assert_eq!(req(&m[0]).method, Method::Ack);
        let again = req(&m[1]);
        assert_eq!(again.method, Method::Invite);
        assert_eq!(again.headers.cseq().unwrap().seq, 2);
        assert_eq!(again.headers.proxy_authorization().len(), 1);
        let mut second = stateless_response(again, 407, Some("proxytag")).unwrap();
        second.headers.push(
            Header::new(
                HeaderName::ProxyAuthenticate,
                r#"Digest realm="example.com", nonce="def""#,
            )
            .unwrap(),
        );
        assert!(alice.handle_response(&second, now));
        assert!(matches!(
            alice.end_reason(),
            Some(EndReason::Rejected { status: 407, .. })
        ));
    }
}
