//! The sans-IO SIP-over-TLS connection: rustls plus the SIP stream framer.
//!
//! Bytes from the socket go in with [`SipTlsConnection::handle_input`], time
//! with [`SipTlsConnection::handle_timeout`]; events come out of
//! [`SipTlsConnection::poll_event`] and bytes for the socket out of
//! [`SipTlsConnection::write_tls_to`] / [`SipTlsConnection::take_transmit`].
//! [`SipTlsConnection::poll_timeout`] says when to call `handle_timeout` next.
//! No sockets, threads or clocks live here, so the connection drops into any
//! event loop; [`crate::Client`] and [`crate::Server`] are blocking drivers.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use sigil_identity::PeerDevice;
use sigil_sip::{
    suppressed_note, Framer, FramerEvent, KeepAliveRole, Limits, Message, WarnLimiter,
};
use sigil_trust::Verification;

use crate::connector::ClientAuthRecorder;
use crate::diagnosis::{ClientAuthOutcome, HandshakeDiagnosis};
use crate::error::Error;
use crate::policy::{suite_name, TlsVersion};

/// RFC 5626 §4.4.1: a ping is a failure when no pong arrives within 10 s.
pub const PONG_TIMEOUT: Duration = Duration::from_secs(10);

/// Timing and limits of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionSettings {
    /// Send a CRLFCRLF keep-alive ping this long after the last pong (client
    /// side; `None`: no pings). RFC 5626 suggests 95–120 s for TCP; hosted
    /// providers often want 30 s.
    pub keepalive_interval: Option<Duration>,
    /// How long to wait for the pong before the connection is declared dead.
    pub pong_timeout: Duration,
    /// How long the TLS handshake may take, so a silent peer cannot hold a slot.
    pub handshake_timeout: Duration,
    /// How long one socket write may block. A peer that stops reading (its
    /// receive window full) then costs the connection, never the thread:
    /// the drivers set it as the socket's write timeout.
    pub write_timeout: Duration,
    /// Limits of the SIP framer (header block, body size…).
    pub limits: Limits,
}

impl Default for ConnectionSettings {
    /// Pings every 30 s, pong within 10 s, handshake within 10 s, a write
    /// blocked for 5 s fails, default SIP limits.
    fn default() -> Self {
        ConnectionSettings {
            keepalive_interval: Some(Duration::from_secs(30)),
            pong_timeout: PONG_TIMEOUT,
            handshake_timeout: Duration::from_secs(10),
            write_timeout: Duration::from_secs(5),
            limits: Limits::default(),
        }
    }
}

/// What a completed handshake negotiated and proved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TlsInfo {
    /// `TLSv1.2` or `TLSv1.3`.
    pub version: String,
    /// The negotiated suite, e.g. `TLS13_AES_256_GCM_SHA384`.
    pub cipher_suite: String,
    /// True when the session was resumed (abbreviated handshake).
    pub resumed: bool,
    /// Subjects of the certificates the peer sent, its own first.
    pub peer_chain: Vec<String>,
    /// Client side: how the server was checked ("verified" / "not verified").
    pub verification: Option<Verification>,
    /// Client side: whether the server asked for our certificate and what we sent.
    pub client_auth: Option<ClientAuthOutcome>,
    /// Server side: the device that connected, when it presented a certificate.
    pub peer_device: Option<PeerDevice>,
    /// Server side: the SNI name the client asked for.
    pub sni: Option<String>,
}

impl TlsInfo {
    /// `verified`, `not verified` or `failed` (client side), `-` on a server.
    pub fn verification_status(&self) -> &'static str {
        match &self.verification {
            Some(Verification::Verified(_)) => "verified",
            Some(Verification::NotVerified { .. }) => "not verified",
            Some(Verification::Failed(_)) => "failed",
            None => "-",
        }
    }
}

/// Something the connection reports.
// Events are handed over and consumed at once; boxing the message would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionEvent {
    /// The handshake completed.
    Connected(TlsInfo),
    /// A whole SIP message arrived.
    Message(Message),
    /// The peer answered our keep-alive ping.
    PongReceived,
    /// The peer pinged us; the CRLF pong is already queued.
    PingAnswered,
    /// The peer closed the connection cleanly (close_notify or EOF after the handshake).
    Closed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Client,
    Server,
}

/// A SIP-over-TLS connection without I/O: rustls plus the SIP stream framer.
///
/// Bytes from the socket go in with [`SipTlsConnection::handle_input`] (and
/// [`SipTlsConnection::handle_eof`]), time with
/// [`SipTlsConnection::handle_timeout`]; events come out of
/// [`SipTlsConnection::poll_event`] and bytes for the socket out of
/// [`SipTlsConnection::write_tls_to`] / [`SipTlsConnection::take_transmit`].
/// [`SipTlsConnection::poll_timeout`] says when to call `handle_timeout`
/// next (handshake timeout, keep-alive ping, pong deadline). Make one with
/// [`crate::Connector::connection`] or [`crate::Acceptor::connection`].
pub struct SipTlsConnection {
    tls: rustls::Connection,
    side: Side,
    framer: Framer,
    settings: ConnectionSettings,
    min_version: TlsVersion,
    handshake_deadline: Option<Instant>,
    next_ping_at: Option<Instant>,
    pong_deadline: Option<Instant>,
    events: VecDeque<ConnectionEvent>,
    info: Option<TlsInfo>,
    recorder: Option<Arc<ClientAuthRecorder>>,
    verifier: Option<Arc<sigil_trust::ServerVerifier>>,
    app_data_seen: bool,
    failed: bool,
    closed: bool,
    /// Malformed messages the peer sends are logged a few a minute, not each.
    garbage_warnings: WarnLimiter,
}

impl std::fmt::Debug for SipTlsConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SipTlsConnection")
            .field("side", &self.side)
            .field("handshaking", &self.tls.is_handshaking())
            .field("info", &self.info)
            .field("failed", &self.failed)
            .field("closed", &self.closed)
            .finish_non_exhaustive()
    }
}

impl Drop for SipTlsConnection {
    fn drop(&mut self) {
        let suppressed = self.garbage_warnings.take_suppressed();
        if suppressed > 0 {
            log::warn!(
                "SIP over TLS: {suppressed} more malformed message(s) dropped on this connection"
            );
        }
    }
}

impl SipTlsConnection {
    pub(crate) fn new_client(
        tls: rustls::ClientConnection,
        settings: ConnectionSettings,
        min_version: TlsVersion,
        recorder: Arc<ClientAuthRecorder>,
        verifier: Arc<sigil_trust::ServerVerifier>,
        now: Instant,
    ) -> Self {
        Self::new(
            rustls::Connection::Client(tls),
            Side::Client,
            settings,
            min_version,
            Some(recorder),
            Some(verifier),
            now,
        )
    }

    pub(crate) fn new_server(
        tls: rustls::ServerConnection,
        settings: ConnectionSettings,
        min_version: TlsVersion,
        now: Instant,
    ) -> Self {
        Self::new(
            rustls::Connection::Server(tls),
            Side::Server,
            settings,
            min_version,
            None,
            None,
            now,
        )
    }

    fn new(
        tls: rustls::Connection,
        side: Side,
        settings: ConnectionSettings,
        min_version: TlsVersion,
        recorder: Option<Arc<ClientAuthRecorder>>,
        verifier: Option<Arc<sigil_trust::ServerVerifier>>,
        now: Instant,
    ) -> Self {
        let role = match side {
            Side::Client => KeepAliveRole::Client,
            Side::Server => KeepAliveRole::Server,
        };
        SipTlsConnection {
            tls,
            side,
            framer: Framer::with_limits(settings.limits, role),
            settings,
            min_version,
            handshake_deadline: now.checked_add(settings.handshake_timeout),
            next_ping_at: None,
            pong_deadline: None,
            events: VecDeque::new(),
            info: None,
            recorder,
            verifier,
            app_data_seen: false,
            garbage_warnings: WarnLimiter::default(),
            failed: false,
            closed: false,
        }
    }

    /// True until the TLS handshake has completed.
    pub fn is_handshaking(&self) -> bool {
        self.tls.is_handshaking()
    }

    /// True once the connection failed or was closed; only the queued
    /// transmit (an alert, close_notify) is still worth sending.
    pub fn is_finished(&self) -> bool {
        self.failed || self.closed
    }

    /// What the handshake negotiated (after [`ConnectionEvent::Connected`]).
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.info.as_ref()
    }

    /// The device at the other end (server side, when it presented a certificate).
    pub fn peer_device(&self) -> Option<&PeerDevice> {
        self.info.as_ref().and_then(|i| i.peer_device.as_ref())
    }

    /// The rustls connection, for anything this type does not expose.
    pub fn tls(&self) -> &rustls::Connection {
        &self.tls
    }

    /// Queues a SIP message (serialized with a correct Content-Length). Before
    /// the handshake completes it is buffered and sent right after it.
    pub fn send(&mut self, message: &Message) -> Result<(), Error> {
        if self.is_finished() {
            return Err(Error::NotConnected);
        }
        let bytes = message.to_bytes();
        self.tls.writer().write_all(&bytes).map_err(Error::Io)
    }

    /// Queues a CRLFCRLF keep-alive ping now and starts the pong deadline.
    pub fn send_ping(&mut self, now: Instant) -> Result<(), Error> {
        if self.is_finished() || self.tls.is_handshaking() {
            return Err(Error::NotConnected);
        }
        self.tls
            .writer()
            .write_all(b"\r\n\r\n")
            .map_err(Error::Io)?;
        self.pong_deadline = now.checked_add(self.settings.pong_timeout);
        self.next_ping_at = None;
        Ok(())
    }

    /// Starts a clean close: queues close_notify. Flush the transmit afterwards.
    pub fn close(&mut self) {
        if !self.closed {
            self.tls.send_close_notify();
            self.closed = true;
        }
    }

    /// True when there are bytes to send.
    pub fn wants_write(&self) -> bool {
        self.tls.wants_write()
    }

    /// Writes the pending TLS bytes to `out` (a socket). Returns how many.
    pub fn write_tls_to(&mut self, out: &mut dyn Write) -> std::io::Result<usize> {
        let mut total = 0;
        while self.tls.wants_write() {
            let n = self.tls.write_tls(out)?;
            if n == 0 {
                break;
            }
            total += n;
        }
        Ok(total)
    }

    /// The pending TLS bytes, taken out of the connection (for in-memory use).
    pub fn take_transmit(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        // ok: writing into a Vec cannot fail
        let _ = self.write_tls_to(&mut out);
        out
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<ConnectionEvent> {
        self.events.pop_front()
    }

    /// When [`SipTlsConnection::handle_timeout`] must be called next.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.is_finished() {
            return None;
        }
        if self.tls.is_handshaking() {
            return self.handshake_deadline;
        }
        [self.next_ping_at, self.pong_deadline]
            .into_iter()
            .flatten()
            .min()
    }

    /// Runs the timers due at `now`: handshake timeout, keep-alive ping, pong deadline.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.is_finished() {
            return Ok(());
        }
        if self.tls.is_handshaking() {
            if self.handshake_deadline.is_some_and(|d| now >= d) {
                self.failed = true;
                return Err(Error::Handshake(Box::new(
                    HandshakeDiagnosis::HandshakeTimeout {
                        after: self.settings.handshake_timeout,
                    },
                )));
            }
            return Ok(());
        }
        if self.pong_deadline.is_some_and(|d| now >= d) {
            self.failed = true;
            return Err(Error::KeepAliveTimeout {
                after: self.settings.pong_timeout,
            });
        }
        if self.next_ping_at.is_some_and(|d| now >= d) && self.pong_deadline.is_none() {
            self.send_ping(now)?;
        }
        Ok(())
    }

    /// Tells the connection that the peer closed the TCP stream.
    pub fn handle_eof(&mut self, now: Instant) -> Result<(), Error> {
        if self.is_finished() {
            return Ok(());
        }
        let _ = self.tls.read_tls(&mut &b""[..]);
        let handshaking = self.tls.is_handshaking();
        let result = self.tls.process_new_packets();
        self.drain_plaintext(now)?;
        if let Err(error) = result {
            return Err(self.fail(&error));
        }
        if handshaking {
            self.failed = true;
            return Err(Error::Handshake(Box::new(HandshakeDiagnosis::PeerClosed)));
        }
        self.closed = true;
        self.events.push_back(ConnectionEvent::Closed);
        Ok(())
    }

    /// Feeds bytes received from the peer. On `Err` the connection is dead;
    /// flush the transmit (it may hold an alert for the peer) and drop it.
    pub fn handle_input(&mut self, mut data: &[u8], now: Instant) -> Result<(), Error> {
        if self.failed {
            return Err(Error::NotConnected);
        }
        let mut rounds = 0usize;
        while !data.is_empty() {
            rounds += 1;
            if rounds > 1_000_000 {
                break; // ok: unreachable in practice; every round consumes bytes
            }
            let was_handshaking = self.tls.is_handshaking();
            match self.tls.read_tls(&mut data) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) => {
                    self.failed = true;
                    return Err(Error::Io(e));
                }
            }
            let state = match self.tls.process_new_packets() {
                Ok(state) => state,
                Err(error) => return Err(self.fail(&error)),
            };
            if was_handshaking && !self.tls.is_handshaking() {
                self.on_handshake_complete(now);
            }
            self.drain_plaintext(now)?;
            if state.peer_has_closed() && !self.closed {
                self.closed = true;
                self.events.push_back(ConnectionEvent::Closed);
            }
        }
        Ok(())
    }

    fn fail(&mut self, error: &rustls::Error) -> Error {
        self.failed = true;
        let post_handshake_alert = !self.tls.is_handshaking()
            && !self.app_data_seen
            && matches!(error, rustls::Error::AlertReceived(_));
        if self.tls.is_handshaking() || post_handshake_alert {
            // TLS 1.3: a server that refuses our certificate says so right after
            // the client considered the handshake done.
            let diagnosis = match self.side {
                Side::Client => {
                    HandshakeDiagnosis::from_tls_error(error, &self.client_auth(), self.min_version)
                }
                Side::Server => HandshakeDiagnosis::from_server_tls_error(error, self.min_version),
            };
            Error::from(diagnosis)
        } else {
            Error::Tls(error.clone())
        }
    }

    fn client_auth(&self) -> ClientAuthOutcome {
        self.recorder
            .as_ref()
            .map(|r| r.outcome())
            .unwrap_or_default()
    }

    fn on_handshake_complete(&mut self, now: Instant) {
        let peer_chain: Vec<String> = self
            .tls
            .peer_certificates()
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(i, der)| {
                sigil_trust::CertSummary::parse(der.as_ref(), i)
                    .map(|s| s.subject)
                    .unwrap_or_else(|_| "(unparsable certificate)".to_owned())
            })
            .collect();
        let version = match self.tls.protocol_version() {
            Some(rustls::ProtocolVersion::TLSv1_3) => "TLSv1.3".to_owned(),
            Some(rustls::ProtocolVersion::TLSv1_2) => "TLSv1.2".to_owned(),
            Some(other) => format!("{other:?}"),
            None => "unknown".to_owned(),
        };
        let resumed = matches!(
            self.tls.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed)
        );
        let mut info = TlsInfo {
            version,
            cipher_suite: self
                .tls
                .negotiated_cipher_suite()
                .map(|s| suite_name(s.suite()))
                .unwrap_or_default(),
            resumed,
            peer_chain,
            verification: None,
            client_auth: None,
            peer_device: None,
            sni: None,
        };
        match &self.tls {
            rustls::Connection::Client(_) => {
                info.verification = self.verifier.as_ref().and_then(|v| v.last_verification());
                info.client_auth = Some(self.client_auth());
                if let Some(interval) = self.settings.keepalive_interval {
                    self.next_ping_at = now.checked_add(interval);
                }
            }
            rustls::Connection::Server(server) => {
                info.sni = server.server_name().map(str::to_owned);
                info.peer_device = server
                    .peer_certificates()
                    .and_then(|c| sigil_identity::PeerDevice::from_peer_certificates(Some(c)).ok());
            }
        }
        self.info = Some(info.clone());
        self.events.push_back(ConnectionEvent::Connected(info));
    }

    fn drain_plaintext(&mut self, now: Instant) -> Result<(), Error> {
        let mut buf = [0u8; 16 * 1024];
        for _ in 0..100_000 {
            match self.tls.reader().read(&mut buf) {
                Ok(0) => break,
                Ok(n) => {
                    self.framer.push(buf.get(..n).unwrap_or_default());
                    self.poll_framer(now)?;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                Err(e) => {
                    self.failed = true;
                    return Err(Error::Io(e));
                }
            }
        }
        Ok(())
    }

    fn poll_framer(&mut self, now: Instant) -> Result<(), Error> {
        for _ in 0..1_000_000 {
            let Some(event) = self.framer.poll() else {
                return Ok(());
            };
            match event {
                Ok(FramerEvent::Message(m)) => {
                    self.app_data_seen = true;
                    self.events.push_back(ConnectionEvent::Message(m));
                }
                Ok(FramerEvent::Ping) => {
                    self.app_data_seen = true;
                    self.tls.writer().write_all(b"\r\n").map_err(Error::Io)?;
                    self.events.push_back(ConnectionEvent::PingAnswered);
                }
                Ok(FramerEvent::Pong) => {
                    self.app_data_seen = true;
                    if self.pong_deadline.take().is_some() {
                        self.events.push_back(ConnectionEvent::PongReceived);
                    }
                    if self.side == Side::Client {
                        if let Some(interval) = self.settings.keepalive_interval {
                            self.next_ping_at = now.checked_add(interval);
                        }
                    }
                }
                Err(e) if e.can_continue() => {
                    if let Some(suppressed) = self.garbage_warnings.admit(now) {
                        log::warn!("SIP over TLS: {e}{}", suppressed_note(suppressed));
                    }
                }
                Err(e) => {
                    self.failed = true;
                    return Err(Error::Framing(e));
                }
            }
        }
        Ok(())
    }
}
