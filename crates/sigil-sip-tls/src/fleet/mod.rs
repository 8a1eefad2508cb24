//! The fleet acceptor (feature `tokio`): SIP over TLS for thousands of
//! devices on one tokio runtime, each accepted by its factory certificate.
//!
//! [`FleetListener::bind`] listens and accepts in a task of its own; every
//! TCP connection gets a task for its mutual-TLS handshake (the
//! [`Acceptor`]'s [`ClientAuth`](crate::ClientAuth), typically
//! `Required(DeviceVerifier)`), and the verified ones come out of
//! [`FleetListener::accept`] as [`DeviceConnection`]s: the device's MAC and
//! certificate ([`DeviceConnection::peer`]) and its SIP message stream
//! ([`DeviceConnection::next_message`], framed by the same
//! [`sigil_sip::Framer`] as everywhere else), with RFC 5626 keep-alive pings
//! answered inside. [`FleetLimits`] bounds what a device — or anything else
//! that connects — can hold: the handshake time, the idle time, connections
//! per source address and in total, and the size of a message.
//!
//! The connection is the same sans-IO [`crate::SipTlsConnection`] the
//! blocking drivers run, driven here by socket readiness: an idle
//! connection keeps no read buffer of its own and no timer but its idle
//! deadline.
//!
//! ```no_run
//! # async fn serve(acceptor: sigil_sip_tls::Acceptor) -> std::io::Result<()> {
//! use sigil_sip_tls::fleet::{FleetLimits, FleetListener};
//! let mut listener =
//!     FleetListener::bind("127.0.0.1:5061".parse().unwrap(), acceptor, FleetLimits::default())
//!         .await?;
//! while let Some(mut device) = listener.accept().await {
//!     tokio::spawn(async move {
//!         while let Ok(Some(message)) = device.next_message().await {
//!             // answer `message` with `device.send(&reply).await`
//!             let _ = message;
//!         }
//!     });
//! }
//! # Ok(())
//! # }
//! ```

mod connection;
mod io;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use sigil_sip::Limits;
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use crate::acceptor::Acceptor;
use crate::diagnosis::HandshakeDiagnosis;

pub use connection::DeviceConnection;

/// What one listener lets connections hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetLimits {
    /// The TLS handshake must complete within this time, so a client that
    /// stalls mid-handshake holds its slot no longer.
    pub handshake_timeout: Duration,
    /// A connection with no traffic for this long is closed (devices ping
    /// every 30–120 s; RFC 5626 suggests 95–120 s on TCP).
    pub idle_timeout: Duration,
    /// Most simultaneous connections (handshaking or verified) from one IP address.
    pub max_per_source: usize,
    /// Most simultaneous connections in total; more are closed as they arrive.
    pub max_connections: usize,
    /// How long one write may wait for a peer that does not read.
    pub write_timeout: Duration,
    /// How many connections the kernel queues until they are accepted
    /// (`listen(2)` backlog, capped by `net.core.somaxconn`). The usual 128
    /// overflows when a fleet reconnects at once, and every dropped SYN
    /// costs that device a one-second retransmission.
    pub accept_backlog: u32,
    /// Limits of the SIP framer: the largest header block and body, so the
    /// largest message a device can make us buffer.
    pub sip: Limits,
}

impl Default for FleetLimits {
    /// Handshake within 10 s, 5 minutes idle, 64 connections per address,
    /// 20 000 in total, writes blocked for 5 s fail, a backlog of 4096,
    /// 16 KiB header block and 64 KiB body (a REGISTER is well under 2 KiB).
    fn default() -> Self {
        FleetLimits {
            handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            max_per_source: 64,
            max_connections: 20_000,
            write_timeout: Duration::from_secs(5),
            accept_backlog: 4096,
            sip: Limits {
                max_headers: 64,
                max_line_len: 8 * 1024,
                max_head_len: 16 * 1024,
                max_body_len: 64 * 1024,
            },
        }
    }
}

/// Counters of a listener since it started ([`FleetListener::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FleetStats {
    /// TCP connections accepted.
    pub accepted: u64,
    /// Handshakes completed with a verified device.
    pub verified: u64,
    /// Handshakes refused (no certificate, unknown vendor, not TLS, old TLS…).
    pub refused: u64,
    /// Handshakes that did not complete within [`FleetLimits::handshake_timeout`].
    pub handshake_timeouts: u64,
    /// Connections closed at once because [`FleetLimits::max_connections`] was reached.
    pub over_capacity: u64,
    /// Connections closed at once because their address had [`FleetLimits::max_per_source`].
    pub over_source_limit: u64,
    /// Verified connections closed after [`FleetLimits::idle_timeout`] without traffic.
    pub idle_closed: u64,
    /// Verified connections closed for a framing error (a message over the
    /// limits without Content-Length, or garbage).
    pub framing_closed: u64,
    /// Connections open now (handshaking or verified).
    pub active: u64,
}

/// Reports a refused handshake: the client's address and why.
pub type RefusalReporter = Arc<dyn Fn(SocketAddr, &HandshakeDiagnosis) + Send + Sync>;

/// State shared by the accept task, the handshake tasks and the connections.
struct Shared {
    limits: FleetLimits,
    acceptor: Acceptor,
    on_refused: Option<RefusalReporter>,
    active: AtomicUsize,
    per_source: Mutex<HashMap<IpAddr, usize>>,
    accepted: AtomicU64,
    verified: AtomicU64,
    refused: AtomicU64,
    handshake_timeouts: AtomicU64,
    over_capacity: AtomicU64,
    over_source_limit: AtomicU64,
    idle_closed: AtomicU64,
    framing_closed: AtomicU64,
}

impl Shared {
    /// A slot for a connection from `ip`, or `None` over a limit (counted).
    fn admit(self: &Arc<Self>, ip: IpAddr) -> Option<Slot> {
        if self.active.load(Ordering::Relaxed) >= self.limits.max_connections {
            self.over_capacity.fetch_add(1, Ordering::Relaxed);
            return None;
        }
        {
            let Ok(mut map) = self.per_source.lock() else {
                return None;
            };
            let n = map.entry(ip).or_insert(0);
            if *n >= self.limits.max_per_source {
                self.over_source_limit.fetch_add(1, Ordering::Relaxed);
                return None;
            }
            *n += 1;
        }
        self.active.fetch_add(1, Ordering::Relaxed);
        Some(Slot {
            shared: self.clone(),
            ip,
        })
    }

    fn count(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }
}

/// One admitted connection; gives its place back when dropped.
struct Slot {
    shared: Arc<Shared>,
    ip: IpAddr,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.shared.active.fetch_sub(1, Ordering::Relaxed);
        if let Ok(mut map) = self.shared.per_source.lock() {
            if let Some(n) = map.get_mut(&self.ip) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    map.remove(&self.ip);
                }
            }
        }
    }
}

/// A listening socket accepting devices; see the [module documentation](self).
/// Dropping it stops accepting; connections already handed out live on.
pub struct FleetListener {
    verified: mpsc::Receiver<DeviceConnection>,
    shared: Arc<Shared>,
    local_addr: SocketAddr,
    accept_task: JoinHandle<()>,
}

impl std::fmt::Debug for FleetListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FleetListener")
            .field("local_addr", &self.local_addr)
            .field("limits", &self.shared.limits)
            .finish_non_exhaustive()
    }
}

/// How many verified connections may wait for [`FleetListener::accept`];
/// handshakes finishing beyond that wait for room (back-pressure).
const QUEUE: usize = 1024;
/// How long the accept task waits before trying again after accept failed
/// (out of file descriptors, say). Only the error path waits on a timer.
const ACCEPT_RETRY: Duration = Duration::from_millis(50);

impl FleetListener {
    /// Listens on `addr` and starts accepting, on the current tokio runtime
    /// (call it inside one).
    pub async fn bind(
        addr: SocketAddr,
        acceptor: Acceptor,
        limits: FleetLimits,
    ) -> std::io::Result<FleetListener> {
        FleetListener::bind_reporting(addr, acceptor, limits, None).await
    }

    /// [`FleetListener::bind`], telling `on_refused` about every refused handshake.
    pub async fn bind_reporting(
        addr: SocketAddr,
        acceptor: Acceptor,
        limits: FleetLimits,
        on_refused: Option<RefusalReporter>,
    ) -> std::io::Result<FleetListener> {
        let socket = match addr {
            SocketAddr::V4(_) => TcpSocket::new_v4()?,
            SocketAddr::V6(_) => TcpSocket::new_v6()?,
        };
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        let listener = socket.listen(limits.accept_backlog)?;
        let local_addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            limits,
            acceptor,
            on_refused,
            active: AtomicUsize::new(0),
            per_source: Mutex::new(HashMap::new()),
            accepted: AtomicU64::new(0),
            verified: AtomicU64::new(0),
            refused: AtomicU64::new(0),
            handshake_timeouts: AtomicU64::new(0),
            over_capacity: AtomicU64::new(0),
            over_source_limit: AtomicU64::new(0),
            idle_closed: AtomicU64::new(0),
            framing_closed: AtomicU64::new(0),
        });
        let (tx, verified) = mpsc::channel(QUEUE);
        let accept_task = tokio::spawn(accept_loop(listener, shared.clone(), tx));
        Ok(FleetListener {
            verified,
            shared,
            local_addr,
            accept_task,
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// The limits in force.
    pub fn limits(&self) -> &FleetLimits {
        &self.shared.limits
    }

    /// The next verified device connection; `None` once the listener failed.
    pub async fn accept(&mut self) -> Option<DeviceConnection> {
        self.verified.recv().await
    }

    /// What happened so far.
    pub fn stats(&self) -> FleetStats {
        let s = &self.shared;
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        FleetStats {
            accepted: get(&s.accepted),
            verified: get(&s.verified),
            refused: get(&s.refused),
            handshake_timeouts: get(&s.handshake_timeouts),
            over_capacity: get(&s.over_capacity),
            over_source_limit: get(&s.over_source_limit),
            idle_closed: get(&s.idle_closed),
            framing_closed: get(&s.framing_closed),
            active: s.active.load(Ordering::Relaxed) as u64,
        }
    }
}

impl Drop for FleetListener {
    fn drop(&mut self) {
        self.accept_task.abort();
    }
}

/// Accepts until the listener is dropped; one handshake task per admitted connection.
async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    verified: mpsc::Sender<DeviceConnection>,
) {
    loop {
        let (stream, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                log::warn!("accept failed: {e}");
                tokio::time::sleep(ACCEPT_RETRY).await;
                continue;
            }
        };
        Shared::count(&shared.accepted);
        let Some(slot) = shared.admit(addr.ip()) else {
            drop(stream);
            continue;
        };
        let shared = shared.clone();
        let verified = verified.clone();
        tokio::spawn(async move {
            if let Some(conn) = handshake(stream, addr, &shared, slot).await {
                // The receiver is gone only when the listener was dropped.
                let _ = verified.send(conn).await;
            }
        });
    }
}

/// Runs the handshake of one connection; `None` when it was refused or timed out (counted).
async fn handshake(
    stream: TcpStream,
    addr: SocketAddr,
    shared: &Arc<Shared>,
    slot: Slot,
) -> Option<DeviceConnection> {
    let _ = stream.set_nodelay(true);
    match DeviceConnection::handshake(stream, addr, shared, slot).await {
        Ok(conn) => {
            Shared::count(&shared.verified);
            Some(conn)
        }
        Err(diagnosis) => {
            match &diagnosis {
                HandshakeDiagnosis::HandshakeTimeout { .. } => {
                    Shared::count(&shared.handshake_timeouts)
                }
                _ => Shared::count(&shared.refused),
            }
            log::debug!("{addr}: handshake refused: {diagnosis}");
            if let Some(report) = &shared.on_refused {
                report(addr, &diagnosis);
            }
            None
        }
    }
}
