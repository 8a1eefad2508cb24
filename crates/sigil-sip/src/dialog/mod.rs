//! The INVITE dialog as a sans-IO state machine (RFC 3261 §12–§17), for both
//! sides of a call: the caller (UAC: INVITE, ACK, CANCEL, BYE) and the callee
//! (UAS: 100/180/200 or a rejection such as 488, receiving ACK, CANCEL and BYE).
//!
//! One [`Dialog`] is one call. The caller of this module owns the connection
//! and the clock, as with [`Registration`](crate::Registration):
//!
//! - it sends every [`DialogOutput::Send`] message (requests to
//!   [`Dialog::next_hop`], responses back where the request came from),
//! - feeds responses with [`Dialog::handle_response`] and in-dialog requests
//!   (ACK, BYE, CANCEL, …) with [`Dialog::handle_request`] — both return `false`
//!   when the message belongs to another call,
//! - calls [`Dialog::handle_timeout`] when [`Dialog::poll_timeout`] is reached.
//!
//! Scope, chosen for endpoint devices on a reliable transport (TLS/TCP):
//! Timer B (INVITE) and Timer F (BYE, CANCEL) bound every transaction; over an
//! unreliable transport the INVITE, BYE and 2xx are retransmitted with T1
//! doubling to T2. Record-Route/Route follow loose routing (RFC 3261
//! §12.2.1.1 with `;lr` proxies). A 401/407 to our INVITE is answered once with
//! digest credentials. Not covered: forking (the first answering branch wins),
//! PRACK, re-INVITE (answered 488 with the call kept), Session-Expires, and
//! INVITEs without SDP (offer in ACK).
//!
//! ```
//! use std::time::Instant;
//! use sigil_sip::dialog::{Dialog, DialogConfig, DialogOutput};
//! use sigil_sip::{Message, Uri};
//!
//! let now = Instant::now();
//! let config = DialogConfig::new(
//!     "sip:alice@example.com".parse()?,
//!     "sip:alice@192.0.2.1:5061;transport=tls".parse()?,
//! );
//! let mut call = Dialog::invite(config, "sip:bob@example.com".parse()?, b"v=0\r\n".to_vec(), now);
//! let Some(DialogOutput::Send(Message::Request(invite))) = call.poll_output() else { panic!() };
//! assert_eq!(invite.method, sigil_sip::Method::Invite);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

// One file per concern; `Dialog` itself, its settings, states, events and
// errors live here.
// - `transaction`: our client transactions (INVITE, BYE, CANCEL), their
//   retransmissions and timeouts, matching responses to them.
// - `uac`: the caller side (INVITE, its responses and ACKs, digest retry, CANCEL).
// - `uas`: the callee side (incoming INVITE, 180/2xx/rejection, the 2xx until
//   its ACK, CANCEL).
// - `requests`: requests inside the dialog on both sides (building them, BYE,
//   answering the peer's).
mod requests;
#[cfg(test)]
mod test_support;
mod transaction;
mod uac;
mod uas;

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::digest::{Credentials, DigestClient};
use crate::header::{Header, HeaderName};
use crate::message::{Message, Request, Response};
use crate::uri::Uri;
use crate::values::NameAddr;

use transaction::ClientTx;

/// Timer B: INVITE transaction timeout, 64·T1 = 32 s.
pub const TIMER_B: Duration = Duration::from_secs(32);
/// How long a callee waits for the ACK of its 2xx (64·T1) before ending the call.
pub const ACK_TIMEOUT: Duration = Duration::from_secs(32);

/// Most Record-Route entries kept for a route set.
pub const MAX_ROUTES: usize = 16;

/// Settings shared by the calls of one device.
#[derive(Debug, Clone)]
pub struct DialogConfig {
    /// Our address of record, used in From (caller) and checked in To (callee).
    pub local_uri: Uri,
    /// Display name for From, if any.
    pub display_name: Option<String>,
    /// Our Contact: where the peer sends in-dialog requests.
    pub contact: Uri,
    /// Transport in our Via (`TLS`, `TCP`, `UDP`).
    pub transport: String,
    /// Host in our Via sent-by.
    pub via_host: String,
    /// Port in our Via sent-by.
    pub via_port: Option<u16>,
    /// `true` for TCP/TLS: no retransmissions, only Timers B and F.
    pub reliable: bool,
    /// Put `;alias` in our Via (RFC 5923: reuse this connection for requests to us).
    pub alias: bool,
    /// User-Agent header, if any.
    pub user_agent: Option<String>,
    /// Credentials to answer a 401/407 to our INVITE, if any.
    pub credentials: Option<Credentials>,
}

impl DialogConfig {
    /// Calls as `local_uri` reachable at `contact` over TLS (reliable, `alias` on);
    /// the Via sent-by is taken from the contact.
    pub fn new(local_uri: Uri, contact: Uri) -> Self {
        let (via_host, via_port) = match contact.as_sip() {
            Some(s) => (s.host.clone(), s.port),
            None => ("invalid".to_string(), None),
        };
        DialogConfig {
            local_uri,
            display_name: None,
            contact,
            transport: "TLS".to_string(),
            via_host,
            via_port,
            reliable: true,
            alias: true,
            user_agent: None,
            credentials: None,
        }
    }
}

/// Which side of the call we are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We sent the INVITE (user agent client).
    Caller,
    /// We received the INVITE (user agent server).
    Callee,
}

/// Where the call stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DialogState {
    /// Caller: INVITE sent, nothing heard yet (Timer B runs).
    Calling,
    /// Caller: a provisional response came; callee: INVITE received (100 sent).
    Proceeding,
    /// Callee: 180 Ringing sent; caller: 180/183 received.
    Ringing,
    /// Callee: 2xx sent, waiting for the ACK.
    Accepted,
    /// The call is up (caller: 2xx ACKed; callee: ACK received).
    Confirmed,
    /// Caller: CANCEL sent, waiting for the INVITE's final response.
    Cancelling,
    /// BYE sent, waiting for its response.
    Ending,
    /// Over; see [`Dialog::end_reason`].
    Terminated,
}

impl DialogState {
    /// Lower-case words for status displays ("calling", "confirmed", …).
    pub fn as_str(self) -> &'static str {
        match self {
            DialogState::Calling => "calling",
            DialogState::Proceeding => "proceeding",
            DialogState::Ringing => "ringing",
            DialogState::Accepted => "accepted",
            DialogState::Confirmed => "confirmed",
            DialogState::Cancelling => "cancelling",
            DialogState::Ending => "ending",
            DialogState::Terminated => "terminated",
        }
    }
}

/// Why a call ended.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EndReason {
    /// The callee (or a proxy) answered our INVITE with a final failure.
    #[error("call rejected: {status} {reason}{}", warning.as_ref().map(|w| format!(" ({w})")).unwrap_or_default())]
    Rejected {
        /// Status code (≥ 300).
        status: u16,
        /// Reason phrase.
        reason: String,
        /// Text of the first Warning header, if any.
        warning: Option<String>,
    },
    /// We rejected the incoming INVITE.
    #[error("we declined the call: {status} {reason}")]
    Declined {
        /// Status code we sent.
        status: u16,
        /// Reason phrase we sent.
        reason: String,
    },
    /// The caller cancelled before the call was answered.
    #[error("call cancelled")]
    Cancelled,
    /// We hung up (BYE sent), with the reason given to [`Dialog::hang_up`].
    #[error("hung up: {0}")]
    HungUp(String),
    /// The peer hung up (BYE received).
    #[error("the peer hung up")]
    PeerHungUp,
    /// A transaction got no final response in time.
    #[error("no response to {method} within {after:?} (Timer {timer})")]
    Timeout {
        /// The request that went unanswered.
        method: String,
        /// `B` (INVITE) or `F` (BYE, CANCEL).
        timer: char,
        /// How long we waited.
        after: Duration,
    },
    /// Our 2xx was never acknowledged.
    #[error("no ACK for our 200 OK within {0:?}")]
    NoAck(Duration),
    /// The connection carrying the call went away.
    #[error("the connection was lost")]
    ConnectionLost,
}

/// Something the application should know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogEvent {
    /// Caller: 180/183 received.
    Ringing,
    /// Caller: the call was answered (2xx, ACK already sent); the body is the
    /// answer SDP.
    Answered {
        /// Body of the 2xx.
        body: Bytes,
    },
    /// Callee: our 2xx was acknowledged; the call is up.
    Confirmed,
    /// The call is over.
    Terminated(EndReason),
}

/// What the caller must do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DialogOutput {
    /// Send this message: a request to [`Dialog::next_hop`], a response back
    /// on the connection (or to the Via) its request came from.
    Send(Message),
    /// Report this event.
    Event(DialogEvent),
}

/// An incoming INVITE that cannot start a dialog.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DialogError {
    /// The request is not an INVITE.
    #[error("not an INVITE: {0}")]
    NotInvite(String),
    /// A header every INVITE needs is missing or unreadable.
    #[error("INVITE without a usable {0} header")]
    MissingHeader(&'static str),
    /// The INVITE already carries a To tag: it belongs to an existing dialog.
    #[error("INVITE with a To tag for a dialog we do not know")]
    UnknownDialog,
}

impl DialogError {
    /// The response to send back for this INVITE (400 or 481), when it can be built.
    pub fn response(&self, invite: &Request) -> Option<Response> {
        let status = match self {
            DialogError::UnknownDialog => 481,
            DialogError::NotInvite(_) | DialogError::MissingHeader(_) => 400,
        };
        stateless_response(invite, status, None)
    }
}

/// A response to `request` built only from its headers (Via, From, To, Call-ID,
/// CSeq copied), with `to_tag` added to To when given and To has none. `None`
/// when the request lacks one of those headers. Use it for requests that match
/// no call (481) or that are refused before a dialog exists.
pub fn stateless_response(
    request: &Request,
    status: u16,
    to_tag: Option<&str>,
) -> Option<Response> {
    let h = &request.headers;
    h.get(&HeaderName::Via)?;
    let from = h.get(&HeaderName::From)?;
    let mut to = h.to()?;
    let call_id = h.call_id()?;
    let cseq = h.get(&HeaderName::CSeq)?;
    if to.tag().is_none() {
        if let Some(tag) = to_tag {
            to.set_param("tag", Some(tag));
        }
    }
    let mut r = Response::new(status, Response::default_reason(status));
    if r.reason.is_empty() {
        r.reason = reason_for(status).to_string();
    }
    for v in h.get_all(&HeaderName::Via) {
        r.headers
            .push(Header::unchecked(HeaderName::Via, v.to_string()));
    }
    r.headers
        .push(Header::unchecked(HeaderName::From, from.to_string()));
    r.headers.push(Header::typed(HeaderName::To, to));
    r.headers
        .push(Header::unchecked(HeaderName::CallId, call_id.to_string()));
    r.headers
        .push(Header::unchecked(HeaderName::CSeq, cseq.to_string()));
    Some(r)
}

fn reason_for(status: u16) -> &'static str {
    match status {
        183 => "Session Progress",
        400 => "Bad Request",
        415 => "Unsupported Media Type",
        487 => "Request Terminated",
        488 => "Not Acceptable Here",
        491 => "Request Pending",
        501 => "Not Implemented",
        600 => "Busy Everywhere",
        603 => "Decline",
        _ => "",
    }
}

fn top_branch(headers: &crate::Headers) -> Option<String> {
    headers
        .top_via()
        .and_then(|v| v.branch().map(str::to_string))
}

/// One call. See the [module documentation](self).
#[derive(Debug)]
pub struct Dialog {
    config: DialogConfig,
    role: Role,
    state: DialogState,
    call_id: String,
    local_tag: String,
    remote_tag: Option<String>,
    /// Our From (caller) / To (callee) address, without tag.
    local: NameAddr,
    /// The peer's To (caller) / From (callee) address, without tag.
    remote: NameAddr,
    remote_target: Uri,
    route_set: Vec<NameAddr>,
    local_cseq: u32,
    remote_cseq: Option<u32>,
    /// Caller: the INVITE transaction. Callee: unused.
    invite: Option<ClientTx>,
    /// BYE or CANCEL in flight.
    non_invite: Option<ClientTx>,
    /// Caller: the ACK sent for the 2xx (re-sent when the 2xx is retransmitted).
    ack: Option<Request>,
    /// Callee: the INVITE we received.
    incoming: Option<Request>,
    /// Callee: the final response we sent (re-sent on retransmitted INVITEs).
    final_response: Option<Response>,
    /// Callee: when the ACK for our 2xx is due, and when to retransmit it.
    ack_due: Option<Instant>,
    retransmit_2xx_at: Option<Instant>,
    retransmit_2xx_interval: Duration,
    auth_attempts: u8,
    /// Caller: a CANCEL is wanted but no provisional response arrived yet.
    cancel_pending: bool,
    digest: Option<DigestClient>,
    end_reason: Option<EndReason>,
    out: VecDeque<DialogOutput>,
}

impl Dialog {
    /// Which side we are.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Current state.
    pub fn state(&self) -> DialogState {
        self.state
    }

    /// The Call-ID of this call.
    pub fn call_id(&self) -> &str {
        &self.call_id
    }

    /// Our tag (From tag as caller, To tag as callee).
    pub fn local_tag(&self) -> &str {
        &self.local_tag
    }

    /// The peer's tag, once known.
    pub fn remote_tag(&self) -> Option<&str> {
        self.remote_tag.as_deref()
    }

    /// The peer's address (To as caller, From as callee).
    pub fn remote_uri(&self) -> &Uri {
        &self.remote.uri
    }

    /// Where in-dialog requests are addressed (the peer's Contact, once known).
    pub fn remote_target(&self) -> &Uri {
        &self.remote_target
    }

    /// The route set (Record-Route, in the order our requests must follow).
    pub fn route_set(&self) -> &[NameAddr] {
        &self.route_set
    }

    /// The INVITE we received (callee), with the offer in its body.
    pub fn incoming_invite(&self) -> Option<&Request> {
        self.incoming.as_ref()
    }

    /// Why the call ended, once [`DialogState::Terminated`].
    pub fn end_reason(&self) -> Option<&EndReason> {
        self.end_reason.as_ref()
    }

    /// Whether the call is over.
    pub fn is_terminated(&self) -> bool {
        self.state == DialogState::Terminated
    }

    /// The next message to send or event to report.
    pub fn poll_output(&mut self) -> Option<DialogOutput> {
        self.out.pop_front()
    }

    fn terminate(&mut self, reason: EndReason) {
        if self.state == DialogState::Terminated {
            return;
        }
        self.state = DialogState::Terminated;
        self.invite = None;
        self.non_invite = None;
        self.ack_due = None;
        self.retransmit_2xx_at = None;
        self.end_reason = Some(reason.clone());
        self.out
            .push_back(DialogOutput::Event(DialogEvent::Terminated(reason)));
    }

    /// End the call the way its state requires: BYE when it is up (or when
    /// our 2xx is waiting for its ACK), CANCEL while our INVITE is
    /// unanswered, 487-free rejection (`603 Decline`) while an incoming call
    /// rings. `reason` is reported in [`EndReason::HungUp`].
    pub fn hang_up(&mut self, reason: &str, now: Instant) {
        match (self.role, self.state) {
            (_, DialogState::Terminated | DialogState::Ending | DialogState::Cancelling) => {}
            (_, DialogState::Confirmed | DialogState::Accepted) => self.bye(reason, now),
            (Role::Caller, DialogState::Calling) => {
                // CANCEL may only follow a provisional response (RFC 3261 §9.1).
                self.cancel_pending = true;
                self.end_reason = Some(EndReason::HungUp(reason.to_string()));
            }
            (Role::Caller, _) => {
                self.end_reason = Some(EndReason::HungUp(reason.to_string()));
                self.cancel(now);
            }
            (Role::Callee, _) => self.reject(603, "Decline", None, now),
        }
    }

    /// The connection carrying the call is gone: the call ends now.
    pub fn connection_lost(&mut self) {
        self.terminate(EndReason::ConnectionLost);
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::setup;
    use super::*;

    #[test]
    fn foreign_messages_are_not_claimed_and_get_481() {
        let now = Instant::now();
        let (mut alice, _, invite) = setup(now);
        let mut other = invite.clone();
        other
            .headers
            .set(Header::new(HeaderName::CallId, "other@x").unwrap());
        assert!(!alice.handle_request(&other, now));
        let r = stateless_response(&other, 481, None).unwrap();
        assert_eq!(r.reason, "Call/Transaction Does Not Exist");
        assert!(!alice.handle_response(&r, now));
    }
}
