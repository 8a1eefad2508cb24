//! The callee side (UAS): an incoming INVITE, 100/180, the 2xx retransmitted
//! until its ACK arrives, rejection, and CANCEL.

use std::collections::VecDeque;
use std::time::Instant;

use bytes::Bytes;

use crate::header::{Header, HeaderName};
use crate::message::{Message, Request, Response};
use crate::registration::{random_hex, T1, T2};
use crate::values::{Method, NameAddr};

use super::{
    reason_for, stateless_response, top_branch, Dialog, DialogConfig, DialogError, DialogEvent,
    DialogOutput, DialogState, EndReason, Role, ACK_TIMEOUT, MAX_ROUTES,
};

impl Dialog {
    /// Callee side: a new call from an incoming INVITE. A `100 Trying` is the
    /// first output; then answer with [`Dialog::ring`], [`Dialog::accept`] or
    /// [`Dialog::reject`]. On `Err`, send [`DialogError::response`].
    pub fn incoming(
        config: DialogConfig,
        invite: &Request,
        now: Instant,
    ) -> Result<Dialog, DialogError> {
        let _ = now;
        if invite.method != Method::Invite {
            return Err(DialogError::NotInvite(invite.method.to_string()));
        }
        let h = &invite.headers;
        h.top_via().ok_or(DialogError::MissingHeader("Via"))?;
        let from = h.from().ok_or(DialogError::MissingHeader("From"))?;
        let to = h.to().ok_or(DialogError::MissingHeader("To"))?;
        let call_id = h.call_id().ok_or(DialogError::MissingHeader("Call-ID"))?;
        let cseq = h.cseq().ok_or(DialogError::MissingHeader("CSeq"))?;
        if to.tag().is_some() {
            return Err(DialogError::UnknownDialog);
        }
        let remote_tag = from
            .tag()
            .ok_or(DialogError::MissingHeader("From tag"))?
            .to_string();
        let remote_target = h
            .contacts()
            .into_iter()
            .next()
            .map(|c| c.uri)
            .ok_or(DialogError::MissingHeader("Contact"))?;
        let route_set: Vec<NameAddr> = h.record_route().into_iter().take(MAX_ROUTES).collect();
        let mut remote = from.clone();
        remote
            .params
            .retain(|p| !p.name.eq_ignore_ascii_case("tag"));
        let mut local = to.clone();
        local.params.retain(|p| !p.name.eq_ignore_ascii_case("tag"));
        let mut d = Dialog {
            role: Role::Callee,
            state: DialogState::Proceeding,
            call_id: call_id.to_string(),
            local_tag: random_hex(6),
            remote_tag: Some(remote_tag),
            local,
            remote,
            remote_target,
            route_set,
            local_cseq: 1,
            remote_cseq: Some(cseq.seq),
            invite: None,
            non_invite: None,
            ack: None,
            incoming: Some(invite.clone()),
            final_response: None,
            ack_due: None,
            retransmit_2xx_at: None,
            retransmit_2xx_interval: T1,
            auth_attempts: 0,
            cancel_pending: false,
            digest: None,
            end_reason: None,
            out: VecDeque::new(),
            config,
        };
        if let Some(trying) = stateless_response(invite, 100, None) {
            d.out
                .push_back(DialogOutput::Send(Message::Response(trying)));
        }
        Ok(d)
    }

    /// Callee: send `180 Ringing`.
    pub fn ring(&mut self, now: Instant) {
        let _ = now;
        if self.role != Role::Callee || self.state != DialogState::Proceeding {
            return;
        }
        if let Some(r) = self.response(180, None) {
            self.state = DialogState::Ringing;
            self.out.push_back(DialogOutput::Send(Message::Response(r)));
        }
    }

    /// Callee: answer with `200 OK` carrying `sdp`. The call is up when the
    /// ACK arrives ([`DialogEvent::Confirmed`]).
    pub fn accept(&mut self, sdp: Vec<u8>, now: Instant) {
        if self.role != Role::Callee
            || !matches!(self.state, DialogState::Proceeding | DialogState::Ringing)
        {
            return;
        }
        let Some(mut r) = self.response(200, None) else {
            return;
        };
        r.headers.push(Header::typed(
            HeaderName::Contact,
            NameAddr::new(self.config.contact.clone()),
        ));
        r.headers.push(Header::unchecked(
            HeaderName::Allow,
            "INVITE, ACK, CANCEL, BYE, OPTIONS".into(),
        ));
        if !sdp.is_empty() {
            r.headers.push(Header::unchecked(
                HeaderName::ContentType,
                "application/sdp".into(),
            ));
        }
        r.body = Bytes::from(sdp);
        self.state = DialogState::Accepted;
        self.ack_due = Some(now + ACK_TIMEOUT);
        self.retransmit_2xx_at = (!self.config.reliable).then(|| now + T1);
        self.final_response = Some(r.clone());
        self.out.push_back(DialogOutput::Send(Message::Response(r)));
    }

    /// Callee: decline the INVITE with a final failure `status` (e.g. 488 Not
    /// Acceptable Here) and an optional `Warning` text (sent as `399 <host> "text"`).
    pub fn reject(&mut self, status: u16, reason: &str, warning: Option<&str>, now: Instant) {
        let _ = now;
        if self.role != Role::Callee
            || !matches!(self.state, DialogState::Proceeding | DialogState::Ringing)
        {
            return;
        }
        let Some(mut r) = self.response(status, None) else {
            return;
        };
        if !reason.is_empty() {
            r.reason = reason.to_string();
        }
        if let Some(w) = warning {
            let value = format!("399 {} {}", self.config.via_host, crate::quote(w));
            if let Ok(h) = Header::new(HeaderName::Warning, value) {
                r.headers.push(h);
            }
        }
        self.final_response = Some(r.clone());
        self.out.push_back(DialogOutput::Send(Message::Response(r)));
        self.terminate(EndReason::Declined {
            status,
            reason: if reason.is_empty() {
                reason_for(status).to_string()
            } else {
                reason.to_string()
            },
        });
    }

    /// A response to the INVITE we received (callee), with our To tag and the Record-Route copied.
    fn response(&self, status: u16, request: Option<&Request>) -> Option<Response> {
        let req = request.or(self.incoming.as_ref())?;
        let mut r = stateless_response(req, status, Some(&self.local_tag))?;
        if req.method == Method::Invite && (101..300).contains(&status) {
            for v in req.headers.get_all(&HeaderName::RecordRoute) {
                r.headers
                    .push(Header::unchecked(HeaderName::RecordRoute, v.to_string()));
            }
        }
        Some(r)
    }

    fn on_cancel(&mut self, cancel: &Request) {
        self.respond(cancel, 200);
        if matches!(self.state, DialogState::Proceeding | DialogState::Ringing) {
            if let Some(r) = self.response(487, None) {
                self.final_response = Some(r.clone());
                self.out.push_back(DialogOutput::Send(Message::Response(r)));
            }
            self.terminate(EndReason::Cancelled);
        }
    }

    /// Callee: a request without To tag, matched to the INVITE transaction by
    /// branch: CANCEL, a retransmitted INVITE or the ACK of a non-2xx final
    /// response. Returns `false` when it does not belong to our INVITE.
    pub(super) fn invite_transaction_request(
        &mut self,
        request: &Request,
        from_tag: Option<&str>,
    ) -> bool {
        let Some(invite) = &self.incoming else {
            return false;
        };
        if top_branch(&request.headers) != top_branch(&invite.headers)
            || from_tag != self.remote_tag.as_deref()
        {
            return false;
        }
        match request.method {
            Method::Cancel => self.on_cancel(request),
            Method::Invite => {
                // Retransmission: repeat our last response.
                let r = self
                    .final_response
                    .clone()
                    .or_else(|| self.response(100, None));
                if let Some(r) = r {
                    self.out.push_back(DialogOutput::Send(Message::Response(r)));
                }
            }
            Method::Ack => {} // ACK for a non-2xx final: absorbed.
            _ => return false,
        }
        true
    }

    /// Callee: the ACK of our 2xx confirms the call.
    pub(super) fn on_ack(&mut self) {
        if self.state == DialogState::Accepted {
            self.state = DialogState::Confirmed;
            self.ack_due = None;
            self.retransmit_2xx_at = None;
            self.out
                .push_back(DialogOutput::Event(DialogEvent::Confirmed));
        }
    }

    /// Callee: the timers of our 2xx, run by [`Dialog::handle_timeout`]: no ACK
    /// in time ends the call with BYE; over an unreliable transport the 2xx is
    /// retransmitted with T1 doubling to T2.
    pub(super) fn accepted_timers(&mut self, now: Instant) {
        if self.ack_due.is_some_and(|at| now >= at) {
            self.ack_due = None;
            self.retransmit_2xx_at = None;
            self.bye("no ACK", now);
            self.end_reason = Some(EndReason::NoAck(ACK_TIMEOUT));
        }
        if let Some(at) = self.retransmit_2xx_at {
            if now >= at {
                self.retransmit_2xx_interval = (self.retransmit_2xx_interval * 2).min(T2);
                self.retransmit_2xx_at = Some(now + self.retransmit_2xx_interval);
                if let Some(r) = self.final_response.clone() {
                    self.out.push_back(DialogOutput::Send(Message::Response(r)));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dialog::test_support::{config, drain, req, setup};

    #[test]
    fn missing_ack_makes_the_callee_hang_up() {
        let now = Instant::now();
        let (_, mut bob, _) = setup(now);
        drain(&mut bob);
        bob.accept(Vec::new(), now);
        drain(&mut bob);
        bob.handle_timeout(now + ACK_TIMEOUT);
        let (m, _) = drain(&mut bob);
        assert_eq!(req(&m[0]).method, Method::Bye);
    }

    #[test]
    fn incoming_invite_without_contact_is_refused_with_400() {
        let now = Instant::now();
        let (_, _, mut invite) = setup(now);
        invite.headers.remove(&HeaderName::Contact);
        let err = Dialog::incoming(config("bob", 5062), &invite, now).unwrap_err();
        assert_eq!(err, DialogError::MissingHeader("Contact"));
        assert_eq!(err.response(&invite).unwrap().status, 400);
    }
}
