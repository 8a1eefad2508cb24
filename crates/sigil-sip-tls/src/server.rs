//! The blocking `std::net` server driver: an accept loop and one thread per
//! connection (never per message), each running a [`SipTlsConnection`](crate::SipTlsConnection).

use std::io::Read;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use sigil_sip::Message;

use crate::acceptor::Acceptor;
use crate::connection::{ConnectionEvent, ConnectionSettings, TlsInfo};
use crate::diagnosis::HandshakeDiagnosis;
use crate::error::Error;

/// The peer of a server connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerInfo {
    /// The client's address.
    pub addr: SocketAddr,
    /// What the handshake negotiated; `peer_device` names the device (MAC, fingerprint).
    pub tls: TlsInfo,
}

/// What a server does with its connections. Methods are called from the
/// connection's thread; implementations share state behind their own locks.
pub trait Handler: Send + Sync + 'static {
    /// A client completed the handshake.
    fn on_connect(&self, peer: &PeerInfo) {
        let _ = peer;
    }
    /// A SIP message arrived; return the messages to send back on the same connection.
    fn on_message(&self, peer: &PeerInfo, message: Message) -> Vec<Message>;
    /// A handshake failed (no certificate, refused certificate, old TLS, timeout…).
    fn on_refused(&self, addr: SocketAddr, diagnosis: &HandshakeDiagnosis) {
        let _ = (addr, diagnosis);
    }
    /// A connection ended (`reason` is `None` for a clean close).
    fn on_close(&self, peer: &PeerInfo, reason: Option<&str>) {
        let _ = (peer, reason);
    }
}

/// Settings of the blocking server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerOptions {
    /// Handshake timeout and SIP limits of each connection.
    pub connection: ConnectionSettings,
    /// Most simultaneous connections; more are closed at once.
    pub max_connections: usize,
    /// A connection with no traffic for this long is closed (devices ping every 30–120 s).
    pub idle_timeout: Duration,
}

impl Default for ServerOptions {
    /// Handshake within 10 s, 256 connections, 5 minutes idle.
    fn default() -> Self {
        ServerOptions {
            connection: ConnectionSettings {
                keepalive_interval: None,
                ..ConnectionSettings::default()
            },
            max_connections: 256,
            idle_timeout: Duration::from_secs(300),
        }
    }
}

/// Stops a running [`Server`] from another thread.
#[derive(Debug, Clone)]
pub struct ShutdownHandle {
    stop: Arc<AtomicBool>,
    waker: Arc<mio::Waker>,
}

impl ShutdownHandle {
    /// Asks the server to stop: the accept loop ends at once and every
    /// connection is closed with close_notify within about 100 ms.
    pub fn shutdown(&self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Err(e) = self.waker.wake() {
            log::warn!("cannot wake the accept loop: {e}");
        }
    }
}

/// A blocking SIP-over-TLS server: an accept loop and one thread per
/// connection (never per message), each running a [`crate::SipTlsConnection`]
/// and handing messages to a [`Handler`]. Stop it with a [`ShutdownHandle`].
///
/// The accept loop sleeps in the operating system's readiness wait (epoll,
/// kqueue) until a client connects or [`ShutdownHandle::shutdown`] wakes it:
/// no timer tick delays a handshake.
#[derive(Debug)]
pub struct Server {
    listener: mio::net::TcpListener,
    poll: mio::Poll,
    acceptor: Acceptor,
    options: ServerOptions,
    stop: Arc<AtomicBool>,
    waker: Arc<mio::Waker>,
}

/// How often connection threads look at the stop flag.
const POLL: Duration = Duration::from_millis(50);
/// How long the accept loop waits before trying again after accept failed
/// (out of file descriptors, say), since no new readiness event may come.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);
/// Most connections taken per wake-up before looking at the stop flag again.
const ACCEPT_BATCH: usize = 1024;

const LISTENER: mio::Token = mio::Token(0);
const WAKER: mio::Token = mio::Token(1);

impl Server {
    /// Listens on `addr` (e.g. `127.0.0.1:5061`).
    pub fn bind(
        addr: SocketAddr,
        acceptor: Acceptor,
        options: ServerOptions,
    ) -> std::io::Result<Server> {
        let listener = TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let mut listener = mio::net::TcpListener::from_std(listener);
        let poll = mio::Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, mio::Interest::READABLE)?;
        let waker = Arc::new(mio::Waker::new(poll.registry(), WAKER)?);
        Ok(Server {
            listener,
            poll,
            acceptor,
            options,
            stop: Arc::new(AtomicBool::new(false)),
            waker,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> std::io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// A handle to stop [`Server::run`] from another thread.
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle {
            stop: self.stop.clone(),
            waker: self.waker.clone(),
        }
    }

    /// Accepts connections until shut down, then waits for their threads.
    pub fn run(mut self, handler: Arc<dyn Handler>) -> std::io::Result<()> {
        let active = Arc::new(AtomicUsize::new(0));
        let mut threads: Vec<std::thread::JoinHandle<()>> = Vec::new();
        let mut events = mio::Events::with_capacity(8);
        // `None`: sleep until readiness; `Some(0)`: more may be waiting;
        // `Some(ACCEPT_RETRY)`: accept failed, try again a little later.
        let mut timeout: Option<Duration> = None;
        while !self.stop.load(Ordering::SeqCst) {
            threads.retain(|t| !t.is_finished());
            match self.poll.poll(&mut events, timeout) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            // Readiness is edge-triggered: take every waiting connection.
            timeout = Some(Duration::ZERO);
            for _ in 0..ACCEPT_BATCH {
                if self.stop.load(Ordering::SeqCst) {
                    break;
                }
                match self.listener.accept() {
                    Ok((stream, addr)) => {
                        let stream = TcpStream::from(stream);
                        if let Some(t) = self.spawn(stream, addr, &active, &handler) {
                            threads.push(t);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        timeout = None;
                        break;
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                    Err(e) => {
                        log::warn!("accept failed: {e}");
                        timeout = Some(ACCEPT_RETRY);
                        break;
                    }
                }
            }
        }
        for t in threads {
            let _ = t.join();
        }
        Ok(())
    }

    /// One thread for one accepted connection (or none, over the cap).
    fn spawn(
        &self,
        stream: TcpStream,
        addr: SocketAddr,
        active: &Arc<AtomicUsize>,
        handler: &Arc<dyn Handler>,
    ) -> Option<std::thread::JoinHandle<()>> {
        if active.load(Ordering::SeqCst) >= self.options.max_connections {
            log::warn!(
                "refusing {addr}: {} connections already",
                self.options.max_connections
            );
            return None;
        }
        active.fetch_add(1, Ordering::SeqCst);
        let acceptor = self.acceptor.clone();
        let options = self.options;
        let handler = handler.clone();
        let stop = self.stop.clone();
        let counter = active.clone();
        let spawned = std::thread::Builder::new()
            .name(format!("sip-tls {addr}"))
            .spawn(move || {
                serve_connection(stream, addr, &acceptor, options, &*handler, &stop);
                counter.fetch_sub(1, Ordering::SeqCst);
            });
        match spawned {
            Ok(t) => Some(t),
            Err(e) => {
                active.fetch_sub(1, Ordering::SeqCst);
                log::error!("cannot start a thread for {addr}: {e}");
                None
            }
        }
    }
}

fn serve_connection(
    mut stream: TcpStream,
    addr: SocketAddr,
    acceptor: &Acceptor,
    options: ServerOptions,
    handler: &dyn Handler,
    stop: &AtomicBool,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_nodelay(true);
    // A client that stops reading costs its connection, not this thread forever.
    if let Err(e) = stream.set_write_timeout(Some(
        options
            .connection
            .write_timeout
            .max(Duration::from_millis(1)),
    )) {
        log::warn!("{addr}: cannot set a write timeout: {e}");
        return;
    }
    let mut conn = match acceptor.connection(Instant::now(), options.connection) {
        Ok(c) => c,
        Err(e) => {
            log::error!("{addr}: {e}");
            return;
        }
    };
    let mut peer: Option<PeerInfo> = None;
    let mut buf = vec![0u8; 16 * 1024];
    let mut last_traffic = Instant::now();
    let mut reason: Option<String> = None;
    // Bounded: ends on close, error, idle timeout or shutdown.
    loop {
        let now = Instant::now();
        if stop.load(Ordering::SeqCst) {
            conn.close();
            let _ = conn.write_tls_to(&mut stream);
            reason = Some("server shutting down".into());
            break;
        }
        if now.duration_since(last_traffic) >= options.idle_timeout {
            conn.close();
            let _ = conn.write_tls_to(&mut stream);
            reason = Some("idle timeout".into());
            break;
        }
        let mut result = conn.handle_timeout(now);
        if result.is_ok() {
            let wait = conn
                .poll_timeout()
                .map_or(POLL, |t| t.saturating_duration_since(now))
                .clamp(Duration::from_millis(1), POLL);
            let _ = stream.set_read_timeout(Some(wait));
            result = match stream.read(&mut buf) {
                Ok(0) => conn.handle_eof(Instant::now()),
                Ok(n) => {
                    last_traffic = Instant::now();
                    conn.handle_input(buf.get(..n).unwrap_or_default(), last_traffic)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    Ok(())
                }
                Err(e) => Err(Error::Io(e)),
            };
        }
        let mut closed = false;
        while let Some(ev) = conn.poll_event() {
            match ev {
                ConnectionEvent::Connected(tls) => {
                    let p = PeerInfo { addr, tls };
                    handler.on_connect(&p);
                    peer = Some(p);
                }
                ConnectionEvent::Message(m) => {
                    if let Some(p) = &peer {
                        for reply in handler.on_message(p, m) {
                            if let Err(e) = conn.send(&reply) {
                                log::warn!("{addr}: cannot send: {e}");
                            }
                        }
                    }
                }
                ConnectionEvent::Closed => closed = true,
                ConnectionEvent::PongReceived | ConnectionEvent::PingAnswered => {}
            }
        }
        let flushed = conn.write_tls_to(&mut stream);
        if let Err(e) = result {
            match (&e, &peer) {
                (Error::Handshake(d), None) => {
                    log::warn!("{addr}: handshake refused: {d}");
                    handler.on_refused(addr, d);
                }
                _ => reason = Some(e.to_string()),
            }
            break;
        }
        if closed {
            break;
        }
        if let Err(e) = flushed {
            reason = Some(e.to_string());
            break;
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
    if let Some(p) = &peer {
        handler.on_close(p, reason.as_deref());
    }
}
