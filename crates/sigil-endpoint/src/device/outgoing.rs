//! Placing a call: media sockets, the INVITE with our offer (codecs, events,
//! RTCP, SRTP per the offer policy), and the answer — accepted, or the call
//! hung up with the reason (SPEC M3: "SRTP required").

use std::net::SocketAddr;
use std::time::Instant;

use sigil_sip::dialog::Dialog;
use sigil_sip::Uri;
use sigil_srtp::negotiate::{parse_sdp, write_sdp, AnswerError, OfferPolicy};

use super::calls::{agree, dtls_exposure, media_for, Keys, Phase};
use super::io::Transmit;
use super::media::Route;
use super::sdp;
use super::{CallId, Device, Event, MAX_CALLS};
use crate::error::EndpointError;
use crate::status::CallDirection;

impl Device {
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
        // RTP, and RTCP on a port of its own unless the answer takes rtcp-mux.
        call.rtp = Some(self.bind_media(call.id, ip));
        call.rtcp = Some(self.bind_media(call.id, ip));
        let id = call.id;
        self.calls.insert(id, call);
        Ok(id)
    }

    /// The sockets are bound: the INVITE with our offer goes out.
    pub(super) fn send_offer(
        &mut self,
        id: CallId,
        rtp: SocketAddr,
        rtcp: Option<SocketAddr>,
        session_id: u64,
        now: Instant,
    ) {
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let mut offer_sdp = sdp::our_sdp(rtp, rtcp, session_id);
        let offer = match call.negotiator.create_offer(&mut offer_sdp) {
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
                write_sdp(&offer_sdp).into_bytes(),
                now,
            ));
            call.phase = Phase::Inviting;
        }
    }

    /// The 2xx came with the answer SDP: start the media, or hang up.
    pub(super) fn on_answered(&mut self, id: CallId, body: &[u8], now: Instant) {
        let exposure = self.key_exposure(self.calls.get(&id).map(|c| c.conn));
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
        let neg = match call.negotiator.accept_answer(&answer) {
            Ok(neg) => neg,
            Err(AnswerError::SrtpRequired { detail }) => {
                call.media_desc = format!("none (SRTP required: {detail})");
                dialog.hang_up("SRTP required", now);
                return;
            }
            Err(e) => {
                call.media_desc = format!("none ({e})");
                dialog.hang_up(&e.to_string(), now);
                return;
            }
        };
        let (crypto, desc, encrypted, agreed) = match (media_for(&neg), agree(&neg, &answer)) {
            (Ok((crypto, desc, encrypted)), Ok((_, agreed))) => (crypto, desc, encrypted, agreed),
            (Err(why), _) | (_, Err(why)) => {
                call.media_desc = format!("none ({why})");
                dialog.hang_up(&why, now);
                return;
            }
        };
        let Some(rtp) = call.rtp else {
            call.media_desc = "none (no media socket)".into();
            dialog.hang_up("no media socket", now);
            return;
        };
        // With rtcp-mux agreed, the RTCP socket is not needed.
        let rtcp = if agreed.mux { call.rtcp.take() } else { None };
        if let Some(slot) = rtcp {
            self.sockets.remove(&slot.id);
            self.transmits
                .push_back(Transmit::Release { socket: slot.id });
        }
        let config = self.media_config(&agreed, now);
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
        let route = Route {
            rtp_socket: rtp.id,
            rtcp_socket: call.rtcp.map(|s| s.id),
            peer_rtp: agreed.peer_rtp,
            peer_rtcp: agreed.peer_rtcp,
        };
        let desc = format!("{desc}, {}", agreed.codec.codec.rtpmap());
        call.media_desc = desc.clone();
        let exposure = match crypto {
            Keys::Dtls(_) => dtls_exposure(exposure),
            Keys::Ready(_) => exposure,
        };
        if let Err(why) = self.start_media(id, config, crypto, route, now) {
            self.media_failed(id, &why, now);
            return;
        }
        let Some(call) = self.calls.get_mut(&id) else {
            return;
        };
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
}
