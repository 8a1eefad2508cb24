//! Calls: outgoing and incoming INVITE dialogs, the SDP offer/answer through
//! the SRTP negotiator (SPEC M3), the media socket of each call, and the end
//! of a call with its summary (SPEC E3).

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sigil_sip::dialog::{stateless_response, Dialog, DialogConfig, DialogEvent, DialogOutput};
use sigil_sip::{Message, Method, Request, Uri};
use sigil_srtp::negotiate::{
    basic_audio_sdp, parse_sdp, write_sdp, AnswerError, MediaOutcome, Negotiation, Negotiator,
    OfferPolicy, Sdp,
};

use super::conn::Role;
use super::io::{ConnId, SocketId, Transmit};
use super::media::{CallMedia, Crypto};
use super::{CallId, Device, Event, MAX_CALLS, MAX_FINISHED};
use crate::error::EndpointError;
use crate::status::{CallDirection, CallStatus};

/// Where a call stands, beyond its dialog.
enum Phase {
    /// Waiting for the media socket: then the INVITE goes out (outgoing)
    /// or the answer is prepared (incoming).
    Binding,
    /// Outgoing: INVITE sent.
    Inviting,
    /// Incoming: ringing, the answer ready, waiting for answer()/reject().
    Ringing {
        answer: Box<Sdp>,
        negotiation: Box<Negotiation>,
        peer: SocketAddr,
    },
    /// The media runs.
    Active,
    /// Over; reported and removed at the next sweep.
    Ended,
}

/// One call.
pub(crate) struct Call {
    pub(crate) id: CallId,
    /// The connection its signaling uses: a request on another one never touches it.
    pub(crate) conn: ConnId,
    direction: CallDirection,
    peer: String,
    policy: OfferPolicy,
    dialog: Option<Dialog>,
    negotiator: Negotiator,
    target: Option<Uri>,
    socket: Option<SocketId>,
    offer: Option<Box<Sdp>>,
    phase: Phase,
    media: Option<CallMedia>,
    media_desc: String,
    encrypted: bool,
    key_exposure: Option<String>,
    established: bool,
    ended: Option<String>,
}

impl Call {
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let dialog = self.dialog.as_ref().and_then(Dialog::poll_timeout);
        let media = self.media.as_ref().and_then(CallMedia::poll_timeout);
        dialog.into_iter().chain(media).min()
    }

    pub(crate) fn status(&self) -> CallStatus {
        CallStatus {
            id: self.id,
            call_id: self
                .dialog
                .as_ref()
                .map(|d| d.call_id().to_owned())
                .unwrap_or_default(),
            peer: self.peer.clone(),
            direction: self.direction,
            state: match (&self.phase, &self.dialog) {
                (Phase::Binding, _) => "preparing".into(),
                (_, Some(d)) => d.state().as_str().to_owned(),
                (_, None) => "terminated".into(),
            },
            media: self.media_desc.clone(),
            encrypted: self.encrypted,
            key_exposure: self.key_exposure.clone(),
            policy: self.policy.to_string(),
            stats: self
                .media
                .as_ref()
                .map(CallMedia::stats)
                .unwrap_or_default(),
            established: self.established,
            ended: self.ended.clone(),
        }
    }

    pub(crate) fn queue_audio(&mut self, frame: &[i16]) -> Result<(), EndpointError> {
        match &mut self.media {
            Some(media) => {
                media.queue_audio(frame);
                Ok(())
            }
            None => Err(EndpointError::NoMedia(self.id)),
        }
    }

    pub(crate) fn send_dtmf(
        &mut self,
        digit: char,
        duration: Duration,
    ) -> Result<(), EndpointError> {
        match &mut self.media {
            Some(media) => media.send_dtmf(digit, duration),
            None => Err(EndpointError::NoMedia(self.id)),
        }
    }
}

/// The media a negotiation calls for: crypto, a description, encrypted or not.
fn media_for(neg: &Negotiation) -> Result<(Crypto, String, bool), String> {
    if let Some((_, agreement)) = neg.srtp().next() {
        let (send, receive) = agreement.sessions().map_err(|e| e.to_string())?;
        return Ok((
            Crypto::Srtp {
                send: Box::new(send),
                receive: Box::new(receive),
            },
            format!("SRTP {}", agreement.suite),
            true,
        ));
    }
    for m in &neg.media {
        match &m.outcome {
            MediaOutcome::Plain(reason) => {
                let why = reason.to_string();
                let why = why.strip_prefix("plain RTP: ").unwrap_or(&why);
                return Ok((Crypto::Plain, format!("plain RTP ({why})"), false));
            }
            // A declined alternative before the m-line in use is not a failure.
            MediaOutcome::Declined(reason) if neg.media_index().is_none() => {
                return Err(format!("audio declined: {reason}"))
            }
            _ => {}
        }
    }
    Err("no audio in the SDP".into())
}

impl Device {
    fn dialog_config(&self, conn: ConnId) -> Option<DialogConfig> {
        let c = self.conns.get(&conn)?;
        let local = c.local?;
        let local_uri: Uri = self.aor().parse().ok()?;
        let contact = self
            .link
            .contact
            .clone()
            .or_else(|| super::link::contact_for(&self.config.user, local, c.transport))?;
        let mut config = DialogConfig::new(local_uri, contact);
        config.via_host = local.ip().to_string();
        config.via_port = Some(local.port());
        config.user_agent = Some(self.config.user_agent.clone());
        config.transport = c.transport.via().to_owned();
        config.reliable = c.transport.reliable();
        config.alias = c.transport.reliable();
        let dname = &self.config.settings.sip_u1_dname;
        if !dname.is_empty() {
            config.display_name = Some(dname.clone());
        }
        config.credentials = self.credentials();
        Some(config)
    }

    fn bind_media(&mut self, call: CallId, ip: IpAddr) -> SocketId {
        let socket = SocketId(self.next_id());
        self.sockets.insert(socket, call);
        self.transmits.push_back(Transmit::Bind { socket, ip });
        socket
    }

    fn new_call(
        &mut self,
        conn: ConnId,
        direction: CallDirection,
        peer: String,
        policy: OfferPolicy,
    ) -> Result<Call, EndpointError> {
        let negotiator = Negotiator::new(self.config.srtp_config(policy))
            .map_err(|e| EndpointError::Config(e.to_string()))?;
        Ok(Call {
            id: CallId(self.next_id()),
            conn,
            direction,
            peer,
            policy,
            dialog: None,
            negotiator,
            target: None,
            socket: None,
            offer: None,
            phase: Phase::Binding,
            media: None,
            media_desc: "none".into(),
            encrypted: false,
            key_exposure: None,
            established: false,
            ended: None,
        })
    }

    pub(super) fn start_call(
        &mut self,
        to: &str,
        policy: Option<OfferPolicy>,
        _now: Instant,
    ) -> Result<CallId, EndpointError> {
        let target: Uri = to
            .parse()
            .map_err(|e: sigil_sip::UriError| EndpointError::BadUri(e.to_string()))?;
        if self.stopping.is_some() {
            return Err(EndpointError::Stopped);
        }
        if self.calls.len() >= MAX_CALLS {
            return Err(EndpointError::TooManyCalls);
        }
        let conn = match self.link.conn {
            Some(c) if self.link.up => c,
            _ => return Err(EndpointError::NotConnected),
        };
        let policy = policy.unwrap_or_else(|| self.config.offer_policy());
        let mut call = self.new_call(conn, CallDirection::Outgoing, to.to_owned(), policy)?;
        call.target = Some(target);
        call.media_desc = "none (not answered)".into();
        let ip = self.link.local_ip();
        call.socket = Some(self.bind_media(call.id, ip));
        let id = call.id;
        self.calls.insert(id, call);
        Ok(id)
    }

    pub(super) fn on_bound(&mut self, socket: SocketId, local: SocketAddr, now: Instant) {
        let Some(&id) = self.sockets.get(&socket) else {
            self.transmits.push_back(Transmit::Release { socket });
            return;
        };
        self.session_id += 1;
        let session_id = self.session_id;
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        if !matches!(call.phase, Phase::Binding) {
            return;
        }
        match call.direction {
            CallDirection::Outgoing => {
                let mut sdp = basic_audio_sdp(local.ip(), local.port(), session_id);
                let offer = match call.negotiator.create_offer(&mut sdp) {
                    Ok(o) => o,
                    Err(e) => {
                        call.media_desc = format!("none ({e})");
                        self.finish_call(id, Some(e.to_string()), now);
                        return;
                    }
                };
                let target = call.target.clone();
                let conn = call.conn;
                log::info!("{id}: calling {}: {offer}", call.peer);
                let (Some(config), Some(target)) = (self.dialog_config(conn), target) else {
                    self.finish_call(
                        id,
                        Some("the connection to the SIP server is gone".into()),
                        now,
                    );
                    return;
                };
                if let Some(call) = self.calls.get_mut(&id) {
                    call.dialog = Some(Dialog::invite(
                        config,
                        target,
                        write_sdp(&sdp).into_bytes(),
                        now,
                    ));
                    call.phase = Phase::Inviting;
                }
            }
            CallDirection::Incoming => self.prepare_answer(id, local, session_id, now),
        }
    }

    pub(super) fn on_bind_failed(&mut self, socket: SocketId, reason: String, now: Instant) {
        let Some(id) = self.sockets.remove(&socket) else {
            return;
        };
        log::warn!("{id}: no media socket: {reason}");
        if let Some(call) = self.calls.get_mut(&id) {
            call.socket = None;
            call.media_desc = format!("none (no media socket: {reason})");
            match (&call.direction, &mut call.dialog) {
                (CallDirection::Incoming, Some(d)) => {
                    d.reject(500, "Server Internal Error", Some("no media socket"), now)
                }
                _ => self.finish_call(id, Some(format!("no media socket: {reason}")), now),
            }
        }
    }

    pub(super) fn on_datagram(
        &mut self,
        socket: SocketId,
        from: SocketAddr,
        data: &[u8],
        now: Instant,
    ) {
        let Some(id) = self.sockets.get(&socket).copied() else {
            return;
        };
        if let Some(media) = self.calls.get_mut(&id).and_then(|c| c.media.as_mut()) {
            media.receive(from, data, now);
        }
    }

    /// A message on connection `conn`.
    pub(super) fn on_message(&mut self, conn: ConnId, message: Message, now: Instant) {
        match message {
            Message::Response(response) => {
                if self.link.conn == Some(conn) && self.registration_response(&response, now) {
                    return;
                }
                let matched = self
                    .calls
                    .values_mut()
                    .filter(|c| c.conn == conn)
                    .filter_map(|c| c.dialog.as_mut())
                    .any(|d| d.handle_response(&response, now));
                if !matched {
                    log::debug!(
                        "{conn}: response {} {} matches nothing",
                        response.status,
                        response.reason
                    );
                }
            }
            Message::Request(request) => {
                // Only dialogs of this connection (SPEC E8).
                let matched = self
                    .calls
                    .values_mut()
                    .filter(|c| c.conn == conn)
                    .filter_map(|c| c.dialog.as_mut())
                    .any(|d| d.handle_request(&request, now));
                if matched {
                    return;
                }
                if let Err(why) = self.may_reach_us(conn) {
                    self.refuse_request(conn, &request, why, now);
                    return;
                }
                self.new_request(conn, request, now);
            }
        }
    }

    fn respond(&mut self, conn: ConnId, request: &Request, status: u16, now: Instant) {
        if let Some(r) = stateless_response(request, status, None) {
            self.send(conn, &Message::Response(r), now);
        }
    }

    fn new_request(&mut self, conn: ConnId, request: Request, now: Instant) {
        match request.method {
            Method::Invite if request.headers.to().is_some_and(|t| t.tag().is_none()) => {
                self.incoming_call(conn, request, now)
            }
            Method::Ack => {}
            Method::Options => self.respond(conn, &request, 200, now),
            Method::Bye | Method::Cancel | Method::Invite => self.respond(conn, &request, 481, now),
            _ => self.respond(conn, &request, 501, now),
        }
    }

    fn incoming_call(&mut self, conn: ConnId, request: Request, now: Instant) {
        let from = request
            .headers
            .from()
            .map(|f| f.uri.to_string())
            .unwrap_or_default();
        // `sip.auto_answer = 0` turns calls away; the integrator's
        // `auto_answer = false` lets them ring for the application instead.
        let busy = !self.config.settings.sip_auto_answer
            || self.calls.len() >= MAX_CALLS
            || self.stopping.is_some();
        if busy {
            self.respond(conn, &request, 486, now);
            return;
        }
        let Some(config) = self.dialog_config(conn) else {
            return;
        };
        let dialog = match Dialog::incoming(config, &request, now) {
            Ok(d) => d,
            Err(e) => {
                log::info!("incoming call from {from} refused: {e}");
                if let Some(r) = e.response(&request) {
                    self.send(conn, &Message::Response(r), now);
                }
                return;
            }
        };
        let policy = self.config.offer_policy();
        let mut call = match self.new_call(conn, CallDirection::Incoming, from.clone(), policy) {
            Ok(c) => c,
            Err(e) => {
                log::warn!("incoming call from {from}: {e}");
                self.respond(conn, &request, 500, now);
                return;
            }
        };
        call.dialog = Some(dialog);
        let id = call.id;
        match parse_sdp(&request.body) {
            Ok(offer) => {
                call.offer = Some(Box::new(offer));
                let ip = self
                    .conns
                    .get(&conn)
                    .and_then(|c| c.local)
                    .map_or_else(|| self.link.local_ip(), |l| l.ip());
                call.socket = Some(self.bind_media(id, ip));
            }
            Err(e) => {
                call.media_desc = format!("none ({e})");
                if let Some(d) = &mut call.dialog {
                    d.reject(488, "Not Acceptable Here", Some(&e.to_string()), now);
                }
                call.phase = Phase::Ended;
            }
        }
        self.calls.insert(id, call);
    }

    /// Incoming: the socket is bound; negotiate the answer, then ring (or answer).
    fn prepare_answer(&mut self, id: CallId, local: SocketAddr, session_id: u64, now: Instant) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(offer) = call.offer.clone() else {
            return;
        };
        // One answer m-line per offered one (RFC 3264 §6): audio from our
        // template (the negotiator keeps one stream and sets port 0 on
        // alternatives), anything else declined with port 0.
        let template = basic_audio_sdp(local.ip(), local.port(), session_id);
        let mut answer = template.clone();
        answer.medias.clear();
        for offered in &offer.medias {
            if let Some(mut m) = template.medias.first().cloned() {
                if offered.media != "audio" {
                    m.media = offered.media.clone();
                    m.proto = offered.proto.clone();
                    m.fmt = offered.fmt.clone();
                    m.port = 0;
                    m.attributes.clear();
                }
                answer.medias.push(m);
            }
        }
        let outcome = call.negotiator.answer_offer(&offer, &mut answer);
        let Some(dialog) = call.dialog.as_mut() else {
            return;
        };
        match outcome {
            Ok(negotiation) => match (media_for(&negotiation), negotiation.rtp_peer(&offer)) {
                (Ok((_, desc, _)), Some(peer)) => {
                    dialog.ring(now);
                    call.media_desc = desc.clone();
                    call.phase = Phase::Ringing {
                        answer: Box::new(answer),
                        negotiation: Box::new(negotiation),
                        peer,
                    };
                    let from = call.peer.clone();
                    if self.config.auto_answer {
                        let _ = self.answer_call(id, now);
                    } else {
                        self.event(Event::IncomingCall {
                            call: id,
                            from,
                            media: desc,
                        });
                    }
                }
                (Err(why), _) => {
                    dialog.reject(488, "Not Acceptable Here", Some(&why), now);
                    call.media_desc = format!("none ({why})");
                }
                (Ok(_), None) => {
                    dialog.reject(
                        488,
                        "Not Acceptable Here",
                        Some("no RTP address in the offer"),
                        now,
                    );
                    call.media_desc = "none (no RTP address in the offer)".into();
                }
            },
            Err(rejection) => {
                let reason = sigil_sip::Response::default_reason(rejection.code);
                dialog.reject(rejection.code, reason, Some(&rejection.reason), now);
                call.media_desc = format!("none ({})", rejection.reason);
                log::info!(
                    "{id}: refused {}: {} {}",
                    call.peer,
                    rejection.code,
                    rejection.reason
                );
            }
        }
    }

    pub(super) fn answer_call(&mut self, id: CallId, now: Instant) -> Result<(), EndpointError> {
        let exposure = self.key_exposure(self.calls.get(&id).map(|c| c.conn));
        let wall = self.wall_clock(now);
        let call = self
            .calls
            .get_mut(&id)
            .ok_or(EndpointError::NoSuchCall(id))?;
        let phase = std::mem::replace(&mut call.phase, Phase::Active);
        let Phase::Ringing {
            answer,
            negotiation,
            peer,
        } = phase
        else {
            call.phase = phase;
            return Err(EndpointError::NotRinging(id));
        };
        let (Some(dialog), Some(socket)) = (call.dialog.as_mut(), call.socket) else {
            return Err(EndpointError::NotRinging(id));
        };
        match media_for(&negotiation) {
            Ok((crypto, desc, encrypted)) => {
                dialog.accept(write_sdp(&answer).into_bytes(), now);
                call.media = Some(CallMedia::new(crypto, socket, peer, now, wall));
                call.media_desc = desc.clone();
                call.encrypted = encrypted;
                call.key_exposure = if encrypted { exposure } else { None };
                call.established = true;
                self.event(Event::CallEstablished {
                    call: id,
                    media: desc,
                    encrypted,
                });
            }
            Err(why) => {
                dialog.reject(488, "Not Acceptable Here", Some(&why), now);
                call.media_desc = format!("none ({why})");
            }
        }
        Ok(())
    }

    pub(super) fn reject_call(
        &mut self,
        id: CallId,
        status: u16,
        now: Instant,
    ) -> Result<(), EndpointError> {
        if !(300..=699).contains(&status) {
            return Err(EndpointError::BadStatus(status));
        }
        let call = self
            .calls
            .get_mut(&id)
            .ok_or(EndpointError::NoSuchCall(id))?;
        if !matches!(call.phase, Phase::Ringing { .. }) {
            return Err(EndpointError::NotRinging(id));
        }
        call.phase = Phase::Ended;
        if let Some(d) = &mut call.dialog {
            d.reject(
                status,
                sigil_sip::Response::default_reason(status),
                None,
                now,
            );
        }
        Ok(())
    }

    pub(super) fn hangup_call(
        &mut self,
        id: CallId,
        reason: &str,
        now: Instant,
    ) -> Result<(), EndpointError> {
        let call = self
            .calls
            .get_mut(&id)
            .ok_or(EndpointError::NoSuchCall(id))?;
        match (&call.phase, &mut call.dialog) {
            (Phase::Ringing { .. }, Some(d)) => {
                d.reject(486, "Busy Here", Some(reason), now);
                call.phase = Phase::Ended;
            }
            (_, Some(d)) => d.hang_up(reason, now),
            (_, None) => self.finish_call(id, Some(reason.to_owned()), now),
        }
        Ok(())
    }

    /// Who else may know SDES keys sent on `conn`: over TLS to a server that
    /// was not verified, or in the clear. `None` for a verified server, and
    /// for listener peers (judged by their client certificate instead).
    fn key_exposure(&self, conn: Option<ConnId>) -> Option<String> {
        let c = self.conns.get(&conn?)?;
        if c.role == Role::Inbound {
            return None;
        }
        match c.tls_info() {
            Some(info) if info.verification_status() == "verified" => None,
            Some(_) => {
                Some("keys sent over TLS to an unverified server (sip.tls.validate = 0)".into())
            }
            None => Some(format!(
                "keys sent in the clear over {} (sip.srtp.insecure_signaling = 1)",
                c.transport.via()
            )),
        }
    }

    /// Outgoing: the 2xx came with the answer SDP.
    fn on_answered(&mut self, id: CallId, body: &[u8], now: Instant) {
        let exposure = self.key_exposure(self.calls.get(&id).map(|c| c.conn));
        let wall = self.wall_clock(now);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let Some(dialog) = call.dialog.as_mut() else {
            return;
        };
        let answer = match parse_sdp(body) {
            Ok(a) => a,
            Err(e) => {
                call.media_desc = format!("none (invalid SDP answer: {e})");
                dialog.hang_up("invalid SDP answer", now);
                return;
            }
        };
        match call.negotiator.accept_answer(&answer) {
            Ok(neg) => match (media_for(&neg), neg.rtp_peer(&answer), call.socket) {
                (Ok((crypto, desc, encrypted)), Some(peer), Some(socket)) => {
                    call.media = Some(CallMedia::new(crypto, socket, peer, now, wall));
                    call.media_desc = desc.clone();
                    call.encrypted = encrypted;
                    call.key_exposure = if encrypted { exposure } else { None };
                    call.established = true;
                    call.phase = Phase::Active;
                    self.event(Event::CallEstablished {
                        call: id,
                        media: desc,
                        encrypted,
                    });
                }
                (Err(why), _, _) => {
                    call.media_desc = format!("none ({why})");
                    dialog.hang_up(&why, now);
                }
                _ => {
                    call.media_desc = "none (no RTP address in the answer)".into();
                    dialog.hang_up("no RTP address in the answer", now);
                }
            },
            Err(AnswerError::SrtpRequired { detail }) => {
                call.media_desc = format!("none (SRTP required: {detail})");
                dialog.hang_up("SRTP required", now);
            }
            Err(e) => {
                call.media_desc = format!("none ({e})");
                dialog.hang_up(&e.to_string(), now);
            }
        }
    }

    pub(super) fn call_connection_lost(&mut self, id: CallId, now: Instant) {
        match self.calls.get_mut(&id).and_then(|c| c.dialog.as_mut()) {
            Some(d) => d.connection_lost(),
            None => self.finish_call(id, Some("the connection was lost".into()), now),
        }
    }

    pub(super) fn call_timers(&mut self, now: Instant) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let mut transmits = Vec::new();
            let mut events = Vec::new();
            if let Some(call) = self.calls.get_mut(&id) {
                if let Some(d) = &mut call.dialog {
                    if d.poll_timeout().is_some_and(|t| t <= now) {
                        d.handle_timeout(now);
                    }
                }
                if let Some(m) = &mut call.media {
                    m.handle_timeout(now, id, &mut transmits, &mut events);
                }
            }
            self.transmits.extend(transmits);
            for e in events {
                self.event(e);
            }
        }
    }

    /// Sends what the dialogs produced, reacts to their events, and ends
    /// the calls that are over.
    pub(super) fn drive_calls(&mut self, now: Instant) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            // Bounded: a dialog yields a handful of outputs per input.
            for _ in 0..64 {
                let Some((conn, output)) = self
                    .calls
                    .get_mut(&id)
                    .and_then(|c| Some((c.conn, c.dialog.as_mut()?.poll_output()?)))
                else {
                    break;
                };
                match output {
                    DialogOutput::Send(m) => self.send(conn, &m, now),
                    DialogOutput::Event(DialogEvent::Ringing) => {
                        self.event(Event::Ringing { call: id })
                    }
                    DialogOutput::Event(DialogEvent::Answered { body }) => {
                        self.on_answered(id, &body, now)
                    }
                    DialogOutput::Event(DialogEvent::Confirmed) => {}
                    DialogOutput::Event(DialogEvent::Terminated(reason)) => {
                        if let Some(c) = self.calls.get_mut(&id) {
                            c.ended = Some(reason.to_string());
                        }
                    }
                }
            }
            let over = self.calls.get(&id).is_some_and(|c| {
                c.dialog.as_ref().is_some_and(Dialog::is_terminated)
                    || (c.dialog.is_none() && matches!(c.phase, Phase::Ended))
            });
            if over {
                let reason = self.calls.get(&id).and_then(|c| c.ended.clone());
                self.finish_call(id, reason, now);
            }
        }
    }

    /// Ends a call: stops its media (RTCP BYE), releases its socket,
    /// records and reports its summary.
    pub(super) fn finish_call(&mut self, id: CallId, reason: Option<String>, now: Instant) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if let Some(media) = &mut call.media {
            let mut transmits = Vec::new();
            media.stop(now, &mut transmits);
            self.transmits.extend(transmits);
        }
        if let Some(socket) = call.socket.take() {
            self.sockets.remove(&socket);
            self.transmits.push_back(Transmit::Release { socket });
        }
        if call.ended.is_none() {
            call.ended = reason.or_else(|| Some("over".into()));
        }
        call.phase = Phase::Ended;
        let status = call.status();
        self.finished.push_back(status.clone());
        while self.finished.len() > MAX_FINISHED {
            self.finished.pop_front();
        }
        self.event(Event::CallEnded {
            call: id,
            status: Box::new(status),
        });
    }

    /// The wall-clock time at `now` (for RTCP), from the anchor given at construction.
    pub(super) fn wall_clock(&self, now: Instant) -> std::time::SystemTime {
        self.config.wall_clock + now.saturating_duration_since(self.started)
    }
}
