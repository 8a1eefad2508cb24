//! Requests inside the dialog, on both sides: building them (Via, tags, CSeq,
//! route set), sending BYE, and answering what the peer sends (ACK, BYE,
//! re-INVITE, OPTIONS, …).

use std::time::Instant;

use crate::header::{Header, HeaderName};
use crate::message::{Message, Request};
use crate::registration::{new_branch, push_user_agent, request_head};
use crate::uri::Uri;
use crate::values::{Method, NameAddr, Param, Via};

use super::{stateless_response, Dialog, DialogOutput, DialogState, EndReason, Role};

impl Dialog {
    /// Where to send a request of this dialog: the first Route (loose
    /// routing), else the Request-URI.
    pub fn next_hop(request: &Request) -> Uri {
        request
            .headers
            .route()
            .into_iter()
            .next()
            .map(|r| r.uri)
            .unwrap_or_else(|| request.uri.clone())
    }

    pub(super) fn via(&self, branch: &str) -> Via {
        let c = &self.config;
        let mut via = Via::new(&c.transport, &c.via_host, c.via_port, branch);
        via.params.push(Param::new("rport", None));
        if c.alias {
            via.params.push(Param::new("alias", None));
        }
        via
    }

    fn tagged_ends(&self) -> (NameAddr, NameAddr) {
        let mut local = self.local.clone();
        local.set_param("tag", Some(&self.local_tag));
        let mut remote = self.remote.clone();
        if let Some(t) = &self.remote_tag {
            remote.set_param("tag", Some(t));
        }
        (local, remote)
    }

    /// A request of this dialog: Via, Max-Forwards, From, To, Call-ID, CSeq,
    /// Route set, Contact (INVITE), User-Agent. Request-URI = remote target.
    pub(super) fn base_request(&self, method: Method, cseq: u32, branch: &str) -> Request {
        let (local, remote) = self.tagged_ends();
        let mut r = request_head(
            method.clone(),
            self.remote_target.clone(),
            self.via(branch),
            (local, remote),
            &self.call_id,
            cseq,
        );
        for route in &self.route_set {
            r.headers.push(Header::typed(HeaderName::Route, route));
        }
        if method == Method::Invite {
            r.headers.push(Header::typed(
                HeaderName::Contact,
                NameAddr::new(self.config.contact.clone()),
            ));
            r.headers.push(Header::unchecked(
                HeaderName::Allow,
                "INVITE, ACK, CANCEL, BYE, OPTIONS".into(),
            ));
        }
        push_user_agent(&mut r, self.config.user_agent.as_deref());
        r
    }

    pub(super) fn bye(&mut self, reason: &str, now: Instant) {
        self.local_cseq = self.local_cseq.wrapping_add(1);
        let branch = new_branch();
        let bye = self.base_request(Method::Bye, self.local_cseq, &branch);
        self.state = DialogState::Ending;
        self.ack_due = None;
        self.retransmit_2xx_at = None;
        self.end_reason = Some(EndReason::HungUp(reason.to_string()));
        let cseq = self.local_cseq;
        self.start_non_invite(bye, branch, cseq, now);
    }

    /// Feed a request received on the connection. Returns `false` when it does
    /// not belong to this call (the caller answers 481 if no call claims it).
    pub fn handle_request(&mut self, request: &Request, now: Instant) -> bool {
        if request.headers.call_id() != Some(self.call_id.as_str()) {
            return false;
        }
        let from_tag = request
            .headers
            .from()
            .and_then(|f| f.tag().map(str::to_string));
        let to_tag = request
            .headers
            .to()
            .and_then(|t| t.tag().map(str::to_string));
        // CANCEL and retransmitted INVITEs match the INVITE transaction by branch.
        if self.role == Role::Callee && to_tag.is_none() {
            return self.invite_transaction_request(request, from_tag.as_deref());
        }
        if from_tag.as_deref() != self.remote_tag.as_deref()
            || to_tag.as_deref() != Some(self.local_tag.as_str())
        {
            return false;
        }
        let seq = request.headers.cseq().map(|c| c.seq);
        match request.method {
            Method::Ack => self.on_ack(),
            Method::Bye => {
                self.remote_cseq = seq.or(self.remote_cseq);
                self.respond(request, 200);
                self.terminate(EndReason::PeerHungUp);
            }
            Method::Invite => {
                // re-INVITE: not supported; the call carries on.
                self.remote_cseq = seq.or(self.remote_cseq);
                self.respond(request, 488);
            }
            Method::Options | Method::Info | Method::Update => {
                self.remote_cseq = seq.or(self.remote_cseq);
                self.respond(request, 200);
            }
            Method::Cancel => self.respond(request, 481),
            _ => self.respond(request, 501),
        }
        let _ = now;
        true
    }

    pub(super) fn respond(&mut self, request: &Request, status: u16) {
        if let Some(r) = stateless_response(request, status, None) {
            self.out.push_back(DialogOutput::Send(Message::Response(r)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::test_support::{config, drain, req, resp, setup};
    use crate::dialog::DialogEvent;

    #[test]
    fn callee_hangs_up_with_bye_to_callers_contact() {
        let now = Instant::now();
        let (mut alice, mut bob, _) = setup(now);
        drain(&mut bob);
        bob.accept(Vec::new(), now);
        let (m, _) = drain(&mut bob);
        alice.handle_response(resp(&m[0]), now);
        let (am, _) = drain(&mut alice);
        bob.handle_request(req(&am[0]), now);
        drain(&mut bob);
        bob.hang_up("bye", now);
        let (bm, _) = drain(&mut bob);
        let bye = req(&bm[0]);
        assert_eq!(
            bye.uri.to_string(),
            "sip:alice@127.0.0.1:5061;transport=tls"
        );
        assert_eq!(bye.headers.from().unwrap().tag(), Some(bob.local_tag()));
        assert_eq!(bye.headers.to().unwrap().tag(), Some(alice.local_tag()));
        assert!(alice.handle_request(bye, now));
        let (am, ae) = drain(&mut alice);
        assert_eq!(resp(&am[0]).status, 200);
        assert_eq!(ae, vec![DialogEvent::Terminated(EndReason::PeerHungUp)]);
        assert!(bob.handle_response(resp(&am[0]), now));
        assert!(bob.is_terminated());
    }

    #[test]
    fn record_route_gives_route_sets_in_both_directions() {
        let now = Instant::now();
        let (mut alice, _, mut invite) = setup(now);
        // Two proxies record-route, the nearest to the callee on top.
        invite
            .headers
            .push_front(Header::new(HeaderName::RecordRoute, "<sip:p1.example.com;lr>").unwrap());
        invite
            .headers
            .push_front(Header::new(HeaderName::RecordRoute, "<sip:p2.example.com;lr>").unwrap());
        let mut bob = Dialog::incoming(config("bob", 5062), &invite, now).unwrap();
        drain(&mut bob);
        bob.accept(Vec::new(), now);
        let (m, _) = drain(&mut bob);
        let ok = resp(&m[0]);
        assert_eq!(ok.headers.record_route().len(), 2);
        alice.handle_response(ok, now);
        let (am, _) = drain(&mut alice);
        let ack = req(&am[0]);
        let routes: Vec<String> = ack
            .headers
            .route()
            .iter()
            .map(|r| r.uri.to_string())
            .collect();
        assert_eq!(
            routes,
            vec!["sip:p1.example.com;lr", "sip:p2.example.com;lr"]
        );
        assert_eq!(Dialog::next_hop(ack).to_string(), "sip:p1.example.com;lr");
        assert_eq!(ack.uri.to_string(), "sip:bob@127.0.0.1:5062;transport=tls");
        bob.handle_request(ack, now);
        bob.hang_up("x", now);
        let (bm, _) = drain(&mut bob);
        let routes: Vec<String> = req(&bm[0])
            .headers
            .route()
            .iter()
            .map(|r| r.uri.to_string())
            .collect();
        assert_eq!(
            routes,
            vec!["sip:p2.example.com;lr", "sip:p1.example.com;lr"]
        );
    }

    #[test]
    fn reinvite_is_refused_but_the_call_continues() {
        let now = Instant::now();
        let (mut alice, mut bob, _) = setup(now);
        drain(&mut bob);
        bob.accept(Vec::new(), now);
        let (m, _) = drain(&mut bob);
        alice.handle_response(resp(&m[0]), now);
        let (am, _) = drain(&mut alice);
        bob.handle_request(req(&am[0]), now);
        drain(&mut bob);
        let mut reinvite = req(&am[0]).clone();
        reinvite.method = Method::Invite;
        reinvite
            .headers
            .set(Header::new(HeaderName::CSeq, "5 INVITE").unwrap());
        assert!(bob.handle_request(&reinvite, now));
        let (bm, _) = drain(&mut bob);
        assert_eq!(resp(&bm[0]).status, 488);
        assert_eq!(bob.state(), DialogState::Confirmed);
    }
}
