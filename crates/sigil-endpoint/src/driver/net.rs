//! The sockets of the blocking driver: non-blocking TCP streams with a
//! bounded write queue and a write deadline, UDP sockets, and the listener,
//! all registered with one `mio::Poll`.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, ToSocketAddrs};
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream, UdpSocket};
use mio::{Interest, Registry, Token};

use super::common::{
    self, connect_timed_out, first_address, is_would_block, write_failed, write_stalled,
    OwnedInput, ReadEnd, WriteQueue, CONNECT_TIMEOUT, DATAGRAM_MAX,
};
use crate::device::{ConnId, SocketId};

/// What the blocking driver reports to the device.
pub(crate) type Report = common::Report<TcpStream>;

/// Token of the listener.
pub(crate) const LISTENER: Token = Token(usize::MAX - 1);
/// Token of the waker (commands from other threads).
pub(crate) const WAKER: Token = Token(usize::MAX);

/// A stream connection.
pub(crate) struct Stream {
    socket: TcpStream,
    /// Still connecting: the deadline.
    connecting: Option<Instant>,
    queue: WriteQueue,
}

/// A UDP socket: media, or the SIP-over-UDP flow of a connection id.
pub(crate) struct Datagrams {
    socket: UdpSocket,
}

/// Every socket of the driver.
pub(crate) struct Net {
    pub(crate) streams: HashMap<ConnId, Stream>,
    pub(crate) flows: HashMap<ConnId, Datagrams>,
    pub(crate) sockets: HashMap<SocketId, Datagrams>,
    pub(crate) listener: Option<TcpListener>,
    pub(crate) write_timeout: Duration,
}

fn token(id: u64) -> Token {
    // Ids come from one counter in the device: unique across conns and sockets.
    Token(
        usize::try_from(id)
            .unwrap_or(usize::MAX - 2)
            .min(usize::MAX - 2),
    )
}

fn resolve(server: &str) -> Result<SocketAddr, String> {
    first_address(server, server.to_socket_addrs())
}

impl Net {
    pub(crate) fn new(write_timeout: Duration) -> Net {
        Net {
            streams: HashMap::new(),
            flows: HashMap::new(),
            sockets: HashMap::new(),
            listener: None,
            write_timeout,
        }
    }

    /// Which conn or socket a token names.
    pub(crate) fn owner(&self, t: Token) -> Option<Owner> {
        if t == LISTENER {
            return Some(Owner::Listener);
        }
        let id = t.0 as u64;
        if self.streams.contains_key(&ConnId(id)) {
            Some(Owner::Stream(ConnId(id)))
        } else if self.flows.contains_key(&ConnId(id)) {
            Some(Owner::Flow(ConnId(id)))
        } else if self.sockets.contains_key(&SocketId(id)) {
            Some(Owner::Socket(SocketId(id)))
        } else {
            None
        }
    }

    pub(crate) fn connect(
        &mut self,
        registry: &Registry,
        conn: ConnId,
        server: &str,
        udp: bool,
        now: Instant,
        out: &mut Vec<Report>,
    ) {
        let failed = |reason: String| Report::Input(OwnedInput::ConnectFailed { conn, reason });
        let addr = match resolve(server) {
            Ok(a) => a,
            Err(reason) => return out.push(failed(reason)),
        };
        if udp {
            let any: SocketAddr = if addr.is_ipv4() {
                ([0, 0, 0, 0], 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            let result = UdpSocket::bind(any).and_then(|mut s| {
                s.connect(addr)?;
                registry.register(&mut s, token(conn.0), Interest::READABLE)?;
                let local = s.local_addr()?;
                Ok((s, local))
            });
            match result {
                Ok((socket, local)) => {
                    self.flows.insert(conn, Datagrams { socket });
                    out.push(Report::Input(OwnedInput::Connected {
                        conn,
                        local,
                        peer: addr,
                    }));
                }
                Err(e) => out.push(failed(format!("UDP to {addr}: {e}"))),
            }
            return;
        }
        match TcpStream::connect(addr) {
            Ok(mut socket) => {
                if let Err(e) = registry.register(
                    &mut socket,
                    token(conn.0),
                    Interest::READABLE | Interest::WRITABLE,
                ) {
                    return out.push(failed(e.to_string()));
                }
                self.streams.insert(
                    conn,
                    Stream {
                        socket,
                        connecting: Some(sigil_sip::timer::deadline_after(now, CONNECT_TIMEOUT)),
                        queue: WriteQueue::default(),
                    },
                );
            }
            Err(e) => out.push(failed(format!("TCP connect to {addr}: {e}"))),
        }
    }

    /// An accepted connection the device took: register it.
    pub(crate) fn adopt(&mut self, registry: &Registry, conn: ConnId, mut socket: TcpStream) {
        let _ = socket.set_nodelay(true);
        if registry
            .register(
                &mut socket,
                token(conn.0),
                Interest::READABLE | Interest::WRITABLE,
            )
            .is_ok()
        {
            self.streams.insert(
                conn,
                Stream {
                    socket,
                    connecting: None,
                    queue: WriteQueue::default(),
                },
            );
        }
    }

    pub(crate) fn send(
        &mut self,
        registry: &Registry,
        conn: ConnId,
        data: &[u8],
        now: Instant,
        out: &mut Vec<Report>,
    ) {
        if let Some(flow) = self.flows.get(&conn) {
            if let Err(e) = flow.socket.send(data) {
                if !is_would_block(&e) {
                    log::debug!("{conn}: UDP send: {e}");
                }
            }
            return;
        }
        let Some(stream) = self.streams.get_mut(&conn) else {
            return;
        };
        if let Err(overflow) = stream.queue.push(conn, data) {
            self.drop_stream(registry, conn);
            out.push(Report::Input(overflow));
            return;
        }
        self.flush(registry, conn, now, out);
    }

    /// Writes what is queued for `conn` as far as the socket takes it.
    pub(crate) fn flush(
        &mut self,
        registry: &Registry,
        conn: ConnId,
        now: Instant,
        out: &mut Vec<Report>,
    ) {
        let Some(stream) = self.streams.get_mut(&conn) else {
            return;
        };
        if stream.connecting.is_some() {
            return;
        }
        let socket = &mut stream.socket;
        if let Err(e) = stream.queue.flush(now, |bytes| socket.write(bytes)) {
            self.drop_stream(registry, conn);
            out.push(Report::Input(write_failed(conn, &e)));
            return;
        }
        if stream.queue.finished() {
            self.drop_stream(registry, conn);
        }
    }

    /// Reads what a readable stream has (bounded: at most `max_reads` chunks;
    /// `true` when it may have more).
    pub(crate) fn read_stream(
        &mut self,
        registry: &Registry,
        conn: ConnId,
        max_reads: usize,
        out: &mut Vec<Report>,
    ) -> bool {
        let Some(stream) = self.streams.get_mut(&conn) else {
            return false;
        };
        if stream.connecting.is_some() {
            return false;
        }
        let socket = &mut stream.socket;
        match common::read_stream(conn, max_reads, |buf| socket.read(buf), out) {
            ReadEnd::Drained => false,
            ReadEnd::More => true,
            ReadEnd::Closed => {
                self.drop_stream(registry, conn);
                false
            }
        }
    }

    /// A connecting stream became writable: connected, or failed.
    pub(crate) fn check_connected(
        &mut self,
        registry: &Registry,
        conn: ConnId,
        out: &mut Vec<Report>,
    ) {
        let Some(stream) = self.streams.get_mut(&conn) else {
            return;
        };
        if stream.connecting.is_none() {
            return;
        }
        if let Ok(Some(e)) | Err(e) = stream.socket.take_error() {
            self.drop_stream(registry, conn);
            out.push(Report::Input(OwnedInput::ConnectFailed {
                conn,
                reason: format!("TCP connect: {e}"),
            }));
            return;
        }
        match (stream.socket.peer_addr(), stream.socket.local_addr()) {
            (Ok(peer), Ok(local)) => {
                stream.connecting = None;
                let _ = stream.socket.set_nodelay(true);
                out.push(Report::Input(OwnedInput::Connected { conn, local, peer }));
            }
            (Err(e), _) if e.kind() == std::io::ErrorKind::NotConnected => {}
            (Err(e), _) | (_, Err(e)) => {
                self.drop_stream(registry, conn);
                out.push(Report::Input(OwnedInput::ConnectFailed {
                    conn,
                    reason: format!("TCP connect: {e}"),
                }));
            }
        }
    }

    /// Reads every datagram waiting on a flow or socket (bounded).
    pub(crate) fn read_datagrams(
        &mut self,
        owner: Owner,
        max_reads: usize,
        out: &mut Vec<Report>,
    ) -> bool {
        let mut buf = vec![0u8; DATAGRAM_MAX];
        for _ in 0..max_reads {
            let got = match owner {
                Owner::Flow(conn) => match self.flows.get(&conn) {
                    Some(f) => f.socket.recv(&mut buf).map(|n| {
                        Report::Input(OwnedInput::Received {
                            conn,
                            data: buf[..n].to_vec(),
                        })
                    }),
                    None => return false,
                },
                Owner::Socket(socket) => match self.sockets.get(&socket) {
                    Some(s) => s.socket.recv_from(&mut buf).map(|(n, from)| {
                        Report::Input(OwnedInput::Datagram {
                            socket,
                            from,
                            data: buf[..n].to_vec(),
                        })
                    }),
                    None => return false,
                },
                _ => return false,
            };
            match got {
                Ok(report) => out.push(report),
                Err(e) if is_would_block(&e) => return false,
                // ICMP errors (port unreachable) surface on the next read: ignore them.
                Err(_) => {}
            }
        }
        true
    }

    pub(crate) fn close(&mut self, registry: &Registry, conn: ConnId) {
        if let Some(mut flow) = self.flows.remove(&conn) {
            let _ = registry.deregister(&mut flow.socket);
            return;
        }
        let empty = match self.streams.get_mut(&conn) {
            Some(s) => {
                s.queue.close();
                s.queue.is_empty() || s.connecting.is_some()
            }
            None => return,
        };
        if empty {
            self.drop_stream(registry, conn);
        }
    }

    fn drop_stream(&mut self, registry: &Registry, conn: ConnId) {
        if let Some(mut s) = self.streams.remove(&conn) {
            let _ = registry.deregister(&mut s.socket);
            let _ = s.socket.shutdown(std::net::Shutdown::Both);
        }
    }

    pub(crate) fn bind(
        &mut self,
        registry: &Registry,
        socket: SocketId,
        ip: std::net::IpAddr,
        out: &mut Vec<Report>,
    ) {
        let result = UdpSocket::bind(SocketAddr::new(ip, 0)).and_then(|mut s| {
            registry.register(&mut s, token(socket.0), Interest::READABLE)?;
            let local = s.local_addr()?;
            Ok((s, local))
        });
        out.push(Report::Input(match result {
            Ok((s, local)) => {
                self.sockets.insert(socket, Datagrams { socket: s });
                OwnedInput::Bound { socket, local }
            }
            Err(e) => OwnedInput::BindFailed {
                socket,
                reason: format!("UDP on {ip}: {e}"),
            },
        }));
    }

    pub(crate) fn send_to(&mut self, socket: SocketId, to: SocketAddr, data: &[u8]) {
        if let Some(s) = self.sockets.get(&socket) {
            // A full send buffer drops the datagram: media is loss-tolerant.
            if let Err(e) = s.socket.send_to(data, to) {
                if !is_would_block(&e) {
                    log::debug!("{socket}: send to {to}: {e}");
                }
            }
        }
    }

    pub(crate) fn release(&mut self, registry: &Registry, socket: SocketId) {
        if let Some(mut s) = self.sockets.remove(&socket) {
            let _ = registry.deregister(&mut s.socket);
        }
    }

    pub(crate) fn listen(&mut self, registry: &Registry, addr: SocketAddr, out: &mut Vec<Report>) {
        let result = TcpListener::bind(addr).and_then(|mut l| {
            registry.register(&mut l, LISTENER, Interest::READABLE)?;
            let local = l.local_addr()?;
            Ok((l, local))
        });
        out.push(Report::Input(match result {
            Ok((l, local)) => {
                self.listener = Some(l);
                OwnedInput::Listening { local }
            }
            Err(e) => OwnedInput::ListenFailed {
                reason: format!("cannot listen on {addr}: {e}"),
            },
        }));
    }

    pub(crate) fn stop_listening(&mut self, registry: &Registry) {
        if let Some(mut l) = self.listener.take() {
            let _ = registry.deregister(&mut l);
        }
    }

    /// Accepts what is waiting (bounded).
    pub(crate) fn accept(&mut self, max: usize, out: &mut Vec<Report>) -> bool {
        let Some(listener) = &self.listener else {
            return false;
        };
        for _ in 0..max {
            match listener.accept() {
                Ok((socket, peer)) => {
                    let local = socket.local_addr().unwrap_or(peer);
                    out.push(Report::Accepted {
                        socket,
                        peer,
                        local,
                    });
                }
                Err(e) if is_would_block(&e) => return false,
                Err(e) => {
                    log::warn!("accept failed: {e}");
                    return false;
                }
            }
        }
        true
    }

    /// Connect deadlines and stalled writes: the earliest.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.streams
            .values()
            .filter_map(|s| {
                s.connecting
                    .or_else(|| s.queue.deadline(self.write_timeout))
            })
            .min()
    }

    /// Fails connects and writes past their deadlines.
    pub(crate) fn expire(&mut self, registry: &Registry, now: Instant, out: &mut Vec<Report>) {
        let expired: Vec<(ConnId, bool)> = self
            .streams
            .iter()
            .filter_map(|(id, s)| match s.connecting {
                Some(deadline) if deadline <= now => Some((*id, true)),
                None if s
                    .queue
                    .deadline(self.write_timeout)
                    .is_some_and(|t| t <= now) =>
                {
                    Some((*id, false))
                }
                _ => None,
            })
            .collect();
        for (conn, connecting) in expired {
            self.drop_stream(registry, conn);
            out.push(Report::Input(if connecting {
                connect_timed_out(conn)
            } else {
                write_stalled(conn, self.write_timeout)
            }));
        }
    }
}

/// What a token names.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Owner {
    Stream(ConnId),
    Flow(ConnId),
    Socket(SocketId),
    Listener,
}
