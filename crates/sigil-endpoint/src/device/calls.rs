//! Calls: the state of each call beyond its dialog, its sockets, the media
//! it runs, and the end of a call with its summary (SPEC E3). Placing calls
//! is in `outgoing.rs`, taking them in `incoming.rs`.

use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};

use sigil_media::{CallStats, MediaConfig, Negotiated, WallClock};
use sigil_sip::dialog::{Dialog, DialogConfig, DialogEvent, DialogOutput};
use sigil_sip::Uri;
use sigil_srtp::dtls::{demux, Demuxed, DtlsIdentity, DtlsSrtp};
use sigil_srtp::negotiate::{
    DtlsAgreement, MediaOutcome, Negotiation, Negotiator, OfferPolicy, Sdp,
};

use super::conn::Role;
use super::io::{ConnId, SocketId, Transmit};
use super::media::{CallMedia, Crypto, MediaOut};
use super::sdp;
use super::{CallId, Device, Event, MAX_FINISHED};
use crate::error::EndpointError;
use crate::status::{CallDirection, CallStatus};

/// Most DTLS datagrams kept for a call whose media has not started: a
/// handshake flight (a ClientHello and a retransmission or two).
const MAX_EARLY_DTLS: usize = 8;

/// Where a call stands, beyond its dialog.
pub(super) enum Phase {
    /// Waiting for the media sockets: then the INVITE goes out (outgoing)
    /// or the answer is prepared (incoming).
    Binding,
    /// Outgoing: INVITE sent.
    Inviting,
    /// Incoming: ringing, the answer ready, waiting for answer()/reject().
    Ringing {
        answer: Box<Sdp>,
        negotiation: Box<Negotiation>,
        media: Box<Agreed>,
    },
    /// The media runs.
    Active,
    /// Over; reported and removed at the next sweep.
    Ended,
}

/// What offer/answer settled beyond SRTP: codec, events, RTCP, addresses.
pub(super) struct Agreed {
    pub(super) codec: Negotiated,
    pub(super) mux: bool,
    pub(super) peer_rtp: SocketAddr,
    pub(super) peer_rtcp: SocketAddr,
}

/// One of a call's UDP sockets, and its address once bound.
#[derive(Clone, Copy)]
pub(super) struct Slot {
    pub(super) id: SocketId,
    pub(super) local: Option<SocketAddr>,
}

/// One call.
pub(crate) struct Call {
    pub(crate) id: CallId,
    /// The connection its signaling uses: a request on another one never touches it.
    pub(crate) conn: ConnId,
    pub(super) direction: CallDirection,
    pub(super) peer: String,
    pub(super) policy: OfferPolicy,
    pub(super) dialog: Option<Dialog>,
    pub(super) negotiator: Negotiator,
    pub(super) target: Option<Uri>,
    pub(super) rtp: Option<Slot>,
    pub(super) rtcp: Option<Slot>,
    pub(super) offer: Option<Box<Sdp>>,
    pub(super) phase: Phase,
    pub(super) media: Option<CallMedia>,
    pub(super) media_desc: String,
    /// The certificate this call's DTLS-SRTP presents (a per-call
    /// self-signed one), when `sip.srtp.keying` is `dtls` or `both`.
    pub(super) dtls_identity: Option<DtlsIdentity>,
    /// DTLS datagrams that came before the media started (the peer's
    /// ClientHello can overtake the SIP answer): fed to it when it starts.
    pub(super) early_dtls: Vec<(SocketId, SocketAddr, Vec<u8>)>,
    pub(super) encrypted: bool,
    pub(super) key_exposure: Option<String>,
    pub(super) established: bool,
    pub(super) ended: Option<String>,
    /// The media statistics when the media stopped.
    final_stats: CallStats,
}

impl Call {
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let dialog = self.dialog.as_ref().and_then(Dialog::poll_timeout);
        let media = self.media.as_ref().and_then(CallMedia::poll_timeout);
        dialog.into_iter().chain(media).min()
    }

    fn sockets(&self) -> impl Iterator<Item = SocketId> + '_ {
        self.rtp.iter().chain(self.rtcp.iter()).map(|s| s.id)
    }

    /// Every socket asked for is bound: `(rtp, rtcp)`.
    pub(super) fn bound(&self) -> Option<(SocketAddr, Option<SocketAddr>)> {
        let rtp = self.rtp?.local?;
        match self.rtcp {
            Some(slot) => Some((rtp, Some(slot.local?))),
            None => Some((rtp, None)),
        }
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
                .unwrap_or_else(|| self.final_stats.clone()),
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

/// How a call's media is keyed: ready now (SDES or plain), or by a
/// DTLS-SRTP handshake on the media port.
pub(super) enum Keys {
    Ready(Crypto),
    Dtls(DtlsAgreement),
}

/// With DTLS-SRTP no key travels in the SDP, but the fingerprints do: what
/// SDES keys would have been exposed to, a substituted fingerprint is too.
pub(super) fn dtls_exposure(sdes: Option<String>) -> Option<String> {
    sdes.map(|why| {
        let how = why.strip_prefix("keys sent ").unwrap_or(&why);
        format!("DTLS fingerprints exchanged {how}: a man in the middle could substitute them")
    })
}

/// The media a negotiation calls for: keys, a description, encrypted or not.
pub(super) fn media_for(neg: &Negotiation) -> Result<(Keys, String, bool), String> {
    if let Some((_, agreement)) = neg.srtp().next() {
        let (send, receive) = agreement.sessions().map_err(|e| e.to_string())?;
        return Ok((
            Keys::Ready(Crypto::Srtp {
                send: Box::new(send),
                receive: Box::new(receive),
            }),
            format!("SRTP {}", agreement.suite),
            true,
        ));
    }
    if let Some((_, agreement)) = neg.dtls().next() {
        return Ok((Keys::Dtls(agreement.clone()), agreement.summary(), true));
    }
    for m in &neg.media {
        match &m.outcome {
            MediaOutcome::Plain(reason) => {
                let why = reason.to_string();
                let why = why.strip_prefix("plain RTP: ").unwrap_or(&why);
                return Ok((
                    Keys::Ready(Crypto::Plain),
                    format!("plain RTP ({why})"),
                    false,
                ));
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

/// The codec, events and RTCP addresses offer/answer settled on, from the
/// peer's SDP (the offer we answer, or the answer we accepted) and the
/// m-line the SRTP negotiation kept.
pub(super) fn agree(neg: &Negotiation, peer: &Sdp) -> Result<(usize, Agreed), String> {
    let index = neg
        .media_index()
        .ok_or_else(|| "no audio stream in use".to_owned())?;
    let peer_rtp = neg
        .rtp_peer(peer)
        .ok_or_else(|| "no RTP address in the SDP".to_owned())?;
    let codec = sdp::negotiate_codec(peer, index)?;
    let mux = sdp::peer_rtcp_mux(peer, index);
    Ok((
        index,
        Agreed {
            codec,
            mux,
            peer_rtp,
            peer_rtcp: sdp::peer_rtcp_addr(peer, index, peer_rtp, mux),
        },
    ))
}

impl Device {
    pub(super) fn dialog_config(&self, conn: ConnId) -> Option<DialogConfig> {
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

    pub(super) fn bind_media(&mut self, call: CallId, ip: IpAddr) -> Slot {
        let socket = SocketId(self.next_id());
        self.sockets.insert(socket, call);
        self.transmits.push_back(Transmit::Bind { socket, ip });
        Slot {
            id: socket,
            local: None,
        }
    }

    /// The media configuration of a call: the agreed codec and events, our
    /// CNAME, the wall clock for RTCP.
    pub(super) fn media_config(&self, agreed: &Agreed, now: Instant) -> MediaConfig {
        let since_epoch = self
            .wall_clock(now)
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        let cname = format!("{}@{}", self.config.user, self.link.local_ip());
        MediaConfig::from_negotiated(&agreed.codec, cname, WallClock::new(now, since_epoch))
            .with_rtcp_mux(agreed.mux)
    }

    pub(super) fn new_call(
        &mut self,
        conn: ConnId,
        direction: CallDirection,
        peer: String,
        policy: OfferPolicy,
    ) -> Result<Call, EndpointError> {
        // A per-call self-signed certificate for DTLS-SRTP (RFC 5763 §5):
        // its fingerprint goes into our SDP over SIP/TLS.
        // (Or the device's own, with sip.srtp.dtls.device_cert = 1.)
        let dtls_identity = match (
            self.config.settings.sip_srtp_keying.dtls(),
            &self.config.dtls_identity,
        ) {
            (false, _) => None,
            (true, Some(device)) => Some(device.clone()),
            (true, None) => {
                Some(DtlsIdentity::generate().map_err(|e| EndpointError::Config(e.to_string()))?)
            }
        };
        let fingerprint = dtls_identity.as_ref().map(|i| i.fingerprint().clone());
        let negotiator = Negotiator::new(self.config.call_srtp_config(policy, fingerprint))
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
            rtp: None,
            rtcp: None,
            offer: None,
            phase: Phase::Binding,
            media: None,
            media_desc: "none".into(),
            dtls_identity,
            early_dtls: Vec::new(),
            encrypted: false,
            key_exposure: None,
            established: false,
            ended: None,
            final_stats: CallStats::default(),
        })
    }

    pub(super) fn on_bound(&mut self, socket: SocketId, local: SocketAddr, now: Instant) {
        let Some(&id) = self.sockets.get(&socket) else {
            self.transmits.push_back(Transmit::Release { socket });
            return;
        };
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        for slot in [&mut call.rtp, &mut call.rtcp].into_iter().flatten() {
            if slot.id == socket {
                slot.local = Some(local);
            }
        }
        if !matches!(call.phase, Phase::Binding) {
            return;
        }
        let Some((rtp, rtcp)) = call.bound() else {
            return;
        };
        let direction = call.direction;
        self.session_id += 1;
        let session_id = self.session_id;
        match direction {
            CallDirection::Outgoing => self.send_offer(id, rtp, rtcp, session_id, now),
            CallDirection::Incoming => self.prepare_answer(id, rtp, rtcp, session_id, now),
        }
    }

    pub(super) fn on_bind_failed(&mut self, socket: SocketId, reason: String, now: Instant) {
        let Some(id) = self.sockets.remove(&socket) else {
            return;
        };
        log::warn!("{id}: no media socket: {reason}");
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        call.media_desc = format!("none (no media socket: {reason})");
        match (&call.direction, &mut call.dialog) {
            (CallDirection::Incoming, Some(d)) => {
                d.reject(500, "Server Internal Error", Some("no media socket"), now);
                call.phase = Phase::Ended;
            }
            _ => self.finish_call(id, Some(format!("no media socket: {reason}")), now),
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
        let mut out = MediaOut::default();
        if let Some(call) = self.calls.get_mut(&id) {
            match call.media.as_mut() {
                Some(media) => media.receive((socket, from), data, now, id, &mut out),
                None if call.dtls_identity.is_some()
                    && demux(data) == Demuxed::Dtls
                    && call.early_dtls.len() < MAX_EARLY_DTLS =>
                {
                    call.early_dtls.push((socket, from, data.to_vec()));
                }
                None => {}
            }
        }
        self.media_out(out, now);
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
    pub(super) fn key_exposure(&self, conn: Option<ConnId>) -> Option<String> {
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

    pub(super) fn call_connection_lost(&mut self, id: CallId, now: Instant) {
        match self.calls.get_mut(&id).and_then(|c| c.dialog.as_mut()) {
            Some(d) => d.connection_lost(),
            None => self.finish_call(id, Some("the connection was lost".into()), now),
        }
    }

    pub(super) fn call_timers(&mut self, now: Instant) {
        let ids: Vec<CallId> = self.calls.keys().copied().collect();
        for id in ids {
            let mut out = MediaOut::default();
            if let Some(call) = self.calls.get_mut(&id) {
                if let Some(d) = &mut call.dialog {
                    if d.poll_timeout().is_some_and(|t| t <= now) {
                        d.handle_timeout(now);
                    }
                }
                if let Some(m) = &mut call.media {
                    m.handle_timeout(now, id, &mut out);
                }
            }
            self.media_out(out, now);
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

    /// Ends a call: stops its media (RTCP BYE), releases its sockets,
    /// records and reports its summary.
    pub(super) fn finish_call(&mut self, id: CallId, reason: Option<String>, now: Instant) {
        let Some(mut call) = self.calls.remove(&id) else {
            return;
        };
        if let Some(mut media) = call.media.take() {
            let mut transmits = Vec::new();
            media.stop(now, &mut transmits);
            self.transmits.extend(transmits);
            call.final_stats = media.stats();
        }
        let sockets: Vec<SocketId> = call.sockets().collect();
        for socket in sockets {
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

    fn media_out(&mut self, out: MediaOut, now: Instant) {
        self.transmits.extend(out.transmits);
        for e in out.events {
            self.event(e);
        }
        if let Some((id, desc)) = out.keyed {
            if let Some(call) = self.calls.get_mut(&id) {
                // "DTLS-SRTP, DTLS client, PCMU/8000" → "SRTP <suite> (DTLS-SRTP), PCMU/8000"
                let codec = call
                    .media_desc
                    .rsplit_once(", ")
                    .map(|(_, codec)| codec.to_owned());
                call.media_desc = match codec {
                    Some(codec) => format!("{desc}, {codec}"),
                    None => desc,
                };
            }
        }
        if let Some((id, reason)) = out.failed {
            log::warn!("{id}: media failed: {reason}");
            if let Some(call) = self.calls.get_mut(&id) {
                call.media_desc = format!("none ({reason})");
                call.encrypted = false;
            }
            let _ = self.hangup_call(id, &reason, now);
        }
    }

    /// Media could not start: the call ends (BYE) with `why`.
    pub(super) fn media_failed(&mut self, id: CallId, why: &str, now: Instant) {
        if let Some(call) = self.calls.get_mut(&id) {
            call.media_desc = format!("none ({why})");
            call.encrypted = false;
        }
        let _ = self.hangup_call(id, why, now);
    }

    /// Starts a call's media: SDES or plain at once; with DTLS-SRTP the
    /// handshake on the RTP socket first (a client sends its ClientHello now).
    pub(super) fn start_media(
        &mut self,
        id: CallId,
        config: MediaConfig,
        keys: Keys,
        route: super::media::Route,
        now: Instant,
    ) -> Result<(), String> {
        let media = match keys {
            Keys::Ready(crypto) => CallMedia::new(config, crypto, route, now),
            Keys::Dtls(agreement) => {
                let identity = self
                    .calls
                    .get(&id)
                    .and_then(|c| c.dtls_identity.clone())
                    .ok_or("DTLS-SRTP agreed without a certificate of ours")?;
                let dtls =
                    DtlsSrtp::new(&identity, agreement.role, agreement.peer_fingerprints, now)
                        .map_err(|e| e.to_string())?;
                CallMedia::with_dtls(config, dtls, route)
            }
        };
        let mut out = MediaOut::default();
        if let Some(call) = self.calls.get_mut(&id) {
            let early = std::mem::take(&mut call.early_dtls);
            let media = call.media.insert(media);
            media.start(now, id, &mut out);
            for (socket, from, data) in early {
                media.receive((socket, from), &data, now, id, &mut out);
            }
        }
        self.media_out(out, now);
        Ok(())
    }

    /// The wall-clock time at `now` (for RTCP), from the anchor given at construction.
    pub(super) fn wall_clock(&self, now: Instant) -> std::time::SystemTime {
        self.config.wall_clock + now.saturating_duration_since(self.started)
    }
}
