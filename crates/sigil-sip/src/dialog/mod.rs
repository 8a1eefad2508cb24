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

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use bytes::Bytes;

use crate::digest::{Credentials, DigestClient};
use crate::header::{Header, HeaderName};
use crate::message::{Message, Request, Response};
use crate::registration::{new_branch, push_user_agent, random_hex, request_head, T1, T2, TIMER_F};
use crate::uri::Uri;
use crate::values::{CSeq, Method, NameAddr, Param, Via};

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

/// An outstanding client transaction of ours.
#[derive(Debug, Clone)]
struct ClientTx {
    method: Method,
    branch: String,
    cseq: u32,
    request: Request,
    timeout_at: Instant,
    retransmit_at: Option<Instant>,
    interval: Duration,
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

    /// The next message to send or event to report.
    pub fn poll_output(&mut self) -> Option<DialogOutput> {
        self.out.pop_front()
    }

    fn via(&self, branch: &str) -> Via {
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
    fn base_request(&self, method: Method, cseq: u32, branch: &str) -> Request {
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

    fn start_invite(&mut self, invite: Request, branch: String, now: Instant) {
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

    fn start_non_invite(&mut self, request: Request, branch: String, cseq: u32, now: Instant) {
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

    fn bye(&mut self, reason: &str, now: Instant) {
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

    fn cancel(&mut self, now: Instant) {
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

    fn invite_response(&mut self, response: &Response, now: Instant) {
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
            let Some(invite) = &self.incoming else {
                return false;
            };
            if top_branch(&request.headers) != top_branch(&invite.headers)
                || from_tag.as_deref() != self.remote_tag.as_deref()
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
            return true;
        }
        if from_tag.as_deref() != self.remote_tag.as_deref()
            || to_tag.as_deref() != Some(self.local_tag.as_str())
        {
            return false;
        }
        let seq = request.headers.cseq().map(|c| c.seq);
        match request.method {
            Method::Ack => {
                if self.state == DialogState::Accepted {
                    self.state = DialogState::Confirmed;
                    self.ack_due = None;
                    self.retransmit_2xx_at = None;
                    self.out
                        .push_back(DialogOutput::Event(DialogEvent::Confirmed));
                }
            }
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

    fn respond(&mut self, request: &Request, status: u16) {
        if let Some(r) = stateless_response(request, status, None) {
            self.out.push_back(DialogOutput::Send(Message::Response(r)));
        }
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

    /// The connection carrying the call is gone: the call ends now.
    pub fn connection_lost(&mut self) {
        self.terminate(EndReason::ConnectionLost);
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
    use crate::message::parse;

    fn config(user: &str, port: u16) -> DialogConfig {
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
    fn drain(d: &mut Dialog) -> (Vec<Message>, Vec<DialogEvent>) {
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

    fn req(m: &Message) -> &Request {
        m.as_request().unwrap()
    }

    fn resp(m: &Message) -> &Response {
        m.as_response().unwrap()
    }

    fn setup(now: Instant) -> (Dialog, Dialog, Request) {
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

    #[test]
    fn incoming_invite_without_contact_is_refused_with_400() {
        let now = Instant::now();
        let (_, _, mut invite) = setup(now);
        invite.headers.remove(&HeaderName::Contact);
        let err = Dialog::incoming(config("bob", 5062), &invite, now).unwrap_err();
        assert_eq!(err, DialogError::MissingHeader("Contact"));
        assert_eq!(err.response(&invite).unwrap().status, 400);
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
