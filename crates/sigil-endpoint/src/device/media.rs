//! The media of one call inside the device: its sockets, the peer's RTP and
//! RTCP addresses, and the per-call [`MediaStream`] (codec, jitter buffer,
//! RFC 4733 events, RTCP, SRTP) on the call's 20 ms clock.
//!
//! With DTLS-SRTP keying the call's RTP socket first carries the DTLS
//! handshake (datagrams told apart by their first byte, RFC 7983); the
//! stream starts once the handshake exported keys from a peer whose
//! certificate matched its SDP fingerprint. A failed handshake (mismatch,
//! timeout) ends the call with that reason. With RTCP on its own port the
//! keys of the RTP port's handshake protect RTCP too (no second handshake).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sigil_media::{CallStats, MediaConfig, MediaEvent, MediaStream, TransmitKind};
use sigil_srtp::dtls::{demux, Demuxed, DtlsSrtp};
use sigil_srtp::Session;

use super::io::{SocketId, Transmit};
use super::{CallId, Event};
use crate::error::EndpointError;

pub(crate) use sigil_media::MediaCrypto as Crypto;

/// Where a call's media goes.
pub(crate) struct Route {
    /// Our RTP socket (and RTCP's, with rtcp-mux).
    pub(crate) rtp_socket: SocketId,
    /// Our RTCP socket when RTCP has its own port.
    pub(crate) rtcp_socket: Option<SocketId>,
    /// The peer's RTP address.
    pub(crate) peer_rtp: SocketAddr,
    /// The peer's RTCP address (its RTP address with rtcp-mux).
    pub(crate) peer_rtcp: SocketAddr,
}

/// What a call's media produced, for the device to queue.
#[derive(Default)]
pub(crate) struct MediaOut {
    pub(crate) transmits: Vec<Transmit>,
    pub(crate) events: Vec<Event>,
    /// The media cannot run (DTLS-SRTP failed): end the call with this reason.
    pub(crate) failed: Option<(CallId, String)>,
    /// DTLS-SRTP keyed the media: the call's new media description.
    pub(crate) keyed: Option<(CallId, String)>,
}

/// The running media of a call.
pub(crate) struct CallMedia {
    /// `None` while a DTLS-SRTP handshake has not yet keyed the media.
    stream: Option<MediaStream>,
    /// DTLS-SRTP: the association on the RTP socket (kept after keying,
    /// for the peer's retransmitted final flight).
    dtls: Option<DtlsSrtp>,
    /// DTLS-SRTP: how to start the stream once keyed.
    pending: Option<MediaConfig>,
    route: Route,
    /// Datagrams from elsewhere than the peer's address, or media before keys.
    foreign: u64,
}

impl CallMedia {
    pub(crate) fn new(
        config: MediaConfig,
        crypto: Crypto,
        route: Route,
        now: Instant,
    ) -> CallMedia {
        CallMedia {
            stream: Some(MediaStream::new(config, crypto, now)),
            dtls: None,
            pending: None,
            route,
            foreign: 0,
        }
    }

    /// Media keyed by `dtls` on the RTP socket: the stream starts once the
    /// handshake succeeds. Call [`CallMedia::start`] to send its first flight.
    pub(crate) fn with_dtls(config: MediaConfig, dtls: DtlsSrtp, route: Route) -> CallMedia {
        CallMedia {
            stream: None,
            dtls: Some(dtls),
            pending: Some(config),
            route,
            foreign: 0,
        }
    }

    /// Sends what is ready to go (a DTLS client's ClientHello).
    pub(crate) fn start(&mut self, now: Instant, call: CallId, out: &mut MediaOut) {
        self.drain(now, call, out);
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        let dtls = self.dtls.as_ref().and_then(DtlsSrtp::poll_timeout);
        let stream = self.stream.as_ref().and_then(MediaStream::poll_timeout);
        dtls.into_iter().chain(stream).min()
    }

    /// DTLS datagrams to the peer; the stream started once keys exist.
    fn drive_dtls(&mut self, now: Instant, call: CallId, out: &mut MediaOut) {
        let Some(dtls) = &mut self.dtls else {
            return;
        };
        while let Some(data) = dtls.poll_transmit() {
            out.transmits.push(Transmit::SendTo {
                socket: self.route.rtp_socket,
                to: self.route.peer_rtp,
                data,
            });
        }
        if self.stream.is_some() {
            return;
        }
        let Some(keys) = dtls.srtp_keys() else {
            return;
        };
        let (send, receive) = keys.policies();
        let sessions = Session::outbound(send).and_then(|s| Ok((s, Session::inbound(receive)?)));
        match (sessions, self.pending.take()) {
            (Ok((send, receive)), Some(config)) => {
                let crypto = Crypto::Srtp {
                    send: Box::new(send),
                    receive: Box::new(receive),
                };
                log::info!("{call}: DTLS-SRTP keyed the media with {}", keys.suite());
                out.keyed = Some((call, format!("SRTP {} (DTLS-SRTP)", keys.suite())));
                self.stream = Some(MediaStream::new(config, crypto, now));
            }
            (Err(e), _) => out.failed = Some((call, format!("DTLS-SRTP keys unusable: {e}"))),
            (_, None) => {}
        }
    }

    fn drain(&mut self, now: Instant, call: CallId, out: &mut MediaOut) {
        self.drive_dtls(now, call, out);
        let Some(stream) = &mut self.stream else {
            return;
        };
        let mut sent = Vec::new();
        while let Some(t) = stream.poll_transmit() {
            sent.push(t);
        }
        let mut events = Vec::new();
        while let Some(e) = stream.poll_event() {
            events.push(e);
        }
        for t in sent {
            out.transmits.push(self.route_transmit(t.kind, t.data));
        }
        for e in events {
            match e {
                MediaEvent::Audio { frame, concealed } => out.events.push(Event::Audio {
                    call,
                    frame: frame.to_vec(),
                    concealed,
                }),
                MediaEvent::Dtmf { digit } => out.events.push(Event::Dtmf { call, digit }),
                MediaEvent::PeerBye { reason } => log::info!(
                    "{call}: the peer's RTCP says goodbye{}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                ),
            }
        }
    }

    fn route_transmit(&self, kind: TransmitKind, data: Vec<u8>) -> Transmit {
        match (kind, self.route.rtcp_socket) {
            (TransmitKind::Rtcp, Some(socket)) => Transmit::SendTo {
                socket,
                to: self.route.peer_rtcp,
                data,
            },
            (TransmitKind::Rtcp, None) => Transmit::SendTo {
                socket: self.route.rtp_socket,
                to: self.route.peer_rtcp,
                data,
            },
            (TransmitKind::Rtp, _) => Transmit::SendTo {
                socket: self.route.rtp_socket,
                to: self.route.peer_rtp,
                data,
            },
        }
    }

    pub(crate) fn handle_timeout(&mut self, now: Instant, call: CallId, out: &mut MediaOut) {
        if let Some(dtls) = &mut self.dtls {
            if dtls.poll_timeout().is_some_and(|t| t <= now) {
                if let Err(e) = dtls.handle_timeout(now) {
                    out.failed = Some((call, e.to_string()));
                }
            }
        }
        if let Some(stream) = &mut self.stream {
            if stream.poll_timeout().is_some_and(|t| t <= now) {
                stream.handle_timeout(now);
            }
        }
        self.drain(now, call, out);
    }

    /// A datagram on one of the call's sockets: media only from the peer's
    /// address (anything else is counted and dropped).
    pub(crate) fn receive(
        &mut self,
        (socket, from): (SocketId, SocketAddr),
        data: &[u8],
        now: Instant,
        call: CallId,
        out: &mut MediaOut,
    ) {
        if from.ip() != self.route.peer_rtp.ip() && from.ip() != self.route.peer_rtcp.ip() {
            self.foreign += 1;
            return;
        }
        if let Some(dtls) = &mut self.dtls {
            if demux(data) == Demuxed::Dtls {
                // Only the RTP port runs a handshake (a peer without
                // rtcp-mux may start another on the RTCP port: ignored).
                if Some(socket) == self.route.rtcp_socket {
                    self.foreign += 1;
                    return;
                }
                if let Err(e) = dtls.handle_datagram(data, now) {
                    out.failed = Some((call, e.to_string()));
                }
                self.drain(now, call, out);
                return;
            }
        }
        match &mut self.stream {
            Some(stream) if Some(socket) == self.route.rtcp_socket => {
                stream.receive_rtcp(data, now)
            }
            Some(stream) => stream.receive(data, now),
            // Media before the DTLS-SRTP keys: nothing can decrypt it.
            None => self.foreign += 1,
        }
        self.drain(now, call, out);
    }

    pub(crate) fn queue_audio(&mut self, frame: &[i16]) {
        if let Some(stream) = &mut self.stream {
            stream.queue_audio(frame);
        }
    }

    pub(crate) fn send_dtmf(
        &mut self,
        digit: char,
        duration: Duration,
    ) -> Result<(), EndpointError> {
        match &mut self.stream {
            Some(stream) => stream
                .send_dtmf(digit, duration)
                .map_err(|e| EndpointError::Media(e.to_string())),
            None => Err(EndpointError::Media(
                "the DTLS-SRTP handshake has not keyed the media yet".into(),
            )),
        }
    }

    pub(crate) fn stats(&self) -> CallStats {
        let mut stats = self
            .stream
            .as_ref()
            .map(MediaStream::stats)
            .unwrap_or_default();
        stats.ignored += self.foreign;
        stats
    }

    /// The RTCP BYE that ends the stream.
    pub(crate) fn stop(&mut self, now: Instant, transmits: &mut Vec<Transmit>) {
        let bye = self.stream.as_mut().and_then(|s| s.stop(now));
        if let Some(t) = bye {
            transmits.push(self.route_transmit(t.kind, t.data));
        }
    }
}
