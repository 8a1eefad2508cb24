//! The device's signaling link to its proxy: SIP over TLS (the default,
//! [`sigil_sip_tls::Client`]), or plain TCP or UDP when `sip.transport` says
//! so. Plain links encrypt nothing; with them the SRTP negotiator keeps SDES
//! keys out of the SDP unless `sip.srtp.insecure_signaling = 1` (SPEC M2).

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, UdpSocket};
use std::time::{Duration, Instant};

use sigil_sip::{suppressed_note, Framer, FramerEvent, Limits, Message, WarnLimiter};
use sigil_sip_tls::{Client, ClientEvent, TlsInfo};

/// How long a plain TCP connect may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A write blocked this long (the proxy stopped reading) loses the connection.
const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// First and longest wait between TCP reconnect attempts.
const BACKOFF_FIRST: Duration = Duration::from_secs(1);
const BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Largest UDP datagram read.
const MAX_DATAGRAM: usize = 65_535;

/// What the link reports.
#[derive(Debug)]
pub(crate) enum LinkEvent {
    /// A SIP message from the proxy.
    Message(Message),
    /// The connection was lost; reconnecting in `retry_in` when known.
    Lost {
        reason: String,
        retry_in: Option<Duration>,
    },
    /// A reconnect attempt failed.
    ReconnectFailed(String),
    /// The connection is back (with the TLS details for TLS): register again.
    Back(Option<Box<TlsInfo>>),
    /// No answer to a keep-alive ping.
    KeepAliveFailed,
}

/// A plain TCP connection with Content-Length framing, reconnecting with backoff.
pub(crate) struct TcpLink {
    server: SocketAddr,
    stream: Option<TcpStream>,
    framer: Framer,
    retry_at: Option<Instant>,
    backoff: Duration,
    garbage_warnings: WarnLimiter,
}

/// A UDP socket "connected" to the proxy.
pub(crate) struct UdpLink {
    socket: UdpSocket,
    garbage_warnings: WarnLimiter,
}

/// The signaling link.
pub(crate) enum Link {
    Tls(Box<Client>),
    Tcp(TcpLink),
    Udp(UdpLink),
}

fn connect_tcp(server: SocketAddr) -> std::io::Result<TcpStream> {
    let s = TcpStream::connect_timeout(&server, CONNECT_TIMEOUT)?;
    s.set_nodelay(true)?;
    s.set_write_timeout(Some(WRITE_TIMEOUT))?;
    Ok(s)
}

impl Link {
    /// A plain TCP link to `server`.
    pub(crate) fn tcp(server: SocketAddr) -> std::io::Result<Link> {
        let stream = connect_tcp(server)?;
        Ok(Link::Tcp(TcpLink {
            server,
            stream: Some(stream),
            framer: Framer::with_limits(Limits::default(), sigil_sip::KeepAliveRole::Client),
            retry_at: None,
            backoff: BACKOFF_FIRST,
            garbage_warnings: WarnLimiter::default(),
        }))
    }

    /// A UDP link to `server`.
    pub(crate) fn udp(server: SocketAddr) -> std::io::Result<Link> {
        let bind: SocketAddr = if server.is_ipv4() {
            ([0, 0, 0, 0], 0).into()
        } else {
            (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
        };
        let socket = UdpSocket::bind(bind)?;
        socket.connect(server)?;
        Ok(Link::Udp(UdpLink {
            socket,
            garbage_warnings: WarnLimiter::default(),
        }))
    }

    /// `TLS`, `TCP` or `UDP` (for Via).
    pub(crate) fn transport(&self) -> &'static str {
        match self {
            Link::Tls(_) => "TLS",
            Link::Tcp(_) => "TCP",
            Link::Udp(_) => "UDP",
        }
    }

    /// Whether the transport is reliable (no SIP retransmissions).
    pub(crate) fn reliable(&self) -> bool {
        !matches!(self, Link::Udp(_))
    }

    /// The local address (for Contact and Via).
    pub(crate) fn local_addr(&self) -> Option<SocketAddr> {
        match self {
            Link::Tls(c) => c.local_addr(),
            Link::Tcp(t) => t.stream.as_ref().and_then(|s| s.local_addr().ok()),
            Link::Udp(u) => u.socket.local_addr().ok(),
        }
    }

    /// Sends one message.
    pub(crate) fn send(&mut self, message: &Message) -> Result<(), String> {
        match self {
            Link::Tls(c) => c.send(message).map_err(|e| e.to_string()),
            Link::Tcp(t) => {
                let Some(s) = t.stream.as_mut() else {
                    return Err("not connected".into());
                };
                s.write_all(&message.to_bytes()).map_err(|e| e.to_string())
            }
            Link::Udp(u) => u
                .socket
                .send(&message.to_bytes())
                .map(drop)
                .map_err(|e| e.to_string()),
        }
    }

    /// Waits up to `timeout` for something to report.
    pub(crate) fn recv(&mut self, timeout: Duration) -> Option<LinkEvent> {
        match self {
            Link::Tls(c) => match c.recv(timeout)? {
                ClientEvent::Message(m) => Some(LinkEvent::Message(m)),
                ClientEvent::Disconnected {
                    reason, retry_in, ..
                } => Some(LinkEvent::Lost { reason, retry_in }),
                ClientEvent::ReconnectFailed {
                    attempt,
                    diagnosis,
                    retry_in,
                } => Some(LinkEvent::ReconnectFailed(format!(
                    "attempt {attempt}: {diagnosis}; retry in {retry_in:?}"
                ))),
                ClientEvent::Reconnected(info) => Some(LinkEvent::Back(Some(Box::new(info)))),
                ClientEvent::KeepAliveFailed => Some(LinkEvent::KeepAliveFailed),
                ClientEvent::KeepAliveAnswered => None,
            },
            Link::Tcp(t) => t.recv(timeout),
            Link::Udp(u) => u.recv(timeout),
        }
    }

    /// Closes the link.
    pub(crate) fn close(&mut self) {
        match self {
            Link::Tls(c) => c.close(),
            Link::Tcp(t) => {
                if let Some(s) = t.stream.take() {
                    let _ = s.shutdown(std::net::Shutdown::Both);
                }
            }
            Link::Udp(_) => {}
        }
    }
}

impl TcpLink {
    fn lose(&mut self, reason: String) -> Option<LinkEvent> {
        self.stream = None;
        self.framer = Framer::with_limits(Limits::default(), sigil_sip::KeepAliveRole::Client);
        self.retry_at = Some(Instant::now() + self.backoff);
        Some(LinkEvent::Lost {
            reason,
            retry_in: Some(self.backoff),
        })
    }

    fn recv(&mut self, timeout: Duration) -> Option<LinkEvent> {
        // Messages already framed come first.
        while let Some(ev) = self.framer.poll() {
            match ev {
                Ok(FramerEvent::Message(m)) => return Some(LinkEvent::Message(m)),
                Ok(FramerEvent::Ping) => {
                    if let Some(s) = self.stream.as_mut() {
                        let _ = s.write_all(b"\r\n");
                    }
                }
                Ok(FramerEvent::Pong) => {}
                Err(e) if e.can_continue() => {
                    if let Some(n) = self.garbage_warnings.admit(Instant::now()) {
                        log::warn!("SIP over TCP: {e}; message dropped{}", suppressed_note(n));
                    }
                }
                Err(e) => return self.lose(format!("SIP framing error: {e}")),
            }
        }
        let Some(stream) = self.stream.as_mut() else {
            let due = self.retry_at.unwrap_or_else(Instant::now);
            let now = Instant::now();
            if now < due {
                std::thread::sleep((due - now).min(timeout));
                return None;
            }
            return match connect_tcp(self.server) {
                Ok(s) => {
                    self.stream = Some(s);
                    self.retry_at = None;
                    self.backoff = BACKOFF_FIRST;
                    Some(LinkEvent::Back(None))
                }
                Err(e) => {
                    let retry = self.backoff;
                    self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
                    self.retry_at = Some(Instant::now() + self.backoff);
                    Some(LinkEvent::ReconnectFailed(format!(
                        "TCP connect to {}: {e}; retry in {retry:?}",
                        self.server
                    )))
                }
            };
        };
        let _ = stream.set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        let mut buf = [0u8; 8192];
        match stream.read(&mut buf) {
            Ok(0) => self.lose("the proxy closed the connection".into()),
            Ok(n) => {
                self.framer.push(buf.get(..n).unwrap_or_default());
                None
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => self.lose(e.to_string()),
        }
    }
}

impl UdpLink {
    fn recv(&mut self, timeout: Duration) -> Option<LinkEvent> {
        let _ = self
            .socket
            .set_read_timeout(Some(timeout.max(Duration::from_millis(1))));
        let mut buf = vec![0u8; MAX_DATAGRAM];
        match self.socket.recv(&mut buf) {
            Ok(n) => {
                let data = buf.get(..n).unwrap_or_default();
                if data.iter().all(|b| matches!(b, b'\r' | b'\n')) {
                    return None; // keep-alive
                }
                match sigil_sip::parse(data) {
                    Ok(m) => Some(LinkEvent::Message(m)),
                    Err(e) => {
                        if let Some(k) = self.garbage_warnings.admit(Instant::now()) {
                            log::warn!(
                                "SIP over UDP: malformed datagram of {n} bytes dropped: {e}{}",
                                suppressed_note(k)
                            );
                        }
                        None
                    }
                }
            }
            // ICMP port unreachable shows up as ConnectionRefused on a connected socket.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => None,
            Err(_) => None,
        }
    }
}
