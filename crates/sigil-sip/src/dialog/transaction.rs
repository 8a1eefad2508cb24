//! Our client transactions (RFC 3261 §17.1): the INVITE and the BYE or CANCEL
//! in flight, their retransmissions over unreliable transports (Timers A and E),
//! their timeouts (Timers B and F), and matching responses to them by branch
//! and CSeq.

use std::time::{Duration, Instant};

use crate::message::{Message, Request, Response};
use crate::registration::{T1, T2, TIMER_F};
use crate::values::Method;

use super::{top_branch, Dialog, DialogOutput, DialogState, EndReason, Role, TIMER_B};

/// An outstanding client transaction of ours.
#[derive(Debug, Clone)]
pub(super) struct ClientTx {
    pub(super) method: Method,
    pub(super) branch: String,
    pub(super) cseq: u32,
    pub(super) request: Request,
    pub(super) timeout_at: Instant,
    pub(super) retransmit_at: Option<Instant>,
    pub(super) interval: Duration,
}

impl Dialog {
    pub(super) fn start_invite(&mut self, invite: Request, branch: String, now: Instant) {
        self.invite = Some(ClientTx {
            method: Method::Invite,
            branch,
            cseq: self.local_cseq,
            request: invite.clone(),
            timeout_at: now + TIMER_B,
            retransmit_at: (!self.config.reliable).then(|| now + T1),
            interval: T1,
        });
        self.out
            .push_back(DialogOutput::Send(Message::Request(invite)));
    }

    pub(super) fn start_non_invite(
        &mut self,
        request: Request,
        branch: String,
        cseq: u32,
        now: Instant,
    ) {
        self.non_invite = Some(ClientTx {
            method: request.method.clone(),
            branch,
            cseq,
            request: request.clone(),
            timeout_at: now + TIMER_F,
            retransmit_at: (!self.config.reliable).then(|| now + T1),
            interval: T1,
        });
        self.out
            .push_back(DialogOutput::Send(Message::Request(request)));
    }

    fn is_ours(&self, response: &Response) -> bool {
        if response.headers.call_id() != Some(self.call_id.as_str()) {
            return false;
        }
        let branch = top_branch(&response.headers);
        let cseq = response.headers.cseq();
        [self.invite.as_ref(), self.non_invite.as_ref()]
            .into_iter()
            .flatten()
            .any(|tx| {
                branch.as_deref() == Some(tx.branch.as_str())
                    && cseq
                        .as_ref()
                        .is_some_and(|c| c.method == tx.method && c.seq == tx.cseq)
            })
            || (self.role == Role::Caller
                && self.ack.is_some()
                && cseq.as_ref().is_some_and(|c| c.method == Method::Invite))
    }

    /// Feed a response received on the connection. Returns `false` when it
    /// belongs to no transaction of this call.
    pub fn handle_response(&mut self, response: &Response, now: Instant) -> bool {
        if !self.is_ours(response) {
            return false;
        }
        let Some(cseq) = response.headers.cseq() else {
            return false;
        };
        match cseq.method {
            Method::Invite => self.invite_response(response, now),
            _ => self.non_invite_response(response, &cseq.method),
        }
        true
    }

    fn non_invite_response(&mut self, response: &Response, method: &Method) {
        if response.status < 200 {
            if let Some(tx) = &mut self.non_invite {
                tx.retransmit_at = None;
            }
            return;
        }
        self.non_invite = None;
        if *method == Method::Bye {
            let reason = self
                .end_reason
                .take()
                .unwrap_or_else(|| EndReason::HungUp("hung up".into()));
            self.terminate(reason);
        }
        // A CANCEL's final response changes nothing: the INVITE's 487 (or 2xx) decides.
    }

    /// The next instant at which [`Dialog::handle_timeout`] must be called.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let tx = |t: &ClientTx| {
            t.retransmit_at
                .map_or(t.timeout_at, |r| r.min(t.timeout_at))
        };
        [
            self.invite.as_ref().map(tx),
            self.non_invite.as_ref().map(tx),
            self.ack_due,
            self.retransmit_2xx_at,
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Run the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(tx) = &mut self.invite {
            // Timer B bounds the wait for any response; after a provisional
            // response the INVITE waits for the callee (RFC 3261 §17.1.1.2).
            if now >= tx.timeout_at && self.state == DialogState::Calling {
                self.terminate(EndReason::Timeout {
                    method: "INVITE".into(),
                    timer: 'B',
                    after: TIMER_B,
                });
                return;
            }
            if let Some(at) = tx.retransmit_at {
                if now >= at {
                    tx.interval *= 2;
                    tx.retransmit_at = Some(now + tx.interval);
                    let r = tx.request.clone();
                    self.out.push_back(DialogOutput::Send(Message::Request(r)));
                }
            }
        }
        if let Some(tx) = &mut self.non_invite {
            if now >= tx.timeout_at {
                let method = tx.method.to_string();
                self.non_invite = None;
                let reason = EndReason::Timeout {
                    method,
                    timer: 'F',
                    after: TIMER_F,
                };
                // BYE or CANCEL unanswered: the call is over either way.
                let reason = match self.end_reason.take() {
                    Some(r @ EndReason::HungUp(_)) if self.state == DialogState::Ending => r,
                    _ => reason,
                };
                self.terminate(reason);
                return;
            }
            if let Some(at) = tx.retransmit_at {
                if now >= at {
                    tx.interval = (tx.interval * 2).min(T2);
                    tx.retransmit_at = Some(now + tx.interval);
                    let r = tx.request.clone();
                    self.out.push_back(DialogOutput::Send(Message::Request(r)));
                }
            }
        }
        self.accepted_timers(now);
    }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, Instant};

    use crate::dialog::test_support::{config, drain, resp, setup};
    use crate::dialog::{Dialog, EndReason, TIMER_B};
    use crate::registration::{T1, TIMER_F};

    #[test]
    fn timer_b_ends_an_unanswered_invite() {
        let now = Instant::now();
        let (mut alice, _, _) = setup(now);
        assert_eq!(alice.poll_timeout(), Some(now + TIMER_B));
        alice.handle_timeout(now + Duration::from_secs(31));
        assert!(!alice.is_terminated());
        alice.handle_timeout(now + TIMER_B);
        assert!(matches!(
            alice.end_reason(),
            Some(EndReason::Timeout { timer: 'B', .. })
        ));
    }

    #[test]
    fn timer_f_ends_a_call_whose_bye_is_unanswered() {
        let now = Instant::now();
        let (mut alice, mut bob, _) = setup(now);
        drain(&mut bob);
        bob.accept(Vec::new(), now);
        let (m, _) = drain(&mut bob);
        alice.handle_response(resp(&m[0]), now);
        drain(&mut alice);
        alice.hang_up("bye", now);
        drain(&mut alice);
        assert_eq!(alice.poll_timeout(), Some(now + TIMER_F));
        alice.handle_timeout(now + TIMER_F);
        assert!(alice.is_terminated());
        assert_eq!(alice.end_reason(), Some(&EndReason::HungUp("bye".into())));
    }

    #[test]
    fn unreliable_transport_retransmits_the_invite() {
        let now = Instant::now();
        let mut c = config("alice", 5060);
        c.reliable = false;
        let mut alice = Dialog::invite(c, "sip:bob@example.com".parse().unwrap(), Vec::new(), now);
        drain(&mut alice);
        alice.handle_timeout(now + T1);
        alice.handle_timeout(now + T1 * 3);
        assert_eq!(drain(&mut alice).0.len(), 2);
    }
}
