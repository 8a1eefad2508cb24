//! One signaling connection as the device sees it: SIP over TLS (rustls and
//! the SIP framer, sans-IO in `sigil-sip-tls`), SIP over plain TCP (the
//! framer alone) or SIP over UDP (one message per datagram).

use std::net::SocketAddr;
use std::time::Instant;

use sigil_identity::PeerDevice;
use sigil_sip::{
    suppressed_note, Framer, FramerEvent, KeepAliveRole, Limits, Message, WarnLimiter,
};
use sigil_sip_tls::{ConnectionEvent, HandshakeDiagnosis, SipTlsConnection, TlsInfo};

/// How SIP travels on a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// SIP over TLS.
    Tls,
    /// SIP over plain TCP.
    Tcp,
    /// SIP over UDP.
    Udp,
}

impl Transport {
    /// `TLS`, `TCP`, `UDP`: the Via transport.
    pub(crate) fn via(self) -> &'static str {
        match self {
            Transport::Tls => "TLS",
            Transport::Tcp => "TCP",
            Transport::Udp => "UDP",
        }
    }

    /// No retransmissions needed (TCP, TLS).
    pub(crate) fn reliable(self) -> bool {
        self != Transport::Udp
    }
}

/// Who is at the other end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Role {
    /// Our connection to the SIP server (registrar and proxy).
    Registrar,
    /// A peer that connected to our listener.
    Inbound,
}

enum Wire {
    /// TCP is not up yet (registrar connections).
    Pending,
    Tls(Box<SipTlsConnection>),
    Tcp {
        framer: Framer,
        out: Vec<u8>,
    },
    Udp {
        out: Vec<Vec<u8>>,
    },
}

/// What a connection produced.
// Handed over and consumed at once; boxing each message would cost an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum ConnOutput {
    /// The TLS handshake completed (or TCP/UDP is up): ready for SIP.
    Up,
    /// A SIP message.
    Message(Message),
}

/// Why a connection is dead.
#[derive(Debug, Clone)]
pub(crate) struct ConnError {
    pub(crate) reason: String,
    pub(crate) diagnosis: Option<Box<HandshakeDiagnosis>>,
}

impl ConnError {
    fn from_tls(error: &sigil_sip_tls::Error) -> ConnError {
        ConnError {
            reason: error.to_string(),
            diagnosis: error.diagnosis().cloned().map(Box::new),
        }
    }

    pub(crate) fn new(reason: impl Into<String>) -> ConnError {
        ConnError {
            reason: reason.into(),
            diagnosis: None,
        }
    }
}

/// A signaling connection.
pub(crate) struct Conn {
    pub(crate) role: Role,
    pub(crate) transport: Transport,
    pub(crate) local: Option<SocketAddr>,
    pub(crate) peer: Option<SocketAddr>,
    /// Ready for SIP (handshake done).
    pub(crate) up: bool,
    wire: Wire,
    limits: Limits,
    garbage: WarnLimiter,
}

impl Conn {
    /// A connection we are opening; its wire starts at [`Conn::connected`].
    pub(crate) fn outgoing(transport: Transport, limits: Limits) -> Conn {
        Conn {
            role: Role::Registrar,
            transport,
            local: None,
            peer: None,
            up: false,
            wire: Wire::Pending,
            limits,
            garbage: WarnLimiter::default(),
        }
    }

    /// A connection our listener accepted, with its TLS server side.
    pub(crate) fn inbound(
        tls: SipTlsConnection,
        local: SocketAddr,
        peer: SocketAddr,
        limits: Limits,
    ) -> Conn {
        Conn {
            role: Role::Inbound,
            transport: Transport::Tls,
            local: Some(local),
            peer: Some(peer),
            up: false,
            wire: Wire::Tls(Box::new(tls)),
            limits,
            garbage: WarnLimiter::default(),
        }
    }

    /// TCP (or the UDP flow) is up: start TLS with `tls` (which already
    /// holds its first flight), or be ready at once for plain SIP.
    pub(crate) fn connected(
        &mut self,
        local: SocketAddr,
        peer: SocketAddr,
        tls: Option<SipTlsConnection>,
        out: &mut Vec<ConnOutput>,
    ) {
        self.local = Some(local);
        self.peer = Some(peer);
        self.wire = match (self.transport, tls) {
            (Transport::Tls, Some(tls)) => Wire::Tls(Box::new(tls)),
            (Transport::Udp, _) => Wire::Udp { out: Vec::new() },
            _ => Wire::Tcp {
                framer: Framer::with_limits(self.limits, KeepAliveRole::Client),
                out: Vec::new(),
            },
        };
        if !matches!(self.wire, Wire::Tls(_)) {
            self.up = true;
            out.push(ConnOutput::Up);
        }
    }

    /// What the TLS handshake negotiated (TLS only, once up).
    pub(crate) fn tls_info(&self) -> Option<&TlsInfo> {
        match &self.wire {
            Wire::Tls(tls) => tls.tls_info(),
            _ => None,
        }
    }

    /// The device certificate an inbound peer presented, verified.
    pub(crate) fn peer_device(&self) -> Option<&PeerDevice> {
        match &self.wire {
            Wire::Tls(tls) => tls.peer_device(),
            _ => None,
        }
    }

    /// Bytes (TLS records, a TCP chunk, a UDP datagram) from the peer.
    pub(crate) fn receive(
        &mut self,
        data: &[u8],
        now: Instant,
        out: &mut Vec<ConnOutput>,
    ) -> Result<(), ConnError> {
        match &mut self.wire {
            Wire::Pending => Ok(()),
            Wire::Tls(tls) => {
                let result = tls.handle_input(data, now);
                self.drain_tls(out)?;
                result.map_err(|e| ConnError::from_tls(&e))
            }
            Wire::Tcp { framer, out: bytes } => {
                framer.push(data);
                // Bounded: the framer yields at most what was pushed.
                while let Some(event) = framer.poll() {
                    match event {
                        Ok(FramerEvent::Message(m)) => out.push(ConnOutput::Message(m)),
                        Ok(FramerEvent::Ping) => bytes.extend_from_slice(b"\r\n"),
                        Ok(FramerEvent::Pong) => {}
                        Err(e) if e.can_continue() => {
                            if let Some(n) = self.garbage.admit(now) {
                                log::warn!(
                                    "SIP over TCP: {e}; message dropped{}",
                                    suppressed_note(n)
                                );
                            }
                        }
                        Err(e) => return Err(ConnError::new(format!("SIP framing error: {e}"))),
                    }
                }
                Ok(())
            }
            Wire::Udp { .. } => {
                if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                    return Ok(()); // keep-alive
                }
                match sigil_sip::parse_with(data, &self.limits) {
                    Ok(m) => out.push(ConnOutput::Message(m)),
                    Err(e) => {
                        if let Some(n) = self.garbage.admit(now) {
                            log::warn!(
                                "SIP over UDP: malformed datagram of {} bytes dropped: {e}{}",
                                data.len(),
                                suppressed_note(n)
                            );
                        }
                    }
                }
                Ok(())
            }
        }
    }

    fn drain_tls(&mut self, out: &mut Vec<ConnOutput>) -> Result<(), ConnError> {
        let Wire::Tls(tls) = &mut self.wire else {
            return Ok(());
        };
        let mut closed = false;
        while let Some(event) = tls.poll_event() {
            match event {
                ConnectionEvent::Connected(_) => {
                    self.up = true;
                    out.push(ConnOutput::Up);
                }
                ConnectionEvent::Message(m) => out.push(ConnOutput::Message(m)),
                ConnectionEvent::Closed => closed = true,
                ConnectionEvent::PongReceived | ConnectionEvent::PingAnswered => {}
            }
        }
        if closed {
            return Err(ConnError::new("the peer closed the connection"));
        }
        Ok(())
    }

    /// The peer closed the TCP stream.
    pub(crate) fn eof(&mut self, now: Instant, out: &mut Vec<ConnOutput>) -> ConnError {
        match &mut self.wire {
            Wire::Tls(tls) => {
                let result = tls.handle_eof(now);
                let drained = self.drain_tls(out);
                match (result, drained) {
                    (Err(e), _) => ConnError::from_tls(&e),
                    (Ok(()), Err(e)) => e,
                    (Ok(()), Ok(())) => ConnError::new("the peer closed the connection"),
                }
            }
            _ => ConnError::new("the peer closed the connection"),
        }
    }

    /// Queues a SIP message.
    pub(crate) fn send(&mut self, message: &Message) -> Result<(), ConnError> {
        if !self.up {
            return Err(ConnError::new("not connected"));
        }
        match &mut self.wire {
            Wire::Pending => Err(ConnError::new("not connected")),
            Wire::Tls(tls) => tls.send(message).map_err(|e| ConnError::from_tls(&e)),
            Wire::Tcp { out, .. } => {
                out.extend_from_slice(&message.to_bytes());
                Ok(())
            }
            Wire::Udp { out } => {
                out.push(message.to_bytes().to_vec());
                Ok(())
            }
        }
    }

    /// The bytes to write now, each element one write (one datagram for UDP).
    pub(crate) fn take_output(&mut self) -> Vec<Vec<u8>> {
        match &mut self.wire {
            Wire::Pending => Vec::new(),
            Wire::Tls(tls) => {
                let bytes = tls.take_transmit();
                if bytes.is_empty() {
                    Vec::new()
                } else {
                    vec![bytes]
                }
            }
            Wire::Tcp { out, .. } => {
                if out.is_empty() {
                    Vec::new()
                } else {
                    vec![std::mem::take(out)]
                }
            }
            Wire::Udp { out } => std::mem::take(out),
        }
    }

    /// When [`Conn::handle_timeout`] must run next (handshake deadline, keep-alive).
    pub(crate) fn poll_timeout(&self) -> Option<Instant> {
        match &self.wire {
            Wire::Tls(tls) => tls.poll_timeout(),
            _ => None,
        }
    }

    /// Runs the connection's timers.
    pub(crate) fn handle_timeout(&mut self, now: Instant) -> Result<(), ConnError> {
        match &mut self.wire {
            Wire::Tls(tls) => tls.handle_timeout(now).map_err(|e| ConnError::from_tls(&e)),
            _ => Ok(()),
        }
    }

    /// Starts a clean close (TLS close_notify); send [`Conn::take_output`] after.
    pub(crate) fn close(&mut self) {
        if let Wire::Tls(tls) = &mut self.wire {
            tls.close();
        }
    }
}
