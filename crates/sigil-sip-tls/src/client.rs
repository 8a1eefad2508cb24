//! The blocking `std::net` client driver: one socket, one thread (the
//! caller's), keep-alive, reconnect with exponential backoff and jitter.

use std::collections::VecDeque;
use std::io::Read;
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::{Duration, Instant};

use sigil_sip::Message;

use crate::connection::{ConnectionEvent, ConnectionSettings, SipTlsConnection, TlsInfo};
use crate::connector::Connector;
use crate::diagnosis::HandshakeDiagnosis;
use crate::error::{ConfigError, Error};

/// Exponential backoff with jitter between reconnect attempts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    /// Delay before the first attempt after a loss.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Each delay is drawn uniformly from `[delay·(1-jitter), delay]` (0 ≤ jitter ≤ 1),
    /// so a fleet of devices does not reconnect in lock-step after a server restart.
    pub jitter: f64,
}

impl Default for Backoff {
    /// 1 s doubling up to 60 s, half-jitter.
    fn default() -> Self {
        Backoff {
            initial: Duration::from_secs(1),
            max: Duration::from_secs(60),
            jitter: 0.5,
        }
    }
}

impl Backoff {
    /// The delay before reconnect attempt `attempt` (0-based), with jitter drawn from `random` (0..=u32::MAX).
    pub fn delay(&self, attempt: u32, random: u32) -> Duration {
        let base = self
            .initial
            .saturating_mul(1u32.checked_shl(attempt.min(20)).unwrap_or(u32::MAX))
            .min(self.max);
        let jitter = self.jitter.clamp(0.0, 1.0);
        let fraction = 1.0 - jitter * (f64::from(random) / f64::from(u32::MAX));
        base.mul_f64(fraction.clamp(0.0, 1.0))
    }
}

/// `now + timeout`, saturating at about a year for absurd timeouts.
pub(crate) fn deadline_after(timeout: Duration) -> Instant {
    sigil_sip::timer::deadline_after(Instant::now(), timeout)
}

fn random_u32() -> u32 {
    let mut b = [0u8; 4];
    if getrandom::getrandom(&mut b).is_err() {
        // Jitter only spreads reconnects; the sub-second clock is good enough then.
        return std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
    }
    u32::from_le_bytes(b)
}

/// Settings of the blocking client.
#[derive(Debug, Clone, PartialEq)]
pub struct ClientOptions {
    /// TCP connect timeout.
    pub connect_timeout: Duration,
    /// Keep-alive, handshake timeout and SIP limits of each connection.
    pub connection: ConnectionSettings,
    /// Reconnect after a loss (`None`: stay disconnected).
    pub reconnect: Option<Backoff>,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(5),
            connection: ConnectionSettings::default(),
            reconnect: Some(Backoff::default()),
        }
    }
}

/// What [`Client::recv`] reports.
// Events are handed over and consumed at once; boxing the message would cost an allocation per message.
#[allow(clippy::large_enum_variant)]
#[derive(Debug)]
pub enum ClientEvent {
    /// A SIP message from the server.
    Message(Message),
    /// The server answered a keep-alive ping.
    KeepAliveAnswered,
    /// No pong within the deadline; a [`ClientEvent::Disconnected`] follows.
    KeepAliveFailed,
    /// The connection was lost. When reconnecting is on, `retry_in` says when the next attempt is.
    Disconnected {
        /// Why.
        reason: String,
        /// When the server refused us right after the handshake (TLS 1.3 sends
        /// its verdict on our certificate after the client's Finished): why.
        diagnosis: Option<HandshakeDiagnosis>,
        /// Delay before the next attempt.
        retry_in: Option<Duration>,
    },
    /// A reconnect attempt failed.
    ReconnectFailed {
        /// Attempt number (1 = the first after the loss).
        attempt: u32,
        /// Why.
        diagnosis: HandshakeDiagnosis,
        /// Delay before the next attempt.
        retry_in: Duration,
    },
    /// The connection is back: refresh the registration now (RFC 5626 / SPEC S4).
    Reconnected(TlsInfo),
}

struct Link {
    stream: TcpStream,
    conn: SipTlsConnection,
}

/// A blocking SIP-over-TLS client: connect, send messages, receive messages
/// and events. Keep-alive pings and reconnects run inside [`Client::recv`],
/// so call it regularly (an event loop calling `recv(Duration::from_millis(…))`).
///
/// ```no_run
/// # use std::time::Duration;
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let connector: sigil_sip_tls::Connector = todo!();
/// use sigil_sip_tls::{Client, ClientEvent, ClientOptions};
/// let mut client = Client::connect(connector, "sip.example.com:5061", ClientOptions::default())?;
/// println!("{}", client.tls_info().map(|i| i.verification_status()).unwrap_or("-"));
/// # let register: sigil_sip::Message = todo!();
/// client.send(&register)?;
/// while let Some(event) = client.recv(Duration::from_secs(1)) {
///     match event {
///         ClientEvent::Message(m) => println!("{}", String::from_utf8_lossy(&m.to_bytes())),
///         ClientEvent::Reconnected(_) => { /* send a fresh REGISTER */ }
///         other => println!("{other:?}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Client {
    connector: Connector,
    server: String,
    options: ClientOptions,
    link: Option<Link>,
    info: Option<TlsInfo>,
    attempt: u32,
    retry_at: Option<Instant>,
    events: VecDeque<ClientEvent>,
    shut: bool,
    buf: Vec<u8>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("server", &self.server)
            .field("connected", &self.link.is_some())
            .field("info", &self.info)
            .finish_non_exhaustive()
    }
}

/// Resolves `server` (`host:port`) to socket addresses.
pub fn resolve(server: &str) -> Result<Vec<SocketAddr>, ConfigError> {
    let addrs: Vec<SocketAddr> = server
        .to_socket_addrs()
        .map_err(|e| ConfigError::BadAddress {
            given: server.chars().take(255).collect(),
            detail: e.to_string(),
        })?
        .take(8)
        .collect();
    if addrs.is_empty() {
        return Err(ConfigError::BadAddress {
            given: server.chars().take(255).collect(),
            detail: "no address".into(),
        });
    }
    Ok(addrs)
}

/// Opens TCP to `server` and completes the TLS handshake (both bounded by
/// the timeouts). Returns the socket and the connected sans-IO connection;
/// its [`ConnectionEvent::Connected`] event is still queued.
pub fn establish(
    connector: &Connector,
    server: &str,
    connect_timeout: Duration,
    settings: ConnectionSettings,
) -> Result<(TcpStream, SipTlsConnection), Error> {
    let addrs = resolve(server)?;
    let mut last_error = None;
    let mut stream = None;
    for addr in addrs {
        match TcpStream::connect_timeout(&addr, connect_timeout) {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = Some(e),
        }
    }
    let mut stream = match (stream, last_error) {
        (Some(s), _) => s,
        (None, Some(e)) => {
            return Err(Error::from(HandshakeDiagnosis::from_connect_error(
                &e,
                server,
                connect_timeout,
            )))
        }
        (None, None) => return Err(Error::NotConnected),
    };
    let _ = stream.set_nodelay(true);
    // A zero duration would be an error: at least a millisecond.
    stream
        .set_write_timeout(Some(settings.write_timeout.max(Duration::from_millis(1))))
        .map_err(handshake_io)?;
    let start = Instant::now();
    let mut conn = connector.connection(start, settings)?;
    let mut buf = vec![0u8; 16 * 1024];
    // Bounded: every round either makes progress or waits for the handshake deadline.
    while conn.is_handshaking() {
        conn.write_tls_to(&mut stream).map_err(handshake_io)?;
        let now = Instant::now();
        conn.handle_timeout(now)?;
        let wait = conn
            .poll_timeout()
            .map(|t| t.saturating_duration_since(now))
            .unwrap_or(settings.handshake_timeout)
            .max(Duration::from_millis(1));
        stream.set_read_timeout(Some(wait)).map_err(handshake_io)?;
        match stream.read(&mut buf) {
            Ok(0) => {
                conn.handle_eof(Instant::now())?;
            }
            Ok(n) => {
                let input = buf.get(..n).unwrap_or_default();
                if let Err(e) = conn.handle_input(input, Instant::now()) {
                    let _ = conn.write_tls_to(&mut stream);
                    return Err(e);
                }
            }
            Err(e) if is_timeout(&e) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                return Err(Error::Handshake(Box::new(HandshakeDiagnosis::PeerClosed)))
            }
            Err(e) => return Err(handshake_io(e)),
        }
    }
    conn.write_tls_to(&mut stream).map_err(handshake_io)?;
    Ok((stream, conn))
}

fn handshake_io(e: std::io::Error) -> Error {
    if matches!(
        e.kind(),
        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe
    ) {
        Error::Handshake(Box::new(HandshakeDiagnosis::PeerClosed))
    } else {
        Error::from(HandshakeDiagnosis::Protocol {
            detail: format!("socket error during the handshake: {e}"),
        })
    }
}

fn is_timeout(e: &std::io::Error) -> bool {
    matches!(
        e.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

impl Client {
    /// Connects to `server` (`host:port`, e.g. `sip.example.com:5061`) for
    /// the connector's SIP domain and completes the handshake. A failure of
    /// this first attempt is returned (with its [`HandshakeDiagnosis`]);
    /// later losses are reconnected by [`Client::recv`].
    pub fn connect(
        connector: Connector,
        server: &str,
        options: ClientOptions,
    ) -> Result<Client, Error> {
        let (stream, mut conn) = establish(
            &connector,
            server,
            options.connect_timeout,
            options.connection,
        )?;
        let mut client = Client {
            connector,
            server: server.to_owned(),
            options,
            link: None,
            info: None,
            attempt: 0,
            retry_at: None,
            events: VecDeque::new(),
            shut: false,
            buf: vec![0u8; 16 * 1024],
        };
        client.take_connection_events(&mut conn, false);
        client.link = Some(Link { stream, conn });
        Ok(client)
    }

    /// What the current (or last) connection negotiated.
    pub fn tls_info(&self) -> Option<&TlsInfo> {
        self.info.as_ref()
    }

    /// True while a connection is up.
    pub fn is_connected(&self) -> bool {
        self.link.is_some()
    }

    /// The connector (domain, policy, verifier).
    pub fn connector(&self) -> &Connector {
        &self.connector
    }

    /// The local address of the current connection (for a Contact / Via).
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.link.as_ref().and_then(|l| l.stream.local_addr().ok())
    }

    /// Sends one SIP message. Fails with [`Error::NotConnected`] while the
    /// connection is down (the caller retries after [`ClientEvent::Reconnected`]).
    pub fn send(&mut self, message: &Message) -> Result<(), Error> {
        let Some(link) = self.link.as_mut() else {
            return Err(Error::NotConnected);
        };
        let result = link.conn.send(message).and_then(|()| {
            link.conn
                .write_tls_to(&mut link.stream)
                .map(drop)
                .map_err(Error::Io)
        });
        if let Err(e) = &result {
            self.lose(e);
        }
        result
    }

    /// Waits up to `timeout` for the next event, running keep-alive and
    /// reconnects meanwhile. `None` when nothing happened in time (or after
    /// [`Client::close`]). A reconnect attempt in progress may overrun
    /// `timeout` by up to the connect plus handshake timeouts.
    pub fn recv(&mut self, timeout: Duration) -> Option<ClientEvent> {
        let deadline = crate::client::deadline_after(timeout);
        let mut buf = std::mem::take(&mut self.buf);
        if buf.len() < 16 * 1024 {
            buf.resize(16 * 1024, 0);
        }
        let event = self.recv_with(deadline, &mut buf);
        self.buf = buf;
        event
    }

    fn recv_with(&mut self, deadline: Instant, buf: &mut [u8]) -> Option<ClientEvent> {
        // Bounded by the deadline: each round blocks until data, a timer or the deadline.
        loop {
            if let Some(event) = self.events.pop_front() {
                return Some(event);
            }
            let now = Instant::now();
            if self.shut || now >= deadline {
                return None;
            }
            if self.link.is_none() {
                match self.retry_at {
                    Some(at) if at <= now => self.reconnect(),
                    Some(at) => std::thread::sleep(at.min(deadline).saturating_duration_since(now)),
                    None => std::thread::sleep(deadline.saturating_duration_since(now)),
                }
                continue;
            }
            let step = self.step(now, deadline, buf);
            if let Err(error) = step {
                self.lose(&error);
            }
        }
    }

    fn step(&mut self, now: Instant, deadline: Instant, buf: &mut [u8]) -> Result<(), Error> {
        let Some(link) = self.link.as_mut() else {
            return Ok(());
        };
        if let Err(e) = link.conn.handle_timeout(now) {
            if matches!(e, Error::KeepAliveTimeout { .. }) {
                self.events.push_back(ClientEvent::KeepAliveFailed);
            }
            return Err(e);
        }
        link.conn
            .write_tls_to(&mut link.stream)
            .map_err(Error::Io)?;
        let wake = link
            .conn
            .poll_timeout()
            .map_or(deadline, |t| t.min(deadline));
        let wait = wake
            .saturating_duration_since(now)
            .max(Duration::from_millis(1));
        link.stream
            .set_read_timeout(Some(wait))
            .map_err(Error::Io)?;
        let result = match link.stream.read(buf) {
            Ok(0) => link.conn.handle_eof(Instant::now()),
            Ok(n) => link
                .conn
                .handle_input(buf.get(..n).unwrap_or_default(), Instant::now()),
            Err(e) if is_timeout(&e) => Ok(()),
            Err(e) => Err(Error::Io(e)),
        };
        let _ = link.conn.write_tls_to(&mut link.stream);
        let mut conn_events = Vec::new();
        while let Some(ev) = link.conn.poll_event() {
            conn_events.push(ev);
        }
        let mut closed = false;
        for ev in conn_events {
            match ev {
                ConnectionEvent::Message(m) => self.events.push_back(ClientEvent::Message(m)),
                ConnectionEvent::PongReceived => {
                    self.events.push_back(ClientEvent::KeepAliveAnswered)
                }
                ConnectionEvent::Closed => closed = true,
                ConnectionEvent::Connected(info) => self.info = Some(info),
                ConnectionEvent::PingAnswered => {}
            }
        }
        result?;
        if closed {
            return Err(Error::Closed);
        }
        Ok(())
    }

    fn take_connection_events(&mut self, conn: &mut SipTlsConnection, reconnected: bool) {
        while let Some(ev) = conn.poll_event() {
            match ev {
                ConnectionEvent::Connected(info) => {
                    self.info = Some(info.clone());
                    if reconnected {
                        self.events.push_back(ClientEvent::Reconnected(info));
                    }
                }
                ConnectionEvent::Message(m) => self.events.push_back(ClientEvent::Message(m)),
                ConnectionEvent::PongReceived => {
                    self.events.push_back(ClientEvent::KeepAliveAnswered)
                }
                ConnectionEvent::PingAnswered | ConnectionEvent::Closed => {}
            }
        }
    }

    fn lose(&mut self, error: &Error) {
        let reason = error.to_string();
        let diagnosis = error.diagnosis().cloned();
        if let Some(mut link) = self.link.take() {
            let _ = link.conn.write_tls_to(&mut link.stream);
            let _ = link.stream.shutdown(std::net::Shutdown::Both);
        }
        log::warn!("SIP TLS connection to {} lost: {reason}", self.server);
        let retry_in = self.schedule_retry();
        self.events.push_back(ClientEvent::Disconnected {
            reason,
            diagnosis,
            retry_in,
        });
    }

    fn schedule_retry(&mut self) -> Option<Duration> {
        let backoff = self.options.reconnect?;
        if self.shut {
            return None;
        }
        let delay = backoff.delay(self.attempt, random_u32());
        self.retry_at = Some(deadline_after(delay));
        Some(delay)
    }

    fn reconnect(&mut self) {
        self.retry_at = None;
        self.attempt = self.attempt.saturating_add(1);
        match establish(
            &self.connector,
            &self.server,
            self.options.connect_timeout,
            self.options.connection,
        ) {
            Ok((stream, mut conn)) => {
                log::info!("SIP TLS connection to {} re-established", self.server);
                self.attempt = 0;
                self.take_connection_events(&mut conn, true);
                self.link = Some(Link { stream, conn });
            }
            Err(e) => {
                let diagnosis = match e {
                    Error::Handshake(d) => *d,
                    other => HandshakeDiagnosis::Protocol {
                        detail: other.to_string(),
                    },
                };
                log::warn!("reconnect to {} failed: {diagnosis}", self.server);
                let retry_in = self.schedule_retry().unwrap_or_default();
                self.events.push_back(ClientEvent::ReconnectFailed {
                    attempt: self.attempt,
                    diagnosis,
                    retry_in,
                });
            }
        }
    }

    /// Closes cleanly (close_notify) and stops reconnecting.
    pub fn close(&mut self) {
        self.shut = true;
        self.retry_at = None;
        if let Some(mut link) = self.link.take() {
            link.conn.close();
            let _ = link.conn.write_tls_to(&mut link.stream);
            let _ = link.stream.shutdown(std::net::Shutdown::Both);
        }
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.close();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_caps_and_jitters_downwards() {
        let b = Backoff::default();
        assert_eq!(b.delay(0, 0), Duration::from_secs(1));
        assert_eq!(b.delay(3, 0), Duration::from_secs(8));
        assert_eq!(b.delay(30, 0), Duration::from_secs(60));
        assert_eq!(b.delay(1, u32::MAX), Duration::from_secs(1));
        let d = b.delay(2, u32::MAX / 2);
        assert!(
            d > Duration::from_secs(2) && d < Duration::from_secs(4),
            "{d:?}"
        );
    }
}
