//! Taking calls: requests on a connection (only its own dialogs, SPEC E8),
//! new INVITEs with the offer checked against the policy, ringing or
//! answering, rejecting (SPEC M3: 488 for what the policy refuses).

use std::net::SocketAddr;
use std::time::Instant;

use sigil_sip::dialog::{stateless_response, Dialog};
use sigil_sip::{Message, Method, Request};
use sigil_srtp::negotiate::{parse_sdp, write_sdp};

use super::calls::{agree, dtls_exposure, media_for, Keys, Phase};
use super::io::ConnId;
use super::media::Route;
use super::sdp;
use super::{CallId, Device, Event, MAX_CALLS};
use crate::error::EndpointError;
use crate::status::CallDirection;

impl Device {
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
                let ip = self
                    .conns
                    .get(&conn)
                    .and_then(|c| c.local)
                    .map_or_else(|| self.link.local_ip(), |l| l.ip());
                call.rtp = Some(self.bind_media(id, ip));
                // RTCP gets a port of its own unless the offer takes rtcp-mux.
                let mux = offer
                    .medias
                    .iter()
                    .any(|m| m.media == "audio" && m.has_attribute("rtcp-mux"));
                if !mux {
                    call.rtcp = Some(self.bind_media(id, ip));
                }
                call.offer = Some(Box::new(offer));
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

    /// The sockets are bound: negotiate the answer, then ring (or answer).
    pub(super) fn prepare_answer(
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
        let Some(offer) = call.offer.clone() else {
            return;
        };
        // One answer m-line per offered one (RFC 3264 §6): audio from our
        // template (the negotiator keeps one stream and sets port 0 on
        // alternatives), anything else declined with port 0.
        let template = sdp::our_sdp(rtp, rtcp, session_id);
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
        let negotiation = match outcome {
            Ok(n) => n,
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
                return;
            }
        };
        let agreed = agree(&negotiation, &offer).map(|(index, agreed)| {
            sdp::restrict_answer(
                &mut answer,
                index,
                &agreed.codec,
                agreed.mux,
                rtcp.map(|a| a.port()),
            );
            agreed
        });
        match (media_for(&negotiation), agreed) {
            (Ok((_, desc, _)), Ok(agreed)) => {
                dialog.ring(now);
                let desc = format!("{desc}, {}", agreed.codec.codec.rtpmap());
                call.media_desc = desc.clone();
                call.phase = Phase::Ringing {
                    answer: Box::new(answer),
                    negotiation: Box::new(negotiation),
                    media: Box::new(agreed),
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
            (Err(why), _) | (_, Err(why)) => {
                dialog.reject(488, "Not Acceptable Here", Some(&why), now);
                call.media_desc = format!("none ({why})");
            }
        }
    }

    pub(super) fn answer_call(&mut self, id: CallId, now: Instant) -> Result<(), EndpointError> {
        let exposure = self.key_exposure(self.calls.get(&id).map(|c| c.conn));
        let config = match self.calls.get(&id).map(|c| &c.phase) {
            Some(Phase::Ringing { media, .. }) => self.media_config(media, now),
            Some(_) => return Err(EndpointError::NotRinging(id)),
            None => return Err(EndpointError::NoSuchCall(id)),
        };
        let call = self
            .calls
            .get_mut(&id)
            .ok_or(EndpointError::NoSuchCall(id))?;
        let Some(rtp) = call.rtp else {
            return Err(EndpointError::NotRinging(id));
        };
        let Phase::Ringing {
            answer,
            negotiation,
            media,
        } = std::mem::replace(&mut call.phase, Phase::Active)
        else {
            return Err(EndpointError::NotRinging(id));
        };
        let Some(dialog) = call.dialog.as_mut() else {
            return Err(EndpointError::NotRinging(id));
        };
        match media_for(&negotiation) {
            Ok((keys, _, encrypted)) => {
                dialog.accept(write_sdp(&answer).into_bytes(), now);
                let route = Route {
                    rtp_socket: rtp.id,
                    rtcp_socket: call.rtcp.filter(|_| !media.mux).map(|s| s.id),
                    peer_rtp: media.peer_rtp,
                    peer_rtcp: media.peer_rtcp,
                };
                let exposure = match keys {
                    Keys::Dtls(_) => dtls_exposure(exposure),
                    Keys::Ready(_) => exposure,
                };
                if let Err(why) = self.start_media(id, config, keys, route, now) {
                    self.media_failed(id, &why, now);
                    return Ok(());
                }
                let Some(call) = self.calls.get_mut(&id) else {
                    return Ok(());
                };
                call.encrypted = encrypted;
                call.key_exposure = if encrypted { exposure } else { None };
                call.established = true;
                let desc = call.media_desc.clone();
                self.event(Event::CallEstablished {
                    call: id,
                    media: desc,
                    encrypted,
                });
            }
            Err(why) => {
                dialog.reject(488, "Not Acceptable Here", Some(&why), now);
                call.media_desc = format!("none ({why})");
                call.phase = Phase::Ended;
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
}
