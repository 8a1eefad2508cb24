//! The media of one call inside the device: its sockets, the peer's RTP and
//! RTCP addresses, and the per-call [`MediaStream`] (codec, jitter buffer,
//! RFC 4733 events, RTCP, SRTP) on the call's 20 ms clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use sigil_media::{CallStats, MediaConfig, MediaEvent, MediaStream, TransmitKind};

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
}

/// The running media of a call.
pub(crate) struct CallMedia {
    stream: MediaStream,
    route: Route,
    /// Datagrams from elsewhere than the peer's address.
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
            stream: MediaStream::new(config, crypto, now),
            route,
            foreign: 0,
        }
    }

    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        self.stream.poll_timeout()
    }

    fn drain(&mut self, call: CallId, out: &mut MediaOut) {
        while let Some(t) = self.stream.poll_transmit() {
            out.transmits.push(self.route_transmit(t.kind, t.data));
        }
        while let Some(e) = self.stream.poll_event() {
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
        if self.stream.poll_timeout().is_some_and(|t| t <= now) {
            self.stream.handle_timeout(now);
        }
        self.drain(call, out);
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
        if Some(socket) == self.route.rtcp_socket {
            self.stream.receive_rtcp(data, now);
        } else {
            self.stream.receive(data, now);
        }
        self.drain(call, out);
    }

    pub(crate) fn queue_audio(&mut self, frame: &[i16]) {
        self.stream.queue_audio(frame);
    }

    pub(crate) fn send_dtmf(
        &mut self,
        digit: char,
        duration: Duration,
    ) -> Result<(), EndpointError> {
        self.stream
            .send_dtmf(digit, duration)
            .map_err(|e| EndpointError::Media(e.to_string()))
    }

    pub(crate) fn stats(&self) -> CallStats {
        let mut stats = self.stream.stats();
        stats.ignored += self.foreign;
        stats
    }

    /// The RTCP BYE that ends the stream.
    pub(crate) fn stop(&mut self, now: Instant, transmits: &mut Vec<Transmit>) {
        if let Some(t) = self.stream.stop(now) {
            transmits.push(self.route_transmit(t.kind, t.data));
        }
    }
}
